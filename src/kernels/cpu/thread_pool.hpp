// The project's one pool of threads (private to kernels/). The BLAS runs single-threaded inside it, so
// no two thread pools compete for the cores (PyTorch's loss on 2 cores came from exactly that: docs/performance.md,
// "Measurements behind the code").
//
// parallel_for(count, task) runs task(0..count-1), each index exactly once, on the calling thread and the
// workers, and returns when all are done. Which thread runs an index never changes a result: callers
// make each index's work independent of the others.
#pragma once

#include <cstddef>
#include <cstdint>

#include "backprop/kernels/kernels.hpp"

namespace backprop::kernels {

void parallel_for(std::size_t count, TaskRef<std::size_t> task);
// Threads used by parallel_for, the caller included (>= 1). Default: the machine's cores.
int pool_thread_count();
// How many jobs so far woke the pool's workers (for the tests: OnCallingThread keeps them asleep).
std::uint64_t pool_shared_jobs();
void set_pool_thread_count(int threads);
// Worker threads running now: none until a job is first shared out (for the tests).
int pool_started_workers();

}  // namespace backprop::kernels
