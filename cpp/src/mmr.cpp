#include "covekit/mmr.hpp"

#include <cmath>
#include <string>

#include "covekit/errors.hpp"
#include "covekit/simd_distance.hpp"

namespace covekit::mmr {

Ranked rerank(std::span<const float> vectors, std::size_t dim, std::span<const double> relevance, double lambda,
              std::size_t k) {
  const std::size_t n = relevance.size();
  if (!(lambda >= 0.0 && lambda <= 1.0)) throw InvalidInput("lambda must be in [0, 1], got " + std::to_string(lambda));
  if (n && dim == 0) throw InvalidInput("vectors must have at least one dimension");
  if (vectors.size() != n * dim)
    throw InvalidInput("vectors hold " + std::to_string(vectors.size()) + " floats; " + std::to_string(n) +
                       " candidates of dim " + std::to_string(dim) + " need " + std::to_string(n * dim));
  for (std::size_t i = 0; i < n; ++i)
    if (!std::isfinite(relevance[i]))
      throw InvalidInput("relevance[" + std::to_string(i) + "] is not a finite number");
  const simd::DistFunc ip = simd::ip_distance(simd::detect());
  std::vector<double> inv_norm(n, 0.0);
  for (std::size_t i = 0; i < n; ++i) {
    const float* v = vectors.data() + i * dim;
    const double sq = 1.0 - static_cast<double>(ip(v, v, &dim));
    if (!std::isfinite(sq)) throw InvalidInput("vector " + std::to_string(i) + " holds a non-finite value");
    inv_norm[i] = sq > 0.0 ? 1.0 / std::sqrt(sq) : 0.0;
  }
  Ranked out;
  k = std::min(k, n);
  out.order.reserve(k);
  out.score.reserve(k);
  std::vector<double> max_sim(n, 0.0);
  std::vector<uint8_t> picked(n, 0);
  bool first = true;
  for (std::size_t step = 0; step < k; ++step) {
    std::size_t best = n;
    double best_score = 0.0;
    for (std::size_t i = 0; i < n; ++i) {
      if (picked[i]) continue;
      const double s = lambda * relevance[i] - (first ? 0.0 : (1.0 - lambda) * max_sim[i]);
      if (best == n || s > best_score) {
        best = i;
        best_score = s;
      }
    }
    picked[best] = 1;
    out.order.push_back(static_cast<int32_t>(best));
    out.score.push_back(best_score);
    first = false;
    if (step + 1 == k) break;
    const float* b = vectors.data() + best * dim;
    for (std::size_t i = 0; i < n; ++i) {
      if (picked[i]) continue;
      const double dot = 1.0 - static_cast<double>(ip(vectors.data() + i * dim, b, &dim));
      const double cos = dot * inv_norm[i] * inv_norm[best];
      if (cos > max_sim[i]) max_sim[i] = cos;
    }
  }
  return out;
}

}  // namespace covekit::mmr
