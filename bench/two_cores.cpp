// Are the machine's first two CPUs two cores right now? Prints the GFLOP/s of one single-threaded sgemm loop
// (the MLP's first product, 128x256x784) alone on CPU 0, then of two at once, one pinned to each of CPUs 0
// and 1. On a virtual machine two vCPUs are sometimes one physical core (or another guest is busy on it),
// and nothing inside the guest shows it; then every 2-thread figure is worth ~1.1x one thread, whatever the
// program. It also prints how long one cache line takes to go from CPU 0 to CPU 1 and back: two vCPUs on one
// core complex of the host pass a line in tens of nanoseconds, two on different ones in a few hundred, and a
// training step whose two threads share its parameters (the forward reads all of W, the update writes it by
// halves) pays that for every line. bench/run.py runs this before and after its jobs (docs/performance.md,
// "Measuring").
#include <cblas.h>
#include <pthread.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <thread>
#include <vector>

extern "C" void openblas_set_num_threads(int);

namespace {

void pin(int cpu) {
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(cpu, &set);
  pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
}

double gflops_on(int cpu) {
  pin(cpu);
  const int m = 128, n = 256, k = 784, repeat = 300;
  std::vector<float> a(static_cast<std::size_t>(m) * k, 0.5f), b(static_cast<std::size_t>(k) * n, 0.25f);
  std::vector<float> c(static_cast<std::size_t>(m) * n);
  const auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < repeat; ++i)
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, m, n, k, 1.0f, a.data(), k, b.data(), n, 0.0f, c.data(), n);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return repeat * 2.0 * m * n * k / seconds / 1e9;
}

// Nanoseconds of one round trip of a cache line between CPUs 0 and 1 (a flag set by one, cleared by the other).
double line_round_trip_ns() {
  alignas(64) static std::atomic<int> flag{0};
  const int trips = 200000;
  std::thread other([&] {
    pin(1);
    for (int i = 0; i < trips; ++i) {
      while (flag.load(std::memory_order_acquire) != 1) {
      }
      flag.store(0, std::memory_order_release);
    }
  });
  pin(0);
  const auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < trips; ++i) {
    flag.store(1, std::memory_order_release);
    while (flag.load(std::memory_order_acquire) != 0) {
    }
  }
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  other.join();
  return seconds / trips * 1e9;
}

}  // namespace

int main() {
  openblas_set_num_threads(1);
  const double alone = gflops_on(0);
  double first = 0, second = 0;
  std::thread other([&] { second = gflops_on(1); });
  first = gflops_on(0);
  other.join();
  const double round_trip = line_round_trip_ns();
  std::printf("one sgemm loop alone %.0f GFLOP/s; two at once %.0f + %.0f: %s; a cache line CPU 0 -> 1 -> 0 %.0f ns\n",
              alone, first, second,
              first + second > 1.6 * alone ? "2 cores" : "SHARED (2-thread figures are not trustworthy now)",
              round_trip);
}
