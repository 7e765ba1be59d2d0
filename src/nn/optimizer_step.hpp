// The coefficients of one optimizer step, computed in one place for the CPU's update (nn/optimizer.cpp) and
// the device's (device/device_network.cpp): the learning rate, the weight decay as an L2 term or decoupled
// (decoupled_weight_decay), adam's bias corrections, each in double and then in T.
#pragma once

#include "backprop/nn/spec.hpp"
#include "kernels/math.hpp"

namespace backprop {

// Step step_count (from 1) of the rule spec with this step's learning rate.
template <typename T>
math::OptimizerStep<T> optimizer_step(const OptimizerSpec& spec, double learning_rate, long step_count);

}  // namespace backprop
