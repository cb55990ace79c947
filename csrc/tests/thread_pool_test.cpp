#include "pyml/thread_pool.h"

#include <gtest/gtest.h>
#include <sched.h>

#include <atomic>
#include <thread>
#include <vector>

namespace {

TEST(ThreadPool, RunsEveryIndexExactlyOnce) {
  for (int threads : {1, 2, 4}) {
    pyml::ThreadPool pool(threads);
    EXPECT_EQ(pool.size(), threads);
    std::vector<std::atomic<int>> hits(1000);
    pool.parallel_for(hits.size(), [&](std::size_t i) { hits[i]++; });
    for (auto& h : hits) ASSERT_EQ(h.load(), 1);
  }
}

TEST(ThreadPool, ConcurrentCallersShareOnePool) {
  pyml::ThreadPool pool(3);
  std::atomic<long> total{0};
  std::vector<std::thread> callers;
  for (int c = 0; c < 4; ++c) {
    callers.emplace_back([&] {
      for (int round = 0; round < 50; ++round) {
        pool.parallel_for(10, [&](std::size_t i) { total += static_cast<long>(i); });
      }
    });
  }
  for (auto& t : callers) t.join();
  EXPECT_EQ(total.load(), 4L * 50 * 45);
}

TEST(ThreadPool, ZeroItemsReturnsImmediately) {
  pyml::ThreadPool pool(2);
  pool.parallel_for(0, [](std::size_t) { FAIL(); });
}

}  // namespace

TEST(UsableCores, CgroupCpuMaxLines) {
  EXPECT_EQ(pyml::cores_of_cpu_max("max 100000"), 0);
  EXPECT_EQ(pyml::cores_of_cpu_max("200000 100000"), 2);
  EXPECT_EQ(pyml::cores_of_cpu_max("150000 100000"), 2);  // 1.5 cores: rounded up
  EXPECT_EQ(pyml::cores_of_cpu_max("50000 100000"), 1);
  EXPECT_EQ(pyml::cores_of_cpu_max(""), 0);
  EXPECT_EQ(pyml::cores_of_cpu_max("garbage"), 0);
}

TEST(UsableCores, FollowsTheAffinityMask) {
  cpu_set_t saved;
  ASSERT_EQ(sched_getaffinity(0, sizeof(saved), &saved), 0);
  cpu_set_t one;
  CPU_ZERO(&one);
  for (int cpu = 0; cpu < CPU_SETSIZE; ++cpu) {
    if (CPU_ISSET(cpu, &saved)) {
      CPU_SET(cpu, &one);
      break;
    }
  }
  ASSERT_EQ(sched_setaffinity(0, sizeof(one), &one), 0);
  EXPECT_EQ(pyml::usable_cores(), 1);
  pyml::ThreadPool pool(0);
  EXPECT_EQ(pool.size(), 1);
  ASSERT_EQ(sched_setaffinity(0, sizeof(saved), &saved), 0);
  EXPECT_GE(pyml::usable_cores(), 1);
}
