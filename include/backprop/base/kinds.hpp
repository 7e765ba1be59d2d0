// The kinds of activation, loss, optimizer and feature scaling: one enum per concept, for the network's
// description (spec.hpp), the CPU path, the data's scaling (data/scaling.hpp) and the device backends alike
// (kernels/device.hpp). Plain enums and nothing
// else, so that nvcc (C++17) compiles this header too.
#pragma once

namespace backprop {

enum class Activation { identity, sigmoid, tanh, relu, leaky_relu, softmax };
enum class LossKind { mse, bce, softmax_ce };

// The update rules are torch.optim's (optimizer.hpp states each).
enum class OptimizerKind { sgd, momentum, nesterov, adam, adamw, rmsprop };

// Feature scaling (data/scaling.hpp), named in the training recipe.
enum class ScalingKind { none, standard, minmax };

}  // namespace backprop
