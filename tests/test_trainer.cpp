// The trainer: dropout's gradients and statistics, an end-to-end run that must learn a non-linear data
// set, reproducibility from the seed, early stopping, and divergence reported as an error.
#include <cmath>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "backprop/base/error.hpp"
#include "backprop/kernels/kernels.hpp"
#include "backprop/nn/gradient_check.hpp"
#include "backprop/nn/initializer.hpp"
#include "backprop/nn/network.hpp"
#include "backprop/train/trainer.hpp"
#include "synthetic_data.hpp"
#include "kernels/cpu/thread_pool.hpp"
#include "train/step.hpp"

namespace backprop {
namespace {

NetworkSpec two_hidden(int input, int outputs, Activation output, LossKind loss, double dropout) {
  NetworkSpec spec;
  spec.input = input;
  spec.loss = loss;
  spec.seed = 4;
  spec.layers.push_back({.units = 16, .activation = Activation::tanh, .dropout = dropout});
  spec.layers.push_back({.units = 16, .activation = Activation::tanh, .dropout = dropout});
  spec.layers.push_back({.units = outputs, .activation = output});
  return spec;
}

// Dropout's backward goes through the forward's masks: with the masks held fixed (the same random
// stream for every evaluation), the analytic gradients match central differences (tolerance and error
// measure as gradient_check.hpp: 1e-5 relative, floor 1e-4).
TEST(TrainerDropout, GradientsThroughTheMasksMatchCentralDifferences) {
  const NetworkSpec spec = two_hidden(5, 3, Activation::softmax, LossKind::softmax_ce, 0.4);
  std::vector<double> x, y;
  random_batch(x, y, spec, 6, 9);
  Network<double> network(spec);
  Workspace<double> workspace(network, 6);
  auto loss_with_masks = [&] {
    Random random(77);  // the same masks every time
    network.forward(workspace, x.data(), 6, &random);
    return network.loss_value(workspace, y.data(), 6);
  };
  loss_with_masks();
  network.backward(workspace, x.data(), y.data(), 6);
  const std::vector<double> analytic(network.gradients().begin(), network.gradients().end());
  double worst = 0;
  int zero_gradients = 0;
  for (std::size_t i = 0; i < analytic.size(); ++i) {
    double& p = network.parameters()[i];
    const double saved = p;
    p = saved + 1e-6;
    const double plus = loss_with_masks();
    p = saved - 1e-6;
    const double minus = loss_with_masks();
    p = saved;
    worst = std::max(worst, gradient_relative_error(analytic[i], (plus - minus) / 2e-6));
    if (analytic[i] == 0.0) ++zero_gradients;
  }
  EXPECT_LE(worst, kDefaultGradientTolerance);
  // Dropped units pass no gradient: some weights into the second hidden layer get exactly zero.
  EXPECT_GT(zero_gradients, 0);
}

TEST(TrainerDropout, KeepsOneMinusPScaledAndLeavesInferenceAlone) {
  NetworkSpec spec = two_hidden(8, 2, Activation::softmax, LossKind::softmax_ce, 0.3);
  Network<float> network(spec);
  const int batch = 500;
  Workspace<float> workspace(network, batch);
  std::vector<double> xd, yd;
  random_batch(xd, yd, spec, batch, 1);
  const std::vector<float> x(xd.begin(), xd.end());
  Random random(5);
  network.forward(workspace, x.data(), batch, &random);
  std::size_t dropped = 0;
  const std::size_t n = static_cast<std::size_t>(batch) * 16;
  for (std::size_t i = 0; i < n; ++i) {
    const float m = workspace.mask(0)[i];
    if (m == 0.0f)
      ++dropped;
    else
      EXPECT_FLOAT_EQ(m, 1.0f / 0.7f);
    EXPECT_FLOAT_EQ(workspace.dropped(0)[i], workspace.a(0)[i] * m);
  }
  // 8000 Bernoulli(0.3) draws: standard deviation 0.005, so 0.3 +- 0.025 is five of them.
  EXPECT_NEAR(static_cast<double>(dropped) / n, 0.3, 0.025);
  // Inference: the same outputs as the same network without dropout.
  spec.layers[0].dropout = spec.layers[1].dropout = 0.0;
  Network<float> plain(spec);
  Workspace<float> plain_workspace(plain, batch);
  network.forward(workspace, x.data(), batch);
  plain.forward(plain_workspace, x.data(), batch);
  for (int i = 0; i < batch * 2; ++i) EXPECT_EQ(network.output(workspace)[i], plain.output(plain_workspace)[i]);
}

using testing::rings;  // two concentric rings, not linearly separable (synthetic_data.hpp)

NetworkSpec rings_network() {
  NetworkSpec spec = two_hidden(2, 2, Activation::softmax, LossKind::softmax_ce, 0.0);
  spec.optimizer.type = OptimizerKind::adam;
  spec.optimizer.learning_rate = 0.01;
  spec.training.epochs = 40;
  spec.training.batch_size = 32;
  spec.training.schedule.kind = ScheduleKind::cosine;
  return spec;
}

// The rings are separable by a circle of radius 1.5, 3.3 standard deviations of the noise from each ring:
// the best possible accuracy is about 0.999; a trained network must reach 0.97 on rows it never saw.
TEST(TrainerEndToEnd, LearnsTwoRingsToHeldOutAccuracyAbove97Percent) {
  const Dataset train_data = rings(1000, 1);
  const Dataset test_data = rings(500, 2);
  Network<float> network(rings_network());
  const TrainingResult result = train(network, train_data, &test_data, Scaling{});
  ASSERT_EQ(result.history.size(), 40u);
  EXPECT_GT(result.history.front().train.loss, result.history.back().train.loss);
  const Metrics metrics = evaluate(network, test_data, Scaling{});
  EXPECT_GE(metrics.accuracy, 0.97);
  EXPECT_EQ(metrics.rows, 500u);
  EXPECT_DOUBLE_EQ(metrics.accuracy, result.history.back().validation.accuracy);
  // The confusion matrix counts every row once, the diagonal being the correct ones.
  const auto confusion = confusion_matrix(network, test_data, Scaling{});
  ASSERT_EQ(confusion.size(), 4u);
  EXPECT_EQ(confusion[0] + confusion[1] + confusion[2] + confusion[3], 500u);
  EXPECT_NEAR((confusion[0] + confusion[3]) / 500.0, metrics.accuracy, 1e-12);
}

// A training whose steps share no product out runs on the calling thread, its validation passes too, though 300
// validation rows through 64 and 64 units make a product that is shared out (2 x 300 x 64 x 64 flops): the pool's
// worker is never woken for it (a woken worker spins and yields for longer than such a product takes), nor even
// started. Trained with a batch of 300, whose steps share that product, it is started and woken (the control).
TEST(TrainerThreads, AStepOfSmallProductsKeepsThePoolAsleepItsValidationIncluded) {
  const int saved = kernels::thread_count();
  kernels::set_thread_count(1);  // stops any worker an earlier test started: none runs from here
  kernels::set_thread_count(2);
  const Dataset data = rings(300, 5);
  NetworkSpec spec;
  spec.input = 2;
  spec.loss = LossKind::softmax_ce;
  spec.seed = 4;
  spec.layers.push_back({.units = 64, .activation = Activation::relu});
  spec.layers.push_back({.units = 64, .activation = Activation::relu});
  spec.layers.push_back({.units = 2, .activation = Activation::softmax});
  spec.training.epochs = 2;
  spec.training.batch_size = 32;
  ASSERT_TRUE(kernels::product_shared_out(300, 64, 64));
  ASSERT_FALSE(step_shares_products(spec, data.rows));
  Network<float> small_steps(spec);
  std::uint64_t before = kernels::pool_shared_jobs();
  train(small_steps, data, &data, Scaling{});
  EXPECT_EQ(kernels::pool_shared_jobs(), before);
  EXPECT_EQ(kernels::pool_started_workers(), 0);  // not even started: a thread's start and spin cost such a run

  spec.training.batch_size = 300;
  ASSERT_TRUE(step_shares_products(spec, data.rows));
  spec.training.epochs = 1;
  Network<float> one_batch(spec);
  before = kernels::pool_shared_jobs();
  train(one_batch, data, &data, Scaling{});
  EXPECT_GT(kernels::pool_shared_jobs(), before);
  EXPECT_EQ(kernels::pool_started_workers(), 1);
  kernels::set_thread_count(saved);
}

TEST(TrainerEndToEnd, TheSameSeedGivesBitIdenticalParametersAndAnotherSeedDoesNot) {
  const Dataset data = rings(200, 3);
  NetworkSpec spec = rings_network();
  spec.training.epochs = 3;
  spec.layers[0].dropout = 0.2;
  Network<float> a(spec), b(spec);
  train(a, data, nullptr, Scaling{});
  train(b, data, nullptr, Scaling{});
  EXPECT_TRUE(std::ranges::equal(a.parameters(), b.parameters()));
  spec.seed = 5;
  Network<float> c(spec);
  train(c, data, nullptr, Scaling{});
  EXPECT_FALSE(std::ranges::equal(a.parameters(), c.parameters()));
}

TEST(TrainerEndToEnd, TheLastPartialBatchIsUsed) {
  // 10 rows in batches of 4: 3 steps an epoch, so adam's step count after 2 epochs shows it.
  const Dataset data = rings(10, 4);
  NetworkSpec spec = rings_network();
  spec.training.epochs = 2;
  spec.training.batch_size = 4;
  Network<float> network(spec);
  const auto result = train(network, data, nullptr, Scaling{});
  EXPECT_EQ(result.history[0].train.rows, 10u);
}

TEST(TrainerEarlyStopping, KeepsTheParametersOfTheBestValidationEpoch) {
  // A tiny training set overfits, so the validation loss rises again and training stops.
  const Dataset train_data = rings(16, 5);
  const Dataset validation = rings(400, 6);
  NetworkSpec spec = rings_network();
  spec.optimizer.learning_rate = 0.05;
  spec.training.epochs = 300;
  spec.training.batch_size = 4;
  spec.training.schedule.kind = ScheduleKind::constant;
  spec.training.early_stopping = 5;
  Network<float> network(spec);
  const TrainingResult result = train(network, train_data, &validation, Scaling{});
  EXPECT_TRUE(result.stopped_early);
  EXPECT_LT(result.history.size(), 300u);
  double best = INFINITY;
  int best_epoch = 0;
  for (const auto& m : result.history)
    if (m.validation.loss < best) {
      best = m.validation.loss;
      best_epoch = m.epoch;
    }
  EXPECT_EQ(result.best_epoch, best_epoch);
  EXPECT_EQ(static_cast<int>(result.history.size()), best_epoch + 5);
  EXPECT_NEAR(evaluate(network, validation, Scaling{}).loss, best, 1e-9);
}

// Divergence stops training with the epoch and batch, before the update that would spoil the parameters.
using testing::one_feature_regression;

std::string divergence(const Dataset& data, double weight, int epochs) {
  NetworkSpec spec = testing::one_weight_network(weight);
  spec.training.epochs = epochs;
  Network<float> network(spec);
  try {
    train(network, data, nullptr, Scaling{});
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::runtime);
    for (float p : network.parameters()) EXPECT_TRUE(std::isfinite(p)) << e.what();
    return e.what();
  }
  return "no error";
}

TEST(TrainerDivergence, AGradientThatOverflowsNamesTheLayer) {
  // x = 3e38, w = 1e-38: z = 3, the loss 4.5 is finite, but dL/dw = 3 * 3e38 overflows float.
  EXPECT_THAT(divergence(one_feature_regression(3e38f, 0.0f, 1), 1e-38, 1),
              ::testing::HasSubstr("training diverged at epoch 1, batch 1: the gradient of layer 1 is not finite"));
}

TEST(TrainerDivergence, ALossThatOverflowsNamesTheEpochAndBatch) {
  // x = 1e18: the first step is finite but throws w to about -1e37, and the next loss overflows.
  EXPECT_THAT(divergence(one_feature_regression(1e18f, 0.0f, 3), 1.0, 1),
              ::testing::HasSubstr("training diverged at epoch 1, batch 2: the loss is inf at layer 1: its outputs are not finite"));
}

// An update that overflows the weights though the loss (5e35) and the gradient (-1e18) are finite: x = 1,
// y = 1e18, w = 0 and a learning rate of 1e21 give w = 1e39, beyond float. Each CPU step (the one-row step
// at batch size 1, fused and not, and the general step) reports it at the step that did it, naming the layer.
std::string update_overflow(int batch_size, int rows, int hidden_units) {
  NetworkSpec spec = testing::one_weight_network(0.0);
  if (hidden_units > 0) {  // a wide identity layer first: past the one-row step's fused update (16384 values)
    spec.layers.insert(spec.layers.begin(), {.units = hidden_units, .activation = Activation::identity,
                                             .weights = std::vector<double>(hidden_units, 0.0),
                                             .bias = std::vector<double>(hidden_units, 0.0)});
    spec.layers[1].weights.assign(hidden_units, 0.0);
  }
  spec.optimizer.learning_rate = 1e21;
  spec.training.batch_size = batch_size;
  Network<float> network(spec);
  try {
    train(network, testing::one_feature_regression(1.0f, 1e18f, rows), nullptr, Scaling{});
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::runtime);
    return e.what();
  }
  return "no error";
}

TEST(TrainerDivergence, AnUpdateThatOverflowsTheWeightsNamesTheStepAndTheLayer) {
  const std::string message = "training diverged at epoch 1, batch 1: the update made the parameters of layer ";
  EXPECT_THAT(update_overflow(1, 3, 0), ::testing::HasSubstr(message + "1 not finite"));   // one-row, fused
  EXPECT_THAT(update_overflow(2, 4, 0), ::testing::HasSubstr(message + "1 not finite"));   // general step
  // With a first layer of zeros, only layer 2's bias has a gradient (-1e18): it goes to 1e39.
  EXPECT_THAT(update_overflow(1, 3, 9000), ::testing::HasSubstr(message + "2 not finite"));  // one-row, not fused
  EXPECT_THAT(update_overflow(2, 4, 9000), ::testing::HasSubstr(message + "2 not finite"));
}

// A network wide enough that its products are shared among threads: training with 1, 2 and 3 threads
// gives bit-identical parameters.
TEST(TrainerThreads, TheThreadCountNeverChangesTheParameters) {
  Dataset data;
  data.source = "wide";
  data.rows = 512;
  data.features = 64;
  data.task = TaskKind::classification;
  data.class_names = {"a", "b", "c"};
  Random random(3);
  for (std::size_t r = 0; r < data.rows; ++r) {
    for (int f = 0; f < data.features; ++f) data.features_f32.push_back(static_cast<float>(random.uniform()));
    data.labels.push_back(static_cast<std::int32_t>(r % 3));
  }
  NetworkSpec spec;
  spec.input = 64;
  spec.loss = LossKind::softmax_ce;
  spec.layers.push_back({.units = 512, .activation = Activation::relu, .dropout = 0.1});
  spec.layers.push_back({.units = 3, .activation = Activation::softmax});
  spec.optimizer.type = OptimizerKind::adam;
  spec.optimizer.learning_rate = 0.001;
  spec.training.epochs = 2;
  spec.training.batch_size = 256;
  const int saved = kernels::thread_count();
  std::vector<std::vector<float>> parameters;
  for (int threads : {1, 2, 3}) {
    kernels::set_thread_count(threads);
    Network<float> network(spec);
    train(network, data, nullptr, Scaling{});
    parameters.emplace_back(network.parameters().begin(), network.parameters().end());
  }
  kernels::set_thread_count(saved);
  EXPECT_EQ(parameters[0], parameters[1]);
  EXPECT_EQ(parameters[0], parameters[2]);
}

// Data of `rows` x 256 features, about half of them zero, each column's nonzero values uniform in [low, high).
Dataset sparse_wide(std::size_t rows, double low, double high, std::uint64_t seed) {
  Dataset data;
  data.source = "sparse";
  data.rows = rows;
  data.features = 256;
  data.task = TaskKind::classification;
  data.class_names = {"a", "b", "c"};
  Random random(seed);
  for (std::size_t r = 0; r < rows; ++r) {
    for (int f = 0; f < data.features; ++f)
      data.features_f32.push_back(random.uniform() < 0.5 ? 0.0f : static_cast<float>(random.uniform(low, high)));
    data.labels.push_back(static_cast<std::int32_t>(r % 3));
  }
  return data;
}

NetworkSpec wide_network() {
  NetworkSpec spec;
  spec.input = 256;
  spec.loss = LossKind::softmax_ce;
  spec.layers.push_back({.units = 64, .activation = Activation::relu});
  spec.layers.push_back({.units = 3, .activation = Activation::softmax});
  spec.training.epochs = 1;
  spec.training.batch_size = 128;
  return spec;
}

// folded_scaling (train/step.hpp): where standardized inputs are gathered as x / s with m / s folded into the
// first layer, and where not.
TEST(FoldedStandardization, FoldsWhereTheInputHasZerosAndTheShapeMaySkip) {
  const Dataset data = sparse_wide(300, 0.0, 1.0, 4);
  const Network<float> network(wide_network());
  const Scaling scaling = fit_scaling(ScalingKind::standard, data);
  const auto folded = folded_scaling(network, data, scaling, 128);
  ASSERT_TRUE(folded.has_value());
  ASSERT_EQ(folded->shift.size(), 256u);
  for (std::size_t j = 0; j < 256; ++j) {
    EXPECT_EQ(folded->shift[j], static_cast<float>(scaling.offset[j] / scaling.scale[j])) << j;
    EXPECT_EQ(folded->gather.offset[j], 0.0) << j;
    EXPECT_EQ(folded->gather.scale[j], scaling.scale[j]) << j;
  }
  // Not: no scaling; a batch too small for the products to skip; inputs with no zeros; an offset over 4
  // deviations (a column of values near 100); a first entry that is not dense.
  EXPECT_FALSE(folded_scaling(network, data, Scaling{}, 128).has_value());
  EXPECT_FALSE(folded_scaling(network, data, scaling, 1).has_value());
  Dataset dense = data;
  for (float& v : dense.features_f32) v += 1.0f;
  EXPECT_FALSE(folded_scaling(network, dense, fit_scaling(ScalingKind::standard, dense), 128).has_value());
  Dataset far = data;
  for (std::size_t r = 0; r < far.rows; ++r) far.features_f32[r * 256] = 100.0f + static_cast<float>(r % 7);
  EXPECT_FALSE(folded_scaling(network, far, fit_scaling(ScalingKind::standard, far), 128).has_value());
  NetworkSpec normed = wide_network();
  normed.layers.insert(normed.layers.begin(), LayerSpec{.kind = LayerKind::batch_norm, .activation = Activation::identity});
  normed.layers[0].units = 256;
  EXPECT_FALSE(folded_scaling(Network<float>(normed), data, scaling, 128).has_value());
}

// Training that folds (standardized sparse inputs) computes what training on the same rows standardized
// beforehand computes: the parameters after an epoch agree to 1e-4 of the largest (float's rounding, which
// differs between the two ways), and they are not the same bits, so the folded way did run.
TEST(FoldedStandardization, TrainingWithTheFoldMatchesTrainingOnStandardizedRows) {
  const Dataset data = sparse_wide(512, 0.0, 1.0, 6);
  const Scaling scaling = fit_scaling(ScalingKind::standard, data);
  Dataset standardized = data;
  for (std::size_t i = 0; i < standardized.features_f32.size(); ++i)
    standardized.features_f32[i] = math::scaled_feature(data.features_f32[i], scaling.offset[i % 256], scaling.scale[i % 256]);
  Network<float> folded(wide_network()), plain(wide_network());
  train(folded, data, nullptr, scaling);
  train(plain, standardized, nullptr, Scaling{});
  float largest = 0;
  for (float v : plain.parameters()) largest = std::max(largest, std::abs(v));
  bool same_bits = true;
  for (std::size_t i = 0; i < plain.parameters().size(); ++i) {
    EXPECT_NEAR(folded.parameters()[i], plain.parameters()[i], 1e-4 * largest) << i;
    same_bits = same_bits && folded.parameters()[i] == plain.parameters()[i];
  }
  EXPECT_FALSE(same_bits);
}

TEST(TrainerErrors, EarlyStoppingWithoutValidationIsRefused) {
  NetworkSpec spec = rings_network();
  spec.training.early_stopping = 3;
  Network<float> network(spec);
  EXPECT_THROW(train(network, rings(10, 1), nullptr, Scaling{}), Error);
}

}  // namespace
}  // namespace backprop
