// The kinds of activation, loss and optimizer: one enum per concept, for the network's description
// (spec.hpp), the CPU path and the device backends alike (kernels/device.hpp). Plain enums and nothing
// else, so that nvcc (C++17) compiles this header too.
#pragma once

namespace backprop {

enum class Activation { identity, sigmoid, tanh, relu, leaky_relu, softmax };
enum class LossKind { mse, bce, softmax_ce };

// The update rules are torch.optim's (optimizer.hpp states each).
enum class OptimizerKind { sgd, momentum, nesterov, adam, adamw, rmsprop };

}  // namespace backprop
