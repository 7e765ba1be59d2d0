// Where the math runs (docs/gpu.md): the CPU, or a GPU through the CUDA backend, which the library opens only
// when a GPU is asked for. A Device is opened once and passed to training (TrainingParallelism::device), to
// the passes (evaluate, forward_batches) and to time_inference; the backend's own interface is internal.
#pragma once

#include <memory>
#include <string>
#include <vector>

namespace backprop {

namespace kernels {
class DeviceBackend;
}
template <typename T>
class Network;

// An opened device; empty: the CPU.
using Device = std::shared_ptr<kernels::DeviceBackend>;

// The device called `name`: "cpu" (the CPU: empty); "cuda" (the first GPU; Error(bad_input) when there is
// none or the build has no CUDA); "emulated" (the device path run on the host, for tests and debugging);
// "" (not chosen): $BACKPROP_DEVICE if set, else CUDA when a GPU is present, unless cpu_preferred (a run only
// the CPU path can do: MPI, --deterministic). Anything else is Error(bad_input).
Device open_device(const std::string& name, bool cpu_preferred = false);
// The device's name and memory, for a progress line ("" for the CPU).
std::string describe(const Device& device);

// The median time of a forward pass of batch rows of random inputs (on the device, with the inputs already
// there, each pass timed to its end), after a warm-up; repeat 0: as many passes as fit in about half a
// second. What `backprop bench` prints.
struct InferenceTiming {
  int batch = 0;
  double latency_seconds = 0;  // the median pass
  double mean_seconds = 0;     // the mean pass (what a peer that times a loop of passes reports)
  int passes = 0;
};
InferenceTiming time_inference(const Network<float>& network, int batch, int repeat, const Device& device = {});

}  // namespace backprop
