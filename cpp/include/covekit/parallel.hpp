// Running a batch on several threads: a loop over items (parallel_for) and a loop over
// contiguous slices whose results the calling thread takes as they finish
// (run_slices). The calling thread is always one of the workers; the first exception
// stops the others after the item in hand and is rethrown on the calling thread once
// every thread has stopped.
#pragma once

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <exception>
#include <mutex>
#include <span>
#include <thread>
#include <utility>
#include <vector>

namespace covekit::parallel {

// `requested` threads, or one per CPU for 0; at least 1 and at most `work`.
inline std::size_t resolve_threads(std::size_t requested, std::size_t work) {
  const std::size_t t = requested ? requested : std::max<std::size_t>(1, std::thread::hardware_concurrency());
  return std::max<std::size_t>(1, std::min(t, work));
}

// Remembers the first exception of a batch and tells the workers to stop.
class FirstError {
 public:
  void set(std::exception_ptr e) {
    failed_.store(true);
    std::lock_guard lock(mu_);
    if (!error_) error_ = std::move(e);
  }
  [[nodiscard]] bool failed() const noexcept { return failed_.load(std::memory_order_relaxed); }
  void rethrow() const {
    if (error_) std::rethrow_exception(error_);
  }

 private:
  std::atomic<bool> failed_{false};
  std::mutex mu_;
  std::exception_ptr error_;
};

// Runs f(i) for i in [0, n) on `threads` threads.
template <class F>
void parallel_for(std::size_t n, std::size_t threads, F&& f) {
  if (threads <= 1 || n <= 1) {
    for (std::size_t i = 0; i < n; ++i) f(i);
    return;
  }
  std::atomic<std::size_t> next{0};
  FirstError error;
  auto work = [&] {
    while (!error.failed()) {
      const std::size_t i = next.fetch_add(1);
      if (i >= n) return;
      try {
        f(i);
      } catch (...) {
        error.set(std::current_exception());
      }
    }
  };
  {
    std::vector<std::jthread> pool;  // joined when this block ends
    pool.reserve(threads - 1);
    for (std::size_t t = 1; t < threads; ++t) pool.emplace_back(work);
    work();
  }
  error.rethrow();
}

// A contiguous run of items, [begin, end), and its total size.
struct Slice {
  std::size_t begin = 0, end = 0, size = 0;
};

// Items 0..n-1 (item i of size size_of(i)) cut into at most `parts` contiguous slices
// of about equal total size; the slices tile [0, n) in order.
template <class SizeOf>
std::vector<Slice> balanced_slices(std::size_t n, std::size_t parts, SizeOf&& size_of) {
  parts = std::max<std::size_t>(1, std::min(n, parts));
  std::size_t total = 0;
  for (std::size_t i = 0; i < n; ++i) total += size_of(i);
  const double target = static_cast<double>(std::max<std::size_t>(total, 1)) / static_cast<double>(parts);
  std::vector<Slice> slices;
  slices.reserve(parts);
  Slice cur;
  double acc = 0;
  for (std::size_t i = 0; i < n; ++i) {
    const std::size_t size = size_of(i);
    acc += static_cast<double>(size);
    cur.size += size;
    cur.end = i + 1;
    if (acc >= target * static_cast<double>(slices.size() + 1) && slices.size() + 1 < parts) {
      slices.push_back(cur);
      cur = Slice{i + 1, i + 1, 0};
    }
  }
  if (cur.end > cur.begin) slices.push_back(cur);
  return slices;
}

// Runs work(slice, worker) for the slices 0..n-1 on `threads` threads (worker 0 is the
// calling thread) and hands every finished slice to ready(std::span<const size_t>) on
// the calling thread, as soon as it can: after each of its own slices, then as the
// others finish. Worker w owns the contiguous run of slices [w*n/T, (w+1)*n/T) and
// takes them in order (neighbouring slices share data, e.g. a memo's vocabulary);
// when its run is used up it takes the last slice of the longest run left. After an
// error, ready is not called again.
template <class Work, class Ready>
void run_slices(std::size_t n, std::size_t threads, Work&& work, Ready&& ready) {
  if (n == 0) return;
  threads = std::clamp<std::size_t>(threads, 1, n);
  std::mutex mu;
  std::condition_variable cv;
  std::vector<std::pair<std::size_t, std::size_t>> own(threads);
  for (std::size_t w = 0; w < threads; ++w) own[w] = {w * n / threads, (w + 1) * n / threads};
  std::vector<std::size_t> finished;  // slices done by the other threads, not yet handed over
  std::size_t running = threads - 1;  // other threads still working
  FirstError error;

  constexpr std::size_t kNone = static_cast<std::size_t>(-1);
  auto take = [&](std::size_t w) -> std::size_t {
    std::lock_guard lock(mu);
    if (own[w].first < own[w].second) return own[w].first++;
    std::size_t from = w;
    for (std::size_t v = 0; v < threads; ++v)
      if (own[v].second - own[v].first > own[from].second - own[from].first) from = v;
    return own[from].first < own[from].second ? --own[from].second : kNone;
  };
  // Does the next slice of worker w; returns its index, or none when no slice is left
  // or after an error.
  auto run = [&](std::size_t w) -> std::size_t {
    if (error.failed()) return kNone;
    const std::size_t i = take(w);
    if (i != kNone) work(i, w);
    return i;
  };

  {
    std::vector<std::jthread> pool;  // joined when this block ends, also on an error
    pool.reserve(threads - 1);
    auto worker = [&](std::size_t w) {
      try {
        for (std::size_t i; (i = run(w)) != kNone;) {
          {
            std::lock_guard lock(mu);
            finished.push_back(i);
          }
          cv.notify_one();
        }
      } catch (...) {
        error.set(std::current_exception());
      }
      {
        std::lock_guard lock(mu);
        --running;
      }
      cv.notify_one();
    };
    try {
      for (std::size_t w = 1; w < threads; ++w) pool.emplace_back(worker, w);
    } catch (...) {  // a thread could not be started: the others stop after their slice
      error.set(std::current_exception());
      std::lock_guard lock(mu);
      running -= threads - 1 - pool.size();
    }
    std::vector<std::size_t> mine;
    auto hand_over = [&] {
      if (!mine.empty() && !error.failed()) {
        try {
          ready(std::span<const std::size_t>(mine));
        } catch (...) {
          error.set(std::current_exception());
        }
      }
      mine.clear();
    };
    try {
      for (std::size_t i; (i = run(0)) != kNone;) {
        mine.push_back(i);
        {
          std::lock_guard lock(mu);
          mine.insert(mine.end(), finished.begin(), finished.end());
          finished.clear();
        }
        hand_over();
      }
    } catch (...) {
      error.set(std::current_exception());
    }
    for (bool last = false; !last;) {
      {
        std::unique_lock lock(mu);
        cv.wait(lock, [&] { return !finished.empty() || running == 0; });
        mine.swap(finished);
        last = running == 0;
      }
      hand_over();
    }
  }
  error.rethrow();
}

}  // namespace covekit::parallel
