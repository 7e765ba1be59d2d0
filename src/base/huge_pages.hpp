// Asking Linux to back a large buffer with 2 MiB pages (transparent huge pages), where the system leaves them to
// each program's advice (/sys/kernel/mm/transparent_hugepage/enabled "madvise", Debian's default). A buffer of
// tens of MB written once otherwise takes a page fault every 4 KiB, and on a virtual machine those faults cost
// more than the writes: reading Fashion-MNIST's 47 MB of pixels took 11,500 of them (docs/performance.md, "The
// main job's fixed part"). Advice only: where the kernel declines, or off Linux, nothing changes but the time.
#pragma once

#include <cstddef>
#include <cstdint>

#ifdef __linux__
#include <sys/mman.h>
#endif

namespace backprop {

// Below this a buffer holds at most one whole huge page: not worth a system call.
inline constexpr std::size_t kHugePageAdviceBytes = std::size_t{4} << 20;

inline void advise_huge_pages([[maybe_unused]] const void* data, [[maybe_unused]] std::size_t bytes) {
#ifdef __linux__
  if (bytes < kHugePageAdviceBytes) return;
  constexpr std::uintptr_t kPage = 4096;  // madvise takes whole pages; the huge ones inside the range follow
  const auto start = reinterpret_cast<std::uintptr_t>(data);
  const std::uintptr_t first = (start + kPage - 1) & ~(kPage - 1);
  const std::uintptr_t last = (start + bytes) & ~(kPage - 1);
  if (last > first) (void)madvise(reinterpret_cast<void*>(first), last - first, MADV_HUGEPAGE);
#endif
}

}  // namespace backprop
