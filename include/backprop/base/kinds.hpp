// The kinds of activation, loss, optimizer, feature scaling and task: one enum per concept, for the network's
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

// What a network's loss makes of the data's targets (task_of, nn/spec.hpp).
enum class TaskKind {
  classification,  // one class label per row (softmax_ce; bce with one output = two classes)
  regression,      // one or more numeric targets per row (mse; bce with several outputs: targets in [0, 1])
};

}  // namespace backprop
