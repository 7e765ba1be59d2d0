// The vector level (backprop/base/cpu_level.hpp): what the CPU can run, and BACKPROP_CPU, read here and nowhere
// else; and the copy of the hot loops it picks (base/clones.hpp).
#include "backprop/base/cpu_level.hpp"

#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "backprop/base/error.hpp"
#include "base/clones.hpp"

namespace backprop {
namespace {

#if defined(__x86_64__) && defined(__GNUC__)
// What each level's code is compiled for (src/kernels/cpu/zero_skip.cpp): AVX2's is x86-64-v3's vector part.
bool has_avx2() {
  static const bool has = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") &&
                          __builtin_cpu_supports("bmi") && __builtin_cpu_supports("popcnt");
  return has;
}
bool has_avx512() {
  static const bool has = has_avx2() && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("bmi2");
  return has;
}
#else
bool has_avx2() { return false; }
bool has_avx512() { return false; }
#endif

CpuLevel widest() { return has_avx512() ? CpuLevel::avx512 : has_avx2() ? CpuLevel::avx2 : CpuLevel::baseline; }

CpuLevel read_level() {
  const char* environment = std::getenv("BACKPROP_CPU");
  if (environment == nullptr || *environment == '\0') return widest();
  const std::string name = environment;
  CpuLevel level = CpuLevel::baseline;
  if (name == "avx512") {
    level = CpuLevel::avx512;
  } else if (name == "avx2") {
    level = CpuLevel::avx2;
  } else if (name != "baseline") {
    throw_bad_input("BACKPROP_CPU: expected avx512, avx2 or baseline, got '" + name + "'");
  }
  if (!cpu_can_run(level))
    throw_bad_input(std::string("BACKPROP_CPU=") + name + ": this CPU cannot run it (" +
                    (level == CpuLevel::avx512 ? "no AVX-512F or BMI2" : "no AVX2, FMA, BMI or POPCNT") +
                    "); the widest level it runs is " + cpu_level_name(widest()));
  return level;
}

#if BACKPROP_CPU_COPIES
// The copy for a level: its x86-64 level's, where the CPU has all of that (x86-64-v3 asks for more than AVX2, FMA,
// BMI and POPCNT: BMI2, F16C, LZCNT, MOVBE; v4 for AVX-512 BW, CD, DQ and VL beside F), else the next narrower.
CpuLevel read_copy_level() {
  const CpuLevel level = cpu_level();
  if (level == CpuLevel::avx512 && __builtin_cpu_supports("x86-64-v4")) return CpuLevel::avx512;
  if (level != CpuLevel::baseline && __builtin_cpu_supports("x86-64-v3")) return CpuLevel::avx2;
  return CpuLevel::baseline;
}
#endif

std::atomic<std::uint64_t> loops_on_level[3];

}  // namespace

bool cpu_can_run(CpuLevel level) {
  switch (level) {
    case CpuLevel::baseline:
      return true;
    case CpuLevel::avx2:
      return has_avx2();
    case CpuLevel::avx512:
      return has_avx512();
  }
  return false;
}

const char* cpu_level_name(CpuLevel level) {
  switch (level) {
    case CpuLevel::baseline:
      return "baseline";
    case CpuLevel::avx2:
      return "avx2";
    case CpuLevel::avx512:
      return "avx512";
  }
  return "?";
}

CpuLevel cpu_level() {
  static const CpuLevel level = read_level();  // a throw leaves it unset: the next call reads again
  return level;
}

namespace clones {

bool built_with_copies() { return BACKPROP_CPU_COPIES; }

CpuLevel copy_level() {
#if BACKPROP_CPU_COPIES
  static const CpuLevel level = read_copy_level();
  return level;
#else
  return CpuLevel::baseline;
#endif
}

CpuLevel choose_copy() {
  const CpuLevel level = copy_level();
  loops_on_level[static_cast<int>(level)].fetch_add(1, std::memory_order_relaxed);
  return level;
}

std::uint64_t loops_on(CpuLevel level) { return loops_on_level[static_cast<int>(level)].load(); }

}  // namespace clones
}  // namespace backprop
