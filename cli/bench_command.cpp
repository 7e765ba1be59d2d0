// backprop bench NET.json [--batch N]... [--threads N] [--repeat N] [--device cpu|cuda] [--json]
// Inference speed of a network through the C++ API (Network::forward): for each batch size, the median
// latency of one forward pass and the samples per second. Training speed is measured through `train`
// itself (its --log records each epoch's seconds); bench/run.py puts both beside the peers.
#include <cstdio>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "backprop/kernels/kernels.hpp"
#include "backprop/device.hpp"
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

int run_bench(const BenchArguments& args) {
  if (args.threads) kernels::set_thread_count(*args.threads);
  const NetworkSpec spec = io::read_model(args.network).exact_network;
  const Network<float> network(spec);
  const Device device = open_device(args.device);
  if (device && !args.json) std::printf("device %s\n", describe(device).c_str());
  nlohmann::ordered_json results = nlohmann::ordered_json::array();
  for (const int batch : args.batches) {
    const InferenceTiming t = time_inference(network, batch, args.repeat, device);
    results.push_back({{"batch", batch},
                       {"latency_us", t.latency_seconds * 1e6},
                       {"mean_us", t.mean_seconds * 1e6},
                       {"samples_per_second", batch / t.latency_seconds},
                       {"passes", t.passes}});
    if (!args.json)
      std::printf("network %s, batch %d: median forward %.2f us, %.0f samples/s (%d passes)\n",
                  architecture(spec).c_str(), batch, t.latency_seconds * 1e6, batch / t.latency_seconds, t.passes);
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
      ->check(CLI::Range(1, kernels::kMaxThreads));
  cmd->add_option("--repeat", a->repeat, "Timed passes per batch size (default: about half a second's worth)")
      ->check(CLI::Range(1, 10000000));
  add_device_option(cmd, a->device);
  cmd->add_flag("--json", a->json, "Print one JSON array of {batch, latency_us, samples_per_second, passes}");
  cmd->callback([a, &exit_code] { exit_code = run_bench(*a); });
}

}  // namespace backprop::cli
