#include "covekit/vector_index.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <exception>
#include <filesystem>
#include <limits>
#include <mutex>
#include <queue>
#include <random>
#include <shared_mutex>
#include <sstream>
#include <thread>
#include <unordered_set>

#include <hnswlib/hnswlib.h>
#include <xxhash.h>

#include "covekit/simd_distance.hpp"

#include "binio.hpp"
#include "fileio.hpp"
#include "covekit/errors.hpp"
#include "covekit/hash.hpp"
#include "covekit/parallel.hpp"

namespace covekit::vector {

namespace {

using hnswlib::tableint;
using Hnsw = hnswlib::HierarchicalNSW<float>;
using filter::Bitset;

constexpr char kMagic[8] = {'C', 'V', 'K', 'V', 'I', 'D', 'X', '\0'};
constexpr uint32_t kFormatVersion = 1;
constexpr std::size_t kDefaultEf = 128;
constexpr std::size_t kInitialCapacity = 1024;

// Frees hnswlib's per-element upper-level link lists the way hnswlib allocates them.
struct FreeDeleter {
  void operator()(char* p) const noexcept { std::free(p); }
};

std::string id_str(uint64_t id) { return std::to_string(id); }

}  // namespace

Metric parse_metric(std::string_view name) {
  if (name == "cosine") return Metric::kCosine;
  if (name == "ip") return Metric::kIp;
  if (name == "l2") return Metric::kL2;
  throw InvalidInput("metric must be 'cosine', 'ip' or 'l2', got '" + std::string(name) + "'");
}

const char* metric_name(Metric m) noexcept {
  switch (m) {
    case Metric::kCosine:
      return "cosine";
    case Metric::kIp:
      return "ip";
    case Metric::kL2:
      return "l2";
  }
  return "?";
}

// hnswlib space whose distance is covekit's kernel for this CPU (simd_distance.hpp):
// hnswlib's own spaces pick SSE/AVX at compile time, and a wheel is built for the
// baseline ISA.
class DispatchSpace final : public hnswlib::SpaceInterface<float> {
 public:
  DispatchSpace(std::size_t dim, bool l2)
      : dim_(dim), func_(l2 ? simd::l2_distance(simd::detect()) : simd::ip_distance(simd::detect())) {}
  std::size_t get_data_size() override { return dim_ * sizeof(float); }
  hnswlib::DISTFUNC<float> get_dist_func() override { return func_; }
  void* get_dist_func_param() override { return &dim_; }

 private:
  std::size_t dim_;
  simd::DistFunc func_;
};

struct VectorIndex::Impl {
  Options opt;
  std::unique_ptr<hnswlib::SpaceInterface<float>> space;
  std::unique_ptr<Hnsw> hnsw;
  filter::AttributeStore attrs;
  Bitset live;  // over slots [0, cur_element_count)
  std::size_t live_count = 0;
  std::vector<uint32_t> free_slots;  // deleted slots to reuse (LIFO)
  std::atomic<std::size_t> ef{kDefaultEf};
  std::atomic<double> exact_scale{1.3};

  // Writer preference: a writer holds `turnstile` while it waits for `rw`, so new
  // readers queue behind it instead of starving it.
  mutable std::mutex turnstile;
  mutable std::shared_mutex rw;

  struct ReadLock {
    std::shared_lock<std::shared_mutex> lock;
    explicit ReadLock(const Impl& im) {
      { std::lock_guard<std::mutex> t(im.turnstile); }
      lock = std::shared_lock<std::shared_mutex>(im.rw);
    }
  };
  struct WriteLock {
    std::unique_lock<std::shared_mutex> lock;
    explicit WriteLock(const Impl& im) {
      std::lock_guard<std::mutex> t(im.turnstile);
      lock = std::unique_lock<std::shared_mutex>(im.rw);
    }
  };

  explicit Impl(const Options& o) : opt(o) {
    if (o.dim == 0) throw InvalidInput("dim must be >= 1");
    if (o.dim > (1u << 16)) throw InvalidInput("dim must be <= 65536");
    if (o.M < 2 || o.M > 2048) throw InvalidInput("M must be between 2 and 2048, got " + std::to_string(o.M));
    if (o.ef_construction < 1) throw InvalidInput("ef_construction must be >= 1");
    space = std::make_unique<DispatchSpace>(o.dim, o.metric == Metric::kL2);
    hnsw = std::make_unique<Hnsw>(space.get(), kInitialCapacity, o.M, o.ef_construction, o.seed);
  }

  [[nodiscard]] std::size_t slots() const { return hnsw->cur_element_count; }

  // See VectorIndex::exact_cutoff (call with a lock held).
  [[nodiscard]] std::size_t cutoff(std::size_t k, std::size_t ef_) const {
    const double n = static_cast<double>(live_count);
    const double e = static_cast<double>(std::max(ef_ ? ef_ : ef.load(), k));
    const double c = exact_scale.load() * std::sqrt(e * n * 2.0 * static_cast<double>(opt.M));
    return std::max<std::size_t>(k, static_cast<std::size_t>(std::min(c, 1e18)));
  }

  [[nodiscard]] float dist(const float* q, tableint id) const {
    return hnsw->fstdistfunc_(q, hnsw->getDataByInternalId(id), hnsw->dist_func_param_);
  }
  [[nodiscard]] float score_of(float d) const { return opt.metric == Metric::kL2 ? -d : 1.0f - d; }

  // Checks finiteness (and a non-zero norm under cosine) and writes the vector to use.
  void prepare(const float* v, float* out, std::size_t row) const {
    double norm = 0;
    for (std::size_t j = 0; j < opt.dim; ++j) {
      if (!std::isfinite(v[j]))
        throw InvalidInput("vector " + std::to_string(row) + " holds NaN or infinity at column " +
                           std::to_string(j) + "; pass finite floats");
      norm += static_cast<double>(v[j]) * v[j];
    }
    if (opt.metric == Metric::kCosine) {
      if (norm == 0)
        throw InvalidInput("vector " + std::to_string(row) +
                           " is all zeros, which has no direction under the cosine metric; drop it or "
                           "use metric='ip' or 'l2'");
      const double inv = 1.0 / std::sqrt(norm);
      for (std::size_t j = 0; j < opt.dim; ++j) out[j] = static_cast<float>(v[j] * inv);
    } else {
      std::memcpy(out, v, opt.dim * sizeof(float));
    }
  }

  [[nodiscard]] tableint slot_of(uint64_t id) const {
    auto it = hnsw->label_lookup_.find(static_cast<hnswlib::labeltype>(id));
    if (it == hnsw->label_lookup_.end()) throw InvalidInput("id " + id_str(id) + " is not in the index");
    return it->second;
  }

  void grow(std::size_t needed) {
    if (needed <= hnsw->max_elements_) return;
    const std::size_t cap = std::max(needed, hnsw->max_elements_ * 2);
    if (cap > std::numeric_limits<uint32_t>::max() - 1)
      throw InvalidInput("a VectorIndex holds at most 2**32 - 2 vectors");
    hnsw->resizeIndex(cap);
  }

  // hnswlib's addPoint for a slot reserved beforehand, with the level drawn beforehand
  // (so parallel inserts neither race on the level generator nor read the entry point
  // outside its lock).
  void insert(tableint cur_c, const float* data_point, hnswlib::labeltype label, int curlevel) {
    Hnsw& h = *hnsw;
    std::unique_lock<std::mutex> lock_el_update(h.link_list_update_locks_[cur_c & (Hnsw::max_update_element_locks - 1)]);
    // Unlike hnswlib, `global` is taken before the node's own lock, so that the lock
    // order is always global -> node locks (ThreadSanitizer found the inversion).
    std::unique_lock<std::mutex> templock(h.global);
    std::unique_lock<std::mutex> lock_el(h.link_list_locks_[cur_c]);
    h.element_levels_[cur_c] = curlevel;
    const int maxlevelcopy = h.maxlevel_;
    tableint currObj = h.enterpoint_node_;
    const tableint enterpoint_copy = h.enterpoint_node_;
    if (curlevel <= maxlevelcopy) templock.unlock();

    std::memset(h.data_level0_memory_ + cur_c * h.size_data_per_element_ + h.offsetLevel0_, 0, h.size_data_per_element_);
    std::memcpy(h.getExternalLabeLp(cur_c), &label, sizeof(hnswlib::labeltype));
    std::memcpy(h.getDataByInternalId(cur_c), data_point, h.data_size_);
    if (curlevel) {
      // hnswlib allocates one spare byte; its search prefetches through datal[j + 1],
      // reading one id past a full list (AddressSanitizer): allocate one spare id.
      const std::size_t bytes = h.size_links_per_element_ * static_cast<std::size_t>(curlevel) + sizeof(tableint);
      h.linkLists_[cur_c] = static_cast<char*>(std::malloc(bytes));
      if (!h.linkLists_[cur_c]) throw std::bad_alloc();
      std::memset(h.linkLists_[cur_c], 0, bytes);
    }
    if (static_cast<int>(currObj) != -1) {
      if (curlevel < maxlevelcopy) {
        float curdist = h.fstdistfunc_(data_point, h.getDataByInternalId(currObj), h.dist_func_param_);
        for (int level = maxlevelcopy; level > curlevel; level--) {
          bool changed = true;
          while (changed) {
            changed = false;
            std::unique_lock<std::mutex> lock(h.link_list_locks_[currObj]);
            unsigned int* data = h.get_linklist(currObj, level);
            const int size = h.getListCount(data);
            const tableint* datal = reinterpret_cast<tableint*>(data + 1);
            for (int i = 0; i < size; i++) {
              const tableint cand = datal[i];
              const float d = h.fstdistfunc_(data_point, h.getDataByInternalId(cand), h.dist_func_param_);
              if (d < curdist) {
                curdist = d;
                currObj = cand;
                changed = true;
              }
            }
          }
        }
      }
      const bool epDeleted = h.isMarkedDeleted(enterpoint_copy);
      for (int level = std::min(curlevel, maxlevelcopy); level >= 0; level--) {
        auto top = h.searchBaseLayer(currObj, data_point, level);
        if (epDeleted) {
          top.emplace(h.fstdistfunc_(data_point, h.getDataByInternalId(enterpoint_copy), h.dist_func_param_),
                      enterpoint_copy);
          if (top.size() > h.ef_construction_) top.pop();
        }
        currObj = h.mutuallyConnectNewElement(data_point, cur_c, top, level, false);
      }
    } else {
      h.enterpoint_node_ = 0;
      h.maxlevel_ = curlevel;
    }
    if (curlevel > maxlevelcopy) {
      h.enterpoint_node_ = cur_c;
      h.maxlevel_ = curlevel;
    }
  }

  // ---- search ----------------------------------------------------------------------

  using Hit = std::pair<float, tableint>;  // (distance, slot)

  // Exact k best of the allowed slots.
  template <class ForEach>
  std::vector<Hit> exact(const float* q, std::size_t k, ForEach&& for_each) const {
    std::priority_queue<Hit> top;  // max-heap on distance
    for_each([&](uint32_t id) {
      const float d = dist(q, id);
      if (top.size() < k) {
        top.emplace(d, id);
      } else if (Hit(d, id) < top.top()) {
        top.pop();
        top.emplace(d, id);
      }
    });
    std::vector<Hit> out(top.size());
    for (std::size_t i = out.size(); i-- > 0;) {
      out[i] = top.top();
      top.pop();
    }
    return out;
  }

  // Best-first search of level 0 that visits every node for navigation but keeps only
  // allowed ones (when `allowed` is not null). Returns up to ef hits, best first.
  std::vector<Hit> graph(const float* q, std::size_t ef, const Bitset* allowed) const {
    const Hnsw& h = *hnsw;
    tableint cur = h.enterpoint_node_;
    float curd = dist(q, cur);
    for (int level = h.maxlevel_; level > 0; level--) {
      bool changed = true;
      while (changed) {
        changed = false;
        const unsigned int* data = h.get_linklist(cur, level);
        const int size = h.getListCount(const_cast<unsigned int*>(data));
        const tableint* datal = reinterpret_cast<const tableint*>(data + 1);
        for (int i = 0; i < size; i++) {
          const float d = dist(q, datal[i]);
          if (d < curd) {
            curd = d;
            cur = datal[i];
            changed = true;
          }
        }
      }
    }
    hnswlib::VisitedList* vl = h.visited_list_pool_->getFreeVisitedList();
    struct Release {
      hnswlib::VisitedListPool* pool;
      hnswlib::VisitedList* vl;
      ~Release() { pool->releaseVisitedList(vl); }
    } release{h.visited_list_pool_, vl};
    hnswlib::vl_type* visited = vl->mass;
    const hnswlib::vl_type tag = vl->curV;

    // hnswlib's members, read once: the loop below writes through `visited`, so the
    // compiler could not keep them in registers itself.
    const char* const base = h.data_level0_memory_ + h.offsetData_;
    const char* const links0 = h.data_level0_memory_ + h.offsetLevel0_;
    const std::size_t stride = h.size_data_per_element_;
    const hnswlib::DISTFUNC<float> fdist = h.fstdistfunc_;
    const void* const fparam = h.dist_func_param_;
    auto vec = [&](tableint id) { return base + static_cast<std::size_t>(id) * stride; };
    // At a few hundred dimensions the search waits on memory: each vector is fetched
    // whole (all its cache lines, where hnswlib fetches the first) while the one before
    // it is scored.
    const std::size_t vbytes = h.data_size_;
    std::vector<tableint> fresh(h.maxM0_ + 1);
    auto prefetch_vector = [&](const char* p) {
      for (std::size_t off = 0; off < vbytes; off += 64) __builtin_prefetch(p + off);
    };

    std::priority_queue<Hit> top;                                       // worst allowed on top
    std::priority_queue<Hit, std::vector<Hit>, std::greater<Hit>> cand;  // closest on top
    float lower = std::numeric_limits<float>::infinity();
    if (!allowed || allowed->test(cur)) {
      top.emplace(curd, cur);
      lower = curd;
    }
    cand.emplace(curd, cur);
    visited[cur] = tag;
    while (!cand.empty()) {
      const Hit c = cand.top();
      if (c.first > lower && (top.size() >= ef || !allowed)) break;
      cand.pop();
      const unsigned int* data = h.get_linklist0(c.second);
      const int size = h.getListCount(const_cast<unsigned int*>(data));
      const tableint* datal = reinterpret_cast<const tableint*>(data + 1);
      // Two passes: mark the unvisited neighbours first (the visited array is small and
      // cached), then score only those, each vector fetched whole while the one before
      // it is scored. Prefetching the vectors of visited neighbours would waste the
      // memory bandwidth the search is waiting on.
      if (static_cast<std::size_t>(size) > fresh.size()) fresh.resize(static_cast<std::size_t>(size));
      int n_new = 0;
      for (int i = 0; i < size; i++) {
        const tableint nb = datal[i];
        if (visited[nb] == tag) continue;
        visited[nb] = tag;
        fresh[n_new++] = nb;
      }
      if (n_new > 0) prefetch_vector(vec(fresh[0]));
      for (int i = 0; i < n_new; i++) {
        const tableint nb = fresh[i];
        if (i + 1 < n_new) prefetch_vector(vec(fresh[i + 1]));
        const float d = fdist(q, vec(nb), fparam);
        if (top.size() < ef || d < lower) {
          cand.emplace(d, nb);
          // The next node to expand is the closest candidate: fetch its links now.
          __builtin_prefetch(links0 + static_cast<std::size_t>(cand.top().second) * stride);
          if (!allowed || allowed->test(nb)) {
            top.emplace(d, nb);
            if (top.size() > ef) top.pop();
            lower = top.top().first;
          }
        }
      }
    }
    std::vector<Hit> out(top.size());
    for (std::size_t i = out.size(); i-- > 0;) {
      out[i] = top.top();
      top.pop();
    }
    return out;
  }
};

VectorIndex::VectorIndex(const Options& options) : impl_(std::make_unique<Impl>(options)) {}
VectorIndex::VectorIndex(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
VectorIndex::~VectorIndex() = default;

const Options& VectorIndex::options() const noexcept { return impl_->opt; }

std::size_t VectorIndex::size() const {
  Impl::ReadLock l(*impl_);
  return impl_->live_count;
}

std::size_t VectorIndex::capacity() const {
  Impl::ReadLock l(*impl_);
  return impl_->hnsw->max_elements_;
}

bool VectorIndex::contains(uint64_t id) const {
  Impl::ReadLock l(*impl_);
  return impl_->hnsw->label_lookup_.count(static_cast<hnswlib::labeltype>(id)) != 0;
}

std::vector<uint64_t> VectorIndex::ids() const {
  Impl::ReadLock l(*impl_);
  std::vector<uint64_t> out;
  out.reserve(impl_->live_count);
  impl_->live.for_each([&](uint32_t s) { out.push_back(impl_->hnsw->getExternalLabel(s)); });
  return out;
}

std::size_t VectorIndex::ef() const noexcept { return impl_->ef.load(); }

void VectorIndex::set_ef(std::size_t ef) {
  if (ef < 1) throw InvalidInput("ef must be >= 1");
  impl_->ef = ef;
}

double VectorIndex::exact_scale() const noexcept { return impl_->exact_scale.load(); }

void VectorIndex::set_exact_scale(double scale) {
  if (!(scale >= 0)) throw InvalidInput("exact_scale must be >= 0");
  impl_->exact_scale = scale;
}

std::size_t VectorIndex::exact_cutoff(std::size_t k, std::size_t ef) const {
  Impl::ReadLock l(*impl_);
  return impl_->cutoff(k, ef);
}

void VectorIndex::add(std::span<const uint64_t> ids, const float* vectors,
                      std::span<const filter::Attributes> attributes, std::size_t num_threads) {
  Impl& im = *impl_;
  const std::size_t n = ids.size(), dim = im.opt.dim;
  if (!attributes.empty() && attributes.size() != n)
    throw InvalidInput("attributes must have one entry per id (" + std::to_string(n) + "), got " +
                       std::to_string(attributes.size()));
  {
    std::unordered_set<uint64_t> seen;
    seen.reserve(n * 2);
    for (uint64_t id : ids) {
      if (id == kMissingId) throw InvalidInput("id 2**64-1 is reserved for missing results; use another id");
      if (!seen.insert(id).second)
        throw InvalidInput("id " + id_str(id) + " appears twice in one add(); ids must be unique");
    }
  }
  for (const auto& a : attributes) filter::AttributeStore::validate(a);
  std::vector<float> data(n * dim);
  for (std::size_t i = 0; i < n; ++i) im.prepare(vectors + i * dim, data.data() + i * dim, i);
  if (n == 0) return;

  Impl::WriteLock w(im);
  Hnsw& h = *im.hnsw;
  for (uint64_t id : ids)
    if (h.label_lookup_.count(id))
      throw InvalidInput("id " + id_str(id) + " is already in the index; use update() to replace its vector");

  // Slots: deleted ones first (relabelled, then re-linked by updatePoint), then fresh.
  std::vector<tableint> slot(n);
  std::vector<std::size_t> reused, fresh;
  for (std::size_t i = 0; i < n; ++i) {
    if (!im.free_slots.empty()) {
      slot[i] = im.free_slots.back();
      im.free_slots.pop_back();
      reused.push_back(i);
    } else {
      fresh.push_back(i);
    }
  }
  const std::size_t first_fresh = h.cur_element_count;
  im.grow(first_fresh + fresh.size());
  std::vector<int> levels(fresh.size());
  for (std::size_t j = 0; j < fresh.size(); ++j) {
    slot[fresh[j]] = static_cast<tableint>(first_fresh + j);
    levels[j] = h.getRandomLevel(h.mult_);
  }

  for (std::size_t i : reused) {
    const tableint s = slot[i];
    h.setExternalLabel(s, ids[i]);
    h.label_lookup_[ids[i]] = s;
    h.unmarkDeletedInternal(s);
    h.updatePoint(data.data() + i * dim, s, 1.0f);
  }
  if (!fresh.empty()) {
    // The first element of an empty graph goes in alone; the rest in parallel.
    std::size_t start = 0;
    if (h.enterpoint_node_ == static_cast<tableint>(-1) || h.cur_element_count == 0) {
      h.cur_element_count = first_fresh + 1;
      h.label_lookup_[ids[fresh[0]]] = slot[fresh[0]];
      im.insert(slot[fresh[0]], data.data() + fresh[0] * dim, ids[fresh[0]], levels[0]);
      start = 1;
    }
    h.cur_element_count = first_fresh + fresh.size();
    for (std::size_t j = start; j < fresh.size(); ++j) h.label_lookup_[ids[fresh[j]]] = slot[fresh[j]];
    parallel::parallel_for(fresh.size() - start, parallel::resolve_threads(num_threads, (fresh.size() - start) / 64 + 1),
                 [&](std::size_t t) {
                   const std::size_t j = start + t;
                   const std::size_t i = fresh[j];
                   im.insert(slot[i], data.data() + i * dim, ids[i], levels[j]);
                 });
  }
  im.live.resize(h.cur_element_count);
  for (std::size_t i = 0; i < n; ++i) {
    im.live.set(slot[i]);
    if (attributes.empty())
      im.attrs.clear(slot[i]);
    else
      im.attrs.set(slot[i], attributes[i]);
  }
  im.live_count += n;
}

void VectorIndex::check_new_ids(std::span<const uint64_t> ids) const {
  std::unordered_set<uint64_t> seen;
  seen.reserve(ids.size() * 2);
  for (uint64_t id : ids) {
    if (id == kMissingId) throw InvalidInput("id 2**64-1 is reserved for missing results; use another id");
    if (!seen.insert(id).second)
      throw InvalidInput("id " + id_str(id) + " appears twice in one add(); ids must be unique");
  }
  Impl::ReadLock l(*impl_);
  for (uint64_t id : ids)
    if (impl_->hnsw->label_lookup_.count(id))
      throw InvalidInput("id " + id_str(id) + " is already in the index; use update() to replace its vector");
}

void VectorIndex::update(std::span<const uint64_t> ids, const float* vectors,
                         std::span<const filter::Attributes> attributes) {
  Impl& im = *impl_;
  const std::size_t n = ids.size(), dim = im.opt.dim;
  if (!attributes.empty() && attributes.size() != n)
    throw InvalidInput("attributes must have one entry per id, or be None to keep them");
  for (const auto& a : attributes) filter::AttributeStore::validate(a);
  std::vector<float> data(n * dim);
  for (std::size_t i = 0; i < n; ++i) im.prepare(vectors + i * dim, data.data() + i * dim, i);
  Impl::WriteLock w(im);
  std::vector<tableint> slots(n);
  for (std::size_t i = 0; i < n; ++i) slots[i] = im.slot_of(ids[i]);
  for (std::size_t i = 0; i < n; ++i) {
    im.hnsw->updatePoint(data.data() + i * dim, slots[i], 1.0f);
    if (!attributes.empty()) im.attrs.set(slots[i], attributes[i]);
  }
}

void VectorIndex::set_attributes(std::span<const uint64_t> ids, std::span<const filter::Attributes> attributes) {
  Impl& im = *impl_;
  if (attributes.size() != ids.size()) throw InvalidInput("attributes must have one entry per id");
  for (const auto& a : attributes) filter::AttributeStore::validate(a);
  Impl::WriteLock w(im);
  std::vector<tableint> slots(ids.size());
  for (std::size_t i = 0; i < ids.size(); ++i) slots[i] = im.slot_of(ids[i]);
  for (std::size_t i = 0; i < ids.size(); ++i) im.attrs.set(slots[i], attributes[i]);
}

std::size_t VectorIndex::remove(std::span<const uint64_t> ids, bool missing_ok) {
  Impl& im = *impl_;
  Impl::WriteLock w(im);
  Hnsw& h = *im.hnsw;
  if (!missing_ok)
    for (uint64_t id : ids)
      if (!h.label_lookup_.count(id))
        throw InvalidInput("id " + id_str(id) + " is not in the index (pass missing_ok=True to ignore)");
  std::size_t removed = 0;
  for (uint64_t id : ids) {
    auto it = h.label_lookup_.find(id);
    if (it == h.label_lookup_.end()) continue;  // unknown, or given twice
    const tableint s = it->second;
    h.label_lookup_.erase(it);
    h.markDeletedInternal(s);
    im.live.reset(s);
    im.attrs.clear(s);
    im.free_slots.push_back(s);
    --im.live_count;
    ++removed;
  }
  return removed;
}

filter::Attributes VectorIndex::attributes(uint64_t id) const {
  Impl::ReadLock l(*impl_);
  return impl_->attrs.get(impl_->slot_of(id));
}

std::vector<float> VectorIndex::vector(uint64_t id) const {
  Impl::ReadLock l(*impl_);
  const auto* p = reinterpret_cast<const float*>(impl_->hnsw->getDataByInternalId(impl_->slot_of(id)));
  return std::vector<float>(p, p + impl_->opt.dim);
}

void VectorIndex::vectors(std::span<const uint64_t> ids, float* out) const {
  Impl::ReadLock l(*impl_);
  const std::size_t dim = impl_->opt.dim;
  for (std::size_t i = 0; i < ids.size(); ++i) {
    const auto* p = reinterpret_cast<const float*>(impl_->hnsw->getDataByInternalId(impl_->slot_of(ids[i])));
    std::copy(p, p + dim, out + i * dim);
  }
}

SearchResult VectorIndex::search(const float* queries, std::size_t nq, std::size_t k, std::size_t ef,
                                 const filter::Expr* filter, std::size_t num_threads, SearchInfo* info) const {
  const Impl& im = *impl_;
  const std::size_t dim = im.opt.dim;
  if (k == 0) throw InvalidInput("k must be >= 1");
  SearchResult r;
  r.nq = nq;
  r.k = k;
  r.ids.assign(nq * k, kMissingId);
  r.scores.assign(nq * k, -std::numeric_limits<float>::infinity());
  std::vector<float> q(nq * dim);
  for (std::size_t i = 0; i < nq; ++i) im.prepare(queries + i * dim, q.data() + i * dim, i);

  Impl::ReadLock l(im);
  const std::size_t n_live = im.live_count;
  if (nq == 0 || n_live == 0) return r;
  const bool has_deleted = im.live_count != im.slots();
  filter::Selection sel;
  const Bitset* allowed = nullptr;
  std::size_t n_allowed = n_live;
  if (filter) {
    sel = im.attrs.evaluate(*filter, im.live);
    allowed = &sel.bits;
    n_allowed = sel.count;
  } else if (has_deleted) {
    allowed = &im.live;
  }
  if (info) info->allowed = n_allowed;
  if (n_allowed == 0) return r;

  const std::size_t ef_base = std::max(ef ? ef : im.ef.load(), k);
  const std::size_t cutoff = im.cutoff(k, ef_base);
  const bool use_exact = n_allowed <= cutoff || n_allowed <= k;
  std::atomic<std::size_t> n_exact{0}, n_graph{0}, n_fallback{0};

  auto scan_allowed = [&](const float* qv) {
    return im.exact(qv, k, [&](auto&& f) {
      if (filter && sel.has_ids()) {
        for (uint32_t id : sel.ids) f(id);
      } else if (allowed) {
        allowed->for_each(f);
      } else {
        for (uint32_t s = 0; s < im.slots(); ++s) f(s);
      }
    });
  };
  parallel::parallel_for(nq, parallel::resolve_threads(num_threads, nq / 8 + 1), [&](std::size_t i) {
    const float* qv = q.data() + i * dim;
    std::vector<Impl::Hit> hits;
    if (use_exact) {
      hits = scan_allowed(qv);
      ++n_exact;
    } else {
      hits = im.graph(qv, ef_base, allowed);
      if (hits.size() < std::min(k, n_allowed)) {
        hits = scan_allowed(qv);
        ++n_fallback;
      } else {
        ++n_graph;
      }
    }
    const std::size_t m = std::min(k, hits.size());
    for (std::size_t j = 0; j < m; ++j) {
      r.ids[i * k + j] = im.hnsw->getExternalLabel(hits[j].second);
      r.scores[i * k + j] = im.score_of(hits[j].first);
    }
  });
  if (info) {
    info->exact += n_exact;
    info->graph += n_graph;
    info->fallback += n_fallback;
  }
  return r;
}

// ---- file format -----------------------------------------------------------------------
// header (88 bytes): magic[8] version:u32 metric:u32 dim M ef_construction seed count
//   slots payload_size payload_xxh3 (u64 each) header_xxh3:u64 (of the 80 bytes before).
// payload: ef:u64 maxlevel:i32 entry:u32 size_data_per_element:u64, level-0 block of
//   `slots` elements, per slot u32 bytes + upper link lists, level generator state (str),
//   free slots (u32 n + u32 each), attribute store.

namespace {
constexpr std::size_t kHeaderSize = 88;
}

namespace {

// Where an index image goes: a string (to_bytes) or a file (save). The payload's XXH3 is
// computed as the bytes pass, and the large blocks (the vectors and level-0 links) are
// written from the graph's memory, so saving never holds a second copy of the index.
// The header (which holds the payload's size and checksum) is filled in at the end.
class ImageWriter {
 public:
  explicit ImageWriter(std::string& out) : out_(&out) {
    out_->assign(kHeaderSize, '\0');
    reset();
  }
  ImageWriter(int fd, std::string path) : fd_(fd), path_(std::move(path)) {
    const std::string zeros(kHeaderSize, '\0');
    write_all(zeros.data(), zeros.size());
    reset();
  }

  std::string& buf() noexcept { return buf_; }  // small fields are appended here
  void maybe_flush() {
    if (buf_.size() >= kFlushAt) flush();
  }
  void block(const void* p, std::size_t n) {
    flush();
    emit(p, n);
  }
  void flush() {
    emit(buf_.data(), buf_.size());
    buf_.clear();
  }
  [[nodiscard]] uint64_t payload_size() const noexcept { return size_; }
  [[nodiscard]] uint64_t payload_hash() const noexcept { return XXH3_64bits_digest(state_.get()); }

  void header(std::string_view h) {
    if (out_) {
      std::memcpy(out_->data(), h.data(), h.size());
      return;
    }
    std::size_t off = 0;
    while (off < h.size()) {
      const ssize_t w = ::pwrite(fd_, h.data() + off, h.size() - off, static_cast<off_t>(off));
      if (w < 0 && errno == EINTR) continue;
      if (w < 0) throw InvalidInput("cannot write '" + path_ + "': " + std::strerror(errno));
      off += static_cast<std::size_t>(w);
    }
  }

 private:
  static constexpr std::size_t kFlushAt = std::size_t{1} << 20;
  void reset() {
    if (!state_ || XXH3_64bits_reset(state_.get()) != XXH_OK) throw std::bad_alloc();
  }
  void emit(const void* p, std::size_t n) {
    if (n == 0) return;
    XXH3_64bits_update(state_.get(), p, n);
    size_ += n;
    if (out_) out_->append(static_cast<const char*>(p), n);
    else write_all(p, n);
  }
  void write_all(const void* p, std::size_t n) { fileio::write_all(fd_, p, n, path_); }

  std::string* out_ = nullptr;
  int fd_ = -1;
  std::string path_;
  std::string buf_;
  uint64_t size_ = 0;
  std::unique_ptr<XXH3_state_t, decltype(&XXH3_freeState)> state_{XXH3_createState(), &XXH3_freeState};
};

}  // namespace

template <class Writer>
void VectorIndex::write_image(Writer& w) const {
  const Impl& im = *impl_;
  Impl::ReadLock l(im);
  const Hnsw& h = *im.hnsw;
  std::string& b = w.buf();
  binio::put<uint64_t>(b, im.ef.load());
  binio::put<int32_t>(b, h.maxlevel_);
  binio::put<uint32_t>(b, h.enterpoint_node_);
  binio::put<uint64_t>(b, h.size_data_per_element_);
  w.block(h.data_level0_memory_, h.cur_element_count * h.size_data_per_element_);
  for (std::size_t i = 0; i < h.cur_element_count; ++i) {
    const uint32_t bytes =
        h.element_levels_[i] > 0 ? static_cast<uint32_t>(h.size_links_per_element_ * h.element_levels_[i]) : 0;
    binio::put<uint32_t>(b, bytes);
    if (bytes) binio::put_bytes(b, h.linkLists_[i], bytes);
    w.maybe_flush();
  }
  {
    std::ostringstream rng;
    rng << h.level_generator_;
    binio::put_str(b, rng.str());
  }
  binio::put<uint32_t>(b, static_cast<uint32_t>(im.free_slots.size()));
  for (uint32_t s : im.free_slots) binio::put<uint32_t>(b, s);
  w.flush();
  im.attrs.write(b);
  w.flush();

  std::string hdr;
  hdr.reserve(kHeaderSize);
  binio::put_bytes(hdr, kMagic, 8);
  binio::put<uint32_t>(hdr, kFormatVersion);
  binio::put<uint32_t>(hdr, static_cast<uint32_t>(im.opt.metric));
  binio::put<uint64_t>(hdr, im.opt.dim);
  binio::put<uint64_t>(hdr, im.opt.M);
  binio::put<uint64_t>(hdr, im.opt.ef_construction);
  binio::put<uint64_t>(hdr, im.opt.seed);
  binio::put<uint64_t>(hdr, im.live_count);
  binio::put<uint64_t>(hdr, h.cur_element_count);
  binio::put<uint64_t>(hdr, w.payload_size());
  binio::put<uint64_t>(hdr, w.payload_hash());
  binio::put<uint64_t>(hdr, hash::xxh3_64(hdr));
  w.header(hdr);
}

std::string VectorIndex::serialize() const {
  std::string out;
  ImageWriter w(out);
  write_image(w);
  return out;
}

std::unique_ptr<VectorIndex> VectorIndex::deserialize(std::string_view bytes) { return deserialize(bytes, {}); }

std::unique_ptr<VectorIndex> VectorIndex::deserialize(std::string_view bytes, const Release& release) {
  auto corrupt = [](const std::string& why) -> IndexFileCorrupt {
    return IndexFileCorrupt("not a valid covekit vector index: " + why);
  };
  if (bytes.size() < kHeaderSize)
    throw corrupt("the data is " + std::to_string(bytes.size()) + " bytes, shorter than the 88-byte header (truncated?)");
  if (std::memcmp(bytes.data(), kMagic, 8) != 0)
    throw corrupt("it does not start with the VectorIndex magic bytes (another kind of file?)");
  std::string_view hdr = bytes.substr(8, kHeaderSize - 8);
  const auto version = binio::get<uint32_t>(hdr, "header");
  if (version != kFormatVersion)
    throw corrupt("format version " + std::to_string(version) + "; this covekit reads version " +
                  std::to_string(kFormatVersion) + " (rebuild the index, or load it with a matching covekit)");
  const auto metric = binio::get<uint32_t>(hdr, "header");
  Options o;
  o.dim = binio::get<uint64_t>(hdr, "header");
  o.M = binio::get<uint64_t>(hdr, "header");
  o.ef_construction = binio::get<uint64_t>(hdr, "header");
  o.seed = binio::get<uint64_t>(hdr, "header");
  const auto count = binio::get<uint64_t>(hdr, "header");
  const auto slots = binio::get<uint64_t>(hdr, "header");
  const auto payload_size = binio::get<uint64_t>(hdr, "header");
  const auto payload_hash = binio::get<uint64_t>(hdr, "header");
  const auto header_hash = binio::get<uint64_t>(hdr, "header");
  if (hash::xxh3_64(bytes.substr(0, kHeaderSize - 8)) != header_hash) throw corrupt("the header checksum does not match");
  if (bytes.size() - kHeaderSize != payload_size)
    throw corrupt("the payload is " + std::to_string(bytes.size() - kHeaderSize) + " bytes, the header says " +
                  std::to_string(payload_size) + " (truncated or appended to)");
  std::string_view in = bytes.substr(kHeaderSize);
  constexpr std::size_t kPiece = std::size_t{8} << 20;
  {
    // In pieces, each handed to `release` once hashed: a mapped file then never has
    // more than one piece resident for the checksum.
    std::unique_ptr<XXH3_state_t, decltype(&XXH3_freeState)> st{XXH3_createState(), &XXH3_freeState};
    if (!st || XXH3_64bits_reset(st.get()) != XXH_OK) throw std::bad_alloc();
    for (std::size_t off = 0; off < in.size(); off += kPiece) {
      const std::string_view piece = in.substr(off, kPiece);
      XXH3_64bits_update(st.get(), piece.data(), piece.size());
      if (release) release(piece);
    }
    if (XXH3_64bits_digest(st.get()) != payload_hash)
      throw corrupt("the payload checksum does not match (the file is damaged)");
  }
  if (metric > 2) throw corrupt("unknown metric code " + std::to_string(metric));
  o.metric = static_cast<Metric>(metric);
  if (count > slots || slots >= std::numeric_limits<uint32_t>::max()) throw corrupt("inconsistent counts");

  std::unique_ptr<Impl> im;
  try {
    im = std::make_unique<Impl>(o);
  } catch (const InvalidInput& e) {
    throw corrupt(std::string("bad settings in the header: ") + e.what());
  }
  Hnsw& h = *im->hnsw;
  im->ef = binio::get<uint64_t>(in, "settings");
  if (im->ef.load() < 1) throw corrupt("ef is 0");
  const auto maxlevel = binio::get<int32_t>(in, "graph");
  const auto entry = binio::get<uint32_t>(in, "graph");
  const auto per_element = binio::get<uint64_t>(in, "graph");
  if (per_element != h.size_data_per_element_) throw corrupt("the element size does not match dim and M");
  const std::string_view level0 = binio::get_bytes(in, slots * per_element, "vectors");  // before allocating
  im->grow(std::max<std::size_t>(slots, 1));
  for (std::size_t off = 0; off < level0.size(); off += kPiece) {
    const std::string_view piece = level0.substr(off, kPiece);
    std::memcpy(h.data_level0_memory_ + off, piece.data(), piece.size());
    if (release) release(piece);
  }
  h.cur_element_count = slots;  // from here on the destructor frees linkLists_[0, slots)
  for (std::size_t i = 0; i < slots; ++i) {
    const auto* v = reinterpret_cast<const float*>(h.getDataByInternalId(static_cast<tableint>(i)));
    for (std::size_t j = 0; j < o.dim; ++j)
      if (!std::isfinite(v[j])) throw corrupt("a stored vector holds NaN or infinity");
  }
  for (std::size_t i = 0; i < slots; ++i) {
    h.element_levels_[i] = 0;
    h.linkLists_[i] = nullptr;
  }
  int top_level = -1;
  for (std::size_t i = 0; i < slots; ++i) {
    const auto nbytes = binio::get<uint32_t>(in, "link lists");
    if (nbytes % h.size_links_per_element_ != 0) throw corrupt("a link list has a bad size");
    const int levels = static_cast<int>(nbytes / h.size_links_per_element_);
    if (levels > 64) throw corrupt("a node has more than 64 levels");
    const std::string_view raw = binio::get_bytes(in, nbytes, "link lists");
    if (levels) {
      h.linkLists_[i] = static_cast<char*>(std::malloc(nbytes + sizeof(tableint)));  // as in insert()
      if (!h.linkLists_[i]) throw std::bad_alloc();
      std::memcpy(h.linkLists_[i], raw.data(), nbytes);
      std::memset(h.linkLists_[i] + nbytes, 0, sizeof(tableint));
      h.element_levels_[i] = levels;
    }
    top_level = std::max(top_level, levels);
  }
  // Every link must point at a slot, and every count fit its list.
  for (std::size_t i = 0; i < slots; ++i) {
    for (int level = 0; level <= h.element_levels_[i]; ++level) {
      unsigned int* ll = level == 0 ? h.get_linklist0(static_cast<tableint>(i))
                                    : h.get_linklist(static_cast<tableint>(i), level);
      const std::size_t cnt = h.getListCount(ll);
      if (cnt > (level == 0 ? h.maxM0_ : h.maxM_)) throw corrupt("a link list is longer than M allows");
      const tableint* links = reinterpret_cast<const tableint*>(ll + 1);
      for (std::size_t j = 0; j < cnt; ++j) {
        if (links[j] >= slots) throw corrupt("a link points outside the graph");
        if (level > h.element_levels_[links[j]]) throw corrupt("a link points at a missing level");
      }
    }
  }
  if (slots) {
    if (entry >= slots || maxlevel != h.element_levels_[entry] || maxlevel != top_level)
      throw corrupt("bad entry point");
    h.enterpoint_node_ = entry;
    h.maxlevel_ = maxlevel;
  }
  {
    std::istringstream rng(binio::get_str(in, "level generator"));
    rng >> h.level_generator_;
    if (!rng) throw corrupt("bad level generator state");
  }
  im->live = Bitset(slots);
  std::size_t live = 0;
  h.num_deleted_ = 0;
  for (std::size_t i = 0; i < slots; ++i) {
    const auto s = static_cast<tableint>(i);
    if (h.isMarkedDeleted(s)) {
      ++h.num_deleted_;
      continue;
    }
    const uint64_t label = h.getExternalLabel(s);
    if (!h.label_lookup_.emplace(label, s).second) throw corrupt("an id appears twice");
    im->live.set(s);
    ++live;
  }
  if (live != count) throw corrupt("the live count does not match the header");
  const auto nfree = binio::get<uint32_t>(in, "free slots");
  if (nfree != slots - live) throw corrupt("the free-slot list does not match the deleted slots");
  Bitset seen_free(slots);
  for (uint32_t i = 0; i < nfree; ++i) {
    const auto s = binio::get<uint32_t>(in, "free slots");
    if (s >= slots || im->live.test(s) || seen_free.test(s)) throw corrupt("a free slot is not a deleted slot");
    seen_free.set(s);
    im->free_slots.push_back(s);
  }
  im->live_count = live;
  im->attrs = filter::AttributeStore::read(in);
  if (im->attrs.size() > slots) throw corrupt("attributes for more slots than the graph has");
  if (!in.empty()) throw corrupt("trailing bytes after the attributes");
  return std::unique_ptr<VectorIndex>(new VectorIndex(std::move(im)));
}

void VectorIndex::save(const std::string& path) const {
  fileio::write_file_atomic(path, [&](int fd, const std::string& tmp) {
    ImageWriter w(fd, tmp);
    write_image(w);
  });
}

std::unique_ptr<VectorIndex> VectorIndex::load(const std::string& path) {
  const fileio::MappedFile file(path);
  return deserialize(file.bytes(), [&](std::string_view done) { file.release(done); });
}

}  // namespace covekit::vector
