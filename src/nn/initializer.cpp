#include "backprop/nn/initializer.hpp"

#include <bit>
#include <cmath>
#include <locale>
#include <numbers>
#include <sstream>

#include "backprop/base/error.hpp"

namespace backprop {

void initialize_weights(std::vector<double>& weights, const InitializerSpec& initializer, Activation activation,
                        int in, int out, Random& random) {
  InitializerKind kind = initializer.kind;
  if (kind == InitializerKind::automatic) {
    kind = (activation == Activation::relu || activation == Activation::leaky_relu) ? InitializerKind::he_normal
                                                                                    : InitializerKind::xavier_uniform;
  }
  weights.resize(static_cast<std::size_t>(in) * out);
  for (double& w : weights) {
    switch (kind) {
      case InitializerKind::uniform: w = random.uniform(-initializer.scale, initializer.scale); break;
      case InitializerKind::xavier_uniform: {
        const double limit = std::sqrt(6.0 / (in + out));
        w = random.uniform(-limit, limit);
        break;
      }
      case InitializerKind::xavier_normal: w = std::sqrt(2.0 / (in + out)) * random.normal(); break;
      case InitializerKind::he_normal:
      case InitializerKind::automatic: w = std::sqrt(2.0 / in) * random.normal(); break;
    }
  }
}

}  // namespace backprop
