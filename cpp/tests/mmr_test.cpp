#include "covekit/mmr.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include "covekit/errors.hpp"

namespace {

// The textbook definition, computed directly (the oracle).
std::vector<int32_t> reference(const std::vector<float>& v, std::size_t dim, const std::vector<double>& rel,
                               double lambda, std::size_t k) {
  const std::size_t n = rel.size();
  auto cos = [&](std::size_t a, std::size_t b) {
    double d = 0, na = 0, nb = 0;
    for (std::size_t j = 0; j < dim; ++j) {
      d += double(v[a * dim + j]) * v[b * dim + j];
      na += double(v[a * dim + j]) * v[a * dim + j];
      nb += double(v[b * dim + j]) * v[b * dim + j];
    }
    return na > 0 && nb > 0 ? d / std::sqrt(na * nb) : 0.0;
  };
  std::vector<int32_t> out;
  std::vector<bool> used(n, false);
  for (std::size_t step = 0; step < std::min(k, n); ++step) {
    std::size_t best = n;
    double bs = 0;
    for (std::size_t i = 0; i < n; ++i) {
      if (used[i]) continue;
      double m = 0;
      for (int32_t j : out) m = std::max(m, cos(i, static_cast<std::size_t>(j)));
      const double s = lambda * rel[i] - (out.empty() ? 0.0 : (1 - lambda) * m);
      if (best == n || s > bs + 1e-9) {
        best = i;
        bs = s;
      }
    }
    used[best] = true;
    out.push_back(static_cast<int32_t>(best));
  }
  return out;
}

}  // namespace

TEST(Mmr, DiversifiesNearCopies) {
  // 0 and 1 point the same way; 2 elsewhere. Relevance 1.0, 0.95, 0.6.
  const std::vector<float> v = {1, 0, 1, 0.01f, 0, 1};
  const std::vector<double> rel = {1.0, 0.95, 0.6};
  const auto r = covekit::mmr::rerank(v, 2, rel, 0.5, 3);
  EXPECT_EQ(r.order, (std::vector<int32_t>{0, 2, 1}));
  const auto keep = covekit::mmr::rerank(v, 2, rel, 1.0, 3);
  EXPECT_EQ(keep.order, (std::vector<int32_t>{0, 1, 2}));
  EXPECT_DOUBLE_EQ(r.score[0], 0.5);
}

TEST(Mmr, EqualsTheDefinition) {
  std::mt19937 rng(1);
  std::normal_distribution<float> g;
  for (int trial = 0; trial < 100; ++trial) {
    const std::size_t n = 1 + trial % 30, dim = 1 + trial % 17;
    std::vector<float> v(n * dim);
    for (float& x : v) x = g(rng);
    std::vector<double> rel(n);
    for (double& x : rel) x = std::uniform_real_distribution<double>(0, 1)(rng);
    const double lambda = (trial % 11) / 10.0;
    EXPECT_EQ(covekit::mmr::rerank(v, dim, rel, lambda, n).order, reference(v, dim, rel, lambda, n)) << trial;
  }
}

TEST(Mmr, Edges) {
  EXPECT_TRUE(covekit::mmr::rerank({}, 4, {}, 0.5, 10).order.empty());
  const std::vector<float> zero = {0, 0, 0, 0};
  const std::vector<double> rel = {0.2, 0.9};
  EXPECT_EQ(covekit::mmr::rerank(zero, 2, rel, 0.5, 5).order, (std::vector<int32_t>{1, 0}));
  EXPECT_EQ(covekit::mmr::rerank(zero, 2, rel, 0.5, 1).order.size(), 1u);
  EXPECT_THROW((void)covekit::mmr::rerank(zero, 3, rel, 0.5, 2), covekit::InvalidInput);
  EXPECT_THROW((void)covekit::mmr::rerank(zero, 2, rel, 1.5, 2), covekit::InvalidInput);
  const std::vector<double> nan = {std::nan(""), 1.0};
  EXPECT_THROW((void)covekit::mmr::rerank(zero, 2, nan, 0.5, 2), covekit::InvalidInput);
}
