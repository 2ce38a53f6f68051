#include "covekit/near_duplicate.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <set>
#include <vector>

#include "covekit/errors.hpp"

namespace nd = covekit::near_duplicate;

namespace {

std::vector<uint64_t> sk(const std::vector<uint32_t>& t, std::size_t k, std::size_t shingle = 3) {
  std::vector<uint64_t> out(k);
  nd::sketch(t, shingle, 0, out);
  return out;
}

double exact_jaccard(const std::vector<uint32_t>& a, const std::vector<uint32_t>& b, std::size_t w) {
  auto shingles = [&](const std::vector<uint32_t>& t) {
    std::set<std::vector<uint32_t>> s;
    if (t.empty()) return s;
    const std::size_t ww = std::min(w, t.size());
    for (std::size_t i = 0; i + ww <= t.size(); ++i) s.insert(std::vector<uint32_t>(t.begin() + i, t.begin() + i + ww));
    return s;
  };
  const auto sa = shingles(a), sb = shingles(b);
  if (sa.empty() && sb.empty()) return 1.0;
  std::size_t both = 0;
  for (const auto& x : sa) both += sb.count(x);
  return double(both) / double(sa.size() + sb.size() - both);
}

}  // namespace

TEST(NearDuplicate, ExactWhenTheUnionFits) {
  std::mt19937 rng(2);
  for (int trial = 0; trial < 200; ++trial) {
    std::vector<uint32_t> a(1 + rng() % 40), b;
    for (auto& x : a) x = rng() % 50;
    b = a;
    for (int e = 0; e < trial % 6; ++e) b[rng() % b.size()] = rng() % 50;
    if (trial % 5 == 0) b.resize(b.size() / 2);
    EXPECT_DOUBLE_EQ(nd::similarity(sk(a, 128), sk(b, 128)), exact_jaccard(a, b, 3)) << trial;
  }
}

TEST(NearDuplicate, EstimateIsClose) {
  std::mt19937 rng(4);
  double worst = 0;
  for (int trial = 0; trial < 50; ++trial) {
    std::vector<uint32_t> a(600);
    for (auto& x : a) x = rng() % 100000;
    std::vector<uint32_t> b = a;
    for (int e = 0; e < trial * 4; ++e) b[rng() % b.size()] = rng() % 100000;
    const double est = nd::similarity(sk(a, 128), sk(b, 128));
    worst = std::max(worst, std::abs(est - exact_jaccard(a, b, 3)));
  }
  EXPECT_LT(worst, 0.16);  // about 4 standard errors at k = 128
}

TEST(NearDuplicate, FindKeepsTheFirst) {
  std::vector<uint32_t> a = {1, 2, 3, 4, 5, 6, 7, 8}, b = a, c = {9, 10, 11, 12};
  b[7] = 99;  // 5 of 7 shingles shared with a: 5/7 ... union 7 -> J = 5/7
  const std::size_t k = 16;
  std::vector<uint64_t> m;
  for (const auto* t : {&a, &c, &b, &a}) {
    auto s = sk(*t, k);
    m.insert(m.end(), s.begin(), s.end());
  }
  EXPECT_EQ(nd::find(m, k, 0.7), (std::vector<int32_t>{-1, -1, 0, 0}));
  EXPECT_EQ(nd::find(m, k, 0.9), (std::vector<int32_t>{-1, -1, -1, 0}));
}

TEST(NearDuplicate, Edges) {
  const auto e = sk({}, 8);
  EXPECT_EQ(e[0], nd::kEmpty);
  EXPECT_DOUBLE_EQ(nd::similarity(e, e), 1.0);
  EXPECT_DOUBLE_EQ(nd::similarity(e, sk({1}, 8)), 0.0);
  EXPECT_DOUBLE_EQ(nd::similarity(sk({1}, 8), sk({1}, 8)), 1.0);  // shorter than a shingle
  std::vector<uint64_t> out(4);
  EXPECT_THROW(nd::sketch(std::vector<uint32_t>{1, 2}, 0, 0, out), covekit::InvalidInput);
  EXPECT_THROW((void)nd::find(std::vector<uint64_t>(5), 2, 0.5), covekit::InvalidInput);
  EXPECT_THROW((void)nd::find(std::vector<uint64_t>(4), 2, 1.5), covekit::InvalidInput);
}

TEST(NearDuplicate, SimilarAgreesWithSimilarity) {
  std::mt19937 rng(9);
  for (int trial = 0; trial < 400; ++trial) {
    std::vector<uint32_t> a(1 + rng() % 300), b;
    for (auto& x : a) x = rng() % 400;
    b = a;
    for (int e = 0; e < trial % 40; ++e) b[rng() % b.size()] = rng() % 400;
    const std::size_t k = 1 + trial % 130;
    const auto sa = sk(a, k), sb = sk(b, k);
    for (double t : {0.0, 0.3, 0.5, 0.8, 0.95, 1.0})
      EXPECT_EQ(nd::similar(sa, sb, t), nd::similarity(sa, sb) >= t) << trial << " " << t;
  }
}

TEST(NearDuplicate, Words) {
  auto w = [](std::string_view s) {
    std::vector<uint64_t> out(64);
    nd::sketch_words(s, 2, 0, out);
    return out;
  };
  // case, punctuation and spacing do not matter; words do
  EXPECT_DOUBLE_EQ(nd::similarity(w("Refunds take 5 days."), w("refunds   TAKE 5 days!")), 1.0);
  EXPECT_LT(nd::similarity(w("refunds take 5 days"), w("refunds take 9 days")), 0.5);
  // non-ASCII letters are word characters; "…" and em dashes separate
  EXPECT_DOUBLE_EQ(nd::similarity(w("café olé"), w("café — olé…")), 1.0);
  EXPECT_LT(nd::similarity(w("café olé"), w("cafe ole")), 1.0);
  // each CJK character is a word
  EXPECT_DOUBLE_EQ(nd::similarity(w("返金には5日"), w("返金 に は 5 日")), 1.0);
  EXPECT_EQ(w("… — !!")[0], nd::kEmpty);
  std::vector<uint64_t> out(4);
  EXPECT_THROW(nd::sketch_words("a b", 0, 0, out), covekit::InvalidInput);
}
