// Checkpoints and resume (`train --checkpoint FILE --checkpoint-every N`, `--resume FILE`), --deterministic,
// divergence with a checkpoint, and the locale.
//
// The kill test: a run trained without interruption to MODEL_A; the same run with checkpoints, killed by
// SIGKILL three times at different steps (each resumed run writes checkpoints too and is killed again),
// then resumed to the end writing MODEL_B; MODEL_A and MODEL_B must be byte-identical. The run has
// everything that carries state across steps: dropout (its generator), adam (two moment arenas and the
// step count), a cosine schedule with warm-up (the step), a validation split with early stopping (best
// loss, best parameters, patience) and shuffling (the order and its generator).
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <optional>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "backprop/base/error.hpp"
#include "backprop/nn/initializer.hpp"
#include "backprop/train/checkpoint.hpp"
#include "helpers.hpp"
#include "synthetic_data.hpp"

namespace {

namespace fs = std::filesystem;
using backprop::testing::CommandResult;
using backprop::testing::read_text;
using backprop::testing::run_backprop;
using backprop::testing::source_path;
using backprop::testing::TempDir;
using backprop::testing::write_file;
using ::testing::HasSubstr;

using backprop::testing::shell_word;

// Three classes in six features: a class centre plus noise, from the project's generator.
std::string make_csv(int rows, std::uint64_t seed) {
  backprop::Random random(seed);
  std::ostringstream out;
  out.precision(9);
  out << "a,b,c,d,e,f,label\n";
  for (int r = 0; r < rows; ++r) {
    const int label = static_cast<int>(random.below(3));
    for (int f = 0; f < 6; ++f) out << (f == label * 2 ? 2.0 : 0.0) + random.normal() << ",";
    out << "class" << label << "\n";
  }
  return out.str();
}

constexpr const char* kNetwork = R"({"input": 6, "layers": [
  {"units": 24, "activation": "relu", "dropout": 0.2},
  {"units": 12, "activation": "tanh", "dropout": 0.1},
  {"units": 3, "activation": "softmax"}], "seed": 11})";

// The run's options (besides the network, the data and --out).
const std::vector<std::string> kRunOptions = {"--epochs", "6", "--batch-size", "16", "--optimizer", "adam",
                                              "--learning-rate", "0.005", "--schedule", "cosine", "--warmup", "30",
                                              "--validation-split", "0.2", "--early-stopping", "4", "--scale",
                                              "standard", "--quiet"};

class Checkpoints : public ::testing::Test {
 protected:
  void SetUp() override {
    write_file(dir_ / "net.json", kNetwork);
    write_file(dir_ / "data.csv", make_csv(4000, 5));
  }

  std::vector<std::string> run_arguments(const fs::path& out, const std::vector<std::string>& extra) const {
    std::vector<std::string> args = {"train", (dir_ / "net.json").string(), "--data", (dir_ / "data.csv").string()};
    args.insert(args.end(), kRunOptions.begin(), kRunOptions.end());
    args.insert(args.end(), extra.begin(), extra.end());
    args.insert(args.end(), {"--out", out.string()});
    return args;
  }

  static std::string joined(const std::vector<std::string>& args) {
    std::string text;
    for (const auto& a : args) text += (text.empty() ? "" : " ") + shell_word(a);
    return text;
  }

  // The step of the checkpoint at path, or -1 while there is none (a rename makes a reader see the old
  // file or the new one, never a part).
  static long checkpoint_step(const fs::path& path) {
    if (!fs::exists(path)) return -1;
    try {
      return backprop::load_checkpoint(path).state.step;
    } catch (const std::exception&) {
      return -1;  // replaced between exists() and the read
    }
  }

  // Starts the command, waits until the checkpoint reaches kill_step, waits delay_ms more, kills it with
  // SIGKILL. Returns true if it was killed (false: it ended by itself first).
  static bool run_and_kill(const std::vector<std::string>& args, const fs::path& checkpoint, long kill_step,
                           int delay_ms) {
    const pid_t child = ::fork();
    if (child == 0) {
      const int null = ::open("/dev/null", O_WRONLY);
      ::dup2(null, STDOUT_FILENO);
      ::dup2(null, STDERR_FILENO);
      backprop::testing::exec_backprop(args);
    }
    int status = 0;
    for (;;) {
      if (::waitpid(child, &status, WNOHANG) == child) return false;  // finished (or failed) before the kill
      if (checkpoint_step(checkpoint) >= kill_step) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(delay_ms));
    ::kill(child, SIGKILL);
    ::waitpid(child, &status, 0);
    return WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL;
  }

  TempDir dir_;
};

// The kill test (see the top of the file) for one setting: the uninterrupted run with `mode` (its options),
// then the same run with checkpoints every 7 steps killed once after each step of kill_steps (a few
// milliseconds after that checkpoint, so between checkpoints; the runs alternate thread counts), then
// resumed to the end. Returns the number of kills survived; the models must be byte-identical.
class KillTest : public Checkpoints {
 public:
  int run(const std::vector<std::string>& mode, const std::vector<long>& kill_steps) {
    const fs::path model_a = dir_ / "a.bin", model_b = dir_ / "b.bin", checkpoint = dir_ / "run.ckpt";
    auto with = [](std::vector<std::string> extra, const std::vector<std::string>& more) {
      extra.insert(extra.end(), more.begin(), more.end());
      return extra;
    };
    const CommandResult uninterrupted = run_backprop(joined(run_arguments(model_a, with(mode, {"--threads", "2"}))));
    EXPECT_EQ(uninterrupted.exit_code, 0) << uninterrupted.out;
    const std::vector<std::string> save =
        with(mode, {"--checkpoint", checkpoint.string(), "--checkpoint-every", "7"});
    const std::vector<std::string> resume = with(save, {"--resume", checkpoint.string()});
    std::string resumed_from;  // the checkpoint's step after each kill
    int killed = 0;
    for (std::size_t k = 0; k < kill_steps.size(); ++k) {
      const auto args = with(k == 0 ? save : resume, {"--threads", k % 2 == 0 ? "1" : "2"});
      const bool was_killed =
          run_and_kill(run_arguments(model_b, args), checkpoint, kill_steps[k], static_cast<int>(1 + 2 * k));
      EXPECT_TRUE(was_killed) << "the run ended before it was killed after step " << kill_steps[k];
      killed += was_killed ? 1 : 0;
      const long step = checkpoint_step(checkpoint);
      EXPECT_GE(step, kill_steps[k]);
      resumed_from += (resumed_from.empty() ? "" : ", ") + std::to_string(step);
      EXPECT_FALSE(fs::exists(model_b));
    }
    const CommandResult finished = run_backprop(joined(run_arguments(model_b, with(resume, {"--threads", "2"}))));
    EXPECT_EQ(finished.exit_code, 0) << finished.out;
    for (const auto& entry : fs::directory_iterator(dir_.path()))  // a kill during a write leaves one; resuming removes it
      EXPECT_EQ(entry.path().filename().string().find("run.ckpt.tmp-"), std::string::npos) << entry.path();
    const std::string a = read_text(model_a), b = read_text(model_b);
    EXPECT_FALSE(a.empty());
    EXPECT_TRUE(a == b) << "a run killed " << killed << " times and resumed from the checkpoints of steps "
                        << resumed_from << " differs from the uninterrupted run";
    std::printf("[ kill test ] %s: %d SIGKILLs survived, resumed from the checkpoints of steps %s of 1200; model "
                "%zu bytes, bit-identical to the uninterrupted run: %s\n",
                mode.empty() ? "default" : mode.front().c_str(), killed, resumed_from.c_str(), b.size(),
                a == b ? "yes" : "no");
    return killed;
  }
};

// 3200 training rows in batches of 16: 200 steps per epoch, 1200 in all.
TEST_F(KillTest, DeterministicRunKilledThreeTimesGivesTheSameModelByteForByte) {
  EXPECT_EQ(run({"--deterministic"}, {150, 520, 930}), 3);
}

// Without --deterministic a run is as reproducible on one process, and so is its resume.
TEST_F(KillTest, DefaultRunKilledTwiceGivesTheSameModelByteForByte) { EXPECT_EQ(run({}, {330, 780}), 2); }

TEST_F(Checkpoints, ResumingAnotherRunIsRefused) {
  const fs::path checkpoint = dir_ / "run.ckpt";
  // One epoch: a checkpoint between epochs is not written after the last, so --checkpoint-every writes it.
  auto args = run_arguments(dir_ / "m.bin", {"--checkpoint", checkpoint.string(), "--checkpoint-every", "50"});
  args[5] = "1";  // --epochs 1
  const CommandResult trained = run_backprop(joined(args));
  ASSERT_EQ(trained.exit_code, 0) << trained.out;
  ASSERT_TRUE(fs::exists(checkpoint));

  // Another network file (one more hidden unit).
  std::string other = kNetwork;
  other.replace(other.find("24"), 2, "25");
  write_file(dir_ / "other.json", other);
  // The same run's arguments (one epoch) with `extra`.
  auto same_run = [&](const std::vector<std::string>& extra) {
    auto resumed = run_arguments(dir_ / "m2.bin", extra);
    resumed[5] = "1";
    return resumed;
  };
  auto other_network = same_run({"--resume", checkpoint.string()});
  other_network[1] = (dir_ / "other.json").string();
  CommandResult refused = run_backprop(joined(other_network));
  EXPECT_EQ(refused.exit_code, 2) << refused.out;
  EXPECT_THAT(refused.out, HasSubstr(checkpoint.string() + ": this checkpoint was written by a different run"));
  EXPECT_THAT(refused.out, HasSubstr("layers[0].units"));

  // Another weight decay.
  refused = run_backprop(joined(same_run({"--resume", checkpoint.string(), "--weight-decay", "0.01"})));
  EXPECT_EQ(refused.exit_code, 2) << refused.out;
  EXPECT_THAT(refused.out, HasSubstr("optimizer.weight_decay"));

  // --deterministic changes the arithmetic (train/trainer.hpp), so it must match too.
  refused = run_backprop(joined(same_run({"--resume", checkpoint.string(), "--deterministic"})));
  EXPECT_EQ(refused.exit_code, 2) << refused.out;
  EXPECT_THAT(refused.out, HasSubstr("written without --deterministic"));

  // The same run resumes (from its last checkpoint, after step 150 of 200) and gives the same model.
  const CommandResult resumed = run_backprop(joined(same_run({"--resume", checkpoint.string()})));
  ASSERT_EQ(resumed.exit_code, 0) << resumed.out;
  EXPECT_TRUE(read_text(dir_ / "m.bin") == read_text(dir_ / "m2.bin"));
  fs::remove(dir_ / "m2.bin");

  // Other data: one number changed.
  std::string data = read_text(dir_ / "data.csv");
  data[data.find('\n') + 3] = data[data.find('\n') + 3] == '1' ? '2' : '1';
  write_file(dir_ / "data.csv", data);
  refused = run_backprop(joined(same_run({"--resume", checkpoint.string()})));
  EXPECT_EQ(refused.exit_code, 2) << refused.out;
  EXPECT_THAT(refused.out, HasSubstr("data differs"));
  EXPECT_FALSE(fs::exists(dir_ / "m2.bin"));
}

TEST_F(Checkpoints, DamagedCheckpointIsRefusedNamingTheFile) {
  const fs::path checkpoint = dir_ / "run.ckpt";
  auto args = run_arguments(dir_ / "m.bin", {"--checkpoint", checkpoint.string(), "--checkpoint-every", "100"});
  args[5] = "1";
  ASSERT_EQ(run_backprop(joined(args)).exit_code, 0);
  std::string bytes = read_text(checkpoint);
  ASSERT_GT(bytes.size(), 1000u);
  for (const std::size_t at : {std::size_t{9}, bytes.size() / 2, bytes.size() - 20}) {
    std::string damaged = bytes;
    damaged[at] = static_cast<char>(damaged[at] ^ 0x10);
    write_file(dir_ / "damaged.ckpt", damaged);
    const CommandResult refused =
        run_backprop(joined(run_arguments(dir_ / "m2.bin", {"--resume", (dir_ / "damaged.ckpt").string()})));
    EXPECT_EQ(refused.exit_code, 2) << refused.out;
    EXPECT_THAT(refused.out, HasSubstr((dir_ / "damaged.ckpt").string() + ": offset "));
  }
  write_file(dir_ / "short.ckpt", bytes.substr(0, bytes.size() / 3));
  const CommandResult truncated =
      run_backprop(joined(run_arguments(dir_ / "m2.bin", {"--resume", (dir_ / "short.ckpt").string()})));
  EXPECT_EQ(truncated.exit_code, 2) << truncated.out;
  EXPECT_THAT(truncated.out, HasSubstr("short.ckpt"));
  EXPECT_FALSE(fs::exists(dir_ / "m2.bin"));
}

TEST_F(Checkpoints, BadOptionsAreRefused) {
  CommandResult refused = run_backprop(
      joined(run_arguments(dir_ / "m.bin", {"--checkpoint", (dir_ / "c").string(), "--checkpoint-every", "0"})));
  EXPECT_EQ(refused.exit_code, 2) << refused.out;
  EXPECT_THAT(refused.out, HasSubstr("--checkpoint-every"));
  refused = run_backprop(joined(run_arguments(dir_ / "m.bin", {"--checkpoint-every", "5"})));
  EXPECT_EQ(refused.exit_code, 2) << refused.out;
  EXPECT_THAT(refused.out, HasSubstr("--checkpoint-every (checkpoint_every): expected a checkpoint file to write "
                                     "(checkpoint), got none"));
  refused = run_backprop(joined(run_arguments(dir_ / "m.bin", {"--resume", (dir_ / "missing.ckpt").string()})));
  EXPECT_EQ(refused.exit_code, 2) << refused.out;
  write_file(dir_ / "not.ckpt", "hello, world\n");
  refused = run_backprop(joined(run_arguments(dir_ / "m.bin", {"--resume", (dir_ / "not.ckpt").string()})));
  EXPECT_EQ(refused.exit_code, 2) << refused.out;
  EXPECT_THAT(refused.out, HasSubstr("not.ckpt: offset 0: wrong magic"));
  EXPECT_FALSE(fs::exists(dir_ / "m.bin"));
}

// Divergence with --checkpoint: exit 1, the message says where the last good checkpoint is, and that
// checkpoint holds finite parameters (a diverged state is never written).
TEST_F(Checkpoints, DivergenceKeepsTheLastGoodCheckpoint) {
  const fs::path checkpoint = dir_ / "run.ckpt";
  write_file(dir_ / "linear.json", R"({"input": 6, "layers": [{"units": 1, "activation": "identity"}],
    "loss": "mse", "optimizer": {"type": "sgd", "learning_rate": 3.0}, "seed": 1})");
  std::ostringstream csv;
  csv << "a,b,c,d,e,f,y\n";
  for (int r = 0; r < 64; ++r) csv << r << ",1,2,3,4,5," << r * 10 << "\n";
  write_file(dir_ / "grow.csv", csv.str());
  const CommandResult diverged =
      run_backprop("train " + shell_word(dir_ / "linear.json") + " --data " + shell_word(dir_ / "grow.csv") +
                   " --batch-size 8 --epochs 50 --checkpoint " + shell_word(checkpoint) +
                   " --checkpoint-every 2 --quiet --out " + shell_word(dir_ / "m.bin"));
  EXPECT_EQ(diverged.exit_code, 1) << diverged.out;
  EXPECT_THAT(diverged.out, HasSubstr("training diverged"));
  EXPECT_THAT(diverged.out, HasSubstr("the last good checkpoint is " + checkpoint.string()));
  ASSERT_TRUE(fs::exists(checkpoint));
  const backprop::Checkpoint saved = backprop::load_checkpoint(checkpoint);
  EXPECT_GE(saved.state.step, 2);
  EXPECT_FALSE(fs::exists(dir_ / "m.bin"));
}

TEST(Deterministic, SameModelForEveryThreadCount) {
  TempDir dir;
  write_file(dir / "net.json", kNetwork);
  write_file(dir / "data.csv", make_csv(1500, 9));
  std::string models[2];
  for (int threads : {1, 2}) {
    const fs::path out = dir / ("m" + std::to_string(threads) + ".bin");
    const CommandResult trained =
        run_backprop("train " + shell_word(dir / "net.json") + " --data " + shell_word(dir / "data.csv") +
                     " --epochs 2 --optimizer adam --deterministic --quiet --threads " + std::to_string(threads) +
                     " --out " + shell_word(out));
    ASSERT_EQ(trained.exit_code, 0) << trained.out;
    models[threads - 1] = read_text(out);
  }
  EXPECT_TRUE(models[0] == models[1]) << "--threads 1 and --threads 2 trained different models";
}

TEST(RandomState, SavedAndRestoredContinuesTheSameSequence) {
  backprop::Random a(42);
  a.normal();  // leaves a spare normal
  const std::string state = a.state();
  backprop::Random b(7);
  b.set_state(state);
  for (int i = 0; i < 5; ++i) EXPECT_EQ(a.normal(), b.normal());
  for (int i = 0; i < 5; ++i) EXPECT_EQ(a.below(1000), b.below(1000));
  EXPECT_THROW(b.set_state("12 x"), backprop::Error);
}

// The engine is std::mt19937_64 written out (base/random.hpp): each number against the standard library's, from
// several seeds and across many regenerations of the state, one at a time and a run at a time (bits53: the
// numbers shifted right by 11); and the text of its state is libstdc++'s, both ways, so that checkpoints written
// before keep resuming. The standard fixes the 10000th number of the default seed: 9981545732273789042.
TEST(RandomEngine, EveryNumberAndTheStateTextAreStdMt19937_64s) {
  EXPECT_EQ([] {
    backprop::MersenneTwister64 engine(5489);
    for (int i = 1; i < 10000; ++i) engine();
    return engine();
  }(), 9981545732273789042u);
  for (const std::uint64_t seed : {std::uint64_t{0}, std::uint64_t{1}, std::uint64_t{42}, ~std::uint64_t{0}}) {
    std::mt19937_64 reference(seed);
    backprop::MersenneTwister64 engine(seed);
    for (int i = 0; i < 2000; ++i) ASSERT_EQ(engine(), reference()) << "seed " << seed << ", number " << i;
    std::uint64_t run[1000];
    for (const std::size_t n : {std::size_t{1}, std::size_t{311}, std::size_t{312}, std::size_t{313}, std::size_t{1000}}) {
      engine.numbers(run, n, 11);
      for (std::size_t i = 0; i < n; ++i) ASSERT_EQ(run[i], reference() >> 11) << "seed " << seed << ", run of " << n;
    }
    std::ostringstream ours, theirs;
    ours << engine;
    theirs << reference;
    EXPECT_EQ(ours.str(), theirs.str());
    reference();
    std::ostringstream later;
    later << reference;
    std::istringstream in(later.str());
    ASSERT_TRUE(in >> engine);
    EXPECT_EQ(engine(), reference());
  }
  backprop::MersenneTwister64 engine(1);
  std::ostringstream text;
  text << engine;
  std::string past = text.str();
  past.replace(past.rfind(' ') + 1, std::string::npos, "313");  // the index past the 312 words
  std::istringstream in(past);
  EXPECT_FALSE(in >> engine);
}

// Random::bits53 gives the integers k of uniform() (k 2^-53), and a draw is below p exactly when k is below
// bits53_below(p): checked against the double comparison at the k on either side of p's boundary, for p that are
// and are not a multiple of 2^-53, and at 0 and 1.
TEST(RandomEngine, AnIntegerDrawIsBelowPExactlyWhenItsUniformIs) {
  backprop::Random a(3), b(3);
  std::uint64_t k[600];
  a.bits53(k, 600);
  for (const std::uint64_t value : k) EXPECT_EQ(static_cast<double>(value) * 0x1.0p-53, b.uniform());
  for (const double p : {0.0, 0.1, 0.5, 0.3 + 1e-17, 0x1.0p-53, 3 * 0x1.0p-53, 1.0 - 0x1.0p-53, 1.0, 0.9999999}) {
    const std::uint64_t below = backprop::Random::bits53_below(p);
    for (std::uint64_t value = below > 2 ? below - 2 : 0; value <= std::min<std::uint64_t>(below + 2, (1ull << 53) - 1);
         ++value)
      EXPECT_EQ(value < below, static_cast<double>(value) * 0x1.0p-53 < p) << "p " << p << ", k " << value;
  }
}

// ---- locale ----

// The program never sets a locale, so the C library stays in the "C" locale whatever LC_ALL says; and it
// prints numbers with std::to_chars or snprintf under that "C" locale.
TEST(Locale, TheProgramNeverSetsALocale) {
  for (const char* folder : {"src", "cli", "include", "python"}) {
    const fs::path root = source_path(folder);
    if (!fs::exists(root)) continue;
    for (const auto& entry : fs::recursive_directory_iterator(root)) {
      const auto ext = entry.path().extension();
      if (ext != ".cpp" && ext != ".hpp" && ext != ".cu" && ext != ".cuh" && ext != ".h") continue;
      const std::string text = read_text(entry.path());
      EXPECT_EQ(text.find("setlocale("), std::string::npos) << entry.path();
      EXPECT_EQ(text.find("locale::global"), std::string::npos) << entry.path();
    }
  }
}

// The library's output under a comma-decimal locale that an embedding program sets is checked in process:
// HardeningLocale.TheLibraryWritesTheSameUnderACommaDecimalLocaleSetInProcess (test_hardening.cpp).

}  // namespace

namespace backprop {
namespace {

// One fingerprint for both checks: what the MPI ranks compare (fingerprint_parts) follows what a checkpoint
// compares (run_difference), part by part.
TEST(RunFingerprint, EachDifferenceShowsInItsOwnPartAndInTheCheckpointsWords) {
  const NetworkSpec spec = testing::one_weight_network(0.5);
  const Dataset data = testing::one_feature_regression(1.0f, 2.0f, 8);
  const Network<float> network(spec);
  const RunFingerprint base = fingerprint_run(network, Scaling{}, data, nullptr, false);
  EXPECT_EQ(run_difference(base, base), "");
  EXPECT_FALSE(base.build.empty());

  Dataset other_values = data;
  other_values.targets[3] = 7.0f;
  NetworkSpec other_spec = spec;
  other_spec.optimizer.learning_rate *= 2;
  Scaling scaling;
  scaling.kind = ScalingKind::standard;
  scaling.offset = {0.5};
  scaling.scale = {2.0};
  RunFingerprint other_build = base;
  other_build.build += "; another compiler";
  struct Case {
    RunFingerprint run;
    std::size_t part;             // index in fingerprint_parts
    const char* checkpoint_words;  // in run_difference's sentence ("" where it does not compare)
  };
  const std::vector<Case> cases = {
      {other_build, 0, ""},
      {fingerprint_run(Network<float>(other_spec), Scaling{}, data, nullptr, false), 1, "training settings differ"},
      {fingerprint_run(network, Scaling{}, other_values, nullptr, false), 2, "same size, different values"},
      {fingerprint_run(network, Scaling{}, data, &data, false), 2, "the validation data differs"},
      {fingerprint_run(network, scaling, data, nullptr, false), 4, "the feature scaling differs"},
      {fingerprint_run(network, Scaling{}, data, nullptr, true), 5, "without --deterministic"},
  };
  const auto base_parts = fingerprint_parts(base);
  for (const Case& c : cases) {
    SCOPED_TRACE(c.checkpoint_words);
    const auto parts = fingerprint_parts(c.run);
    ASSERT_EQ(parts.size(), base_parts.size());
    for (std::size_t p = 0; p < parts.size(); ++p)
      EXPECT_EQ(parts[p].hash != base_parts[p].hash, p == c.part) << parts[p].what;
    if (*c.checkpoint_words == '\0')
      EXPECT_EQ(run_difference(base, c.run), "");  // a checkpoint may resume in another build
    else
      EXPECT_THAT(run_difference(base, c.run), ::testing::HasSubstr(c.checkpoint_words));
  }
}

}  // namespace
}  // namespace backprop
