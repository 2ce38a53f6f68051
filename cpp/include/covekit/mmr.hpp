// Maximal marginal relevance (Carbonell & Goldstein, 1998): a reranking that trades
// relevance for diversity. Each step picks the candidate with the highest
//     lambda * relevance[i] - (1 - lambda) * max_{j picked} cos(v_i, v_j)
// (ties: the lower index). lambda = 1 keeps the relevance order; lambda = 0 picks for
// diversity alone after the first. Cosine similarities come from the vectors' dot
// products divided by their norms (zero vectors have similarity 0 with everything).
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

namespace covekit::mmr {

struct Ranked {
  std::vector<int32_t> order;  // candidate indices, picked first to last
  std::vector<double> score;   // the MMR score each had when it was picked
};

// `vectors`: n rows of `dim` float32, row-major. `relevance`: n finite values (callers
// usually scale them to [0, 1] so that they compare with cosine similarities).
// Returns the first `k` picks (all n when k >= n). Throws InvalidInput on a size
// mismatch, a lambda outside [0, 1] or a non-finite value.
[[nodiscard]] Ranked rerank(std::span<const float> vectors, std::size_t dim, std::span<const double> relevance,
                            double lambda, std::size_t k);

}  // namespace covekit::mmr
