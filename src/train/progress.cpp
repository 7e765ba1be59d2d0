#include "backprop/train/progress.hpp"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <string>

#include <nlohmann/json.hpp>

#include "backprop/base/error.hpp"

namespace backprop {
namespace {

std::string duration_text(double seconds) {
  if (!std::isfinite(seconds) || seconds < 0) seconds = 0;
  const long s = std::lround(seconds);
  char buffer[32];
  if (s >= 3600)
    std::snprintf(buffer, sizeof buffer, "%ld:%02ld:%02ld", s / 3600, s / 60 % 60, s % 60);
  else
    std::snprintf(buffer, sizeof buffer, "%ld:%02ld", s / 60, s % 60);
  return buffer;
}

nlohmann::ordered_json number_or_null(double value) {
  return std::isfinite(value) ? nlohmann::ordered_json(value) : nlohmann::ordered_json(nullptr);
}

}  // namespace

ConsoleProgress::ConsoleProgress(std::FILE* out, bool terminal, bool classification)
    : out_(out), terminal_(terminal), classification_(classification) {}

void ConsoleProgress::on_start(int epochs, std::size_t batches_per_epoch, std::size_t rows) {
  epochs_ = epochs;
  batches_ = batches_per_epoch;
  rows_ = rows;
  epoch_started_ = last_draw_ = std::chrono::steady_clock::now();
}

void ConsoleProgress::on_batch(int epoch, std::size_t batch, std::size_t batches, double running_loss) {
  // Redraw at most every 64 batches and 100 ms: the clock costs as much as a small network's whole step.
  if (!terminal_ || (batch % 64 != 1 && batch != batches)) return;
  const auto now = std::chrono::steady_clock::now();
  if (batch == 1) epoch_started_ = now;
  if (now - last_draw_ < std::chrono::milliseconds(100) && batch != batches) return;
  last_draw_ = now;
  const double elapsed = std::chrono::duration<double>(now - epoch_started_).count();
  const double fraction = static_cast<double>(batch) / static_cast<double>(batches);
  const double samples_per_second = elapsed > 0 ? fraction * static_cast<double>(rows_) / elapsed : 0.0;
  const double epoch_left = elapsed / fraction - elapsed;
  const double total_left = epoch_left + (epochs_ - epoch) * (elapsed / fraction);
  constexpr int kWidth = 24;
  const int filled = static_cast<int>(fraction * kWidth);
  std::string bar(filled, '=');
  if (filled < kWidth) bar += '>' + std::string(kWidth - filled - 1, ' ');
  std::fprintf(out_, "\repoch %d/%d [%s] %zu/%zu  %.0f samples/s  ETA %s  loss %.4f\x1b[K", epoch, epochs_,
               bar.c_str(), batch, batches, samples_per_second, duration_text(total_left).c_str(), running_loss);
  std::fflush(out_);
}

void ConsoleProgress::on_epoch(const EpochMetrics& m) {
  if (terminal_) std::fprintf(out_, "\r\x1b[K");
  // Long runs print about 100 lines: every k-th epoch and the last (the --log file has every epoch).
  const int every = std::max(1, (epochs_ + 99) / 100);
  if (m.epoch % every != 0 && m.epoch != epochs_ && m.epoch != 1) return;
  std::string line = "epoch " + std::to_string(m.epoch) + "/" + std::to_string(epochs_);
  char buffer[256];
  if (classification_)
    std::snprintf(buffer, sizeof buffer, "  loss %.4f  accuracy %.4f", m.train.loss, m.train.accuracy);
  else
    std::snprintf(buffer, sizeof buffer, "  loss %.4f  rmse %.4f  mae %.4f", m.train.loss, m.train.rmse, m.train.mae);
  line += buffer;
  if (m.has_validation) {
    if (classification_)
      std::snprintf(buffer, sizeof buffer, "  validation loss %.4f  accuracy %.4f", m.validation.loss,
                    m.validation.accuracy);
    else
      std::snprintf(buffer, sizeof buffer, "  validation loss %.4f  rmse %.4f  mae %.4f", m.validation.loss,
                    m.validation.rmse, m.validation.mae);
    line += buffer;
  }
  std::snprintf(buffer, sizeof buffer, "  lr %.3g  %.1f s (%.0f samples/s)", m.learning_rate, m.seconds,
                m.seconds > 0 ? static_cast<double>(rows_) / m.seconds : 0.0);
  line += buffer;
  std::fprintf(out_, "%s\n", line.c_str());
  std::fflush(out_);
}

void ConsoleProgress::on_finish(int best_epoch, bool stopped_early) {
  if (stopped_early) std::fprintf(out_, "stopped early; keeping the parameters of epoch %d\n", best_epoch);
}

JsonLinesLog::JsonLinesLog(const std::filesystem::path& path) : path_(path), out_(path, std::ios::trunc) {
  // A log that cannot be written is a failed write (exit 1); a missing folder or a log that is an input
  // was refused before the run (io::check_output_files, exit 2).
  if (!out_) throw_runtime_error(path.string() + ": cannot write the log: " + std::strerror(errno));
}

void JsonLinesLog::on_epoch(const EpochMetrics& m) {
  nlohmann::ordered_json j;
  j["epoch"] = m.epoch;
  j["learning_rate"] = m.learning_rate;
  j["seconds"] = m.seconds;
  j["loss"] = number_or_null(m.train.loss);
  j["accuracy"] = number_or_null(m.train.accuracy);
  j["rmse"] = number_or_null(m.train.rmse);
  j["mae"] = number_or_null(m.train.mae);
  if (m.has_validation) {
    j["validation_loss"] = number_or_null(m.validation.loss);
    j["validation_accuracy"] = number_or_null(m.validation.accuracy);
    j["validation_rmse"] = number_or_null(m.validation.rmse);
    j["validation_mae"] = number_or_null(m.validation.mae);
  }
  out_ << j.dump() << "\n";
  out_.flush();
  if (!out_) throw_runtime_error(path_.string() + ": cannot write the log: " + std::strerror(errno));
}

}  // namespace backprop
