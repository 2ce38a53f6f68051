// An HNSW vector index (over hnswlib's graph) with 64-bit external ids, per-id
// attributes (filter.hpp) and filtered search done inside the graph search.
//
// Metrics: cosine (vectors normalized on add and query; score = cosine similarity),
// ip (score = inner product), l2 (score = minus the squared Euclidean distance).
// Higher score is better for every metric. Missing result slots hold id UINT64_MAX and
// score -inf.
//
// Filtered search: the filter is evaluated to a Selection first. When few ids are
// allowed (see exact_cutoff) the allowed ids are scored exactly; otherwise the graph is
// searched with rejected nodes visited for navigation but never returned, and if fewer
// than k allowed results come back the search falls back to exact scoring of the
// allowed ids. Deleted ids are never returned.
//
// Thread safety: search, contains, size and attributes may be called from many threads
// at once. add, update, remove and set_attributes take the writer lock (writers are
// served before new readers); add inserts on several threads inside that lock.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "covekit/filter.hpp"

namespace covekit::vector {

enum class Metric : uint32_t { kCosine = 0, kIp = 1, kL2 = 2 };

Metric parse_metric(std::string_view name);  // "cosine" | "ip" | "l2", else InvalidInput
const char* metric_name(Metric m) noexcept;

struct Options {
  std::size_t dim = 0;
  Metric metric = Metric::kCosine;
  std::size_t M = 16;
  std::size_t ef_construction = 200;
  uint64_t seed = 100;
};

// Which way each query of a search went (for tests and stats).
struct SearchInfo {
  std::size_t exact = 0;     // scored the allowed ids exactly
  std::size_t graph = 0;     // graph search returned enough results
  std::size_t fallback = 0;  // graph search came back short; rescored exactly
  std::size_t allowed = 0;   // ids the filter allowed (live ids when no filter)
};

struct SearchResult {
  std::size_t nq = 0, k = 0;
  std::vector<uint64_t> ids;  // nq * k, row-major
  std::vector<float> scores;  // nq * k
};

inline constexpr uint64_t kMissingId = ~uint64_t{0};

class VectorIndex {
 public:
  explicit VectorIndex(const Options& options);
  ~VectorIndex();
  VectorIndex(const VectorIndex&) = delete;
  VectorIndex& operator=(const VectorIndex&) = delete;

  [[nodiscard]] const Options& options() const noexcept;
  [[nodiscard]] std::size_t size() const;      // live ids
  [[nodiscard]] std::size_t capacity() const;  // slots allocated (grows by itself)
  [[nodiscard]] bool contains(uint64_t id) const;
  [[nodiscard]] std::vector<uint64_t> ids() const;  // live ids, in slot order

  // Default ef of searches (at least k is always used).
  [[nodiscard]] std::size_t ef() const noexcept;
  void set_ef(std::size_t ef);

  // Adds n new ids with their vectors (n x dim, row-major) and, when `attributes` is
  // not empty, one Attributes each. Ids must be new (not live) and unique within the
  // batch; deleted slots are reused. `num_threads` 0 = hardware concurrency.
  void add(std::span<const uint64_t> ids, const float* vectors, std::span<const filter::Attributes> attributes,
           std::size_t num_threads = 0);
  // The checks of add() on ids alone (reserved, repeated, already present), so that a
  // caller can split a big batch into several add() calls after one check.
  void check_new_ids(std::span<const uint64_t> ids) const;
  // Replaces the vectors of live ids (and their attributes when given).
  void update(std::span<const uint64_t> ids, const float* vectors, std::span<const filter::Attributes> attributes);
  // Replaces the attributes of live ids.
  void set_attributes(std::span<const uint64_t> ids, std::span<const filter::Attributes> attributes);
  // Deletes ids; unknown ids raise InvalidInput unless missing_ok. Returns how many were deleted.
  std::size_t remove(std::span<const uint64_t> ids, bool missing_ok);

  [[nodiscard]] filter::Attributes attributes(uint64_t id) const;
  // The stored vector (normalized under cosine).
  [[nodiscard]] std::vector<float> vector(uint64_t id) const;
  // The stored vectors of `ids`, in that order, into `out` (ids.size() rows of dim),
  // read under one lock: a concurrent write shows in all of them or in none.
  void vectors(std::span<const uint64_t> ids, float* out) const;

  // k nearest allowed ids of each of nq queries (nq x dim, row-major). ef 0 = ef().
  // `filter` may be null. `num_threads` 0 = hardware concurrency (small batches inline).
  [[nodiscard]] SearchResult search(const float* queries, std::size_t nq, std::size_t k, std::size_t ef,
                                    const filter::Expr* filter, std::size_t num_threads = 1,
                                    SearchInfo* info = nullptr) const;

  // Allowed-id count at or below which a search scores exactly: the point where
  // scoring every allowed id costs about what the filtered graph search costs,
  // sqrt(ef * size * 2M) (the graph search expands ~ef/selectivity nodes of ~2M
  // neighbours each), times exact_scale (default 1.3, measured: on 20k vectors of dim
  // 32 exact scoring of 10k ids takes 93 us, the filtered graph search at 50% 131 us;
  // 0 = exact only when the graph search comes back short).
  [[nodiscard]] std::size_t exact_cutoff(std::size_t k, std::size_t ef) const;
  [[nodiscard]] double exact_scale() const noexcept;
  void set_exact_scale(double scale);

  // One self-checking binary image (header, checksummed payload) and back.
  [[nodiscard]] std::string serialize() const;
  static std::unique_ptr<VectorIndex> deserialize(std::string_view bytes);
  // Atomic save: temp file in the same directory, fsync, rename, fsync the directory.
  // The image is streamed to the file (no copy of the index in memory); writers wait
  // while it is written, searches do not.
  void save(const std::string& path) const;
  // Reads the file through a read-only memory map (no copy of the file in memory: peak
  // memory is the loaded index plus reclaimable page cache).
  static std::unique_ptr<VectorIndex> load(const std::string& path);

 private:
  struct Impl;
  template <class Writer>
  void write_image(Writer& w) const;
  // deserialize(), calling `release` with each part of `bytes` it is done with (a mapped
  // file drops those pages, so loading never holds the whole file and the index).
  using Release = std::function<void(std::string_view)>;
  static std::unique_ptr<VectorIndex> deserialize(std::string_view bytes, const Release& release);
  explicit VectorIndex(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace covekit::vector
