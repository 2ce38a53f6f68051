// covekit/parallel.hpp: every item done once, results handed over on the calling
// thread, stealing, and the first error rethrown after every thread stopped. The
// suite's name has "Thread" in it, so `make test` runs it under ThreadSanitizer too.
#include "covekit/parallel.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <numeric>
#include <stdexcept>
#include <thread>
#include <vector>

#include "covekit/errors.hpp"

namespace covekit::parallel {
namespace {

TEST(ParallelThreads, ResolveThreads) {
  EXPECT_EQ(resolve_threads(4, 100), 4u);
  EXPECT_EQ(resolve_threads(4, 2), 2u);
  EXPECT_EQ(resolve_threads(4, 0), 1u);
  EXPECT_GE(resolve_threads(0, 1000), 1u);
}

TEST(ParallelThreads, ParallelForDoesEveryIndexOnce) {
  for (std::size_t threads : {1u, 2u, 3u, 8u}) {
    std::vector<std::atomic<int>> seen(1000);
    parallel_for(seen.size(), threads, [&](std::size_t i) { seen[i].fetch_add(1); });
    for (const auto& s : seen) ASSERT_EQ(s.load(), 1);
  }
  parallel_for(0, 4, [](std::size_t) { FAIL() << "no item to do"; });
}

TEST(ParallelThreads, ParallelForRethrowsTheFirstError) {
  std::atomic<int> inside{0};
  EXPECT_THROW(parallel_for(500, 4,
                            [&](std::size_t i) {
                              inside.fetch_add(1);
                              if (i == 123) {
                                inside.fetch_sub(1);
                                throw InvalidInput("item 123");
                              }
                              inside.fetch_sub(1);
                            }),
               InvalidInput);
  EXPECT_EQ(inside.load(), 0);  // every thread had stopped
}

TEST(ParallelThreads, BalancedSlicesTileTheItems) {
  std::vector<std::size_t> sizes(1000);
  for (std::size_t i = 0; i < sizes.size(); ++i) sizes[i] = (i * 37) % 101;
  const auto size_of = [&](std::size_t i) { return sizes[i]; };
  for (std::size_t parts : {1u, 2u, 7u, 16u, 1000u, 5000u}) {
    const std::vector<Slice> slices = balanced_slices(sizes.size(), parts, size_of);
    ASSERT_FALSE(slices.empty());
    ASSERT_LE(slices.size(), std::min<std::size_t>(parts, sizes.size()));
    std::size_t next = 0, total = 0;
    for (const Slice& s : slices) {
      ASSERT_EQ(s.begin, next);
      ASSERT_LT(s.begin, s.end);
      ASSERT_EQ(s.size, std::accumulate(sizes.begin() + static_cast<std::ptrdiff_t>(s.begin),
                                        sizes.begin() + static_cast<std::ptrdiff_t>(s.end), std::size_t{0}));
      next = s.end;
      total += s.size;
    }
    EXPECT_EQ(next, sizes.size());
    EXPECT_EQ(total, std::accumulate(sizes.begin(), sizes.end(), std::size_t{0}));
  }
  // Zero-size items: one slice of everything; no items: no slice.
  EXPECT_EQ(balanced_slices(5, 3, [](std::size_t) { return std::size_t{0}; }).size(), 1u);
  EXPECT_TRUE(balanced_slices(0, 3, [](std::size_t) { return std::size_t{1}; }).empty());
}

TEST(ParallelThreads, RunSlicesDoesEverySliceOnceAndHandsEachOverOnTheCallingThread) {
  const auto caller = std::this_thread::get_id();
  for (std::size_t threads : {1u, 2u, 3u, 8u, 64u}) {
    for (std::size_t n : {1u, 2u, 5u, 64u, 333u}) {
      std::vector<std::atomic<int>> done(n), handed(n);
      std::vector<std::atomic<int>> worker_of(n);
      run_slices(
          n, threads,
          [&](std::size_t i, std::size_t w) {
            ASSERT_LT(w, std::min(threads, n));
            if (w == 0) ASSERT_EQ(std::this_thread::get_id(), caller);
            worker_of[i].store(static_cast<int>(w));
            done[i].fetch_add(1);
          },
          [&](std::span<const std::size_t> ready) {
            ASSERT_EQ(std::this_thread::get_id(), caller);
            for (const std::size_t i : ready) {
              ASSERT_EQ(done[i].load(), 1);  // handed over only once done
              handed[i].fetch_add(1);
            }
          });
      for (std::size_t i = 0; i < n; ++i) {
        ASSERT_EQ(done[i].load(), 1) << "slice " << i;
        ASSERT_EQ(handed[i].load(), 1) << "slice " << i;
      }
    }
  }
  run_slices(0, 4, [](std::size_t, std::size_t) { FAIL(); }, [](std::span<const std::size_t>) { FAIL(); });
}

TEST(ParallelThreads, RunSlicesStealsFromAWorkerThatIsBusy) {
  // A slice on worker 0 waits until every other slice is done. Worker 0 owns slices
  // 0..7, so the batch can only finish (rather than hang) if worker 1 takes worker 0's
  // remaining slices as well as its own.
  const std::size_t n = 16;
  std::mutex mu;
  std::condition_variable cv;
  std::size_t by_worker1 = 0, by_worker0 = 0;
  std::vector<int> done(n, 0);
  run_slices(
      n, 2,
      [&](std::size_t i, std::size_t w) {
        std::unique_lock lock(mu);
        ++done[i];
        if (w == 0) {
          ++by_worker0;
          cv.wait(lock, [&] { return by_worker1 + by_worker0 == n; });
        } else {
          ++by_worker1;
          cv.notify_all();
        }
      },
      [](std::span<const std::size_t>) {});
  for (std::size_t i = 0; i < n; ++i) EXPECT_EQ(done[i], 1) << "slice " << i;
  EXPECT_LE(by_worker0, 1u);  // it waited on its first slice; worker 1 did the rest
  EXPECT_EQ(by_worker0 + by_worker1, n);
}

TEST(ParallelThreads, RunSlicesRethrowsTheFirstErrorOfAWorker) {
  std::atomic<int> inside{0};
  std::atomic<int> calls{0};
  EXPECT_THROW(run_slices(
                   200, 4,
                   [&](std::size_t i, std::size_t) {
                     inside.fetch_add(1);
                     calls.fetch_add(1);
                     const bool bad = i == 150;
                     inside.fetch_sub(1);
                     if (bad) throw InvalidInput("slice 150");
                   },
                   [](std::span<const std::size_t>) {}),
               InvalidInput);
  EXPECT_EQ(inside.load(), 0);  // every thread had stopped
  EXPECT_LE(calls.load(), 200);
}

TEST(ParallelThreads, RunSlicesRethrowsAnErrorOfTheHandOver) {
  int handed = 0;
  EXPECT_THROW(run_slices(
                   100, 3, [](std::size_t, std::size_t) {},
                   [&](std::span<const std::size_t>) {
                     ++handed;
                     throw std::runtime_error("interrupted");
                   }),
               std::runtime_error);
  EXPECT_EQ(handed, 1);  // not called again after the error
}

}  // namespace
}  // namespace covekit::parallel
