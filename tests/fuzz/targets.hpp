// The fuzz targets' entry points, shared by the libFuzzer programs (fuzz_*.cpp, built by BACKPROP_FUZZ) and
// the regression test that replays every saved input with the normal compiler (tests/test_fuzz_regressions.cpp).
// Each feeds the bytes to a parser in memory, as the command would read them from a file. backprop::Error is
// the expected answer to bad bytes and is swallowed; anything else (another exception, a crash, a sanitizer
// report, an allocation past the fuzzer's limit) escapes and is a bug.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "../../src/data/loaders.hpp"
#include "backprop/data/dataset.hpp"
#include "backprop/base/error.hpp"
#include "backprop/io/model_file.hpp"
#include "backprop/io/network_file.hpp"

namespace backprop::fuzz {

template <typename Body>
void expect_only_backprop_errors(Body body) {
  try {
    body();
  } catch (const Error&) {
    // Bad input, reported as the library promises.
  }
}

inline std::vector<std::uint8_t> as_vector(const std::uint8_t* data, std::size_t size) {
  return std::vector<std::uint8_t>(data, data + size);
}

// CSV text, for classification and for regression (the target column is read differently).
inline void csv(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  for (TaskKind task : {TaskKind::classification, TaskKind::regression}) {
    LoadOptions options;
    options.task = task;
    expect_only_backprop_errors([&] { data::parse_csv(text, "fuzz.csv", options); });
  }
  LoadOptions predict;  // as `predict` reads it: the model's classes known, the target column optional
  predict.known_classes = {"0", "1"};
  predict.target_optional = true;
  predict.expected_features = 2;
  expect_only_backprop_errors([&] { data::parse_csv(text, "fuzz.csv", predict); });
  // As a table as it comes (data/table.hpp): its recipe inferred (train without a network file), and encoded
  // by a model's recipe (predict).
  LoadOptions infer;
  infer.infer_table = true;
  infer.infer_task = true;
  expect_only_backprop_errors([&] { data::parse_csv(text, "fuzz.csv", infer); });
  TableRecipe recipe;
  recipe.columns.push_back({.name = "a", .kind = ColumnKind::numeric, .median = 1.5, .indicator = true});
  recipe.columns.push_back({.name = "b", .kind = ColumnKind::categorical, .categories = {"x", "y"}, .other = true,
                            .missing_slot = true});
  LoadOptions known = predict;
  known.table = &recipe;
  known.expected_features = recipe.width();
  known.feature_names = recipe.input_names();
  expect_only_backprop_errors([&] { data::parse_csv(text, "fuzz.csv", known); });
}

// Fixed, valid companions: 2 images of 2 x 2 pixels (IDX3) and their 2 labels (IDX1).
inline std::vector<std::uint8_t> idx_images() {
  return {0, 0, 8, 3, 0, 0, 0, 2, 0, 0, 0, 2, 0, 0, 0, 2, 0, 64, 128, 255, 1, 2, 3, 4};
}
inline std::vector<std::uint8_t> idx_labels() { return {0, 0, 8, 1, 0, 0, 0, 2, 0, 1}; }

// An NPY file (format 1.0) of `descr` and `shape` holding `payload`.
inline std::vector<std::uint8_t> npy_file(const std::string& descr, const std::string& shape,
                                          const std::vector<std::uint8_t>& payload) {
  std::string header = "{'descr': '" + descr + "', 'fortran_order': False, 'shape': " + shape + ", }";
  while ((10 + header.size() + 1) % 64 != 0) header.push_back(' ');
  header.push_back('\n');
  std::vector<std::uint8_t> bytes = {0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0,
                                     static_cast<std::uint8_t>(header.size() & 0xff),
                                     static_cast<std::uint8_t>(header.size() >> 8)};
  bytes.insert(bytes.end(), header.begin(), header.end());
  bytes.insert(bytes.end(), payload.begin(), payload.end());
  return bytes;
}
inline std::vector<std::uint8_t> npy_features() { return npy_file("|u1", "(2, 2)", {0, 64, 128, 255}); }
inline std::vector<std::uint8_t> npy_labels() { return npy_file("|u1", "(2,)", {0, 1}); }

// The input once as the features file (with valid labels beside it), once as the labels file (beside valid
// features), as `train` and `eval` read them.
inline void features_and_labels(const std::uint8_t* data, std::size_t size, const std::string& features_name,
                                const std::string& labels_name, const std::vector<std::uint8_t>& valid_features,
                                const std::vector<std::uint8_t>& valid_labels) {
  for (TaskKind task : {TaskKind::classification, TaskKind::regression}) {
    LoadOptions options;
    options.task = task;
    expect_only_backprop_errors([&] {
      data::dataset_from_bytes(as_vector(data, size), features_name, labels_name,
                               [&](const std::filesystem::path&) { return valid_labels; }, options);
    });
    expect_only_backprop_errors([&] {
      data::dataset_from_bytes(valid_features, features_name, labels_name,
                               [&](const std::filesystem::path&) { return as_vector(data, size); }, options);
    });
  }
  LoadOptions eval;  // the model's classes known
  eval.known_classes = {"0", "1"};
  expect_only_backprop_errors([&] {
    data::dataset_from_bytes(valid_features, features_name, labels_name,
                             [&](const std::filesystem::path&) { return as_vector(data, size); }, eval);
  });
}

inline void idx(const std::uint8_t* data, std::size_t size) {
  features_and_labels(data, size, "fuzz-images-idx3-ubyte", "fuzz-labels-idx1-ubyte", idx_images(), idx_labels());
}

inline void npy(const std::uint8_t* data, std::size_t size) {
  features_and_labels(data, size, "fuzz-features.npy", "fuzz-labels.npy", npy_features(), npy_labels());
}

inline void network_json(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  expect_only_backprop_errors([&] { io::parse_network(text, "fuzz.json"); });
}

inline void model(const std::uint8_t* data, std::size_t size) {
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  expect_only_backprop_errors([&] { io::load_model_bytes(bytes, "fuzz.model"); });
}

}  // namespace backprop::fuzz
