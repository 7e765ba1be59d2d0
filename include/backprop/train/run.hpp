// A training run: train() with the policy around it, once for `backprop train`, Model::fit and Python's fit:
// resuming from a checkpoint (only the run that wrote it: the fingerprint), checkpoints every N steps and
// between epochs, the agreement of the ranks of an MPI job before the first step, and the HTML report.
//
//   TrainingRun run(network, data, settings);   // resumes (the checkpoint's parameters into network)
//   if (!run.agree()) return;                    // MPI: another rank failed (rank 0 throws its message)
//   TrainingResult result = run.train();
//   ... save the model ...
//   run.write_report(result);                    // when settings.files.report is set
#pragma once

#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "backprop/train/prepare.hpp"
#include "backprop/dist/communicator.hpp"
#include "backprop/nn/network.hpp"
#include "backprop/train/checkpoint.hpp"
#include "backprop/train/threshold.hpp"
#include "backprop/train/trainer.hpp"

namespace backprop {

// The files a run reads and writes besides its model. Paths are shown in messages as given.
struct RunFiles {
  // Save the training state here (atomically) between epochs and every checkpoint_every steps; empty: none.
  std::filesystem::path checkpoint;
  std::optional<long> checkpoint_every;  // steps between checkpoints, in [1, 1000000000]; needs checkpoint
  // Continue from this checkpoint: the run must be the one that wrote it (the same network, options and
  // data), and the result is bit-identical to the uninterrupted run. May be the same file as checkpoint.
  std::filesystem::path resume;
  std::filesystem::path report;  // the training report (train/report.hpp), written by write_report; empty: none
};

// What the report says of the run's inputs (its first settings rows) and its title.
struct RunSources {
  std::string title = "training report";
  std::string network;          // the "network file" row; empty: no such row
  std::string training_data;    // the "training data" row
  std::string validation_data;  // the "validation data" row of a given validation set; empty: the recipe's split
};

struct TrainingRunSettings {
  RunFiles files;
  RunSources sources;
  TrainingObserver* observer = nullptr;  // progress (train/progress.hpp)
  // The communicator (an MPI job: every rank makes the same run; rank 0 alone writes the checkpoint and the
  // report), --deterministic (part of the run's fingerprint) and the device.
  TrainingParallelism parallelism;
  // Receives the lines for the user ("resuming from FILE: epoch E, batch B, step S"); null: none.
  std::function<void(const std::string&)> notice;
  // A two-class model's decision threshold to keep (train/threshold.hpp), picked once training is done (f1 and
  // youden on the validation rows); checked when the run is made. None: none kept.
  std::optional<ThresholdChoice> threshold;
  // Permutation importance in the report (train/importance.hpp: the task's default figure, this many shuffles
  // of each column, from the network's seed), on the rows of its confusion matrix; 0: none.
  int report_importance = 0;
};

// Checks a RunFiles: OptionError of "checkpoint_every" outside [1, 1000000000] or without a checkpoint.
void validate(const RunFiles& files);

class TrainingRun {
 public:
  // network: as the run starts (its spec's recipe is the run's). With files.resume, the checkpoint is read,
  // refused unless it is this run's (Error(bad_input) "FILE: this checkpoint was written by a different run:
  // ..."), and its parameters are put into network. network and data must outlive the run.
  TrainingRun(Network<float>& network, const TrainingData& data, TrainingRunSettings settings);
  ~TrainingRun();
  TrainingRun(const TrainingRun&) = delete;
  TrainingRun& operator=(const TrainingRun&) = delete;

  // An MPI job: every rank calls it once its set-up is done; the ranks must be the same run (the build,
  // network, options and data: rank 0 throws Error(bad_input) naming the first that differs), then every
  // rank starts from rank 0's parameters. One process: true at once. See agree_on_setup for a failed set-up.
  bool agree();
  // train() with the checkpoints. A divergence (Error(runtime)) names the last good checkpoint.
  TrainingResult train();
  double seconds() const { return seconds_; }  // train()'s wall time
  // The threshold settings.threshold picked after train() (the model keeps it: io::ModelFile::threshold).
  std::optional<double> threshold() const { return threshold_; }
  // The report of the trained network (settings.files.report; nothing when empty or on ranks > 0): the
  // curves, on the validation set if there is one (else the training set) the confusion matrix and the
  // per-class scores (at the kept threshold), the network, the sources, the recipe and the wall time. Returns
  // whether it wrote it.
  bool write_report(const TrainingResult& result) const;

 private:
  class Checkpoints;
  Network<float>& network_;
  const TrainingData& data_;
  TrainingRunSettings settings_;
  std::unique_ptr<Checkpoints> checkpoints_;
  double seconds_ = 0;
  std::optional<double> threshold_;
};

// The agreement of the ranks of an MPI job before training. Every rank calls it once after its set-up,
// passing its own failure (exit_code 0: none) and its setup parts (train/fingerprint.hpp): when some rank
// failed, rank 0 throws that rank's message ("rank R of N: ...", with its kind: exit code 2 bad_input, else
// runtime) and the others return false; then rank 0 throws the first part that differs (bad_input). Returns
// true when training may start. TrainingRun::agree calls it; a caller whose set-up threw calls it with the
// failure.
bool agree_on_setup(dist::Communicator& communicator, const dist::Failure& mine,
                    const std::vector<dist::SetupPart>& setup);

}  // namespace backprop
