#include "covekit/segment.hpp"

#include <algorithm>
#include <array>

#include "covekit/unicode.hpp"
#include "covekit/utf8.hpp"

namespace covekit::segment {

namespace {

const unsigned char* bytes(std::string_view s) noexcept { return reinterpret_cast<const unsigned char*>(s.data()); }

bool ascii_space(unsigned char c) noexcept { return c == ' ' || (c >= '\t' && c <= '\r'); }

// Sentence ends that need no whitespace after them.
bool is_hard_terminator(char32_t cp) noexcept {
  switch (cp) {
    case 0x3002:  // 。
    case 0xFF01:  // ！
    case 0xFF1F:  // ？
    case 0xFF61:  // ｡
    case 0x0964:  // । danda
    case 0x0965:  // ॥
    case 0x061F:  // ؟ Arabic question mark
    case 0x06D4:  // ۔ Arabic full stop
    case 0x0589:  // ։ Armenian full stop
    case 0x1362:  // ። Ethiopic full stop
    case 0x104B:  // ။ Myanmar section
    case 0x17D4:  // ។ Khmer sign khan
      return true;
    default:
      return false;
  }
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
  // Python's str.isspace() also counts U+001C..U+001F and U+0085; the tables give White_Space.
  return cp == 0x85 || unicode::is_space(cp);
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
    if (c < 0x80 ? ascii_space(c) : is_space(cp)) {
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
      const bool space_after = j >= end || is_space(code_point_at(text, j));
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
      if (ends) add_boundary(out, j, kSentence);
      prev_space = false;
      i = j;
      continue;
    }
    if (c >= 0x80) {
      if (sentences && is_hard_terminator(cp)) {
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
    }
    prev_space = false;
    i += len;
  }
}

}  // namespace covekit::segment
