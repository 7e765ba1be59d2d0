// Training checkpoints: everything a run needs to continue bit for bit after it was killed
// (`backprop train ... --checkpoint FILE --checkpoint-every N`, then the same command with `--resume FILE`).
//
// File layout (all integers little-endian; written atomically: temporary file, fsync, rename):
//   offset 0   8 bytes  magic "BKCKPT\r\n"
//           8  u32      format version (1)
//          12  u32      header length H
//          16  H bytes  header: UTF-8 JSON object
//                         "format": "backprop-checkpoint"
//                         "run": the fingerprint of the run (RunFingerprint below): "settings" (the network
//                                file of the run after the command's options, without weights), "initial_parameters",
//                                "scaling", "train" {"rows", "features", "checksum"}, "validation" (same, or null),
//                                "deterministic" (whether --deterministic was given)
//                         "state": the scalars of TrainingState (epoch, batch, step, learning_rate, the running
//                                sums, optimizer_steps, the two generator states as text, early stopping,
//                                history); every double is written as its IEEE-754 bits (an unsigned integer),
//                                so NaN and infinity survive and nothing is rounded
//                         "sizes": {"model_bytes", "order", "arena", "optimizer_arenas", "best_parameters"}
//      16 + H  model_bytes  the model as `backprop export --format json` writes it (parameters bit-exact)
//              order x u64  the epoch's order of the training rows
//              optimizer_arenas x arena x f32   Optimizer::state(), in its order
//              best_parameters x f32            early stopping's best epoch: 0 values, or its parameters (arena values)
//                                               then the running statistics of its batch_norms
//      end - 8 u64      FNV-1a 64 checksum of every byte before it
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>

#include "backprop/data/dataset.hpp"
#include "backprop/io/model_file.hpp"
#include "backprop/nn/network.hpp"
#include "backprop/train/fingerprint.hpp"
#include "backprop/train/trainer.hpp"

namespace backprop {

inline constexpr unsigned kCheckpointFormatVersion = 1;

struct Checkpoint {
  RunFingerprint run;
  io::ModelFile model;      // the network with the state's parameters, scaling, classes, names
  TrainingState state;
};

// Atomic: on failure the file at path is left as it was. Throws Error(bad_input) naming path.
void save_checkpoint(const std::filesystem::path& path, const Checkpoint& checkpoint);
// Throws Error(bad_input) naming the file and byte offset: wrong magic or version, truncated, checksum
// mismatch, sizes that do not fit, a header that is not a checkpoint's.
Checkpoint load_checkpoint(const std::filesystem::path& path);
// Throws Error(bad_input) "FILE: ... was written by a different run: WHAT differs" unless run is the
// checkpoint's run.
void check_same_run(const Checkpoint& checkpoint, const RunFingerprint& run, const std::filesystem::path& path);

}  // namespace backprop
