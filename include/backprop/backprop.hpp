// The umbrella header of the installed library: the high-level API (model.hpp) and the low-level pieces
// under it. (The list is to be curated: see DESIGN.md, "Parts".)
#pragma once

#include "backprop/error.hpp"

// high level: Model::load / fit / predict / evaluate / save, and the options of fit
#include "backprop/model.hpp"
#include "backprop/train/options.hpp"

// the policy both front-ends share: reading models, preparing data
#include "backprop/data/prepare.hpp"
#include "backprop/io/model_io.hpp"

// low level: networks, the trainer, data sets, files
#include "backprop/data/dataset.hpp"
#include "backprop/data/scaling.hpp"
#include "backprop/io/model_file.hpp"
#include "backprop/io/network_file.hpp"
#include "backprop/nn/network.hpp"
#include "backprop/nn/optimizer.hpp"
#include "backprop/nn/spec.hpp"
#include "backprop/nn/trace.hpp"
#include "backprop/train/progress.hpp"
#include "backprop/train/trainer.hpp"
