// Reading a network or a model, and building the model that a trained network saves as: the one place
// where the command and the Python module decide these, so that they cannot drift apart.
#pragma once

#include <filesystem>
#include <string>

#include "backprop/data/dataset.hpp"
#include "backprop/io/model_file.hpp"
#include "backprop/nn/network.hpp"
#include "backprop/nn/spec.hpp"

namespace backprop::io {

struct LoadedModel {
  // As load_model reads it: every parameter present (the initializer's draws from the file's seed where a
  // network file gives none) and rounded to float32; scaling, classes, targets and features of a model.
  ModelFile model;
  // The network with its numbers as the file writes them, in double (a JSON file), for trace and
  // gradcheck, which compute in double; weights a network file leaves out stay empty. A binary model's
  // float32 parameters otherwise (= model.network).
  NetworkSpec exact_network;
  TaskKind task = TaskKind::regression;  // what the loss implies (task_of, nn/spec.hpp)
};

// A network file (JSON), a binary model or a JSON model (by content). Throws Error(bad_input) naming the
// file, and the line (JSON) or byte offset (binary), and what was expected.
LoadedModel read_model(const std::filesystem::path& path);

// The model that saving a trained network writes: its parameters, the scaling its inputs were scaled by,
// and the names of the data it was trained on (classes, targets, features).
ModelFile build_model(const Network<float>& trained, const Scaling& scaling, const Dataset& train_data);

}  // namespace backprop::io

namespace backprop {
// "4-2-3-1": the inputs, then every layer's units.
std::string architecture(const NetworkSpec& spec);
}  // namespace backprop
