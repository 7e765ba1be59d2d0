// A hot loop compiled three times, for x86-64's baseline, x86-64-v3 (AVX2, FMA) and x86-64-v4 (AVX-512), so that an
// installed library or command runs on any x86-64 and still uses the vector units of the one it runs on. The copy
// that runs is the one for cpu_level() (backprop/base/cpu_level.hpp): the CPU's widest, or BACKPROP_CPU's, so that
// a level forced for a test or a benchmark runs the loops as a CPU of that kind would. Nothing to do with
// -march=native (BACKPROP_NATIVE: one copy, for the building CPU), with clang (the fuzzers) or off x86-64.
//
// A loop is written as a function, and the function its callers call hands it and its arguments to clones::run:
//
//     template <typename T>
//     void column_sums(T* sums, const T* in, int rows, int cols, int ld) {
//       clones::run<&column_sums_loop<T>>(sums, in, rows, cols, ld);
//     }
//
// Each copy is a function of the loop's parameters compiled with the level's target, the loop and everything it
// calls inlined into it (flatten), so the loop's __restrict parameters and its helpers are the copy's own. Each loop
// picks its copy once, on its first call (a function pointer kept from then on), so a call costs what an ifunc's
// did: one indirect call, the arguments in registers.
//
// The copies give the same bits: the library is compiled with -ffp-contract=off, so no copy fuses an a * b + c that
// another rounds twice (math::multiply_add says where a product-sum rounds once), and vector and scalar IEEE adds,
// products, quotients and square roots round alike. A loop passed to the thread pool is a lambda whose body calls
// a function that goes through run.
#pragma once

#include <cstdint>

#include "backprop/base/cpu_level.hpp"

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && !defined(BACKPROP_NATIVE_BUILD)
#define BACKPROP_CPU_COPIES 1
#else
#define BACKPROP_CPU_COPIES 0
#endif

namespace backprop::clones {

// Whether the library was built with a copy per level (else one copy: BACKPROP_NATIVE, clang, off x86-64).
bool built_with_copies();
// The level whose copy runs: avx512 (x86-64-v4's) where cpu_level() is avx512, avx2 (x86-64-v3's) where it is avx2
// or above, else baseline, each where the CPU has the whole x86-64 level (else the next narrower). Baseline in a
// build of one copy. Read once.
CpuLevel copy_level();
// copy_level(), counted: each loop calls it once, as it picks its copy.
CpuLevel choose_copy();
// How many loops picked the copy of each level so far (for the tests: a forced level runs its copies).
std::uint64_t loops_on(CpuLevel level);

template <auto loop>
struct Copies;

template <typename R, typename... A, R (*loop)(A...)>
struct Copies<loop> {
#if BACKPROP_CPU_COPIES
  [[gnu::flatten]] static R on_baseline(A... arguments) { return loop(arguments...); }
  [[gnu::target("arch=x86-64-v3"), gnu::flatten]] static R on_v3(A... arguments) { return loop(arguments...); }
  [[gnu::target("arch=x86-64-v4"), gnu::flatten]] static R on_v4(A... arguments) { return loop(arguments...); }

  static R run(A... arguments) {
    static R (*const copy)(A...) = [] {
      switch (choose_copy()) {
        case CpuLevel::baseline:
          return &on_baseline;
        case CpuLevel::avx2:
          return &on_v3;
        case CpuLevel::avx512:
          return &on_v4;
      }
      return &on_baseline;
    }();
    return copy(arguments...);
  }
#else
  [[gnu::always_inline]] static R run(A... arguments) { return loop(arguments...); }
#endif
};

// loop(arguments...) in the copy for the CPU level.
template <auto loop, typename... Arguments>
[[gnu::always_inline]] inline decltype(auto) run(Arguments&&... arguments) {
  return Copies<loop>::run(static_cast<Arguments&&>(arguments)...);
}

}  // namespace backprop::clones
