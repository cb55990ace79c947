// File: pyml/thread_pool.h
//
// A fixed set of worker threads for data-parallel loops. The calling thread
// works too, so a pool of size 1 has no workers and runs everything inline.
// Several threads may call parallel_for on one pool at the same time.
//
// Example:
//   pyml::ThreadPool pool(4);
//   pool.parallel_for(images.size(), [&](std::size_t i) { work(images[i]); });
//
// Caveat: `fn` must not throw; catch inside it and record the failure.
#ifndef PYML_THREAD_POOL_H_
#define PYML_THREAD_POOL_H_

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace pyml {

// The cores this process may use: its CPU affinity mask, capped by the CPU quota of its
// cgroup (v2 cpu.max or v1 cpu.cfs_quota_us, rounded up) where one is set, at least 1.
// std::thread::hardware_concurrency() counts the machine's cores instead, so a container
// limited to 2 of 64 cores would start 64 threads. Python's usable_cores() calls this.
int usable_cores();

// The whole cores a cgroup v2 `cpu.max` line ("QUOTA PERIOD", or "max PERIOD") allows,
// rounded up; 0 for no limit or a line it cannot read.
int cores_of_cpu_max(const std::string& line);

class ThreadPool {
 public:
  // threads <= 0 means one per usable core (usable_cores()).
  explicit ThreadPool(int threads);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  int size() const noexcept { return static_cast<int>(workers_.size()) + 1; }

  // Calls fn(i) for every i in [0, n), spread over the pool; returns when all are done.
  void parallel_for(std::size_t n, const std::function<void(std::size_t)>& fn);

 private:
  struct Loop;
  void work();

  std::vector<std::thread> workers_;
  std::deque<std::shared_ptr<Loop>> queue_;
  std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;
};

}  // namespace pyml

#endif  // PYML_THREAD_POOL_H_
