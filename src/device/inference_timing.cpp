// time_inference (backprop/device.hpp): what `backprop bench` measures, on the CPU or on a device.
#include <algorithm>
#include <chrono>
#include <functional>
#include <optional>
#include <vector>

#include "backprop/base/random.hpp"
#include "backprop/device.hpp"
#include "backprop/nn/network.hpp"
#include "device/device_network.hpp"
#include "kernels/device.hpp"

namespace backprop {
namespace {

double median(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  const std::size_t n = values.size();
  return n % 2 ? values[n / 2] : 0.5 * (values[n / 2 - 1] + values[n / 2]);
}

}  // namespace

InferenceTiming time_inference(const Network<float>& network, int batch, int repeat, const Device& device) {
  Workspace<float> workspace(network, batch);
  std::vector<float> x(static_cast<std::size_t>(batch) * network.input_size());
  Random random(1);
  for (float& v : x) v = static_cast<float>(random.uniform());
  // One pass: on the CPU, or on the device with the input already there (a pass ends when the device is
  // done with it).
  std::function<void()> pass = [&] { network.forward(workspace, x.data(), batch); };
  std::optional<DeviceDataset> device_inputs;
  std::optional<DeviceNetwork> device_network;
  if (device) {
    Dataset inputs;
    inputs.source = "the benchmark's random inputs";
    inputs.rows = static_cast<std::size_t>(batch);
    inputs.features = network.input_size();
    inputs.features_f32 = x;
    device_inputs.emplace(*device, inputs, Scaling{}, network.output_size(), /*targets=*/false);
    device_network.emplace(*device, network, batch);
    device_network->gather(*device_inputs, device_inputs->in_order(), 0, batch);
    device->synchronize();
    pass = [&] {
      device_network->forward(batch);
      device->synchronize();
    };
  }
  using clock = std::chrono::steady_clock;
  // Warm up (caches, the thread pool), then time single passes.
  for (int i = 0; i < 20; ++i) pass();
  const auto start = clock::now();
  pass();
  const double once = std::chrono::duration<double>(clock::now() - start).count();
  const int passes = repeat > 0 ? repeat : std::clamp(static_cast<int>(0.5 / std::max(once, 1e-7)), 5, 200000);
  std::vector<double> seconds(static_cast<std::size_t>(passes));
  for (double& s : seconds) {
    const auto t0 = clock::now();
    pass();
    s = std::chrono::duration<double>(clock::now() - t0).count();
  }
  double total = 0;
  for (const double s : seconds) total += s;
  return {batch, median(seconds), total / passes, passes};
}

}  // namespace backprop
