// Shared by the tests that read a reference written by tests/reference/*.py (torch in float64): the document,
// its rows as one list, the comparison at a relative tolerance, and a network's arena without its padding.
#pragma once

#include <algorithm>
#include <cmath>
#include <fstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "backprop/nn/network.hpp"

namespace backprop::testing {

// tests/data/NAME, parsed (an empty object, and a failed expectation, when it cannot be opened).
inline nlohmann::json read_reference(const std::string& name) {
  std::ifstream file(std::string(BACKPROP_SOURCE_DIR) + "/tests/data/" + name);
  EXPECT_TRUE(file) << "cannot open tests/data/" << name;
  return file ? nlohmann::json::parse(file) : nlohmann::json::object();
}

inline std::vector<double> rows_of(const nlohmann::json& rows) {
  std::vector<double> values;
  for (const nlohmann::json& row : rows)
    for (double v : row) values.push_back(v);
  return values;
}

// Each value within tolerance x max(1, |expected|).
inline void expect_close(const std::vector<double>& actual, const std::vector<double>& expected, double tolerance,
                         const std::string& what) {
  ASSERT_EQ(actual.size(), expected.size()) << what;
  for (std::size_t i = 0; i < actual.size(); ++i)
    EXPECT_LE(std::abs(actual[i] - expected[i]), tolerance * std::max(1.0, std::abs(expected[i])))
        << what << "[" << i << "]: got " << actual[i] << ", expected " << expected[i];
}

// The arena without its padding: per entry its weights (a batch_norm's scale) then its bias (its shift; an
// embedding has none).
template <typename T>
std::vector<double> unpadded(const Network<T>& network, bool gradients) {
  std::vector<double> out;
  for (std::size_t l = 0; l < network.layer_count(); ++l) {
    const DenseLayer& layer = network.layer(l);
    const auto arena = gradients ? network.gradients() : network.parameters();
    for (std::size_t i = 0; i < layer.weight_count(); ++i) out.push_back(arena[layer.weights_offset + i]);
    for (std::size_t i = 0; i < layer.bias_count(); ++i) out.push_back(arena[layer.bias_offset + i]);
  }
  return out;
}

}  // namespace backprop::testing
