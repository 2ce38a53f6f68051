// Unicode code point classes for the hand-written pre-tokenizer that
// reproduces tiktoken's split regexes.
//
// The sets are those of the Rust regex crate used by tiktoken 0.14
// (regex-syntax 0.8.11, Unicode 16.0.0); the tables live in the generated
// cpp/src/unicode_tables.cpp (tools/gen_unicode_tables.py), verified against
// tiktoken itself by tools/probe_tiktoken_unicode.py.
//
// Not covered by these bits, but found by the same kind of probing: the
// case-insensitive contraction groups ('(?i:[sdmt]|ll|ve|re)' in cl100k,
// '(?i:'s|'t|...)' in o200k) use Unicode simple case folding, so besides
// ASCII s/S they also match U+017F LATIN SMALL LETTER LONG S.
#pragma once

#include <cstddef>
#include <cstdint>

namespace covekit::unicode {

// Class bits of one code point.
inline constexpr uint8_t kLetter = 1;   // \p{L}  = Lu|Ll|Lt|Lm|Lo
inline constexpr uint8_t kNumber = 2;   // \p{N}  = Nd|Nl|No
inline constexpr uint8_t kSpace = 4;    // \s     = White_Space
inline constexpr uint8_t kMark = 8;     // \p{M}  = Mn|Mc|Me
inline constexpr uint8_t kUpper = 16;   // o200k's [\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]
inline constexpr uint8_t kLower = 32;   // o200k's [\p{Ll}\p{Lm}\p{Lo}\p{M}]

inline constexpr char32_t kMaxCodePoint = 0x10FFFF;

// Unicode version of the generated tables, e.g. "16.0.0".
extern const char kUnicodeVersion[];

namespace detail {

inline constexpr std::size_t kBlockShift = 8;  // 256 code points per block
inline constexpr std::size_t kBlockMask = (std::size_t{1} << kBlockShift) - 1;
inline constexpr std::size_t kStage1Size = (std::size_t{kMaxCodePoint} + 1) >> kBlockShift;  // 0x1100

// kStage1[cp >> 8] is the index of cp's 256-byte block in kStage2.
extern const uint8_t kStage1[];
extern const uint8_t kStage2[];

struct AsciiTable {
  uint8_t v[128];
};

inline constexpr AsciiTable kAscii = [] {
  AsciiTable t{};
  for (int c = 0; c < 128; ++c) {
    uint8_t b = 0;
    if (c >= 'A' && c <= 'Z') b = kLetter | kUpper;
    else if (c >= 'a' && c <= 'z') b = kLetter | kLower;
    else if (c >= '0' && c <= '9') b = kNumber;
    else if (c == ' ' || (c >= '\t' && c <= '\r')) b = kSpace;  // \t \n \v \f \r
    t.v[c] = b;
  }
  return t;
}();

}  // namespace detail

// Class bits of `cp`: 0 for cp > 0x10FFFF, surrogates, unassigned and all
// other code points that are in none of the sets.
[[nodiscard]] inline uint8_t classify(char32_t cp) noexcept {
  if (cp < 0x80) [[likely]]
    return detail::kAscii.v[cp];
  if (cp > kMaxCodePoint) [[unlikely]]
    return 0;
  return detail::kStage2[(std::size_t{detail::kStage1[cp >> detail::kBlockShift]} << detail::kBlockShift) |
                         (cp & detail::kBlockMask)];
}

[[nodiscard]] inline bool is_letter(char32_t cp) noexcept { return (classify(cp) & kLetter) != 0; }
[[nodiscard]] inline bool is_number(char32_t cp) noexcept { return (classify(cp) & kNumber) != 0; }
[[nodiscard]] inline bool is_space(char32_t cp) noexcept { return (classify(cp) & kSpace) != 0; }

}  // namespace covekit::unicode
