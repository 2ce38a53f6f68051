// Scores must be bit-identical to the same formula evaluated in Python (the reference
// of the tests): no fused multiply-add.
#if defined(__clang__)
#pragma clang fp contract(off)
#elif defined(__GNUC__)
#pragma GCC optimize("fp-contract=off")
#endif

#include "covekit/bm25.hpp"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstring>
#include <exception>
#include <mutex>
#include <thread>

#include "covekit/errors.hpp"
#include "covekit/hash.hpp"
#include "fileio.hpp"

namespace covekit::bm25 {

namespace {

constexpr uint32_t kBlock = 128;
constexpr uint32_t kEnd = std::numeric_limits<uint32_t>::max();
constexpr char kMagic[8] = {'C', 'V', 'K', 'B', 'M', '2', '5', '\0'};
constexpr uint32_t kVersion = 2;  // 2: attributes after the documents

void put_varint(std::vector<uint8_t>& out, uint32_t v) {
  while (v >= 0x80) {
    out.push_back(static_cast<uint8_t>(v | 0x80));
    v >>= 7;
  }
  out.push_back(static_cast<uint8_t>(v));
}

inline uint32_t get_varint(const uint8_t*& p) {
  if (*p < 0x80) [[likely]]
    return *p++;
  uint32_t v = 0;
  int shift = 0;
  while (true) {
    const uint8_t b = *p++;
    v |= static_cast<uint32_t>(b & 0x7F) << shift;
    if (!(b & 0x80)) return v;
    shift += 7;
  }
}

// Iterates one term's postings in doc id order, a decoded block at a time.
class Cursor {
 public:
  explicit Cursor(const Index::Postings& p) : p_(&p) {
    if (p.count == 0) {
      doc_ = kEnd;
    } else {
      load(0);
    }
  }

  [[nodiscard]] uint32_t doc() const noexcept { return doc_; }
  [[nodiscard]] uint32_t tf() const noexcept { return tfs_[pos_]; }

  void next() {
    if (++pos_ < n_) {
      doc_ = docs_[pos_];
      return;
    }
    if (block_ + 1 < p_->block_last.size()) {
      load(block_ + 1);
    } else {
      doc_ = kEnd;
    }
  }

  // The block that holds the first posting with doc >= target, without decoding it;
  // kNoBlock when there is none.
  static constexpr std::size_t kNoBlock = static_cast<std::size_t>(-1);
  [[nodiscard]] std::size_t shallow(uint32_t target) const {
    if (doc_ == kEnd) return kNoBlock;
    if (p_->block_last[block_] >= target) return block_;
    const auto& last = p_->block_last;
    const auto it = std::lower_bound(last.begin() + static_cast<std::ptrdiff_t>(block_) + 1, last.end(), target);
    return it == last.end() ? kNoBlock : static_cast<std::size_t>(it - last.begin());
  }
  [[nodiscard]] const Index::Postings& postings() const noexcept { return *p_; }

  // Moves to the first posting with doc >= target.
  void advance(uint32_t target) {
    if (doc_ >= target) return;
    if (p_->block_last[block_] < target) {
      const auto& last = p_->block_last;
      const auto it = std::lower_bound(last.begin() + static_cast<std::ptrdiff_t>(block_) + 1, last.end(), target);
      if (it == last.end()) {
        doc_ = kEnd;
        return;
      }
      load(static_cast<std::size_t>(it - last.begin()));
    }
    while (docs_[pos_] < target) ++pos_;
    doc_ = docs_[pos_];
  }

 private:
  void load(std::size_t b) {
    block_ = b;
    const uint8_t* q = p_->bytes.data() + p_->block_start[b];
    const uint32_t begin = static_cast<uint32_t>(b) * kBlock;
    n_ = std::min(kBlock, p_->count - begin);
    uint32_t d = b == 0 ? 0 : p_->block_last[b - 1];
    for (uint32_t i = 0; i < n_; ++i) {
      d += get_varint(q);
      docs_[i] = d;
      tfs_[i] = get_varint(q);
    }
    pos_ = 0;
    doc_ = docs_[0];
  }

  const Index::Postings* p_;
  std::size_t block_ = 0;
  uint32_t pos_ = 0;
  uint32_t n_ = 0;
  uint32_t doc_ = 0;
  uint32_t docs_[kBlock];
  uint32_t tfs_[kBlock];
};

struct Cand {
  double score;
  uint32_t doc;
};

// a ranks before b: higher score, then earlier insertion.
inline bool better(const Cand& a, const Cand& b) { return a.score > b.score || (a.score == b.score && a.doc < b.doc); }

// Keeps the best k candidates; front() is the worst kept.
class TopK {
 public:
  TopK(std::size_t k, std::size_t most) : k_(k) { heap_.reserve(std::min(k, most)); }
  [[nodiscard]] bool full() const { return heap_.size() >= k_; }
  [[nodiscard]] double threshold() const {
    return full() ? heap_.front().score : -std::numeric_limits<double>::infinity();
  }
  void push(Cand c) {
    if (k_ == 0) return;
    if (!full()) {
      heap_.push_back(c);
      std::push_heap(heap_.begin(), heap_.end(), better);
    } else if (better(c, heap_.front())) {
      std::pop_heap(heap_.begin(), heap_.end(), better);
      heap_.back() = c;
      std::push_heap(heap_.begin(), heap_.end(), better);
    }
  }
  std::vector<Cand> sorted() && {
    std::sort(heap_.begin(), heap_.end(), better);
    return std::move(heap_);
  }

 private:
  std::size_t k_;
  std::vector<Cand> heap_;
};

inline bool bit(const std::vector<uint64_t>& v, uint32_t i) { return (v[i >> 6] >> (i & 63)) & 1; }
inline bool allowed_bit(const AllowedBits* a, uint32_t i) {
  if (!a) return true;
  const std::size_t w = i >> 6;
  return w < a->size() && (((*a)[w] >> (i & 63)) & 1);
}

// ---- serialization helpers -------------------------------------------------------------

void put_u32(std::string& s, uint32_t v) { s.append(reinterpret_cast<const char*>(&v), 4); }
void put_u64(std::string& s, uint64_t v) { s.append(reinterpret_cast<const char*>(&v), 8); }
void put_f64(std::string& s, double v) { s.append(reinterpret_cast<const char*>(&v), 8); }
void put_str(std::string& s, std::string_view v) {
  put_u32(s, static_cast<uint32_t>(v.size()));
  s.append(v);
}

class Reader {
 public:
  Reader(std::string_view data, const std::string& path) : d_(data), path_(path) {}
  template <class T>
  T get() {
    need(sizeof(T));
    T v;
    std::memcpy(&v, d_.data() + pos_, sizeof(T));
    pos_ += sizeof(T);
    return v;
  }
  std::string_view str() {
    const uint32_t n = get<uint32_t>();
    need(n);
    std::string_view v = d_.substr(pos_, n);
    pos_ += n;
    return v;
  }
  [[noreturn]] void fail(const std::string& why) const {
    throw IndexFileCorrupt("BM25 index file " + path_ + " is corrupt: " + why +
                           "; rebuild the index or restore the file from a backup");
  }
  [[nodiscard]] bool at_end() const { return pos_ == d_.size(); }
  [[nodiscard]] std::size_t remaining() const { return d_.size() - pos_; }
  [[nodiscard]] std::string_view rest() const { return d_.substr(pos_); }

 private:
  void need(std::size_t n) const {
    if (d_.size() - pos_ < n) fail("it ends early (truncated)");
  }
  std::string_view d_;
  const std::string& path_;
  std::size_t pos_ = 0;
};

}  // namespace

std::shared_lock<std::shared_mutex> Index::read_lock() const {
  // Pass the gate first: a writer waiting for the lock holds it, so a stream of
  // searches cannot starve add/remove.
  { std::lock_guard gate(gate_); }
  return std::shared_lock(mutex_);
}

Index::WriteLock Index::write_lock() const {
  WriteLock w{std::unique_lock(gate_), std::unique_lock(mutex_)};
  w.gate.unlock();
  return w;
}

const std::vector<double>& Index::norms(double avgdl) const {
  // Valid for one generation of the index; rebuilt by the first search after a write.
  // Readers hold the read lock, so the generation cannot change under them; the mutex
  // makes one of them build the table while the others wait.
  if (norm_generation_.load(std::memory_order_acquire) != generation_) {
    std::lock_guard g(norm_mutex_);
    if (norm_generation_.load(std::memory_order_relaxed) != generation_) {
      const double k1 = params_.k1;
      const double b = params_.b;
      norm_.resize(doc_len_.size());
      for (std::size_t d = 0; d < doc_len_.size(); ++d) {
        const double dl = doc_len_[d];
        norm_[d] = k1 * (1.0 - b + b * dl / avgdl);
      }
      norm_generation_.store(generation_, std::memory_order_release);
    }
  }
  return norm_;
}

struct Index::QueryTerm {
  uint32_t term;
  uint32_t order;  // rank of first occurrence in the query
  double qtf;
  double idf;
  double ub;  // upper bound of the term's contribution
};

Index::Index(Params params, analysis::Analyzer analyzer) : params_(params), analyzer_(std::move(analyzer)) {
  if (!std::isfinite(params_.k1) || params_.k1 < 0)
    throw InvalidInput("k1 must be a finite number >= 0 (Lucene's default is 0.9), got " + std::to_string(params_.k1));
  if (!std::isfinite(params_.b) || params_.b < 0 || params_.b > 1)
    throw InvalidInput("b must be in [0, 1] (Lucene's default is 0.4), got " + std::to_string(params_.b));
}

std::size_t Index::size() const {
  auto lock = read_lock();
  return internal_.size();
}

std::size_t Index::num_terms() const {
  auto lock = read_lock();
  return static_cast<std::size_t>(std::count_if(df_.begin(), df_.end(), [](uint32_t d) { return d > 0; }));
}

bool Index::contains(uint64_t id) const {
  auto lock = read_lock();
  return internal_.count(id) != 0;
}

int64_t Index::internal_id(uint64_t id) const {
  auto lock = read_lock();
  const auto it = internal_.find(id);
  return it == internal_.end() ? -1 : static_cast<int64_t>(it->second);
}

std::size_t Index::internal_capacity() const {
  auto lock = read_lock();
  return ext_ids_.size();
}

void Index::append_posting(uint32_t term, uint32_t doc, uint32_t tf, uint32_t dl, double avgdl) {
  Postings& p = postings_[term];
  {
    const double t = tf;
    const double f = t / (t + params_.k1 * (1.0 - params_.b + params_.b * static_cast<double>(dl) / avgdl));
    if (p.count == 0) {
      p.ub_frac = f;
    } else {
      p.ub_frac = std::max(p.ub_frac * std::max(1.0, avgdl / p.ub_avgdl), f);
    }
    p.ub_avgdl = avgdl;
  }
  if (p.count % kBlock == 0) {
    p.block_start.push_back(static_cast<uint32_t>(p.bytes.size()));
    p.block_last.push_back(doc);
    p.block_max_tf.push_back(tf);
    p.block_min_dl.push_back(dl);
  } else {
    p.block_last.back() = doc;
    p.block_max_tf.back() = std::max(p.block_max_tf.back(), tf);
    p.block_min_dl.back() = std::min(p.block_min_dl.back(), dl);
  }
  put_varint(p.bytes, p.count == 0 ? doc : doc - p.last_doc);
  put_varint(p.bytes, tf);
  p.last_doc = doc;
  ++p.count;
  p.max_tf = std::max(p.max_tf, tf);
  p.min_dl = std::min(p.min_dl, dl);
}

void Index::add_locked(uint64_t id, const std::vector<std::string>& terms) {
  if (internal_.count(id)) remove_locked(id);
  if (ext_ids_.size() >= kEnd - 1)
    throw InvalidInput("a BM25Index holds at most 2**32 - 2 documents (deleted ones included); call compact()");
  const auto doc = static_cast<uint32_t>(ext_ids_.size());
  // Term frequencies, by term id.
  std::vector<std::pair<uint32_t, uint32_t>> tfs;
  tfs.reserve(terms.size());
  for (const std::string& t : terms) {
    auto [it, inserted] = term_ids_.try_emplace(t, static_cast<uint32_t>(terms_.size()));
    if (inserted) {
      terms_.push_back(t);
      df_.push_back(0);
      postings_.emplace_back();
    }
    tfs.emplace_back(it->second, 1);
  }
  std::sort(tfs.begin(), tfs.end());
  std::size_t w = 0;
  for (std::size_t r = 0; r < tfs.size(); ++r) {
    if (w > 0 && tfs[w - 1].first == tfs[r].first) {
      ++tfs[w - 1].second;
    } else {
      tfs[w++] = tfs[r];
    }
  }
  tfs.resize(w);
  const auto dl = static_cast<uint32_t>(terms.size());
  ext_ids_.push_back(id);
  doc_len_.push_back(dl);
  if (live_.size() * 64 <= doc) live_.push_back(0);
  live_[doc >> 6] |= uint64_t{1} << (doc & 63);
  internal_.emplace(id, doc);
  total_len_ += dl;
  if (dl > 0) ++num_nonempty_;
  const double avgdl = num_nonempty_ ? static_cast<double>(total_len_) / static_cast<double>(num_nonempty_) : 1.0;
  for (const auto& [term, tf] : tfs) {
    fwd_term_.push_back(term);
    fwd_tf_.push_back(tf);
    ++df_[term];
    append_posting(term, doc, tf, dl, avgdl);
  }
  fwd_offset_.push_back(fwd_term_.size());
}

void Index::recompute_bounds_locked() {
  // Exact bounds at the current avgdl, from the forward lists of live documents.
  if (num_nonempty_ == 0) return;
  const double avgdl = static_cast<double>(total_len_) / static_cast<double>(num_nonempty_);
  for (Postings& p : postings_) {
    p.ub_frac = 0;
    p.ub_avgdl = avgdl;
  }
  const double k1 = params_.k1;
  const double b = params_.b;
  for (uint32_t d = 0; d < ext_ids_.size(); ++d) {
    if (!bit(live_, d)) continue;
    const double dl = doc_len_[d];
    const double norm = k1 * (1.0 - b + b * dl / avgdl);
    for (uint64_t i = fwd_offset_[d]; i < fwd_offset_[d + 1]; ++i) {
      const double tf = fwd_tf_[i];
      Postings& p = postings_[fwd_term_[i]];
      p.ub_frac = std::max(p.ub_frac, tf / (tf + norm));
    }
  }
}

void Index::add(std::span<const uint64_t> ids, std::span<const std::string_view> texts,
                std::span<const filter::Attributes> attributes) {
  if (ids.size() != texts.size())
    throw InvalidInput("ids and texts must have the same length, got " + std::to_string(ids.size()) + " ids and " +
                       std::to_string(texts.size()) + " texts");
  if (!attributes.empty() && attributes.size() != ids.size())
    throw InvalidInput("attributes must be one per id, got " + std::to_string(attributes.size()) + " for " +
                       std::to_string(ids.size()) + " ids");
  for (const filter::Attributes& a : attributes) filter::AttributeStore::validate(a);
  {
    std::unordered_map<uint64_t, std::size_t> seen;
    seen.reserve(ids.size());
    for (std::size_t i = 0; i < ids.size(); ++i) {
      auto [it, inserted] = seen.emplace(ids[i], i);
      if (!inserted)
        throw InvalidInput("id " + std::to_string(ids[i]) + " appears twice in one add() (positions " +
                           std::to_string(it->second) + " and " + std::to_string(i) +
                           "); pass each document once");
    }
  }
  // Analysis (the slow part, and where bad text throws) before taking the lock.
  std::vector<std::vector<std::string>> analyzed(texts.size());
  for (std::size_t i = 0; i < texts.size(); ++i) analyzer_.analyze(texts[i], analyzed[i]);
  auto lock = write_lock();
  if (ext_ids_.size() + ids.size() >= kEnd - 1)
    throw InvalidInput("a BM25Index holds at most 2**32 - 2 documents (deleted ones included); call compact()");
  ++generation_;
  static const filter::Attributes kNone;
  for (std::size_t i = 0; i < ids.size(); ++i) {
    add_locked(ids[i], analyzed[i]);
    attrs_.set(static_cast<uint32_t>(ext_ids_.size() - 1), attributes.empty() ? kNone : attributes[i]);
  }
  // A large batch moves avgdl a lot: make the pruning bounds exact again (linear in the
  // postings, so only when the batch is at least an eighth of the index).
  if (ids.size() * 8 >= internal_.size()) recompute_bounds_locked();
}

bool Index::remove_locked(uint64_t id) {
  const auto it = internal_.find(id);
  if (it == internal_.end()) return false;
  const uint32_t doc = it->second;
  internal_.erase(it);
  attrs_.clear(doc);
  live_[doc >> 6] &= ~(uint64_t{1} << (doc & 63));
  for (uint64_t i = fwd_offset_[doc]; i < fwd_offset_[doc + 1]; ++i) --df_[fwd_term_[i]];
  total_len_ -= doc_len_[doc];
  if (doc_len_[doc] > 0) --num_nonempty_;
  ++num_deleted_;
  return true;
}

std::size_t Index::remove(std::span<const uint64_t> ids) {
  auto lock = write_lock();
  ++generation_;
  std::size_t n = 0;
  for (uint64_t id : ids) n += remove_locked(id) ? 1 : 0;
  return n;
}

void Index::set_attributes(std::span<const uint64_t> ids, std::span<const filter::Attributes> attributes) {
  if (attributes.size() != ids.size())
    throw InvalidInput("attributes must be one per id, got " + std::to_string(attributes.size()) + " for " +
                       std::to_string(ids.size()) + " ids");
  for (const filter::Attributes& a : attributes) filter::AttributeStore::validate(a);
  auto lock = write_lock();
  std::vector<uint32_t> docs;
  docs.reserve(ids.size());
  for (uint64_t id : ids) {
    const auto it = internal_.find(id);
    if (it == internal_.end()) throw InvalidInput("id " + std::to_string(id) + " is not in the index; add it first");
    docs.push_back(it->second);
  }
  ++generation_;
  for (std::size_t i = 0; i < docs.size(); ++i) attrs_.set(docs[i], attributes[i]);
}

filter::Attributes Index::attributes(uint64_t id) const {
  auto lock = read_lock();
  const auto it = internal_.find(id);
  if (it == internal_.end()) throw InvalidInput("id " + std::to_string(id) + " is not in the index");
  return attrs_.get(it->second);
}

void Index::compact() {
  auto lock = write_lock();
  compact_locked();
}

void Index::compact_locked() {
  if (num_deleted_ == 0) return;
  ++generation_;
  // Rebuild from the forward index of live documents, keeping their order and the
  // vocabulary of live terms.
  std::vector<uint64_t> old_ext = std::move(ext_ids_);
  std::vector<uint32_t> old_len = std::move(doc_len_);
  std::vector<uint64_t> old_live = std::move(live_);
  std::vector<uint64_t> old_off = std::move(fwd_offset_);
  std::vector<uint32_t> old_term = std::move(fwd_term_);
  std::vector<uint32_t> old_tf = std::move(fwd_tf_);
  std::vector<std::string> old_terms = std::move(terms_);
  std::vector<uint32_t> old_df = std::move(df_);
  filter::AttributeStore old_attrs = std::move(attrs_);
  attrs_ = filter::AttributeStore();

  std::vector<uint32_t> remap(old_terms.size(), kEnd);
  term_ids_.clear();
  terms_.clear();
  df_.clear();
  postings_.clear();
  for (uint32_t t = 0; t < old_terms.size(); ++t) {
    if (old_df[t] == 0) continue;
    remap[t] = static_cast<uint32_t>(terms_.size());
    term_ids_.emplace(old_terms[t], remap[t]);
    terms_.push_back(std::move(old_terms[t]));
  }
  df_.assign(terms_.size(), 0);
  postings_.resize(terms_.size());
  ext_ids_.clear();
  doc_len_.clear();
  live_.clear();
  fwd_offset_.assign(1, 0);
  fwd_term_.clear();
  fwd_tf_.clear();
  internal_.clear();
  total_len_ = 0;
  num_nonempty_ = 0;
  num_deleted_ = 0;
  for (uint32_t d = 0; d < old_ext.size(); ++d) {
    if (!bit(old_live, d)) continue;
    const auto doc = static_cast<uint32_t>(ext_ids_.size());
    const uint32_t dl = old_len[d];
    ext_ids_.push_back(old_ext[d]);
    doc_len_.push_back(dl);
    attrs_.set(doc, old_attrs.get(d));
    if (live_.size() * 64 <= doc) live_.push_back(0);
    live_[doc >> 6] |= uint64_t{1} << (doc & 63);
    // Remapping keeps term order (ids only drop), so the forward entries stay sorted.
    for (uint64_t i = old_off[d]; i < old_off[d + 1]; ++i) {
      const uint32_t term = remap[old_term[i]];
      fwd_term_.push_back(term);
      fwd_tf_.push_back(old_tf[i]);
      ++df_[term];
      append_posting(term, doc, old_tf[i], dl, 1.0);  // bounds recomputed below
    }
    fwd_offset_.push_back(fwd_term_.size());
    internal_.emplace(old_ext[d], doc);
    total_len_ += dl;
    if (dl > 0) ++num_nonempty_;
  }
  recompute_bounds_locked();
}

std::vector<Index::QueryTerm> Index::query_terms(std::string_view query) const {
  const std::vector<std::string> words = analyzer_.analyze(query);
  std::vector<QueryTerm> out;
  out.reserve(words.size());
  // A repeated word adds to its term's qtf (or is skipped again when the index lacks
  // it). Short queries find the repeats by a linear scan, which beats building a hash
  // map per query; long ones use the map (the scan is quadratic).
  constexpr std::size_t kScanUpTo = 32;
  std::unordered_map<std::string_view, std::size_t> seen_at;  // word -> index in out, or SIZE_MAX
  std::vector<std::size_t> slot_of(words.size(), SIZE_MAX);    // (short queries) word i -> out index
  for (std::size_t i = 0; i < words.size(); ++i) {
    const std::string& w = words[i];
    std::size_t prior = SIZE_MAX;  // the out index of an earlier occurrence, or SIZE_MAX
    bool repeated = false;
    if (words.size() <= kScanUpTo) {
      for (std::size_t j = 0; j < i; ++j)
        if (words[j] == w) {
          repeated = true;
          prior = slot_of[j];
          break;
        }
    } else if (const auto f = seen_at.find(w); f != seen_at.end()) {
      repeated = true;
      prior = f->second;
    }
    if (repeated) {
      if (prior != SIZE_MAX) out[prior].qtf += 1.0;
      slot_of[i] = prior;
      continue;
    }
    const auto it = term_ids_.find(w);
    const bool known = it != term_ids_.end() && df_[it->second] != 0;
    slot_of[i] = known ? out.size() : SIZE_MAX;
    if (words.size() > kScanUpTo) seen_at.emplace(w, slot_of[i]);
    if (known) out.push_back(QueryTerm{it->second, static_cast<uint32_t>(out.size()), 1.0, 0.0, 0.0});
  }
  return out;
}

std::vector<Hit> Index::search(std::string_view query, std::size_t k, const AllowedBits* allowed,
                               Strategy strategy) const {
  Scratch scratch;
  auto lock = read_lock();
  return search_locked(query, k, allowed, strategy, scratch);
}

std::vector<Hit> Index::search_exhaustive(std::string_view query, std::size_t k, const AllowedBits* allowed) const {
  return search(query, k, allowed, Strategy::kExhaustive);
}

std::vector<Hit> Index::search_locked(std::string_view query, std::size_t k, const AllowedBits* allowed,
                                      Strategy strategy, Scratch& scratch) const {
  std::vector<QueryTerm> qts = query_terms(query);
  // Documents with at least one term (Lucene's docCount) and their mean length.
  const std::size_t n_docs = internal_.size();
  std::vector<Hit> result;
  if (qts.empty() || k == 0 || n_docs == 0 || total_len_ == 0) return result;
  const double N = static_cast<double>(num_nonempty_);
  const double avgdl = static_cast<double>(total_len_) / N;
  const double k1 = params_.k1;
  const double b = params_.b;
  uint64_t sum_df = 0;
  for (QueryTerm& q : qts) {
    const double df = static_cast<double>(df_[q.term]);
    q.idf = std::log(1.0 + (N - df + 0.5) / (df + 0.5));
    const Postings& p = postings_[q.term];
    const double tf = p.max_tf;
    const double dl = p.min_dl;
    const double coarse = tf / (tf + k1 * (1.0 - b + b * dl / avgdl));
    const double tracked = p.ub_frac * std::max(1.0, avgdl / p.ub_avgdl);
    q.ub = q.qtf * q.idf * std::min(coarse, tracked);
    sum_df += p.count;
  }
  const std::vector<double>& norm_of = norms(avgdl);
  auto contribution = [&](const QueryTerm& q, uint32_t tf_i, uint32_t doc) {
    const double tf = tf_i;
    return q.qtf * q.idf * (tf / (tf + norm_of[doc]));
  };
  auto ok = [&](uint32_t doc) { return bit(live_, doc) && allowed_bit(allowed, doc); };

  if (strategy == Strategy::kAuto) {
    // Term-at-a-time over a dense accumulator costs ~ the postings plus the array;
    // it wins while the array is not much larger than the postings to read. Beyond
    // that, MaxScore skips what cannot reach the top k.
    const bool small_index = ext_ids_.size() <= kTaatMaxPostings;
    const bool dense_ok = ext_ids_.size() <= 8 * sum_df + 4096;
    strategy = (small_index || (dense_ok && sum_df <= kTaatMaxPostings)) ? Strategy::kExhaustive
                                                                         : Strategy::kMaxScore;
  }

  TopK top(k, n_docs);
  const std::size_t m = qts.size();
  if (strategy == Strategy::kExhaustive) {
    // Term-at-a-time in query order: each document's sum is formed in the canonical
    // order. Contributions are > 0, so acc == 0 means untouched.
    std::vector<double>& acc = scratch.acc;
    std::vector<uint32_t>& touched = scratch.touched;
    if (acc.size() < ext_ids_.size()) acc.resize(ext_ids_.size(), 0.0);
    if (touched.size() < sum_df) touched.resize(sum_df);
    const double* norm = norm_of.data();
    std::size_t n_touched = 0;
    for (const QueryTerm& q : qts) {
      const Postings& p = postings_[q.term];
      const uint8_t* ptr = p.bytes.data();
      const double w = q.qtf * q.idf;
      uint32_t d = 0;
      for (uint32_t i = 0; i < p.count; ++i) {
        d += get_varint(ptr);
        const double tf = get_varint(ptr);
        const double c = w * (tf / (tf + norm[d]));
        touched[n_touched] = d;  // kept only on the document's first touch
        n_touched += acc[d] == 0.0;
        acc[d] += c;
      }
    }
    double theta = top.threshold();
    for (std::size_t i = 0; i < n_touched; ++i) {
      const uint32_t d = touched[i];
      const double score = acc[d];
      acc[d] = 0.0;
      if (score < theta || !ok(d)) continue;  // equal scores go on to the tie-break
      top.push(Cand{score, d});
      theta = top.threshold();
    }
  } else {
    // MaxScore: terms by ascending upper bound; the first `ne` of them are
    // non-essential (their bounds sum to no more than the threshold).
    std::vector<std::size_t> by_ub(m);
    for (std::size_t i = 0; i < m; ++i) by_ub[i] = i;
    std::sort(by_ub.begin(), by_ub.end(), [&](std::size_t x, std::size_t y) {
      return qts[x].ub < qts[y].ub || (qts[x].ub == qts[y].ub && x < y);
    });
    std::vector<Cursor> cur;
    cur.reserve(m);
    std::vector<double> prefix(m);
    double run = 0;
    for (std::size_t i = 0; i < m; ++i) {
      cur.emplace_back(postings_[qts[by_ub[i]].term]);
      run += qts[by_ub[i]].ub;
      prefix[i] = run * (1.0 + 1e-9) + 1e-12;  // slack for rounding: bounds never undercut
    }
    std::vector<double> contrib(m, 0.0);  // by query order
    std::size_t ne = 0;
    // Current doc of each cursor, contiguous (the candidate scan reads only these).
    std::vector<uint32_t> at(m);
    for (std::size_t i = 0; i < m; ++i) at[i] = cur[i].doc();
    std::vector<uint32_t> set_orders;  // entries of contrib to clear
    set_orders.reserve(m);
    while (true) {
      const double theta = top.threshold();
      while (ne < m && prefix[ne] <= theta) ++ne;
      if (ne == m) break;
      uint32_t d = kEnd;
      for (std::size_t i = ne; i < m; ++i) d = std::min(d, at[i]);
      if (d == kEnd) break;
      if (!ok(d)) {
        for (std::size_t i = ne; i < m; ++i)
          if (at[i] == d) {
            cur[i].next();
            at[i] = cur[i].doc();
          }
        continue;
      }
      double partial = 0;
      for (std::size_t i = ne; i < m; ++i) {
        if (at[i] == d) {
          const QueryTerm& q = qts[by_ub[i]];
          const double c = contribution(q, cur[i].tf(), d);
          contrib[q.order] = c;
          set_orders.push_back(q.order);
          partial += c;
          cur[i].next();
          at[i] = cur[i].doc();
        }
      }
      bool pruned = false;
      for (std::size_t i = ne; i-- > 0;) {
        const double have = partial * (1.0 + 1e-9);
        if (have + prefix[i] <= theta) {
          pruned = true;
          break;
        }
        // Block-max: the bound of the block that could hold d, before decoding it.
        const std::size_t blk = cur[i].shallow(d);
        if (blk == Cursor::kNoBlock) continue;
        {
          const QueryTerm& q = qts[by_ub[i]];
          const Postings& p = cur[i].postings();
          const double tf = p.block_max_tf[blk];
          const double dl = p.block_min_dl[blk];
          const double frac = tf / (tf + k1 * (1.0 - b + b * dl / avgdl));
          const double block_ub = std::min(q.ub, q.qtf * q.idf * frac) * (1.0 + 1e-9) + 1e-12;
          if (have + block_ub + (i > 0 ? prefix[i - 1] : 0.0) <= theta) {
            pruned = true;
            break;
          }
        }
        cur[i].advance(d);
        at[i] = cur[i].doc();
        if (at[i] == d) {
          const QueryTerm& q = qts[by_ub[i]];
          const double c = contribution(q, cur[i].tf(), d);
          contrib[q.order] = c;
          set_orders.push_back(q.order);
          partial += c;
        }
      }
      // The exact score, summed in query order, only for a document that may enter.
      if (!pruned && partial * (1.0 + 1e-9) + 1e-12 > theta) {
        double s = 0;
        for (std::size_t o = 0; o < m; ++o) s += contrib[o];
        top.push(Cand{s, d});
      }
      for (uint32_t o : set_orders) contrib[o] = 0.0;
      set_orders.clear();
    }
  }
  std::vector<Cand> best = std::move(top).sorted();
  result.reserve(best.size());
  for (const Cand& c : best) result.push_back(Hit{ext_ids_[c.doc], static_cast<float>(c.score)});
  return result;
}

void Index::search_batch(std::span<const std::string_view> queries, std::size_t k, std::size_t num_threads,
                         uint64_t* ids, float* scores, const AllowedBits* allowed, Strategy strategy,
                         const filter::Expr* where) const {
  const std::size_t nq = queries.size();
  std::fill(ids, ids + nq * k, kMissingId);
  std::fill(scores, scores + nq * k, -std::numeric_limits<float>::infinity());
  // A filter: one read lock for the batch, the selection evaluated under it.
  std::shared_lock<std::shared_mutex> batch_lock;
  filter::Selection selection;
  AllowedBits selected;
  if (where != nullptr) {
    batch_lock = read_lock();
    filter::Bitset universe(ext_ids_.size());
    std::copy(live_.begin(), live_.begin() + static_cast<std::ptrdiff_t>(universe.words().size()),
              universe.words().begin());
    if (allowed != nullptr) {
      for (std::size_t w = 0; w < universe.words().size(); ++w)
        universe.words()[w] &= w < allowed->size() ? (*allowed)[w] : 0;
    }
    selection = attrs_.evaluate(*where, universe);
    selected = AllowedBits(selection.bits.words());
    allowed = &selected;
    if (selection.count == 0) return;
  }
  const bool hold = where != nullptr;
  auto run_one = [&](std::size_t q, Scratch& scratch) {
    std::vector<Hit> hits;
    if (hold) {
      hits = search_locked(queries[q], k, allowed, strategy, scratch);
    } else {
      auto lock = read_lock();
      hits = search_locked(queries[q], k, allowed, strategy, scratch);
    }
    for (std::size_t j = 0; j < hits.size(); ++j) {
      ids[q * k + j] = hits[j].id;
      scores[q * k + j] = hits[j].score;
    }
  };
  if (num_threads == 0) num_threads = std::max(1u, std::thread::hardware_concurrency());
  num_threads = std::min(num_threads, nq);
  if (num_threads <= 1) {
    Scratch scratch;
    for (std::size_t q = 0; q < nq; ++q) run_one(q, scratch);
    return;
  }
  std::atomic<std::size_t> next{0};
  std::atomic<bool> failed{false};
  std::exception_ptr error;
  std::mutex error_mutex;
  auto worker = [&] {
    Scratch scratch;
    while (!failed.load(std::memory_order_relaxed)) {
      const std::size_t q = next.fetch_add(1);
      if (q >= nq) return;
      try {
        run_one(q, scratch);
      } catch (...) {
        std::lock_guard g(error_mutex);
        if (!error) error = std::current_exception();
        failed.store(true);
        return;
      }
    }
  };
  std::vector<std::thread> threads;
  threads.reserve(num_threads - 1);
  for (std::size_t t = 1; t < num_threads; ++t) threads.emplace_back(worker);
  worker();
  for (std::thread& t : threads) t.join();
  if (error) std::rethrow_exception(error);
}

// ---- save / load ---------------------------------------------------------------------
//
// Layout (little-endian): magic "CVKBM25\0", u32 version, u32 reserved, f64 k1, f64 b,
// analyzer (u8 lowercase, u8 stemmer, u8 cjk_bigrams, u8 reserved, u32 n, n strings),
// u64 n_terms + strings, u64 n_docs + per doc (u64 id, u32 dl, u32 n, n x (u32 term,
// u32 tf)), then u64 XXH3-64 of everything before it. Strings are u32 length + bytes.

std::string Index::to_bytes() const {
  std::string buf;
  {
    auto lock = read_lock();
    buf.append(kMagic, sizeof kMagic);
    put_u32(buf, kVersion);
    put_u32(buf, 0);
    put_f64(buf, params_.k1);
    put_f64(buf, params_.b);
    const analysis::AnalyzerOptions& o = analyzer_.options();
    buf.push_back(static_cast<char>(o.lowercase));
    buf.push_back(static_cast<char>(o.stemmer));
    buf.push_back(static_cast<char>(o.cjk_bigrams));
    buf.push_back(0);
    put_u32(buf, static_cast<uint32_t>(o.stopwords.size()));
    for (const std::string& w : o.stopwords) put_str(buf, w);
    std::vector<uint32_t> remap(terms_.size(), kEnd);
    uint64_t n_terms = 0;
    for (uint32_t t = 0; t < terms_.size(); ++t)
      if (df_[t] > 0) remap[t] = static_cast<uint32_t>(n_terms++);
    put_u64(buf, n_terms);
    for (uint32_t t = 0; t < terms_.size(); ++t)
      if (df_[t] > 0) put_str(buf, terms_[t]);
    put_u64(buf, internal_.size());
    filter::AttributeStore written;  // renumbered as the documents are written
    uint32_t out = 0;
    for (uint32_t d = 0; d < ext_ids_.size(); ++d) {
      if (!bit(live_, d)) continue;
      put_u64(buf, ext_ids_[d]);
      put_u32(buf, doc_len_[d]);
      put_u32(buf, static_cast<uint32_t>(fwd_offset_[d + 1] - fwd_offset_[d]));
      for (uint64_t i = fwd_offset_[d]; i < fwd_offset_[d + 1]; ++i) {
        put_u32(buf, remap[fwd_term_[i]]);
        put_u32(buf, fwd_tf_[i]);
      }
      written.set(out++, attrs_.get(d));
    }
    written.write(buf);
  }
  put_u64(buf, hash::xxh3_64(buf));
  return buf;
}

void Index::save(const std::string& path) const { fileio::write_file_atomic(path, to_bytes()); }

std::unique_ptr<Index> Index::load(const std::string& path) {
  const fileio::MappedFile file(path);
  return from_bytes(file.bytes(), path);
}

std::unique_ptr<Index> Index::from_bytes(std::string_view data, const std::string& path) {
  Reader head(data, path);
  if (data.size() < sizeof kMagic + 8 || std::memcmp(data.data(), kMagic, sizeof kMagic) != 0)
    head.fail("it does not start with the BM25 index magic bytes (is it a BM25Index file?)");
  const std::string_view body(data.data(), data.size() - 8);
  uint64_t stored = 0;
  std::memcpy(&stored, data.data() + data.size() - 8, 8);
  {
    Reader r(body, path);
    for (std::size_t i = 0; i < sizeof kMagic; ++i) (void)r.get<char>();
    if (body.size() >= 12) {
      const uint32_t version = r.get<uint32_t>();
      if (version != kVersion && version != 1)
        r.fail("format version " + std::to_string(version) + " is not the supported version " +
               std::to_string(kVersion));
    }
  }
  if (hash::xxh3_64(body) != stored) head.fail("the checksum does not match (the file was changed or cut short)");

  Reader r(body, path);
  for (std::size_t i = 0; i < sizeof kMagic; ++i) (void)r.get<char>();
  const uint32_t file_version = r.get<uint32_t>();
  (void)r.get<uint32_t>();
  Params params;
  params.k1 = r.get<double>();
  params.b = r.get<double>();
  analysis::AnalyzerOptions o;
  o.lowercase = r.get<uint8_t>() != 0;
  const uint8_t stem = r.get<uint8_t>();
  if (stem > 1) r.fail("unknown stemmer " + std::to_string(stem));
  o.stemmer = static_cast<analysis::Stemmer>(stem);
  o.cjk_bigrams = r.get<uint8_t>() != 0;
  (void)r.get<uint8_t>();
  const uint32_t n_stop = r.get<uint32_t>();
  if (n_stop > r.remaining() / 4) r.fail("stopword count out of range");
  for (uint32_t i = 0; i < n_stop; ++i) o.stopwords.emplace_back(r.str());
  std::unique_ptr<Index> index;
  try {
    index = std::make_unique<Index>(params, analysis::Analyzer(std::move(o)));
  } catch (const InvalidInput& e) {
    r.fail(std::string("bad settings: ") + e.what());
  }
  Index& x = *index;
  const uint64_t n_terms = r.get<uint64_t>();
  if (n_terms > r.remaining() / 4) r.fail("term count out of range");
  x.terms_.reserve(n_terms);
  for (uint64_t t = 0; t < n_terms; ++t) {
    std::string term(r.str());
    if (!x.term_ids_.emplace(term, static_cast<uint32_t>(t)).second) r.fail("a term appears twice");
    x.terms_.push_back(std::move(term));
  }
  x.df_.assign(n_terms, 0);
  x.postings_.resize(n_terms);
  const uint64_t n_docs = r.get<uint64_t>();
  if (n_docs > r.remaining() / 16 || n_docs >= kEnd - 1) r.fail("document count out of range");
  for (uint64_t d = 0; d < n_docs; ++d) {
    const uint64_t id = r.get<uint64_t>();
    const uint32_t dl = r.get<uint32_t>();
    const uint32_t n = r.get<uint32_t>();
    if (n > r.remaining() / 8) r.fail("term list out of range");
    if (!x.internal_.emplace(id, static_cast<uint32_t>(d)).second) r.fail("id " + std::to_string(id) + " appears twice");
    const auto doc = static_cast<uint32_t>(d);
    x.ext_ids_.push_back(id);
    x.doc_len_.push_back(dl);
    if (x.live_.size() * 64 <= doc) x.live_.push_back(0);
    x.live_[doc >> 6] |= uint64_t{1} << (doc & 63);
    uint64_t sum = 0;
    uint32_t prev = 0;
    for (uint32_t i = 0; i < n; ++i) {
      const uint32_t term = r.get<uint32_t>();
      const uint32_t tf = r.get<uint32_t>();
      if (term >= n_terms || tf == 0 || (i > 0 && term <= prev)) r.fail("bad term entry in a document");
      prev = term;
      sum += tf;
      x.fwd_term_.push_back(term);
      x.fwd_tf_.push_back(tf);
      ++x.df_[term];
      x.append_posting(term, doc, tf, dl, 1.0);  // bounds recomputed below
    }
    if (sum != dl) r.fail("a document's length does not match its terms");
    x.fwd_offset_.push_back(x.fwd_term_.size());
    x.total_len_ += dl;
    if (dl > 0) ++x.num_nonempty_;
  }
  if (file_version >= 2) {
    std::string_view rest = r.rest();
    x.attrs_ = filter::AttributeStore::read(rest);
    if (!rest.empty()) r.fail("unexpected bytes after the attributes");
  } else if (!r.at_end()) {
    r.fail("unexpected bytes after the documents");
  }
  x.recompute_bounds_locked();
  return index;
}

}  // namespace covekit::bm25
