// Whether the fused one-row step (train/row_step.hpp) still earns its place: the tutorial's 4-2-3-1 network
// (bench/seed-net.json) trained one sample per SGD update through train() itself, once with the one-row step
// and once with the general CPU step (TrainingParallelism::row_step = false; the two give the same bits).
// Prints the median epoch time of each as ns per update, and their ratio. A benchmark: it never fails.
//   build/bench_row_step [EPOCHS] [weighted]   (bench/run.py runs it; "weighted": every row of weight 1.5, the
//   sample weights' path)
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "backprop/backprop.hpp"

namespace {

double median_ns_per_update(const backprop::NetworkSpec& spec, const backprop::Dataset& data, bool row_step) {
  backprop::Network<float> network(spec);
  backprop::TrainingParallelism how;
  how.row_step = row_step;
  const backprop::TrainingResult result = backprop::train(network, data, nullptr, backprop::Scaling{}, nullptr,
                                                          nullptr, how);
  std::vector<double> seconds;
  for (const auto& epoch : result.history) seconds.push_back(epoch.seconds);
  std::sort(seconds.begin(), seconds.end());
  return seconds[seconds.size() / 2] * 1e9 / static_cast<double>(data.rows);
}

}  // namespace

int main(int argc, char** argv) {
  const int epochs = argc > 1 ? std::atoi(argv[1]) : 300;
  backprop::NetworkSpec spec = backprop::io::read_network_file(BACKPROP_SOURCE_DIR "/bench/seed-net.json");
  spec.training.epochs = epochs;
  backprop::Dataset data;  // the seed's row, 1000 times: one epoch is 1000 updates
  data.source = "seed row x 1000";
  data.rows = 1000;
  data.features = 4;
  data.task = backprop::TaskKind::regression;
  data.target_count = 1;
  for (std::size_t r = 0; r < data.rows; ++r) {
    data.features_f32.insert(data.features_f32.end(), {1.0f, 2.0f, 3.0f, 4.0f});
    data.targets.push_back(1.0f);
  }
  const bool weighted = argc > 2 && std::string(argv[2]) == "weighted";
  if (weighted) data.weights.assign(data.rows, 1.5f);
  backprop::kernels::set_thread_count(1);
  const double fused = median_ns_per_update(spec, data, true);
  const double general = median_ns_per_update(spec, data, false);
  std::printf("one-row step: %.1f ns/update; general CPU step: %.1f ns/update; general/fused %.2fx (%d epochs of %zu%s)\n",
              fused, general, general / fused, epochs, data.rows, weighted ? ", weighted rows" : "");
  return 0;
}
