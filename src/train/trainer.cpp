// train(): epochs of shuffled batches, the schedule, validation, metrics, checkpoints and early stopping.
// Each batch is one call of a Step (step.hpp: forward, loss, backward, update, metric sums); train() does not
// know which step runs. The passes without dropout (evaluate, forward_batches) are in evaluate.cpp.
#include "backprop/train/trainer.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <numeric>
#include <optional>

#include "backprop/base/error.hpp"
#include "backprop/kernels/kernels.hpp"
#include "backprop/nn/schedule.hpp"
#include "train/step.hpp"

namespace backprop {
namespace {

// Fisher-Yates with the project's generator, so an order is the same on every platform.
void shuffle(std::vector<std::size_t>& order, Random& random) {
  for (std::size_t i = order.size(); i > 1; --i) std::swap(order[i - 1], order[random.below(i)]);
}

void check_inputs(const Network<float>& network, const Dataset& train_data, const Dataset* validation) {
  if (train_data.rows == 0) throw_bad_input(train_data.source + ": no rows to train on");
  if (train_data.features != network.input_size())
    throw_bad_input(train_data.source + ": " + std::to_string(train_data.features) +
                    " features per row, but the network has " + std::to_string(network.input_size()) + " inputs");
  if (network.spec().training.early_stopping > 0 && validation == nullptr)
    throw_bad_input("early_stopping needs validation data (a validation set or validation_split)");
}

[[noreturn]] void throw_divergence(const Divergence& divergence, int epoch, long epoch_first_step) {
  throw_runtime_error("training diverged at epoch " + std::to_string(epoch) + ", batch " +
                      std::to_string(divergence.step - epoch_first_step + 1) + ": " + divergence.what +
                      " (try a smaller learning rate, clip_grad_norm, or standard scaling)");
}

// What the loop carries from step to step and epoch to epoch, and what a checkpoint saves of it.
// What early stopping keeps of the best epoch (Loop::early_stop).
std::size_t kept_size(const Network<float>& network) {
  return network.parameters().size() + network.statistics().size();
}

struct Loop {
  std::vector<std::size_t> order;  // (rows) the epoch's order of the training rows
  // Two streams from the one seed: the order of rows, and the dropout masks.
  Random order_random, dropout_random;
  long step = 0;  // optimizer steps done (the schedule's position)
  TrainingResult result;
  AlignedVector<float> best_parameters;  // (N) of the best validation loss so far, when early stopping
  double best_validation_loss = std::numeric_limits<double>::infinity();
  int epochs_without_improvement = 0;

  Loop(std::uint64_t seed, std::size_t rows)
      : order(rows), order_random(seed * 0x9E3779B97F4A7C15ull + 1), dropout_random(seed * 0x9E3779B97F4A7C15ull + 2) {
    std::iota(order.begin(), order.end(), std::size_t{0});
  }

  // Continue from a checkpoint's state (checked against the network and data).
  void resume(const TrainingState& saved, const Network<float>& network, Optimizer<float>& optimizer,
              std::size_t batches) {
    auto arenas = optimizer.state();
    bool fits = saved.order.size() == order.size() && saved.optimizer_state.size() == arenas.size() &&
                (saved.best_parameters.empty() || saved.best_parameters.size() == kept_size(network)) &&
                saved.epoch >= 1 && saved.batch <= batches;
    for (std::size_t i = 0; fits && i < arenas.size(); ++i) fits = saved.optimizer_state[i].size() == arenas[i].size();
    if (!fits) throw_bad_input("the training state to resume does not fit this network and data");
    for (std::size_t i = 0; i < arenas.size(); ++i)
      std::copy(saved.optimizer_state[i].begin(), saved.optimizer_state[i].end(), arenas[i].begin());
    optimizer.set_step_count(saved.optimizer_steps);
    order = saved.order;
    order_random.set_state(saved.order_random);
    dropout_random.set_state(saved.dropout_random);
    step = saved.step;
    best_parameters.assign(saved.best_parameters.begin(), saved.best_parameters.end());
    best_validation_loss = saved.best_validation_loss;
    epochs_without_improvement = saved.epochs_without_improvement;
    result.history = saved.history;
    if (!result.history.empty()) result.best_epoch = result.history.back().epoch;
  }

  // The state after a step (batch >= 1) or before an epoch (batch 0).
  TrainingState capture(int epoch, std::size_t batch, const MetricSums& sums, double learning_rate,
                        const Optimizer<float>& optimizer) const {
    TrainingState state{epoch, batch, step, order, order_random.state(), dropout_random.state(), learning_rate,
                        sums, optimizer.step_count(), {}, {best_parameters.begin(), best_parameters.end()},
                        best_validation_loss, epochs_without_improvement, result.history};
    for (const auto arena : optimizer.state()) state.optimizer_state.emplace_back(arena.begin(), arena.end());
    return state;
  }

  // Early stopping after an epoch: keeps the best parameters; true when patience has run out.
  bool early_stop(const Network<float>& network, const EpochMetrics& metrics, Step& step_impl, int patience) {
    if (metrics.validation.loss < best_validation_loss) {
      best_validation_loss = metrics.validation.loss;
      step_impl.synchronize();
      // The parameters, then the running statistics (Network::statistics()): the best epoch's model is both.
      best_parameters.assign(network.parameters().begin(), network.parameters().end());
      best_parameters.insert(best_parameters.end(), network.statistics().begin(), network.statistics().end());
      epochs_without_improvement = 0;
      return false;
    }
    return ++epochs_without_improvement >= patience;
  }

  // The end: the best epoch's parameters back into the network when early stopping kept them.
  void restore_best(Network<float>& network) {
    if (best_parameters.empty()) return;
    const auto parameters = static_cast<std::ptrdiff_t>(network.parameters().size());
    std::copy(best_parameters.begin(), best_parameters.begin() + parameters, network.parameters().begin());
    std::copy(best_parameters.begin() + parameters, best_parameters.end(), network.statistics().begin());
    result.best_epoch = 0;
    for (const auto& m : result.history)
      if (m.validation.loss == best_validation_loss) {
        result.best_epoch = m.epoch;
        break;
      }
  }
};

double running_loss(const MetricSums& sums) { return sums.rows > 0 ? sums.loss / sums.rows : 0.0; }

}  // namespace

bool step_shares_products(const NetworkSpec& spec, std::size_t rows) {
  const int batch = static_cast<int>(std::min<std::size_t>(static_cast<std::size_t>(spec.training.batch_size), rows));
  for (std::size_t l = 0; l < spec.layers.size(); ++l)
    if (spec.layers[l].kind == LayerKind::dense &&
        kernels::product_shared_out(batch, spec.layers[l].units, spec.layer_input(l)))
      return true;
  return false;
}

TrainingResult train(Network<float>& network, const Dataset& train_data, const Dataset* validation,
                     const Scaling& scaling, TrainingObserver* observer, const TrainingCheckpoints* checkpoints,
                     const TrainingParallelism& parallelism) {
  check_inputs(network, train_data, validation);
  const NetworkSpec& spec = network.spec();
  const TrainingSpec& recipe = spec.training;
  const int batch_size = static_cast<int>(std::min<std::size_t>(recipe.batch_size, train_data.rows));
  const std::size_t batches = (train_data.rows + batch_size - 1) / batch_size;
  const long total_steps = static_cast<long>(batches) * recipe.epochs;
  const bool classification = train_data.task == TaskKind::classification;
  std::optional<kernels::OnCallingThread> one_thread;
  if (!step_shares_products(spec, train_data.rows)) one_thread.emplace();

  Optimizer<float> optimizer(spec.optimizer, network.parameters().size());
  Loop loop(spec.seed, train_data.rows);
  const TrainingState* resume = checkpoints ? checkpoints->resume : nullptr;
  if (resume != nullptr) loop.resume(*resume, network, optimizer, batches);
  // Made after resuming: a device step starts from the host's parameters and optimizer state as they stand.
  const std::unique_ptr<Step> step =
      make_step(network, optimizer, train_data, scaling, batch_size, parallelism, loop.dropout_random);
  const bool save_every = checkpoints && checkpoints->save && checkpoints->every_steps > 0;
  const MetricSums* host_sums = step->host_sums();
  const std::size_t progress_every = step->progress_every();
  // A checkpoint of the step just taken: a step that diverged is never saved.
  const auto save = [&](int epoch, std::size_t batch, const MetricSums& sums, double learning_rate) {
    step->synchronize();
    checkpoints->save(loop.capture(epoch, batch, sums, learning_rate, optimizer), network);
  };
  if (observer) observer->on_start(recipe.epochs, batches, train_data.rows);

  for (int epoch = resume ? resume->epoch : 1; epoch <= recipe.epochs; ++epoch) {
    const auto started = std::chrono::steady_clock::now();
    const bool continuing = resume != nullptr && epoch == resume->epoch && resume->batch > 0;
    if (!continuing) shuffle(loop.order, loop.order_random);
    const std::size_t first_batch = continuing ? resume->batch : 0;
    const long epoch_first_step = loop.step - static_cast<long>(first_batch);
    double learning_rate = continuing ? resume->learning_rate : spec.optimizer.learning_rate;
    step->begin_epoch(loop.order, continuing ? resume->sums : MetricSums{});
    double progress_loss = running_loss(continuing ? resume->sums : MetricSums{});
    for (std::size_t batch = first_batch; batch < batches; ++batch) {
      const std::size_t first = batch * batch_size;
      const std::size_t count = std::min<std::size_t>(batch_size, train_data.rows - first);
      learning_rate = learning_rate_at(recipe.schedule, spec.optimizer.learning_rate, loop.step, total_steps);
      if (!step->run(first, count, loop.step, learning_rate))
        throw_divergence(*step->divergence(), epoch, epoch_first_step);
      ++loop.step;
      if (save_every && loop.step % checkpoints->every_steps == 0) {
        if (const auto diverged = step->divergence()) throw_divergence(*diverged, epoch, epoch_first_step);
        save(epoch, batch + 1, step->sums(), learning_rate);
      }
      if (observer == nullptr) continue;
      if (host_sums != nullptr)
        progress_loss = running_loss(*host_sums);
      else if ((batch + 1) % progress_every == 0 || batch + 1 == batches)
        progress_loss = running_loss(step->sums());  // a wait for a device: now and then
      observer->on_batch(epoch, batch + 1, batches, progress_loss);  // as of the last read
    }
    if (const auto diverged = step->divergence()) throw_divergence(*diverged, epoch, epoch_first_step);
    EpochMetrics metrics;
    metrics.epoch = epoch;
    metrics.learning_rate = learning_rate;
    metrics.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    metrics.train = metrics_of(step->totals(), classification);
    metrics.has_validation = validation != nullptr;
    if (validation != nullptr) metrics.validation = step->evaluate(*validation);
    loop.result.history.push_back(metrics);
    if (observer) observer->on_epoch(metrics);

    loop.result.best_epoch = epoch;
    if (recipe.early_stopping > 0 && loop.early_stop(network, metrics, *step, recipe.early_stopping)) {
      loop.result.stopped_early = epoch < recipe.epochs;
      break;
    }
    if (checkpoints && checkpoints->save && checkpoints->at_epoch_end && epoch < recipe.epochs)
      save(epoch + 1, 0, MetricSums{}, spec.optimizer.learning_rate);
  }
  step->synchronize();
  if (recipe.early_stopping > 0) loop.restore_best(network);
  if (observer) observer->on_finish(loop.result.best_epoch, loop.result.stopped_early);
  return loop.result;
}

}  // namespace backprop
