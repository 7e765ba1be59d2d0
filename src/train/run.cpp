// TrainingRun: resume, checkpoints, the MPI set-up agreement and the report around train().
#include "backprop/train/run.hpp"

#include <signal.h>

#include <cerrno>
#include <chrono>

#include "backprop/base/error.hpp"
#include "backprop/base/text.hpp"
#include "backprop/io/write_file.hpp"
#include "backprop/kernels/kernels.hpp"
#include "backprop/train/fingerprint.hpp"
#include "backprop/train/importance.hpp"
#include "backprop/train/metrics.hpp"
#include "backprop/train/report.hpp"

namespace backprop {
namespace {

std::string where(const std::filesystem::path& file, const TrainingState& state) {
  return file.string() + " (epoch " + std::to_string(state.epoch) + ", batch " + std::to_string(state.batch) +
         ", step " + std::to_string(state.step) + ")";
}

// A run killed while it wrote the checkpoint leaves "FILE.tmp-PID-XXXXXX" (io::write_file_atomically)
// beside it; such files whose process is gone are removed.
void remove_abandoned_temporaries(const std::filesystem::path& file) {
  const std::string prefix = file.filename().string() + ".tmp-";
  std::error_code error;
  const auto folder = file.has_parent_path() ? file.parent_path() : std::filesystem::path(".");
  for (const auto& entry : std::filesystem::directory_iterator(folder, error)) {
    const std::string name = entry.path().filename().string();
    if (!name.starts_with(prefix) || name.size() == prefix.size()) continue;
    const std::string pid = name.substr(prefix.size(), name.find('-', prefix.size()) - prefix.size());
    if (pid.empty() || pid.find_first_not_of("0123456789") != std::string::npos || pid.size() > 9) continue;
    if (::kill(static_cast<pid_t>(std::stol(pid)), 0) != 0 && errno == ESRCH) std::filesystem::remove(entry, error);
  }
}

bool writes_files(const TrainingParallelism& parallelism) {
  return parallelism.communicator == nullptr || parallelism.communicator->rank() == 0;
}

}  // namespace

void validate(const RunFiles& files) {
  if (!files.checkpoint_every) return;
  if (*files.checkpoint_every < 1 || *files.checkpoint_every > 1000000000L)
    throw OptionError("checkpoint_every", "expected a number of steps in [1, 1000000000], got " +
                                              std::to_string(*files.checkpoint_every));
  if (files.checkpoint.empty())
    throw OptionError("checkpoint_every", "expected a checkpoint file to write (checkpoint), got none");
}

// The checkpoint hooks of train(): the run's fingerprint, the state resumed, the saves and where the last
// good state is.
class TrainingRun::Checkpoints {
 public:
  Checkpoints(Network<float>& network, const TrainingData& data, const TrainingRunSettings& settings)
      : files_(settings.files) {
    const bool deterministic = settings.parallelism.deterministic;
    checkpoint_.run = fingerprint_run(network, data.scaling, data.train, data.validation_or_null(), deterministic);
    checkpoint_.model.scaling = data.scaling;
    checkpoint_.model.classes = data.train.class_names;
    checkpoint_.model.targets = data.train.target_names;
    checkpoint_.model.features = data.train.feature_names;
    if (!files_.resume.empty()) resume(network, settings);
    if (files_.checkpoint.empty() || !writes_files(settings.parallelism)) return;
    remove_abandoned_temporaries(files_.checkpoint);
    hooks_.every_steps = files_.checkpoint_every.value_or(0);
    hooks_.at_epoch_end = true;
    hooks_.save = [this](const TrainingState& state, const Network<float>& trained) { save(state, trained); };
  }

  const RunFingerprint& run() const { return checkpoint_.run; }
  const TrainingCheckpoints* hooks() const { return &hooks_; }

  // For a divergence message: where the last good state is.
  std::string where_to_resume() const {
    if (last_saved_.empty()) return "; no checkpoint was written before that";
    return "; the last good checkpoint is " + last_saved_ + ", kept as it was";
  }

 private:
  void resume(Network<float>& network, const TrainingRunSettings& settings) {
    Checkpoint saved = load_checkpoint(files_.resume);
    check_same_run(saved, checkpoint_.run, files_.resume);
    // The same run: the same network settings, so the same arena; the checkpoint's parameters into it, and the
    // running statistics (a model's state as much as its parameters).
    const Network<float> resumed(saved.model.network);
    if (resumed.parameters().size() != network.parameters().size() ||
        resumed.statistics().size() != network.statistics().size())
      throw_bad_input(files_.resume.string() + ": the checkpoint's model has " +
                      std::to_string(resumed.parameters().size()) + " parameters, the network " +
                      std::to_string(network.parameters().size()));
    std::copy(resumed.parameters().begin(), resumed.parameters().end(), network.parameters().begin());
    std::copy(resumed.statistics().begin(), resumed.statistics().end(), network.statistics().begin());
    resume_ = std::move(saved.state);
    hooks_.resume = &resume_;
    if (settings.notice)
      settings.notice("resuming from " + files_.resume.string() + ": epoch " + std::to_string(resume_.epoch) +
                      ", batch " + std::to_string(resume_.batch) + ", step " + std::to_string(resume_.step));
    last_saved_ = where(files_.resume, resume_);
  }

  void save(const TrainingState& state, const Network<float>& network) {
    // The loop never saves a diverged step; this also keeps a non-finite state out of the file.
    if (!kernels::all_finite(network.parameters().data(), network.parameters().size())) return;
    checkpoint_.state = state;
    checkpoint_.model.network = network.spec_with_parameters();
    save_checkpoint(files_.checkpoint, checkpoint_);
    last_saved_ = where(files_.checkpoint, state);
  }

  const RunFiles& files_;
  Checkpoint checkpoint_;
  TrainingState resume_;
  TrainingCheckpoints hooks_;
  std::string last_saved_;
};

TrainingRun::TrainingRun(Network<float>& network, const TrainingData& data, TrainingRunSettings settings)
    : network_(network), data_(data), settings_(std::move(settings)) {
  validate(settings_.files);
  if (settings_.threshold)
    check_threshold_choice(*settings_.threshold, network_.spec(), data_.validation_or_null() != nullptr);
  const RunFiles& files = settings_.files;
  if (!files.checkpoint.empty() || !files.resume.empty())
    checkpoints_ = std::make_unique<Checkpoints>(network_, data_, settings_);
}

TrainingRun::~TrainingRun() = default;

bool TrainingRun::agree() {
  dist::Communicator* communicator = settings_.parallelism.communicator;
  if (communicator == nullptr || communicator->size() == 1) return true;
  const RunFingerprint run = checkpoints_ ? checkpoints_->run()
                                          : fingerprint_run(network_, data_.scaling, data_.train,
                                                            data_.validation_or_null(),
                                                            settings_.parallelism.deterministic);
  if (!agree_on_setup(*communicator, {}, fingerprint_parts(run))) return false;
  communicator->broadcast(network_.parameters(), 0);  // one start for all, whatever each rank initialized
  communicator->broadcast(network_.statistics(), 0);  // the running statistics too
  return true;
}

TrainingResult TrainingRun::train() {
  const auto started = std::chrono::steady_clock::now();
  TrainingResult result;
  try {
    result = backprop::train(network_, data_.train, data_.validation_or_null(), data_.scaling, settings_.observer,
                             checkpoints_ ? checkpoints_->hooks() : nullptr, settings_.parallelism);
  } catch (const Error& e) {
    if (e.kind() != ErrorKind::runtime || !checkpoints_) throw;
    throw Error(e.kind(), e.what() + checkpoints_->where_to_resume());  // divergence: where the last good state is
  }
  seconds_ = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  if (settings_.threshold)
    threshold_ = pick_threshold(*settings_.threshold, network_, data_.validation_or_null(), data_.scaling,
                                settings_.parallelism.device);
  return result;
}

namespace {

// P(class c) of each row, and whether the row is of class c.
void one_class(std::span<const float> outputs, int width, const Dataset& rows, int c, std::vector<double>& scores,
               std::vector<std::uint8_t>& positive) {
  const auto w = static_cast<std::size_t>(width);
  for (std::size_t r = 0; r < rows.rows; ++r) {
    scores[r] = width == 1 ? (c == 1 ? outputs[r] : 1.0 - outputs[r]) : outputs[r * w + static_cast<std::size_t>(c)];
    positive[r] = rows.labels[r] == c ? 1 : 0;
  }
}

// The classification's figures of the report on `rows` (the validation set, else the training set).
void add_classification_figures(TrainingReport& report, std::span<const float> outputs, int width, const Dataset& rows,
                                std::optional<double> threshold) {
  const ClassificationMetrics m = classification_metrics(outputs, width, rows.labels, rows.class_names, threshold);
  report.confusion = m.confusion;
  report.class_names = rows.class_names;
  report.class_scores = m.classes;
  const int classes = static_cast<int>(rows.class_names.size());
  std::vector<double> scores(rows.rows);
  std::vector<std::uint8_t> positive(rows.rows);
  if (classes == 2) {  // the curves of P(second class)
    one_class(outputs, width, rows, 1, scores, positive);
    report.roc = roc_curve(scores, positive);
    report.precision_recall = precision_recall_curve(scores, positive);
    report.roc_auc = m.roc_auc;
    report.average_precision = m.average_precision;
    report.calibration = calibration_curve(scores, positive);
    report.calibration_of = "P(" + rows.class_names[1] + ") against the rows of class " + rows.class_names[1];
    return;
  }
  for (int c = 0; c < classes; ++c) {
    one_class(outputs, width, rows, c, scores, positive);
    report.class_curves.push_back({rows.class_names[static_cast<std::size_t>(c)], roc_curve(scores, positive),
                                   precision_recall_curve(scores, positive), roc_auc(scores, positive),
                                   average_precision(scores, positive)});
  }
  // The most probable class's probability against whether it is the true class (top-label calibration).
  const auto w = static_cast<std::size_t>(width);
  for (std::size_t r = 0; r < rows.rows; ++r) {
    const int predicted = predicted_class(outputs.data() + r * w, width);
    scores[r] = outputs[r * w + static_cast<std::size_t>(predicted)];
    positive[r] = rows.labels[r] == predicted ? 1 : 0;
  }
  report.calibration = calibration_curve(scores, positive);
  report.calibration_of = "the most probable class's probability against the rows where it is the true class";
}

// The regression's residuals on `rows`: every output of every n-th row, at most kMostResidualPoints points.
void add_regression_figures(TrainingReport& report, std::span<const float> outputs, int width, const Dataset& rows) {
  const auto w = static_cast<std::size_t>(width);
  const std::size_t points = rows.rows * w;
  const std::size_t every = points <= kMostResidualPoints ? 1 : (points + kMostResidualPoints - 1) / kMostResidualPoints;
  for (std::size_t r = 0; r < rows.rows; r += every)
    for (std::size_t o = 0; o < w; ++o)
      report.residuals.push_back({outputs[r * w + o], static_cast<double>(outputs[r * w + o]) - rows.targets[r * w + o]});
  report.residual_rows = rows.rows;
}

}  // namespace

bool TrainingRun::write_report(const TrainingResult& result) const {
  if (settings_.files.report.empty() || !writes_files(settings_.parallelism)) return false;
  const Dataset& train_data = data_.train;
  const Dataset* validation = data_.validation_or_null();
  const RunSources& sources = settings_.sources;
  TrainingReport report;
  report.title = sources.title;
  report.spec = network_.spec();
  report.result = result;
  if (train_data.table) report.table = describe_table(*train_data.table);
  const Dataset& counted = validation ? *validation : train_data;
  const std::vector<float> outputs = network_outputs(network_, counted, data_.scaling);  // (rows, OUT)
  if (train_data.task == TaskKind::classification)
    add_classification_figures(report, outputs, network_.output_size(), counted, threshold_);
  else
    add_regression_figures(report, outputs, network_.output_size(), counted);
  report.confusion_data = std::string(validation ? "validation set, " : "training set, ") +
                          std::to_string(counted.rows) + (counted.rows == 1 ? " row" : " rows");
  if (settings_.report_importance > 0) {
    const ImportanceResult importance = permutation_importance(network_, counted, data_.scaling, "",
                                                               settings_.report_importance, network_.spec().seed,
                                                               nullptr, threshold_);
    report.importance = importance.columns;
    report.importance_metric = importance.metric;
    report.importance_repeats = settings_.report_importance;
  }
  if (!sources.network.empty()) report.settings.emplace_back("network file", sources.network);
  report.settings.emplace_back("training data", sources.training_data);
  report.settings.emplace_back("training rows", std::to_string(train_data.rows));
  if (validation) {
    const std::string split = format_double(network_.spec().training.validation_split);
    report.settings.emplace_back("validation data", sources.validation_data.empty()
                                                        ? "split " + split + " of the training data"
                                                        : sources.validation_data);
    report.settings.emplace_back("validation rows", std::to_string(validation->rows));
  }
  for (auto& row : recipe_settings(network_.spec(), data_.scaling.kind)) report.settings.push_back(std::move(row));
  if (threshold_)
    report.settings.emplace_back("kept threshold", format_general(*threshold_, 6) + " on P(second class), " +
                                                       describe(*settings_.threshold));
  // The "C" locale's figure whatever locale an embedding program set, as every figure of the report.
  report.settings.emplace_back("training wall time", format_fixed(seconds_, seconds_ < 10 ? 3 : 1) + " s");
  write_training_report(settings_.files.report, report);
  return true;
}

bool agree_on_setup(dist::Communicator& communicator, const dist::Failure& mine,
                    const std::vector<dist::SetupPart>& setup) {
  const dist::Failure failure = dist::agree_on_failure(communicator, mine);
  std::string message;
  int exit_code = failure.exit_code;
  if (exit_code != 0) {
    message = "rank " + std::to_string(failure.rank) + " of " + std::to_string(communicator.size()) + ": " +
              failure.message;
  } else {
    message = dist::check_same_setup(communicator, setup);
    exit_code = message.empty() ? 0 : 2;
  }
  if (exit_code != 0 && communicator.rank() == 0)
    throw Error(exit_code == 2 ? ErrorKind::bad_input : ErrorKind::runtime, message);
  return exit_code == 0;
}

}  // namespace backprop
