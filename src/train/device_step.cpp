// The training step on a device (step.hpp; TrainingParallelism::device): the data set, the network and the
// optimizer state live there, each step is queued without waiting, and the host reads the sums and the step
// status only when asked (the end of an epoch, a checkpoint, now and then for the progress line).
#include <algorithm>
#include <map>
#include <span>
#include <vector>

#include "kernels/device.hpp"
#include "device/device_network.hpp"
#include "train/step.hpp"

namespace backprop {
namespace {

// Steps between two reads of the running loss for the progress line (each read waits for the device).
constexpr std::size_t kDeviceProgressEvery = 50;

// The dropout seed of a step on a device: never 0 (0 means "no dropout" to DeviceNetwork::forward).
std::uint64_t device_dropout_seed(std::uint64_t seed, long step) {
  std::uint64_t x = seed * 0x9E3779B97F4A7C15ull + 0xA24BAED4963EE407ull * static_cast<std::uint64_t>(step + 1);
  x = (x ^ (x >> 31)) * 0xBF58476D1CE4E5B9ull;
  return (x ^ (x >> 29)) | 1;
}

class DeviceStep final : public Step {
 public:
  DeviceStep(kernels::DeviceBackend& backend, Network<float>& network, Optimizer<float>& optimizer,
             const Dataset& data, const Scaling& scaling, int batch_size)
      : backend_(backend),
        host_network_(network),
        scaling_(scaling),
        classification_(data.task == TaskKind::classification),
        weights_(data.weights),
        data_(backend, data, scaling, network.output_size()),
        network_(backend, network, batch_size),
        optimizer_(backend, optimizer),
        order_(backend, data.rows),
        sums_(backend, 1),
        status_(backend, 1),
        host_order_(data.rows),
        batch_size_(static_cast<std::size_t>(batch_size)) {}

  void begin_epoch(std::span<const std::size_t> order, const MetricSums& sums) override {
    std::copy(order.begin(), order.end(), host_order_.begin());
    order_.upload(host_order_.data(), host_order_.size());
    sums_.upload(&sums, 1);
    // The device's status counts from the run's start: a divergence is reported when it is read.
    epoch_first_step_ = -1;
  }

  bool run(std::size_t first, std::size_t count, long step, double learning_rate) override {
    if (epoch_first_step_ < 0) {
      epoch_first_step_ = step;
      epoch_first_row_ = first;
    }
    queue_gradient(first, static_cast<int>(count), step, sums_, status_);
    optimizer_.step(network_, status_.data(), learning_rate);
    // The update's own overflow: the gradient check's kernel over the parameters, into the same status, so the
    // step is numbered and no later step updates (step.hpp's Step::run).
    backend_.check_gradients(status_.data(), network_.parameters(), network_.parameter_count(), 0.0f, step);
    return true;
  }

  MetricSums sums() override {
    MetricSums sums;
    sums_.download(&sums, 1);
    return sums;
  }
  std::size_t progress_every() const override { return kDeviceProgressEvery; }

  // A step that diverged skipped its update and every later one, so the device holds the parameters before it.
  std::optional<Divergence> divergence() override {
    kernels::StepStatus status;
    status_.download(&status, 1);
    if (status.diverged == 0) return std::nullopt;
    return Divergence{status.diverged_step, cause(status.diverged_step)};
  }

  // The step's forward pass, loss and backward pass, adding to sums and checking into status.
  void queue_gradient(std::size_t first, int rows, long step, kernels::DeviceArray<MetricSums>& sums,
                      kernels::DeviceArray<kernels::StepStatus>& status) {
    network_.gather(data_, order_.data(), first, rows);
    network_.forward(rows, device_dropout_seed(host_network_.spec().seed, step));
    network_.loss_and_gradient(sums.data(), status.data(), rows,
                               static_cast<float>(host_network_.spec().training.clip_grad_norm), step,
                               weight_denominator(first, rows));
  }

  // The weighted mean's denominator of the rows order[first .. first + rows) (0 without row weights), from the
  // host's copy of the order and the weights: the device queue does not wait for it.
  double weight_denominator(std::size_t first, int rows) const {
    if (weights_.empty()) return 0.0;
    const LossKind loss = host_network_.spec().loss;
    double total = 0;
    if (loss == LossKind::softmax_ce)  // the others' denominator is the row count
      for (int r = 0; r < rows; ++r) total += weights_[host_order_[first + static_cast<std::size_t>(r)]];
    return math::weighted_loss_denominator(loss, total, rows);
  }

  // What the step that diverged made not finite (divergence_cause's message, as on the CPU). The device holds
  // the parameters as that step left them (every later update was skipped): not finite, its update overflowed;
  // else the step again, on its rows with its dropout masks, gives its loss, outputs and gradient. Its epoch
  // is this one (train() reads divergence() before the next begins).
  std::string cause(long step) {
    network_.download_parameters(host_network_);
    if (!parameters_finite(host_network_)) return divergence_cause(host_network_, 0.0);
    const std::size_t first = epoch_first_row_ + static_cast<std::size_t>(step - epoch_first_step_) * batch_size_;
    const int rows = static_cast<int>(std::min<std::size_t>(batch_size_, data_.row_count() - first));
    kernels::DeviceArray<MetricSums> sums(backend_, 1);
    kernels::DeviceArray<kernels::StepStatus> status(backend_, 1);
    queue_gradient(first, rows, step, sums, status);
    kernels::StepStatus checked;
    status.download(&checked, 1);
    std::vector<float> outputs(static_cast<std::size_t>(rows) * network_.output_size());
    backend_.download(outputs.data(), network_.output(), outputs.size() * sizeof(float));
    const auto gradients = host_network_.gradients();
    backend_.download(gradients.data(), network_.gradients(), gradients.size() * sizeof(float));
    const std::size_t last = host_network_.layer_count() - 1;
    return divergence_cause(host_network_, static_cast<float>(checked.batch_loss), [&](std::size_t l) {
      return l == last ? std::span<const float>(outputs) : std::span<const float>();  // the others stay there
    });
  }

  void synchronize() override {
    network_.download_parameters(host_network_);
    optimizer_.download_state();
  }

  Metrics evaluate(const Dataset& data) override {
    auto found = validation_.find(&data);
    if (found == validation_.end())
      found = validation_.try_emplace(&data, backend_, data, scaling_, host_network_.output_size()).first;
    return metrics_of(device_pass(network_, found->second, host_network_.label_smoothing()), classification_);
  }

 private:
  kernels::DeviceBackend& backend_;
  Network<float>& host_network_;
  const Scaling& scaling_;
  bool classification_;
  std::span<const float> weights_;  // the training rows' weights (Dataset::weights), empty for none
  DeviceDataset data_;
  DeviceNetwork network_;
  DeviceOptimizer optimizer_;
  kernels::DeviceArray<std::uint32_t> order_;
  kernels::DeviceArray<MetricSums> sums_;
  kernels::DeviceArray<kernels::StepStatus> status_;
  std::vector<std::uint32_t> host_order_;
  std::map<const Dataset*, DeviceDataset> validation_;  // uploaded on first use
  std::size_t batch_size_;
  long epoch_first_step_ = -1;       // the step number of the epoch's first run (-1: none yet)
  std::size_t epoch_first_row_ = 0;  // and its first row in the order (a resumed epoch starts mid-way)
};

}  // namespace

MetricSums device_pass(DeviceNetwork& network, const DeviceDataset& data, double label_smoothing) {
  kernels::DeviceArray<MetricSums> device_sums(network.backend(), 1);
  const auto batch = static_cast<std::size_t>(network.max_batch());
  for (std::size_t start = 0; start < data.row_count(); start += batch) {
    const int count = static_cast<int>(std::min(batch, data.row_count() - start));
    network.gather(data, data.in_order(), start, count);
    network.forward(count);
    network.loss(device_sums.data(), count, label_smoothing);
  }
  MetricSums sums;
  device_sums.download(&sums, 1);
  return sums;
}

std::unique_ptr<Step> make_device_step(kernels::DeviceBackend& backend, Network<float>& network,
                                       Optimizer<float>& optimizer, const Dataset& data, const Scaling& scaling,
                                       int batch_size) {
  return std::make_unique<DeviceStep>(backend, network, optimizer, data, scaling, batch_size);
}

}  // namespace backprop
