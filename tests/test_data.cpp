// Data loaders (CSV, IDX, NPY), feature scaling, gathering rows and targets, the validation split.
//
// Every file is written here into a fresh temporary folder, byte by byte where the format is binary, so
// each test states exactly what it reads. Malformed files are checked for the position the message names
// (file:line:column for CSV, record and byte offset for IDX and NPY). Scaling is held against means and
// deviations computed here in double by the textbook formulas, tolerance 1e-12 relative.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zlib.h>

#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <set>
#include <string>
#include <vector>

#include "backprop/data/dataset.hpp"
#include "backprop/data/scaling.hpp"
#include "backprop/base/error.hpp"
#include "data/loaders.hpp"
#include "helpers.hpp"

namespace backprop {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using testing::TempDir;
using Bytes = std::vector<std::uint8_t>;

// The message of the Error(bad_input) that f throws; a failure when it throws nothing.
template <typename F>
std::string bad_input_message(F&& f) {
  try {
    f();
  } catch (const Error& error) {
    EXPECT_EQ(error.kind(), ErrorKind::bad_input) << error.what();
    return error.what();
  }
  ADD_FAILURE() << "expected an Error(bad_input), got none";
  return "";
}

void write_bytes(const std::filesystem::path& path, const Bytes& bytes) {
  std::ofstream out(path, std::ios::binary);
  out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
}

void write_gzip(const std::filesystem::path& path, const Bytes& bytes) {
  gzFile file = gzopen(path.string().c_str(), "wb");
  ASSERT_NE(file, nullptr);
  ASSERT_EQ(gzwrite(file, bytes.data(), static_cast<unsigned>(bytes.size())), static_cast<int>(bytes.size()));
  ASSERT_EQ(gzclose(file), Z_OK);
}

LoadOptions classification() { return LoadOptions{}; }

LoadOptions regression(const std::string& target = "") {
  LoadOptions options;
  options.task = TaskKind::regression;
  options.target = target;
  return options;
}

Dataset load_csv_text(const TempDir& dir, const std::string& text, const LoadOptions& options = LoadOptions{}) {
  const auto path = dir / "data.csv";
  testing::write_file(path, text);
  return load_dataset(path, std::nullopt, options);
}

std::string csv_error(const TempDir& dir, const std::string& text, const LoadOptions& options = LoadOptions{}) {
  return bad_input_message([&] { load_csv_text(dir, text, options); });
}

// IDX: 0x00 0x00 TYPE DIMS, big-endian sizes, then the values.
Bytes idx_file(const std::vector<std::uint32_t>& dimensions, const Bytes& values, std::uint8_t type = 0x08) {
  Bytes bytes = {0, 0, type, static_cast<std::uint8_t>(dimensions.size())};
  for (const std::uint32_t d : dimensions) {
    bytes.push_back(static_cast<std::uint8_t>(d >> 24));
    bytes.push_back(static_cast<std::uint8_t>(d >> 16));
    bytes.push_back(static_cast<std::uint8_t>(d >> 8));
    bytes.push_back(static_cast<std::uint8_t>(d));
  }
  bytes.insert(bytes.end(), values.begin(), values.end());
  return bytes;
}

Bytes sequence(std::size_t count, std::uint8_t first = 0) {
  Bytes values(count);
  for (std::size_t i = 0; i < count; ++i) values[i] = static_cast<std::uint8_t>(first + i);
  return values;
}

// NPY as numpy.save writes it: magic, version, header length, the dict padded with spaces to a multiple
// of 64 bytes ending in '\n', then the values.
Bytes npy_file(const std::string& dict, const Bytes& values, int major = 1) {
  const std::size_t preamble = major == 1 ? 10 : 12;
  std::string header = dict;
  while ((preamble + header.size() + 1) % 64 != 0) header += ' ';
  header += '\n';
  Bytes bytes = {0x93, 'N', 'U', 'M', 'P', 'Y', static_cast<std::uint8_t>(major), 0};
  const std::size_t length = header.size();
  bytes.push_back(static_cast<std::uint8_t>(length & 0xFF));
  bytes.push_back(static_cast<std::uint8_t>((length >> 8) & 0xFF));
  if (major != 1) {
    bytes.push_back(static_cast<std::uint8_t>((length >> 16) & 0xFF));
    bytes.push_back(static_cast<std::uint8_t>((length >> 24) & 0xFF));
  }
  bytes.insert(bytes.end(), header.begin(), header.end());
  bytes.insert(bytes.end(), values.begin(), values.end());
  return bytes;
}

std::string npy_dict(const std::string& descr, const std::string& shape, const std::string& fortran = "False") {
  return "{'descr': '" + descr + "', 'fortran_order': " + fortran + ", 'shape': " + shape + ", }";
}

template <typename T>
Bytes raw(const std::vector<T>& values) {
  Bytes bytes(values.size() * sizeof(T));
  std::memcpy(bytes.data(), values.data(), bytes.size());
  return bytes;
}

std::vector<float> feature_rows(const Dataset& data) {
  std::vector<float> values;
  for (std::size_t r = 0; r < data.rows; ++r)
    for (int f = 0; f < data.features; ++f) values.push_back(data.feature(r, f));
  return values;
}

// ---------------------------------------------------------------------------------------------------- CSV

TEST(CsvLoad, NumericLabelsInNumericOrderAsWritten) {
  TempDir dir;
  const Dataset data = load_csv_text(dir, "a,b,label\n1,2,0\n3,4.5,2\n-5,6e-1,10\n7,8,1\n");
  EXPECT_EQ(data.rows, 4u);
  EXPECT_EQ(data.features, 2);
  EXPECT_THAT(data.feature_names, ElementsAre("a", "b"));
  EXPECT_THAT(data.features_f32, ElementsAre(1.0f, 2.0f, 3.0f, 4.5f, -5.0f, 0.6f, 7.0f, 8.0f));
  EXPECT_TRUE(data.features_u8.empty());
  EXPECT_THAT(data.class_names, ElementsAre("0", "1", "2", "10"));  // 10 after 2: numeric, not lexicographic
  EXPECT_THAT(data.labels, ElementsAre(0, 2, 3, 1));
  EXPECT_EQ(data.task, TaskKind::classification);
}

TEST(CsvLoad, NumericLabelsOfEqualValueAreOneClassNamedAsFirstWritten) {
  TempDir dir;
  const Dataset data = load_csv_text(dir, "x,y\n1,1.0\n2,0\n3,1\n");
  EXPECT_THAT(data.class_names, ElementsAre("0", "1.0"));
  EXPECT_THAT(data.labels, ElementsAre(1, 0, 1));
}

TEST(CsvLoad, StringLabelsInLexicographicOrder) {
  TempDir dir;
  const Dataset data = load_csv_text(dir, "x,species\n1,setosa\n2,virginica\n3,versicolor\n4,setosa\n5,10\n");
  EXPECT_THAT(data.class_names, ElementsAre("10", "setosa", "versicolor", "virginica"));
  EXPECT_THAT(data.labels, ElementsAre(1, 3, 2, 1, 0));
}

TEST(CsvLoad, QuotedFieldsCrlfBlankLinesAndByteOrderMark) {
  TempDir dir;
  const Dataset data = load_csv_text(dir,
                                     "\xEF\xBB\xBF\"a,1\",\"b\"\"q\", label \r\n"
                                     "\"1.5\", 2 ,\"x,y\"\r\n"
                                     "\r\n"
                                     "3,\"4\",\"he said \"\"hi\"\"\"\r\n"
                                     "5,6,\"two lines\"\r\n"
                                     "\r\n  \r\n");
  EXPECT_THAT(data.feature_names, ElementsAre("a,1", "b\"q"));
  EXPECT_EQ(data.rows, 3u);
  EXPECT_THAT(data.features_f32, ElementsAre(1.5f, 2.0f, 3.0f, 4.0f, 5.0f, 6.0f));
  EXPECT_THAT(data.class_names, ElementsAre("he said \"hi\"", "two lines", "x,y"));
  EXPECT_THAT(data.labels, ElementsAre(2, 0, 1));
}

TEST(CsvLoad, SeveralRegressionTargetsByName) {
  TempDir dir;
  const Dataset data = load_csv_text(dir, "y2,x1,y1,x2\n10,1,20,2\n30,3,40,4\n", regression("y1, y2"));
  EXPECT_EQ(data.task, TaskKind::regression);
  EXPECT_THAT(data.feature_names, ElementsAre("x1", "x2"));
  EXPECT_THAT(data.features_f32, ElementsAre(1.0f, 2.0f, 3.0f, 4.0f));
  EXPECT_EQ(data.target_count, 2);
  EXPECT_THAT(data.target_names, ElementsAre("y1", "y2"));  // in the order the option names them
  EXPECT_THAT(data.targets, ElementsAre(20.0f, 10.0f, 40.0f, 30.0f));
  EXPECT_TRUE(data.labels.empty());
}

TEST(CsvLoad, TargetByIndexAndDefaultLastColumn) {
  TempDir dir;
  const Dataset by_index = load_csv_text(dir, "t,a,b\n0.5,1,2\n1.5,3,4\n", regression("0"));
  EXPECT_THAT(by_index.target_names, ElementsAre("t"));
  EXPECT_THAT(by_index.targets, ElementsAre(0.5f, 1.5f));
  EXPECT_THAT(by_index.feature_names, ElementsAre("a", "b"));
  const Dataset by_default = load_csv_text(dir, "t,a,b\n0.5,1,2\n1.5,3,4\n", regression());
  EXPECT_THAT(by_default.target_names, ElementsAre("b"));
  EXPECT_THAT(by_default.targets, ElementsAre(2.0f, 4.0f));
}

TEST(CsvLoad, KnownClassesMapLabelsAndRefuseOthers) {
  TempDir dir;
  LoadOptions options;
  options.known_classes = {"dog", "cat", "1"};
  const Dataset data = load_csv_text(dir, "x,label\n1,cat\n2,dog\n3,1.0\n", options);
  EXPECT_THAT(data.class_names, ElementsAre("dog", "cat", "1"));
  EXPECT_THAT(data.labels, ElementsAre(1, 0, 2));  // "1.0" is the class "1"
  const std::string message = csv_error(dir, "x,label\n1,cat\n2,cow\n", options);
  EXPECT_THAT(message, HasSubstr("data.csv:3:2: expected a class the model knows (dog,cat,1) in column 2 (label), got 'cow'"));
}

TEST(CsvLoad, OptionalTargetAbsent) {
  TempDir dir;
  LoadOptions options;
  options.target_optional = true;
  options.target = "label";
  const Dataset named = load_csv_text(dir, "a,b\n1,2\n", options);
  EXPECT_EQ(named.features, 2);
  EXPECT_TRUE(named.labels.empty());

  options.target = "";
  options.expected_features = 2;
  const Dataset all_features = load_csv_text(dir, "a,b\n1,2\n", options);
  EXPECT_EQ(all_features.features, 2);
  EXPECT_TRUE(all_features.labels.empty());
  // A target column present is skipped unread (predict ignores it), whatever it holds.
  const Dataset last_is_target = load_csv_text(dir, "a,b,label\n1,2,x\n3,4,?\n5,6,\n", options);
  EXPECT_EQ(last_is_target.features, 2);
  EXPECT_EQ(last_is_target.rows, 3u);
  EXPECT_TRUE(last_is_target.labels.empty());
  EXPECT_TRUE(last_is_target.class_names.empty());

  options.known_classes = {"p", "q"};
  const Dataset with_known = load_csv_text(dir, "a,b\n1,2\n", options);
  EXPECT_THAT(with_known.class_names, ElementsAre("p", "q"));
  EXPECT_TRUE(with_known.labels.empty());
}

TEST(CsvErrors, MissingAndEmptyFiles) {
  TempDir dir;
  EXPECT_THAT(bad_input_message([&] { load_dataset(dir / "absent.csv", std::nullopt, {}); }),
              HasSubstr("absent.csv: cannot open"));
  // A folder opens as a stream that reads nothing: the one file reader (base/read_file.hpp) says what it is,
  // for data files as for network and model files.
  std::filesystem::create_directory(dir / "folder.csv");
  EXPECT_THAT(bad_input_message([&] { load_dataset(dir / "folder.csv", std::nullopt, {}); }),
              HasSubstr("folder.csv: is a directory: expected a file"));
  EXPECT_THAT(csv_error(dir, ""), HasSubstr("data.csv:1:1: expected a header row"));
  EXPECT_THAT(csv_error(dir, "\n  \n"), HasSubstr("data.csv:1:1: expected a header row"));
  EXPECT_THAT(csv_error(dir, "a,b,label\n"), HasSubstr("data.csv:2:1: expected rows of data after the header"));
  EXPECT_THAT(csv_error(dir, "a,b,label\r\n\r\n"), HasSubstr("data.csv:2:1: expected rows of data"));
}

// Labels and column names go into the model's JSON, which must be UTF-8: other bytes are refused where
// they stand (a model save used to abort on them).
TEST(CsvErrors, InvalidUtf8IsRefusedWithLineAndColumn) {
  TempDir dir;
  EXPECT_THAT(csv_error(dir, "a,b,label\n1,2,x\xff\n"), HasSubstr("data.csv:2:6: expected UTF-8 text, got the byte 0xFF"));
  EXPECT_THAT(csv_error(dir, "a,\xc3(,label\n1,2,x\n"), HasSubstr("data.csv:1:3: expected UTF-8 text, got the byte 0xC3"));
  EXPECT_THAT(csv_error(dir, "a,b,label\n1,2,\xed\xa0\x80\n"), HasSubstr("data.csv:2:5: expected UTF-8"));  // a surrogate
  EXPECT_THAT(csv_error(dir, "a,b,label\n1,2,\xc0\xaf\n"), HasSubstr("data.csv:2:5: expected UTF-8"));  // overlong
  // Valid multi-byte labels are fine.
  LoadOptions options;
  const Dataset ok = load_csv_text(dir, "a,b,label\n1,2,caf\xc3\xa9\n3,4,\xe2\x82\xac\n5,6,\xf0\x9f\x90\x88\n", options);
  EXPECT_EQ(ok.class_names.size(), 3u);
}

TEST(CsvErrors, RaggedRows) {
  TempDir dir;
  EXPECT_THAT(csv_error(dir, "a,b,label\n1,2,0\n3,4\n"),
              HasSubstr("data.csv:3:3: expected 3 columns as in the header, got 2"));
  EXPECT_THAT(csv_error(dir, "a,b,label\n1,2,0\n\n3,4,0,9\n"),
              HasSubstr("data.csv:4:4: expected 3 columns as in the header, got 4"));
  // The quoted line break counts: the ragged row is on line 4 (the label column is skipped unread, as predict
  // skips it: a class label with a line break is refused, CsvErrors.ControlCharactersInNamesAndLabels).
  LoadOptions skipped;
  skipped.target_optional = true;
  EXPECT_THAT(csv_error(dir, "a,b,label\n1,2,\"x\ny\"\n3\n", skipped),
              HasSubstr("data.csv:4:2: expected 3 columns as in the header, got 1"));
}

// Issue 33: names and labels go into the model, messages, predict's CSV and the terminal: control characters
// (a quoted line break, a NUL) are refused there, naming the place.
TEST(CsvErrors, ControlCharactersInNamesAndLabels) {
  TempDir dir;
  EXPECT_THAT(csv_error(dir, "a,b,label\n1,2,\"x\ny\"\n"),
              HasSubstr("data.csv:2:3: expected a class label without control characters in column 3 (label), "
                        "got 'x\\x0ay'"));
  EXPECT_THAT(csv_error(dir, "a,\"b\nc\",label\n1,2,x\n"),
              HasSubstr("data.csv:1:2: expected a column name without control characters, got 'b\\x0ac'"));
}

TEST(CsvErrors, NotNumbersNanAndInfinity) {
  TempDir dir;
  EXPECT_THAT(csv_error(dir, "a,b,label\n1,2,0\n3,abc,1\n"),
              HasSubstr("data.csv:3:2: expected a finite number in column 2 (b), got 'abc'"));
  EXPECT_THAT(csv_error(dir, "a,b,label\n1,,0\n"), HasSubstr("data.csv:2:2: expected a finite number in column 2 (b), got ''"));
  EXPECT_THAT(csv_error(dir, "a,b,label\nnan,2,0\n"), HasSubstr("data.csv:2:1: expected a finite number in column 1 (a), got 'nan'"));
  EXPECT_THAT(csv_error(dir, "a,b,label\n1,NaN,0\n"), HasSubstr("data.csv:2:2: expected a finite number in column 2 (b), got 'NaN'"));
  EXPECT_THAT(csv_error(dir, "a,b,label\n1,2,0\n1,-inf,0\n"), HasSubstr("data.csv:3:2: expected a finite number in column 2 (b), got '-inf'"));
  EXPECT_THAT(csv_error(dir, "a,b,label\n1,Infinity,0\n"), HasSubstr("data.csv:2:2:"));
  // Issue 33: a finite number past float32's range says so.
  EXPECT_THAT(csv_error(dir, "a,b,label\n1e39,2,0\n"),
              HasSubstr("data.csv:2:1: expected a number within float32's range (magnitude at most 3.4028235e+38) in "
                        "column 1 (a), got '1e39', which overflows float32"));
  EXPECT_THAT(csv_error(dir, "a,b,label\n1,2 3,0\n"), HasSubstr("data.csv:2:2:"));
  EXPECT_THAT(csv_error(dir, "a,y\n1,x\n", regression()), HasSubstr("data.csv:2:2: expected a finite number in column 2 (y), got 'x'"));
  EXPECT_THAT(csv_error(dir, "a,label\n1,\n"), HasSubstr("data.csv:2:2: expected a class label in column 2 (label), got ''"));
}

TEST(CsvErrors, Quoting) {
  TempDir dir;
  EXPECT_THAT(csv_error(dir, "a,b,label\n1,\"2,0\n3,4,5\n"),
              HasSubstr("data.csv:2:2: expected a closing '\"' for the quoted field that starts here, got the end of the file"));
  EXPECT_THAT(csv_error(dir, "a,b,label\n1,\"2\"x,0\n"),
              HasSubstr("data.csv:2:2: expected ',' or the end of the line after the closing quote, got 'x'"));
}

TEST(CsvErrors, TargetsAndFeatureCount) {
  TempDir dir;
  LoadOptions options;
  options.target = "species";
  EXPECT_THAT(csv_error(dir, "a,b,label\n1,2,0\n", options),
              HasSubstr("data.csv:1: expected a target column named 'species' or a 0-based index below 3, got header 'a,b,label'"));
  options.target = "3";
  EXPECT_THAT(csv_error(dir, "a,b,label\n1,2,0\n", options), HasSubstr("named '3' or a 0-based index below 3"));
  options.target = "a,b";
  EXPECT_THAT(csv_error(dir, "a,b,label\n1,2,0\n", options), HasSubstr("data.csv:1: expected one target column for classification, got 2"));
  options.target = "";
  options.expected_features = 3;
  EXPECT_THAT(csv_error(dir, "a,b,label\n1,2,0\n", options),
              HasSubstr("data.csv:1: expected 3 feature columns (the network's inputs), got 2 ('a,b')"));
  EXPECT_THAT(csv_error(dir, "label\n0\n"), HasSubstr("data.csv:1: expected at least one feature column"));
  EXPECT_THAT(csv_error(dir, "a,b,label\n1,2,0\n", regression("a,a")), HasSubstr("data.csv:1:1: expected each target column once"));
}

TEST(CsvLoad, LabelsFileIsRefusedForCsv) {
  TempDir dir;
  testing::write_file(dir / "data.csv", "a,label\n1,0\n");
  EXPECT_THAT(bad_input_message([&] { load_dataset(dir / "data.csv", dir / "labels.npy", {}); }),
              HasSubstr("data.csv: expected no labels file with CSV data"));
}

TEST(CsvLoad, UnknownExtensionIsSniffed) {
  TempDir dir;
  testing::write_file(dir / "table.txt", "a,label\n1,0\n2,1\n");
  const Dataset data = load_dataset(dir / "table.txt", std::nullopt, {});
  EXPECT_EQ(data.rows, 2u);
  write_bytes(dir / "features.bin", npy_file(npy_dict("<f4", "(2,)"), raw(std::vector<float>{1, 2})));
  write_bytes(dir / "labels.bin", idx_file({2}, {0, 1}));
  const Dataset binary = load_dataset(dir / "features.bin", dir / "labels.bin", {});
  EXPECT_EQ(binary.rows, 2u);
  EXPECT_EQ(binary.features, 1);
  EXPECT_THAT(binary.labels, ElementsAre(0, 1));
}

// ---------------------------------------------------------------------------------------------------- IDX

TEST(IdxLoad, PlainImagesAndLabels) {
  TempDir dir;
  write_bytes(dir / "images-idx3-ubyte", idx_file({3, 2, 2}, {0, 255, 51, 102, 1, 2, 3, 4, 5, 6, 7, 8}));
  write_bytes(dir / "labels-idx1-ubyte", idx_file({3}, {4, 0, 2}));
  const Dataset data = load_dataset(dir / "images-idx3-ubyte", dir / "labels-idx1-ubyte", {});
  EXPECT_EQ(data.rows, 3u);
  EXPECT_EQ(data.features, 4);
  EXPECT_TRUE(data.features_f32.empty());
  EXPECT_THAT(data.features_u8, ElementsAre(0, 255, 51, 102, 1, 2, 3, 4, 5, 6, 7, 8));
  EXPECT_FLOAT_EQ(data.feature(0, 1), 1.0f);
  EXPECT_FLOAT_EQ(data.feature(0, 2), 0.2f);
  EXPECT_THAT(data.class_names, ElementsAre("0", "1", "2", "3", "4"));  // max label + 1
  EXPECT_THAT(data.labels, ElementsAre(4, 0, 2));
  EXPECT_TRUE(data.feature_names.empty());
}

TEST(IdxLoad, GzippedAndTwoDimensional) {
  TempDir dir;
  write_gzip(dir / "images-idx3-ubyte.gz", idx_file({2, 3}, {10, 20, 30, 40, 50, 60}));
  write_gzip(dir / "labels-idx1-ubyte.gz", idx_file({2}, {1, 0}));
  const Dataset data = load_dataset(dir / "images-idx3-ubyte.gz", dir / "labels-idx1-ubyte.gz", {});
  EXPECT_EQ(data.rows, 2u);
  EXPECT_EQ(data.features, 3);
  EXPECT_THAT(data.features_u8, ElementsAre(10, 20, 30, 40, 50, 60));
  EXPECT_THAT(data.labels, ElementsAre(1, 0));
  EXPECT_THAT(data.class_names, ElementsAre("0", "1"));
}

// The flags of the mapping that holds `address`, as /proc/self/smaps lists them ("VmFlags: rd wr mr ... hg": hg is
// MADV_HUGEPAGE's advice); empty where no mapping holds it.
std::string mapping_flags(const void* address) {
  std::ifstream smaps("/proc/self/smaps");
  const auto at = reinterpret_cast<std::uintptr_t>(address);
  bool inside = false;
  for (std::string line; std::getline(smaps, line);) {
    std::uintptr_t first = 0, last = 0;
    char dash = 0;
    std::istringstream range(line);
    if (range >> std::hex >> first >> dash >> last && dash == '-') inside = first <= at && at < last;
    if (inside && line.starts_with("VmFlags:")) return line;
  }
  return "";
}

// A data file of tens of MB is read into a buffer the kernel is asked to back with huge pages (base/huge_pages.hpp):
// the values keep that buffer, so its mapping carries the advice ("hg"). Mutation: the advice taken out of
// read_data_chunks leaves the flag off. Below kHugePageAdviceBytes nothing is asked.
TEST(IdxLoad, ALargeFileIsReadIntoMemoryAdvisedForHugePages) {
  TempDir dir;
  const std::size_t rows = 12'000, width = 784;  // 9.4 MB, more than kHugePageAdviceBytes
  Bytes values(rows * width);
  for (std::size_t i = 0; i < values.size(); ++i) values[i] = static_cast<std::uint8_t>(i * 7);
  write_gzip(dir / "images-idx3-ubyte.gz", idx_file({12'000, 28, 28}, values));
  write_bytes(dir / "labels-idx1-ubyte", idx_file({12'000}, Bytes(rows, 1)));
  const Dataset data = load_dataset(dir / "images-idx3-ubyte.gz", dir / "labels-idx1-ubyte", {});
  ASSERT_EQ(data.features_u8.size(), values.size());
  EXPECT_EQ(data.features_u8, values);
  const std::string flags = mapping_flags(data.features_u8.data() + data.features_u8.size() / 2);
  ASSERT_THAT(flags, HasSubstr("VmFlags:"));
  EXPECT_THAT(flags + " ", HasSubstr(" hg "));
}

TEST(IdxLoad, KnownClassesAndRegressionAndMissingLabels) {
  TempDir dir;
  write_bytes(dir / "x-idx3-ubyte", idx_file({2, 1, 1}, {1, 2}));
  write_bytes(dir / "y-idx1-ubyte", idx_file({2}, {7, 3}));
  LoadOptions options;
  options.known_classes = {"3", "5", "7"};  // integer names: labels match by value
  Dataset data = load_dataset(dir / "x-idx3-ubyte", dir / "y-idx1-ubyte", options);
  EXPECT_THAT(data.labels, ElementsAre(2, 0));
  EXPECT_THAT(data.class_names, ElementsAre("3", "5", "7"));
  options.known_classes = {"a", "b", "c", "d", "e", "f", "g", "h"};  // other names: labels are indices
  data = load_dataset(dir / "x-idx3-ubyte", dir / "y-idx1-ubyte", options);
  EXPECT_THAT(data.labels, ElementsAre(7, 3));
  options.known_classes = {"a", "b", "c", "d"};
  EXPECT_THAT(bad_input_message([&] { load_dataset(dir / "x-idx3-ubyte", dir / "y-idx1-ubyte", options); }),
              HasSubstr("y-idx1-ubyte: record 0 (byte offset 8): expected a class index below 4 (the model's classes), got 7"));
  options.known_classes = {"0", "1", "2", "3", "4", "5"};
  EXPECT_THAT(bad_input_message([&] { load_dataset(dir / "x-idx3-ubyte", dir / "y-idx1-ubyte", options); }),
              HasSubstr("y-idx1-ubyte: record 0 (byte offset 8): expected a class the model knows"));

  data = load_dataset(dir / "x-idx3-ubyte", dir / "y-idx1-ubyte", regression());
  EXPECT_EQ(data.target_count, 1);
  EXPECT_THAT(data.targets, ElementsAre(7.0f, 3.0f));

  EXPECT_THAT(bad_input_message([&] { load_dataset(dir / "x-idx3-ubyte", std::nullopt, {}); }),
              HasSubstr("x-idx3-ubyte: expected a labels file (IDX1 or .npy) beside the IDX features, got none"));
  LoadOptions optional;
  optional.target_optional = true;
  data = load_dataset(dir / "x-idx3-ubyte", std::nullopt, optional);
  EXPECT_EQ(data.rows, 2u);
  EXPECT_TRUE(data.labels.empty());
}

TEST(IdxErrors, HeaderAndSizes) {
  TempDir dir;
  auto error_of = [&](const Bytes& images, const Bytes& labels) {
    write_bytes(dir / "i-idx3-ubyte", images);
    write_bytes(dir / "l-idx1-ubyte", labels);
    return bad_input_message([&] { load_dataset(dir / "i-idx3-ubyte", dir / "l-idx1-ubyte", {}); });
  };
  const Bytes labels = idx_file({3}, {0, 1, 2});
  EXPECT_THAT(error_of({}, labels), HasSubstr("i-idx3-ubyte: byte offset 0: expected an IDX or NPY header, got an empty file"));
  EXPECT_THAT(error_of({0, 0}, labels), HasSubstr("i-idx3-ubyte: header (byte offset 0): expected an IDX header"));
  EXPECT_THAT(error_of({1, 0, 8, 3, 0, 0, 0, 1}, labels),
              HasSubstr("i-idx3-ubyte: header (byte offset 0): expected the IDX magic 0x00 0x00, got 0x01 0x00"));
  EXPECT_THAT(error_of(idx_file({3, 1, 1}, sequence(12), 0x0D), labels),
              HasSubstr("i-idx3-ubyte: header (byte offset 2): expected the IDX type byte 0x08 (unsigned byte), got 0x0D (float)"));
  EXPECT_THAT(error_of(idx_file({3}, sequence(3)), labels), HasSubstr("i-idx3-ubyte: header (byte offset 3): expected 2 or 3 dimensions"));
  // Truncated: 3 images of 4 bytes declared, 10 bytes present: image 2 (from byte 16 + 8) is incomplete.
  EXPECT_THAT(error_of(idx_file({3, 2, 2}, sequence(10)), labels),
              HasSubstr("i-idx3-ubyte: record 2 (byte offset 24): expected 3 records of 4 bytes as the header declares, "
                        "got a file that ends at byte offset 26"));
  // Declared far larger than the file: refused before any allocation.
  EXPECT_THAT(error_of(idx_file({4000000000u, 60000, 60000}, sequence(10)), labels),
              HasSubstr("record size between 1 and"));
  EXPECT_THAT(error_of(idx_file({4000000000u, 1000, 1000}, sequence(10)), labels),
              HasSubstr("i-idx3-ubyte: record 0 (byte offset 16): expected 4000000000 records of 1000000 bytes"));
  EXPECT_THAT(error_of(idx_file({3, 2, 2}, sequence(13)), labels),
              HasSubstr("i-idx3-ubyte: byte offset 28: expected the end of the file after 3 records as the header declares, got 1 more bytes"));
  // Counts of images and labels differ.
  EXPECT_THAT(error_of(idx_file({3, 2, 2}, sequence(12)), idx_file({2}, {0, 1})),
              HasSubstr("l-idx1-ubyte: header (byte offset 4): expected 3 labels, one per row of"));
  EXPECT_THAT(error_of(idx_file({3, 2, 2}, sequence(12)), idx_file({3}, {0, 1})),
              HasSubstr("l-idx1-ubyte: record 2 (byte offset 10): expected 3 records of 1 bytes"));
  EXPECT_THAT(error_of(idx_file({3, 2, 2}, sequence(12)), idx_file({3, 1}, {0, 1, 2})),
              HasSubstr("l-idx1-ubyte: header (byte offset 3): expected 1 dimension (N labels), got 2"));

  LoadOptions options;
  options.expected_features = 784;
  write_bytes(dir / "i-idx3-ubyte", idx_file({3, 2, 2}, sequence(12)));
  EXPECT_THAT(bad_input_message([&] { load_dataset(dir / "i-idx3-ubyte", dir / "l-idx1-ubyte", options); }),
              HasSubstr("i-idx3-ubyte: expected 784 features per row (the network's inputs), got 4"));
}

TEST(IdxErrors, TruncatedGzip) {
  TempDir dir;
  Bytes values(20000);
  for (std::size_t i = 0; i < values.size(); ++i) values[i] = static_cast<std::uint8_t>((i * 2654435761u) >> 13);
  write_gzip(dir / "full-idx3-ubyte.gz", idx_file({20, 1000}, values));
  const Bytes compressed = [&] {
    std::ifstream in(dir / "full-idx3-ubyte.gz", std::ios::binary);
    return Bytes(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }();
  ASSERT_GT(compressed.size(), 100u);
  write_bytes(dir / "cut-idx3-ubyte.gz", Bytes(compressed.begin(), compressed.begin() + static_cast<std::ptrdiff_t>(compressed.size() / 2)));
  write_gzip(dir / "l-idx1-ubyte.gz", idx_file({20}, Bytes(20, 1)));
  const std::string message =
      bad_input_message([&] { load_dataset(dir / "cut-idx3-ubyte.gz", dir / "l-idx1-ubyte.gz", {}); });
  EXPECT_THAT(message, HasSubstr("cut-idx3-ubyte.gz: byte offset "));
  EXPECT_THAT(message, HasSubstr("expected a complete gzip stream"));
  EXPECT_THAT(message, HasSubstr("truncated"));
  // The whole file still loads.
  EXPECT_EQ(load_dataset(dir / "full-idx3-ubyte.gz", dir / "l-idx1-ubyte.gz", {}).features_u8, values);
}

// A gzip file of `head` followed by `mebibytes` MiB of zeros, ~1 KB per MiB: gzip members concatenated
// (each a valid gzip stream; readers continue through them), the zeros' member compressed once.
void write_gzip_bomb(const std::filesystem::path& path, const Bytes& head, std::size_t mebibytes) {
  const std::filesystem::path zeros = path.string() + ".zeros";
  write_gzip(zeros, Bytes(std::size_t{1} << 20, 0));
  write_gzip(path, head);
  const Bytes member = [&] {
    std::ifstream in(zeros, std::ios::binary);
    return Bytes(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }();
  std::filesystem::remove(zeros);
  std::ofstream out(path, std::ios::binary | std::ios::app);
  for (std::size_t i = 0; i < mebibytes; ++i)
    out.write(reinterpret_cast<const char*>(member.data()), static_cast<std::streamsize>(member.size()));
}

// The peak resident memory, in MiB, of a child process that loads the data, and the message it got.
struct ChildLoad {
  long peak_mebibytes = -1;
  bool refused = false;
};
ChildLoad load_in_child(const std::filesystem::path& data, const std::optional<std::filesystem::path>& labels) {
  const pid_t child = ::fork();
  if (child == 0) {
    int code = 0;
    try {
      load_dataset(data, labels, {});
    } catch (const Error& error) {
      code = error.kind() == ErrorKind::bad_input ? 2 : 1;
    } catch (...) {
      code = 3;
    }
    ::_exit(code);
  }
  int status = 0;
  rusage usage{};
  ::wait4(child, &status, 0, &usage);
  return {usage.ru_maxrss / 1024, WIFEXITED(status) && WEXITSTATUS(status) == 2};
}

// Regression: a 0.5 MB .gz unpacking to 512 MiB past an IDX header that declares 2 records of 2 bytes
// was unpacked whole (over 512 MiB of memory), then refused. It is refused once the data passes the
// declared size. The child's peak counts the test program too (tens of MiB; under ASan more), far below
// what unpacking would take.
TEST(IdxErrors, AGzipBombIsRefusedAtTheDeclaredSizeNotUnpacked) {
  TempDir dir;
  const Bytes labels = idx_file({2}, {0, 1});
  write_bytes(dir / "l-idx1-ubyte", labels);
  write_gzip_bomb(dir / "bomb-idx3-ubyte.gz", idx_file({2, 2}, {1, 2, 3, 4}), 512);
  ASSERT_LT(std::filesystem::file_size(dir / "bomb-idx3-ubyte.gz"), std::uintmax_t{2} << 20);
  const ChildLoad images = load_in_child(dir / "bomb-idx3-ubyte.gz", dir / "l-idx1-ubyte");
  EXPECT_TRUE(images.refused);
  EXPECT_LT(images.peak_mebibytes, 256) << "MiB at the peak: the data was unpacked";
  EXPECT_THAT(bad_input_message([&] { load_dataset(dir / "bomb-idx3-ubyte.gz", dir / "l-idx1-ubyte", {}); }),
              HasSubstr("bomb-idx3-ubyte.gz: byte offset 16: expected the end of the file after 2 records as the "
                        "header declares, got more"));
  // The labels file, and NPY the same.
  write_bytes(dir / "i-idx3-ubyte", idx_file({2, 2}, {1, 2, 3, 4}));
  write_gzip_bomb(dir / "bomb-idx1-ubyte.gz", labels, 512);
  const ChildLoad label_load = load_in_child(dir / "i-idx3-ubyte", dir / "bomb-idx1-ubyte.gz");
  EXPECT_TRUE(label_load.refused);
  EXPECT_LT(label_load.peak_mebibytes, 256) << "MiB at the peak: the labels were unpacked";
  write_gzip_bomb(dir / "bomb.npy.gz", npy_file(npy_dict("|u1", "(2, 2)"), {1, 2, 3, 4}), 512);
  write_bytes(dir / "y.npy", npy_file(npy_dict("|u1", "(2,)"), {0, 1}));
  const ChildLoad npy = load_in_child(dir / "bomb.npy.gz", dir / "y.npy");
  EXPECT_TRUE(npy.refused);
  EXPECT_LT(npy.peak_mebibytes, 256) << "MiB at the peak: the NPY data was unpacked";
  EXPECT_THAT(bad_input_message([&] { load_dataset(dir / "bomb.npy.gz", dir / "y.npy", {}); }),
              HasSubstr("after 2 rows as the shape declares, got more"));
}

// CSV declares no size: it is read in chunks up to a cap (data::kMaxCsvBytes, 1 GiB, documented in
// docs/reliability.md), here lowered to test it without a gigabyte.
TEST(CsvErrors, TextPastTheCapIsRefusedAsItIsRead) {
  TempDir dir;
  std::string text = "a,b\n";
  while (text.size() < 5000) text += "1,2\n";
  testing::write_file(dir / "big.csv", text);
  write_gzip(dir / "big.csv.gz", Bytes(text.begin(), text.end()));
  EXPECT_EQ(data::read_file_bytes(dir / "big.csv", 5000).size(), text.size());
  for (const char* name : {"big.csv", "big.csv.gz"}) {
    const std::string message = bad_input_message([&] { data::read_file_bytes(dir / name, 4096); });
    EXPECT_THAT(message, HasSubstr(std::string(name) + ": expected CSV data of at most 4096 bytes")) << name;
  }
  EXPECT_EQ(data::kMaxCsvBytes, std::size_t{1} << 30);
}

// A file whose size is known is read into a buffer of that size and one byte (the read that finds the end), plain
// or gzip (its trailer's size), not into a chunk of kReadChunkBytes zeroed first.
TEST(ReadFileBytes, ASmallFileTakesItsOwnSizeNotAChunk) {
  TempDir dir;
  std::string text = "a,b\n";
  while (text.size() < 3000) text += "1,2\n";
  testing::write_file(dir / "small.csv", text);
  write_gzip(dir / "small.csv.gz", Bytes(text.begin(), text.end()));
  for (const char* name : {"small.csv", "small.csv.gz"}) {
    const std::vector<std::uint8_t> bytes = data::read_file_bytes(dir / name, data::kMaxCsvBytes);
    EXPECT_EQ(std::string(bytes.begin(), bytes.end()), text) << name;
    EXPECT_LE(bytes.capacity(), text.size() + 1) << name;
  }
}

TEST(IdxLoad, FashionMnistTestSet) {
  const std::filesystem::path folder = "/usr/share/datasets/fashion-mnist";
  const auto images = folder / "t10k-images-idx3-ubyte.gz";
  const auto labels = folder / "t10k-labels-idx1-ubyte.gz";
  if (!std::filesystem::exists(images) || !std::filesystem::exists(labels))
    GTEST_SKIP() << "Fashion-MNIST is not installed at " << folder << " (apt-get install dataset-fashion-mnist)";
  // How long it takes is a benchmark's figure (bench/run.py, "load + eval t10k"), not a test's.
  LoadOptions options;
  options.expected_features = 784;
  const Dataset data = load_dataset(images, labels, options);
  EXPECT_EQ(data.rows, 10000u);
  EXPECT_EQ(data.features, 784);
  EXPECT_EQ(data.features_u8.size(), 10000u * 784u);
  EXPECT_EQ(data.class_names.size(), 10u);
  std::vector<int> per_class(10, 0);
  for (const std::int32_t label : data.labels) ++per_class.at(static_cast<std::size_t>(label));
  EXPECT_THAT(per_class, ::testing::Each(1000));  // the test set is balanced
}

// ---------------------------------------------------------------------------------------------------- NPY

TEST(NpyLoad, Float32FeaturesAndInteger64Labels) {
  TempDir dir;
  write_bytes(dir / "x.npy", npy_file(npy_dict("<f4", "(3, 2)"), raw(std::vector<float>{1, 2, 3, 4, 5.5f, -6})));
  write_bytes(dir / "y.npy", npy_file(npy_dict("<i8", "(3,)"), raw(std::vector<std::int64_t>{2, 0, 1})));
  const Dataset data = load_dataset(dir / "x.npy", dir / "y.npy", {});
  EXPECT_EQ(data.rows, 3u);
  EXPECT_EQ(data.features, 2);
  EXPECT_THAT(data.features_f32, ElementsAre(1, 2, 3, 4, 5.5f, -6));
  EXPECT_THAT(data.labels, ElementsAre(2, 0, 1));
  EXPECT_THAT(data.class_names, ElementsAre("0", "1", "2"));
}

TEST(NpyLoad, Float64FeaturesVersion2HeaderAndInteger32Labels) {
  TempDir dir;
  write_bytes(dir / "x.npy", npy_file("{\"shape\": (2, 2), \"fortran_order\": False, \"descr\": \"<f8\"}",
                                      raw(std::vector<double>{0.25, 1e-3, -2, 3}), 2));
  write_bytes(dir / "y.npy", npy_file(npy_dict("<i4", "(2, 1)"), raw(std::vector<std::int32_t>{1, 1})));
  const Dataset data = load_dataset(dir / "x.npy", dir / "y.npy", {});
  EXPECT_THAT(data.features_f32, ElementsAre(0.25f, 1e-3f, -2.0f, 3.0f));
  EXPECT_THAT(data.labels, ElementsAre(1, 1));
}

TEST(NpyLoad, Uint8ImagesFlattenAndFloatRegressionTargets) {
  TempDir dir;
  write_bytes(dir / "x.npy", npy_file(npy_dict("|u1", "(2, 2, 3)"), sequence(12, 100)));
  write_bytes(dir / "y.npy", npy_file(npy_dict("<f4", "(2, 2)"), raw(std::vector<float>{0.5f, 1.5f, 2.5f, 3.5f})));
  const Dataset data = load_dataset(dir / "x.npy", dir / "y.npy", regression());
  EXPECT_EQ(data.features, 6);
  EXPECT_EQ(data.features_u8, sequence(12, 100));
  EXPECT_TRUE(data.features_f32.empty());
  EXPECT_EQ(data.target_count, 2);
  EXPECT_THAT(data.targets, ElementsAre(0.5f, 1.5f, 2.5f, 3.5f));
  // uint8 labels as classes, with float labels that are whole numbers accepted too.
  write_bytes(dir / "c.npy", npy_file(npy_dict("|u1", "(2,)"), {3, 1}));
  EXPECT_THAT(load_dataset(dir / "x.npy", dir / "c.npy", {}).labels, ElementsAre(3, 1));
  write_bytes(dir / "f.npy", npy_file(npy_dict("<f8", "(2,)"), raw(std::vector<double>{1, 0})));
  EXPECT_THAT(load_dataset(dir / "x.npy", dir / "f.npy", {}).labels, ElementsAre(1, 0));
}

TEST(NpyErrors, HeaderDtypeOrderAndSizes) {
  TempDir dir;
  write_bytes(dir / "y.npy", npy_file(npy_dict("<i8", "(2,)"), raw(std::vector<std::int64_t>{0, 1})));
  auto error_of = [&](const Bytes& features) {
    write_bytes(dir / "x.npy", features);
    return bad_input_message([&] { load_dataset(dir / "x.npy", dir / "y.npy", {}); });
  };
  const Bytes four_floats = raw(std::vector<float>{1, 2, 3, 4});
  Bytes bad_magic = npy_file(npy_dict("<f4", "(2, 2)"), four_floats);
  bad_magic[1] = 'X';
  EXPECT_THAT(error_of(bad_magic), HasSubstr("x.npy: header (byte offset 0): expected the NPY magic"));
  Bytes bad_version = npy_file(npy_dict("<f4", "(2, 2)"), four_floats);
  bad_version[6] = 9;
  EXPECT_THAT(error_of(bad_version), HasSubstr("x.npy: header (byte offset 6): expected NPY format version 1, 2 or 3, got 9.0"));
  EXPECT_THAT(error_of(npy_file("['descr', '<f4']", four_floats)),
              HasSubstr("x.npy: header (byte offset 10): expected '{' opening the header dict, got '['descr', '<f4']"));
  EXPECT_THAT(error_of(npy_file("{'descr': '<f4', 'fortran_order': False}", four_floats)),
              HasSubstr("x.npy: header (byte offset 10): expected the key 'shape' in the header dict"));
  EXPECT_THAT(error_of(npy_file("{'descr': '<f4' 'shape': (2, 2)}", four_floats)),
              HasSubstr("x.npy: header (byte offset 26): expected ',' or '}' in the header dict, got ''shape'"));
  EXPECT_THAT(error_of(npy_file(npy_dict("<c8", "(2, 2)"), four_floats)),
              HasSubstr("x.npy: header (byte offset 20): expected a dtype '<f4', '<f8', '|u1' or a little-endian integer, got '<c8'"));
  EXPECT_THAT(error_of(npy_file(npy_dict(">f4", "(2, 2)"), four_floats)), HasSubstr("got '>f4' (big-endian"));
  EXPECT_THAT(error_of(npy_file(npy_dict("<f4", "(2, 2)", "True"), four_floats)),
              HasSubstr("x.npy: header (byte offset 44): expected 'fortran_order': False (C order"));
  EXPECT_THAT(error_of(npy_file(npy_dict("<f4", "()"), four_floats)), HasSubstr("expected a shape tuple with at least one dimension"));
  // Truncated: 2 rows of 8 bytes declared, 12 bytes present.
  EXPECT_THAT(error_of(npy_file(npy_dict("<f4", "(2, 2)"), raw(std::vector<float>{1, 2, 3}))),
              HasSubstr("x.npy: record 1 (byte offset 136): expected 2 rows of 8 bytes as the shape declares, "
                        "got a file that ends at byte offset 140"));
  EXPECT_THAT(error_of(npy_file(npy_dict("<f4", "(2000000000, 2000000000)"), four_floats)),
              HasSubstr("x.npy: record 0 (byte offset 128): expected 2000000000 rows of 8000000000 bytes"));
  Bytes header_cut = npy_file(npy_dict("<f4", "(2, 2)"), {});
  header_cut.resize(30);
  EXPECT_THAT(error_of(header_cut), HasSubstr("x.npy: header (byte offset 10): expected a header of 118 bytes, got a file of 30 bytes"));
  EXPECT_THAT(error_of(npy_file(npy_dict("<f4", "(2, 2)"), raw(std::vector<float>{1, 2, NAN, 4}))),
              HasSubstr("x.npy: record 1 (byte offset 136): expected a finite number, got nan"));
  EXPECT_THAT(error_of(npy_file(npy_dict("<f8", "(2, 1)"), raw(std::vector<double>{1, -INFINITY}))),
              HasSubstr("x.npy: record 1 (byte offset 136): expected a finite number, got inf"));
  EXPECT_THAT(error_of(npy_file(npy_dict("<f8", "(2, 1)"), raw(std::vector<double>{1e300, 1}))),
              HasSubstr("x.npy: record 0 (byte offset 128): expected a number within float range, got 1e+300"));
}

TEST(NpyErrors, Labels) {
  TempDir dir;
  write_bytes(dir / "x.npy", npy_file(npy_dict("<f4", "(2, 1)"), raw(std::vector<float>{1, 2})));
  auto error_of = [&](const Bytes& labels, const LoadOptions& options = {}) {
    write_bytes(dir / "y.npy", labels);
    return bad_input_message([&] { load_dataset(dir / "x.npy", dir / "y.npy", options); });
  };
  EXPECT_THAT(error_of(npy_file(npy_dict("<f4", "(2,)"), raw(std::vector<float>{1, 0.5f}))),
              HasSubstr("y.npy: record 1 (byte offset 132): expected a class label, an integer >= 0, got 0.5"));
  EXPECT_THAT(error_of(npy_file(npy_dict("<i4", "(2,)"), raw(std::vector<std::int32_t>{-1, 0}))),
              HasSubstr("y.npy: record 0 (byte offset 128): expected a class label, an integer >= 0, got -1"));
  EXPECT_THAT(error_of(npy_file(npy_dict("<i8", "(3,)"), raw(std::vector<std::int64_t>{0, 1, 1}))),
              HasSubstr("y.npy: header (byte offset 60): expected 2 labels, one per row of"));
  EXPECT_THAT(error_of(npy_file(npy_dict("<i8", "(2, 2)"), raw(std::vector<std::int64_t>{0, 1, 1, 0}))),
              HasSubstr("expected one class label per row for classification, got 2"));
  EXPECT_THAT(error_of(npy_file(npy_dict("<f4", "(2,)"), raw(std::vector<float>{1, NAN})), regression()),
              HasSubstr("y.npy: record 1 (byte offset 132): expected a finite number, got nan"));
}

// ---------------------------------------------------------------------------------------------------- Scaling

Dataset small_float_data() {
  Dataset data;
  data.source = "small";
  data.rows = 4;
  data.features = 3;
  // columns: varied, constant, large offset with small spread
  data.features_f32 = {1, 7, 1000001, 2, 7, 1000003, 4, 7, 1000002, 10, 7, 1000000};
  return data;
}

TEST(ScalingFit, StandardIsMeanAndPopulationDeviation) {
  const Dataset data = small_float_data();
  const Scaling scaling = fit_scaling(ScalingKind::standard, data);
  EXPECT_EQ(scaling.kind, ScalingKind::standard);
  // Column 0: mean 17/4, deviations -3.25 -2.25 -0.25 5.75, squares sum 10.5625+5.0625+0.0625+33.0625 = 48.75.
  EXPECT_NEAR(scaling.offset[0], 4.25, 1e-12);
  EXPECT_NEAR(scaling.scale[0], std::sqrt(48.75 / 4), 1e-12);
  EXPECT_EQ(scaling.offset[1], 7.0);  // constant: offset the value, scale 1
  EXPECT_EQ(scaling.scale[1], 1.0);
  EXPECT_NEAR(scaling.offset[2], 1000001.5, 1e-12 * 1000001.5);
  EXPECT_NEAR(scaling.scale[2], std::sqrt(1.25), 1e-9);  // (0.25+2.25+0.25+2.25)/4
}

TEST(ScalingFit, MinmaxAndUint8) {
  const Scaling minmax = fit_scaling(ScalingKind::minmax, small_float_data());
  EXPECT_THAT(minmax.offset, ElementsAre(1.0, 7.0, 1000000.0));
  EXPECT_THAT(minmax.scale, ElementsAre(9.0, 1.0, 3.0));

  Dataset bytes;
  bytes.rows = 2;
  bytes.features = 2;
  bytes.features_u8 = {0, 51, 255, 51};
  const Scaling standard = fit_scaling(ScalingKind::standard, bytes);
  EXPECT_NEAR(standard.offset[0], 0.5, 1e-7);
  EXPECT_NEAR(standard.scale[0], 0.5, 1e-7);
  EXPECT_NEAR(standard.offset[1], 0.2, 1e-7);
  EXPECT_EQ(standard.scale[1], 1.0);
  const Scaling none = fit_scaling(ScalingKind::none, bytes);
  EXPECT_TRUE(none.empty());
  EXPECT_TRUE(none.offset.empty());
}

TEST(ScalingNames, RoundTrip) {
  for (const ScalingKind kind : {ScalingKind::none, ScalingKind::standard, ScalingKind::minmax})
    EXPECT_EQ(parse_scaling(to_string(kind)), kind);
  EXPECT_EQ(to_string(ScalingKind::minmax), "minmax");
  EXPECT_FALSE(parse_scaling("Standard").has_value());
  EXPECT_FALSE(parse_scaling("").has_value());
}

// ---------------------------------------------------------------------------------------------------- Dataset

TEST(DataGather, RowsWithAndWithoutScaling) {
  const Dataset data = small_float_data();
  const std::size_t picked[] = {3, 0};
  std::vector<float> out(6);
  data.gather_rows(out.data(), picked, 2, Scaling{});
  EXPECT_THAT(out, ElementsAre(10, 7, 1000000, 1, 7, 1000001));
  const Scaling scaling = fit_scaling(ScalingKind::minmax, data);
  data.gather_rows(out.data(), picked, 2, scaling);
  EXPECT_THAT(out, ElementsAre(1.0f, 0.0f, 0.0f, 0.0f, 0.0f, ::testing::FloatEq(1.0f / 3.0f)));

  Dataset bytes;
  bytes.source = "bytes";
  bytes.rows = 2;
  bytes.features = 2;
  bytes.features_u8 = {0, 255, 51, 102};
  const std::size_t both[] = {1, 0};
  bytes.gather_rows(out.data(), both, 2, Scaling{});
  EXPECT_THAT(std::vector<float>(out.begin(), out.begin() + 4), ElementsAre(0.2f, 0.4f, 0.0f, 1.0f));
  Scaling halves{ScalingKind::standard, {0.5, 0.5}, {0.5, 0.25}};
  bytes.gather_rows(out.data(), both, 2, halves);
  EXPECT_NEAR(out[0], (0.2 - 0.5) / 0.5, 1e-6);
  EXPECT_NEAR(out[1], (0.4 - 0.5) / 0.25, 1e-6);
  EXPECT_NEAR(out[3], (1.0 - 0.5) / 0.25, 1e-6);
  EXPECT_THAT(bad_input_message([&] { bytes.gather_rows(out.data(), both, 2, scaling); }),
              HasSubstr("bytes: expected a scaling of 2 features, got one of 3"));
}

TEST(DataGather, Targets) {
  Dataset classes;
  classes.source = "classes";
  classes.rows = 3;
  classes.features = 1;
  classes.features_f32 = {0, 0, 0};
  classes.labels = {2, 0, 1};
  classes.class_names = {"a", "b", "c"};
  const std::size_t order[] = {0, 2};
  std::vector<float> out(6, -1.0f);
  classes.gather_targets(out.data(), order, 2, 3);
  EXPECT_THAT(out, ElementsAre(0, 0, 1, 0, 1, 0));
  EXPECT_THAT(bad_input_message([&] { classes.gather_targets(out.data(), order, 2, 1); }),
              HasSubstr("classes: expected at most 2 classes for a network with one output, got 3"));
  EXPECT_THAT(bad_input_message([&] { classes.gather_targets(out.data(), order, 2, 4); }),
              HasSubstr("classes: expected 4 classes (the network's outputs), got 3"));
  classes.labels = {1, 0, 1};
  classes.class_names = {"no", "yes"};
  classes.gather_targets(out.data(), order, 2, 1);
  EXPECT_THAT(std::vector<float>(out.begin(), out.begin() + 2), ElementsAre(1, 1));

  Dataset numbers;
  numbers.source = "numbers";
  numbers.task = TaskKind::regression;
  numbers.rows = 3;
  numbers.target_count = 2;
  numbers.targets = {1, 2, 3, 4, 5, 6};
  numbers.gather_targets(out.data(), order, 2, 2);
  EXPECT_THAT(std::vector<float>(out.begin(), out.begin() + 4), ElementsAre(1, 2, 5, 6));
  EXPECT_THAT(bad_input_message([&] { numbers.gather_targets(out.data(), order, 2, 3); }),
              HasSubstr("numbers: expected 3 targets per row (the network's outputs), got 2"));
  numbers.targets.clear();
  EXPECT_THAT(bad_input_message([&] { numbers.gather_targets(out.data(), order, 2, 2); }), HasSubstr("expected target values, got none"));
}

Dataset numbered_rows(std::size_t rows) {
  Dataset data;
  data.source = "numbered";
  data.rows = rows;
  data.features = 2;
  data.feature_names = {"row", "twice"};
  data.class_names = {"even", "odd"};
  for (std::size_t r = 0; r < rows; ++r) {
    data.features_f32.push_back(static_cast<float>(r));
    data.features_f32.push_back(static_cast<float>(2 * r));
    data.labels.push_back(static_cast<std::int32_t>(r % 2));
  }
  return data;
}

std::vector<float> first_column(const Dataset& data) {
  std::vector<float> values;
  for (std::size_t r = 0; r < data.rows; ++r) values.push_back(data.feature(r, 0));
  return values;
}

TEST(DataSplit, SizesRowsKeptTogetherAndDeterministic) {
  Dataset train = numbered_rows(100);
  Dataset validation;
  split_validation(train, validation, 0.2, 42);
  EXPECT_EQ(train.rows, 80u);
  EXPECT_EQ(validation.rows, 20u);
  EXPECT_EQ(validation.features, 2);
  EXPECT_EQ(validation.class_names, train.class_names);
  EXPECT_EQ(validation.feature_names, train.feature_names);
  EXPECT_EQ(validation.features_f32.size(), 40u);
  EXPECT_EQ(validation.labels.size(), 20u);
  std::set<float> seen;
  for (const Dataset* part : {&train, &validation}) {
    for (std::size_t r = 0; r < part->rows; ++r) {
      const float row = part->feature(r, 0);
      EXPECT_EQ(part->feature(r, 1), 2 * row);  // features and labels moved together
      EXPECT_EQ(part->labels[r], static_cast<std::int32_t>(row) % 2);
      seen.insert(row);
    }
  }
  EXPECT_EQ(seen.size(), 100u);  // every row on exactly one side

  Dataset again = numbered_rows(100);
  Dataset again_validation;
  split_validation(again, again_validation, 0.2, 42);
  EXPECT_EQ(first_column(again_validation), first_column(validation));
  Dataset other = numbered_rows(100);
  Dataset other_validation;
  split_validation(other, other_validation, 0.2, 43);
  EXPECT_NE(first_column(other_validation), first_column(validation));
}

TEST(DataSplit, Uint8RowsAndRegressionTargets) {
  Dataset train;
  train.rows = 10;
  train.features = 1;
  train.task = TaskKind::regression;
  train.target_count = 1;
  for (std::uint8_t r = 0; r < 10; ++r) {
    train.features_u8.push_back(r);
    train.targets.push_back(r * 10.0f);
  }
  Dataset validation;
  split_validation(train, validation, 0.3, 7);
  EXPECT_EQ(train.rows, 7u);
  EXPECT_EQ(validation.rows, 3u);
  for (std::size_t r = 0; r < validation.rows; ++r)
    EXPECT_EQ(validation.targets[r], validation.features_u8[r] * 10.0f);
}

TEST(DataSplit, RefusedFractions) {
  Dataset validation;
  for (const double fraction : {0.0, 1.0, -0.5, 1.5, std::nan("")}) {
    Dataset train = numbered_rows(10);
    EXPECT_THAT(bad_input_message([&] { split_validation(train, validation, fraction, 1); }),
                HasSubstr("numbered: expected a validation fraction between 0 and 1 (exclusive)"));
    EXPECT_EQ(train.rows, 10u);
  }
  Dataset train = numbered_rows(10);
  EXPECT_THAT(bad_input_message([&] { split_validation(train, validation, 0.01, 1); }),
              HasSubstr("numbered: a validation fraction of 0.01 of 10 rows leaves 10 for training and 0 for validation"));
  EXPECT_THAT(bad_input_message([&] { split_validation(train, validation, 0.99, 1); }),
              HasSubstr("leaves 0 for training and 10 for validation"));
  EXPECT_EQ(train.rows, 10u);
}

TEST(DataLoad, CsvFeatureAccessorMatchesStorage) {
  TempDir dir;
  const Dataset data = load_csv_text(dir, "a,b,c\n1,2,x\n3,4,y\n");
  EXPECT_EQ(feature_rows(data), data.features_f32);
}

}  // namespace
}  // namespace backprop
