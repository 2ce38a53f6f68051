#include "covekit/budget.hpp"

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstring>
#include <numeric>
#include <optional>
#include <string>
#include <utility>

namespace covekit::budget {

namespace {

constexpr double kRelTol = 1e-9;

std::string num(int64_t v) {
  // 12345 -> "12,345": the numbers in messages are read by people.
  const std::string digits = std::to_string(v < 0 ? -v : v);
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
  std::vector<int64_t> emin;              // effective minimum per section
  std::vector<int32_t> trunc_order;       // truncatable items by (level, density desc, index)

  std::vector<int32_t> own_section, own_group;  // the defaults of empty spans
  std::vector<uint8_t> own_flags;
  std::span<const int32_t> section, group;
  std::span<const uint8_t> flags;
  int32_t num_groups = 0;
  std::size_t num_required = 0;

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
  [[nodiscard]] double density(std::size_t i) const { return p.utility[i] / static_cast<double>(p.tokens[i]); }
  [[nodiscard]] int32_t level_of(std::size_t i) const { return level_of_section[sec(i)]; }
};

enum class Key { kDensity, kScore };

Keyed keyed(const Prepared& P, std::size_t i, Key key) {
  const double score = key == Key::kDensity ? P.density(i) : P.u(i);
  const uint64_t inv = ~std::bit_cast<uint64_t>(score + 0.0);  // +0.0: no -0
  return {(static_cast<uint64_t>(static_cast<uint32_t>(P.level_of(i))) << 32) | (inv >> 32),
          ((inv & 0xffffffffULL) << 32) | static_cast<uint32_t>(i)};
}
Keyed level0(double score, std::size_t i) {
  const uint64_t inv = ~std::bit_cast<uint64_t>(score + 0.0);
  return {inv >> 32, ((inv & 0xffffffffULL) << 32) | static_cast<uint32_t>(i)};
}
bool key_less(const Keyed& a, const Keyed& b) { return a.hi != b.hi ? a.hi < b.hi : a.lo < b.lo; }
std::size_t index_of(const Keyed& k) { return static_cast<std::size_t>(k.lo & 0xffffffffULL); }

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
  std::sort(keys.begin(), keys.end(), key_less);
  std::vector<int32_t> out(keys.size());
  for (std::size_t k = 0; k < keys.size(); ++k) out[k] = static_cast<int32_t>(index_of(keys[k]));
  return out;
}

// Items in key order, sorted lazily: a greedy pass over 10,000 candidates usually fills
// its budget within the first few hundred, so only the prefix it consumes is sorted
// (nth_element, then sort, in chunks that double), and before each new chunk the items
// that can no longer be taken (larger than the room left in the budget or their
// section, or in a full group: all of which only shrink) are dropped unsorted. The
// items yielded are exactly those of the full order that can be taken when reached.
class LazyOrder {
 public:
  static constexpr std::size_t kFirstChunk = 256;

  LazyOrder(const Prepared& P, Key key) : P_(P), keys_(P.n) {
    if (P.levels.size() > 1) {
      for (std::size_t i = 0; i < P.n; ++i) keys_[i] = keyed(P, i, key);
    } else if (key == Key::kDensity) {  // one level: keyed() with level 0, in loops without branches
      for (std::size_t i = 0; i < P.n; ++i) keys_[i] = level0(P.density(i), i);
    } else {
      for (std::size_t i = 0; i < P.n; ++i) keys_[i] = level0(P.u(i), i);
    }
    end_ = keys_.size();
  }
  // The next item for which `fits(i)` holds, or P.n when there is none. `fits` must be
  // monotone: once false for an item, false for good (then dropping it is exact).
  template <class Fits>
  std::size_t next(Fits&& fits) {
    for (;;) {
      if (pos_ == sorted_ && !refill(fits)) return P_.n;
      const std::size_t i = index_of(keys_[pos_++]);
      if (fits(i)) return i;
    }
  }
  // The first items of the order (the first chunk's head), for the repair pass.
  [[nodiscard]] const std::vector<std::size_t>& head() const { return head_; }

 private:
  template <class Fits>
  bool refill(Fits& fits) {
    if (pos_ > 0) {
      const auto mid = std::partition(keys_.begin() + static_cast<std::ptrdiff_t>(pos_),
                                      keys_.begin() + static_cast<std::ptrdiff_t>(end_),
                                      [&](const Keyed& k) { return fits(index_of(k)); });
      end_ = static_cast<std::size_t>(mid - keys_.begin());
    }
    if (pos_ == end_) return false;
    const std::size_t left = end_ - pos_;
    const std::size_t take = left <= 2 * chunk_ ? left : chunk_;
    const auto b = keys_.begin() + static_cast<std::ptrdiff_t>(pos_);
    const auto e = keys_.begin() + static_cast<std::ptrdiff_t>(end_);
    if (take < left) std::nth_element(b, b + static_cast<std::ptrdiff_t>(take), e, key_less);
    std::sort(b, b + static_cast<std::ptrdiff_t>(take), key_less);
    if (pos_ == 0)
      for (std::size_t k = 0; k < std::min(take, kFirstChunk); ++k) head_.push_back(index_of(keys_[k]));
    sorted_ = pos_ + take;
    chunk_ *= 2;
    return true;
  }

  const Prepared& P_;
  std::vector<Keyed> keys_;
  std::vector<std::size_t> head_;
  std::size_t pos_ = 0, sorted_ = 0, end_ = 0, chunk_ = kFirstChunk;
};

// The per-item checks of `prepare` in plain loops over the arrays (no messages built):
// true when every item is valid, with each section's token sum, whether it holds items,
// the truncatable items and the number of required ones. False: the caller's loop
// names the first bad item.
bool valid_items(Prepared& P, std::size_t S, std::vector<int64_t>& sec_sum, std::vector<uint8_t>& sec_has,
                 std::vector<int32_t>& truncatable) {
  const Problem& p = P.p;
  const std::size_t n = P.n;
  bool bad = false;
  int64_t sum = 0;
  for (std::size_t i = 0; i < n; ++i) {
    bad |= p.tokens[i] < 1;
    sum += p.tokens[i];
  }
  for (std::size_t i = 0; i < n; ++i) {
    const double u = p.utility[i];
    bad |= !(u >= 0.0 && u <= std::numeric_limits<double>::max());  // NaN, inf, negative
  }
  const auto groups = static_cast<uint32_t>(P.num_groups);
  for (std::size_t i = 0; i < n; ++i) bad |= static_cast<uint32_t>(P.group[i] + 1) > groups;  // -1 .. groups-1
  if (bad) return false;
  if (S == 1) {
    for (std::size_t i = 0; i < n; ++i) bad |= P.section[i] != 0;
    if (bad) return false;
    sec_sum[0] = sum;
    sec_has[0] = n > 0;
  } else {
    for (std::size_t i = 0; i < n; ++i) {
      const auto s = static_cast<uint32_t>(P.section[i]);
      if (s >= S) return false;
      sec_sum[s] += p.tokens[i];
      sec_has[s] = 1;
    }
  }
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
    P.num_required += (f & kRequired) ? 1 : 0;
  }
  return true;
}

Prepared prepare(const Problem& p) {
  Prepared P(p);
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
  P.num_groups = p.num_groups;
  if (P.num_groups < 0) {
    P.num_groups = 0;
    for (const int32_t g : P.group) P.num_groups = std::max(P.num_groups, g + 1);
  }
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
  for (std::size_t s = 0; s < S; ++s)
    P.level_of_section[s] = static_cast<int32_t>(
        std::lower_bound(P.levels.begin(), P.levels.end(), p.sections[s].priority) - P.levels.begin());

  std::vector<int64_t> sec_sum(S, 0);
  std::vector<uint8_t> sec_has(S, 0);
  std::vector<int32_t> truncatable;
  if (valid_items(P, S, sec_sum, sec_has, truncatable)) {
    P.emin.resize(S);
    for (std::size_t s = 0; s < S; ++s)
      P.emin[s] = sec_has[s] ? std::min(p.sections[s].min_tokens, p.sections[s].overhead + sec_sum[s]) : 0;
    P.trunc_order = full_order(P, Key::kDensity, &truncatable);
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
  std::vector<int32_t> gcount;   // items per group
  std::vector<uint32_t> members; // the items in, in the order they came in
  int64_t used = 0;              // overheads included

  explicit State(const Prepared& prep)
      : P(&prep), kept(prep.n, 0), content(prep.num_sections, 0), count(prep.num_sections, 0),
        gcount(static_cast<std::size_t>(prep.num_groups), 0) {}

  [[nodiscard]] int64_t section_total(std::size_t s) const {
    return content[s] + (count[s] ? P->p.sections[s].overhead : 0);
  }
  [[nodiscard]] int64_t need(std::size_t s) const { return std::max<int64_t>(0, P->emin[s] - section_total(s)); }
  [[nodiscard]] int64_t cost(std::size_t s, int64_t t) const { return t + (count[s] ? 0 : P->p.sections[s].overhead); }
  [[nodiscard]] bool group_ok(std::size_t i) const {
    const int32_t g = P->grp(i);
    return P->p.group_cap == 0 || g < 0 || gcount[static_cast<std::size_t>(g)] < P->p.group_cap;
  }
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
    if (g >= 0) ++gcount[static_cast<std::size_t>(g)];
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
    if (g >= 0) --gcount[static_cast<std::size_t>(g)];
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
void start(State& st, Key key) {
  const Prepared& P = *st.P;
  const Problem& p = P.p;
  int64_t required = 0;
  for (std::size_t i = 0; P.num_required && i < P.n; ++i)
    if (P.req(i)) {
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
  // Section minimums, in priority order, each from its own items in `order`.
  std::vector<std::size_t> secs(P.num_sections);
  std::iota(secs.begin(), secs.end(), std::size_t{0});
  std::stable_sort(secs.begin(), secs.end(), [&](std::size_t a, std::size_t b) {
    return p.sections[a].priority < p.sections[b].priority;
  });
  for (std::size_t s : secs) {
    if (!st.need(s)) continue;
    std::vector<int32_t> mine;  // this section's items, in key order
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
void repair(State& st, const std::vector<std::size_t>& candidates) {
  const Prepared& P = *st.P;
  const Problem& p = P.p;
  // members by ascending utility: the first feasible one is the best to give up
  std::vector<std::size_t> inside;
  inside.reserve(st.members.size());
  for (const uint32_t i : st.members)
    if (st.kept[i] == P.w(i) && !P.req(i)) inside.push_back(i);
  auto by_utility = [&](std::size_t a, std::size_t b) { return P.u(a) != P.u(b) ? P.u(a) < P.u(b) : a < b; };
  std::sort(inside.begin(), inside.end(), by_utility);
  int64_t overheads = 0;
  for (const Section& x : p.sections) overheads = std::max(overheads, x.overhead);
  // prefix_max[m]: the widest of the m members of lowest utility. A swap of i for j
  // needs w(i) >= w(j) - (budget - used) - overheads, so when even the widest member
  // cheaper than j is narrower, j is passed over without a scan.
  std::vector<int64_t> prefix_max;
  auto rebuild = [&] {
    prefix_max.assign(inside.size() + 1, 0);
    for (std::size_t m = 0; m < inside.size(); ++m) prefix_max[m + 1] = std::max(prefix_max[m], P.w(inside[m]));
  };
  rebuild();
  for (std::size_t j : candidates) {
    if (st.kept[j] || P.req(j)) continue;
    const int64_t need = P.w(j) - (p.budget - st.used) - overheads;
    // the members whose utility is below j's (by the tolerance)
    const double below = P.u(j) - kRelTol * (1.0 + P.u(j));
    const auto m = static_cast<std::size_t>(
        std::partition_point(inside.begin(), inside.end(), [&](std::size_t i) { return P.u(i) < below; }) -
        inside.begin());
    if (m == 0 || prefix_max[m] < need) continue;
    const std::size_t sj = P.sec(j);
    std::size_t best = P.n;
    for (std::size_t k = 0; k < m; ++k) {
      const std::size_t i = inside[k];
      if (P.w(i) < need || P.level_of(i) != P.level_of(j)) continue;
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
      const int32_t gj = P.grp(j);
      if (p.group_cap && gj >= 0 && gj != P.grp(i) && st.gcount[static_cast<std::size_t>(gj)] >= p.group_cap)
        continue;
      best = i;
      break;
    }
    if (best == P.n) continue;
    st.remove(best);
    st.add(j, P.w(j));
    inside.erase(std::find(inside.begin(), inside.end(), best));
    inside.insert(std::upper_bound(inside.begin(), inside.end(), j, by_utility), j);
    rebuild();
  }
}

// Greedy: start, then whole items in key order while they fit, then the truncatable
// fill; optionally the repair pass and a second fill.
State greedy(const Prepared& P, Key key, bool improve) {
  State st(P);
  start(st, key);
  LazyOrder order(P, key);
  // whether i can still be taken whole: monotone, since the room and the group caps
  // only shrink as items are taken
  auto fits = [&](std::size_t i) {
    return P.w(i) <= P.p.budget - st.used && !st.kept[i] && st.group_ok(i) && P.w(i) <= st.room(i, 0);
  };
  for (std::size_t i = order.next(fits); i < P.n; i = order.next(fits)) st.add(i, P.w(i));
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

Selection finish(const Prepared& P, State st, std::string method, bool exact, int64_t nodes) {
  const Problem& p = P.p;
  const std::vector<int64_t>& kept = st.kept;
  Selection out;
  out.status.assign(P.n, static_cast<uint8_t>(Status::kKept));
  // per section: the most tokens one more item could add without passing max_tokens
  std::vector<int64_t> section_room(P.num_sections);
  for (std::size_t s = 0; s < P.num_sections; ++s)
    section_room[s] = p.sections[s].max_tokens - st.section_total(s) - (st.count[s] ? 0 : p.sections[s].overhead);
  for (std::size_t i = 0; i < P.n; ++i) {
    if (kept[i]) continue;
    Status why = Status::kOverBudget;
    if (!st.group_ok(i))
      why = Status::kGroupCap;
    else if (P.low(i) > section_room[P.sec(i)])
      why = Status::kSectionFull;
    out.status[i] = static_cast<uint8_t>(why);
  }
  out.section_tokens.resize(P.num_sections);
  for (std::size_t s = 0; s < P.num_sections; ++s) out.section_tokens[s] = st.section_total(s);
  out.level_utility = st.level_values();
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
  const Prepared P = prepare(p);
  return finish(P, greedy(P, Key::kScore, false), "score", false, 0);
}

Selection pack(const Problem& p) {
  const Prepared P = prepare(p);
  const std::size_t optional = P.n - P.num_required;

  // The greedy runs. In the exact regime a minimum the greedy could not meet is left to
  // the search, which may still find a way; the required items must fit either way.
  const bool exact_regime = optional <= static_cast<std::size_t>(p.exact_limit);
  std::optional<State> best;
  std::vector<double> best_lv;
  std::string method;
  bool have = false;
  for (const Key key : {Key::kDensity, Key::kScore}) {
    try {
      State st = greedy(P, key, true);
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
  if (!exact_regime) return finish(P, std::move(*best), method, false, 0);

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
    (void)greedy(P, Key::kDensity, false);  // throws the section's BudgetExceeded
    throw BudgetExceeded("no selection meets the section minimums within the budget of " + num(p.budget),
                         p.budget + 1, p.budget, BudgetExceeded::Cause::kMinimum);
  }
  return finish(P, state_of(P, search.best_kept()), complete ? "exact" : "exact-partial", complete,
                search.nodes());
}

}  // namespace covekit::budget
