// BM25 keyword index: compact postings, Lucene's BM25 variant, MaxScore top-k.
//
// Scoring (Lucene >= 8, Pyserini): for each distinct query term t with qtf repeats,
//   score(d) += qtf * idf(t) * tf / (tf + k1 * (1 - b + b * dl / avgdl))
//   idf(t)    = ln(1 + (N - df + 0.5) / (df + 0.5))
// with N the live documents, df the live documents holding t, dl the number of terms
// of d and avgdl the mean over live documents (all exact: no Lucene norm quantization).
// Lucene's constant factor (k1 + 1) is left out, as in Lucene >= 8; rankings are the
// same. Terms are summed in the order of their first occurrence in the query, in
// double precision; scores are returned as float32.
//
// Ties: equal scores rank by insertion order (the document added first wins).
//
// Ids: external ids are uint64 (chunk ids); internal ids are dense uint32, assigned in
// insertion order. Deletes mask documents and update the statistics at once; the
// masked postings are dropped by `compact()`, which also runs on its own when deleted
// documents outnumber live ones.
//
// Postings: per term, blocks of 128 (doc id delta, tf) pairs as LEB128 varints, with
// per-block last doc id and byte offset for skipping. A forward index (term ids and
// frequencies per document) keeps deletes exact and is what `save` writes.
//
// Top-k: MaxScore (Turtle & Flood 1995) over per-term score upper bounds (max tf and
// min document length of each list), so long queries skip most documents of their
// common terms; when a query's postings are few (or the index is small), a
// term-at-a-time pass over a dense accumulator is faster and is used instead (see
// Strategy). Every strategy returns exactly the same ids and scores.
//
// Thread safety: `search` (and `search_batch`) may run from many threads at once and
// alongside `add`, `remove` and `compact`, which take a writer lock.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "covekit/analyzer.hpp"
#include "covekit/filter.hpp"

namespace covekit::bm25 {

inline constexpr uint64_t kMissingId = std::numeric_limits<uint64_t>::max();

struct Params {
  double k1 = 0.9;
  double b = 0.4;
};

struct Hit {
  uint64_t id;
  float score;
};

// Allowed documents for a search: bit i of words[i / 64] allows internal id i; ids past
// the end are not allowed. An empty optional-like `nullptr` means everything is allowed.
using AllowedBits = std::span<const uint64_t>;

// How search() finds the top k; every strategy returns the same results.
enum class Strategy : uint8_t {
  kAuto = 0,        // exhaustive for small indexes or small work (kTaatMaxPostings), else MaxScore
  kMaxScore = 1,    // document-at-a-time with MaxScore pruning
  kExhaustive = 2,  // term-at-a-time over a dense accumulator, every posting read
};

// kAuto scores exhaustively when the index has at most this many internal ids, or when
// the query's postings are at most this many and the index has at most 8x as many
// internal ids as postings to read; otherwise it uses MaxScore.
inline constexpr uint64_t kTaatMaxPostings = 1u << 16;

class Index {
 public:
  // Throws InvalidInput unless k1 >= 0 and 0 <= b <= 1 (both finite).
  explicit Index(Params params = {}, analysis::Analyzer analyzer = analysis::Analyzer());

  Index(const Index&) = delete;
  Index& operator=(const Index&) = delete;

  // Adds documents; an id already in the index is replaced. Throws InvalidInput when
  // the sizes differ or an id repeats within the call, InvalidUtf8 for bad text; on a
  // throw, nothing was added.
  // `attributes` (empty, or one per id) are the documents' ACL, tags and fields for
  // filtered searches; a document added without them has none.
  void add(std::span<const uint64_t> ids, std::span<const std::string_view> texts,
           std::span<const filter::Attributes> attributes = {});

  // Replaces the attributes of documents in the index; throws InvalidInput (naming the
  // id) when one is not in the index, and then changes nothing.
  void set_attributes(std::span<const uint64_t> ids, std::span<const filter::Attributes> attributes);
  // The attributes of a live document; throws InvalidInput when it is not in the index.
  [[nodiscard]] filter::Attributes attributes(uint64_t id) const;

  // Deletes the documents with these ids; returns how many were present.
  std::size_t remove(std::span<const uint64_t> ids);

  // Drops deleted documents from the postings and renumbers internal ids (order kept).
  void compact();

  // Top `k` documents for `query`, best first (fewer when fewer match). A document
  // matches when it holds at least one query term. `allowed` restricts the search to
  // the internal ids whose bit is set (see internal_id()); nullptr allows all.
  [[nodiscard]] std::vector<Hit> search(std::string_view query, std::size_t k,
                                        const AllowedBits* allowed = nullptr,
                                        Strategy strategy = Strategy::kAuto) const;

  // search() for each query, on up to `num_threads` threads (0: hardware threads);
  // results are written into `ids` and `scores` (nq * k each, row-major), missing
  // slots hold kMissingId and -inf.
  // With `where`, only documents whose attributes match it are scored; the filter is
  // evaluated once, and the whole batch runs under one read lock so that no write
  // (a compaction renumbers internal ids) lands between the filter and the search.
  void search_batch(std::span<const std::string_view> queries, std::size_t k, std::size_t num_threads,
                    uint64_t* ids, float* scores, const AllowedBits* allowed = nullptr,
                    Strategy strategy = Strategy::kAuto, const filter::Expr* where = nullptr) const;

  // Exhaustive scoring of every live document (no pruning): the oracle of the tests.
  [[nodiscard]] std::vector<Hit> search_exhaustive(std::string_view query, std::size_t k,
                                                   const AllowedBits* allowed = nullptr) const;

  [[nodiscard]] std::size_t size() const;  // live documents
  [[nodiscard]] std::size_t num_terms() const;
  [[nodiscard]] bool contains(uint64_t id) const;
  // Internal id of a live document (for building AllowedBits), or -1.
  [[nodiscard]] int64_t internal_id(uint64_t id) const;
  // One past the largest internal id in use (the size AllowedBits should cover).
  [[nodiscard]] std::size_t internal_capacity() const;

  [[nodiscard]] const Params& params() const noexcept { return params_; }
  [[nodiscard]] const analysis::Analyzer& analyzer() const noexcept { return analyzer_; }

  // Writes the index to `path` atomically (temp file in the same folder, fsync,
  // rename, fsync of the folder). Throws Error on an I/O failure.
  void save(const std::string& path) const;
  // Reads an index written by save(). Throws IndexFileCorrupt for a file that is not
  // one, is truncated, fails its checksum or has an unknown version; Error on I/O.
  [[nodiscard]] static std::unique_ptr<Index> load(const std::string& path);
  // The bytes save() writes, and an index from them (`name` names the source in errors).
  [[nodiscard]] std::string to_bytes() const;
  [[nodiscard]] static std::unique_ptr<Index> from_bytes(std::string_view data, const std::string& name);

  struct Postings {
    std::vector<uint8_t> bytes;         // varint (doc delta, tf) pairs
    std::vector<uint32_t> block_last;   // last doc id of each block of 128
    std::vector<uint32_t> block_start;  // byte offset of each block
    std::vector<uint32_t> block_max_tf;  // per block, for block-max bounds
    std::vector<uint32_t> block_min_dl;
    uint32_t count = 0;                 // postings (live or not)
    uint32_t last_doc = 0;
    uint32_t max_tf = 0;
    uint32_t min_dl = std::numeric_limits<uint32_t>::max();
    // Bound on tf / (tf + k1 * (1 - b + b * dl / avgdl)) over the live postings, valid
    // at avgdl == ub_avgdl; at a larger avgdl A it grows at most by A / ub_avgdl.
    double ub_frac = 0;
    double ub_avgdl = 0;
  };

 private:
  struct QueryTerm;
  struct WriteLock {
    std::unique_lock<std::mutex> gate;
    std::unique_lock<std::shared_mutex> lock;
  };
  [[nodiscard]] std::shared_lock<std::shared_mutex> read_lock() const;
  [[nodiscard]] WriteLock write_lock() const;
  void add_locked(uint64_t id, const std::vector<std::string>& terms);
  bool remove_locked(uint64_t id);
  void compact_locked();
  void append_posting(uint32_t term, uint32_t doc, uint32_t tf, uint32_t dl, double avgdl);
  void recompute_bounds_locked();
  [[nodiscard]] std::vector<QueryTerm> query_terms(std::string_view query) const;
  struct Scratch {  // per searching thread, reused across its queries
    std::vector<double> acc;
    std::vector<uint32_t> touched;
  };
  [[nodiscard]] std::vector<Hit> search_locked(std::string_view query, std::size_t k, const AllowedBits* allowed,
                                               Strategy strategy, Scratch& scratch) const;

  Params params_;
  analysis::Analyzer analyzer_;
  mutable std::shared_mutex mutex_;
  mutable std::mutex gate_;  // writer preference, see read_lock()

  std::unordered_map<std::string, uint32_t> term_ids_;
  std::vector<std::string> terms_;
  std::vector<uint32_t> df_;  // live documents per term
  std::vector<Postings> postings_;

  // Per internal id.
  std::vector<uint64_t> ext_ids_;
  std::vector<uint32_t> doc_len_;
  std::vector<uint64_t> live_;  // bitset
  std::vector<uint64_t> fwd_offset_{0};
  std::vector<uint32_t> fwd_term_;
  std::vector<uint32_t> fwd_tf_;

  std::unordered_map<uint64_t, uint32_t> internal_;  // live external -> internal
  // Per internal id: k1 * (1 - b + b * dl / avgdl), for the current generation.
  [[nodiscard]] const std::vector<double>& norms(double avgdl) const;
  uint64_t generation_ = 1;  // bumped by every write
  mutable std::atomic<uint64_t> norm_generation_{0};
  mutable std::mutex norm_mutex_;
  mutable std::vector<double> norm_;

  uint64_t total_len_ = 0;                           // over live documents
  std::size_t num_nonempty_ = 0;                     // live documents with >= 1 term
  std::size_t num_deleted_ = 0;
  filter::AttributeStore attrs_;  // by internal id
};

}  // namespace covekit::bm25
