// What makes a run the run it is. One fingerprint serves both checks that need it: a checkpoint is resumed
// only by the run that wrote it (train/checkpoint.hpp), and the ranks of an MPI job must all be the same run
// (dist::check_same_setup). Its hashes are FNV-1a 64, the one hash of the library (the model files' checksum).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "backprop/data/dataset.hpp"
#include "backprop/data/scaling.hpp"
#include "backprop/dist/communicator.hpp"
#include "backprop/nn/network.hpp"

namespace backprop {

struct RunFingerprint {
  // The version, compiler and instruction set (FMA and vector width change the rounding of the products):
  // ranks must compute alike; a checkpoint may be resumed by another build. Not saved in a checkpoint.
  std::string build;
  std::string settings;                     // JSON: the network file of the run without weights and bias
  std::uint64_t initial_parameters = 0;     // FNV-1a of the starting parameter arena (float bits)
  std::uint64_t scaling = 0;                // FNV-1a of the scaling's numbers
  std::size_t train_rows = 0;
  int train_features = 0;
  std::uint64_t train_checksum = 0;         // FNV-1a of the features, labels or targets and class names
  bool has_validation = false;
  std::size_t validation_rows = 0;
  std::uint64_t validation_checksum = 0;
  bool deterministic = false;               // --deterministic (its arithmetic differs: train/trainer.hpp)
};

// network: as it starts (before any step). validation may be null.
RunFingerprint fingerprint_run(const Network<float>& network, const Scaling& scaling, const Dataset& train,
                               const Dataset* validation, bool deterministic);

// How the run `now` differs from the run `saved`, as the end of a sentence ("the training data differs
// (same size, different values)"); "" when they are the same run. The build is not compared: a checkpoint
// may be resumed by another build.
std::string run_difference(const RunFingerprint& saved, const RunFingerprint& now);

// Each part of the fingerprint as one hash, in a fixed order, with the words that name it for a message
// ("its training or validation data ..."): what the ranks of an MPI job compare (dist::check_same_setup).
std::vector<dist::SetupPart> fingerprint_parts(const RunFingerprint& run);

}  // namespace backprop
