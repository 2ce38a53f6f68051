// ECMA-262 regular expressions for `pattern`, `patternProperties` and format "regex":
// PCRE2 in UTF mode (\p{...} works; \d and \w stay ASCII as in ECMA-262), compiled once
// with the JIT, with one match-data block per thread. Patterns that are plain text
// ("abc", "^abc", "^abc$") skip the regex engine.
#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include <memory>
#include <stdexcept>
#include <string>

#include "covekit/errors.hpp"
#include "covekit/json_schema.hpp"

namespace covekit::json_schema_detail {

namespace {

bool is_plain(std::string_view s) {
  for (char c : s)
    if (std::string_view("\\^$.|?*+()[]{}").find(c) != std::string_view::npos) return false;
  return true;
}

// ECMA-262 spells Unicode properties with long names (\p{Letter}, \p{Script=Greek});
// PCRE2 10.42 wants the short ones (\p{L}, \p{Greek}).
std::string property_name(std::string_view name) {
  static const std::pair<std::string_view, std::string_view> kGeneral[] = {
      {"Letter", "L"}, {"Cased_Letter", "L&"}, {"Uppercase_Letter", "Lu"}, {"Lowercase_Letter", "Ll"},
      {"Titlecase_Letter", "Lt"}, {"Modifier_Letter", "Lm"}, {"Other_Letter", "Lo"}, {"Mark", "M"},
      {"Combining_Mark", "M"}, {"Nonspacing_Mark", "Mn"}, {"Spacing_Mark", "Mc"}, {"Enclosing_Mark", "Me"},
      {"Number", "N"}, {"Decimal_Number", "Nd"}, {"digit", "Nd"}, {"Letter_Number", "Nl"}, {"Other_Number", "No"},
      {"Punctuation", "P"}, {"punct", "P"}, {"Connector_Punctuation", "Pc"}, {"Dash_Punctuation", "Pd"},
      {"Open_Punctuation", "Ps"}, {"Close_Punctuation", "Pe"}, {"Initial_Punctuation", "Pi"},
      {"Final_Punctuation", "Pf"}, {"Other_Punctuation", "Po"}, {"Symbol", "S"}, {"Math_Symbol", "Sm"},
      {"Currency_Symbol", "Sc"}, {"Modifier_Symbol", "Sk"}, {"Other_Symbol", "So"}, {"Separator", "Z"},
      {"Space_Separator", "Zs"}, {"Line_Separator", "Zl"}, {"Paragraph_Separator", "Zp"}, {"Other", "C"},
      {"Control", "Cc"}, {"cntrl", "Cc"}, {"Format", "Cf"}, {"Surrogate", "Cs"}, {"Private_Use", "Co"},
      {"Unassigned", "Cn"}};
  for (std::string_view prefix : {"General_Category=", "gc=", "Script=", "sc="}) {
    if (name.substr(0, prefix.size()) == prefix) {
      name.remove_prefix(prefix.size());
      break;
    }
  }
  for (const auto& [longname, shortname] : kGeneral)
    if (name == longname) return std::string(shortname);
  return std::string(name);
}

std::string translate(const std::string& pattern) {
  std::string out;
  out.reserve(pattern.size());
  bool in_class = false;
  for (std::size_t i = 0; i < pattern.size(); ++i) {
    const char c = pattern[i];
    if (!in_class && c == '[') {
      // ECMA-262's empty classes: [] matches nothing, [^] any character.
      if (pattern.compare(i, 2, "[]") == 0) {
        out += "(?!)";
        ++i;
        continue;
      }
      if (pattern.compare(i, 3, "[^]") == 0) {
        out += "[\\s\\S]";
        i += 2;
        continue;
      }
      in_class = true;
    } else if (in_class && c == ']') {
      in_class = false;
    }
    if (c != '\\' || i + 1 >= pattern.size()) {
      out += c;
      continue;
    }
    const char e = pattern[i + 1];
    if ((e == 'p' || e == 'P') && i + 2 < pattern.size() && pattern[i + 2] == '{') {
      const std::size_t close = pattern.find('}', i + 3);
      if (close != std::string::npos) {
        out += '\\';
        out += e;
        out += '{';
        out += property_name(std::string_view(pattern).substr(i + 3, close - i - 3));
        out += '}';
        i = close;
        continue;
      }
    }
    out += c;
    out += e;
    ++i;
  }
  return out;
}

struct MatchData {
  pcre2_match_data* data = pcre2_match_data_create(1, nullptr);
  ~MatchData() { pcre2_match_data_free(data); }
};

pcre2_match_data* thread_match_data() {
  thread_local MatchData md;
  if (!md.data) throw std::bad_alloc();
  return md.data;
}

}  // namespace

Regex::Regex(const std::string& pattern) : pattern_(pattern) {
  if (pattern.empty()) {
    kind_ = Kind::Always;
    return;
  }
  const bool anchored = pattern[0] == '^';
  std::string_view body(pattern);
  if (anchored) body.remove_prefix(1);
  const bool ends = !body.empty() && body.back() == '$';
  std::string_view inner = ends ? body.substr(0, body.size() - 1) : body;
  if (is_plain(inner)) {
    literal_ = std::string(inner);
    kind_ = anchored ? (ends ? Kind::Exact : Kind::Prefix) : (ends ? Kind::Pcre : Kind::Contains);
    if (kind_ != Kind::Pcre) {
      // Still reject what PCRE2 would (nothing, for plain text), and keep the code null.
      return;
    }
  }
  int err = 0;
  PCRE2_SIZE offset = 0;
  const bool simple = anchored && compile_simple(body);
  const uint32_t options = PCRE2_UTF | PCRE2_NO_UTF_CHECK | PCRE2_DOLLAR_ENDONLY | PCRE2_ALT_BSUX |
                           PCRE2_MATCH_UNSET_BACKREF;
  const std::string pcre = translate(pattern);
  pcre2_code* code = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(pcre.data()), pcre.size(), options, &err,
                                   &offset, nullptr);
  if (!code) {
    PCRE2_UCHAR buf[256];
    pcre2_get_error_message(err, buf, sizeof buf);
    throw std::invalid_argument(std::string(reinterpret_cast<const char*>(buf)) + " at offset " +
                                std::to_string(offset) + " of \"" + pattern + "\"");
  }
  pcre2_jit_compile(code, PCRE2_JIT_COMPLETE);  // falls back to the interpreter when JIT is unavailable
  code_ = code;  // compiled even when a simple loop runs it: PCRE2 is the judge of validity
  kind_ = simple ? Kind::Simple : Kind::Pcre;
}

// Parses `body` (the pattern after "^") into atoms, or returns false when the pattern
// needs the regex engine: alternation, groups, '.', negated classes, non-ASCII, lazy
// quantifiers, \s (Unicode in ECMA-262), or a variable repeat followed by something that
// could also match its characters (greedy matching would then be wrong).
bool Regex::compile_simple(std::string_view body) {
  std::vector<Atom> atoms;
  auto add = [](Atom& a, unsigned char c) {
    if (c < 64) a.lo |= uint64_t{1} << c;
    else a.hi |= uint64_t{1} << (c - 64);
  };
  auto add_range = [&](Atom& a, unsigned char x, unsigned char y) {
    for (unsigned c = x; c <= y; ++c) add(a, static_cast<unsigned char>(c));
  };
  auto escape_set = [&](Atom& a, char e) {
    if (e == 'd') {
      add_range(a, '0', '9');
    } else if (e == 'w') {
      add_range(a, '0', '9');
      add_range(a, 'a', 'z');
      add_range(a, 'A', 'Z');
      add(a, '_');
    } else if (std::string_view(".-\\/^$[]{}()*+?|").find(e) != std::string_view::npos) {
      add(a, static_cast<unsigned char>(e));
    } else {
      return false;
    }
    return true;
  };
  std::size_t i = 0;
  anchored_end_ = false;
  while (i < body.size()) {
    const unsigned char c = static_cast<unsigned char>(body[i]);
    if (c >= 0x80) return false;
    Atom a;
    if (c == '$') {
      if (i + 1 != body.size()) return false;
      anchored_end_ = true;
      break;
    }
    if (c == '[') {
      ++i;
      if (i < body.size() && body[i] == '^') return false;
      bool closed = false;
      while (i < body.size()) {
        unsigned char x = static_cast<unsigned char>(body[i]);
        if (x >= 0x80) return false;
        if (x == ']') {
          closed = true;
          ++i;
          break;
        }
        if (x == '\\') {
          if (i + 1 >= body.size() || !escape_set(a, body[i + 1])) return false;
          i += 2;
          continue;
        }
        if (x == '[') return false;
        if (i + 2 < body.size() && body[i + 1] == '-' && body[i + 2] != ']') {
          const unsigned char y = static_cast<unsigned char>(body[i + 2]);
          if (y >= 0x80 || y == '\\' || y < x) return false;
          add_range(a, x, y);
          i += 3;
          continue;
        }
        add(a, x);
        ++i;
      }
      if (!closed || (a.lo == 0 && a.hi == 0)) return false;
    } else if (c == '\\') {
      if (i + 1 >= body.size() || !escape_set(a, body[i + 1])) return false;
      i += 2;
    } else if (std::string_view(".()|*+?{}^]").find(static_cast<char>(c)) != std::string_view::npos) {
      return false;
    } else {
      add(a, c);
      ++i;
    }
    // quantifier
    if (i < body.size()) {
      const char q = body[i];
      if (q == '*' || q == '+' || q == '?') {
        a.min = q == '+' ? 1 : 0;
        a.max = q == '?' ? 1 : UINT32_MAX;
        ++i;
      } else if (q == '{') {
        const std::size_t close = body.find('}', i);
        if (close == std::string_view::npos) return false;
        const std::string_view spec = body.substr(i + 1, close - i - 1);
        const std::size_t comma = spec.find(',');
        auto num = [](std::string_view t, uint32_t& out) {
          if (t.empty() || t.size() > 6) return false;
          out = 0;
          for (char d : t) {
            if (d < '0' || d > '9') return false;
            out = out * 10 + static_cast<uint32_t>(d - '0');
          }
          return true;
        };
        if (comma == std::string_view::npos) {
          if (!num(spec, a.min)) return false;
          a.max = a.min;
        } else {
          if (!num(spec.substr(0, comma), a.min)) return false;
          if (comma + 1 == spec.size()) a.max = UINT32_MAX;
          else if (!num(spec.substr(comma + 1), a.max) || a.max < a.min) return false;
        }
        i = close + 1;
      }
      if (i < body.size() && (body[i] == '?' || body[i] == '*' || body[i] == '+' || body[i] == '{')) return false;
    }
    atoms.push_back(a);
  }
  // Greedy is exact when every variable repeat is followed by an atom that must match at
  // least once and shares no byte with it (or by the end of the pattern).
  for (std::size_t k = 0; k < atoms.size(); ++k) {
    if (atoms[k].min == atoms[k].max) continue;
    if (k + 1 == atoms.size()) continue;
    const Atom& next = atoms[k + 1];
    if (next.min == 0 || (atoms[k].lo & next.lo) || (atoms[k].hi & next.hi)) return false;
  }
  atoms_ = std::move(atoms);
  return true;
}

Regex::~Regex() {
  if (code_) pcre2_code_free(static_cast<pcre2_code*>(code_));
}

bool Regex::search(std::string_view s) const {
  switch (kind_) {
    case Kind::Always: return true;
    case Kind::Contains: return s.find(literal_) != std::string_view::npos;
    case Kind::Prefix: return s.substr(0, literal_.size()) == literal_;
    case Kind::Exact: return s == literal_;
    case Kind::Simple: {
      std::size_t pos = 0;
      for (const Atom& a : atoms_) {
        uint32_t count = 0;
        while (count < a.max && pos < s.size() && a.has(static_cast<unsigned char>(s[pos]))) {
          ++count;
          ++pos;
        }
        if (count < a.min) return false;
      }
      return !anchored_end_ || pos == s.size();
    }
    case Kind::Pcre: break;
  }
  const int rc = pcre2_match(static_cast<const pcre2_code*>(code_), reinterpret_cast<PCRE2_SPTR>(s.data()), s.size(),
                             0, PCRE2_NO_UTF_CHECK, thread_match_data(), nullptr);
  if (rc >= 0) return true;
  if (rc == PCRE2_ERROR_NOMATCH) return false;
  PCRE2_UCHAR buf[256];
  pcre2_get_error_message(rc, buf, sizeof buf);
  throw InvalidInput("regular expression \"" + pattern_ + "\" failed on a string: " +
                     std::string(reinterpret_cast<const char*>(buf)));
}

}  // namespace covekit::json_schema_detail
