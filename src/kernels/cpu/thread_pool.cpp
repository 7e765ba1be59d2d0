#include "thread_pool.hpp"

#include "backprop/kernels/kernels.hpp"

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <condition_variable>
#include <mutex>
#include <thread>
#include <vector>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define BACKPROP_PAUSE() _mm_pause()
#else
#define BACKPROP_PAUSE() ((void)0)
#endif

namespace backprop::kernels {
namespace {

// One parallel_for call. The caller takes indices from the front, the workers from the back, until they
// meet: with 2 threads each one runs about the same half of every job, step after step, so the blocks of
// C (and the rows or columns of the operands) it touches stay in its own core's cache. The job lives on
// the caller's stack; a worker joins it under the pool's lock, and the caller waits for the pool's count
// of workers inside a job to fall to zero (one job at a time), so no worker touches the job once the
// caller returns.
struct Job {
  const TaskRef<std::size_t>* task = nullptr;
  // The front (next index from the front) in the low 32 bits, the back (one past the next index from the
  // back) in the high 32 bits.
  std::atomic<std::uint64_t> ends{0};

  explicit Job(const TaskRef<std::size_t>* t, std::uint32_t count) : task(t), ends(std::uint64_t{count} << 32) {}

  bool take(bool from_front, std::uint32_t& index) {
    std::uint64_t now = ends.load(std::memory_order_relaxed);
    for (;;) {
      const auto front = static_cast<std::uint32_t>(now);
      const auto back = static_cast<std::uint32_t>(now >> 32);
      if (front >= back) return false;
      const std::uint64_t next = from_front ? now + 1 : now - (std::uint64_t{1} << 32);
      if (ends.compare_exchange_weak(now, next, std::memory_order_relaxed)) {
        index = from_front ? front : back - 1;
        return true;
      }
    }
  }

  void take_indices(bool from_front);
};

// Set while a thread runs a job's task: a parallel_for from inside a task runs inline on that thread
// instead of waiting for the pool it is part of.
thread_local bool inside_task = false;
// Set while an OnCallingThread lives on this thread: its jobs run inline too.
thread_local bool calling_thread_only = false;

void Job::take_indices(bool from_front) {
  inside_task = true;
  for (std::uint32_t i = 0; take(from_front, i);) (*task)(i);
  inside_task = false;
}

// Waiting on a shared 2-core machine. Spinning with PAUSE alone went wrong when another program kept the
// cores busy: the caller spun on a worker that the scheduler had put on the caller's own core, and a
// waiting worker spun through time the caller needed, and the 2-thread figures swung widely from run to run
// (docs/performance.md, "Measurements behind the code"). So a waiter spins briefly (a step's products come
// microseconds apart), then yields the core to whatever else is runnable on it (the thread it waits for,
// perhaps), and a worker idle for longer sleeps.
constexpr int kPauseSpins = 2000;      // PAUSEs: longer than a step's products are apart, far below a time slice
constexpr int kYieldSpins = 200;        // then sched_yield (each returns at once on an idle core)

template <typename Done>
void spin_then_yield(Done done) {
  for (int spin = 0; spin < kPauseSpins; ++spin) {
    if (done()) return;
    BACKPROP_PAUSE();
  }
  while (!done()) std::this_thread::yield();
}

// Workers wait for a new generation of work: they spin a little (a training step issues its products
// microseconds apart, and waking a sleeping thread costs about as much), yield a little, then sleep on a
// condition. They start with the first job that is shared out, not with the pool: a run whose products are all
// too small to share (a table's training, a prediction) never starts a thread, whose start and spinning before it
// slept cost such a process a few percent of its CPU time.
class ThreadPool {
 public:
  ~ThreadPool() { stop_workers(); }

  int size() const { return threads_.load(std::memory_order_relaxed); }
  std::uint64_t shared_jobs() const { return shared_jobs_.load(std::memory_order_relaxed); }
  int started_workers() const { return worker_count_.load(std::memory_order_relaxed); }

  // Waits for the job running now (another thread's product): a resize never pulls workers out of a job.
  void resize(int threads) {
    std::lock_guard<std::mutex> no_job_meanwhile(run_mutex_);
    threads = std::max(threads, 1);
    if (threads == size()) return;
    stop_workers();
    threads_.store(threads, std::memory_order_relaxed);
  }

  void run(std::size_t count, const TaskRef<std::size_t>& task) {
    // threads_, not workers_: a resize from another thread may be changing the vector.
    if (threads_.load(std::memory_order_relaxed) == 1 || count <= 1 || inside_task || calling_thread_only ||
        count > UINT32_MAX) {
      for (std::size_t i = 0; i < count; ++i) task(i);
      return;
    }
    std::lock_guard<std::mutex> one_job_at_a_time(run_mutex_);
    if (workers_.empty()) start_workers();
    Job job(&task, static_cast<std::uint32_t>(count));
    {
      std::lock_guard<std::mutex> lock(mutex_);
      current_ = &job;
      generation_.fetch_add(1, std::memory_order_release);
    }
    wake_.notify_all();
    shared_jobs_.fetch_add(1, std::memory_order_relaxed);
    job.take_indices(true);
    {
      std::lock_guard<std::mutex> lock(mutex_);
      current_ = nullptr;  // no worker joins from now on
    }
    // Every index has been taken; wait for the workers still running theirs.
    spin_then_yield([&] { return workers_inside_.load(std::memory_order_acquire) == 0; });
  }

 private:
  // Both under run_mutex_.
  void start_workers() {
    // Each worker starts from the generation current now: a later change (work, or a stop) wakes it.
    const std::uint64_t start = generation_.load();
    for (int i = 1; i < size(); ++i) workers_.emplace_back([this, start] { work(start); });
    worker_count_.store(static_cast<int>(workers_.size()), std::memory_order_relaxed);
  }

  void stop_workers() {
    if (workers_.empty()) return;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      stop_ = true;
      generation_.fetch_add(1);
    }
    wake_.notify_all();
    for (auto& worker : workers_) worker.join();
    workers_.clear();
    worker_count_.store(0, std::memory_order_relaxed);
    stop_ = false;
  }

  void work(std::uint64_t seen) {
    for (;;) {
      const auto changed = [&] { return generation_.load(std::memory_order_acquire) != seen; };
      for (int spin = 0; spin < kPauseSpins && !changed(); ++spin) BACKPROP_PAUSE();
      for (int spin = 0; spin < kYieldSpins && !changed(); ++spin) std::this_thread::yield();
      Job* job = nullptr;
      {
        std::unique_lock<std::mutex> lock(mutex_);
        wake_.wait(lock, [&] { return generation_.load() != seen; });
        seen = generation_.load();
        if (stop_) return;
        job = current_;
        if (job != nullptr) workers_inside_.fetch_add(1);
      }
      if (job != nullptr) {
        job->take_indices(false);
        workers_inside_.fetch_sub(1, std::memory_order_release);
      }
    }
  }

  std::vector<std::thread> workers_;
  std::mutex mutex_;
  std::mutex run_mutex_;
  std::condition_variable wake_;
  std::atomic<std::uint64_t> generation_{0};
  std::atomic<int> threads_{1};        // the caller and the workers it may start
  std::atomic<int> worker_count_{0};   // workers_.size(), readable without run_mutex_
  std::atomic<int> workers_inside_{0};  // workers inside the current job (there is one job at a time)
  std::atomic<std::uint64_t> shared_jobs_{0};  // jobs the workers were woken for
  bool stop_ = false;
  Job* current_ = nullptr;
};

ThreadPool& pool() {
  static ThreadPool instance;
  static const bool sized = [] {
    instance.resize(static_cast<int>(std::max(1u, std::thread::hardware_concurrency())));
    return true;
  }();
  (void)sized;
  return instance;
}

}  // namespace

void parallel_for(std::size_t count, TaskRef<std::size_t> task) { pool().run(count, task); }

void parallel_ranges(std::size_t n, std::size_t grain, TaskRef<std::size_t, std::size_t> body) {
  if (n <= grain) {
    if (n > 0) body(0, n);
    return;
  }
  const std::size_t pieces = (n + grain - 1) / grain;
  const auto piece_task = [&](std::size_t piece) {
    const std::size_t first = piece * grain;
    body(first, std::min(grain, n - first));
  };
  pool().run(pieces, piece_task);
}
OnCallingThread::OnCallingThread() : before_(calling_thread_only) { calling_thread_only = true; }
OnCallingThread::~OnCallingThread() { calling_thread_only = before_; }

std::uint64_t pool_shared_jobs() { return pool().shared_jobs(); }
int pool_started_workers() { return pool().started_workers(); }
int pool_thread_count() { return pool().size(); }
void set_pool_thread_count(int threads) { pool().resize(threads); }

}  // namespace backprop::kernels
