// The fused one-row training step (train/row_step.hpp) against the general path it replaces at batch size 1:
// the same bits, step by step and over whole training runs, for every activation, loss and optimizer type
// it meets, and the same divergence errors.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include "backprop/data/scaling.hpp"
#include "backprop/base/error.hpp"
#include "backprop/nn/initializer.hpp"
#include "backprop/nn/optimizer.hpp"
#include "train/row_step.hpp"
#include "backprop/train/trainer.hpp"
#include "synthetic_data.hpp"

namespace backprop {
namespace {

// Bit patterns, so that -0 and +0 or two NaNs would differ too.
std::vector<std::uint32_t> bits(std::span<const float> values) {
  std::vector<std::uint32_t> out(values.size());
  std::memcpy(out.data(), values.data(), sizeof(float) * values.size());
  return out;
}

NetworkSpec network(int input, std::vector<LayerSpec> layers, LossKind loss, const std::string& optimizer) {
  NetworkSpec spec;
  spec.input = input;
  spec.loss = loss;
  spec.seed = 11;
  spec.layers = std::move(layers);
  spec.optimizer.type = *parse_optimizer(optimizer);
  spec.optimizer.learning_rate = optimizer == "sgd" ? 0.02 : 0.01;
  spec.training.batch_size = 1;
  spec.training.epochs = 3;
  return spec;
}

// Regression data: `features` inputs in [-2, 2], `outputs` targets in [0, 1] that depend on them.
Dataset regression(int features, int outputs, std::size_t rows, std::uint64_t seed) {
  Dataset data;
  data.source = "regression";
  data.rows = rows;
  data.features = features;
  data.task = TaskKind::regression;
  data.target_count = outputs;
  Random random(seed);
  for (std::size_t r = 0; r < rows; ++r) {
    double sum = 0;
    for (int f = 0; f < features; ++f) {
      const double x = random.uniform(-2.0, 2.0);
      sum += x * (f % 2 == 0 ? 1.0 : -0.5);
      data.features_f32.push_back(static_cast<float>(x));
    }
    for (int o = 0; o < outputs; ++o)
      data.targets.push_back(static_cast<float>(1.0 / (1.0 + std::exp(-sum * (o + 1) / features))));
  }
  return data;
}

// Classification data: the rings, with three classes by angle when `classes` is 3.
Dataset classes(int count, std::size_t rows) {
  Dataset data = testing::rings(rows, 21);
  if (count == 3) {
    data.class_names = {"a", "b", "c"};
    for (std::size_t r = 0; r < rows; ++r) {
      const double angle = std::atan2(data.features_f32[2 * r + 1], data.features_f32[2 * r]);
      data.labels[r] = angle < -1.0 ? 0 : angle < 1.0 ? 1 : 2;
    }
  }
  return data;
}

struct TrainedRun {
  std::vector<std::uint32_t> parameters;
  std::vector<double> losses, accuracies, rmses;
};

TrainedRun train_with(const NetworkSpec& spec, const Dataset& data, const Scaling& scaling, bool row_step) {
  Network<float> net(spec);
  TrainingParallelism how;
  how.row_step = row_step;
  TrainedRun run;
  const TrainingResult result = train(net, data, nullptr, scaling, nullptr, nullptr, how);
  run.parameters = bits(net.parameters());
  for (const auto& m : result.history) {
    run.losses.push_back(m.train.loss);
    run.accuracies.push_back(m.train.accuracy);
    run.rmses.push_back(m.train.rmse);
  }
  return run;
}

void expect_same(const TrainedRun& fused, const TrainedRun& general) {
  EXPECT_EQ(fused.parameters, general.parameters);
  ASSERT_EQ(fused.losses.size(), general.losses.size());
  for (std::size_t e = 0; e < fused.losses.size(); ++e) {
    EXPECT_EQ(fused.losses[e], general.losses[e]) << "epoch " << e + 1;
    // NaN (not applicable) on both sides, or equal.
    EXPECT_TRUE(fused.accuracies[e] == general.accuracies[e] ||
                (std::isnan(fused.accuracies[e]) && std::isnan(general.accuracies[e])));
    EXPECT_TRUE(fused.rmses[e] == general.rmses[e] || (std::isnan(fused.rmses[e]) && std::isnan(general.rmses[e])));
  }
}

struct Case {
  std::string name;
  NetworkSpec spec;
  bool classification;
  int outputs;
  ScalingKind scaling = ScalingKind::none;
};

std::vector<Case> cases() {
  std::vector<Case> all;
  // The tutorial's network with its initial values, as bench/seed-net.json has it.
  NetworkSpec seed = network(4,
                             {{.units = 2, .weights = {0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8}, .bias = {0.1, 0.1}},
                              {.units = 3, .weights = {0.1, 0.2, 0.3, 0.4, 0.5, 0.6}, .bias = {0.1, 0.1, 0.1}},
                              {.units = 1, .weights = {0.1, 0.2, 0.3}, .bias = {0.1}}},
                             LossKind::mse, "sgd");
  seed.optimizer.learning_rate = 0.1;
  all.push_back({"seed network", seed, false, 1});
  // Every element-wise activation, narrow layers (1 to 7 units) and wide ones (the general row loops).
  all.push_back({"tanh 7, relu 9, leaky 5, identity 2; sgd with weight decay",
                 network(5,
                         {{.units = 7, .activation = Activation::tanh},
                          {.units = 9, .activation = Activation::relu},
                          {.units = 5, .activation = Activation::leaky_relu, .slope = 0.1},
                          {.units = 2, .activation = Activation::identity}},
                         LossKind::mse, "sgd"),
                 false, 2, ScalingKind::standard});
  all.back().spec.optimizer.weight_decay = 0.01;
  all.push_back({"softmax_ce, 3 classes",
                 network(2, {{.units = 6, .activation = Activation::tanh}, {.units = 3, .activation = Activation::softmax}},
                         LossKind::softmax_ce, "sgd"),
                 true, 3});
  all.push_back({"bce",
                 network(2, {{.units = 4, .activation = Activation::sigmoid}, {.units = 1, .activation = Activation::sigmoid}},
                         LossKind::bce, "sgd"),
                 true, 1, ScalingKind::minmax});
  // Optimizers with state: the step without the fused update (Optimizer::step on the row's gradient).
  for (const std::string type : {"momentum", "nesterov", "adam", "adamw", "rmsprop"})
    all.push_back({"sigmoid 3-5-2, " + type,
                   network(3, {{.units = 5, .activation = Activation::sigmoid}, {.units = 2, .activation = Activation::sigmoid}},
                           LossKind::mse, type),
                   false, 2});
  // Wider than 16,384 parameters: sgd without the fused update.
  all.push_back({"sgd, 40,000 parameters",
                 network(3, {{.units = 200, .activation = Activation::relu}, {.units = 200, .activation = Activation::tanh},
                             {.units = 1, .activation = Activation::identity}},
                         LossKind::mse, "sgd"),
                 false, 1});
  all.back().spec.training.epochs = 1;
  all.back().spec.optimizer.learning_rate = 0.001;
  return all;
}

TEST(RowStep, TrainingIsBitIdenticalToTheGeneralPath) {
  for (const Case& c : cases()) {
    SCOPED_TRACE(c.name);
    ASSERT_TRUE(RowStep::applies(Network<float>(c.spec)));
    const Dataset data = c.classification ? classes(c.outputs == 1 ? 2 : c.outputs, 60)
                                          : regression(c.spec.input, c.outputs, 60, 5);
    const Scaling scaling = fit_scaling(c.scaling, data);
    const TrainedRun fused = train_with(c.spec, data, scaling, true);
    const TrainedRun general = train_with(c.spec, data, scaling, false);
    expect_same(fused, general);
    // And training moved the parameters: the comparison is not of two untouched networks.
    EXPECT_NE(fused.parameters, bits(Network<float>(c.spec).parameters()));
  }
}

// Row weights (class and sample weights, Dataset::weights) through the one-row step give the general step's
// bits at batch size 1 (loss_value and loss_backward's weighted batch of one row), zero weights included (a
// softmax_ce row of weight 0 has a loss and a gradient of 0); and the weights change what is trained.
TEST(RowStep, WeightedTrainingIsBitIdenticalToTheGeneralPath) {
  constexpr float kWeights[] = {1.0f, 0.5f, 0.0f, 2.75f, 1.3f, 0.2f, 4.0f};
  for (const Case& c : cases()) {
    SCOPED_TRACE(c.name);
    Dataset data = c.classification ? classes(c.outputs == 1 ? 2 : c.outputs, 60)
                                    : regression(c.spec.input, c.outputs, 60, 5);
    const Scaling scaling = fit_scaling(c.scaling, data);
    const TrainedRun unweighted = train_with(c.spec, data, scaling, true);
    for (std::size_t r = 0; r < data.rows; ++r) data.weights.push_back(kWeights[r % std::size(kWeights)]);
    const TrainedRun fused = train_with(c.spec, data, scaling, true);
    const TrainedRun general = train_with(c.spec, data, scaling, false);
    expect_same(fused, general);
    EXPECT_NE(fused.parameters, unweighted.parameters);
  }
}

// One step on its own, against Network::forward (with dropout masks), loss_value, backward and Optimizer::step: the loss,
// the output, the whole gradient arena, the parameters and the optimizer's state and step count.
TEST(RowStep, OneStepIsTheGeneralPathsStep) {
  for (const Case& c : cases()) {
    SCOPED_TRACE(c.name);
    Network<float> fused_net(c.spec), general_net(c.spec);
    Optimizer<float> fused_optimizer(c.spec.optimizer, fused_net.parameters().size());
    Optimizer<float> general_optimizer(c.spec.optimizer, general_net.parameters().size());
    RowStep row_step(fused_net, fused_optimizer);
    Workspace<float> workspace(general_net, 1);
    Random random(3), unused(4);
    std::vector<float> x(static_cast<std::size_t>(c.spec.input)), y(static_cast<std::size_t>(c.outputs), 0.0f);
    for (int step = 0; step < 5; ++step) {
      for (float& v : x) v = static_cast<float>(random.uniform(-1.5, 1.5));
      if (c.spec.loss == LossKind::softmax_ce) {
        std::fill(y.begin(), y.end(), 0.0f);
        y[static_cast<std::size_t>(step % c.outputs)] = 1.0f;
      } else {
        for (float& v : y) v = static_cast<float>(c.spec.loss == LossKind::bce ? step % 2 : random.uniform());
      }
      const RowStep::Result result = row_step.step(x.data(), y.data(), 0.07);
      general_net.forward(workspace, x.data(), 1, &unused);
      const float loss = general_net.loss_value(workspace, y.data(), 1);
      general_net.backward(workspace, x.data(), y.data(), 1);
      general_optimizer.step(general_net.parameters(), general_net.gradients(), 0.07);

      ASSERT_TRUE(result.finite);
      EXPECT_EQ(std::bit_cast<std::uint32_t>(result.loss), std::bit_cast<std::uint32_t>(loss)) << "step " << step;
      const float* out = general_net.output(workspace);
      EXPECT_EQ(bits({row_step.output(), static_cast<std::size_t>(c.outputs)}),
                bits({out, static_cast<std::size_t>(c.outputs)}));
      EXPECT_EQ(bits(fused_net.gradients()), bits(general_net.gradients())) << "step " << step;
      EXPECT_EQ(bits(fused_net.parameters()), bits(general_net.parameters())) << "step " << step;
      EXPECT_EQ(fused_optimizer.step_count(), general_optimizer.step_count());
      const auto fused_state = fused_optimizer.state();
      const auto general_state = general_optimizer.state();
      ASSERT_EQ(fused_state.size(), general_state.size());
      for (std::size_t s = 0; s < fused_state.size(); ++s)
        EXPECT_EQ(bits(fused_state[s]), bits(general_state[s])) << "state " << s;
    }
  }
}

TEST(RowStep, DoesNotApplyToDropoutOrClipping) {
  NetworkSpec spec = network(2, {{.units = 4, .activation = Activation::relu, .dropout = 0.5},
                                 {.units = 1, .activation = Activation::identity}},
                             LossKind::mse, "sgd");
  EXPECT_FALSE(RowStep::applies(Network<float>(spec)));
  spec.layers[0].dropout = 0.0;
  EXPECT_TRUE(RowStep::applies(Network<float>(spec)));
  spec.training.clip_grad_norm = 1.0;
  EXPECT_FALSE(RowStep::applies(Network<float>(spec)));
}

// A step whose gradient or loss is not finite changes nothing, and training stops with the general path's
// error, at the same step, with the same parameters kept.
TEST(RowStep, DivergenceKeepsTheLastFiniteParametersAndNamesTheStep) {
  struct Diverging {
    float x;
    double weight;
    const char* message;
  };
  for (const Diverging& d : {Diverging{3e38f, 1e-38, "epoch 1, batch 1: the gradient of layer 1 is not finite"},
                             Diverging{1e18f, 1.0, "epoch 1, batch 2: the loss is inf"}}) {
    SCOPED_TRACE(d.message);
    const NetworkSpec spec = testing::one_weight_network(d.weight);
    const Dataset data = testing::one_feature_regression(d.x, 0.0f, 3);
    std::vector<std::vector<std::uint32_t>> kept;
    std::vector<std::string> messages;
    for (const bool row_step : {true, false}) {
      Network<float> net(spec);
      TrainingParallelism how;
      how.row_step = row_step;
      try {
        train(net, data, nullptr, Scaling{}, nullptr, nullptr, how);
        messages.push_back("no error");
      } catch (const Error& e) {
        EXPECT_EQ(e.kind(), ErrorKind::runtime);
        messages.push_back(e.what());
      }
      kept.push_back(bits(net.parameters()));
    }
    EXPECT_THAT(messages[0], ::testing::HasSubstr(d.message));
    EXPECT_EQ(messages[0], messages[1]);
    EXPECT_EQ(kept[0], kept[1]);
  }
}

}  // namespace
}  // namespace backprop
