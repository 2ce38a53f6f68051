#include "covekit/budget.hpp"

#include <algorithm>
#include <array>
#include <bit>
#include <cmath>
#include <cstring>
#include <memory>
#include <numeric>
#include <optional>
#include <string>
#include <utility>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace covekit::budget {

namespace {

constexpr double kRelTol = 1e-9;

std::string num(int64_t v) {
  // 12345 -> "12,345": the numbers in messages are read by people.
  // the magnitude in unsigned arithmetic: -v overflows for the most negative value
  const std::string digits = std::to_string(v < 0 ? 0 - static_cast<uint64_t>(v) : static_cast<uint64_t>(v));
  std::string out;
  out.reserve(digits.size() + digits.size() / 3 + 1);
  if (v < 0) out.push_back('-');
  for (std::size_t i = 0; i < digits.size(); ++i) {
    if (i && (digits.size() - i) % 3 == 0) out.push_back(',');
    out.push_back(digits[i]);
  }
  return out;
}

// A sortable 64-bit key: lower level first, then higher score, then lower index.
// Scores are finite and >= 0, so their IEEE bits order like the values.
struct Keyed {
  uint64_t hi;  // level << 32 | ~high bits of the score
  uint64_t lo;  // ~low bits of the score << 32 | index
};

struct Prepared {
  const Problem& p;
  std::size_t n = 0;
  std::size_t num_sections = 0;
  std::vector<int32_t> levels;            // distinct priorities, ascending
  std::vector<int32_t> level_of_section;  // section -> level index
  std::vector<int32_t> level_section;     // level -> its one section (-1: it has several)
  std::vector<int64_t> emin;              // effective minimum per section
  std::vector<int32_t> trunc_order;       // truncatable items by (level, density desc, index)
  std::vector<double> dens;               // utility / tokens per item
  int64_t max_tokens = 0;                 // at least the largest token count (their bitwise or)
  bool with_density = true;               // dens and trunc_order are made
  bool any_truncatable = false;

  std::vector<int32_t> own_section, own_group;  // the defaults of empty spans
  std::vector<uint8_t> own_flags;
  std::span<const int32_t> section, group;
  std::span<const uint8_t> flags;
  int32_t num_groups = 0;
  std::size_t num_required = 0;
  std::vector<uint32_t> required;         // the required items, ascending

  explicit Prepared(const Problem& prob) : p(prob) {}
  Prepared(const Prepared&) = delete;  // the spans may point into the own_* vectors
  Prepared(Prepared&&) = default;      // moving a vector keeps its buffer
  Prepared& operator=(const Prepared&) = delete;
  Prepared& operator=(Prepared&&) = delete;
  [[nodiscard]] int64_t w(std::size_t i) const { return p.tokens[i]; }
  [[nodiscard]] double u(std::size_t i) const { return p.utility[i]; }
  [[nodiscard]] std::size_t sec(std::size_t i) const { return static_cast<std::size_t>(section[i]); }
  [[nodiscard]] int32_t grp(std::size_t i) const { return group[i]; }
  // computed from the inputs where they are needed (no per-item arrays to fill)
  [[nodiscard]] bool req(std::size_t i) const { return (flags[i] & kRequired) != 0; }
  [[nodiscard]] bool trunc(std::size_t i) const { return (flags[i] & (kTruncateStart | kTruncateEnd)) != 0; }
  // the fewest tokens the item can be kept with: min_keep if truncatable, else all
  [[nodiscard]] int64_t low(std::size_t i) const {
    return trunc(i) ? (p.min_keep.empty() ? 1 : p.min_keep[i]) : p.tokens[i];
  }
  [[nodiscard]] double density(std::size_t i) const { return dens[i]; }
  [[nodiscard]] int32_t level_of(std::size_t i) const { return level_of_section[sec(i)]; }
};

enum class Key { kDensity, kScore };

// The score an order sorts by: utility / tokens (precomputed in Prepared::dens) or
// utility.
std::span<const double> scores(const Prepared& P, Key key) {
  return key == Key::kDensity ? std::span<const double>(P.dens) : P.p.utility;
}

Keyed make_key(uint64_t level, double score, std::size_t i) {
  const uint64_t inv = ~std::bit_cast<uint64_t>(score + 0.0);  // +0.0: no -0
  return {(level << 32) | (inv >> 32), ((inv & 0xffffffffULL) << 32) | static_cast<uint32_t>(i)};
}
Keyed keyed(const Prepared& P, std::size_t i, Key key) {
  return make_key(static_cast<uint32_t>(P.level_of(i)), scores(P, key)[i], i);
}
bool key_less(const Keyed& a, const Keyed& b) { return a.hi != b.hi ? a.hi < b.hi : a.lo < b.lo; }
std::size_t index_of(const Keyed& k) { return static_cast<std::size_t>(k.lo & 0xffffffffULL); }

// Sorts the smallest keys of keys[0, m) by key_less, at least `want` of them: returns r,
// with keys[0, r) the r smallest keys in order; the indices of the others (m - r) are
// written to rest[0, m - r) (`rest` may be null when want >= m). `tmp` holds m + 1
// keys, `rest` m - r + 1 indices.
//
// A counting pass on the keys' high words (the level, then the score's first 32 bits)
// spreads them over about m buckets in key order; the buckets up to the one that
// brings the count to `want` are laid out in order, and an insertion sort orders each
// (a key moves only past the keys of its own bucket, about one); the later buckets'
// keys are left unsorted. Keys of several levels are split by level first (a counting
// sort), then sorted level by level, up to the level of the want-th key. When the
// insertion sort would move keys more
// than about 8 times each on average (equal scores, or scores equal in their first 20
// bits of mantissa, in adversarial order) std::sort finishes instead: the same order,
// in O(m log m) for any input. `bounds`: the least and the greatest high word, when the
// caller has them.
struct HighWords {
  uint64_t lo = std::numeric_limits<uint64_t>::max(), hi = 0;
  void add(uint64_t h) {
    lo = std::min(lo, h);
    hi = std::max(hi, h);
  }
};
std::size_t sort_keys(Keyed* keys, std::size_t m, Keyed* tmp, std::size_t want = 0, uint32_t* rest = nullptr,
                      const HighWords* bounds = nullptr) {
  constexpr int kMaxBits = 12;
  auto sort_all = [&] {
    std::sort(keys, keys + m, key_less);
    return m;
  };
  if (m < 64) return sort_all();
  HighWords seen;
  if (!bounds) {
    for (std::size_t k = 0; k < m; ++k) seen.add(keys[k].hi);
    bounds = &seen;
  }
  const uint64_t lo = bounds->lo, hi = bounds->hi;
  if ((lo >> 32) != (hi >> 32)) {
    // several levels: by level (a counting sort), then level by level, up to the one
    // that holds the want-th key. The keys go in four streams, taken in turn, each with
    // its own counts and places per level: consecutive keys of one level update
    // different counters (no chain of loads and stores through one). The order within a
    // level does not matter: each level is sorted next.
    const uint64_t first = lo >> 32, levels = (hi >> 32) - first + 1;
    if (levels > 4096) return sort_all();
    std::array<std::size_t, 4 * 16 + 1> few{};
    std::vector<std::size_t> many(levels > 16 ? 4 * levels + 1 : 0);
    std::size_t* place = levels > 16 ? many.data() : few.data();  // [4 * level + stream]
    for (std::size_t k = 0; k < m; ++k) ++place[4 * ((keys[k].hi >> 32) - first) + (k & 3) + 1];
    for (std::size_t x = 1; x <= 4 * levels; ++x) place[x] += place[x - 1];
    for (std::size_t k = 0; k < m; ++k) tmp[place[4 * ((keys[k].hi >> 32) - first) + (k & 3)]++] = keys[k];
    std::copy(tmp, tmp + m, keys);
    // place[4 * l + 3]: now the end of level l
    std::array<std::size_t, 16> few_end{};
    std::vector<std::size_t> many_end(levels > 16 ? levels : 0);
    std::size_t* start = levels > 16 ? many_end.data() : few_end.data();
    for (std::size_t l = 0; l < levels; ++l) start[l] = place[4 * l + 3];
    const bool trim = rest && want < m;
    std::size_t from = 0, n_rest = 0;
    for (std::size_t l = 0; l < levels; ++l) {
      const std::size_t len = start[l] - from;
      const std::size_t r = trim ? sort_keys(keys + from, len, tmp, want - std::min(want, from), rest + n_rest)
                                 : sort_keys(keys + from, len, tmp);
      n_rest += len - r;
      if (r < len || (trim && from + r >= want)) {
        // the sorted prefix ends in this level: the later levels' keys are not sorted
        for (std::size_t k = start[l]; k < m; ++k) rest[n_rest++] = static_cast<uint32_t>(index_of(keys[k]));
        return from + r;
      }
      from = start[l];
    }
    return m;
  }
  const uint64_t range = hi - lo;
  if (range == 0) return sort_all();
  const int bits = std::min(kMaxBits, static_cast<int>(std::bit_width(m)));
  const int shift = std::max(0, static_cast<int>(std::bit_width(range)) - bits);
  const std::size_t buckets = static_cast<std::size_t>(range >> shift) + 1;
  auto bucket = [lo, shift](const Keyed& k) { return static_cast<std::size_t>((k.hi - lo) >> shift); };
  std::array<uint32_t, (1U << kMaxBits) + 1> start;
  std::fill_n(start.begin(), buckets + 1, 0U);
  for (std::size_t k = 0; k < m; ++k) ++start[bucket(keys[k]) + 1];
  for (std::size_t b = 1; b <= buckets; ++b) start[b] += start[b - 1];
  // the buckets laid out: up to `last`, which holds the want-th key
  std::size_t last = buckets - 1;
  if (rest && want < m)
    last = static_cast<std::size_t>(std::lower_bound(start.begin() + 1, start.begin() + static_cast<std::ptrdiff_t>(buckets) + 1, want) -
                                    (start.begin() + 1));
  const std::size_t r = start[last + 1];
  if (r == m) {
    for (std::size_t k = 0; k < m; ++k) tmp[start[bucket(keys[k])]++] = keys[k];
  } else {
    // without branches: a key past `last` is written to tmp[m] (scratch) and its index
    // to rest; one in is written to its place and to rest[n_rest] (then overwritten)
    std::size_t n_rest = 0;
    for (std::size_t k = 0; k < m; ++k) {
      const std::size_t b = bucket(keys[k]);
      const bool in = b <= last;
      tmp[in ? start[b] : m] = keys[k];
      start[b] += in ? 1 : 0;
      rest[n_rest] = static_cast<uint32_t>(index_of(keys[k]));
      n_rest += in ? 0 : 1;
    }
  }
  keys[0] = tmp[0];
  std::size_t moves = 8 * r + 64;  // the insertion sort's allowance
  for (std::size_t k = 1; k < r; ++k) {
    const Keyed x = tmp[k];
    std::size_t j = k;
    for (; j > 0 && key_less(x, keys[j - 1]); --j) keys[j] = keys[j - 1];
    keys[j] = x;
    moves -= std::min(moves, k - j);
    if (!moves) {
      std::copy(tmp + k + 1, tmp + r, keys + k + 1);
      std::sort(keys, keys + r, key_less);
      break;
    }
  }
  return r;
}

// Items (all, or those in `only`) in key order, fully sorted.
std::vector<int32_t> full_order(const Prepared& P, Key key, const std::vector<int32_t>* only = nullptr) {
  std::vector<Keyed> keys;
  if (only) {
    keys.reserve(only->size());
    for (int32_t i : *only) keys.push_back(keyed(P, static_cast<std::size_t>(i), key));
  } else {
    keys.reserve(P.n);
    for (std::size_t i = 0; i < P.n; ++i) keys.push_back(keyed(P, i, key));
  }
  std::vector<Keyed> tmp(keys.size());
  sort_keys(keys.data(), keys.size(), tmp.data());
  std::vector<int32_t> out(keys.size());
  for (std::size_t k = 0; k < keys.size(); ++k) out[k] = static_cast<int32_t>(index_of(keys[k]));
  return out;
}

// Buffers of n entries that the greedy runs of one call reuse (allocated once per
// call, not initialised).
struct Scratch {
  explicit Scratch(std::size_t n)
      : keys(new Keyed[n + 1]), tmp(new Keyed[n + 1]), pool(new uint32_t[n + 1]) {}
  std::unique_ptr<Keyed[]> keys, tmp;
  std::unique_ptr<uint32_t[]> pool;
  std::vector<std::vector<int32_t>> section_items;  // per section, when a run needed them
};

// Items in key order, sorted lazily: a greedy pass over 10,000 candidates usually fills
// its budget within the first few hundred, so only the prefix it consumes is sorted.
// The first chunk is the items whose key's high word is at most a threshold read from
// a sample of the keys (set for about 384 items; at least 256, the head, are taken):
// one pass splits them from the rest (the pool), and sort_keys orders the first 256 of
// them (with the rest of the 256th one's bucket), returning the others to the pool.
// Each later chunk first drops the pool items that can no longer be taken (larger than
// the room left in the budget or their section, or in a full group: all of which only
// shrink), then sorts the next ones (nth_element, then sort, in chunks that double).
// The items yielded are exactly those of the full order that can be taken when
// reached.
class LazyOrder {
 public:
  static constexpr std::size_t kFirstChunk = 256;

  LazyOrder(const Prepared& P, Key key, Scratch& scratch)
      : P_(P), score_(scores(P, key)), keys_(scratch.keys.get()), tmp_(scratch.tmp.get()),
        pool_(scratch.pool.get()) {
    const std::size_t n = P.n;
    if (n == 0) return;
    const std::size_t L = P.levels.size();
    // The threshold: all items when n <= 2 * kFirstChunk, else a quantile of a sample of
    // the keys' high words (level, then the score's first 32 bits). `at_least[l]` is
    // the lowest score of level l that is in: 0 below the threshold's level (all),
    // infinity above it (none), and at its level the score whose first 32 bits are the
    // threshold's (for scores >= 0, the bits order like the values).
    std::array<uint64_t, 256> sample{};
    std::array<double, 8> few{};  // at_least, for up to 8 levels
    std::vector<double> many(L > few.size() ? L : 0);
    const std::span<double> at_least = L > few.size() ? std::span<double>(many) : std::span<double>(few.data(), L);
    const std::size_t s = n <= 2 * kFirstChunk ? 0 : n <= 4096 ? 64 : 256;
    std::size_t rank = s;
    auto set_threshold = [&] {
      if (rank >= s) {
        std::fill(at_least.begin(), at_least.end(), 0.0);
        return;
      }
      const uint64_t thr = sample[rank - 1];
      const auto level = static_cast<std::size_t>(thr >> 32);
      for (std::size_t l = 0; l < L; ++l) at_least[l] = l < level ? 0.0 : std::numeric_limits<double>::infinity();
      at_least[level] = std::bit_cast<double>((~thr & 0xffffffffULL) << 32);
    };
    if (s) {
      for (std::size_t k = 0; k < s; ++k) sample[k] = keyed(P, k * n / s, key).hi;
      std::sort(sample.begin(), sample.begin() + static_cast<std::ptrdiff_t>(s));
      rank = std::min(s, (3 * kFirstChunk / 2 * s + n - 1) / n);
    }
    set_threshold();
    // One pass, 64 items at a time: a mask of the items in (compares without branches),
    // then the keys of those in and the indices of the others to the pool, bit by bit.
    std::size_t c = 0, rest = 0;
    HighWords bounds;
    for (std::size_t base = 0; base < n; base += 64) {
      const std::size_t width = std::min<std::size_t>(64, n - base);
      const double* sc = score_.data() + base;
      uint64_t in = 0;
      if (L == 1) {
        const double lowest = at_least[0];
#if defined(__SSE2__)
        if (width == 64) {
          const __m128d lim = _mm_set1_pd(lowest);
          for (std::size_t k = 0; k < 64; k += 2)
            in |= static_cast<uint64_t>(_mm_movemask_pd(_mm_cmpge_pd(_mm_loadu_pd(sc + k), lim))) << k;
        } else
#endif
        {
          for (std::size_t k = 0; k < width; ++k) in |= static_cast<uint64_t>(sc[k] >= lowest) << k;
        }
        for (uint64_t bit = in; bit; bit &= bit - 1) {
          const auto k = static_cast<std::size_t>(std::countr_zero(bit));
          keys_[c] = make_key(0, sc[k], base + k);
          bounds.add(keys_[c++].hi);
        }
      } else {
        for (std::size_t k = 0; k < width; ++k)
          in |= static_cast<uint64_t>(sc[k] >= at_least[static_cast<std::size_t>(P.level_of(base + k))]) << k;
        for (uint64_t bit = in; bit; bit &= bit - 1) {
          const auto k = static_cast<std::size_t>(std::countr_zero(bit));
          keys_[c] = make_key(static_cast<uint32_t>(P.level_of(base + k)), sc[k], base + k);
          bounds.add(keys_[c++].hi);
        }
      }
      const uint64_t all = width == 64 ? ~uint64_t{0} : (uint64_t{1} << width) - 1;
      for (uint64_t bit = ~in & all; bit; bit &= bit - 1)
        pool_[rest++] = static_cast<uint32_t>(base + static_cast<std::size_t>(std::countr_zero(bit)));
    }
    // fewer than the head: raise the threshold over the pool until there are enough
    while (c < kFirstChunk && rest) {
      rank = std::min(s, rank + rank / 2 + 4);
      set_threshold();
      std::size_t kept = 0;
      for (std::size_t r = 0; r < rest; ++r) {
        const std::size_t i = pool_[r];
        const auto level = static_cast<std::size_t>(P.level_of(i));
        if (score_[i] >= at_least[level]) {
          keys_[c] = make_key(level, score_[i], i);
          bounds.add(keys_[c++].hi);
        } else
          pool_[kept++] = static_cast<uint32_t>(i);
      }
      rest = kept;
    }
    // the first chunk sorted: its first kFirstChunk at least; the rest back to the pool
    len_ = sort_keys(keys_, c, tmp_, kFirstChunk, pool_ + rest, &bounds);
    rest_ = rest + (c - len_);
    head_ = std::min(len_, kFirstChunk);
  }
  // The next item for which `fits(i)` holds, or P.n when there is none. `fits` must be
  // monotone: once false for an item, false for good (then dropping it is exact).
  template <class Fits>
  std::size_t next(Fits&& fits) {
    for (;;) {
      if (pos_ == len_ && !refill(fits)) return P_.n;
      const std::size_t i = index_of(keys_[pos_++]);
      if (fits(i)) return i;
    }
  }
  // The first items of the order (the first chunk's head), for the repair pass.
  [[nodiscard]] std::span<const Keyed> head() const { return {keys_, head_}; }

 private:
  template <class Fits>
  bool refill(Fits& fits) {
    // the pool's items that can still be taken get their keys after the sorted ones
    Keyed* const b = keys_ + len_;
    std::size_t left = 0;
    for (std::size_t r = 0; r < rest_; ++r) {
      const std::size_t i = pool_[r];
      if (fits(i)) b[left++] = make_key(static_cast<uint32_t>(P_.level_of(i)), score_[i], i);
    }
    if (!left) {
      rest_ = 0;
      return false;
    }
    const std::size_t take = left <= 2 * chunk_ ? left : chunk_;
    if (take < left) std::nth_element(b, b + static_cast<std::ptrdiff_t>(take), b + left, key_less);
    std::sort(b, b + static_cast<std::ptrdiff_t>(take), key_less);
    rest_ = 0;
    for (std::size_t k = take; k < left; ++k) pool_[rest_++] = static_cast<uint32_t>(index_of(b[k]));
    len_ += take;
    chunk_ *= 2;
    return true;
  }

  const Prepared& P_;
  std::span<const double> score_;
  Keyed* keys_;  // [0, len_): sorted chunks; pos_: the next to yield
  Keyed* tmp_;
  uint32_t* pool_;  // [0, rest_): the items not in a chunk yet, unsorted
  std::size_t pos_ = 0, len_ = 0, rest_ = 0, head_ = 0, chunk_ = 2 * kFirstChunk;
};

// The per-item checks of `prepare` in plain loops over the arrays (no messages built,
// no branches per item: the compiler vectorises them), skipping the arrays left to
// their defaults: true when every item is valid, with each section's token sum,
// whether it holds items, the truncatable items and the number of required ones.
// False: the caller's loop names the first bad item.
bool valid_items(Prepared& P, std::size_t S, std::vector<int64_t>& sec_sum, std::vector<uint8_t>& sec_has,
                 std::vector<int32_t>& truncatable) {
  const Problem& p = P.p;
  const std::size_t n = P.n;
  bool bad_group = false;
  if (!p.group.empty()) {
    int32_t lo = 0, hi = -1;
    for (std::size_t i = 0; i < n; ++i) {
      const int32_t g = p.group[i];
      lo = g < lo ? g : lo;
      hi = g > hi ? g : hi;
    }
    // counted first: the messages name it (the largest int32 is no group index)
    if (P.num_groups < 0) P.num_groups = hi == std::numeric_limits<int32_t>::max() ? hi : hi + 1;
    bad_group = lo < -1 || hi >= P.num_groups;
  }
  // tokens >= 1: the sign bit of t | (t - 1) is set exactly when t < 1
  uint64_t low = 0, sum = 0, bits = 0;
  for (std::size_t i = 0; i < n; ++i) {
    const auto t = static_cast<uint64_t>(p.tokens[i]);
    low |= t | (t - 1);
    bits |= t;
    sum += t;
  }
  // utility finite and >= 0: after + 0.0 (no -0), the sign and exponent field (the top
  // 12 bits) are below 0x7ff, so adding 1 sets no bit above the 11 lowest
  uint64_t top = 0;
  for (std::size_t i = 0; i < n; ++i) top |= (std::bit_cast<uint64_t>(p.utility[i] + 0.0) >> 52) + 1;
  if ((low >> 63) || (top & ~uint64_t{0x7ff}) || bad_group) return false;
  P.max_tokens = static_cast<int64_t>(bits);
  // the densities: below 2^52 a count converts to double exactly through its bits (the
  // exponent of 2^52 or'ed in, 2^52 subtracted), which vectorises, unlike the cast
  if (P.with_density) {
    P.dens.resize(n);
    if (bits < (uint64_t{1} << 52)) {
      for (std::size_t i = 0; i < n; ++i) {
        const double t = std::bit_cast<double>(static_cast<uint64_t>(p.tokens[i]) | 0x4330000000000000ULL) - 0x1p52;
        P.dens[i] = p.utility[i] / t;
      }
    } else {
      for (std::size_t i = 0; i < n; ++i) P.dens[i] = p.utility[i] / static_cast<double>(p.tokens[i]);
    }
  }
  if (S == 1) {
    if (!p.section.empty()) {
      int32_t any = 0;
      for (std::size_t i = 0; i < n; ++i) any |= p.section[i];
      if (any) return false;
    }
    sec_sum[0] = static_cast<int64_t>(sum);
    sec_has[0] = n > 0;
  } else {
    // four sums per section, items taken in turn: consecutive items of one section
    // add to different sums (no chain of loads and stores through one)
    std::vector<uint64_t> sums(4 * S, 0);
    if (S <= 64) {
      uint64_t has = 0;  // whether each section holds an item, as bits
      for (std::size_t i = 0; i < n; ++i) {
        const auto s = static_cast<uint32_t>(P.section[i]);
        if (s >= S) return false;
        sums[4 * s + (i & 3)] += static_cast<uint64_t>(p.tokens[i]);
        has |= uint64_t{1} << s;
      }
      for (std::size_t x = 0; x < S; ++x) sec_has[x] = (has >> x) & 1;
    } else {
      for (std::size_t i = 0; i < n; ++i) {
        const auto s = static_cast<uint32_t>(P.section[i]);
        if (s >= S) return false;
        sums[4 * s + (i & 3)] += static_cast<uint64_t>(p.tokens[i]);
        sec_has[s] = 1;
      }
    }
    for (std::size_t x = 0; x < S; ++x)
      sec_sum[x] = static_cast<int64_t>(sums[4 * x] + sums[4 * x + 1] + sums[4 * x + 2] + sums[4 * x + 3]);
  }
  if (p.flags.empty()) return true;
  uint8_t any = 0;
  for (std::size_t i = 0; i < n; ++i) any |= P.flags[i];
  if (!any) return true;
  for (std::size_t i = 0; i < n; ++i) {
    const uint8_t f = P.flags[i];
    if (!f) continue;
    if ((f & ~(kRequired | kTruncateStart | kTruncateEnd)) || ((f & kTruncateStart) && (f & kTruncateEnd)))
      return false;
    if (f & (kTruncateStart | kTruncateEnd)) {
      const int64_t lo = p.min_keep.empty() ? 1 : p.min_keep[i];
      if (lo < 1 || lo > p.tokens[i]) return false;
      truncatable.push_back(static_cast<int32_t>(i));
    }
    if (f & kRequired) P.required.push_back(static_cast<uint32_t>(i));
    P.num_required += (f & kRequired) ? 1 : 0;
  }
  return true;
}

// `density`: whether the densities (and the truncatable items' order) are needed.
Prepared prepare(const Problem& p, bool density = true) {
  Prepared P(p);
  P.with_density = density;
  const std::size_t n = p.tokens.size();
  P.n = n;
  auto bad = [](const std::string& what) { throw InvalidInput(what); };
  auto sized = [n](std::size_t m) { return m == n || m == 0; };
  if (p.utility.size() != n || !sized(p.section.size()) || !sized(p.group.size()) || !sized(p.flags.size()))
    bad("utility, section, group and flags must have one entry per item (got " + std::to_string(n) +
        " tokens, " + std::to_string(p.utility.size()) + ", " + std::to_string(p.section.size()) + ", " +
        std::to_string(p.group.size()) + ", " + std::to_string(p.flags.size()) + ")");
  if (p.section.empty() && n) P.own_section.assign(n, 0);
  if (p.group.empty() && n) P.own_group.assign(n, -1);
  if (p.flags.empty() && n) P.own_flags.assign(n, 0);
  P.section = p.section.empty() ? std::span<const int32_t>(P.own_section) : p.section;
  P.group = p.group.empty() ? std::span<const int32_t>(P.own_group) : p.group;
  P.flags = p.flags.empty() ? std::span<const uint8_t>(P.own_flags) : p.flags;
  // -1: one more than the largest group, counted by valid_items (no groups: 0)
  P.num_groups = p.num_groups < 0 && p.group.empty() ? 0 : p.num_groups;
  if (!p.min_keep.empty() && p.min_keep.size() != n)
    bad("min_keep must be empty or have one entry per item (got " + std::to_string(p.min_keep.size()) +
        " for " + std::to_string(n) + " items)");
  if (p.budget < 0) bad("budget must be >= 0 tokens, got " + num(p.budget));
  if (p.group_cap < 0) bad("group_cap must be >= 0 (0: no cap), got " + std::to_string(p.group_cap));
  if (p.exact_limit < 0 || p.exact_limit > 40) bad("exact_limit must be in [0, 40], got " + std::to_string(p.exact_limit));
  if (p.node_limit < 1) bad("node_limit must be >= 1");
  const std::size_t S = p.sections.size();
  P.num_sections = S;
  if (n > 0 && S == 0) bad("items need at least one section");
  for (std::size_t s = 0; s < S; ++s) {
    const Section& x = p.sections[s];
    const std::string name = x.name.empty() ? "section " + std::to_string(s) : "section '" + x.name + "'";
    if (x.min_tokens < 0) bad(name + ": min_tokens must be >= 0, got " + num(x.min_tokens));
    if (x.max_tokens < x.min_tokens)
      bad(name + ": min_tokens " + num(x.min_tokens) + " is above max_tokens " + num(x.max_tokens));
    if (x.overhead < 0) bad(name + ": overhead must be >= 0, got " + num(x.overhead));
    P.levels.push_back(x.priority);
  }
  std::sort(P.levels.begin(), P.levels.end());
  P.levels.erase(std::unique(P.levels.begin(), P.levels.end()), P.levels.end());
  P.level_of_section.resize(S);
  P.level_section.assign(P.levels.size(), -2);  // -2: none yet
  for (std::size_t s = 0; s < S; ++s) {
    const auto l = static_cast<std::size_t>(
        std::lower_bound(P.levels.begin(), P.levels.end(), p.sections[s].priority) - P.levels.begin());
    P.level_of_section[s] = static_cast<int32_t>(l);
    P.level_section[l] = P.level_section[l] == -2 ? static_cast<int32_t>(s) : -1;
  }

  std::vector<int64_t> sec_sum(S, 0);
  std::vector<uint8_t> sec_has(S, 0);
  std::vector<int32_t> truncatable;
  if (valid_items(P, S, sec_sum, sec_has, truncatable)) {
    P.emin.resize(S);
    for (std::size_t s = 0; s < S; ++s)
      P.emin[s] = sec_has[s] ? std::min(p.sections[s].min_tokens, p.sections[s].overhead + sec_sum[s]) : 0;
    P.any_truncatable = !truncatable.empty();
    if (density) P.trunc_order = full_order(P, Key::kDensity, &truncatable);
    return P;
  }
  // some item is bad: the loop below names the first one
  for (std::size_t i = 0; i < n; ++i) {
    auto item = [i] { return "item " + std::to_string(i); };
    if (p.tokens[i] < 1) bad(item() + ": tokens must be >= 1, got " + num(p.tokens[i]));
    if (!std::isfinite(p.utility[i]) || p.utility[i] < 0)
      bad(item() + ": utility must be a finite number >= 0, got " + std::to_string(p.utility[i]));
    if (P.section[i] < 0 || static_cast<std::size_t>(P.section[i]) >= S)
      bad(item() + ": section " + std::to_string(P.section[i]) + " is not one of the " + std::to_string(S) +
          " sections");
    if (P.group[i] < -1 || P.group[i] >= P.num_groups)
      bad(item() + ": group " + std::to_string(P.group[i]) + " must be -1 (none) or in [0, " +
          std::to_string(P.num_groups) + ")");
    const uint8_t f = P.flags[i];
    if (f & ~(kRequired | kTruncateStart | kTruncateEnd))
      bad(item() + ": unknown flag bits " + std::to_string(f));
    if ((f & kTruncateStart) && (f & kTruncateEnd))
      bad(item() + ": truncatable from the start or from the end, not both");
    if (f & (kTruncateStart | kTruncateEnd)) {
      const int64_t lo = p.min_keep.empty() ? 1 : p.min_keep[i];
      if (lo < 1 || lo > p.tokens[i])
        bad(item() + ": min_keep must be in [1, tokens=" + num(p.tokens[i]) + "], got " + num(lo));
    }
  }
  throw InvalidInput("an item is invalid");  // unreachable: valid_items said one is
}

// A selection under construction: tokens kept per item and the running totals.
struct State {
  const Prepared* P;
  std::vector<int64_t> kept;
  std::vector<int64_t> content;  // per section, overhead excluded
  std::vector<int32_t> count;    // items per section
  std::vector<int32_t> gcount;   // items per group g at g + 1 (gcount[0], no group: 0)
  std::vector<uint32_t> members; // the items in, in the order they came in
  int64_t used = 0;              // overheads included
  int64_t cap;                   // items per group at most (no cap: the largest int64)

  explicit State(const Prepared& prep)
      : P(&prep), kept(prep.n, 0), content(prep.num_sections, 0), count(prep.num_sections, 0),
        gcount(static_cast<std::size_t>(prep.num_groups) + 1, 0),
        cap(prep.p.group_cap ? prep.p.group_cap : std::numeric_limits<int64_t>::max()) {
    members.reserve(std::min<std::size_t>(prep.n, 256));
  }

  [[nodiscard]] int64_t section_total(std::size_t s) const {
    return content[s] + (count[s] ? P->p.sections[s].overhead : 0);
  }
  [[nodiscard]] int64_t need(std::size_t s) const { return std::max<int64_t>(0, P->emin[s] - section_total(s)); }
  [[nodiscard]] int64_t cost(std::size_t s, int64_t t) const { return t + (count[s] ? 0 : P->p.sections[s].overhead); }
  [[nodiscard]] bool group_ok(std::size_t i) const { return gcount[static_cast<std::size_t>(P->grp(i) + 1)] < cap; }
  // The most tokens item i (not in) could take now: within the budget less what the
  // other sections still need, and within its section's maximum. -1: not even its
  // section's overhead fits.
  [[nodiscard]] int64_t room(std::size_t i, int64_t total_need) const {
    const std::size_t s = P->sec(i);
    const int64_t oh = count[s] ? 0 : P->p.sections[s].overhead;
    const int64_t other_need = total_need - need(s);
    const int64_t by_budget = P->p.budget - used - other_need - oh;
    const int64_t by_section = P->p.sections[s].max_tokens - section_total(s) - oh;
    return std::min(by_budget, by_section);
  }
  void add(std::size_t i, int64_t t) {
    const std::size_t s = P->sec(i);
    used += cost(s, t);
    content[s] += t;
    ++count[s];
    const int32_t g = P->grp(i);
    gcount[static_cast<std::size_t>(g + 1)] += g >= 0 ? 1 : 0;
    kept[i] = t;
    members.push_back(static_cast<uint32_t>(i));
  }
  void extend(std::size_t i, int64_t t) {
    kept[i] += t;
    content[P->sec(i)] += t;
    used += t;
  }
  void remove(std::size_t i) {
    const std::size_t s = P->sec(i);
    content[s] -= kept[i];
    used -= kept[i];
    --count[s];
    if (!count[s]) used -= P->p.sections[s].overhead;
    const int32_t g = P->grp(i);
    gcount[static_cast<std::size_t>(g + 1)] -= g >= 0 ? 1 : 0;
    kept[i] = 0;
    const auto at = std::find(members.rbegin(), members.rend(), static_cast<uint32_t>(i));
    members.erase(std::next(at).base());
  }
  [[nodiscard]] int64_t total_need() const {
    int64_t t = 0;
    for (std::size_t s = 0; s < P->num_sections; ++s) t += need(s);
    return t;
  }
  [[nodiscard]] std::vector<double> level_values() const {
    std::vector<double> lv(P->levels.size(), 0.0);
    for (const uint32_t i : members) {
      const double v = kept[i] == P->w(i) ? P->u(i) : P->u(i) * static_cast<double>(kept[i]) / static_cast<double>(P->w(i));
      lv[static_cast<std::size_t>(P->level_of(i))] += v;
    }
    return lv;
  }
};

std::string section_name(const Problem& p, std::size_t s) {
  return p.sections[s].name.empty() ? "section " + std::to_string(s) : "section '" + p.sections[s].name + "'";
}

// Required items in (truncated to min_keep), then every section's minimum met.
// Throws BudgetExceeded when that cannot be done.
void start(State& st, Key key, Scratch& scratch) {
  const Prepared& P = *st.P;
  const Problem& p = P.p;
  int64_t required = 0;
  for (const uint32_t i : P.required) {
    st.add(i, P.low(i));
    required += P.low(i);
  }
  for (std::size_t s = 0; s < P.num_sections; ++s)
    if (st.section_total(s) > p.sections[s].max_tokens)
      throw BudgetExceeded("the required items of " + section_name(p, s) + " need " + num(st.section_total(s)) +
                               " tokens, above its max_tokens of " + num(p.sections[s].max_tokens),
                           st.section_total(s), p.sections[s].max_tokens, BudgetExceeded::Cause::kRequired);
  const int64_t needs = st.total_need();
  if (st.used + needs > p.budget) {
    std::string mins;
    for (std::size_t s = 0; s < P.num_sections; ++s)
      if (st.need(s)) mins += (mins.empty() ? "" : ", ") + section_name(p, s) + " needs at least " + num(P.emin[s]);
    std::string what;
    if (st.used)
      what = "the required items need " + num(st.used) + " tokens (" + num(required) + " of content and " +
             num(st.used - required) + " of section overhead)" +
             (needs ? " and the section minimums " + num(needs) + " more (" + mins + ")" : "");
    else
      what = "the section minimums need " + num(needs) + " tokens (" + mins + ")";
    what += ", but the budget is " + num(p.budget) + ": short by " + num(st.used + needs - p.budget);
    throw BudgetExceeded(what, st.used + needs, p.budget,
                         needs ? BudgetExceeded::Cause::kMinimum : BudgetExceeded::Cause::kRequired);
  }
  if (!needs) return;
  // Section minimums, in priority order, each from its own items in `order`.
  std::vector<std::size_t> secs(P.num_sections);
  std::iota(secs.begin(), secs.end(), std::size_t{0});
  std::stable_sort(secs.begin(), secs.end(), [&](std::size_t a, std::size_t b) {
    return p.sections[a].priority < p.sections[b].priority;
  });
  for (std::size_t s : secs) {
    if (!st.need(s)) continue;
    // this section's items (found once per call), in key order
    if (scratch.section_items.empty()) scratch.section_items.resize(P.num_sections);
    std::vector<int32_t>& mine = scratch.section_items[s];
    if (mine.empty())
      for (std::size_t i = 0; i < P.n; ++i)
        if (P.sec(i) == s) mine.push_back(static_cast<int32_t>(i));
    const std::vector<int32_t> order = full_order(P, key, &mine);
    for (int32_t ii : order) {
      const auto i = static_cast<std::size_t>(ii);
      if (P.sec(i) != s || st.kept[i] || !st.group_ok(i)) continue;
      const int64_t room = st.room(i, st.total_need());
      if (P.trunc(i)) {
        // only what the minimum needs: the fill extends it later if room is left
        const int64_t oh = st.count[s] ? 0 : p.sections[s].overhead;
        if (room >= P.low(i)) st.add(i, std::clamp(st.need(s) - oh, P.low(i), std::min(room, P.w(i))));
      } else if (P.w(i) <= room) {
        st.add(i, P.w(i));
      }
      if (!st.need(s)) break;
    }
    if (st.need(s)) {
      const int64_t have = st.section_total(s);
      throw BudgetExceeded(section_name(p, s) + " needs at least " + num(P.emin[s]) +
                               " tokens (its min_tokens), but only " + num(have) +
                               " fit beside the required items and the other sections' minimums in a budget of " +
                               num(p.budget),
                           P.emin[s], have, BudgetExceeded::Cause::kMinimum);
    }
  }
}

// Every truncatable item extended (or taken, truncated) as far as the room allows, in
// (level, density) order: the optimal use of leftover room for items whose utility is
// linear in the tokens kept.
void fill_truncatable(State& st) {
  const Prepared& P = *st.P;
  for (int32_t ii : P.trunc_order) {
    const auto i = static_cast<std::size_t>(ii);
    if (st.kept[i] == P.w(i)) continue;
    if (st.kept[i]) {
      const std::size_t s = P.sec(i);
      const int64_t room = std::min(P.p.budget - st.used, P.p.sections[s].max_tokens - st.section_total(s));
      const int64_t t = std::min(room, P.w(i) - st.kept[i]);
      if (t > 0) st.extend(i, t);
    } else if (st.group_ok(i)) {
      const int64_t room = st.room(i, 0);
      if (room >= P.low(i)) st.add(i, std::min(room, P.w(i)));
    }
  }
}

// Improving swaps: each optional item of `candidates` (the head of the order) that is
// out replaces the member of its level with the lowest utility below its own, when the
// swap keeps every constraint.
void repair(State& st, std::span<const Keyed> candidates) {
  const Prepared& P = *st.P;
  const Problem& p = P.p;
  // members by ascending utility: the first feasible one is the best to give up
  std::vector<uint32_t> inside;
  {
    // sorted as keys (the utility's bits: they order like the values, >= 0; the index)
    std::vector<Keyed> keys;
    keys.reserve(st.members.size());
    for (const uint32_t i : st.members)
      if (st.kept[i] == P.w(i) && !P.req(i)) keys.push_back({std::bit_cast<uint64_t>(P.u(i) + 0.0), i});
    std::sort(keys.begin(), keys.end(), key_less);
    inside.reserve(keys.size() + 1);
    for (const Keyed& k : keys) inside.push_back(static_cast<uint32_t>(k.lo));
  }
  auto by_utility = [&](std::size_t a, std::size_t b) { return P.u(a) != P.u(b) ? P.u(a) < P.u(b) : a < b; };
  int64_t overheads = 0;
  for (const Section& x : p.sections) overheads = std::max(overheads, x.overhead);
  // In that order: the members' utilities (for the search), tokens, levels and groups
  // (for the scan), and prefix_max[m], the widest of the m members of lowest utility.
  // A swap of i for j needs w(i) >= w(j) - (budget - used) - overheads, so when even
  // the widest member cheaper than j is narrower, j is passed over without a scan.
  struct Member {
    int64_t width;
    int32_t level, group;
  };
  std::vector<double> util(inside.size() + 1);
  std::vector<int64_t> prefix_max(inside.size() + 1);
  std::vector<Member> mem(inside.size() + 1);
  auto rebuild = [&] {
    prefix_max[0] = 0;
    for (std::size_t m = 0; m < inside.size(); ++m) {
      const std::size_t i = inside[m];
      util[m] = P.u(i);
      mem[m] = {P.w(i), P.level_of(i), P.grp(i)};
      prefix_max[m + 1] = std::max(prefix_max[m], P.w(i));
    }
  };
  rebuild();
  // The swap for candidate j, if one improves: the member of lowest utility below j's
  // (by the tolerance) whose place j can take. True when j went in.
  auto swap_one = [&](std::size_t j) {
    const int64_t need = P.w(j) - (p.budget - st.used) - overheads;
    const std::size_t size = inside.size();
    if (prefix_max[size] < need) return false;  // no member is wide enough
    const double below = P.u(j) - kRelTol * (1.0 + P.u(j));
    if (size == 0 || !(util[0] < below)) return false;
    std::size_t m = 1;  // util[m - 1] < below: a search without unpredictable branches
    for (std::size_t len = size - 1; len > 0;) {
      const std::size_t half = len / 2;
      const bool lower = util[m + half] < below;
      m = lower ? m + half + 1 : m;
      len = lower ? len - half - 1 : half;
    }
    if (prefix_max[m] < need) return false;
    const std::size_t sj = P.sec(j);
    const int32_t lj = P.level_of(j), gj = P.grp(j);
    // whether j's group can take one more item when i (of group gi) leaves
    const bool gj_open = st.gcount[static_cast<std::size_t>(gj + 1)] < st.cap;
    std::size_t best = P.n;
    if (P.level_section[static_cast<std::size_t>(lj)] >= 0) {
      // every member of j's level is in j's section: the swap changes that section and
      // the total by w(j) - w(i) (an overhead that goes with i comes back with j), so it
      // is feasible exactly when w(i) is in [low, high] and the group allows it
      const int64_t total = st.section_total(sj);
      const int64_t low = P.w(j) - std::min(p.budget - st.used, p.sections[sj].max_tokens - total);
      const int64_t slack = total - P.emin[sj];  // >= 0: the minimum holds
      const int64_t high = P.w(j) > std::numeric_limits<int64_t>::max() - slack ? std::numeric_limits<int64_t>::max()
                                                                                : P.w(j) + slack;
      // the members before the first as wide as `low` are all narrower
      if (prefix_max[m] < low) return false;
      auto k = static_cast<std::size_t>(
          std::lower_bound(prefix_max.begin() + 1, prefix_max.begin() + static_cast<std::ptrdiff_t>(m) + 1, low) -
          (prefix_max.begin() + 1));
      for (; k < m; ++k)
        if (mem[k].level == lj && mem[k].width >= low && mem[k].width <= high && (gj_open || mem[k].group == gj)) {
          best = inside[k];
          break;
        }
    } else {
      for (std::size_t k = 0; k < m; ++k) {
        if (mem[k].width < need || mem[k].level != lj) continue;
        const std::size_t i = inside[k];
        const std::size_t si = P.sec(i);
        // tokens after removing i and adding j
        int64_t used = st.used - P.w(i) - ((st.count[si] == 1) ? p.sections[si].overhead : 0);
        int64_t si_total = st.section_total(si) - P.w(i) - ((st.count[si] == 1) ? p.sections[si].overhead : 0);
        int64_t sj_total = si == sj ? si_total : st.section_total(sj);
        const int32_t sj_count = st.count[sj] - (si == sj ? 1 : 0);
        const int64_t add = P.w(j) + (sj_count ? 0 : p.sections[sj].overhead);
        used += add;
        sj_total += add;
        if (si == sj) si_total = sj_total;
        if (used > p.budget || sj_total > p.sections[sj].max_tokens) continue;
        if (si_total < P.emin[si] || sj_total < P.emin[sj]) continue;
        if (!gj_open && gj != mem[k].group) continue;
        best = i;
        break;
      }
    }
    if (best == P.n) return false;
    st.remove(best);
    st.add(j, P.w(j));
    inside.erase(std::find(inside.begin(), inside.end(), static_cast<uint32_t>(best)));
    inside.insert(std::upper_bound(inside.begin(), inside.end(), j, by_utility), static_cast<uint32_t>(j));
    rebuild();
    return true;
  };
  for (const Keyed& key : candidates) {
    const std::size_t j = index_of(key);
    if (!st.kept[j] && !P.req(j)) swap_one(j);
  }
}

// Greedy: start, then whole items in key order while they fit, then the truncatable
// fill; optionally the repair pass and a second fill.
State greedy(const Prepared& P, Key key, bool improve, Scratch& scratch) {
  State st(P);
  start(st, key, scratch);
  LazyOrder order(P, key, scratch);
  // Whether i can still be taken whole: monotone, since the room and the group caps
  // only shrink as items are taken. The room is min(budget - used, st.room(i, 0)): per
  // section s, min(budget - used + extra[s], section_room[s]), where extra[s] (at most 0:
  // the overhead beyond what the section still needs) and section_room[s] change only
  // when s takes an item.
  const std::size_t S = P.num_sections;
  std::array<int64_t, 8> few_extra{}, few_room{};
  std::vector<int64_t> many_extra(S > 8 ? S : 0), many_room(S > 8 ? S : 0);
  int64_t* extra = S > 8 ? many_extra.data() : few_extra.data();
  int64_t* section_room = S > 8 ? many_room.data() : few_room.data();
  auto refresh = [&](std::size_t s) {
    const int64_t oh = st.count[s] ? 0 : P.p.sections[s].overhead;
    extra[s] = std::min<int64_t>(0, st.need(s) - oh);
    section_room[s] = P.p.sections[s].max_tokens - st.section_total(s) - oh;
  };
  for (std::size_t s = 0; S > 1 && s < S; ++s) refresh(s);
  auto take = [&](auto fits) {
    for (std::size_t i = order.next(fits); i < P.n; i = order.next(fits)) {
      st.add(i, P.w(i));
      if (S > 1) refresh(P.sec(i));
    }
  };
  if (S == 1) {
    take([&](std::size_t i) {
      return P.w(i) <= P.p.budget - st.used && !st.kept[i] && st.group_ok(i) && P.w(i) <= st.room(i, 0);
    });
  } else {
    take([&](std::size_t i) {
      const std::size_t s = P.sec(i);
      return P.w(i) <= std::min(P.p.budget - st.used + extra[s], section_room[s]) && !st.kept[i] && st.group_ok(i);
    });
  }
  if (improve) {
    fill_truncatable(st);
    repair(st, order.head());
    fill_truncatable(st);
  }
  return st;
}

// ------------------------------------------------------------------ branch and bound
class Search {
 public:
  Search(const Prepared& P, std::vector<int32_t> dorder, std::vector<int32_t> optional)
      : P_(P), dorder_(std::move(dorder)), items_(std::move(optional)), in_(P.n, 0) {
    const std::size_t m = items_.size();
    const std::size_t S = P.num_sections;
    // suffix sums of tokens per section, for the minimum-reachability test
    suffix_.assign((m + 1) * S, 0);
    for (std::size_t k = m; k-- > 0;) {
      for (std::size_t s = 0; s < S; ++s) suffix_[k * S + s] = suffix_[(k + 1) * S + s];
      suffix_[k * S + P.sec(static_cast<std::size_t>(items_[k]))] += P.w(static_cast<std::size_t>(items_[k]));
    }
    // per-level blocks of items_ (sorted by level, density) and their prefix sums
    const std::size_t L = P.levels.size();
    block_end_.assign(L, 0);
    prefix_w_.assign(m + 1, 0);
    prefix_u_.assign(m + 1, 0.0);
    for (std::size_t k = 0; k < m; ++k) {
      const auto i = static_cast<std::size_t>(items_[k]);
      prefix_w_[k + 1] = prefix_w_[k] + P.w(i);
      prefix_u_[k + 1] = prefix_u_[k] + P.u(i);
      block_end_[static_cast<std::size_t>(P.level_of(i))] = k + 1;
    }
    block_start_.assign(L, 0);
    std::size_t prev = 0;
    for (std::size_t l = 0; l < L; ++l) {
      if (block_end_[l] == 0 || block_end_[l] < prev) block_end_[l] = prev;
      block_start_[l] = prev;
      prev = block_end_[l];
    }
    for (std::size_t i = 0; i < P.n; ++i)
      if (P.req(i)) in_[i] = 1;
  }

  void set_incumbent(const State& st) {
    best_kept_ = st.kept;
    best_lv_ = st.level_values();
    have_ = true;
  }

  bool run(int64_t node_limit) {
    limit_ = node_limit;
    State st(P_);
    for (std::size_t i = 0; i < P_.n; ++i)
      if (P_.req(i)) st.add(i, P_.low(i));
    dfs(0, st);
    return !stopped_;
  }

  [[nodiscard]] bool found() const { return have_; }
  [[nodiscard]] const std::vector<int64_t>& best_kept() const { return best_kept_; }
  [[nodiscard]] int64_t nodes() const { return nodes_; }

 private:
  // The best use of the current set: truncatable members extended to meet the
  // minimums, then by (level, density). False when the set is infeasible.
  bool evaluate(const State& st) {
    const Problem& p = P_.p;
    scratch_ = st;
    for (std::size_t s = 0; s < P_.num_sections; ++s) {
      if (scratch_.section_total(s) > p.sections[s].max_tokens) return false;
      if (P_.emin[s] > 0 && !scratch_.count[s]) return false;
    }
    if (scratch_.used > p.budget) return false;
    for (std::size_t s = 0; s < P_.num_sections; ++s) {
      int64_t need = scratch_.need(s);
      if (!need) continue;
      for (int32_t ii : dorder_) {
        const auto i = static_cast<std::size_t>(ii);
        if (!need) break;
        if (P_.sec(i) != s || !scratch_.kept[i] || !P_.trunc(i)) continue;
        const int64_t t = std::min({need, P_.w(i) - scratch_.kept[i], p.budget - scratch_.used,
                                    p.sections[s].max_tokens - scratch_.section_total(s)});
        if (t > 0) {
          scratch_.extend(i, t);
          need -= t;
        }
      }
      if (need) return false;
    }
    for (int32_t ii : dorder_) {
      const auto i = static_cast<std::size_t>(ii);
      if (!scratch_.kept[i] || !P_.trunc(i)) continue;
      const std::size_t s = P_.sec(i);
      const int64_t t = std::min({P_.w(i) - scratch_.kept[i], p.budget - scratch_.used,
                                  p.sections[s].max_tokens - scratch_.section_total(s)});
      if (t > 0) scratch_.extend(i, t);
    }
    return true;
  }

  void dfs(std::size_t k, State& st) {
    if (stopped_) return;
    if (++nodes_ > limit_) {
      stopped_ = true;
      return;
    }
    const std::size_t S = P_.num_sections;
    // the minimums must stay reachable with the items still undecided
    for (std::size_t s = 0; s < S; ++s) {
      const int64_t reach = st.content[s] + extra_[s] + suffix_[k * S + s] +
                            ((st.count[s] || suffix_[k * S + s]) ? P_.p.sections[s].overhead : 0);
      if (P_.emin[s] > 0 && reach < P_.emin[s]) return;
    }
    if (evaluate(st)) {
      std::vector<double> lv = scratch_.level_values();
      if (!have_ || lex_better(lv, best_lv_)) {
        best_lv_ = std::move(lv);
        best_kept_ = scratch_.kept;
        have_ = true;
      }
    }
    if (k == items_.size()) return;
    if (have_ && !bound_beats(k, st)) return;
    const auto i = static_cast<std::size_t>(items_[k]);
    const std::size_t s = P_.sec(i);
    // include item i (at min_keep when truncatable: evaluate() extends it)
    if (st.group_ok(i) && st.used + st.cost(s, P_.low(i)) <= P_.p.budget &&
        st.section_total(s) + st.cost(s, P_.low(i)) <= P_.p.sections[s].max_tokens) {
      st.add(i, P_.low(i));
      extra_[s] += P_.w(i) - P_.low(i);
      in_value_[static_cast<std::size_t>(P_.level_of(i))] += P_.u(i);
      dfs(k + 1, st);
      in_value_[static_cast<std::size_t>(P_.level_of(i))] -= P_.u(i);
      extra_[s] -= P_.w(i) - P_.low(i);
      st.remove(i);
    }
    dfs(k + 1, st);
  }

  // Whether the subtree below position k can beat the incumbent: per level, the value
  // of the members (at full utility) plus a fractional fill of the undecided items of
  // that level into the room left.
  bool bound_beats(std::size_t k, const State& st) {
    const std::size_t L = P_.levels.size();
    bound_.assign(L, 0.0);
    const int64_t cap = P_.p.budget - st.used;
    for (std::size_t l = 0; l < L; ++l) {
      double b = in_value_[l] + req_value_[l];
      const std::size_t a = std::max(k, block_start_[l]);
      const std::size_t e = block_end_[l];
      if (a < e && cap > 0) {
        // the largest j with prefix_w[j] - prefix_w[a] <= cap
        const int64_t base = prefix_w_[a];
        const auto it = std::upper_bound(prefix_w_.begin() + static_cast<std::ptrdiff_t>(a),
                                         prefix_w_.begin() + static_cast<std::ptrdiff_t>(e) + 1, base + cap);
        const auto j = static_cast<std::size_t>(it - prefix_w_.begin()) - 1;
        b += prefix_u_[j] - prefix_u_[a];
        if (j < e) {
          const auto i = static_cast<std::size_t>(items_[j]);
          b += P_.density(i) * static_cast<double>(base + cap - prefix_w_[j]);
        }
      }
      bound_[l] = b;
    }
    return lex_better(bound_, best_lv_);
  }

 public:
  void init_values() {
    const std::size_t L = P_.levels.size();
    in_value_.assign(L, 0.0);
    req_value_.assign(L, 0.0);
    extra_.assign(P_.num_sections, 0);
    for (std::size_t i = 0; i < P_.n; ++i)
      if (P_.req(i)) {
        req_value_[static_cast<std::size_t>(P_.level_of(i))] += P_.u(i);
        extra_[P_.sec(i)] += P_.w(i) - P_.low(i);
      }
  }

 private:
  const Prepared& P_;
  std::vector<int32_t> dorder_;  // all items by (level, density desc, index)
  std::vector<int32_t> items_;
  std::vector<uint8_t> in_;
  std::vector<int64_t> suffix_;
  std::vector<std::size_t> block_start_, block_end_;
  std::vector<int64_t> prefix_w_;
  std::vector<double> prefix_u_;
  std::vector<double> in_value_, req_value_, bound_;
  std::vector<int64_t> extra_;  // per section: tokens the members could still grow by
  std::vector<int64_t> best_kept_;
  std::vector<double> best_lv_;
  State scratch_{P_};
  bool have_ = false;
  bool stopped_ = false;
  int64_t nodes_ = 0;
  int64_t limit_ = 0;
};

State state_of(const Prepared& P, const std::vector<int64_t>& kept) {
  State st(P);
  for (std::size_t i = 0; i < P.n; ++i)
    if (kept[i]) st.add(i, kept[i]);
  return st;
}

// `lv`: st.level_values() when the caller has them.
Selection finish(const Prepared& P, State st, std::string method, bool exact, int64_t nodes,
                 std::vector<double>* lv = nullptr) {
  const Problem& p = P.p;
  Selection out;
  out.status.resize(P.n);
  // per section: the most tokens one more item could add without passing max_tokens
  std::vector<int64_t> section_room(P.num_sections);
  for (std::size_t s = 0; s < P.num_sections; ++s)
    section_room[s] = p.sections[s].max_tokens - st.section_total(s) - (st.count[s] ? 0 : p.sections[s].overhead);
  // An item is out for its group, else for its section's maximum (when even its
  // fewest tokens pass it), else for the budget; the members are marked kept last. In
  // loops without branches per item: whether an item is in is close to random.
  uint8_t* status = out.status.data();
  if (st.cap == std::numeric_limits<int64_t>::max()) {
    std::fill_n(status, P.n, static_cast<uint8_t>(Status::kOverBudget));
  } else {
    const int32_t* g = P.group.data();
    const int32_t* gc = st.gcount.data();
    const int64_t cap = st.cap;
    for (std::size_t i = 0; i < P.n; ++i)
      status[i] = static_cast<uint8_t>(gc[g[i] + 1] >= cap ? Status::kGroupCap : Status::kOverBudget);
  }
  bool any_full = false;  // a section whose room is below some item's tokens
  for (std::size_t s = 0; s < P.num_sections; ++s) any_full |= section_room[s] < P.max_tokens;
  auto section_full = [&](auto low) {
    for (std::size_t i = 0; i < P.n; ++i) {
      const bool no_room = status[i] == static_cast<uint8_t>(Status::kOverBudget) && low(i) > section_room[P.sec(i)];
      status[i] = no_room ? static_cast<uint8_t>(Status::kSectionFull) : status[i];
    }
  };
  if (any_full && !P.any_truncatable)
    section_full([&P](std::size_t i) { return P.w(i); });
  else if (any_full)
    section_full([&P](std::size_t i) { return P.low(i); });
  for (const uint32_t i : st.members) status[i] = static_cast<uint8_t>(Status::kKept);
  out.section_tokens.resize(P.num_sections);
  for (std::size_t s = 0; s < P.num_sections; ++s) out.section_tokens[s] = st.section_total(s);
  out.level_utility = lv ? std::move(*lv) : st.level_values();
  out.levels = P.levels;
  out.total = st.used;
  out.utility = std::accumulate(out.level_utility.begin(), out.level_utility.end(), 0.0);
  out.exact = exact;
  out.nodes = nodes;
  out.method = std::move(method);
  out.kept = std::move(st.kept);  // last: level_values above reads it
  return out;
}

}  // namespace

bool lex_better(std::span<const double> a, std::span<const double> b) noexcept {
  const std::size_t n = std::min(a.size(), b.size());
  for (std::size_t l = 0; l < n; ++l) {
    const double tol = kRelTol * (1.0 + std::max(std::abs(a[l]), std::abs(b[l])));
    if (a[l] > b[l] + tol) return true;
    if (a[l] < b[l] - tol) return false;
  }
  return false;
}

Selection greedy_by_score(const Problem& p) {
  const Prepared P = prepare(p, false);
  Scratch scratch(P.n);
  return finish(P, greedy(P, Key::kScore, false, scratch), "score", false, 0);
}

Selection pack(const Problem& p) {
  const Prepared P = prepare(p);
  const std::size_t optional = P.n - P.num_required;
  Scratch scratch(P.n);

  // The greedy runs. In the exact regime a minimum the greedy could not meet is left to
  // the search, which may still find a way; the required items must fit either way.
  const bool exact_regime = optional <= static_cast<std::size_t>(p.exact_limit);
  std::optional<State> best;
  std::vector<double> best_lv;
  std::string method;
  bool have = false;
  for (const Key key : {Key::kDensity, Key::kScore}) {
    try {
      State st = greedy(P, key, true, scratch);
      std::vector<double> lv = st.level_values();
      if (!have || lex_better(lv, best_lv)) {
        best.emplace(std::move(st));
        best_lv = std::move(lv);
        method = key == Key::kDensity ? "density" : "score";
        have = true;
      }
    } catch (const BudgetExceeded& e) {
      // required items that do not fit fail the same way in every run; a minimum one
      // order could not meet, the other (or the search) may
      if (e.cause() == BudgetExceeded::Cause::kRequired) throw;
      if (!exact_regime && key == Key::kScore && !have) throw;
    }
  }
  if (!exact_regime) return finish(P, std::move(*best), method, false, 0, &best_lv);

  std::vector<int32_t> dorder = full_order(P, Key::kDensity);
  std::vector<int32_t> items;
  for (int32_t i : dorder)
    if (!P.req(static_cast<std::size_t>(i))) items.push_back(i);
  Search search(P, std::move(dorder), std::move(items));
  search.init_values();
  if (have) search.set_incumbent(*best);
  const bool complete = search.run(p.node_limit);
  if (!search.found()) {
    // no selection meets the minimums: say which one, with the greedy's numbers
    (void)greedy(P, Key::kDensity, false, scratch);  // throws the section's BudgetExceeded
    throw BudgetExceeded("no selection meets the section minimums within the budget of " + num(p.budget),
                         p.budget + 1, p.budget, BudgetExceeded::Cause::kMinimum);
  }
  return finish(P, state_of(P, search.best_kept()), complete ? "exact" : "exact-partial", complete,
                search.nodes());
}

}  // namespace covekit::budget
