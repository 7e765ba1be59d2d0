// Model files (io/model_file.hpp): binary and JSON round trips bit for bit, every kind of damage refused
// with the file and the byte offset, and saving that never leaves a half-written file behind.
#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <functional>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "backprop/base/error.hpp"
#include "backprop/io/model_file.hpp"
#include "backprop/io/network_file.hpp"
#include "backprop/nn/network.hpp"
#include "helpers.hpp"

namespace backprop {
namespace {

using io::ModelFile;
using testing::BinaryParts;
using testing::split_binary_model;
using testing::u32_at;
using testing::TempDir;
using testing::read_text;
using testing::write_file;
namespace fs = std::filesystem;

// Every parameter in file order (W row-major, then b, per layer) as float32 bits.
std::vector<std::uint32_t> parameter_bits(const NetworkSpec& spec) {
  std::vector<std::uint32_t> bits;
  for (const auto& layer : spec.layers)
    for (const auto* values : {&layer.weights, &layer.bias})
      for (double value : *values) bits.push_back(std::bit_cast<std::uint32_t>(static_cast<float>(value)));
  return bits;
}

// Floats from random bit patterns: every exponent, subnormals, -0, the largest finite values: the hard
// cases for printing a float so that it reads back bit for bit.
float random_finite_float(std::mt19937& generator) {
  for (;;) {
    const float value = std::bit_cast<float>(static_cast<std::uint32_t>(generator()));
    if (std::isfinite(value)) return value;
  }
}

// A 3-5-4-3 classifier with every per-layer setting and parameters of every magnitude.
ModelFile sample_model() {
  NetworkSpec spec;
  spec.input = 3;
  LayerSpec hidden1;
  hidden1.units = 5;
  hidden1.activation = Activation::leaky_relu;
  hidden1.slope = 0.2;
  hidden1.dropout = 0.25;
  LayerSpec hidden2;
  hidden2.units = 4;
  hidden2.activation = Activation::tanh;
  hidden2.initializer = InitializerSpec{InitializerKind::uniform, 0.5};
  LayerSpec output;
  output.units = 3;
  output.activation = Activation::softmax;
  spec.layers = {hidden1, hidden2, output};
  spec.loss = LossKind::softmax_ce;
  spec.optimizer.learning_rate = 0.05;
  spec.seed = 1234567890123ULL;
  spec.initializer = InitializerSpec{InitializerKind::xavier_normal, 0.05};

  std::mt19937 generator(7);
  for (std::size_t l = 0; l < spec.layers.size(); ++l) {
    auto& layer = spec.layers[l];
    layer.weights.resize(static_cast<std::size_t>(spec.layer_input(l)) * layer.units);
    layer.bias.resize(static_cast<std::size_t>(layer.units));
    for (auto* values : {&layer.weights, &layer.bias})
      for (double& value : *values) value = random_finite_float(generator);
  }
  spec.layers[0].weights[0] = 0.1f;
  spec.layers[0].weights[1] = -0.0f;
  spec.layers[0].weights[2] = std::numeric_limits<float>::denorm_min();
  spec.layers[0].weights[3] = std::numeric_limits<float>::max();
  spec.layers[0].weights[4] = -std::numeric_limits<float>::min();

  ModelFile model;
  model.network = spec;
  model.scaling.kind = ScalingKind::standard;
  model.scaling.offset = {1.5, -2.25, 0.1};
  model.scaling.scale = {2.0, 0.3, 1e-7};
  model.classes = {"setosa", "versi color", "virgínica \"v\""};
  model.features = {"sepal length", "sepal width", "petal length"};
  model.targets = {};
  return model;
}

void expect_same_model(const ModelFile& expected, const ModelFile& actual) {
  const NetworkSpec& a = expected.network;
  const NetworkSpec& b = actual.network;
  EXPECT_EQ(a.input, b.input);
  ASSERT_EQ(a.layers.size(), b.layers.size());
  for (std::size_t l = 0; l < a.layers.size(); ++l) {
    SCOPED_TRACE("layer " + std::to_string(l));
    EXPECT_EQ(a.layers[l].units, b.layers[l].units);
    EXPECT_EQ(a.layers[l].activation, b.layers[l].activation);
    EXPECT_EQ(a.layers[l].slope, b.layers[l].slope);
    EXPECT_EQ(a.layers[l].dropout, b.layers[l].dropout);
    ASSERT_EQ(a.layers[l].initializer.has_value(), b.layers[l].initializer.has_value());
    if (a.layers[l].initializer) {
      EXPECT_EQ(a.layers[l].initializer->kind, b.layers[l].initializer->kind);
      EXPECT_EQ(a.layers[l].initializer->scale, b.layers[l].initializer->scale);
    }
    EXPECT_EQ(a.layers[l].weights.size(), b.layers[l].weights.size());
    EXPECT_EQ(a.layers[l].bias.size(), b.layers[l].bias.size());
  }
  EXPECT_EQ(a.loss, b.loss);
  EXPECT_EQ(a.optimizer.type, b.optimizer.type);
  EXPECT_EQ(a.optimizer.learning_rate, b.optimizer.learning_rate);
  EXPECT_EQ(a.optimizer.momentum, b.optimizer.momentum);
  EXPECT_EQ(a.optimizer.weight_decay, b.optimizer.weight_decay);
  EXPECT_EQ(a.seed, b.seed);
  EXPECT_EQ(a.initializer.kind, b.initializer.kind);

  // Bit for bit, as float32, and the loaded doubles hold exactly those floats.
  const auto expected_bits = parameter_bits(a);
  const auto actual_bits = parameter_bits(b);
  ASSERT_EQ(expected_bits.size(), actual_bits.size());
  EXPECT_EQ(0, std::memcmp(expected_bits.data(), actual_bits.data(), expected_bits.size() * sizeof(std::uint32_t)));
  for (const auto& layer : b.layers)
    for (const auto* values : {&layer.weights, &layer.bias})
      for (double value : *values) EXPECT_EQ(value, static_cast<double>(static_cast<float>(value)));

  EXPECT_EQ(expected.scaling.kind, actual.scaling.kind);
  EXPECT_EQ(expected.scaling.offset, actual.scaling.offset);
  EXPECT_EQ(expected.scaling.scale, actual.scaling.scale);
  EXPECT_EQ(expected.classes, actual.classes);
  EXPECT_EQ(expected.targets, actual.targets);
  EXPECT_EQ(expected.features, actual.features);
}

// Runs f, which must throw Error(bad_input); returns its message.
std::string bad_input_message(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::bad_input) << e.what();
    return e.what();
  }
  ADD_FAILURE() << "expected Error(bad_input), nothing was thrown";
  return {};
}

std::string load_error(const fs::path& path) {
  return bad_input_message([&] { io::load_model(path); });
}

// ---- writing binary files by hand, to damage one thing at a time ----

std::uint64_t fnv1a_64(std::string_view bytes) {
  std::uint64_t hash = 0xcbf29ce484222325ULL;
  for (unsigned char byte : bytes) hash = (hash ^ byte) * 0x100000001b3ULL;
  return hash;
}

void put_u32(std::string& bytes, std::size_t offset, std::uint32_t value) {
  for (int i = 0; i < 4; ++i) bytes[offset + i] = static_cast<char>(value >> (8 * i));
}

// A well-formed file (correct lengths and checksum) from the parts.
std::string join(const BinaryParts& parts) {
  std::string bytes = parts.prefix + "0000" + parts.header + parts.parameters;
  put_u32(bytes, 12, static_cast<std::uint32_t>(parts.header.size()));
  const std::uint64_t checksum = fnv1a_64(bytes);
  for (int i = 0; i < 8; ++i) bytes.push_back(static_cast<char>(checksum >> (8 * i)));
  return bytes;
}

class ModelFileBinary : public ::testing::Test {
 protected:
  void SetUp() override {
    io::save_model(model_path_, model_);
    bytes_ = read_text(model_path_);
  }
  // Writes bytes to a new file and returns the load error.
  std::string error_for(const std::string& bytes, const std::string& name = "damaged.bkp") {
    write_file(dir_ / name, bytes);
    return load_error(dir_ / name);
  }

  TempDir dir_;
  ModelFile model_ = sample_model();
  fs::path model_path_ = dir_ / "model.bkp";
  std::string bytes_;
};

TEST_F(ModelFileBinary, LayoutMatchesTheHeaderComment) {
  ASSERT_GE(bytes_.size(), 24u);
  EXPECT_EQ(bytes_.substr(0, 8), std::string("BKPROP\r\n"));
  // Version 1: the model records no uint8 inputs, version 2's one addition (ModelFileVersions below).
  EXPECT_EQ(u32_at(bytes_, 8), io::kFirstModelFormatVersion);
  const BinaryParts parts = split_binary_model(bytes_);
  const auto header = nlohmann::json::parse(parts.header);
  const std::size_t count = parameter_bits(model_.network).size();
  EXPECT_EQ(header.at("parameter_count").get<std::size_t>(), count);
  EXPECT_FALSE(header.at("layers")[0].contains("weights"));
  EXPECT_EQ(header.at("classes")[2], "virgínica \"v\"");
  ASSERT_EQ(parts.parameters.size(), 4 * count);
  // The parameters, little-endian float32 in file order.
  const auto bits = parameter_bits(model_.network);
  for (std::size_t i = 0; i < count; ++i) ASSERT_EQ(u32_at(parts.parameters, 4 * i), bits[i]) << i;
  // The stored checksum is FNV-1a 64 of everything before it.
  EXPECT_EQ(join(parts), bytes_);
}

TEST_F(ModelFileBinary, RoundTripIsBitExact) {
  expect_same_model(model_, io::load_model(model_path_));
  // Saving what was loaded writes the same bytes.
  io::save_model(dir_ / "again.bkp", io::load_model(model_path_));
  EXPECT_EQ(read_text(dir_ / "again.bkp"), bytes_);
}

TEST_F(ModelFileBinary, RegressionModelWithoutScalingRoundTrips) {
  ModelFile model;
  model.network = io::read_network_file(testing::source_path("examples/seed.json"));
  model.targets = {"y"};
  io::save_model(dir_ / "seed.bkp", model);
  const ModelFile loaded = io::load_model(dir_ / "seed.bkp");
  EXPECT_EQ(loaded.scaling.kind, ScalingKind::none);
  EXPECT_EQ(loaded.targets, std::vector<std::string>{"y"});
  EXPECT_EQ(loaded.network.layers[0].weights[0], static_cast<double>(0.1f));
  EXPECT_EQ(parameter_bits(loaded.network), parameter_bits(model.network));
}

TEST_F(ModelFileBinary, TruncatedAtAnyOffsetIsRefused) {
  const std::uint32_t header_length = u32_at(bytes_, 12);
  const std::size_t parameters_start = 16 + header_length;
  for (std::size_t size : {std::size_t{0}, std::size_t{3}, std::size_t{8}, std::size_t{15}, std::size_t{16},
                           std::size_t{23}, std::size_t{16 + header_length / 2}, parameters_start,
                           parameters_start + 5, bytes_.size() - 8, bytes_.size() - 1}) {
    SCOPED_TRACE("truncated to " + std::to_string(size) + " bytes");
    const std::string message = error_for(bytes_.substr(0, size), "truncated.bkp");
    EXPECT_NE(message.find("truncated.bkp"), std::string::npos) << message;
    EXPECT_NE(message.find("offset"), std::string::npos) << message;
  }
}

TEST_F(ModelFileBinary, TrailingBytesAreRefused) {
  const std::string message = error_for(bytes_ + "x");
  EXPECT_NE(message.find("damaged.bkp: offset"), std::string::npos) << message;
}

TEST_F(ModelFileBinary, WrongMagicIsRefused) {
  std::string bytes = bytes_;
  bytes[0] = 'X';
  std::string message = error_for(bytes);
  EXPECT_NE(message.find("damaged.bkp: offset 0"), std::string::npos) << message;
  EXPECT_NE(message.find("BKPROP"), std::string::npos) << message;

  // A file copied in text mode: \r\n became \n.
  bytes = bytes_;
  bytes.erase(6, 1);
  message = error_for(bytes);
  EXPECT_NE(message.find("offset 0: wrong magic"), std::string::npos) << message;
  EXPECT_NE(message.find("text mode"), std::string::npos) << message;
}

TEST_F(ModelFileBinary, NewerVersionIsRefused) {
  BinaryParts parts = split_binary_model(bytes_);
  const unsigned newer = io::kModelFormatVersion + 1;
  put_u32(parts.prefix, 8, newer);
  const std::string message = error_for(join(parts));
  EXPECT_NE(message.find("damaged.bkp: offset 8: format version " + std::to_string(newer) +
                         " is newer than this program reads (" + std::to_string(io::kModelFormatVersion) + ")"),
            std::string::npos)
      << message;
}

TEST_F(ModelFileBinary, HugeHeaderLengthIsRefusedBeforeReadingIt) {
  std::string bytes = bytes_;
  put_u32(bytes, 12, 0xffffffffu);
  const std::string message = error_for(bytes);
  EXPECT_NE(message.find("damaged.bkp: offset 12: header length 4294967295 does not fit"), std::string::npos)
      << message;
}

TEST_F(ModelFileBinary, FlippedParameterByteFailsTheChecksum) {
  const std::size_t parameters_start = 16 + u32_at(bytes_, 12);
  for (std::size_t offset : {parameters_start, parameters_start + 13, bytes_.size() - 9}) {
    std::string bytes = bytes_;
    bytes[offset] = static_cast<char>(bytes[offset] ^ 0x04);
    const std::string message = error_for(bytes);
    EXPECT_NE(message.find("damaged.bkp: offset " + std::to_string(bytes_.size() - 8) + ": checksum mismatch: stored "),
              std::string::npos)
        << message;
    EXPECT_NE(message.find("the file is damaged"), std::string::npos) << message;
  }
}

TEST_F(ModelFileBinary, FlippedChecksumByteIsRefused) {
  std::string bytes = bytes_;
  bytes.back() = static_cast<char>(bytes.back() ^ 1);
  EXPECT_NE(error_for(bytes).find("checksum mismatch"), std::string::npos);
}

TEST_F(ModelFileBinary, WrongParameterCountIsRefused) {
  BinaryParts parts = split_binary_model(bytes_);
  auto header = nlohmann::json::parse(parts.header);
  const auto count = header["parameter_count"].get<std::size_t>();
  header["parameter_count"] = count + 1;
  parts.header = header.dump();
  parts.parameters += "abcd";  // the file even has room for it
  const std::string message = error_for(join(parts));
  EXPECT_NE(message.find("damaged.bkp: header: parameter_count: " + std::to_string(count + 1) +
                         " does not match the architecture (3-5-4-3 has " + std::to_string(count) + ")"),
            std::string::npos)
      << message;
}

TEST_F(ModelFileBinary, HeaderThatIsNotJsonIsRefusedWithItsOffset) {
  BinaryParts parts = split_binary_model(bytes_);
  parts.header[10] = '}';
  const std::string message = error_for(join(parts));
  EXPECT_NE(message.find("damaged.bkp: offset 26: header: syntax error"), std::string::npos) << message;

  parts = split_binary_model(bytes_);
  parts.header.insert(parts.header.find("setosa"), "\xff");  // not UTF-8
  EXPECT_NE(error_for(join(parts)).find("header: syntax error"), std::string::npos);
}

TEST_F(ModelFileBinary, HeaderThatIsNotANetworkIsRefusedWithTheNetworkReadersMessage) {
  BinaryParts parts = split_binary_model(bytes_);
  auto header = nlohmann::json::parse(parts.header);
  header["layers"][1]["activation"] = "softmax";
  parts.header = header.dump();
  std::string message = error_for(join(parts));
  EXPECT_NE(message.find("damaged.bkp: header: layers[1].activation: softmax is allowed only in the last layer"),
            std::string::npos)
      << message;

  header = nlohmann::json::parse(split_binary_model(bytes_).header);
  header["colour"] = "blue";
  parts.header = header.dump();
  message = error_for(join(parts));
  EXPECT_NE(message.find("damaged.bkp: header: colour: unknown key"), std::string::npos) << message;
}

TEST_F(ModelFileBinary, ScalingOfTheWrongLengthIsRefused) {
  BinaryParts parts = split_binary_model(bytes_);
  auto header = nlohmann::json::parse(parts.header);
  header["scaling"]["scale"] = {1.0, 2.0};
  parts.header = header.dump();
  const std::string message = error_for(join(parts));
  EXPECT_NE(message.find("damaged.bkp: header: scaling.scale: expected 3 numbers (one per input), got 2"),
            std::string::npos)
      << message;

  ModelFile model = sample_model();
  model.scaling.offset.pop_back();
  const std::string save_message = bad_input_message([&] { io::save_model(dir_ / "bad.bkp", model); });
  EXPECT_NE(save_message.find("scaling.offset: expected 3 numbers"), std::string::npos) << save_message;
  EXPECT_FALSE(fs::exists(dir_ / "bad.bkp"));
}

TEST_F(ModelFileBinary, NonFiniteParameterIsRefusedWithItsName) {
  BinaryParts parts = split_binary_model(bytes_);
  const std::uint32_t nan_bits = std::bit_cast<std::uint32_t>(std::numeric_limits<float>::quiet_NaN());
  // Parameter 16: layer 0 has 3 x 5 = 15 weights, then its 5 biases, so 16 is layers[0].bias[1].
  put_u32(parts.parameters, 4 * 16, nan_bits);
  const std::string message = error_for(join(parts));
  const std::size_t offset = 16 + parts.header.size() + 4 * 16;
  EXPECT_NE(message.find("damaged.bkp: offset " + std::to_string(offset) + ": layers[0].bias[1]: expected a finite number"),
            std::string::npos)
      << message;
}

// ---- JSON ----

class ModelFileJson : public ::testing::Test {
 protected:
  TempDir dir_;
  ModelFile model_ = sample_model();
};

TEST_F(ModelFileJson, ExportRoundTripIsBitExact) {
  io::export_model_json(dir_ / "model.json", model_);
  expect_same_model(model_, io::load_model(dir_ / "model.json"));
  const auto root = nlohmann::json::parse(read_text(dir_ / "model.json"));
  EXPECT_EQ(root.at("format"), "backprop-model");
  EXPECT_EQ(root.at("version"), 1);
  EXPECT_EQ(root.at("scaling").at("kind"), "standard");
  // Shortest float text where it reads back: 0.1f is written "0.1", not 0.10000000149011612.
  EXPECT_EQ(root.at("layers")[0].at("weights")[0][0].dump(), "0.1");
  EXPECT_EQ(io::model_to_json(model_), read_text(dir_ / "model.json"));
}

TEST_F(ModelFileJson, ManyRandomFloatsReadBackBitExact) {
  // One layer of 200 x 100 parameters from random bit patterns, through JSON text and back.
  ModelFile model;
  model.network.input = 200;
  LayerSpec layer;
  layer.units = 100;
  layer.activation = Activation::identity;
  std::mt19937 generator(99);
  layer.weights.resize(200 * 100);
  layer.bias.resize(100);
  for (auto* values : {&layer.weights, &layer.bias})
    for (double& value : *values) value = random_finite_float(generator);
  model.network.layers = {layer};
  io::export_model_json(dir_ / "big.json", model);
  EXPECT_EQ(parameter_bits(io::load_model(dir_ / "big.json").network), parameter_bits(model.network));
}

TEST_F(ModelFileJson, ExportLoadsAsANetworkFile) {
  io::export_model_json(dir_ / "model.json", model_);
  const NetworkSpec spec = io::read_network_file(dir_ / "model.json");
  EXPECT_EQ(parameter_bits(spec), parameter_bits(model_.network));
  EXPECT_EQ(spec.layers[0].activation, Activation::leaky_relu);
  EXPECT_EQ(spec.layers[0].slope, 0.2);
  EXPECT_EQ(spec.loss, LossKind::softmax_ce);
}

TEST_F(ModelFileJson, NetworkFileStillRefusesModelKeysWithoutFormat) {
  write_file(dir_ / "net.json", R"({"input": 2, "layers": [{"units": 1, "activation": "sigmoid"}], "classes": []})");
  const std::string message = bad_input_message([&] { io::read_network_file(dir_ / "net.json"); });
  EXPECT_NE(message.find("classes: unknown key"), std::string::npos) << message;
}

TEST_F(ModelFileJson, PlainNetworkFileLoadsAsAModel) {
  const ModelFile seed = io::load_model(testing::source_path("examples/seed.json"));
  EXPECT_EQ(seed.scaling.kind, ScalingKind::none);
  EXPECT_TRUE(seed.classes.empty());
  ASSERT_EQ(seed.network.layers.size(), 3u);
  EXPECT_EQ(seed.network.layers[1].weights[5], static_cast<double>(0.6f));  // rounded to float32

  // Without weights: the initializer's draws from the seed, as training would start.
  write_file(dir_ / "net.json",
             R"({"input": 4, "layers": [{"units": 3, "activation": "relu"}, {"units": 2, "activation": "sigmoid"}],
                 "seed": 42})");
  const ModelFile drawn = io::load_model(dir_ / "net.json");
  const NetworkSpec initial = Network<double>(io::read_network_file(dir_ / "net.json")).spec_with_parameters();
  EXPECT_EQ(parameter_bits(drawn.network), parameter_bits(initial));
  ASSERT_EQ(drawn.network.layers[0].weights.size(), 12u);
  EXPECT_EQ(drawn.network.layers[1].bias, (std::vector<double>{0.0, 0.0}));
}

TEST_F(ModelFileJson, ModelWithoutWeightsIsRefused) {
  auto root = nlohmann::json::parse(io::model_to_json(model_));
  root["layers"][1].erase("weights");
  write_file(dir_ / "model.json", root.dump());
  const std::string message = load_error(dir_ / "model.json");
  EXPECT_NE(message.find("model.json: layers[1].weights: missing"), std::string::npos) << message;
}

TEST_F(ModelFileJson, NewerVersionAndWrongFormatAreRefused) {
  auto root = nlohmann::json::parse(io::model_to_json(model_));
  const unsigned newer = io::kModelFormatVersion + 1;
  root["version"] = newer;
  write_file(dir_ / "model.json", root.dump());
  std::string message = load_error(dir_ / "model.json");
  EXPECT_NE(message.find("model.json: version: " + std::to_string(newer) + " is newer than this program reads (" +
                         std::to_string(io::kModelFormatVersion) + ")"),
            std::string::npos)
      << message;

  root["version"] = 1;
  root["format"] = "something-else";
  write_file(dir_ / "model.json", root.dump());
  message = load_error(dir_ / "model.json");
  EXPECT_NE(message.find("model.json: format: expected \"backprop-model\""), std::string::npos) << message;
}

TEST_F(ModelFileJson, SyntaxErrorNamesLineAndColumn) {
  write_file(dir_ / "model.json", "{\n  \"input\": 4,\n  oops\n}");
  const std::string message = load_error(dir_ / "model.json");
  EXPECT_NE(message.find("model.json:3:3: syntax error"), std::string::npos) << message;
}

TEST_F(ModelFileJson, NeitherBinaryNorJsonIsRefused) {
  write_file(dir_ / "notes.txt", "hello");
  const std::string message = load_error(dir_ / "notes.txt");
  EXPECT_NE(message.find("notes.txt: offset 0: expected a binary model"), std::string::npos) << message;
  write_file(dir_ / "empty", "");
  EXPECT_NE(load_error(dir_ / "empty").find("empty: offset 0"), std::string::npos);
}

// ---- atomic saving ----

std::vector<std::string> names_in(const fs::path& folder) {
  std::vector<std::string> names;
  for (const auto& entry : fs::directory_iterator(folder)) names.push_back(entry.path().filename().string());
  std::sort(names.begin(), names.end());
  return names;
}

TEST(ModelFileSave, MissingFolderThrowsAndCreatesNothing) {
  TempDir dir;
  const fs::path path = dir / "no-such-folder" / "model.bkp";
  const std::string message = bad_input_message([&] { io::save_model(path, sample_model()); });
  EXPECT_NE(message.find(path.string()), std::string::npos) << message;
  EXPECT_NE(message.find("No such file or directory"), std::string::npos) << message;
  EXPECT_FALSE(fs::exists(dir / "no-such-folder"));
  EXPECT_TRUE(names_in(dir.path()).empty());
  EXPECT_THROW(io::export_model_json(path, sample_model()), Error);
  EXPECT_TRUE(names_in(dir.path()).empty());
}

TEST(ModelFileSave, FailedSaveLeavesNoTemporaryFileAndOtherFilesUntouched) {
  TempDir dir;
  io::save_model(dir / "old.bkp", sample_model());
  const std::string old_bytes = read_text(dir / "old.bkp");
  fs::create_directory(dir / "a-folder");

  // The destination is a folder: the rename fails after the temporary file was written.
  const std::string message = bad_input_message([&] { io::save_model(dir / "a-folder", sample_model()); });
  EXPECT_NE(message.find((dir / "a-folder").string() + ": cannot write"), std::string::npos) << message;
  EXPECT_THROW(io::export_model_json(dir / "a-folder", sample_model()), Error);
  EXPECT_THROW(io::save_model(dir / "a-folder/", sample_model()), Error);
  EXPECT_EQ(names_in(dir.path()), (std::vector<std::string>{"a-folder", "old.bkp"}));
  EXPECT_TRUE(fs::is_empty(dir / "a-folder"));
  EXPECT_EQ(read_text(dir / "old.bkp"), old_bytes);
}

TEST(ModelFileSave, RefusedModelLeavesTheOldFileByteIdentical) {
  TempDir dir;
  io::save_model(dir / "model.bkp", sample_model());
  const std::string old_bytes = read_text(dir / "model.bkp");
  ModelFile broken = sample_model();
  broken.network.layers[1].weights[0] = std::nan("");
  EXPECT_THROW(io::save_model(dir / "model.bkp", broken), Error);
  broken = sample_model();
  broken.network.layers[0].weights[0] = 1e300;  // does not fit in float32
  const std::string message = bad_input_message([&] { io::save_model(dir / "model.bkp", broken); });
  EXPECT_NE(message.find("layers[0].weights[0][0]: 1e+300 does not fit in float32"), std::string::npos) << message;
  EXPECT_EQ(read_text(dir / "model.bkp"), old_bytes);
  EXPECT_EQ(names_in(dir.path()), std::vector<std::string>{"model.bkp"});
}

TEST(ModelFileSave, SavingOverAnExistingModelReplacesItWholly) {
  TempDir dir;
  io::save_model(dir / "model.bkp", sample_model());
  ModelFile smaller;
  smaller.network = io::read_network_file(testing::source_path("examples/seed.json"));
  io::save_model(dir / "model.bkp", smaller);
  EXPECT_EQ(parameter_bits(io::load_model(dir / "model.bkp").network), parameter_bits(smaller.network));
  EXPECT_EQ(names_in(dir.path()), std::vector<std::string>{"model.bkp"});
}

// ---- the kept threshold (format version 4, issue 30) ----

// sample_model with two classes: its last layer of 2 softmax outputs.
ModelFile two_class_model() {
  ModelFile model = sample_model();
  LayerSpec& output = model.network.layers.back();
  output.units = 2;
  output.weights.resize(static_cast<std::size_t>(model.network.layer_input(model.network.layers.size() - 1)) * 2);
  output.bias.resize(2);
  model.classes = {"no", "yes"};
  return model;
}

TEST(ModelFileThreshold, OnlyAModelWithAThresholdIsWrittenAsVersion4AndItReadsBack) {
  TempDir dir;
  ModelFile model = two_class_model();
  const std::string without = io::model_bytes(model);
  EXPECT_EQ(u32_at(without, 8), io::kFirstModelFormatVersion);
  EXPECT_FALSE(nlohmann::json::parse(split_binary_model(without).header).contains("threshold"));
  EXPECT_EQ(io::model_to_json(model).find("threshold"), std::string::npos);

  model.threshold = 0.3748f;  // a float32 probability, as eval's thresholds are
  const std::string with = io::model_bytes(model);
  EXPECT_EQ(u32_at(with, 8), io::kThresholdModelFormatVersion);
  EXPECT_EQ(nlohmann::json::parse(split_binary_model(with).header).at("threshold").get<double>(), *model.threshold);
  io::save_model(dir / "m.bkp", model);
  io::export_model_json(dir / "m.json", model);
  for (const auto* name : {"m.bkp", "m.json"}) {
    const ModelFile loaded = io::load_model(dir / name);
    ASSERT_TRUE(loaded.threshold.has_value()) << name;
    EXPECT_EQ(*loaded.threshold, *model.threshold) << name;  // exactly: JSON numbers read back as the double
    EXPECT_EQ(parameter_bits(loaded.network), parameter_bits(model.network)) << name;
  }
  EXPECT_EQ(nlohmann::json::parse(read_text(dir / "m.json")).at("version"), io::kThresholdModelFormatVersion);
  EXPECT_EQ(io::model_bytes(io::load_model(dir / "m.bkp")), with);  // loaded and saved again: the same bytes

  // The oldest version that holds it all: uint8 inputs (2) and a threshold (4) make 4.
  model.byte_inputs = true;
  EXPECT_EQ(u32_at(io::model_bytes(model), 8), io::kThresholdModelFormatVersion);
  model.threshold.reset();
  EXPECT_EQ(u32_at(io::model_bytes(model), 8), io::kByteInputsModelFormatVersion);
}

TEST(ModelFileThreshold, AThresholdOutsideZeroToOneOrOnAModelOfOtherThanTwoClassesIsRefused) {
  TempDir dir;
  ModelFile model = two_class_model();
  model.threshold = 1.5;
  EXPECT_NE(bad_input_message([&] { io::save_model(dir / "m.bkp", model); })
                .find("threshold: expected a probability in [0, 1], got 1.5"),
            std::string::npos);
  ModelFile three = sample_model();
  three.threshold = 0.5;
  EXPECT_NE(bad_input_message([&] { io::model_bytes(three); })
                .find("threshold: expected a model of two classes (the threshold is on the second's probability), "
                      "the network has 3 classes"),
            std::string::npos);
  EXPECT_FALSE(fs::exists(dir / "m.bkp"));

  // A header that says otherwise: a threshold that is not a number, one above 1 (the file named).
  model.threshold = 0.5;
  BinaryParts parts = split_binary_model(io::model_bytes(model));
  for (const auto& [written, expected] :
       {std::pair{"\"threshold\":\"f1\"", "threshold: expected a number in [0, 1], got \"f1\""},
        std::pair{"\"threshold\":2", "threshold: expected a probability in [0, 1], got 2"}}) {
    BinaryParts changed = parts;
    const std::size_t at = changed.header.find("\"threshold\":0.5");
    ASSERT_NE(at, std::string::npos);
    changed.header.replace(at, std::string("\"threshold\":0.5").size(), written);
    write_file(dir / "changed.bkp", join(changed));
    const std::string message = load_error(dir / "changed.bkp");
    EXPECT_NE(message.find("changed.bkp: header: " + std::string(expected)), std::string::npos) << message;
  }
}

}  // namespace
}  // namespace backprop
