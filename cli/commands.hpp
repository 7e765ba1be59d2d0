// The backprop command's subcommands. Each add_*_command registers one subcommand with its options and
// a callback that runs it and stores the exit code; library errors propagate as backprop::Error and are
// mapped to exit codes in main.cpp.
#pragma once

#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "backprop/nn/spec.hpp"

namespace backprop::cli {

void add_trace_command(CLI::App& app, int& exit_code);
void add_gradcheck_command(CLI::App& app, int& exit_code);

// "4-2-3-1"
std::string architecture(const NetworkSpec& spec);
// A validator for --loss.
std::optional<LossKind> loss_option(const std::string& text);

}  // namespace backprop::cli
