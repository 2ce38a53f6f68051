#include "covekit/segment.hpp"

#include <algorithm>
#include <array>
#include <cstdint>
#include <iterator>

#include "covekit/unicode.hpp"
#include "covekit/utf8.hpp"

namespace covekit::segment {

namespace {

const unsigned char* bytes(std::string_view s) noexcept { return reinterpret_cast<const unsigned char*>(s.data()); }

bool ascii_space(unsigned char c) noexcept { return c == ' ' || (c >= '\t' && c <= '\r'); }

// is_space for cp >= 0x80. Python's str.isspace() also counts U+0085; the tables give
// White_Space, which has nothing else between U+00A0 and U+1680.
inline bool is_space_above_ascii(char32_t cp) noexcept {
  return cp == 0x85 || cp == 0xA0 || (cp >= 0x1680 && unicode::is_space(cp));
}

// Sentence ends that need no whitespace after them: every character with the Unicode
// property Sentence_Terminal except . ! ? and U+2026 (those need a space after them,
// see scan_line), plus the Greek question mark U+037E and the Urdu full stop U+06D4,
// which the property leaves out. Generated with the `regex` package (2026.11.15):
//   [c for c in range(0x110000) if regex.match(r"\p{Sentence_Terminal}", chr(c))]
// tests/test_chunker.py checks this table against the property.
struct CpRange {
  char32_t lo, hi;
};
constexpr std::array<CpRange, 87> kHardTerminators = {{
    {0x037E, 0x037E}, {0x0589, 0x0589}, {0x061D, 0x061F}, {0x06D4, 0x06D4}, {0x0700, 0x0702},
    {0x07F9, 0x07F9}, {0x0837, 0x0837}, {0x0839, 0x0839}, {0x083D, 0x083E}, {0x0964, 0x0965},
    {0x104A, 0x104B}, {0x1362, 0x1362}, {0x1367, 0x1368}, {0x166E, 0x166E}, {0x1735, 0x1736},
    {0x17D4, 0x17D5}, {0x1803, 0x1803}, {0x1809, 0x1809}, {0x1944, 0x1945}, {0x1AA8, 0x1AAB},
    {0x1B4E, 0x1B4F}, {0x1B5A, 0x1B5B}, {0x1B5E, 0x1B5F}, {0x1B7D, 0x1B7F}, {0x1C3B, 0x1C3C},
    {0x1C7E, 0x1C7F}, {0x2024, 0x2024}, {0x203C, 0x203D}, {0x2047, 0x2049}, {0x2CF9, 0x2CFB},
    {0x2E2E, 0x2E2E}, {0x2E3C, 0x2E3C}, {0x2E53, 0x2E54}, {0x2E60, 0x2E61}, {0x3002, 0x3002},
    {0xA4FF, 0xA4FF}, {0xA60E, 0xA60F}, {0xA6F3, 0xA6F3}, {0xA6F7, 0xA6F7}, {0xA876, 0xA877},
    {0xA8CE, 0xA8CF}, {0xA92F, 0xA92F}, {0xA9C8, 0xA9C9}, {0xAA5D, 0xAA5F}, {0xAAF0, 0xAAF1},
    {0xABEB, 0xABEB}, {0xFE12, 0xFE12}, {0xFE15, 0xFE16}, {0xFE52, 0xFE52}, {0xFE56, 0xFE57},
    {0xFF01, 0xFF01}, {0xFF0E, 0xFF0E}, {0xFF1F, 0xFF1F}, {0xFF61, 0xFF61}, {0x10A56, 0x10A57},
    {0x10F55, 0x10F59}, {0x10F86, 0x10F89}, {0x11047, 0x11048}, {0x110BE, 0x110C1},
    {0x11141, 0x11143}, {0x111C5, 0x111C6}, {0x111CD, 0x111CD}, {0x111DE, 0x111DF},
    {0x11238, 0x11239}, {0x1123B, 0x1123C}, {0x112A9, 0x112A9}, {0x113D4, 0x113D5},
    {0x1144B, 0x1144C}, {0x115C2, 0x115C3}, {0x115C9, 0x115D7}, {0x11641, 0x11642},
    {0x1173C, 0x1173E}, {0x11944, 0x11944}, {0x11946, 0x11946}, {0x11A42, 0x11A43},
    {0x11A9B, 0x11A9C}, {0x11C41, 0x11C42}, {0x11EF7, 0x11EF8}, {0x11F43, 0x11F44},
    {0x16A6E, 0x16A6F}, {0x16AF5, 0x16AF5}, {0x16B37, 0x16B38}, {0x16B44, 0x16B44},
    {0x16D6E, 0x16D6F}, {0x16E98, 0x16E98}, {0x1BC9F, 0x1BC9F}, {0x1DA88, 0x1DA88}
}};

// The 64-code-point blocks below U+10000 that hold a hard terminator: most letters
// (Latin, Cyrillic, Devanagari, kana, CJK ideographs, Hangul, ...) are rejected by one
// bit test before the search.
constexpr std::array<uint64_t, 16> kTerminatorBlocks = [] {
  std::array<uint64_t, 16> m{};
  for (const auto& r : kHardTerminators)
    for (char32_t b = r.lo >> 6; b <= (r.hi >> 6) && b < 1024; ++b) m[b >> 6] |= uint64_t{1} << (b & 63);
  return m;
}();

// The bit test of is_hard_terminator, inlined into the scan: false means "not one".
inline bool maybe_hard_terminator(char32_t cp) noexcept {
  return cp >= 0x037E && (cp >= 0x10000 || ((kTerminatorBlocks[cp >> 12] >> ((cp >> 6) & 63)) & 1));
}

bool is_closer(char32_t cp) noexcept {
  switch (cp) {
    case '"': case '\'': case ')': case ']': case '*': case '_':
    case 0x201D: case 0x2019: case 0x00BB:                            // ” ’ »
    case 0x300D: case 0x300F: case 0xFF09: case 0x3011: case 0x3015:  // 」 』 ） 】 〕
    case 0x3009: case 0x300B:                                         // 〉 》
      return true;
    default:
      return false;
  }
}

// Han, kana and CJK punctuation: every character is a word boundary.
bool is_cjk(char32_t cp) noexcept {
  return (cp >= 0x3040 && cp <= 0x30FF) || (cp >= 0x3400 && cp <= 0x4DBF) || (cp >= 0x4E00 && cp <= 0x9FFF) ||
         (cp >= 0xF900 && cp <= 0xFAFF) || (cp >= 0x20000 && cp <= 0x3134F) || (cp >= 0x3000 && cp <= 0x303F) ||
         (cp >= 0xFF00 && cp <= 0xFF0F);
}

bool is_lowercase_start(char32_t cp) noexcept {
  if (cp < 0x80) return cp >= 'a' && cp <= 'z';
  // Georgian Mkhedruli and Nuskhuri are Ll since Unicode 11, but Georgian prose has no
  // capitals at sentence starts: a lowercase letter there says nothing.
  if ((cp >= 0x10D0 && cp <= 0x10FF) || (cp >= 0x2D00 && cp <= 0x2D2F)) return false;
  const uint8_t c = unicode::classify(cp);
  // Ll has the "lower" bit only; Lo/Lm (uncased letters) have both bits.
  return (c & unicode::kLetter) && (c & unicode::kLower) && !(c & unicode::kUpper);
}

// Abbreviations after which a single `.` does not end a sentence. Titles and the like
// are matched with their capital; the rest in lowercase.
constexpr std::array<std::string_view, 38> kAbbreviations = {
    "Mr", "Mrs", "Ms", "Dr", "Prof", "Sr", "Jr", "St", "Mt", "Gen", "Col", "Lt", "Sgt",
    "Capt", "Rev", "Hon", "Inc", "Ltd", "Co", "Corp", "No", "Nos", "Fig", "Figs", "Vol", "Eq",
    "vs", "etc", "cf", "al", "approx", "dept", "pp", "ca", "viz", "resp", "Ph", "Jan"};
constexpr std::array<std::string_view, 11> kMonths = {"Feb", "Mar", "Apr", "Jun", "Jul", "Aug",
                                                      "Sep", "Sept", "Oct", "Nov", "Dec"};

bool is_abbreviation(std::string_view w) noexcept {
  if (w.empty()) return false;
  if (w.find('.') != std::string_view::npos) return true;  // U.S. e.g. i.e.
  if (w.size() == 1 && w[0] >= 'A' && w[0] <= 'Z') return true;  // an initial
  for (auto a : kAbbreviations)
    if (a == w) return true;
  for (auto a : kMonths)
    if (a == w) return true;
  return false;
}

}  // namespace

bool is_hard_terminator(char32_t cp) noexcept {
  if (!maybe_hard_terminator(cp)) return false;
  const auto it = std::upper_bound(kHardTerminators.begin(), kHardTerminators.end(), cp,
                                   [](char32_t c, const CpRange& r) { return c < r.lo; });
  return it != kHardTerminators.begin() && cp <= std::prev(it)->hi;
}

char32_t code_point_at(std::string_view text, std::size_t pos) noexcept {
  if (pos >= text.size()) return 0;
  unsigned len = 0;
  return utf8::decode(bytes(text) + pos, &len);
}

char32_t code_point_before(std::string_view text, std::size_t pos) noexcept {
  if (pos == 0) return 0;
  std::size_t p = pos - 1;
  while (p > 0 && utf8::is_continuation(bytes(text)[p])) --p;
  return code_point_at(text, p);
}

bool is_space(char32_t cp) noexcept {
  if (cp < 0x80) return cp == ' ' || (cp >= '\t' && cp <= '\r') || (cp >= 0x1C && cp <= 0x1F);
  return is_space_above_ascii(cp);
}

bool continues_cluster(char32_t cp) noexcept {
  if (cp < 0x300) return false;
  if (cp == 0x200D || (cp >= 0xFE00 && cp <= 0xFE0F) || (cp >= 0x1F3FB && cp <= 0x1F3FF) ||
      (cp >= 0xE0020 && cp <= 0xE007F) || (cp >= 0xE0100 && cp <= 0xE01EF))
    return true;
  return (unicode::classify(cp) & unicode::kMark) != 0;
}

std::size_t skip_space(std::string_view text, std::size_t pos) noexcept {
  const auto* p = bytes(text);
  while (pos < text.size()) {
    if (p[pos] < 0x80) {
      if (!is_space(p[pos])) return pos;
      ++pos;
      continue;
    }
    unsigned len = 0;
    const char32_t cp = utf8::decode(p + pos, &len);
    if (!is_space(cp)) return pos;
    pos += len;
  }
  return text.size();
}

std::size_t trim_back(std::string_view text, std::size_t floor, std::size_t pos) noexcept {
  const auto* p = bytes(text);
  while (pos > floor) {
    if (p[pos - 1] < 0x80) {
      if (!is_space(p[pos - 1])) return pos;
      --pos;
      continue;
    }
    std::size_t q = pos - 1;
    while (q > floor && utf8::is_continuation(p[q])) --q;
    unsigned len = 0;
    if (!is_space(utf8::decode(p + q, &len))) return pos;
    pos = q;
  }
  return floor;
}

void scan_line(std::string_view text, std::size_t begin, std::size_t end, bool sentences,
               std::vector<Boundary>& out) {
  const auto* p = bytes(text);
  bool prev_space = true;  // the line starts with content (callers pass trimmed lines)
  std::size_t i = begin;
  while (i < end) {
    const unsigned char c = p[i];
    char32_t cp = c;
    unsigned len = 1;
    if (c >= 0x80) cp = utf8::decode(p + i, &len);
    if (c < 0x80 ? ascii_space(c) : is_space_above_ascii(cp)) {
      if (!prev_space) add_boundary(out, i, kWord);
      prev_space = true;
      i += len;
      continue;
    }
    if (sentences && (c == '.' || c == '!' || c == '?' || cp == 0x2026)) {
      // A run of terminators, then closing quotes and brackets.
      std::size_t j = i;
      bool single_period = true;
      std::size_t count = 0;
      while (j < end) {
        unsigned l = 1;
        const char32_t x = p[j] < 0x80 ? p[j] : utf8::decode(p + j, &l);
        if (x == '.' || x == '!' || x == '?' || x == 0x2026) {
          single_period &= x == '.';
          ++count;
          j += l;
        } else {
          break;
        }
      }
      single_period &= count == 1;
      while (j < end) {
        unsigned l = 1;
        const char32_t x = p[j] < 0x80 ? p[j] : utf8::decode(p + j, &l);
        if (!is_closer(x)) break;
        j += l;
      }
      // A backslash that ends the line is a markdown hard line break: markup, not text.
      const bool hard_break = j < end && p[j] == '\\' && j + 1 == end;
      const bool space_after = j >= end || hard_break || is_space(code_point_at(text, j));
      bool ends = space_after;
      if (ends && single_period) {
        std::size_t k = i;
        while (k > begin && i - k < 48 && !ascii_space(p[k - 1])) --k;
        while (k < i && (p[k] == '(' || p[k] == '[' || p[k] == '"' || p[k] == '\'')) ++k;
        ends = !is_abbreviation(text.substr(k, i - k));
      }
      if (ends) {
        const std::size_t next = skip_space(text, j);
        if (next < text.size() && next - j < 256 && is_lowercase_start(code_point_at(text, next))) ends = false;
      }
      if (ends) add_boundary(out, hard_break ? j + 1 : j, kSentence);
      prev_space = false;
      i = j;
      continue;
    }
    if (c >= 0x80) {
      if (sentences && maybe_hard_terminator(cp) && is_hard_terminator(cp)) {
        std::size_t j = i + len;
        while (j < end) {
          unsigned l = 1;
          const char32_t x = p[j] < 0x80 ? p[j] : utf8::decode(p + j, &l);
          if (!is_closer(x) && !is_hard_terminator(x)) break;
          j += l;
        }
        if (j < end) add_boundary(out, j, kSentence);
        prev_space = false;
        i = j;
        continue;
      }
      if (is_cjk(cp) && !prev_space && i > begin) add_boundary(out, i, kWord);
      // A zero-width space separates words in Thai, Lao, Khmer and Burmese text.
      if (cp == 0x200B && i + len < end) {
        add_boundary(out, i + len, kWord);
        prev_space = true;
        i += len;
        continue;
      }
    }
    prev_space = false;
    i += len;
  }
}

}  // namespace covekit::segment
