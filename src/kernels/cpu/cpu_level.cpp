// The vector level of the float products (kernels.hpp, CpuLevel): what the CPU can run, and BACKPROP_CPU, read
// here and nowhere else.
#include <cstdlib>
#include <string>

#ifdef BACKPROP_WITH_ONEDNN
#include <oneapi/dnnl/dnnl.h>
#endif

#include "backprop/base/error.hpp"
#include "backprop/kernels/kernels.hpp"

namespace backprop::kernels {
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

// A forced level below the CPU's also holds oneDNN's kernels to it, so that the dense products run as on a CPU of
// that kind; a user's ONEDNN_MAX_CPU_ISA is left to oneDNN. Done before the library's first oneDNN call (the
// level is read first); should oneDNN refuse (another user of the same oneDNN in the process came first), its
// kernels stay as they were.
void limit_onednn(CpuLevel level) {
#ifdef BACKPROP_WITH_ONEDNN
  if (std::getenv("ONEDNN_MAX_CPU_ISA") != nullptr || std::getenv("DNNL_MAX_CPU_ISA") != nullptr) return;
  switch (level) {
    case CpuLevel::baseline:
      dnnl_set_max_cpu_isa(dnnl_cpu_isa_sse41);
      return;
    case CpuLevel::avx2:
      dnnl_set_max_cpu_isa(dnnl_cpu_isa_avx2);
      return;
    case CpuLevel::avx512:
      return;
  }
#else
  (void)level;
#endif
}

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
  if (level != widest()) limit_onednn(level);
  return level;
}

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

}  // namespace backprop::kernels
