#include "covekit/budget.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <limits>
#include <map>
#include <numeric>
#include <random>
#include <thread>
#include <vector>

namespace cb = covekit::budget;

namespace {

// An owning instance; problem() views it.
struct Instance {
  std::vector<int64_t> tokens;
  std::vector<double> utility;
  std::vector<int32_t> section;
  std::vector<int32_t> group;
  std::vector<uint8_t> flags;
  std::vector<int64_t> min_keep;
  std::vector<cb::Section> sections;
  int64_t budget = 0;
  int64_t group_cap = 0;
  int32_t num_groups = 0;

  void add(int64_t t, double u, int32_t s = 0, int32_t g = -1, uint8_t f = 0, int64_t keep = 1) {
    tokens.push_back(t);
    utility.push_back(u);
    section.push_back(s);
    group.push_back(g);
    flags.push_back(f);
    min_keep.push_back(keep);
    num_groups = std::max(num_groups, g + 1);
  }
  [[nodiscard]] cb::Problem problem(int32_t exact_limit = 24) const {
    cb::Problem p;
    p.tokens = tokens;
    p.utility = utility;
    p.section = section;
    p.group = group;
    p.flags = flags;
    p.min_keep = min_keep;
    p.sections = sections;
    p.budget = budget;
    p.group_cap = group_cap;
    p.num_groups = num_groups;
    p.exact_limit = exact_limit;
    return p;
  }
};

bool truncatable(uint8_t f) { return (f & (cb::kTruncateStart | cb::kTruncateEnd)) != 0; }

std::vector<double> values(const Instance& in, const std::vector<int64_t>& kept, std::size_t levels,
                           const std::vector<int32_t>& level_of_section) {
  std::vector<double> lv(levels, 0.0);
  for (std::size_t i = 0; i < kept.size(); ++i)
    if (kept[i])
      lv[static_cast<std::size_t>(level_of_section[static_cast<std::size_t>(in.section[i])])] +=
          in.utility[i] * static_cast<double>(kept[i]) / static_cast<double>(in.tokens[i]);
  return lv;
}

std::vector<int32_t> level_map(const Instance& in, std::vector<int32_t>* levels_out = nullptr) {
  std::vector<int32_t> levels;
  for (const auto& s : in.sections) levels.push_back(s.priority);
  std::sort(levels.begin(), levels.end());
  levels.erase(std::unique(levels.begin(), levels.end()), levels.end());
  std::vector<int32_t> m;
  for (const auto& s : in.sections)
    m.push_back(static_cast<int32_t>(std::lower_bound(levels.begin(), levels.end(), s.priority) - levels.begin()));
  if (levels_out) *levels_out = levels;
  return m;
}

// Every constraint, checked from scratch.
::testing::AssertionResult feasible(const Instance& in, const std::vector<int64_t>& kept) {
  const std::size_t S = in.sections.size();
  std::vector<int64_t> content(S, 0), all(S, 0);
  std::vector<int32_t> count(S, 0), has(S, 0);
  std::vector<int32_t> gopt(static_cast<std::size_t>(in.num_groups), 0), greq(gopt.size(), 0);
  for (std::size_t i = 0; i < kept.size(); ++i) {
    const auto s = static_cast<std::size_t>(in.section[i]);
    all[s] += in.tokens[i];
    has[s] = 1;
    const bool req = in.flags[i] & cb::kRequired;
    if (kept[i] < 0 || kept[i] > in.tokens[i]) return ::testing::AssertionFailure() << "item " << i << " kept " << kept[i];
    if (kept[i] && kept[i] < in.tokens[i] && !truncatable(in.flags[i]))
      return ::testing::AssertionFailure() << "item " << i << " truncated but not truncatable";
    if (kept[i] && truncatable(in.flags[i]) && kept[i] < in.min_keep[i])
      return ::testing::AssertionFailure() << "item " << i << " below min_keep";
    if (req && !kept[i]) return ::testing::AssertionFailure() << "required item " << i << " left out";
    if (kept[i]) {
      content[s] += kept[i];
      ++count[s];
      if (in.group[i] >= 0) (req ? greq : gopt)[static_cast<std::size_t>(in.group[i])]++;
    }
  }
  int64_t total = 0;
  for (std::size_t s = 0; s < S; ++s) {
    const int64_t t = content[s] + (count[s] ? in.sections[s].overhead : 0);
    total += t;
    if (t > in.sections[s].max_tokens) return ::testing::AssertionFailure() << "section " << s << " over max";
    const int64_t emin = has[s] ? std::min(in.sections[s].min_tokens, in.sections[s].overhead + all[s]) : 0;
    if (t < emin) return ::testing::AssertionFailure() << "section " << s << " under min: " << t << " < " << emin;
  }
  if (total > in.budget) return ::testing::AssertionFailure() << "total " << total << " over budget " << in.budget;
  if (in.group_cap)
    for (std::size_t g = 0; g < gopt.size(); ++g)
      if (gopt[g] > std::max<int64_t>(0, in.group_cap - greq[g]))
        return ::testing::AssertionFailure() << "group " << g << " over cap";
  return ::testing::AssertionSuccess();
}

// Exhaustive search over every kept amount of every item (small instances only).
bool brute_force(const Instance& in, std::vector<double>& best) {
  std::vector<int32_t> levels;
  const auto lmap = level_map(in, &levels);
  const std::size_t n = in.tokens.size();
  std::vector<int64_t> kept(n, 0);
  bool found = false;
  std::function<void(std::size_t)> rec = [&](std::size_t i) {
    if (i == n) {
      if (!feasible(in, kept)) return;
      auto lv = values(in, kept, levels.size(), lmap);
      if (!found || cb::lex_better(lv, best)) {
        best = lv;
        found = true;
      }
      return;
    }
    const bool req = in.flags[i] & cb::kRequired;
    if (!req) {
      kept[i] = 0;
      rec(i + 1);
    }
    if (truncatable(in.flags[i])) {
      for (int64_t t = in.min_keep[i]; t <= in.tokens[i]; ++t) {
        kept[i] = t;
        rec(i + 1);
      }
    } else {
      kept[i] = in.tokens[i];
      rec(i + 1);
    }
    kept[i] = 0;
  };
  rec(0);
  return found;
}

Instance random_instance(std::mt19937& rng, std::size_t n, bool truncation, int64_t max_tokens) {
  Instance in;
  std::uniform_int_distribution<int> nsec(1, 3);
  const int S = nsec(rng);
  for (int s = 0; s < S; ++s) {
    cb::Section sec;
    sec.priority = std::uniform_int_distribution<int>(0, 2)(rng);
    sec.overhead = std::uniform_int_distribution<int>(0, 3)(rng);
    if (rng() % 3 == 0) sec.min_tokens = std::uniform_int_distribution<int64_t>(1, max_tokens * 2)(rng);
    if (rng() % 3 == 0) sec.max_tokens = sec.min_tokens + std::uniform_int_distribution<int64_t>(0, max_tokens * 4)(rng);
    in.sections.push_back(sec);
  }
  const int groups = static_cast<int>(rng() % 4);
  int64_t sum = 0;
  for (std::size_t i = 0; i < n; ++i) {
    const int64_t t = std::uniform_int_distribution<int64_t>(1, max_tokens)(rng);
    const double u = std::uniform_int_distribution<int>(0, 20)(rng) / 4.0;  // ties happen
    const auto s = static_cast<int32_t>(rng() % static_cast<unsigned>(S));
    const int32_t g = groups ? static_cast<int32_t>(rng() % static_cast<unsigned>(groups + 1)) - 1 : -1;
    uint8_t f = 0;
    if (rng() % 8 == 0) f |= cb::kRequired;
    int64_t keep = 1;
    if (truncation && rng() % 3 == 0) {
      f |= (rng() % 2) ? cb::kTruncateStart : cb::kTruncateEnd;
      keep = std::uniform_int_distribution<int64_t>(1, t)(rng);
    }
    in.add(t, u, s, g, f, keep);
    sum += t;
  }
  in.num_groups = std::max(in.num_groups, groups);
  in.group_cap = groups ? static_cast<int64_t>(rng() % 3) : 0;
  in.budget = std::uniform_int_distribution<int64_t>(0, sum + 4)(rng);
  return in;
}

}  // namespace

TEST(Budget, PicksTheBestSubset) {
  Instance in;
  in.sections = {cb::Section{}};
  in.add(5, 5.0);
  in.add(4, 4.5);
  in.add(3, 3.5);
  in.add(3, 3.5);
  in.budget = 6;
  const auto sel = cb::pack(in.problem());
  // density greedy takes 3+3 (7.0); that is also the optimum here
  EXPECT_TRUE(sel.exact);
  EXPECT_EQ(sel.kept, (std::vector<int64_t>{0, 0, 3, 3}));
  EXPECT_DOUBLE_EQ(sel.utility, 7.0);
  EXPECT_EQ(sel.total, 6);
  EXPECT_EQ(sel.status[0], static_cast<uint8_t>(cb::Status::kOverBudget));
}

TEST(Budget, ExactBeatsGreedy) {
  // density greedy takes item 0 (density 1.2) then nothing fits; the optimum is 1+2
  Instance in;
  in.sections = {cb::Section{}};
  in.add(5, 6.0);
  in.add(5, 5.5);
  in.add(5, 5.5);
  in.budget = 10;
  auto sel = cb::pack(in.problem());
  EXPECT_DOUBLE_EQ(sel.utility, 11.5);  // 6 + 5.5
  in.tokens = {6, 5, 5};
  in.utility = {6.5, 5.0, 5.0};  // greedy (density 1.083) takes 0, the optimum 1+2 = 10
  sel = cb::pack(in.problem());
  EXPECT_TRUE(sel.exact);
  EXPECT_DOUBLE_EQ(sel.utility, 10.0);
  EXPECT_EQ(sel.method, "exact");
}

TEST(Budget, PrioritiesAreLexicographic) {
  Instance in;
  in.sections = {cb::Section{0, 0, INT64_MAX, 0, ""}, cb::Section{1, 0, INT64_MAX, 0, ""}};
  in.add(10, 1.0, 0);   // low utility but first priority
  in.add(10, 100.0, 1);
  in.budget = 10;
  const auto sel = cb::pack(in.problem());
  EXPECT_EQ(sel.kept, (std::vector<int64_t>{10, 0}));
  EXPECT_EQ(sel.levels, (std::vector<int32_t>{0, 1}));
}

TEST(Budget, SectionMinimumsAreReserved) {
  Instance in;
  in.sections = {cb::Section{0, 0, INT64_MAX, 2, "a"}, cb::Section{1, 7, INT64_MAX, 3, "b"}};
  in.add(10, 10.0, 0);
  in.add(6, 1.0, 0);
  in.add(4, 1.0, 1);
  in.add(4, 2.0, 1);
  in.budget = 20;
  const auto sel = cb::pack(in.problem());
  ASSERT_TRUE(feasible(in, sel.kept));
  // section 1 needs 7 = 3 overhead + one item of 4; the rest goes to section 0
  EXPECT_EQ(sel.section_tokens[1], 7);
  EXPECT_EQ(sel.kept[3], 4);
  EXPECT_EQ(sel.kept[0], 10);
  EXPECT_EQ(sel.total, 19);
}

TEST(Budget, TruncatesToFill) {
  Instance in;
  in.sections = {cb::Section{0, 0, INT64_MAX, 0, ""}, cb::Section{1, 0, INT64_MAX, 0, ""}};
  in.add(8, 8.0, 0);
  in.add(10, 5.0, 1, -1, cb::kTruncateStart | cb::kRequired, 2);  // history: keep at least 2
  in.budget = 15;
  const auto sel = cb::pack(in.problem());
  EXPECT_EQ(sel.kept, (std::vector<int64_t>{8, 7}));
  EXPECT_NEAR(sel.utility, 8.0 + 3.5, 1e-12);
}

TEST(Budget, GroupCap) {
  Instance in;
  in.sections = {cb::Section{}};
  for (int i = 0; i < 5; ++i) in.add(1, 5.0 - i, 0, i < 4 ? 0 : 1);
  in.group_cap = 2;
  in.budget = 100;
  const auto sel = cb::pack(in.problem());
  EXPECT_EQ(sel.kept, (std::vector<int64_t>{1, 1, 0, 0, 1}));
  EXPECT_EQ(sel.status[2], static_cast<uint8_t>(cb::Status::kGroupCap));
}

TEST(Budget, SectionMaximum) {
  Instance in;
  in.sections = {cb::Section{0, 0, 5, 1, ""}};
  in.add(3, 3.0);
  in.add(3, 3.0);
  in.budget = 100;
  const auto sel = cb::pack(in.problem());
  EXPECT_EQ(sel.total, 4);
  EXPECT_EQ(sel.status[1], static_cast<uint8_t>(cb::Status::kSectionFull));
}

TEST(Budget, RequiredThatDoesNotFitSaysByHowMuch) {
  Instance in;
  in.sections = {cb::Section{0, 0, INT64_MAX, 4, ""}};
  in.add(100, 1.0, 0, -1, cb::kRequired);
  in.budget = 90;
  try {
    (void)cb::pack(in.problem());
    FAIL() << "no exception";
  } catch (const cb::BudgetExceeded& e) {
    EXPECT_EQ(e.needed(), 104);
    EXPECT_EQ(e.available(), 90);
    EXPECT_NE(std::string(e.what()).find("short by 14"), std::string::npos) << e.what();
  }
}

TEST(Budget, UnmeetableMinimum) {
  Instance in;
  in.sections = {cb::Section{0, 50, INT64_MAX, 0, "history"}};
  in.add(60, 1.0);
  in.budget = 40;
  EXPECT_THROW((void)cb::pack(in.problem()), cb::BudgetExceeded);
  EXPECT_THROW((void)cb::pack(in.problem(0)), cb::BudgetExceeded);
}

TEST(Budget, BadInput) {
  Instance in;
  in.sections = {cb::Section{}};
  in.add(1, 1.0);
  in.budget = 5;
  auto p = in.problem();
  in.tokens[0] = 0;
  EXPECT_THROW((void)cb::pack(in.problem()), covekit::InvalidInput);
  in.tokens[0] = 1;
  in.utility[0] = -1;
  EXPECT_THROW((void)cb::pack(in.problem()), covekit::InvalidInput);
  in.utility[0] = std::nan("");
  EXPECT_THROW((void)cb::pack(in.problem()), covekit::InvalidInput);
  in.utility[0] = 1;
  in.section[0] = 3;
  EXPECT_THROW((void)cb::pack(in.problem()), covekit::InvalidInput);
  in.section[0] = 0;
  in.flags[0] = cb::kTruncateEnd | cb::kTruncateStart;
  EXPECT_THROW((void)cb::pack(in.problem()), covekit::InvalidInput);
  in.flags[0] = 0;
  in.sections[0].min_tokens = 10;
  in.sections[0].max_tokens = 5;
  EXPECT_THROW((void)cb::pack(in.problem()), covekit::InvalidInput);
  in.sections[0] = cb::Section{};
  in.budget = -1;
  EXPECT_THROW((void)cb::pack(in.problem()), covekit::InvalidInput);
  in.budget = 5;
  in.group[0] = 7;
  EXPECT_THROW((void)cb::pack(in.problem()), covekit::InvalidInput);
}

TEST(Budget, Empty) {
  Instance in;
  const auto sel = cb::pack(in.problem());
  EXPECT_TRUE(sel.kept.empty());
  EXPECT_EQ(sel.total, 0);
}

TEST(Budget, ExactEqualsBruteForceWholeItems) {
  std::mt19937 rng(7);
  for (int trial = 0; trial < 400; ++trial) {
    const Instance in = random_instance(rng, 1 + trial % 12, false, 9);
    std::vector<double> best;
    const bool ok = brute_force(in, best);
    cb::Selection sel;
    try {
      sel = cb::pack(in.problem());
    } catch (const cb::BudgetExceeded&) {
      EXPECT_FALSE(ok) << "trial " << trial << ": the packer found no selection but one exists";
      continue;
    }
    ASSERT_TRUE(ok) << "trial " << trial;
    ASSERT_TRUE(feasible(in, sel.kept)) << "trial " << trial;
    EXPECT_TRUE(sel.exact);
    EXPECT_FALSE(cb::lex_better(best, sel.level_utility)) << "trial " << trial << ": below the optimum";
  }
}

TEST(Budget, ExactEqualsBruteForceWithTruncation) {
  std::mt19937 rng(11);
  for (int trial = 0; trial < 300; ++trial) {
    const Instance in = random_instance(rng, 1 + trial % 7, true, 5);
    std::vector<double> best;
    const bool ok = brute_force(in, best);
    cb::Selection sel;
    try {
      sel = cb::pack(in.problem());
    } catch (const cb::BudgetExceeded&) {
      EXPECT_FALSE(ok) << "trial " << trial;
      continue;
    }
    ASSERT_TRUE(ok) << "trial " << trial;
    ASSERT_TRUE(feasible(in, sel.kept)) << "trial " << trial;
    EXPECT_FALSE(cb::lex_better(best, sel.level_utility)) << "trial " << trial << ": below the optimum";
  }
}

TEST(Budget, HeuristicIsFeasibleAndNotBelowGreedyByScore) {
  std::mt19937 rng(3);
  for (int trial = 0; trial < 300; ++trial) {
    const Instance in = random_instance(rng, 30 + trial % 70, trial % 2 == 0, 40);
    cb::Selection sel, base;
    try {
      sel = cb::pack(in.problem(0));
    } catch (const cb::BudgetExceeded&) {
      EXPECT_THROW((void)cb::greedy_by_score(in.problem(0)), cb::BudgetExceeded);
      continue;
    }
    ASSERT_TRUE(feasible(in, sel.kept)) << "trial " << trial;
    base = cb::greedy_by_score(in.problem(0));
    ASSERT_TRUE(feasible(in, base.kept)) << "trial " << trial;
    EXPECT_FALSE(cb::lex_better(base.level_utility, sel.level_utility)) << "trial " << trial;
  }
}

TEST(Budget, LargeInputsStayFeasible) {
  std::mt19937 rng(5);
  Instance in;
  in.sections = {cb::Section{0, 0, INT64_MAX, 3, ""}, cb::Section{1, 200, 1500, 4, ""}};
  for (int i = 0; i < 10000; ++i)
    in.add(std::uniform_int_distribution<int64_t>(20, 300)(rng), std::uniform_real_distribution<double>(0, 1)(rng),
           i % 2, i % 500, i % 97 == 0 ? cb::kTruncateEnd : 0, 10);
  in.group_cap = 3;
  in.budget = 4000;
  const auto sel = cb::pack(in.problem());
  EXPECT_TRUE(feasible(in, sel.kept));
  EXPECT_LE(sel.total, 4000);
  EXPECT_GE(sel.total, 3900);  // the room left is smaller than any item that could still go in
}

TEST(BudgetThreads, ConcurrentPacksAgree) {
  // pack keeps no state: the same problem packed on four threads at once gives one answer
  std::mt19937 rng(13);
  Instance in;
  in.sections = {cb::Section{0, 0, INT64_MAX, 4, "evidence"}, cb::Section{1, 50, INT64_MAX, 4, "history"}};
  for (int i = 0; i < 400; ++i)
    in.add(std::uniform_int_distribution<int64_t>(10, 200)(rng), std::uniform_real_distribution<double>(0, 1)(rng),
           i % 2, i % 40, i % 2 ? cb::kTruncateStart : 0, 5);
  in.group_cap = 2;
  in.budget = 2000;
  const std::vector<int64_t> expect = cb::pack(in.problem()).kept;
  std::vector<std::vector<int64_t>> got(4);
  std::vector<std::thread> threads;
  for (auto& g : got)
    threads.emplace_back([&in, &g] {
      for (int r = 0; r < 20; ++r) g = cb::pack(in.problem()).kept;
    });
  for (auto& t : threads) t.join();
  for (const auto& g : got) EXPECT_EQ(g, expect);
}

namespace {

// The packer's path above exact_limit for one section, written out plainly (the same
// algorithm as python_packer in tests/benchmarks/bench_context.py): for the density
// order and then the score order, each item whole while it fits and its group is under
// the cap, then improving one-for-one swaps over the first 256 items of the order; the
// better of the two runs.
std::vector<int64_t> reference_pack(const Instance& in) {
  const std::size_t n = in.tokens.size();
  const int64_t overhead = in.sections[0].overhead, budget = in.budget;
  const int64_t cap = in.group_cap ? in.group_cap : std::numeric_limits<int64_t>::max();
  auto run = [&](const std::vector<double>& key) {
    std::vector<std::size_t> order(n);
    std::iota(order.begin(), order.end(), std::size_t{0});
    std::sort(order.begin(), order.end(),
              [&](std::size_t a, std::size_t b) { return key[a] != key[b] ? key[a] > key[b] : a < b; });
    std::vector<int64_t> kept(n, 0);
    std::map<int32_t, int64_t> per_group;
    int64_t used = 0, count = 0;
    auto group_full = [&](std::size_t i) { return in.group[i] >= 0 && per_group[in.group[i]] >= cap; };
    for (std::size_t i : order) {
      if (group_full(i)) continue;
      const int64_t cost = in.tokens[i] + (count ? 0 : overhead);
      if (used + cost > budget) continue;
      kept[i] = in.tokens[i];
      used += cost;
      ++count;
      if (in.group[i] >= 0) ++per_group[in.group[i]];
    }
    auto by_utility = [&](std::size_t a, std::size_t b) {
      return in.utility[a] != in.utility[b] ? in.utility[a] < in.utility[b] : a < b;
    };
    std::vector<std::size_t> inside;
    for (std::size_t i = 0; i < n; ++i)
      if (kept[i]) inside.push_back(i);
    std::sort(inside.begin(), inside.end(), by_utility);
    for (std::size_t h = 0; h < std::min<std::size_t>(256, n); ++h) {
      const std::size_t j = order[h];
      if (kept[j]) continue;
      const double uj = in.utility[j];
      std::size_t best = n;
      for (std::size_t i : inside) {
        if (!(in.utility[i] < uj - 1e-9 * (1.0 + uj))) break;
        // count >= 1: removing i and adding j keeps the overhead
        if (used - in.tokens[i] + in.tokens[j] > budget) continue;
        const int32_t gj = in.group[j];
        if (gj >= 0 && gj != in.group[i] && per_group[gj] >= cap) continue;
        best = i;
        break;
      }
      if (best == n) continue;
      kept[best] = 0;
      kept[j] = in.tokens[j];
      used += in.tokens[j] - in.tokens[best];
      if (in.group[best] >= 0) --per_group[in.group[best]];
      if (in.group[j] >= 0) ++per_group[in.group[j]];
      inside.erase(std::find(inside.begin(), inside.end(), best));
      inside.insert(std::upper_bound(inside.begin(), inside.end(), j, by_utility), j);
    }
    double total = 0;
    for (std::size_t i = 0; i < n; ++i)
      if (kept[i]) total += in.utility[i];
    return std::make_pair(total, kept);
  };
  std::vector<double> density(n);
  for (std::size_t i = 0; i < n; ++i) density[i] = in.utility[i] / static_cast<double>(in.tokens[i]);
  const auto first = run(density), second = run(in.utility);
  const double tol = 1e-9 * (1.0 + std::max(std::abs(first.first), std::abs(second.first)));
  return second.first > first.first + tol ? second.second : first.second;
}

}  // namespace

TEST(Budget, LargeOneSectionEqualsAPlainImplementation) {
  // The greedy path's shortcuts (the first chunk chosen by a sampled threshold, the
  // bucket sort, the head, the lazy later chunks, the screened swaps) give exactly the
  // plain algorithm's selection, also with ties and crowded scores.
  std::mt19937 rng(17);
  int trials = 0;
  for (const std::size_t n : {25, 200, 511, 513, 1000, 3000, 10000})
    for (int dist = 0; dist < 5; ++dist)
      for (const int64_t cap : {0, 2})
        for (const int64_t budget : {60, 4000, 40000}) {
          Instance in;
          in.sections = {cb::Section{1, 0, INT64_MAX, 4, "evidence"}};
          std::uniform_real_distribution<double> unit(0.0, 1.0);
          for (std::size_t i = 0; i < n; ++i) {
            double u = unit(rng);
            if (dist == 1) u = static_cast<double>(rng() % 6) / 5.0;         // few distinct values
            if (dist == 2 && rng() % 2) u = 0.75 + static_cast<double>(rng() % 4096) * 0x1p-45;  // one bucket
            if (dist == 3 && rng() % 3) u = 0.75 + static_cast<double>(n - i) * 0x1p-45;  // crowded, descending
            if (dist == 4) u = 0.5;                                           // all equal
            in.add(std::uniform_int_distribution<int64_t>(20, 300)(rng), u, 0, static_cast<int32_t>(i / 5));
          }
          in.group_cap = cap;
          in.budget = budget;
          const auto sel = cb::pack(in.problem());
          ASSERT_EQ(sel.kept, reference_pack(in)) << "n " << n << ", distribution " << dist << ", cap " << cap
                                                  << ", budget " << budget;
          ASSERT_TRUE(feasible(in, sel.kept));
          ++trials;
        }
  EXPECT_EQ(trials, 7 * 5 * 2 * 3);
}

TEST(Budget, MessagesNameExtremeValues) {
  // the most negative count is reported, not overflowed while formatting it
  Instance in;
  in.sections = {cb::Section{}};
  in.add(1, 1.0);
  in.tokens[0] = std::numeric_limits<int64_t>::min();
  in.budget = 5;
  try {
    (void)cb::pack(in.problem());
    FAIL() << "no exception";
  } catch (const covekit::InvalidInput& e) {
    EXPECT_NE(std::string(e.what()).find("got -9,223,372,036,854,775,808"), std::string::npos) << e.what();
  }
  // the largest int32 is no group index (one more would overflow the count)
  in.tokens[0] = 1;
  in.group[0] = std::numeric_limits<int32_t>::max();
  in.num_groups = -1;
  EXPECT_THROW((void)cb::pack(in.problem()), covekit::InvalidInput);
}
