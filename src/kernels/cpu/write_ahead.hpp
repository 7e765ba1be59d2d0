// Asking for cache lines to be written before the stores reach them (PREFETCHW). A store to a line that another
// core also holds (the parameters, which both cores' blocks of the forward pass read) cannot complete until that
// core's copy is gone; stores leave the core in order, so a loop that writes such lines one after another waits
// for them one at a time, and where a line takes long to cross between the cores (two vCPUs far apart on their
// host) that wait dominates. Asked a few lines ahead, many of them travel at once (docs/performance.md, "The
// second thread on an AVX2 CPU"). An ask changes no value.
#pragma once

#include <algorithm>
#include <cstddef>

#if defined(__x86_64__) && defined(__GNUC__)
#include <cpuid.h>
#endif

#include "backprop/kernels/kernels.hpp"

namespace backprop::kernels {

// Whether the CPU has PREFETCHW (its CPUID bit): elsewhere the asks are left out. Read with cpuid rather than
// __builtin_cpu_supports, which clang 14 (the fuzzers' compiler) refuses for "prfchw".
inline bool can_prefetch_for_write() {
#if defined(__x86_64__) && defined(__GNUC__)
  static const bool can = [] {
    unsigned eax = 0, ebx = 0, ecx = 0, edx = 0;
    return __get_cpuid(0x80000001u, &eax, &ebx, &ecx, &edx) != 0 && (ecx & bit_PRFCHW) != 0;
  }();
  return can;
#else
  return false;
#endif
}

// Whether to ask: the CPU can, and the pool runs more than one thread (only then does another core hold the
// lines; on one thread the asks only cost instructions).
inline bool ask_for_writes() { return can_prefetch_for_write() && thread_count() > 1; }

inline void prefetch_for_write([[maybe_unused]] const void* address) {
#if defined(__x86_64__) && defined(__GNUC__)
  __asm__ volatile("prefetchw %0" : : "m"(*static_cast<const char*>(address)));
#endif
}

// Runs block(first, count) over [0, n) in blocks of kWriteBlock values, in order, first asking for the lines of
// written[first + kWriteAhead, + kWriteBlock) to be written: for loops that store into written[first, + count)
// (the optimizer's updates). Returns the largest of the blocks' results. Without asks (ask_for_writes), one block.
inline constexpr std::size_t kWriteBlock = 256;
inline constexpr std::size_t kWriteAhead = 512;

template <typename T, typename Result, typename Block>
[[gnu::always_inline]] inline Result writing_ahead(const T* written, std::size_t n, Block block) {
  constexpr std::size_t kLineValues = 64 / sizeof(T);
  if (!ask_for_writes()) return block(std::size_t{0}, n);  // one loop, as without the asks
  Result largest = 0;
  std::size_t first = 0;
  for (; first + kWriteBlock <= n; first += kWriteBlock) {
    for (std::size_t v = first + kWriteAhead; v < std::min(n, first + kWriteAhead + kWriteBlock); v += kLineValues)
      prefetch_for_write(written + v);
    largest = std::max(largest, block(first, kWriteBlock));  // a count the compiler knows: no remainder loop
  }
  if (first < n) largest = std::max(largest, block(first, n - first));
  return largest;
}

}  // namespace backprop::kernels
