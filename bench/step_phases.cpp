// Where a training step's time goes, and how near the whole step comes to the core's arithmetic peak: the
// Fashion-MNIST MLP (bench/fashion-mnist-sgd.json, SGD momentum) at one batch size, its general CPU step taken
// apart through the library's own calls, in the order CpuStep (src/train/cpu_step.cpp) makes them: the gather
// of a shuffled batch's rows (Dataset::gather_rows, the next batch's rows prefetched as the step does), the
// forward pass, the loss, the backward pass (which also checks the gradient), the optimizer's update (which
// also checks the parameters). Prints the median microseconds of each phase over the steps of two epochs, the
// step's GFLOP/s, and this core's fused multiply-add peak measured by a loop of independent AVX-512 (else
// AVX2: at BACKPROP_CPU=avx2 too) FMAs, so that the step's share of the peak is a measured figure. The GFLOP/s count the dense products'
// multiply-adds: on a CPU where the products skip the input's zeros (src/kernels/cpu/zero_skip.hpp) fewer are
// done, and the share can pass 100%. A benchmark: it never fails.
//   build/bench_step_phases [BATCH] [THREADS] [DATA DIR] [NETWORK FILE]
// (defaults: 128, 1, /usr/share/datasets/fashion-mnist, bench/fashion-mnist-sgd.json). A network file such as
// examples/fashion-mnist.json (the README's main job) brings its step's other parts as CpuStep runs them: its
// dropout (drawn from the file's seed), its optimizer at its base learning rate, its loss (label smoothing
// included) and its "scale", folded into the first layer where CpuStep folds it (folded_scaling).
// Run it pinned for one thread (taskset -c 0), with OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE unset, as bench/run.py
// runs the peers (docs/performance.md).
#include <immintrin.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <numeric>
#include <string>
#include <vector>

#include "backprop/backprop.hpp"
#include "backprop/data/dataset.hpp"
#include "backprop/train/prepare.hpp"
#include "backprop/kernels/kernels.hpp"
#include "backprop/data/scaling.hpp"
#include "train/step.hpp"

namespace {

using Clock = std::chrono::steady_clock;

double microseconds(Clock::time_point from, Clock::time_point to) {
  return std::chrono::duration<double, std::micro>(to - from).count();
}

double median(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  return values[values.size() / 2];
}

// The mean counts what a median hides: a step that waits on a descheduled thread costs an epoch its whole delay.
double mean(const std::vector<double>& values) {
  return std::accumulate(values.begin(), values.end(), 0.0) / static_cast<double>(values.size());
}

double percentile(std::vector<double> values, double p) {
  std::sort(values.begin(), values.end());
  return values[static_cast<std::size_t>(p * static_cast<double>(values.size() - 1))];
}

// Twelve independent chains of FMAs, enough to keep two FMA units busy through their latency; GFLOP/s counts
// 2 flops per multiply-add lane. The best of five runs of about 0.1 s each. The same loop for each vector width,
// each compiled for its instruction set.
#define BACKPROP_FMA_PEAK(Vector, lanes, set1, fmadd)                                    \
  double best = 0;                                                                        \
  for (int run = 0; run < 5; ++run) {                                                     \
    Vector chains[12]; /* each from its own start: identical chains could be computed once */ \
    for (int c = 0; c < 12; ++c) chains[c] = set1(0.5f + 0.01f * c);                      \
    const Vector factor = set1(0.999999f), addend = set1(1e-7f);                          \
    const long iterations = 20'000'000;                                                   \
    const auto from = Clock::now();                                                       \
    for (long i = 0; i < iterations; ++i)                                                 \
      for (Vector& chain : chains) chain = fmadd(chain, factor, addend);                  \
    const double seconds = std::chrono::duration<double>(Clock::now() - from).count();   \
    float lane[lanes];                                                                    \
    std::memcpy(lane, &chains[run], sizeof(lane));                                        \
    if (lane[0] == 12345.0f) std::printf(" "); /* keeps the chains alive */               \
    best = std::max(best, iterations * 12.0 * lanes * 2 / seconds / 1e9);                 \
  }                                                                                       \
  return best;

__attribute__((target("avx512f"))) double fma_peak_avx512() {
  BACKPROP_FMA_PEAK(__m512, 16, _mm512_set1_ps, _mm512_fmadd_ps)
}

__attribute__((target("avx2,fma"))) double fma_peak_avx2() {
  BACKPROP_FMA_PEAK(__m256, 8, _mm256_set1_ps, _mm256_fmadd_ps)
}

}  // namespace

int main(int argc, char** argv) {
  using namespace backprop;
  const int batch = argc > 1 ? std::atoi(argv[1]) : 128;
  const int threads = argc > 2 ? std::atoi(argv[2]) : 1;
  const std::string folder = argc > 3 ? argv[3] : "/usr/share/datasets/fashion-mnist";
  const std::string file = argc > 4 ? argv[4] : BACKPROP_SOURCE_DIR "/bench/fashion-mnist-sgd.json";
  const NetworkSpec spec = io::read_network_file(file);
  const Dataset data = load_for_network(spec, folder + "/train-images-idx3-ubyte.gz",
                                        folder + "/train-labels-idx1-ubyte.gz", "", {});
  kernels::set_thread_count(threads);
  Network<float> network(spec);
  Optimizer<float> optimizer(spec.optimizer, network.parameters().size());
  Workspace<float> workspace(network, batch);
  Scaling scaling = fit_scaling(spec.training.scale, data);
  if (auto folded = folded_scaling(network, data, scaling, batch)) {
    scaling = std::move(folded->gather);
    workspace.set_input_shift(folded->shift);
  }
  bool dropout = false;
  for (const LayerSpec& layer : spec.layers) dropout = dropout || layer.dropout > 0;
  Random dropout_random(spec.seed + 1);
  const int outputs = network.output_size();
  std::vector<float> x(static_cast<std::size_t>(batch) * data.features), y(static_cast<std::size_t>(batch) * outputs);
  std::vector<std::size_t> order(data.rows);
  std::iota(order.begin(), order.end(), std::size_t{0});
  Random random(1);
  const double learning_rate = spec.optimizer.learning_rate;

  std::vector<double> gather, forward, loss, backward, update, step;
  for (int epoch = 0; epoch < 2; ++epoch) {
    for (std::size_t i = order.size(); i > 1; --i) std::swap(order[i - 1], order[random.below(i)]);
    for (std::size_t first = 0; first + batch <= order.size(); first += batch) {
      const std::size_t* rows = order.data() + first;
      const auto t0 = Clock::now();
      data.gather_rows(x.data(), rows, batch, scaling);
      data.gather_targets(y.data(), rows, batch, outputs);
      if (first + batch < order.size())
        data.prefetch_rows(order.data() + first + batch, std::min(order.size(), first + 2 * batch) - (first + batch));
      const auto t1 = Clock::now();
      network.forward(workspace, x.data(), batch, dropout ? &dropout_random : nullptr);
      const auto t2 = Clock::now();
      volatile double value = network.loss_value(workspace, y.data(), batch);
      (void)value;
      const auto t3 = Clock::now();
      const bool finite = network.backward(workspace, x.data(), y.data(), batch);
      const auto t4 = Clock::now();
      if (finite) (void)optimizer.step(network.parameters(), network.gradients(), learning_rate);
      const auto t5 = Clock::now();
      if (epoch == 0) continue;  // the first epoch warms the caches, the pool and oneDNN's generated code
      gather.push_back(microseconds(t0, t1));
      forward.push_back(microseconds(t1, t2));
      loss.push_back(microseconds(t2, t3));
      backward.push_back(microseconds(t3, t4));
      update.push_back(microseconds(t4, t5));
      step.push_back(microseconds(t0, t5));
    }
  }
  // Multiply-adds of one sample: each layer's forward product, its weight gradient, and its input gradient
  // for every layer but the first.
  double multiply_adds = 0;
  for (std::size_t l = 0; l < network.layer_count(); ++l) {
    const double weights = static_cast<double>(network.layer(l).in) * network.layer(l).out;
    multiply_adds += (l == 0 ? 2 : 3) * weights;
  }
  const double step_gflops = 2 * multiply_adds * batch / median(step) / 1e3;
  // The peak of the vectors the products use: AVX-512's where the level is (BACKPROP_CPU forces a narrower one).
  const backprop::kernels::CpuLevel level = backprop::kernels::cpu_level();
  const double peak = level == backprop::kernels::CpuLevel::avx512 ? fma_peak_avx512() : fma_peak_avx2();
  std::printf("level %s; batch %d, %d thread(s), medians over %zu steps (us): gather %.1f, forward %.1f, loss %.1f, "
              "backward %.1f, update %.1f; step %.1f = %.0f samples/s\n",
              backprop::kernels::cpu_level_name(level), batch, threads, step.size(), median(gather), median(forward), median(loss), median(backward),
              median(update), median(step), batch / median(step) * 1e6);
  std::printf("step: mean %.1f us (%.0f samples/s), 90th percentile %.1f, 99th %.1f, most %.1f\n", mean(step),
              batch / mean(step) * 1e6, percentile(step, 0.9), percentile(step, 0.99), percentile(step, 1.0));
  std::printf("step: %.3f MFLOP a sample as dense products, %.1f GFLOP/s; this core's FMA peak %.1f GFLOP/s (one "
              "thread): %.0f%% of %d x the peak\n",
              2 * multiply_adds / 1e6, step_gflops, peak, 100 * step_gflops / (peak * threads), threads);
  return 0;
}
