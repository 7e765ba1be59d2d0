// The vector level the library runs at: which tiles skip a product's zeros (kernels/cpu/zero_skip.hpp), which copy
// of the hot loops runs (src/base/clones.hpp), how far oneDNN's own kernels may go. The widest the CPU runs, unless
// the environment variable BACKPROP_CPU names one (avx512, avx2 or baseline), so that tests and benchmarks can take
// each path the machine can execute, as on a CPU of that kind. Read once, by the first call (the command calls it
// as it starts); throws bad input (exit 2 from the command) when BACKPROP_CPU names no level or one the CPU cannot
// run. kernels.hpp offers the same names in backprop::kernels.
#pragma once

namespace backprop {

enum class CpuLevel { baseline, avx2, avx512 };
CpuLevel cpu_level();
bool cpu_can_run(CpuLevel level);
const char* cpu_level_name(CpuLevel level);

}  // namespace backprop
