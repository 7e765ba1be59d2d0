// The umbrella header: every installed header of the library (the curated public set; the library's
// internal headers live under src/ and are not installed). docs/architecture.md maps the parts.
//
// High level (mirrors the Python module): backprop::Model::load(path), model.fit(x, y, options),
// model.predict(x), model.evaluate(x, y), model.save(path).
// Low level (for the learner and the embedder): Network, Workspace, Optimizer, train(), the data sets, files.
#pragma once

// base: errors, random numbers, aligned arrays, task references, metric sums, the kinds, text and file reading,
// the CPU's vector level
#include "backprop/base/aligned.hpp"
#include "backprop/base/cpu_level.hpp"
#include "backprop/base/error.hpp"
#include "backprop/base/kinds.hpp"
#include "backprop/base/metric_sums.hpp"
#include "backprop/base/random.hpp"
#include "backprop/base/read_file.hpp"
#include "backprop/base/task.hpp"
#include "backprop/base/text.hpp"

// the high-level API and its options; where the math runs
#include "backprop/device.hpp"
#include "backprop/model.hpp"
#include "backprop/train/options.hpp"

// kernels: matrix products, element-wise loops, the thread count
#include "backprop/kernels/kernels.hpp"

// nn: the network, its layers, losses, optimizers, schedules, initializers; trace and gradient check
#include "backprop/nn/batch_rows.hpp"
#include "backprop/nn/dense.hpp"
#include "backprop/nn/gradient_check.hpp"
#include "backprop/nn/initializer.hpp"
#include "backprop/nn/loss.hpp"
#include "backprop/nn/network.hpp"
#include "backprop/nn/optimizer.hpp"
#include "backprop/nn/schedule.hpp"
#include "backprop/nn/spec.hpp"
#include "backprop/nn/trace.hpp"

// data and io: data sets and loaders, scaling; network and model files, ONNX export, atomic writes, the trace
#include "backprop/data/columns.hpp"
#include "backprop/data/dataset.hpp"
#include "backprop/data/scaling.hpp"
#include "backprop/io/model_file.hpp"
#include "backprop/io/model_io.hpp"
#include "backprop/io/network_file.hpp"
#include "backprop/io/onnx_export.hpp"
#include "backprop/io/output_files.hpp"
#include "backprop/io/trace_render.hpp"
#include "backprop/io/write_file.hpp"

// train: data for a network, train(), the training run (resume, checkpoints, report), evaluation, checkpoints,
// progress and logs, the report; dist: the communicator of MPI runs
#include "backprop/dist/communicator.hpp"
#include "backprop/train/prepare.hpp"
#include "backprop/train/checkpoint.hpp"
#include "backprop/train/progress.hpp"
#include "backprop/train/report.hpp"
#include "backprop/train/run.hpp"
#include "backprop/train/settings.hpp"
#include "backprop/train/fingerprint.hpp"
#include "backprop/train/metrics.hpp"
#include "backprop/train/cross_validation.hpp"
#include "backprop/train/importance.hpp"
#include "backprop/train/threshold.hpp"
#include "backprop/train/trainer.hpp"
