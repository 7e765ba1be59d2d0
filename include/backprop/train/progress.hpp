// Training observers: a progress display and a JSON-lines log.
#pragma once

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <vector>

#include "backprop/train/trainer.hpp"

namespace backprop {

// On a terminal: a progress bar with samples per second and the time left, redrawn at most 10 times a
// second, then one line per epoch. Otherwise (a pipe, a file, CI) only the per-epoch lines.
class ConsoleProgress : public TrainingObserver {
 public:
  ConsoleProgress(std::FILE* out, bool terminal, bool classification);
  void on_start(int epochs, std::size_t batches_per_epoch, std::size_t rows) override;
  void on_batch(int epoch, std::size_t batch, std::size_t batches, double running_loss) override;
  void on_epoch(const EpochMetrics& metrics) override;
  void on_finish(int best_epoch, bool stopped_early) override;

 private:
  std::FILE* out_;
  bool terminal_;
  bool classification_;
  int epochs_ = 0;
  std::size_t rows_ = 0;
  std::size_t batches_ = 0;
  std::chrono::steady_clock::time_point epoch_started_, last_draw_;
};

// One JSON object per epoch, one per line, flushed after each:
// {"epoch":1,"learning_rate":..,"seconds":..,"loss":..,"accuracy":..,"rmse":null,"mae":null,
//  "validation_loss":..,"validation_accuracy":..,...}; a metric that does not apply is null.
class JsonLinesLog : public TrainingObserver {
 public:
  explicit JsonLinesLog(const std::filesystem::path& path);  // throws Error(bad_input) if it cannot write
  void on_epoch(const EpochMetrics& metrics) override;

 private:
  std::filesystem::path path_;
  std::ofstream out_;
};

// Passes every event to each observer in turn.
class ObserverList : public TrainingObserver {
 public:
  void add(TrainingObserver* observer) { observers_.push_back(observer); }
  void on_start(int epochs, std::size_t batches, std::size_t rows) override {
    for (auto* o : observers_) o->on_start(epochs, batches, rows);
  }
  void on_batch(int epoch, std::size_t batch, std::size_t batches, double loss) override {
    for (auto* o : observers_) o->on_batch(epoch, batch, batches, loss);
  }
  void on_epoch(const EpochMetrics& metrics) override {
    for (auto* o : observers_) o->on_epoch(metrics);
  }
  void on_finish(int best_epoch, bool stopped_early) override {
    for (auto* o : observers_) o->on_finish(best_epoch, stopped_early);
  }

 private:
  std::vector<TrainingObserver*> observers_;
};

}  // namespace backprop
