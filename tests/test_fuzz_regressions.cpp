// Replays every saved fuzz input (tests/fuzz/corpus/<target>/, the seed corpus, and tests/fuzz/crashers/<target>/,
// the inputs that once crashed a parser) through the fuzz targets' entry points (tests/fuzz/targets.hpp) with
// the ordinary compiler, so that every test run (and the sanitizer build of .ci/run) checks them without
// clang or libFuzzer. A target swallows backprop::Error; anything else escaping fails the test, and a crash
// or a sanitizer report stops the program.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <tuple>
#include <vector>

#include "fuzz/targets.hpp"

namespace {

namespace fs = std::filesystem;
using Target = void (*)(const std::uint8_t*, std::size_t);

std::vector<fs::path> saved_inputs(const std::string& target) {
  std::vector<fs::path> files;
  for (const char* kind : {"corpus", "crashers"}) {
    const fs::path folder = fs::path(BACKPROP_SOURCE_DIR) / "tests" / "fuzz" / kind / target;
    if (!fs::is_directory(folder)) continue;
    for (const auto& entry : fs::directory_iterator(folder))
      if (entry.is_regular_file()) files.push_back(entry.path());
  }
  return files;
}

void replay(const std::string& target, Target run, std::size_t at_least) {
  const std::vector<fs::path> files = saved_inputs(target);
  EXPECT_GE(files.size(), at_least) << "tests/fuzz/corpus/" << target << " holds too few seeds";
  for (const fs::path& file : files) {
    std::ifstream in(file, std::ios::binary);
    const std::vector<std::uint8_t> bytes{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
    SCOPED_TRACE(file.string());
    try {
      run(bytes.data(), bytes.size());
    } catch (const std::exception& e) {
      ADD_FAILURE() << "not a backprop::Error: " << e.what();
    } catch (...) {
      ADD_FAILURE() << "not a backprop::Error (not even a std::exception)";
    }
  }
}

TEST(FuzzRegressions, Csv) { replay("csv", backprop::fuzz::csv, 5); }
TEST(FuzzRegressions, Idx) { replay("idx", backprop::fuzz::idx, 5); }
TEST(FuzzRegressions, Npy) { replay("npy", backprop::fuzz::npy, 5); }
TEST(FuzzRegressions, NetworkJson) { replay("network_json", backprop::fuzz::network_json, 5); }
TEST(FuzzRegressions, Model) { replay("model", backprop::fuzz::model, 5); }

// What the fixes say: bad input naming the file and the place (the messages of docs/reliability.md).
std::string read_bytes(const fs::path& file) {
  std::ifstream in(file, std::ios::binary);
  return std::string{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

TEST(FuzzRegressions, FixedCrashersAreBadInputNamingThePlace) {
  const fs::path crashers = fs::path(BACKPROP_SOURCE_DIR) / "tests" / "fuzz" / "crashers";
  auto message_of = [](auto&& body) -> std::string {
    try {
      body();
    } catch (const backprop::Error& e) {
      EXPECT_EQ(e.kind(), backprop::ErrorKind::bad_input);
      return e.what();
    }
    ADD_FAILURE() << "no error";
    return "";
  };
  // A header number past double range ("1e608"): a nlohmann out_of_range escaped before.
  const std::string header = read_bytes(crashers / "model" / "header-number-out-of-range-c1fe8629.model");
  EXPECT_THAT(message_of([&] { backprop::io::load_model_bytes(header, "m.model"); }),
              testing::HasSubstr("m.model: offset 16: header: "));
  // A network file of 2^55 parameters loaded as a model: std::bad_alloc (or an out-of-memory kill) before.
  const std::string huge = read_bytes(crashers / "model" / "network-file-of-2pow55-parameters.json");
  EXPECT_THAT(message_of([&] { backprop::io::load_model_bytes(huge, "net.json"); }),
              testing::HasSubstr("net.json: layers[0].units: expected a network of at most 16777216 parameters"));
  // An NPY label of 1e300 read against a model's integer classes: an undefined cast to long long before.
  const std::string label = read_bytes(crashers / "npy" / "label-beyond-long-long-known-classes.npy");
  backprop::LoadOptions eval;
  eval.known_classes = {"0", "1"};
  const std::vector<std::uint8_t> label_bytes(label.begin(), label.end());
  EXPECT_THAT(message_of([&] {
                backprop::data::dataset_from_bytes(backprop::fuzz::npy_features(), "x.npy", fs::path("y.npy"),
                                                   [&](const fs::path&) { return label_bytes; }, eval);
              }),
              testing::HasSubstr("y.npy: record 1 (byte offset 136): expected a class the model knows"));
}

// The fixed companions the IDX and NPY targets pair the input with are themselves valid.
TEST(FuzzRegressions, CompanionsAreValid) {
  backprop::LoadOptions options;
  for (auto [features, labels, features_name, labels_name] :
       {std::tuple{backprop::fuzz::idx_images(), backprop::fuzz::idx_labels(), "a-idx3-ubyte", "a-idx1-ubyte"},
        std::tuple{backprop::fuzz::npy_features(), backprop::fuzz::npy_labels(), "a.npy", "b.npy"}}) {
    // A copy to capture: clang 14 (the fuzzers' compiler) refuses a lambda capturing a structured binding.
    const std::vector<std::uint8_t> label_bytes = labels;
    const backprop::Dataset data = backprop::data::dataset_from_bytes(
        features, features_name, std::filesystem::path(labels_name),
        [&](const std::filesystem::path&) { return label_bytes; }, options);
    EXPECT_EQ(data.rows, 2u);
  }
}

}  // namespace
