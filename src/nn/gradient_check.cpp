#include "backprop/nn/gradient_check.hpp"

#include <algorithm>
#include <cmath>
#include <string>

#include "backprop/base/error.hpp"
#include "backprop/nn/batch_rows.hpp"
#include "backprop/nn/embedding.hpp"
#include "backprop/nn/initializer.hpp"
#include "backprop/nn/network.hpp"

namespace backprop {

double GradientCheckResult::max_error() const {
  double worst = 0.0;
  for (const auto& layer : layers) worst = std::max(worst, layer.max_error());
  return worst;
}

double gradient_relative_error(double analytic, double numeric) {
  return std::abs(analytic - numeric) / std::max(std::abs(analytic) + std::abs(numeric), 1e-4);
}

void check_row_weights(const std::vector<double>& weights, int rows) {
  if (weights.empty()) return;
  if (weights.size() != static_cast<std::size_t>(rows))
    throw OptionError("sample_weight", "expected one weight per row (" + std::to_string(rows) + "), got " +
                                           std::to_string(weights.size()));
  double total = 0;
  for (const double w : weights) {
    if (!(std::isfinite(w) && w >= 0))
      throw OptionError("sample_weight", "expected finite weights >= 0, got " + std::to_string(w));
    total += w;
  }
  if (!(total > 0)) throw OptionError("sample_weight", "expected some row of weight above 0, got every weight 0");
}

GradientCheckResult gradient_check(const NetworkSpec& spec, const std::vector<double>& x,
                                   const std::vector<double>& y, const std::vector<double>& weights) {
  Network<double> network(spec);
  const std::size_t in = static_cast<std::size_t>(network.input_size());
  const std::size_t out = static_cast<std::size_t>(network.output_size());
  if (x.empty() || x.size() % in != 0)
    throw OptionError("input", "expected " + std::to_string(in) + " numbers per row, got " + std::to_string(x.size()));
  const int batch = static_cast<int>(x.size() / in);
  if (const FewestBatchRows fewest = fewest_batch_rows(spec); batch < fewest.rows)
    throw OptionError("input", fewest.expected() + ", got " + std::to_string(batch));
  if (y.size() != out * batch)
    throw OptionError("target", "expected " + std::to_string(out) + " numbers per row for " + std::to_string(batch) +
                                  " row(s), got " + std::to_string(y.size()));
  check_row_weights(weights, batch);
  const double* w = weights.empty() ? nullptr : weights.data();

  Workspace<double> workspace(network, batch);
  // Training's function (statistics that span the batch are the batch's), without dropout masks.
  network.forward(workspace, x.data(), batch, nullptr, true);
  network.backward(workspace, x.data(), y.data(), batch, w);
  const std::vector<double> analytic(network.gradients().begin(), network.gradients().end());

  auto loss_at = [&]() {
    network.forward(workspace, x.data(), batch, nullptr, true);
    return network.loss_value(workspace, y.data(), batch, w);
  };
  auto check = [&](std::size_t index) {
    double& p = network.parameters()[index];
    const double saved = p;
    p = saved + kGradientCheckStep;
    const double plus = loss_at();
    p = saved - kGradientCheckStep;
    const double minus = loss_at();
    p = saved;
    return gradient_relative_error(analytic[index], (plus - minus) / (2 * kGradientCheckStep));
  };

  GradientCheckResult result;
  for (std::size_t l = 0; l < network.layer_count(); ++l) {
    const DenseLayer& layer = network.layer(l);
    GradientCheckLayer errors;
    const std::size_t weight_count = layer.weight_count();
    for (std::size_t i = 0; i < weight_count; ++i)
      errors.max_error_weights = std::max(errors.max_error_weights, check(layer.weights_offset + i));
    for (std::size_t i = 0; i < layer.bias_count(); ++i)
      errors.max_error_bias = std::max(errors.max_error_bias, check(layer.bias_offset + i));
    result.parameters_checked += weight_count + layer.bias_count();
    result.layers.push_back(errors);
  }
  return result;
}

void random_batch(std::vector<double>& x, std::vector<double>& y, const NetworkSpec& spec, int batch,
                  std::uint64_t seed) {
  Random random(seed);
  const int out = spec.output();
  x.resize(static_cast<std::size_t>(batch) * spec.input);
  for (double& v : x) v = random.uniform(-1.0, 1.0);
  const std::vector<int> codes = embedding_code_columns(spec);  // an embedding's input: a category's code
  for (std::size_t e = 0; e < codes.size(); ++e)
    for (int r = 0; r < batch; ++r)
      x[static_cast<std::size_t>(r) * spec.input + codes[e]] =
          static_cast<double>(random.below(static_cast<std::uint64_t>(spec.layers[e].embedding.categories)));
  y.assign(static_cast<std::size_t>(batch) * out, 0.0);
  for (int r = 0; r < batch; ++r) {
    double* row = y.data() + static_cast<std::size_t>(r) * out;
    switch (spec.loss) {
      case LossKind::mse:
        for (int o = 0; o < out; ++o) row[o] = random.uniform();
        break;
      case LossKind::bce:
        for (int o = 0; o < out; ++o) row[o] = random.uniform() < 0.5 ? 0.0 : 1.0;
        break;
      case LossKind::softmax_ce: row[random.below(static_cast<std::uint64_t>(out))] = 1.0; break;
    }
  }
}

}  // namespace backprop
