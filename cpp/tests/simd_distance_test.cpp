#include "covekit/simd_distance.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

namespace covekit::simd {
namespace {

double ref_dot(const std::vector<float>& a, const std::vector<float>& b) {
  double s = 0;
  for (std::size_t i = 0; i < a.size(); ++i) s += static_cast<double>(a[i]) * b[i];
  return s;
}

double ref_l2(const std::vector<float>& a, const std::vector<float>& b) {
  double s = 0;
  for (std::size_t i = 0; i < a.size(); ++i) s += (static_cast<double>(a[i]) - b[i]) * (static_cast<double>(a[i]) - b[i]);
  return s;
}

TEST(SimdDistance, EveryKernelTheCpuRunsMatchesTheReference) {
  std::mt19937 rng(7);
  std::normal_distribution<float> g;
  const Level best = detect();
  for (int lv = 0; lv <= static_cast<int>(best); ++lv) {
    const auto level = static_cast<Level>(lv);
    for (std::size_t dim : {1, 3, 7, 8, 15, 16, 17, 31, 32, 33, 64, 100, 384, 768, 1536}) {
      std::vector<float> a(dim), b(dim);
      for (auto& x : a) x = g(rng);
      for (auto& x : b) x = g(rng);
      const float ip = ip_distance(level)(a.data(), b.data(), &dim);
      const float l2 = l2_distance(level)(a.data(), b.data(), &dim);
      const double scale = std::sqrt(static_cast<double>(dim)) * 1e-5 + 1e-6;
      EXPECT_NEAR(ip, 1.0 - ref_dot(a, b), scale * 4) << level_name(level) << " dim " << dim;
      EXPECT_NEAR(l2, ref_l2(a, b), scale * 8 * dim / 10 + 1e-5) << level_name(level) << " dim " << dim;
    }
  }
}

TEST(SimdDistance, TailLanesReadNothingPastTheEnd) {
  // A vector ending at the end of its allocation: the masked tail must not read past it
  // (ASan checks this build).
  for (std::size_t dim = 1; dim < 40; ++dim) {
    std::vector<float> a(dim, 1.0f), b(dim, 2.0f);
    for (int lv = 0; lv <= static_cast<int>(detect()); ++lv) {
      const auto level = static_cast<Level>(lv);
      EXPECT_FLOAT_EQ(ip_distance(level)(a.data(), b.data(), &dim), 1.0f - 2.0f * static_cast<float>(dim));
      EXPECT_FLOAT_EQ(l2_distance(level)(a.data(), b.data(), &dim), static_cast<float>(dim));
    }
  }
}

}  // namespace
}  // namespace covekit::simd
