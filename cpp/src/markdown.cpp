#include "covekit/markdown.hpp"

#include <algorithm>

namespace covekit::markdown {

namespace {

using segment::add_boundary;
using segment::Boundary;

enum class Kind : uint8_t { kBlank, kProse, kHeading, kList, kTable, kCode, kRule };

struct Line {
  std::size_t begin;    // first byte of the line
  std::size_t first;    // first non-whitespace byte (== last when blank)
  std::size_t last;     // one past the last non-whitespace byte
  std::size_t indent;   // columns of leading whitespace (a tab counts 4)
};

bool is_blank_byte(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f'; }

// ``` or ~~~ (3 or more) with at most 3 columns of indent: returns the fence length.
std::size_t fence_length(std::string_view t, const Line& l, char* fence_char) {
  if (l.indent > 3 || l.first + 3 > l.last) return 0;
  const char c = t[l.first];
  if (c != '`' && c != '~') return 0;
  std::size_t n = 0;
  while (l.first + n < l.last && t[l.first + n] == c) ++n;
  if (n < 3) return 0;
  if (c == '`' && t.substr(l.first + n, l.last - l.first - n).find('`') != std::string_view::npos) return 0;
  *fence_char = c;
  return n;
}

// 1..6 for an ATX heading line, else 0; sets the title span.
int atx_depth(std::string_view t, const Line& l, std::size_t* tb, std::size_t* te) {
  if (l.indent > 3) return 0;
  std::size_t n = 0;
  while (l.first + n < l.last && t[l.first + n] == '#') ++n;
  if (n == 0 || n > 6) return 0;
  const std::size_t after = l.first + n;
  if (after < l.last && t[after] != ' ' && t[after] != '\t') return 0;
  std::size_t b = after, e = l.last;
  while (b < e && is_blank_byte(t[b])) ++b;
  // An optional closing sequence of #s preceded by a space.
  std::size_t k = e;
  while (k > b && t[k - 1] == '#') --k;
  if (k == b) e = b;
  else if (k < e && is_blank_byte(t[k - 1])) e = k;
  while (e > b && is_blank_byte(t[e - 1])) --e;
  *tb = b;
  *te = e;
  return static_cast<int>(n);
}

// A line of only `c` (at least `min` of them) and spaces.
bool only_of(std::string_view t, const Line& l, char c, std::size_t min, bool spaces_inside) {
  if (l.indent > 3) return false;
  std::size_t n = 0;
  for (std::size_t i = l.first; i < l.last; ++i) {
    if (t[i] == c) ++n;
    else if (!(spaces_inside && is_blank_byte(t[i]))) return false;
  }
  return n >= min;
}

bool is_list_item(std::string_view t, const Line& l) {
  std::size_t i = l.first;
  if (i >= l.last) return false;
  if (t[i] == '-' || t[i] == '*' || t[i] == '+') return i + 1 == l.last || t[i + 1] == ' ' || t[i + 1] == '\t';
  std::size_t d = 0;
  while (i + d < l.last && d < 10 && t[i + d] >= '0' && t[i + d] <= '9') ++d;
  if (d == 0 || d > 9 || i + d >= l.last) return false;
  const char m = t[i + d];
  if (m != '.' && m != ')') return false;
  return i + d + 1 == l.last || t[i + d + 1] == ' ' || t[i + d + 1] == '\t';
}

}  // namespace

Structure analyze(std::string_view t, bool md) {
  Structure s;
  s.boundaries.reserve(t.size() / 5 + 16);
  std::size_t content_end = 0;        // one past the last content byte seen
  bool any_content = false;
  uint8_t pending = segment::kNone;   // strongest break seen since the last content line
  Kind prev = Kind::kBlank;
  std::size_t para_first = 0;         // first content byte of the current prose paragraph
  std::size_t para_boundary = SIZE_MAX;  // index of the boundary before it
  std::size_t list_indent = 0;        // indent of the first item of the current list
  bool in_fence = false;
  bool fence_gap = false;  // a blank line since the last line of code
  char fence_char = 0;
  std::size_t fence_len = 0;

  uint8_t floor_level = 0;            // after a heading: the next boundary is no stronger than this
  auto boundary_before = [&](uint8_t level) -> std::size_t {
    if (!any_content) return SIZE_MAX;
    const uint8_t lv = std::max(std::min(level, pending), floor_level);
    floor_level = 0;
    add_boundary(s.boundaries, content_end, lv);
    return s.boundaries.size() - 1;
  };

  std::size_t pos = 0;
  const std::size_t n = t.size();
  while (pos < n) {
    std::size_t eol = t.find('\n', pos);
    if (eol == std::string_view::npos) eol = n;
    Line l{pos, pos, eol, 0};
    while (l.first < eol && is_blank_byte(t[l.first])) {
      l.indent += t[l.first] == '\t' ? 4 : 1;
      ++l.first;
    }
    // Trailing whitespace, including Unicode spaces, is not content.
    l.last = segment::trim_back(t, l.first, eol);
    const std::size_t next_pos = eol < n ? eol + 1 : n;
    const bool blank = l.first >= l.last || segment::skip_space(t, l.first) >= l.last;
    if (blank) l.first = l.last;

    if (in_fence) {
      char c = 0;
      const std::size_t fl = blank ? 0 : fence_length(t, l, &c);
      if (fl >= fence_len && c == fence_char && segment::skip_space(t, l.first + fl) >= l.last) {
        in_fence = false;
        boundary_before(segment::kSubItem);
        content_end = l.last;
        pending = segment::kBlock;
        prev = Kind::kBlank;
      } else if (!blank) {
        // Inside code, a blank line parts blocks (functions, paragraphs of a listing):
        // a stronger place to cut than between two lines.
        boundary_before(fence_gap ? segment::kItem : segment::kSubItem);
        fence_gap = false;
        segment::scan_line(t, l.first, l.last, false, s.boundaries);
        content_end = l.last;
      } else {
        fence_gap = true;
      }
      pos = next_pos;
      continue;
    }
    if (blank) {
      pending = std::min<uint8_t>(pending, segment::kBlock);
      prev = Kind::kBlank;
      pos = next_pos;
      continue;
    }

    Kind kind = Kind::kProse;
    uint8_t level = segment::kBlock;
    std::size_t tb = 0, te = 0;
    int depth = 0;
    char c = 0;
    if (md && (depth = atx_depth(t, l, &tb, &te)) > 0) {
      kind = Kind::kHeading;
      level = segment::kSection;
      boundary_before(level);
      s.headings.push_back({static_cast<uint32_t>(l.first), static_cast<uint32_t>(tb), static_cast<uint32_t>(te),
                            static_cast<uint8_t>(depth)});
      segment::scan_line(t, l.first, l.last, false, s.boundaries);
      pending = segment::kBlock;
      floor_level = segment::kSentence;  // a heading sticks to the text under it
    } else if (md && prev == Kind::kProse && (only_of(t, l, '=', 1, false) || only_of(t, l, '-', 1, false))) {
      // Setext underline: the paragraph above is a heading.
      kind = Kind::kHeading;
      if (para_boundary != SIZE_MAX) s.boundaries[para_boundary].level = segment::kSection;
      const std::size_t title_end = content_end;
      s.headings.push_back({static_cast<uint32_t>(para_first), static_cast<uint32_t>(para_first),
                            static_cast<uint32_t>(title_end), static_cast<uint8_t>(t[l.first] == '=' ? 1 : 2)});
      boundary_before(segment::kLine);
      pending = segment::kBlock;
      floor_level = segment::kSentence;
    } else if (md && fence_length(t, l, &c) > 0) {
      kind = Kind::kCode;
      boundary_before(segment::kBlock);
      in_fence = true;
      fence_gap = false;
      fence_char = c;
      fence_len = fence_length(t, l, &c);
      segment::scan_line(t, l.first, l.last, false, s.boundaries);
    } else if (md && (only_of(t, l, '-', 3, true) || only_of(t, l, '*', 3, true) || only_of(t, l, '_', 3, true))) {
      kind = Kind::kRule;
      boundary_before(segment::kBlock);
      pending = segment::kBlock;
    } else if (md && t[l.first] == '|') {
      kind = Kind::kTable;
      boundary_before(prev == Kind::kTable ? segment::kItem : segment::kBlock);
      segment::scan_line(t, l.first, l.last, false, s.boundaries);
    } else if (md && is_list_item(t, l)) {
      kind = Kind::kList;
      if (prev != Kind::kList) list_indent = l.indent;
      boundary_before(l.indent <= list_indent ? segment::kItem : segment::kSubItem);
      segment::scan_line(t, l.first, l.last, true, s.boundaries);
    } else {
      // Prose. A line right after prose or a list item continues it (a soft break).
      const bool continues = (prev == Kind::kProse || prev == Kind::kList) && pending > segment::kBlock;
      const std::size_t bi = boundary_before(continues ? segment::kLine : segment::kBlock);
      if (prev != Kind::kProse || !continues) {
        para_first = l.first;
        para_boundary = bi;
      }
      kind = prev == Kind::kList && continues ? Kind::kList : Kind::kProse;
      segment::scan_line(t, l.first, l.last, true, s.boundaries);
    }
    if (kind != Kind::kHeading && kind != Kind::kRule) pending = segment::kNone;
    content_end = l.last;
    any_content = true;
    prev = kind;
    pos = next_pos;
  }
  return s;
}

}  // namespace covekit::markdown
