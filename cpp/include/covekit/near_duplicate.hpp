// Near-duplicate detection with MinHash bottom-k sketches over token shingles.
//
// A text's shingles are its windows of `shingle` consecutive tokens (a shorter,
// non-empty text is one shingle), each hashed with XXH3-64. The tokens are either a
// tokenizer's ids (`sketch`) or words (`sketch_words`): maximal runs of ASCII letters
// and digits (lowercased) and non-ASCII letters, with each CJK ideograph, kana and
// hangul syllable a word of its own; everything else separates words. The sketch keeps the `k`
// smallest distinct hashes. The Jaccard similarity of two texts is estimated from the
// k smallest hashes of the union of their sketches: the share of them found in both
// (Broder 1997; Cohen & Kaplan 2007): a value among the union's k smallest is in both
// sets exactly when it is in both sketches. When the union has at most k distinct
// shingles the value is the exact Jaccard similarity; above, the standard error is
// about sqrt(J (1 - J) / k).
// Two empty texts have similarity 1; an empty and a non-empty one 0.
//
// Sketches are rows of a matrix (n x k, uint64, ascending, padded with kEmpty), so that
// callers can store and reuse them.
#pragma once

#include <cstddef>
#include <cstdint>
#include <limits>
#include <span>
#include <string_view>
#include <vector>

namespace covekit::near_duplicate {

inline constexpr uint64_t kEmpty = std::numeric_limits<uint64_t>::max();

// Writes the sketch of `tokens` into `out` (k entries). Hashes equal to kEmpty are
// mapped to kEmpty - 1, so padding is unambiguous.
void sketch(std::span<const uint32_t> tokens, std::size_t shingle, uint64_t seed, std::span<uint64_t> out);

// The same over the words of UTF-8 text (validated by the caller).
void sketch_words(std::string_view text, std::size_t shingle, uint64_t seed, std::span<uint64_t> out);

// The (estimated) Jaccard similarity of two sketches of the same k.
[[nodiscard]] double similarity(std::span<const uint64_t> a, std::span<const uint64_t> b) noexcept;

// similarity(a, b) >= threshold, stopping as soon as the answer is known (most pairs of
// distinct texts share nothing and stop after about (1 - threshold) * k steps).
[[nodiscard]] bool similar(std::span<const uint64_t> a, std::span<const uint64_t> b, double threshold) noexcept;

// Greedy removal in the given order (`sketches` holds n rows of k): item i is a
// duplicate of the first earlier *kept* item whose similarity is >= threshold. Returns
// per item the index of that kept item, or -1 when i is kept.
[[nodiscard]] std::vector<int32_t> find(std::span<const uint64_t> sketches, std::size_t k, double threshold);

}  // namespace covekit::near_duplicate
