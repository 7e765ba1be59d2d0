// Gradients of every activation x loss pair against central finite differences (double), loss values
// against the formulas of docs/contracts.md ("Losses") written out here, and the float path against the double path.
#include <algorithm>
#include <cmath>
#include <fstream>
#include <limits>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "backprop/nn/gradient_check.hpp"
#include "backprop/kernels/kernels.hpp"
#include "backprop/nn/dense.hpp"
#include "backprop/nn/initializer.hpp"
#include "backprop/nn/loss.hpp"
#include "backprop/nn/network.hpp"
#include "backprop/nn/trace.hpp"
#include "helpers.hpp"
#include "kernels/math.hpp"

namespace backprop {
namespace {

// A random 5-4-3-OUT network: two hidden layers of the given activation, the output activation last.
NetworkSpec small_network(Activation hidden, Activation output, LossKind loss, int outputs, std::uint64_t seed) {
  NetworkSpec spec;
  spec.input = 5;
  spec.seed = seed;
  spec.loss = loss;
  spec.initializer.kind = InitializerKind::xavier_normal;
  spec.layers.push_back({.units = 4, .activation = hidden, .slope = 0.1});
  spec.layers.push_back({.units = 3, .activation = hidden, .slope = 0.1});
  spec.layers.push_back({.units = outputs, .activation = output, .slope = 0.1});
  // Non-zero biases, so that the bias gradients are not trivially checked at a symmetric point.
  Random random(seed + 100);
  for (auto& layer : spec.layers) {
    layer.bias.resize(layer.units);
    for (double& b : layer.bias) b = random.uniform(-0.5, 0.5);
  }
  return spec;
}

struct Pair {
  Activation hidden;
  Activation output;
  LossKind loss;
};

std::string pair_name(const ::testing::TestParamInfo<Pair>& info) {
  return std::string(to_string(info.param.hidden)) + "_" + std::string(to_string(info.param.output)) + "_" +
         std::string(to_string(info.param.loss));
}

// Every activation (base/kinds.hpp's list) in the hidden layers (softmax: the output's only) and at the
// output under mse, and each with bce and softmax_ce.
std::vector<Pair> every_pair() {
  std::vector<Pair> pairs;
  for (const ActivationName& hidden : kActivationNames) {
    if (hidden.kind == Activation::softmax) continue;
    for (const ActivationName& output : kActivationNames) pairs.push_back({hidden.kind, output.kind, LossKind::mse});
    pairs.push_back({hidden.kind, Activation::sigmoid, LossKind::bce});
    pairs.push_back({hidden.kind, Activation::softmax, LossKind::softmax_ce});
  }
  return pairs;
}

class GradientCheck : public ::testing::TestWithParam<Pair> {};

// Tolerance: kDefaultGradientTolerance = 1e-5 relative (see gradient_check.hpp for why); observed
// errors are 1e-10 .. 1e-7.
TEST_P(GradientCheck, AnalyticGradientsMatchCentralDifferences) {
  const Pair pair = GetParam();
  for (std::uint64_t seed : {1u, 2u, 3u}) {
    const NetworkSpec spec = small_network(pair.hidden, pair.output, pair.loss, 3, seed);
    std::vector<double> x, y;
    random_batch(x, y, spec, 6, seed);
    const GradientCheckResult result = gradient_check(spec, x, y);
    EXPECT_EQ(result.parameters_checked, 5u * 4 + 4 + 4 * 3 + 3 + 3 * 3 + 3);
    for (std::size_t l = 0; l < result.layers.size(); ++l)
      EXPECT_LE(result.layers[l].max_error(), kDefaultGradientTolerance) << "seed " << seed << ", layer " << l + 1;
  }
}

INSTANTIATE_TEST_SUITE_P(EveryActivationAndLoss, GradientCheck, ::testing::ValuesIn(every_pair()), pair_name);

// The check itself must be able to fail: the same gradients compared with a perturbed loss differ.
TEST(GradientCheckSelf, RelativeErrorSeesADifference) {
  EXPECT_NEAR(gradient_relative_error(1.0, 1.1), 0.1 / 2.1, 1e-15);
  EXPECT_EQ(gradient_relative_error(0.0, 0.0), 0.0);
  EXPECT_NEAR(gradient_relative_error(1e-6, 2e-6), 1e-6 / 1e-4, 1e-18);  // small gradients: against the floor
  const auto result = testing::run_backprop("gradcheck \"" + testing::source_path("examples/seed.json") +
                                            "\" --tolerance 1e-300");
  EXPECT_EQ(result.exit_code, 1) << result.out;
  EXPECT_NE(result.out.find("FAIL"), std::string::npos);
}

TEST(GradientCheckCommand, SeedNetworkPassesUnderEveryLossItFits) {
  for (const char* loss : {"mse", "bce"}) {
    const auto result = testing::run_backprop("gradcheck \"" + testing::source_path("examples/seed.json") +
                                              "\" --batch 5 --loss " + std::string(loss));
    EXPECT_EQ(result.exit_code, 0) << result.out;
    EXPECT_NE(result.out.find("pass"), std::string::npos);
  }
}

// Loss values against the formulas written out independently (docs/contracts.md, "Losses").
TEST(LossValue, MatchesTheFormulasOfTheDesign) {
  for (LossKind loss : {LossKind::mse, LossKind::bce, LossKind::softmax_ce}) {
    const Activation output = loss == LossKind::softmax_ce ? Activation::softmax : Activation::sigmoid;
    const NetworkSpec spec = small_network(Activation::tanh, output, loss, 3, 7);
    std::vector<double> x, y;
    const int batch = 4;
    random_batch(x, y, spec, batch, 7);
    Network<double> network(spec);
    Workspace<double> workspace(network, batch);
    network.forward(workspace, x.data(), batch);
    const double* a = network.output(workspace);
    double expected = 0;
    for (int i = 0; i < batch * 3; ++i) {
      if (loss == LossKind::mse) expected += 0.5 * (a[i] - y[i]) * (a[i] - y[i]);
      if (loss == LossKind::bce) expected += -(y[i] * std::log(a[i]) + (1 - y[i]) * std::log(1 - a[i]));
      if (loss == LossKind::softmax_ce) expected += -y[i] * std::log(a[i]);
    }
    expected /= batch;
    EXPECT_NEAR(network.loss_value(workspace, y.data(), batch), expected, 1e-14) << to_string(loss);
  }
}

// On the CPU the batch's rows go to the pool in pieces (64 rows, at most 64 pieces): the loss is the pieces'
// running sums added in order, the same bits for any thread count, and within rows x epsilon (relative, in
// double: the bound on a running sum's rounding, the terms being positive) of one running sum over all the rows;
// dL/dz is each row's formula, to the bit. Batches of one piece, of 200 rows (a short last
// piece), and of 5000 (pieces of 79 rows).
TEST(LossValue, PiecesOnThePoolGiveTheSameBitsForAnyThreadCount) {
  const int cols = 10;
  const DenseLayer layer{cols, cols, Activation::softmax, 0.01, 0, 0};
  const int saved = kernels::thread_count();
  for (const int rows : {50, 200, 5000}) {
    const std::size_t n = static_cast<std::size_t>(rows) * cols;
    Random random(4);
    std::vector<double> z(n), a(n), y(n, 0.0);
    for (double& v : z) v = random.uniform(-3.0, 3.0);
    activation_forward(a.data(), z.data(), Activation::softmax, 0.0, rows, cols);
    for (int r = 0; r < rows; ++r) y[static_cast<std::size_t>(r) * cols + r % cols] = 1.0;
    double running = 0;
    std::vector<double> row_dz(n);
    for (int r = 0; r < rows; ++r) {
      const std::size_t o = static_cast<std::size_t>(r) * cols;
      running = math::add_loss_row(running, LossKind::softmax_ce, 0.1, z.data() + o, a.data() + o, y.data() + o, cols);
      math::loss_gradient_row(row_dz.data() + o, LossKind::softmax_ce, 0.1, z.data() + o, a.data() + o, y.data() + o,
                              cols, Activation::softmax, 0.01, 1.0 / rows);
    }
    const double expected = math::loss_total(LossKind::softmax_ce, running, rows);
    std::vector<double> losses;
    for (int threads : {1, 2, 3}) {
      kernels::set_thread_count(threads);
      losses.push_back(loss_value(LossKind::softmax_ce, 0.1, z.data(), a.data(), y.data(), rows, cols));
      std::vector<double> dz(n);
      loss_backward(dz.data(), LossKind::softmax_ce, 0.1, z.data(), a.data(), y.data(), layer, rows);
      EXPECT_EQ(dz, row_dz) << rows << " rows, " << threads << " threads";
    }
    EXPECT_EQ(losses[0], losses[1]) << rows;
    EXPECT_EQ(losses[0], losses[2]) << rows;
    EXPECT_NEAR(losses[0], expected, rows * std::numeric_limits<double>::epsilon() * expected) << rows;
  }
  kernels::set_thread_count(saved);
}

// softmax_ce with label smoothing against torch.nn.functional.cross_entropy(z, target, label_smoothing=eps) in
// float64 (tests/reference/label_smoothing_reference.py wrote the figures): the loss of a batch of 4 rows of 5
// classes and its dL/dz, for eps 0, 0.1, 0.25 and 0.9, with one-hot targets (torch's class-index path) and with
// probability rows (its soft-target path). kernels/math.hpp's formulas in double, as the trace and the gradient
// check run them. Tolerance: 1e-12 relative for the loss, and for each dL/dz relative to the batch's largest
// |dL/dz| (an element that is a near-cancellation of a sum(q) and q has no digits of its own to compare).
TEST(LossValue, LabelSmoothingIsTorchsCrossEntropy) {
  std::ifstream file(testing::source_path("tests/data/label_smoothing_reference.json"));
  ASSERT_TRUE(file) << "cannot open tests/data/label_smoothing_reference.json";
  const nlohmann::json reference = nlohmann::json::parse(file);
  const auto z_rows = reference["z"].get<std::vector<std::vector<double>>>();
  const int batch = static_cast<int>(z_rows.size()), classes = static_cast<int>(z_rows[0].size());
  std::vector<double> z, a(static_cast<std::size_t>(batch) * classes);  // (B, K)
  for (const auto& row : z_rows) z.insert(z.end(), row.begin(), row.end());
  for (int r = 0; r < batch; ++r) math::softmax_row(a.data() + r * classes, z.data() + r * classes, classes);
  ASSERT_EQ(reference["cases"].size(), 8u);
  for (const auto& c : reference["cases"]) {
    const double eps = c["label_smoothing"].get<double>();
    SCOPED_TRACE("label smoothing " + std::to_string(eps) + ", " + c["targets"].get<std::string>());
    std::vector<double> y, expected_grad;  // (B, K) each
    for (const auto& row : c["y"]) y.insert(y.end(), row.begin(), row.end());
    for (const auto& row : c["grad"]) expected_grad.insert(expected_grad.end(), row.begin(), row.end());
    double sum = 0;
    for (int r = 0; r < batch; ++r)
      sum = math::add_loss_row(sum, LossKind::softmax_ce, eps, z.data() + r * classes, a.data() + r * classes,
                               y.data() + r * classes, classes);
    const double expected_loss = c["loss"].get<double>();
    EXPECT_NEAR(math::loss_total(LossKind::softmax_ce, sum, batch), expected_loss, 1e-12 * expected_loss);
    std::vector<double> grad(y.size());
    for (int r = 0; r < batch; ++r)
      math::loss_gradient_row(grad.data() + r * classes, LossKind::softmax_ce, eps, z.data() + r * classes,
                              a.data() + r * classes, y.data() + r * classes, classes, Activation::softmax, 0.0,
                              1.0 / batch);
    double largest = 0;
    for (double g : expected_grad) largest = std::max(largest, std::abs(g));
    for (std::size_t i = 0; i < grad.size(); ++i) EXPECT_NEAR(grad[i], expected_grad[i], 1e-12 * largest) << i;
  }
}

// The gradient of the smoothed loss against central finite differences of that loss (the gradient check
// takes the network's loss_value, the training objective), for one-hot and soft targets; tolerance as
// GradientCheck's. The output biases make the outputs far from uniform, where smoothing matters (at uniform
// outputs it changes neither the loss nor dL/dz): the loss differs from the plain one, which
// loss_value(..., 0) still gives.
TEST(LabelSmoothing, GradientsMatchCentralDifferencesOfTheSmoothedLoss) {
  for (const double eps : {0.05, 0.3, 0.8}) {
    for (const bool soft : {false, true}) {
      SCOPED_TRACE("label smoothing " + std::to_string(eps) + (soft ? ", soft targets" : ", one-hot targets"));
      NetworkSpec spec = small_network(Activation::tanh, Activation::softmax, LossKind::softmax_ce, 4, 5);
      spec.layers.back().bias = {2.5, -1.5, 0.5, -2.0};
      spec.training.label_smoothing = eps;
      std::vector<double> x, y;
      const int batch = 6;
      random_batch(x, y, spec, batch, 5);
      if (soft)
        for (double& v : y) v = 0.1 + 0.2 * v;  // rows of 0.3 and 0.1s: sum 0.6, not one-hot
      const GradientCheckResult result = gradient_check(spec, x, y);
      EXPECT_LE(result.max_error(), kDefaultGradientTolerance);
      Network<double> network(spec);
      Workspace<double> workspace(network, batch);
      network.forward(workspace, x.data(), batch);
      EXPECT_GT(std::abs(network.loss_value(workspace, y.data(), batch) -
                         network.loss_value(workspace, y.data(), batch, 0.0)),
                1e-3);
      spec.training.label_smoothing = 0;
      EXPECT_EQ(network.loss_value(workspace, y.data(), batch, 0.0),
                Network<double>(spec).loss_value(workspace, y.data(), batch));
    }
  }
}

// bce and softmax_ce are computed from z: saturated outputs give finite losses and gradients.
TEST(LossValue, FusedLossesStayFiniteWhenTheOutputSaturates) {
  for (LossKind loss : {LossKind::bce, LossKind::softmax_ce}) {
    NetworkSpec spec;
    spec.input = 1;
    spec.loss = loss;
    spec.layers.push_back({.units = 2,
                           .activation = loss == LossKind::bce ? Activation::sigmoid : Activation::softmax,
                           .weights = {1000.0, -1000.0},
                           .bias = {0.0, 0.0}});
    Network<float> network(spec);
    Workspace<float> workspace(network, 1);
    const float x[] = {1.0f};
    const float y[] = {0.0f, 1.0f};  // the opposite of what the network says, as far as it can be
    network.forward(workspace, x, 1);
    const float value = network.loss_value(workspace, y, 1);
    EXPECT_TRUE(std::isfinite(value));
    EXPECT_NEAR(value, 2000.0f, 1e-2f);  // bce: 1000 + 1000; softmax_ce: 1000 - (-1000)
    network.backward(workspace, x, y, 1);
    for (float g : network.gradients()) EXPECT_TRUE(std::isfinite(g));
  }
}

// The float path (training) and the double path (trace) are one template: they agree to float precision.
TEST(FloatAndDouble, ForwardAndGradientsAgree) {
  for (const Pair& pair : every_pair()) {
    const NetworkSpec spec = small_network(pair.hidden, pair.output, pair.loss, 3, 11);
    std::vector<double> x, y;
    const int batch = 8;
    random_batch(x, y, spec, batch, 11);
    const std::vector<float> xf(x.begin(), x.end()), yf(y.begin(), y.end());
    Network<double> d(spec);
    Network<float> f(spec);
    Workspace<double> wd(d, batch);
    Workspace<float> wf(f, batch);
    d.forward(wd, x.data(), batch);
    f.forward(wf, xf.data(), batch);
    d.backward(wd, x.data(), y.data(), batch);
    f.backward(wf, xf.data(), yf.data(), batch);
    const std::string name = pair_name({pair, 0});
    for (int i = 0; i < batch * 3; ++i) EXPECT_NEAR(f.output(wf)[i], d.output(wd)[i], 1e-6) << name;
    EXPECT_NEAR(f.loss_value(wf, yf.data(), batch), d.loss_value(wd, y.data(), batch), 1e-6) << name;
    for (std::size_t i = 0; i < d.gradients().size(); ++i)
      EXPECT_NEAR(f.gradients()[i], d.gradients()[i], 1e-5 * std::max(1.0, std::abs(d.gradients()[i]))) << name;
  }
}

// silu (torch.nn.SiLU) against PyTorch autograd in float64 (tests/reference/silu_reference.py wrote the
// figures): a 3-4-3-2 network with two silu hidden layers, a batch of 4 rows whose z reach -23 and +23 (both
// tails of the sigmoid), mse. The trace runs the network's forward and backward in double (math.hpp's silu
// and silu_backward); each of z, a, delta, grad W, grad b and the loss must agree within 1e-12 relative to
// the largest magnitude of its kind in the layer (a few roundings of sums over at most 4 terms).
// The first dense layer given u = x / s with the offset m / s folded in (fold_input_shift, unfold_input_shift;
// the general CPU step's way with standardized inputs that have zeros) against the same network given the
// standardized (x - m) / s. The identity is exact in real numbers: in double the outputs, the loss and every
// gradient agree to 1e-12 of the largest magnitude; in float the folded path against the double standardized one
// to 2e-5 (float's 6e-8 times the few bits the fold's sums can lose with |m / s| <= 2, and the sums' length).
TEST(FoldedStandardization, TheFoldedFirstLayerComputesTheStandardizedOne) {
  NetworkSpec spec;
  spec.input = 64;
  spec.seed = 5;
  spec.loss = LossKind::softmax_ce;
  spec.layers.push_back({.units = 32, .activation = Activation::relu});
  spec.layers.push_back({.units = 10, .activation = Activation::softmax});
  const int batch = 16;
  Random random(9);
  std::vector<double> x(static_cast<std::size_t>(batch) * spec.input), mean(spec.input), deviation(spec.input);
  for (int j = 0; j < spec.input; ++j) {
    mean[j] = random.uniform(-1.0, 1.0);
    deviation[j] = random.uniform(0.5, 2.0);
  }
  for (double& v : x) v = random.uniform(0.0, 1.0) < 0.5 ? 0.0 : random.uniform(-2.0, 3.0);  // half zeros
  std::vector<double> y(static_cast<std::size_t>(batch) * 10, 0.0);
  for (int r = 0; r < batch; ++r) y[static_cast<std::size_t>(r) * 10 + r % 10] = 1.0;
  std::vector<double> standardized(x.size()), u(x.size()), shift(spec.input);
  for (std::size_t i = 0; i < x.size(); ++i) {
    const std::size_t j = i % spec.input;
    standardized[i] = (x[i] - mean[j]) / deviation[j];
    u[i] = x[i] / deviation[j];
  }
  for (int j = 0; j < spec.input; ++j) shift[j] = mean[j] / deviation[j];

  Network<double> reference(spec);
  Workspace<double> reference_workspace(reference, batch);
  reference.forward(reference_workspace, standardized.data(), batch);
  const double reference_loss = reference.loss_value(reference_workspace, y.data(), batch);
  ASSERT_TRUE(reference.backward(reference_workspace, standardized.data(), y.data(), batch));
  const std::vector<double> reference_output(reference.output(reference_workspace),
                                             reference.output(reference_workspace) + batch * 10);
  const std::vector<double> reference_gradients(reference.gradients().begin(), reference.gradients().end());
  const auto largest = [](const std::vector<double>& v) {
    double m = 0;
    for (double e : v) m = std::max(m, std::abs(e));
    return m;
  };

  Network<double> folded(spec);
  Workspace<double> workspace(folded, batch);
  workspace.set_input_shift(shift);
  folded.forward(workspace, u.data(), batch);
  EXPECT_NEAR(folded.loss_value(workspace, y.data(), batch), reference_loss, 1e-12 * std::abs(reference_loss));
  ASSERT_TRUE(folded.backward(workspace, u.data(), y.data(), batch));
  for (int i = 0; i < batch * 10; ++i)
    EXPECT_NEAR(folded.output(workspace)[i], reference_output[i], 1e-12) << i;
  const double gradient_scale = largest(reference_gradients);
  ASSERT_GT(gradient_scale, 0.0);
  for (std::size_t i = 0; i < reference_gradients.size(); ++i)
    EXPECT_NEAR(folded.gradients()[i], reference_gradients[i], 1e-12 * gradient_scale) << i;

  Network<float> single(spec);
  Workspace<float> single_workspace(single, batch);
  const std::vector<float> shift_f(shift.begin(), shift.end()), u_f(u.begin(), u.end()), y_f(y.begin(), y.end());
  single_workspace.set_input_shift(shift_f);
  single.forward(single_workspace, u_f.data(), batch);
  ASSERT_TRUE(single.backward(single_workspace, u_f.data(), y_f.data(), batch));
  for (int i = 0; i < batch * 10; ++i)
    EXPECT_NEAR(single.output(single_workspace)[i], reference_output[i], 2e-5) << i;
  for (std::size_t i = 0; i < reference_gradients.size(); ++i)
    EXPECT_NEAR(single.gradients()[i], reference_gradients[i], 2e-5 * gradient_scale) << i;

  // Off again: the same workspace computes the plain layer (no shift left behind).
  workspace.set_input_shift({});
  folded.forward(workspace, standardized.data(), batch);
  for (int i = 0; i < batch * 10; ++i) EXPECT_EQ(folded.output(workspace)[i], reference_output[i]) << i;
}

TEST(SiluReference, TraceIsTorchsSiLU) {
  std::ifstream file(testing::source_path("tests/data/silu_reference.json"));
  ASSERT_TRUE(file) << "cannot open tests/data/silu_reference.json";
  const nlohmann::json reference = nlohmann::json::parse(file);
  auto flat = [](const nlohmann::json& rows) {
    std::vector<double> out;
    for (const auto& row : rows) {
      if (row.is_array()) {
        for (double v : row) out.push_back(v);
      } else {
        out.push_back(row.get<double>());
      }
    }
    return out;
  };
  NetworkSpec spec;
  spec.input = reference["input"].get<int>();
  spec.loss = LossKind::mse;
  for (const auto& layer : reference["layers"]) {
    LayerSpec l{.units = static_cast<int>(layer["bias"].size()),
                .activation = *parse_activation(layer["activation"].get<std::string>())};
    l.weights = flat(layer["weights"]);
    l.bias = flat(layer["bias"]);
    spec.layers.push_back(l);
  }
  ASSERT_EQ(spec.layers[0].activation, Activation::silu);
  TraceOptions options;
  options.input = flat(reference["x"]);
  options.target = flat(reference["y"]);
  const Trace traced = trace(spec, options);
  ASSERT_EQ(traced.steps.size(), 1u);
  const TraceStep& step = traced.steps[0];
  const double loss = reference["loss"].get<double>();
  EXPECT_NEAR(step.loss, loss, 1e-12 * loss);
  for (std::size_t l = 0; l < spec.layers.size(); ++l) {
    const nlohmann::json& expected = reference["layers"][l];
    const TraceLayer& layer = step.layers[l];
    const std::pair<const char*, const std::vector<double>*> figures[] = {
        {"z", &layer.z}, {"a", &layer.a}, {"delta", &layer.delta}, {"grad_weights", &layer.grad_weights},
        {"grad_bias", &layer.grad_bias}};
    for (const auto& [key, actual] : figures) {
      const std::vector<double> want = flat(expected[key]);
      ASSERT_EQ(actual->size(), want.size()) << "layer " << l + 1 << " " << key;
      double largest = 0;
      for (double v : want) largest = std::max(largest, std::abs(v));
      for (std::size_t i = 0; i < want.size(); ++i)
        EXPECT_NEAR((*actual)[i], want[i], 1e-12 * largest) << "layer " << l + 1 << " " << key << "[" << i << "]";
    }
  }
}

// silu's derivative at the points where its parts meet: 0 (s = 1/2, silu'(0) = 1/2) and far in each tail
// (silu'(z) -> 0 below, -> 1 above), without a NaN where e^-z overflows; float as double.
TEST(SiluReference, DerivativeAtZeroAndInTheTails) {
  EXPECT_EQ(math::silu_backward(1.0, 0.0), 0.5);
  EXPECT_EQ(math::silu(0.0), 0.0);
  for (float z : {-200.0f, -100.0f, 100.0f, 200.0f}) {
    const float a = math::activate(Activation::silu, z, 0.0f);
    const float d = math::derivative(Activation::silu, 1.0f, z, a, 0.0f);
    EXPECT_TRUE(std::isfinite(a) && std::isfinite(d)) << z;
    EXPECT_EQ(d, z > 0 ? 1.0f : 0.0f) << z;
    EXPECT_EQ(a, z > 0 ? z : 0.0f) << z;
  }
}

}  // namespace
}  // namespace backprop
