// Small generated data sets shared by the trainer's and the device's tests.
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>

#include "backprop/data/dataset.hpp"
#include "backprop/nn/initializer.hpp"
#include "backprop/nn/spec.hpp"

namespace backprop::testing {

// Two concentric rings (radius 1 and 2, noise 0.15), labelled inner/outer alternately: not linearly separable.
inline Dataset rings(std::size_t rows, std::uint64_t seed) {
  Dataset data;
  data.source = "rings";
  data.rows = rows;
  data.features = 2;
  data.task = TaskKind::classification;
  data.class_names = {"inner", "outer"};
  Random random(seed);
  for (std::size_t r = 0; r < rows; ++r) {
    const int label = static_cast<int>(r % 2);
    const double radius = (label == 0 ? 1.0 : 2.0) + 0.15 * random.normal();
    const double angle = random.uniform(0.0, 6.283185307179586);
    data.features_f32.push_back(static_cast<float>(radius * std::cos(angle)));
    data.features_f32.push_back(static_cast<float>(radius * std::sin(angle)));
    data.labels.push_back(label);
  }
  return data;
}

// rows copies of one feature x with target y: the divergence tests' data.
inline Dataset one_feature_regression(float x, float y, int rows) {
  Dataset data;
  data.source = "one-feature";
  data.rows = static_cast<std::size_t>(rows);
  data.features = 1;
  data.task = TaskKind::regression;
  data.target_count = 1;
  data.features_f32.assign(rows, x);
  data.targets.assign(rows, y);
  return data;
}

// One identity unit (weight `weight`, bias 0), mse, SGD at learning rate 1, one row per step, one epoch: with
// one_feature_regression, the divergence tests' network.
inline NetworkSpec one_weight_network(double weight) {
  NetworkSpec spec;
  spec.input = 1;
  spec.loss = LossKind::mse;
  spec.layers.push_back({.units = 1, .activation = Activation::identity, .weights = {weight}, .bias = {0.0}});
  spec.optimizer.learning_rate = 1.0;
  spec.training.batch_size = 1;
  spec.training.epochs = 1;
  return spec;
}

}  // namespace backprop::testing
