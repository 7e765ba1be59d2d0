// The training settings, each declared once, in one list: the registry that the options, the spec, the network
// file, the command and Python are built from. One entry a setting, in the order of TrainingOptions, the
// command's --help and backprop.training_settings():
//
//   IN_TRAINING(key, Type, default, ...)  a setting kept in TrainingSpec as it is: the list declares the field
//                                         `Type key = default;` of TrainingSpec (nn/spec.hpp), the network
//                                         file's "training.key" (read and written by io/network_file.cpp in a
//                                         loop: an int as a whole number in the range, a float in the range or
//                                         the default; written only when not the default unless always_written,
//                                         so that files without it keep their bytes), and TrainingOptions'
//                                         std::optional<Type> key, written into the field by apply().
//   ELSEWHERE(key, Type, ...)             a setting whose spec field is declared by hand (the optimizer's, the
//                                         schedule's, every layer's, the seed) and read by the network file's
//                                         own code: TrainingOptions' std::optional<Type> key.
//
// `...` are the rest of the entry, SettingDeclaration's fields by name (nn/settings.hpp): the command's help,
// the range and the words of its message, an example, the estimators' parameter. Types: int and long (Python's
// int), double (float), bool (bool: optimizer.centered), std::string (str), std::uint64_t (the seed).
// An optimizer's coefficient (file key "optimizer.KEY") is refused, from the file or the option, with a rule that
// does not read it (optimizer_uses, nn/spec.hpp); "{optimizers}" in its help stands for the rules that read it.
//
// Adding a float setting kept in the training recipe is an IN_TRAINING entry here and the code that uses it;
// docs/architecture.md ("Add a training setting") has the checklist.
#pragma once

#define BACKPROP_TRAINING_SETTINGS(IN_TRAINING, ELSEWHERE)                                                       \
  IN_TRAINING(epochs, int, 10, .range = {1, 1000000}, .expected = "a number of epochs in [1, 1000000]",           \
              .always_written = true, .help = "Passes over the training data (file default: 10)", .example = "3", \
              .sklearn = "max_iter")                                                                             \
  IN_TRAINING(batch_size, int, 32, .range = {1, 1 << 20}, .expected = "a number of rows in [1, 1048576]",         \
              .always_written = true, .help = "Rows per step; the last partial batch is used (default 32)",        \
              .example = "8", .sklearn = "batch_size")                                                           \
  ELSEWHERE(optimizer, std::string, .file_key = "optimizer.type", .file_default = "sgd",                         \
            .names = SettingNames::optimizer, .help = "{choices} (torch.optim's rules)", .example = "adam",       \
            .sklearn = "solver")                                                                                 \
  ELSEWHERE(learning_rate, double, .file_key = "optimizer.learning_rate",                                        \
            .in_spec = [](NetworkSpec& s) -> SpecField { return &s.optimizer.learning_rate; },                    \
            .file_default = "0.1", .range = kPositive, .expected = "a positive number",                          \
            .help = "Base learning rate", .example = "0.01", .sklearn = "learning_rate_init")                    \
  ELSEWHERE(momentum, double, .file_key = "optimizer.momentum",                                                  \
            .in_spec = [](NetworkSpec& s) -> SpecField { return &s.optimizer.momentum; }, .range = kUnitInterval,  \
            .expected = "a number in [0, 1)", .help = "Momentum (momentum, nesterov: default 0.9; rmsprop: 0)",   \
            .example = "0.5", .sklearn = "momentum")                                                             \
  ELSEWHERE(beta1, double, .file_key = "optimizer.beta1",                                                        \
            .in_spec = [](NetworkSpec& s) -> SpecField { return &s.optimizer.beta1; }, .file_default = "0.9",     \
            .range = kUnitInterval, .expected = "a number in [0, 1)",                                            \
            .help = "{optimizers}: decay of the gradient's running mean (torch's betas[0]; default 0.9)",         \
            .example = "0.8", .sklearn = "beta_1")                                                               \
  ELSEWHERE(beta2, double, .file_key = "optimizer.beta2",                                                        \
            .in_spec = [](NetworkSpec& s) -> SpecField { return &s.optimizer.beta2; }, .file_default = "0.999",   \
            .range = kUnitInterval, .expected = "a number in [0, 1)",                                            \
            .help = "{optimizers}: decay of the squared gradient's running mean (torch's betas[1]; default "      \
                    "0.999)",                                                                                    \
            .example = "0.99", .sklearn = "beta_2")                                                              \
  ELSEWHERE(epsilon, double, .file_key = "optimizer.epsilon",                                                    \
            .in_spec = [](NetworkSpec& s) -> SpecField { return &s.optimizer.epsilon; }, .file_default = "1e-8",  \
            .range = kPositive, .expected = "a positive number",                                                 \
            .help = "{optimizers}: added to the root of the second moment (torch's eps; default 1e-8)",           \
            .example = "1e-6", .sklearn = "epsilon")                                                             \
  ELSEWHERE(weight_decay, double, .file_key = "optimizer.weight_decay",                                          \
            .in_spec = [](NetworkSpec& s) -> SpecField { return &s.optimizer.weight_decay; },                     \
            .range = {0, kInfinity}, .expected = "a number >= 0",                                                \
            .help = "Weight decay: L2, or decoupled for adamw (default 0; adamw 0.01)", .example = "0.001",       \
            .sklearn = "alpha")                                                                                  \
  /* No estimators' parameter: scikit-learn's alpha is the L2 penalty (weight_decay above) */                   \
  ELSEWHERE(alpha, double, .file_key = "optimizer.alpha",                                                        \
            .in_spec = [](NetworkSpec& s) -> SpecField { return &s.optimizer.alpha; }, .file_default = "0.99",    \
            .range = kUnitInterval, .expected = "a number in [0, 1)",                                            \
            .help = "{optimizers}: decay of the squared gradient's running mean (torch's alpha; default 0.99)",   \
            .example = "0.9")                                                                                    \
  ELSEWHERE(centered, bool, .file_key = "optimizer.centered",                                                    \
            .in_spec = [](NetworkSpec& s) -> SpecField { return &s.optimizer.centered; },                         \
            .file_default = "false",                                                                             \
            .help = "{optimizers}: divide by the root of the gradient's variance rather than of its mean "       \
                    "square (torch's centered; default false)",                                                  \
            .example = "true")                                                                                   \
  ELSEWHERE(schedule, std::string, .file_key = "training.schedule.type", .file_default = "constant",             \
            .names = SettingNames::schedule,                                                                     \
            .help = "Learning-rate schedule: {choices} (one_cycle: torch's OneCycleLR up to --learning-rate; no " \
                    "--warmup)",                                                                                 \
            .example = "cosine", .sklearn = "schedule")                                                          \
  ELSEWHERE(warmup, long, .file_key = "training.schedule.warmup",                                                \
            .in_spec = [](NetworkSpec& s) -> SpecField { return &s.training.schedule.warmup_steps; },             \
            .file_default = "0", .range = {0, 1000000000}, .expected = "a number of steps in [0, 1000000000]",    \
            .help = "Steps of linear warm-up before the schedule", .example = "5", .sklearn = "warmup")          \
  IN_TRAINING(clip_grad_norm, double, 0, .range = kPositive, .expected = "a positive number",                    \
              .file_expected = "a number >= 0 (0: no clipping)", .always_written = true,                         \
              .help = "Clip the gradient's global L2 norm to this", .example = "1.5", .sklearn = "clip_grad_norm") \
  ELSEWHERE(dropout, double, .file_key = "layers[].dropout", .file_default = "0", .range = kUnitInterval,         \
            .expected = "a probability in [0, 1)", .help = "Dropout probability of every hidden layer (training " \
                                                           "only)",                                              \
            .example = "0.25", .sklearn = "dropout")                                                             \
  ELSEWHERE(scale, std::string, .file_key = "training.scale", .file_default = "none",                            \
            .names = SettingNames::scaling, .help = "Feature scaling fitted on the training data: {choices}",     \
            .example = "standard", .sklearn = "scale")                                                           \
  IN_TRAINING(early_stopping, int, 0, .range = {0, 1000000}, .expected = "a patience in [0, 1000000] (0: off)",   \
              .always_written = true,                                                                            \
              .help = "Stop after this many epochs without a better validation loss, keeping the best "          \
                      "parameters (0: off)",                                                                     \
              .example = "2", .sklearn = "n_iter_no_change")                                                     \
  IN_TRAINING(validation_split, double, 0, .range = kUnitInterval, .expected = "a fraction in [0, 1)",            \
              .always_written = true,                                                                            \
              .help = "Hold out this fraction of the training rows (shuffled by the seed; each class its share) " \
                      "for validation",                                                                          \
              .example = "0.2", .sklearn = "validation_fraction")                                                \
  /* softmax_ce only: TrainingOptions::apply refuses it for another loss, validate(NetworkSpec) in a file */      \
  IN_TRAINING(label_smoothing, double, 0, .range = kUnitInterval, .expected = "a number in [0, 1) (0: off)",      \
              .help = "softmax_ce only: train against (1 - X) one-hot + X / classes (torch's label_smoothing; 0: " \
                      "off); the training and validation losses are the smoothed loss, eval reports the plain "  \
                      "one",                                                                                     \
              .example = "0.1", .sklearn = "label_smoothing")                                                    \
  ELSEWHERE(class_weight, std::string, .file_key = "training.class_weight", .names = SettingNames::class_weight,  \
            .help = "Classification: each class's weight in the loss, balanced (n / (classes x the class's "     \
                    "rows), scikit-learn's) or LABEL=W,LABEL=W (labels as the data writes them; others 1), or "  \
                    "none (torch's CrossEntropyLoss(weight=) / BCELoss(weight=))",                               \
            .example = "balanced", .sklearn = "class_weight")                                                    \
  ELSEWHERE(seed, std::uint64_t, .file_key = "seed", .in_spec = [](NetworkSpec& s) -> SpecField { return &s.seed; }, \
            .file_default = "1",                                                                                 \
            .help = "Seed of the initialization (of the weights a network file leaves out), shuffling, dropout " \
                    "and the validation split",                                                                  \
            .example = "7", .sklearn = "random_state")
