// backprop bench NET.json [--batch N]... [--threads N] [--repeat N] [--device cpu|cuda] [--json]
// Inference speed of a network through the C++ API (Network::forward): for each batch size, the median
// latency of one forward pass and the samples per second. Training speed is measured through `train`
// itself (its --log records each epoch's seconds); bench/run.py puts both beside the peers.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "backprop/kernels/kernels.hpp"
#include "backprop/nn/device_network.hpp"
#include "backprop/nn/initializer.hpp"
#include "backprop/nn/network.hpp"
#include "commands.hpp"

namespace backprop::cli {
namespace {

struct BenchArguments {
  std::string network, device;
  std::vector<int> batches{1, 1024};
  std::optional<int> threads;
  int repeat = 0;  // 0: as many as fit in about half a second per batch size
  bool json = false;
};

double median(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  const std::size_t n = values.size();
  return n % 2 ? values[n / 2] : 0.5 * (values[n / 2 - 1] + values[n / 2]);
}

int run_bench(const BenchArguments& args) {
  if (args.threads) kernels::set_thread_count(*args.threads);
  const NetworkSpec spec = io::read_model(args.network).exact_network;
  const Network<float> network(spec);
  const auto device = open_device(args.device);
  if (device && !args.json) std::printf("device %s\n", device->description().c_str());
  nlohmann::ordered_json results = nlohmann::ordered_json::array();
  for (const int batch : args.batches) {
    Workspace<float> workspace(network, batch);
    std::vector<float> x(static_cast<std::size_t>(batch) * spec.input);
    Random random(1);
    for (float& v : x) v = static_cast<float>(random.uniform());
    // One pass: on the CPU, or on the device with the input already there (a pass ends when the device is
    // done with it).
    std::function<void()> pass = [&] { network.forward(workspace, x.data(), batch); };
    std::optional<DeviceNetwork> device_network;
    if (device) {
      Dataset inputs;
      inputs.source = "the benchmark's random inputs";
      inputs.rows = static_cast<std::size_t>(batch);
      inputs.features = spec.input;
      inputs.features_f32 = x;
      const DeviceDataset device_inputs(*device, inputs, Scaling{}, network.output_size(), /*targets=*/false);
      device_network.emplace(*device, network, batch);
      device_network->gather(device_inputs, device_inputs.in_order(), 0, batch);
      device->synchronize();
      pass = [&] {
        device_network->forward(batch);
        device->synchronize();
      };
    }
    using clock = std::chrono::steady_clock;
    // Warm up (caches, the BLAS's threads), then time single passes.
    for (int i = 0; i < 20; ++i) pass();
    const auto start = clock::now();
    pass();
    const double once = std::chrono::duration<double>(clock::now() - start).count();
    const int repeat = args.repeat > 0 ? args.repeat : std::clamp(static_cast<int>(0.5 / std::max(once, 1e-7)), 5, 200000);
    std::vector<double> seconds(repeat);
    for (int i = 0; i < repeat; ++i) {
      const auto t0 = clock::now();
      pass();
      seconds[i] = std::chrono::duration<double>(clock::now() - t0).count();
    }
    const double latency = median(seconds);
    results.push_back({{"batch", batch},
                       {"latency_us", latency * 1e6},
                       {"samples_per_second", batch / latency},
                       {"passes", repeat}});
    if (!args.json)
      std::printf("network %s, batch %d: median forward %.2f us, %.0f samples/s (%d passes)\n",
                  architecture(spec).c_str(), batch, latency * 1e6, batch / latency, repeat);
  }
  if (args.json) std::printf("%s\n", results.dump().c_str());
  return 0;
}

}  // namespace

void add_bench_command(CLI::App& app, int& exit_code) {
  auto a = std::make_shared<BenchArguments>();
  CLI::App* cmd = app.add_subcommand(
      "bench", "Time inference of a network through the C++ API: median latency of a forward pass and samples/s "
               "per batch size (training speed: see bench/run.py, which times `train` itself)");
  cmd->add_option("network", a->network, "Network file or model")->required()->check(CLI::ExistingFile);
  cmd->add_option("--batch", a->batches, "Batch sizes (default: 1 1024)")->check(CLI::Range(1, 1 << 20));
  cmd->add_option("--threads", a->threads, "Threads for the matrix products (default: all cores)")
      ->check(CLI::Range(1, 1024));
  cmd->add_option("--repeat", a->repeat, "Timed passes per batch size (default: about half a second's worth)")
      ->check(CLI::Range(1, 10000000));
  add_device_option(cmd, a->device);
  cmd->add_flag("--json", a->json, "Print one JSON array of {batch, latency_us, samples_per_second, passes}");
  cmd->callback([a, &exit_code] { exit_code = run_bench(*a); });
}

}  // namespace backprop::cli
