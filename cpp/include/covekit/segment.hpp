// Text segmentation for the chunker: the places where a chunk may end, each with a
// level (how strong a boundary it is), found in one pass over UTF-8 text.
//
// A boundary at byte `pos` means "a chunk may end here": the text before `pos` ends
// with content (never whitespace), and the next chunk starts at the first
// non-whitespace character at or after `pos`.
//
// Sentence rules (prose only, never inside code or tables):
//   - `.` `!` `?` `…` (and runs of them), then optional closing quotes/brackets, end a
//     sentence when whitespace or the end of the line follows, unless
//       * the next word starts with a lowercase letter ("e.g. this", "Stop!" he said,
//         "wait... and then"),
//       * a single `.` ends an abbreviation ("Mr.", "etc.", "Fig."), an initial ("J.")
//         or a word with inner dots ("U.S.", "i.e.");
//     decimals ("3.14") never qualify because no whitespace follows the dot.
//   - `。` `！` `？` `｡` and the full stops of Indic, Arabic, Armenian, Ethiopic, Myanmar
//     and Khmer scripts end a sentence with or without whitespace after them.
// Word rules: the end of every run of non-whitespace, and the start of every Han, kana
// or CJK-punctuation character (those scripts do not separate words with spaces).
// Thai, Lao, Khmer and Myanmar have no word separators we can see without a
// dictionary: inside them the chunker falls back to token boundaries.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

namespace covekit::segment {

// Boundary levels, strongest first.
enum Level : uint8_t {
  kSection = 0,   // before a markdown heading
  kBlock = 1,     // blank line, start/end of a code block, list or table
  kItem = 2,      // a top-level list item, a table row
  kSubItem = 3,   // a nested list item, a line of code
  kSentence = 4,  // the end of a sentence
  kLine = 5,      // a soft line break inside a paragraph
  kWord = 6,      // between words
  kToken = 7,     // a token boundary (used by the chunker, not produced here)
  kNone = 255,
};
inline constexpr int kLevelCount = 8;

struct Boundary {
  uint32_t pos;
  uint8_t level;
};

// Appends a boundary, merging it with the previous one when they are at the same
// position (the stronger level wins). Positions must not decrease.
inline void add_boundary(std::vector<Boundary>& out, std::size_t pos, uint8_t level) {
  if (!out.empty() && out.back().pos == pos) {
    if (level < out.back().level) out.back().level = level;
    return;
  }
  out.push_back({static_cast<uint32_t>(pos), level});
}

// Appends the sentence (when `sentences`) and word boundaries inside [begin, end) of
// `text`, one line of content (a sentence that ends the line may add `end` itself).
void scan_line(std::string_view text, std::size_t begin, std::size_t end, bool sentences,
               std::vector<Boundary>& out);

// Code point at byte `pos` of valid UTF-8 (0 at the end).
[[nodiscard]] char32_t code_point_at(std::string_view text, std::size_t pos) noexcept;
// Code point that ends at byte `pos` (0 at the start).
[[nodiscard]] char32_t code_point_before(std::string_view text, std::size_t pos) noexcept;

// Whitespace as Python's str.isspace() sees it for the characters that matter here
// (Unicode White_Space).
[[nodiscard]] bool is_space(char32_t cp) noexcept;

// Characters that end a sentence with or without whitespace after them: 。 ！ ？ ｡ and
// the full stops of Indic, Arabic, Armenian, Ethiopic, Myanmar, Khmer and other scripts.
[[nodiscard]] bool is_hard_terminator(char32_t cp) noexcept;

// Code points that continue the character before them (combining marks, ZWJ,
// variation selectors, emoji modifiers and tags): a chunk never starts at one.
[[nodiscard]] bool continues_cluster(char32_t cp) noexcept;

// First byte at or after `pos` that is not whitespace (text.size() when none).
[[nodiscard]] std::size_t skip_space(std::string_view text, std::size_t pos) noexcept;
// Byte just after the last non-whitespace character before `pos`, but not before `floor`.
[[nodiscard]] std::size_t trim_back(std::string_view text, std::size_t floor, std::size_t pos) noexcept;

}  // namespace covekit::segment
