// Unicode simple case folding: one code point to one (CaseFolding.txt statuses C and S,
// plus U+0130 -> U+0069). Pinned tables (tools/gen_case_fold_table.py, Unicode 14.0.0)
// so that anything built on it (the hashing embedder's features) is the same on every
// platform. Examples: 'A' -> 'a', 'Σ' and 'ς' -> 'σ', 'ſ' -> 's', 'K' (Kelvin) -> 'k'.
// Full folding (ß -> ss) is not applied: the length of the text never changes.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>

namespace covekit::unicode {

namespace detail {

struct CaseFoldPair {
  uint32_t from;
  uint32_t to;
};

// Sorted by `from`; generated in cpp/src/case_fold_table.cpp.
extern const CaseFoldPair kCaseFold[];
extern const std::size_t kCaseFoldSize;
extern const char kCaseFoldUnicodeVersion[];

}  // namespace detail

// The simple case folding of `cp` (itself when it has none).
[[nodiscard]] inline char32_t simple_fold(char32_t cp) noexcept {
  if (cp < 0x80) [[likely]]
    return (cp >= 'A' && cp <= 'Z') ? cp + 32 : cp;
  const detail::CaseFoldPair* end = detail::kCaseFold + detail::kCaseFoldSize;
  const detail::CaseFoldPair* it = std::lower_bound(
      detail::kCaseFold, end, static_cast<uint32_t>(cp),
      [](const detail::CaseFoldPair& p, uint32_t c) { return p.from < c; });
  return (it != end && it->from == cp) ? static_cast<char32_t>(it->to) : cp;
}

}  // namespace covekit::unicode
