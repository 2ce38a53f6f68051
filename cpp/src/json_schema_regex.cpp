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
  for (std::size_t i = 0; i < pattern.size(); ++i) {
    const char c = pattern[i];
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
  code_ = code;
  kind_ = Kind::Pcre;
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
