// A training step allocates nothing (docs/performance.md, "Design"): every buffer is sized before the loop. The test
// program's operator new counts allocations; the count is read around training steps.
#include <atomic>
#include <cstdlib>
#include <new>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "backprop/kernels/kernels.hpp"
#include "backprop/nn/initializer.hpp"
#include "backprop/nn/network.hpp"
#include "backprop/nn/optimizer.hpp"
#include "train/row_step.hpp"
#include "backprop/train/trainer.hpp"

namespace {
std::atomic<long> allocations{0};

void* counted(std::size_t size, std::size_t alignment) {
  allocations.fetch_add(1, std::memory_order_relaxed);
  if (size == 0) size = 1;
  void* p = alignment > alignof(std::max_align_t) ? std::aligned_alloc(alignment, (size + alignment - 1) / alignment * alignment)
                                                  : std::malloc(size);
  if (p == nullptr) throw std::bad_alloc();
  return p;
}
}  // namespace

void* operator new(std::size_t size) { return counted(size, 0); }
void* operator new[](std::size_t size) { return counted(size, 0); }
void* operator new(std::size_t size, std::align_val_t a) { return counted(size, static_cast<std::size_t>(a)); }
void* operator new[](std::size_t size, std::align_val_t a) { return counted(size, static_cast<std::size_t>(a)); }
void* operator new(std::size_t size, const std::nothrow_t&) noexcept {
  try { return counted(size, 0); } catch (...) { return nullptr; }
}
void* operator new[](std::size_t size, const std::nothrow_t&) noexcept {
  try { return counted(size, 0); } catch (...) { return nullptr; }
}
void* operator new(std::size_t size, std::align_val_t a, const std::nothrow_t&) noexcept {
  try { return counted(size, static_cast<std::size_t>(a)); } catch (...) { return nullptr; }
}
void* operator new[](std::size_t size, std::align_val_t a, const std::nothrow_t&) noexcept {
  try { return counted(size, static_cast<std::size_t>(a)); } catch (...) { return nullptr; }
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t) noexcept { std::free(p); }
void operator delete(void* p, std::align_val_t) noexcept { std::free(p); }
void operator delete[](void* p, std::align_val_t) noexcept { std::free(p); }
void operator delete(void* p, std::size_t, std::align_val_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t, std::align_val_t) noexcept { std::free(p); }

namespace backprop {
namespace {

NetworkSpec mlp(int hidden, double dropout) {
  NetworkSpec spec;
  spec.input = 784;
  spec.loss = LossKind::softmax_ce;
  spec.layers.push_back({.units = hidden, .activation = Activation::relu, .dropout = dropout});
  spec.layers.push_back({.units = 128, .activation = Activation::relu});
  spec.layers.push_back({.units = 10, .activation = Activation::softmax});
  spec.optimizer.type = OptimizerKind::adamw;
  return spec;
}

// The library's step at batch 128 (products large enough to go to the thread pool) and at batch 1 (the
// one-row path): no allocation once the buffers exist.
// At batch 128 also with a batch_norm entry (its statistics and saved values live in the workspace), and with an
// embedding of the first input column first (its lookup and its gradient's scatter-add).
TEST(Allocations, ATrainingStepAllocatesNothing) {
  for (const auto& [batch_size, extra] : {std::pair{128, LayerKind::dense}, std::pair{1, LayerKind::dense},
                                          std::pair{128, LayerKind::batch_norm}, std::pair{128, LayerKind::embedding}}) {
    const int batch = batch_size;  // a copy: clang 14 does not capture a structured binding in a lambda
    const LayerKind kind = extra;
    NetworkSpec spec = mlp(256, 0.2);
    if (kind == LayerKind::batch_norm)
      spec.layers.insert(spec.layers.begin() + 1,
                         {.kind = LayerKind::batch_norm, .units = 256, .activation = Activation::identity});
    constexpr int kCategories = 10, kDim = 4;
    if (kind == LayerKind::embedding) {
      LayerSpec embedding{.kind = LayerKind::embedding, .units = 784 - 1 + kDim, .activation = Activation::identity};
      embedding.embedding.column = 0;
      embedding.embedding.categories = kCategories;
      spec.layers.insert(spec.layers.begin(), embedding);
    }
    validate(spec);
    Network<float> network(spec);
    Workspace<float> workspace(network, batch);
    Optimizer<float> optimizer(spec.optimizer, network.parameters().size());
    Random random(1);
    std::vector<float> x(static_cast<std::size_t>(batch) * 784), y(static_cast<std::size_t>(batch) * 10, 0.0f);
    // Half the inputs zero, in runs of 8 columns as an image's background: the products that skip zeros
    // (kernels/cpu/zero_skip.hpp) take their path where the CPU has it.
    for (std::size_t i = 0; i < x.size(); ++i) x[i] = (i % 784) / 8 % 2 == 0 ? 0.0f : static_cast<float>(random.uniform());
    for (int r = 0; r < batch; ++r) y[static_cast<std::size_t>(r) * 10 + r % 10] = 1.0f;
    if (kind == LayerKind::embedding)
      for (int r = 0; r < batch; ++r) x[static_cast<std::size_t>(r) * 784] = static_cast<float>(r % kCategories);
    auto step = [&] {
      network.forward(workspace, x.data(), batch, &random);
      const float loss = network.loss_value(workspace, y.data(), batch);
      network.backward(workspace, x.data(), y.data(), batch);
      EXPECT_TRUE(kernels::all_finite(network.gradients().data(), network.gradients().size()));
      optimizer.step(network.parameters(), network.gradients(), 1e-3);
      return loss;
    };
    step();  // the first step may start the thread pool
    const long before = allocations.load();
    for (int i = 0; i < 5; ++i) step();
    EXPECT_EQ(allocations.load() - before, 0) << "batch " << batch << ", " << to_string(kind);
  }
}

// The fused one-row step (train/row_step.hpp), with plain SGD folded into it and with an optimizer of its own.
TEST(Allocations, TheOneRowStepAllocatesNothing) {
  for (const std::string type : {"sgd", "adamw"}) {
    NetworkSpec spec = mlp(8, 0.0);  // 8,700 parameters: sgd takes the fused update
    spec.optimizer.type = *parse_optimizer(type);
    Network<float> network(spec);
    Optimizer<float> optimizer(spec.optimizer, network.parameters().size());
    RowStep row_step(network, optimizer);
    Random random(1);
    std::vector<float> x(784), y(10, 0.0f);
    for (float& v : x) v = static_cast<float>(random.uniform());
    y[3] = 1.0f;
    EXPECT_TRUE(row_step.step(x.data(), y.data(), 1e-3).finite);
    const long before = allocations.load();
    for (int i = 0; i < 5; ++i) EXPECT_TRUE(row_step.step(x.data(), y.data(), 1e-3).finite);
    EXPECT_EQ(allocations.load() - before, 0) << type;
  }
}

// The trainer's loop: allocations grow with epochs (history, validation) but not with steps.
TEST(Allocations, TheTrainerAllocatesPerEpochNotPerStep) {
  Dataset data;
  data.source = "generated";
  data.rows = 2000;
  data.features = 784;
  data.task = TaskKind::classification;
  for (int c = 0; c < 10; ++c) data.class_names.push_back(std::to_string(c));
  Random random(2);
  data.features_u8.resize(data.rows * 784);
  for (auto& v : data.features_u8) v = static_cast<std::uint8_t>(random.below(256));
  for (std::size_t r = 0; r < data.rows; ++r) data.labels.push_back(static_cast<std::int32_t>(r % 10));
  auto allocations_for = [&](int epochs, int batch, const Dataset* validation = nullptr) {
    NetworkSpec spec = mlp(64, 0.1);
    spec.training.epochs = epochs;
    spec.training.batch_size = batch;
    Network<float> network(spec);
    const long before = allocations.load();
    train(network, data, validation, Scaling{});
    return allocations.load() - before;
  };
  // 2000 rows in batches of 10 is 200 steps an epoch; in batches of 1000, 2. The first train() of a process
  // also allocates what lives for the process (the thread pool's workers, started by the first product large
  // enough to share: the "1-2 more" this test once tolerated; the calling thread's buffer for the masks of
  // products that skip zeros, which grows to the largest product it has seen), so a run of each batch size
  // first, uncounted. After them a second epoch costs exactly one allocation, the history's growth from 1 to 2
  // entries, at 200 steps as at 2.
  allocations_for(1, 10);
  allocations_for(1, 1000);
  const long many_steps = allocations_for(2, 10) - allocations_for(1, 10);
  const long few_steps = allocations_for(2, 1000) - allocations_for(1, 1000);
  EXPECT_EQ(many_steps, 1) << "a second epoch of 200 steps allocated " << many_steps << " times";
  EXPECT_EQ(few_steps, 1) << "a second epoch of 2 steps allocated " << few_steps << " times";
  // With a validation pass each epoch (8 batches of 256 rows): the same one, its buffers kept from the first.
  const long validated = allocations_for(2, 10, &data) - allocations_for(1, 10, &data);
  EXPECT_EQ(validated, 1) << "a second epoch with its validation pass allocated " << validated << " times";
}

// The same at batch size 1, where the trainer runs the fused one-row step: 2000 steps an epoch.
TEST(Allocations, TheTrainerAtBatchOneAllocatesPerEpochNotPerStep) {
  Dataset data;
  data.source = "generated";
  data.rows = 2000;
  data.features = 4;
  data.task = TaskKind::regression;
  data.target_count = 1;
  Random random(3);
  for (std::size_t r = 0; r < data.rows; ++r) {
    for (int f = 0; f < 4; ++f) data.features_f32.push_back(static_cast<float>(random.uniform()));
    data.targets.push_back(static_cast<float>(random.uniform()));
  }
  auto allocations_for = [&](int epochs) {
    NetworkSpec spec;
    spec.input = 4;
    spec.loss = LossKind::mse;
    spec.layers.push_back({.units = 3, .activation = Activation::sigmoid});
    spec.layers.push_back({.units = 1, .activation = Activation::sigmoid});
    spec.training.epochs = epochs;
    spec.training.batch_size = 1;
    Network<float> network(spec);
    const long before = allocations.load();
    train(network, data, nullptr, Scaling{});
    return allocations.load() - before;
  };
  allocations_for(1);  // what lives for the process, uncounted (above)
  const long second_epoch = allocations_for(2) - allocations_for(1);
  EXPECT_EQ(second_epoch, 1) << "a second epoch of 2000 one-row steps allocated " << second_epoch
                             << " times (expected the history's one)";
}

}  // namespace
}  // namespace backprop
