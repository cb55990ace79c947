#include "pyml/thread_pool.h"

#include <sched.h>

#include <algorithm>
#include <atomic>
#include <fstream>
#include <sstream>

namespace pyml {

namespace {

int affinity_cores() {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof(set), &set) == 0) return std::max(1, CPU_COUNT(&set));
  return static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
}

std::string first_line(const std::string& path) {
  std::ifstream in(path);
  std::string line;
  std::getline(in, line);
  return line;
}

int cores_of_quota(long long quota, long long period) {
  if (quota <= 0 || period <= 0) return 0;
  return static_cast<int>((quota + period - 1) / period);
}

// This process' cgroup path ("/a/b"), from /proc/self/cgroup: the v2 line "0::/a/b", or
// the v1 line of the cpu controller ("N:cpu,cpuacct:/a/b").
std::string own_cgroup(bool v2) {
  std::ifstream in("/proc/self/cgroup");
  for (std::string line; std::getline(in, line);) {
    const std::size_t first = line.find(':'), second = line.find(':', first + 1);
    if (first == std::string::npos || second == std::string::npos) continue;
    const std::string controllers = line.substr(first + 1, second - first - 1);
    const bool cpu =
        controllers == "cpu" || controllers.rfind("cpu,", 0) == 0 ||
        controllers.find(",cpu,") != std::string::npos ||
        (controllers.size() > 4 && controllers.compare(controllers.size() - 4, 4, ",cpu") == 0);
    if ((v2 && controllers.empty()) || (!v2 && cpu)) return line.substr(second + 1);
  }
  return "";
}

// The smallest quota on the way from this process' cgroup up to the root (a limit on a
// parent binds its children); 0 when none is set.
int cgroup_quota_cores() {
  int best = 0;
  auto take = [&best](int cores) {
    if (cores > 0 && (best == 0 || cores < best)) best = cores;
  };
  for (const bool v2 : {true, false}) {
    std::string path = own_cgroup(v2);
    const std::string root = v2 ? "/sys/fs/cgroup" : "/sys/fs/cgroup/cpu";
    for (;;) {
      const std::string dir = root + path;
      if (v2) {
        take(cores_of_cpu_max(first_line(dir + "/cpu.max")));
      } else {
        const std::string quota = first_line(dir + "/cpu.cfs_quota_us");
        const std::string period = first_line(dir + "/cpu.cfs_period_us");
        if (!quota.empty() && !period.empty()) {
          try {
            take(cores_of_quota(std::stoll(quota), std::stoll(period)));
          } catch (const std::exception&) {  // unreadable: no limit known
          }
        }
      }
      if (path.empty() || path == "/") break;
      path = path.substr(0, path.rfind('/'));
    }
  }
  return best;
}

}  // namespace

int cores_of_cpu_max(const std::string& line) {
  std::istringstream in(line);
  std::string quota;
  long long period = 0;
  if (!(in >> quota >> period) || quota == "max") return 0;
  try {
    return cores_of_quota(std::stoll(quota), period);
  } catch (const std::exception&) {
    return 0;
  }
}

int usable_cores() {
  const int affinity = affinity_cores();
  const int quota = cgroup_quota_cores();
  return quota > 0 ? std::min(affinity, quota) : affinity;
}

// One parallel_for call. Every participant claims indices from `next` until
// none are left; the last one to finish wakes the caller.
struct ThreadPool::Loop {
  std::size_t n;
  const std::function<void(std::size_t)>* fn;
  std::atomic<std::size_t> next{0};
  std::atomic<std::size_t> done{0};
  std::mutex mutex;
  std::condition_variable finished;

  void run() {
    for (std::size_t i; (i = next.fetch_add(1)) < n;) {
      (*fn)(i);
      if (done.fetch_add(1) + 1 == n) {
        std::lock_guard<std::mutex> lock(mutex);
        finished.notify_all();
      }
    }
  }
};

ThreadPool::ThreadPool(int threads) {
  if (threads <= 0) threads = usable_cores();
  for (int i = 1; i < threads; ++i) workers_.emplace_back([this] { work(); });
}

ThreadPool::~ThreadPool() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  for (std::thread& t : workers_) t.join();
}

void ThreadPool::work() {
  for (;;) {
    std::shared_ptr<Loop> loop;
    {
      std::unique_lock<std::mutex> lock(mutex_);
      wake_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
      if (queue_.empty()) return;  // stopping, nothing left
      loop = std::move(queue_.front());
      queue_.pop_front();
    }
    loop->run();
  }
}

void ThreadPool::parallel_for(std::size_t n, const std::function<void(std::size_t)>& fn) {
  if (n == 0) return;
  auto loop = std::make_shared<Loop>();
  loop->n = n;
  loop->fn = &fn;
  const std::size_t helpers = std::min(workers_.size(), n - 1);
  if (helpers > 0) {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      for (std::size_t i = 0; i < helpers; ++i) queue_.push_back(loop);
    }
    wake_.notify_all();
  }
  loop->run();
  std::unique_lock<std::mutex> lock(loop->mutex);
  loop->finished.wait(lock, [&] { return loop->done.load() == n; });
}

}  // namespace pyml
