// Audited JSON repair: a tolerant recursive-descent reader (depth bounded by
// Options::max_depth) that writes compact JSON and records every change it makes.
// Valid JSON never reaches it: simdjson validates first and the input is returned as is.
#include "covekit/json_repair.hpp"

#include <simdjson.h>

#include <algorithm>
#include <charconv>
#include <cstdint>
#include <initializer_list>
#include <string>
#include <unordered_set>
#include <utility>

#include "covekit/errors.hpp"
#include "covekit/utf8.hpp"

namespace covekit::json_repair {

namespace {

// A refusal found while reading; becomes a RepairProblem (offsets in bytes until then).
struct Fail {
  const char* kind;
  std::size_t start;
  std::size_t end;
  std::string message;
};

struct RawRepair {
  const char* kind;
  std::size_t start;
  std::size_t end;
  std::string message;
  bool lossless;
};

constexpr bool is_ws(unsigned char c) noexcept { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }
constexpr bool is_digit(unsigned char c) noexcept { return c >= '0' && c <= '9'; }
constexpr bool is_word(unsigned char c) noexcept {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || is_digit(c) || c == '_' || c == '$';
}
constexpr bool is_hex(unsigned char c) noexcept {
  return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

// U+201C “ U+201D ” U+2018 ‘ U+2019 ’ (E2 80 9C / 9D / 98 / 99).
enum class Smart { kNone, kDoubleOpen, kDoubleClose, kSingleOpen, kSingleClose };

Smart smart_at(std::string_view in, std::size_t p) noexcept {
  if (p + 3 > in.size()) return Smart::kNone;
  if (static_cast<unsigned char>(in[p]) != 0xE2 || static_cast<unsigned char>(in[p + 1]) != 0x80) return Smart::kNone;
  switch (static_cast<unsigned char>(in[p + 2])) {
    case 0x9C: return Smart::kDoubleOpen;
    case 0x9D: return Smart::kDoubleClose;
    case 0x98: return Smart::kSingleOpen;
    case 0x99: return Smart::kSingleClose;
    default: return Smart::kNone;
  }
}

// Concatenation in one allocation: messages are made on the hot path of small repairs.
std::string cat(std::initializer_list<std::string_view> parts) {
  std::size_t n = 0;
  for (const auto p : parts) n += p.size();
  std::string out;
  out.reserve(n);
  for (const auto p : parts) out.append(p);
  return out;
}

// `s` in backquotes, cut at `limit` bytes (on a character boundary) with "...".
std::string quoted(std::string_view s, std::size_t limit = 40) {
  if (s.size() <= limit) return cat({"`", s, "`"});
  std::size_t cut = limit;
  while (cut > 0 && utf8::is_continuation(static_cast<unsigned char>(s[cut]))) --cut;
  return cat({"`", s.substr(0, cut), "...`"});
}

void append_utf8(std::string& out, uint32_t cp) {
  if (cp < 0x80) {
    out.push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out.push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

uint32_t hex4(std::string_view s) noexcept {
  uint32_t v = 0;
  for (char ch : s.substr(0, 4)) {
    const auto c = static_cast<unsigned char>(ch);
    v = v * 16 + (is_digit(c) ? c - '0' : (c | 0x20) - 'a' + 10);
  }
  return v;
}

// Decodes the body of a JSON string this reader wrote (valid escapes only) to UTF-8
// (lone surrogates as their 3-byte form), for comparing keys.
std::string decode_key(std::string_view body) {
  std::string out;
  out.reserve(body.size());
  for (std::size_t i = 0; i < body.size(); ++i) {
    if (body[i] != '\\') {
      out.push_back(body[i]);
      continue;
    }
    const char e = body[++i];
    switch (e) {
      case 'b': out.push_back('\b'); break;
      case 'f': out.push_back('\f'); break;
      case 'n': out.push_back('\n'); break;
      case 'r': out.push_back('\r'); break;
      case 't': out.push_back('\t'); break;
      case 'u': {
        uint32_t cp = hex4(body.substr(i + 1));
        i += 4;
        if (cp >= 0xD800 && cp < 0xDC00 && i + 6 < body.size() && body.substr(i + 1, 2) == "\\u") {
          const uint32_t lo = hex4(body.substr(i + 3));
          if (lo >= 0xDC00 && lo < 0xE000) {
            cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
            i += 6;
          }
        }
        append_utf8(out, cp);
        break;
      }
      default: out.push_back(e); break;  // \" \\ \/
    }
  }
  return out;
}

// The keys of one object, for duplicate detection: a linear scan while small.
class KeySet {
 public:
  // Adds `key`; returns false if it was already there.
  bool insert(std::string key) {
    if (small_.empty()) small_.reserve(16);
    if (set_.empty() && small_.size() < 16) {
      for (const auto& k : small_)
        if (k == key) return false;
      small_.push_back(std::move(key));
      return true;
    }
    if (set_.empty()) set_.insert(small_.begin(), small_.end());
    return set_.insert(std::move(key)).second;
  }

 private:
  std::vector<std::string> small_;
  std::unordered_set<std::string> set_;
};

class Reader {
 public:
  Reader(std::string_view in, std::size_t pos, std::size_t max_depth) : in_(in), n_(in.size()), pos_(pos), max_depth_(max_depth) {
    // The repaired text is about as long as the rest of the input: one allocation for a
    // typical model output (capped: a candidate bracket in long prose may fail at once).
    out_.reserve(std::min<std::size_t>(n_ - pos, 4096) + 8);
    repairs_.reserve(8);
  }

  // Reads one object or array at pos (the caller checked the bracket).
  void top() {
    first_token_ = pos_ + 1;
    while (first_token_ < n_ && is_ws(static_cast<unsigned char>(in_[first_token_]))) ++first_token_;
    value(0);
  }

  std::size_t pos() const noexcept { return pos_; }
  std::size_t first_token() const noexcept { return first_token_; }
  std::string& out() noexcept { return out_; }
  std::vector<RawRepair>& repairs() noexcept { return repairs_; }

 private:
  std::string_view in_;
  std::size_t n_;
  std::size_t pos_;
  std::size_t max_depth_;
  std::size_t first_token_ = 0;
  std::string out_;
  std::vector<RawRepair> repairs_;

  unsigned char at(std::size_t p) const noexcept { return static_cast<unsigned char>(in_[p]); }
  bool eof() const noexcept { return pos_ >= n_; }
  std::size_t char_len(std::size_t p) const noexcept {
    const unsigned char b = at(p);
    return b < 0xC0 ? 1 : b < 0xE0 ? 2 : b < 0xF0 ? 3 : 4;
  }

  void add(const char* kind, std::size_t s, std::size_t e, std::string msg, bool lossless) {
    repairs_.push_back({kind, s, e, std::move(msg), lossless});
  }
  [[noreturn]] static void fail(const char* kind, std::size_t s, std::size_t e, std::string msg) {
    throw Fail{kind, s, e, std::move(msg)};
  }

  // Whitespace and comments (// ..., /* ... */, # ...), each comment recorded.
  void skip_ws() {
    for (;;) {
      while (pos_ < n_ && is_ws(at(pos_))) ++pos_;
      if (pos_ >= n_) return;
      const unsigned char c = at(pos_);
      const std::size_t s = pos_;
      if ((c == '/' && pos_ + 1 < n_ && in_[pos_ + 1] == '/') || c == '#') {
        const std::size_t nl = in_.find('\n', pos_);
        pos_ = nl == std::string_view::npos ? n_ : nl;
        add("comment", s, pos_, c == '#' ? "removed a # comment" : "removed a // comment", true);
      } else if (c == '/' && pos_ + 1 < n_ && in_[pos_ + 1] == '*') {
        const std::size_t e = in_.find("*/", pos_ + 2);
        pos_ = e == std::string_view::npos ? n_ : e + 2;
        add("comment", s, pos_,
            e == std::string_view::npos ? "removed a /* comment cut off at the end" : "removed a /* */ comment", true);
      } else {
        return;
      }
    }
  }

  bool starts_string(std::size_t p) const noexcept {
    const unsigned char c = at(p);
    return c == '"' || c == '\'' || smart_at(in_, p) != Smart::kNone;
  }
  bool starts_key(std::size_t p) const noexcept { return starts_string(p) || is_word(at(p)); }
  bool starts_value(std::size_t p) const noexcept {
    const unsigned char c = at(p);
    return c == '{' || c == '[' || c == '-' || starts_key(p);
  }

  void value(std::size_t depth) {
    const unsigned char c = at(pos_);
    if (c == '{') return object(depth + 1);
    if (c == '[') return array(depth + 1);
    if (starts_string(pos_)) return string(false);
    if (c == '-' || is_digit(c)) return number();
    if (is_word(c)) return word();
    if (c == ',' || c == '}' || c == ']') fail("missing_value", pos_, pos_ + 1, "a value is missing before " + quoted(in_.substr(pos_, char_len(pos_))));
    if (c == '+' || c == '.') number_error(pos_);
    fail("unexpected_character", pos_, pos_ + 1, "unexpected " + quoted(in_.substr(pos_, char_len(pos_))) + " where a value was expected");
  }

  void enter(std::size_t depth, std::size_t s) const {
    if (depth > max_depth_)
      fail("nesting_too_deep", s, s + 1,
           "nesting deeper than " + std::to_string(max_depth_) + " levels; pass a larger max_depth if it is intended");
  }

  void truncated_container(bool object, std::size_t open, bool after_comma, std::size_t comma) {
    if (after_comma) add("trailing_comma", comma, comma + 1, "removed a trailing comma", true);
    // Built in one allocation: documents cut off at max_tokens are the common repair.
    char num[24];
    const char* end = std::to_chars(num, num + sizeof num, open).ptr;
    add("truncated_container", n_, n_,
        cat({object ? "closed an object" : "closed an array", " cut off at the end (opened at byte ",
             std::string_view(num, static_cast<std::size_t>(end - num)), ")"}),
        false);
    out_.push_back(object ? '}' : ']');
  }

  void object(std::size_t depth) {
    const std::size_t open = pos_;
    enter(depth, open);
    ++pos_;
    out_.push_back('{');
    KeySet keys;
    std::size_t members = 0, comma = 0;
    bool after_comma = false;
    for (;;) {
      skip_ws();
      if (eof()) return truncated_container(true, open, after_comma, comma);
      const unsigned char c = at(pos_);
      if (c == '}') {
        if (after_comma) add("trailing_comma", comma, comma + 1, "removed a trailing comma", true);
        ++pos_;
        out_.push_back('}');
        return;
      }
      if (c == ']') fail("mismatched_bracket", pos_, pos_ + 1, "`]` closes an object opened at byte " + std::to_string(open));
      if (members > 0 && !after_comma) {
        if (c == ',') {
          after_comma = true;
          comma = pos_++;
          continue;
        }
        if (!starts_key(pos_)) fail("unexpected_character", pos_, pos_ + 1, "unexpected " + quoted(in_.substr(pos_, char_len(pos_))) + " after an object member");
        add("missing_comma", pos_, pos_, "inserted a missing comma between object members", true);
      } else if (c == ',') {
        add("extra_comma", pos_, pos_ + 1, "removed a comma with no member before it", true);
        ++pos_;
        continue;
      }
      if (members > 0) out_.push_back(',');
      const std::size_t ks = pos_;
      const std::size_t key_out = out_.size();
      if (starts_string(pos_)) {
        string(true);
      } else if (is_word(c)) {
        while (pos_ < n_ && (is_word(at(pos_)) || at(pos_) == '-' || at(pos_) == '.')) ++pos_;
        add("unquoted_key", ks, pos_, cat({"quoted the key ", quoted(in_.substr(ks, pos_ - ks))}), true);
        out_.push_back('"');
        out_.append(in_.substr(ks, pos_ - ks));
        out_.push_back('"');
      } else {
        fail("unexpected_character", pos_, pos_ + 1, "unexpected " + quoted(in_.substr(pos_, char_len(pos_))) + " where a key was expected");
      }
      const std::string_view key_json = std::string_view(out_).substr(key_out + 1, out_.size() - key_out - 2);
      if (!keys.insert(decode_key(key_json)))
        fail("duplicate_key", ks, pos_,
             "duplicate key " + quoted(in_.substr(ks, pos_ - ks)) + ": which value is meant cannot be known");
      const std::size_t ke = pos_;
      skip_ws();
      if (eof())
        fail("truncated_member", ks, n_, "the key " + quoted(in_.substr(ks, ke - ks)) + " has no value (the text is cut off)");
      if (at(pos_) == ':') {
        ++pos_;
      } else if (at(pos_) == ',' || at(pos_) == '}') {
        fail("missing_value", ks, pos_, "the key " + quoted(in_.substr(ks, ke - ks)) + " has no value");
      } else if (starts_value(pos_)) {
        add("missing_colon", pos_, pos_, "inserted a missing colon after the key", true);
      } else {
        fail("unexpected_character", pos_, pos_ + 1, "unexpected " + quoted(in_.substr(pos_, char_len(pos_))) + " after a key");
      }
      out_.push_back(':');
      skip_ws();
      if (eof())
        fail("truncated_member", ks, n_, "the key " + quoted(in_.substr(ks, ke - ks)) + " has no value (the text is cut off)");
      if (at(pos_) == ',' || at(pos_) == '}')
        fail("missing_value", ks, pos_ + 1, "the key " + quoted(in_.substr(ks, ke - ks)) + " has no value");
      value(depth);
      ++members;
      after_comma = false;
    }
  }

  void array(std::size_t depth) {
    const std::size_t open = pos_;
    enter(depth, open);
    ++pos_;
    out_.push_back('[');
    std::size_t count = 0, comma = 0;
    bool after_comma = false;
    for (;;) {
      skip_ws();
      if (eof()) return truncated_container(false, open, after_comma, comma);
      const unsigned char c = at(pos_);
      if (c == ']') {
        if (after_comma) add("trailing_comma", comma, comma + 1, "removed a trailing comma", true);
        ++pos_;
        out_.push_back(']');
        return;
      }
      if (c == '}') fail("mismatched_bracket", pos_, pos_ + 1, "`}` closes an array opened at byte " + std::to_string(open));
      if (count > 0 && !after_comma) {
        if (c == ',') {
          after_comma = true;
          comma = pos_++;
          continue;
        }
        if (!starts_value(pos_)) fail("unexpected_character", pos_, pos_ + 1, "unexpected " + quoted(in_.substr(pos_, char_len(pos_))) + " after an array element");
        add("missing_comma", pos_, pos_, "inserted a missing comma between array elements", true);
      } else if (c == ',') {
        fail("missing_value", pos_, pos_ + 1, "an array element is missing before this comma");
      }
      if (count > 0) out_.push_back(',');
      value(depth);
      ++count;
      after_comma = false;
    }
  }

  // Whether the quote at p (of `len` bytes) closes the string: it is followed, after
  // spaces, by the end, a separator, a bracket, another string, or a comment.
  bool closes(std::size_t p, std::size_t len) const noexcept {
    std::size_t j = p + len;
    while (j < n_ && is_ws(at(j))) ++j;
    if (j >= n_) return true;
    const unsigned char c = at(j);
    if (c == ',' || c == ':' || c == '}' || c == ']' || c == '"' || c == '\'' || c == '#') return true;
    if (c == '/' && j + 1 < n_ && (in_[j + 1] == '/' || in_[j + 1] == '*')) return true;
    if (smart_at(in_, j) != Smart::kNone) return true;
    if (j == p + len) return false;
    // After a space: a value that follows with its comma missing (a number, a bracket,
    // a literal), not a word of text.
    if (is_digit(c) || c == '-' || c == '{' || c == '[') return true;
    std::size_t e = j;
    while (e < n_ && is_word(at(e))) ++e;
    const std::string_view w = in_.substr(j, e - j);
    if (w == "true" || w == "false" || w == "null" || w == "True" || w == "False" || w == "None") return true;
    // ... or an unquoted key and its colon.
    while (e < n_ && (at(e) == ' ' || at(e) == '\t')) ++e;
    return !w.empty() && e < n_ && at(e) == ':';
  }

  void string(bool key) {
    const std::size_t s = pos_;
    const unsigned char c = at(pos_);
    const Smart smart = smart_at(in_, pos_);
    const bool dbl = c == '"';
    const bool sgl = c == '\'';
    const std::size_t open_len = smart != Smart::kNone ? 3 : 1;
    pos_ += open_len;
    out_.push_back('"');
    for (;;) {
      // Copy a run of ordinary bytes.
      const std::size_t run = pos_;
      while (pos_ < n_) {
        const unsigned char b = at(pos_);
        if (b == '\\' || b < 0x20 || b == '"' || b == '\'' || b == 0xE2) break;
        ++pos_;
      }
      out_.append(in_.substr(run, pos_ - run));
      if (eof()) {
        if (key) fail("truncated_key", s, n_, "a key cut off at the end has no value");
        add("truncated_string", s, n_, "closed a string cut off at the end", false);
        out_.push_back('"');
        return;
      }
      const unsigned char b = at(pos_);
      if (b == '\\') {
        if (pos_ + 1 >= n_) {  // a lone backslash cut off at the end
          pos_ = n_;
          continue;
        }
        const char e = in_[pos_ + 1];
        if (e == '"' || e == '\\' || e == '/' || e == 'b' || e == 'f' || e == 'n' || e == 'r' || e == 't') {
          out_.append(in_.substr(pos_, 2));
          pos_ += 2;
        } else if (e == 'u') {
          std::size_t h = 0;
          while (h < 4 && pos_ + 2 + h < n_ && is_hex(at(pos_ + 2 + h))) ++h;
          if (h == 4) {
            out_.append(in_.substr(pos_, 6));
            pos_ += 6;
          } else if (pos_ + 2 + h >= n_) {  // cut off inside the escape: drop it
            pos_ = n_;
          } else {
            add("invalid_escape", pos_, pos_ + 2 + h, "kept the backslash of an incomplete \\u escape as a character", false);
            out_.append("\\\\");
            ++pos_;
          }
        } else if (e == '\'') {
          if (!sgl) add("escaped_apostrophe", pos_, pos_ + 2, "read \\' as an apostrophe", true);
          out_.push_back('\'');
          pos_ += 2;
        } else {
          add("invalid_escape", pos_, pos_ + 2,
              "kept the backslash of " + quoted(in_.substr(pos_, utf8::is_continuation(at(pos_ + 1)) ? 1 : 2)) +
                  ", which starts no JSON escape, as a character",
              false);
          out_.append("\\\\");
          ++pos_;
        }
        continue;
      }
      if (b < 0x20) {
        static constexpr char kHex[] = "0123456789abcdef";
        switch (b) {
          case '\n': out_.append("\\n"); break;
          case '\r': out_.append("\\r"); break;
          case '\t': out_.append("\\t"); break;
          case '\b': out_.append("\\b"); break;
          case '\f': out_.append("\\f"); break;
          default:
            out_.append("\\u00");
            out_.push_back(kHex[b >> 4]);
            out_.push_back(kHex[b & 15]);
        }
        add("control_character", pos_, pos_ + 1, "escaped a raw control character in a string", true);
        ++pos_;
        continue;
      }
      if (b == 0xE2) {
        const Smart q = smart_at(in_, pos_);
        const bool match = (smart == Smart::kDoubleOpen || smart == Smart::kDoubleClose)
                               ? (q == Smart::kDoubleOpen || q == Smart::kDoubleClose)
                               : (smart != Smart::kNone && (q == Smart::kSingleOpen || q == Smart::kSingleClose));
        if (match && (key || pos_ == s + 3 || closes(pos_, 3))) {
          add("smart_quotes", s, pos_ + 3, "replaced typographic quotes around a string", true);
          pos_ += 3;
          out_.push_back('"');
          return;
        }
        out_.push_back(static_cast<char>(b));
        ++pos_;
        continue;
      }
      // b is " or '
      if ((b == '"' && dbl) || (b == '\'' && sgl)) {
        if (key || pos_ == s + 1 || closes(pos_, 1)) {
          if (sgl) add("single_quotes", s, pos_ + 1, "replaced single quotes around a string", true);
          ++pos_;
          out_.push_back('"');
          return;
        }
        if (dbl) {
          add("unescaped_quote", pos_, pos_ + 1, "escaped a quote inside a string (read as text, not as the end)", false);
          out_.append("\\\"");
        } else {
          out_.push_back('\'');
        }
        ++pos_;
        continue;
      }
      if (b == '"') out_.append("\\\"");
      else out_.push_back('\'');
      ++pos_;
    }
  }

  [[noreturn]] void number_error(std::size_t s) {
    std::size_t e = pos_;
    while (e < n_ && (is_word(at(e)) || at(e) == '.' || at(e) == '+' || at(e) == '-')) ++e;
    if (e == s) e = s + 1;
    fail("invalid_number", s, e, quoted(in_.substr(s, e - s)) + " is not a JSON number and has no unambiguous reading");
  }

  void number() {
    const std::size_t s = pos_;
    if (at(pos_) == '-') {
      ++pos_;
      if (pos_ < n_ && (at(pos_) == 'I' || at(pos_) == 'i' || at(pos_) == 'N' || at(pos_) == 'n')) {
        std::size_t e = pos_;
        while (e < n_ && is_word(at(e))) ++e;
        const std::string_view w = in_.substr(pos_, e - pos_);
        if (w == "Infinity" || w == "inf" || w == "Inf" || w == "infinity" || w == "NaN" || w == "nan")
          fail("non_finite_number", s, e, quoted(in_.substr(s, e - s)) + " has no JSON form (JSON numbers are finite)");
        number_error(s);
      }
    }
    auto digits = [&] {
      while (pos_ < n_ && is_digit(at(pos_))) ++pos_;
    };
    auto need_digit = [&] {
      if (eof()) fail("truncated_number", s, n_, "a number cut off at the end: " + quoted(in_.substr(s)));
      if (!is_digit(at(pos_))) number_error(s);
    };
    need_digit();
    if (at(pos_) == '0') {
      ++pos_;
      if (pos_ < n_ && is_digit(at(pos_))) number_error(s);
    } else {
      digits();
    }
    if (pos_ < n_ && at(pos_) == '.') {
      ++pos_;
      need_digit();
      digits();
    }
    if (pos_ < n_ && (at(pos_) == 'e' || at(pos_) == 'E')) {
      ++pos_;
      if (pos_ < n_ && (at(pos_) == '+' || at(pos_) == '-')) ++pos_;
      need_digit();
      digits();
    }
    if (eof())
      fail("truncated_number", s, n_,
           "the number " + quoted(in_.substr(s)) + " ends the text, so it may be cut off (its digits are unknown)");
    if (is_word(at(pos_))) number_error(s);
    out_.append(in_.substr(s, pos_ - s));
  }

  void word() {
    const std::size_t s = pos_;
    while (pos_ < n_ && is_word(at(pos_))) ++pos_;
    const std::string_view w = in_.substr(s, pos_ - s);
    if (w == "true" || w == "false" || w == "null") {
      out_.append(w);
      return;
    }
    static constexpr std::pair<std::string_view, std::string_view> kPython[] = {
        {"True", "true"}, {"False", "false"}, {"None", "null"}};
    for (const auto& [py, js] : kPython) {
      if (w == py) {
        add("python_literal", s, pos_, cat({"replaced the Python literal ", py, " by ", js}), true);
        out_.append(js);
        return;
      }
    }
    static constexpr std::string_view kNonFinite[] = {"NaN", "nan", "Infinity", "infinity", "inf", "Inf"};
    for (const auto nf : kNonFinite)
      if (w == nf) fail("non_finite_number", s, pos_, quoted(w) + " has no JSON form (JSON numbers are finite)");
    if (w == "undefined") fail("undefined_value", s, pos_, "`undefined` has no JSON form; use null if that is meant");
    if (eof()) {
      // A literal cut off at the end: complete it when exactly one reading exists.
      static constexpr std::pair<std::string_view, std::string_view> kAll[] = {
          {"true", "true"}, {"false", "false"}, {"null", "null"}, {"True", "true"}, {"False", "false"},
          {"None", "null"}, {"NaN", ""},        {"nan", ""},      {"Infinity", ""}, {"infinity", ""},
          {"inf", ""},      {"Inf", ""},        {"undefined", ""}};
      std::string_view only;
      int matches = 0;
      for (const auto& [lit, js] : kAll)
        if (lit.starts_with(w)) {
          ++matches;
          only = js;
        }
      if (matches == 1 && !only.empty()) {
        add("truncated_literal", s, pos_, cat({"completed ", quoted(w), " cut off at the end to ", only}), false);
        out_.append(only);
        return;
      }
    }
    fail("unquoted_value", s, pos_,
         "unquoted text " + quoted(w) + " where a value was expected; whether it is a string cannot be known");
  }
};

struct Found {
  std::size_t start;
  std::size_t end;
  std::string text;
  std::vector<RawRepair> repairs;
};

// The position just inside the first code fence that opens an object or array, or npos.
std::size_t fenced_start(std::string_view in, std::size_t from) {
  std::size_t f = in.find("```", from);
  while (f != std::string_view::npos) {
    std::size_t p = f + 3;
    while (p < in.size() && is_word(static_cast<unsigned char>(in[p]))) ++p;  // a language tag
    while (p < in.size() && is_ws(static_cast<unsigned char>(in[p]))) ++p;
    if (p < in.size() && (in[p] == '{' || in[p] == '[')) return p;
    f = in.find("```", f + 3);
  }
  return std::string_view::npos;
}

class Extractor {
 public:
  Extractor(std::string_view in, const Options& o) : in_(in), o_(o) {}

  // The next JSON object or array at or after `from`. A candidate bracket that fails
  // at its first token is prose ("see [1]", "{name}") and skipped; a later failure is a
  // refusal and is thrown when `raise`, else ends the search.
  bool next(std::size_t from, bool raise, Found& found) {
    std::size_t fenced = fenced_start(in_, from);
    std::size_t cand = from;
    bool tried_fence = false;
    for (;;) {
      std::size_t p;
      if (!tried_fence && fenced != std::string_view::npos) {
        p = fenced;
        tried_fence = true;
      } else {
        p = in_.find_first_of("{[", cand);
        if (p == std::string_view::npos) return false;
        cand = p + 1;
        if (p == fenced) continue;
      }
      Reader r(in_, p, o_.max_depth);
      try {
        r.top();
      } catch (Fail& f) {
        if (f.start <= r.first_token() && !looks_like_json(p, r.first_token())) continue;
        if (!raise) return false;
        throw;
      }
      found = Found{p, r.pos(), std::move(r.out()), std::move(r.repairs())};
      return true;
    }
  }

 private:
  std::string_view in_;
  const Options& o_;

  // Whether the first token at p of the object or array opened at `open` is JSON-like
  // (for an object: a quoted key; for an array: a string, number, bracket or literal,
  // NaN and friends included). A bracket whose first token is not is prose.
  bool looks_like_json(std::size_t open, std::size_t p) const noexcept {
    if (p >= in_.size()) return false;
    const auto c = static_cast<unsigned char>(in_[p]);
    if (in_[open] == '{') return c == '"' || c == '\'' || smart_at(in_, p) != Smart::kNone;
    if (c == '"' || c == '\'' || c == '{' || c == '[' || c == '-' || c == ',' || is_digit(c) ||
        smart_at(in_, p) != Smart::kNone)
      return true;
    std::size_t e = p;
    while (e < in_.size() && is_word(static_cast<unsigned char>(in_[e]))) ++e;
    static constexpr std::string_view kLiterals[] = {"true", "false", "null", "True", "False", "None", "NaN",
                                                     "nan",  "Infinity", "infinity", "inf", "Inf", "undefined"};
    const std::string_view w = in_.substr(p, e - p);
    return std::find(std::begin(kLiterals), std::end(kLiterals), w) != std::end(kLiterals);
  }
};

// Records code fences and prose in the gap [a, b) between values.
void classify_gap(std::string_view in, std::size_t a, std::size_t b, std::vector<RawRepair>& out) {
  std::size_t prose_start = std::string_view::npos, prose_end = 0;
  std::size_t p = a;
  while (p < b) {
    const auto c = static_cast<unsigned char>(in[p]);
    if (is_ws(c)) {
      ++p;
      continue;
    }
    if (in.substr(p, 3) == "```" && p + 3 <= b) {
      std::size_t e = p + 3;
      while (e < b && is_word(static_cast<unsigned char>(in[e]))) ++e;
      out.push_back({"code_fence", p, e, "removed a ``` code fence" + std::string(e > p + 3 ? " and its language tag" : ""), true});
      p = e;
      continue;
    }
    if (prose_start == std::string_view::npos) prose_start = p;
    ++p;
    prose_end = p;
  }
  if (prose_start != std::string_view::npos)
    out.push_back({"extracted_from_prose", prose_start, prose_end, "dropped text around the JSON", true});
}

// simdjson validation plus what RFC 8259 only recommends: unique keys, and nesting
// within max_depth.
bool clean(simdjson::dom::element e, std::size_t depth, std::size_t max_depth) {
  using T = simdjson::dom::element_type;
  if (e.type() == T::ARRAY) {
    if (depth + 1 > max_depth) return false;
    simdjson::dom::array arr;
    if (e.get_array().get(arr) != simdjson::SUCCESS) return false;
    for (auto v : arr)
      if (!clean(v, depth + 1, max_depth)) return false;
  } else if (e.type() == T::OBJECT) {
    if (depth + 1 > max_depth) return false;
    KeySet keys;
    simdjson::dom::object obj;
    if (e.get_object().get(obj) != simdjson::SUCCESS) return false;
    for (auto field : obj) {
      if (!keys.insert(std::string(field.key))) return false;
      if (!clean(field.value, depth + 1, max_depth)) return false;
    }
  }
  return true;
}

bool valid_json(std::string_view text, std::size_t max_depth) {
  if (text.size() > (std::size_t{1} << 31)) return false;
  simdjson::dom::element doc;
  if (text.size() > (std::size_t{16} << 20)) {  // do not keep a big buffer per thread
    simdjson::dom::parser big;
    if (big.parse(text.data(), text.size(), true).get(doc) != simdjson::SUCCESS) return false;
    return clean(doc, 0, max_depth);
  }
  thread_local simdjson::dom::parser parser;
  if (parser.parse(text.data(), text.size(), true).get(doc) != simdjson::SUCCESS) return false;
  return clean(doc, 0, max_depth);
}

bool json_number(std::string_view s) noexcept {
  std::size_t i = 0;
  if (i < s.size() && s[i] == '-') ++i;
  auto digits = [&] {
    const std::size_t from = i;
    while (i < s.size() && is_digit(static_cast<unsigned char>(s[i]))) ++i;
    return i > from;
  };
  if (i < s.size() && s[i] == '0') {
    ++i;
  } else if (!digits()) {
    return false;
  }
  if (i < s.size() && s[i] == '.' && (++i, !digits())) return false;
  if (i < s.size() && (s[i] == 'e' || s[i] == 'E')) {
    ++i;
    if (i < s.size() && (s[i] == '+' || s[i] == '-')) ++i;
    if (!digits()) return false;
  }
  return i == s.size();
}

// Valid JSON scalars that simdjson declines: integers beyond 64 bits, strings with
// escaped lone surrogates.
// A necessary condition for valid JSON, from its first and last non-space characters:
// most model outputs that need a repair (prose, fences, quotes, truncation) fail it, and
// then the full validation is skipped.
bool may_be_json(std::string_view text) noexcept {
  std::size_t a = 0, b = text.size();
  while (a < b && is_ws(static_cast<unsigned char>(text[a]))) ++a;
  while (b > a && is_ws(static_cast<unsigned char>(text[b - 1]))) --b;
  if (a == b) return false;
  constexpr std::string_view kFirst = "{[\"-0123456789tfn", kLast = "}]\"0123456789el";
  return kFirst.find(text[a]) != std::string_view::npos && kLast.find(text[b - 1]) != std::string_view::npos;
}

bool valid_scalar(std::string_view text, std::size_t max_depth) {
  std::size_t a = 0, b = text.size();
  while (a < b && is_ws(static_cast<unsigned char>(text[a]))) ++a;
  while (b > a && is_ws(static_cast<unsigned char>(text[b - 1]))) --b;
  if (a == b || text[a] == '{' || text[a] == '[') return false;
  if (json_number(text.substr(a, b - a))) return true;
  if (text[a] != '"') return false;
  Reader r(text.substr(0, b), a, max_depth);
  try {
    r.top();
  } catch (const Fail&) {
    return false;
  }
  return r.repairs().empty() && r.pos() == b;
}

// Byte offsets -> code point offsets, in one pass over the text.
class CodePoints {
 public:
  explicit CodePoints(std::string_view in) : in_(in) {}
  std::size_t operator()(std::size_t byte) {
    if (byte < byte_) {
      byte_ = 0;
      cp_ = 0;
    }
    for (; byte_ < byte && byte_ < in_.size(); ++byte_)
      if (!utf8::is_continuation(static_cast<unsigned char>(in_[byte_]))) ++cp_;
    return cp_;
  }

 private:
  std::string_view in_;
  std::size_t byte_ = 0;
  std::size_t cp_ = 0;
};

[[noreturn]] void refuse(std::string_view in, std::vector<RawRepair> problems, const char* lead) {
  std::vector<RepairProblem> out;
  CodePoints cp(in);
  for (auto& p : problems) {
    const std::size_t s = cp(p.start);
    out.push_back({p.kind, s, std::max(s, cp(p.end)), std::move(p.message)});
  }
  const auto& first = out.front();
  std::string what = std::string(lead) + first.kind + " at " + std::to_string(first.start) + ": " + first.message;
  if (out.size() > 1) what += " (and " + std::to_string(out.size() - 1) + " more)";
  throw RepairError(what, std::move(out));
}

}  // namespace

bool is_lossless_kind(std::string_view kind) noexcept {
  static constexpr std::string_view kLossless[] = {
      "extracted_from_prose", "code_fence",   "trailing_comma", "extra_comma",    "single_quotes",
      "smart_quotes",         "unquoted_key", "comment",        "python_literal", "missing_comma",
      "missing_colon",        "control_character", "escaped_apostrophe"};
  return std::find(std::begin(kLossless), std::end(kLossless), kind) != std::end(kLossless);
}

Result repair(std::string_view text, const Options& options) {
  utf8::validate(text);
  Result result;
  if (may_be_json(text) && (valid_json(text, options.max_depth) || valid_scalar(text, options.max_depth))) {
    if (options.multiple == Multiple::kAll) {
      result.text.reserve(text.size() + 2);
      result.text.append("[").append(text).append("]");
    } else {
      result.text.assign(text);
      result.unchanged = true;
    }
    return result;
  }
  Extractor ex(text, options);
  std::vector<Found> values;
  Found f;
  try {
    if (!ex.next(0, true, f)) {
      refuse(text, {{"no_json", 0, text.size(), "no JSON object or array was found in the text", false}},
             "cannot repair this JSON: ");
    }
    values.push_back(std::move(f));
    const bool all = options.multiple == Multiple::kAll;
    while (ex.next(values.back().end, all, f)) values.push_back(std::move(f));
  } catch (Fail& fail) {
    refuse(text, {{fail.kind, fail.start, fail.end, std::move(fail.message), false}}, "cannot repair this JSON: ");
  }

  std::vector<RawRepair> raw;
  std::size_t count = 4;  // and a few for the gaps
  for (const auto& v : values) count += v.repairs.size() + 1;
  raw.reserve(count);
  std::size_t gap = 0;
  for (std::size_t i = 0; i < values.size(); ++i) {
    auto& v = values[i];
    classify_gap(text, gap, v.start, raw);
    if (i > 0 && options.multiple == Multiple::kFirst) {
      raw.push_back({"extra_values_dropped", v.start, v.end, "dropped a further JSON value (multiple=\"first\")", false});
    } else {
      for (auto& r : v.repairs) raw.push_back(std::move(r));
    }
    gap = v.end;
  }
  classify_gap(text, gap, text.size(), raw);
  // Stable, by start. A model output has a handful of repairs: insertion sort, with no
  // temporary buffer (std::stable_sort allocates one even for two elements).
  const auto by_start = [](const RawRepair& a, const RawRepair& b) { return a.start < b.start; };
  if (raw.size() <= 32) {
    for (std::size_t i = 1; i < raw.size(); ++i) {
      if (!by_start(raw[i], raw[i - 1])) continue;
      RawRepair x = std::move(raw[i]);
      std::size_t j = i;
      for (; j > 0 && by_start(x, raw[j - 1]); --j) raw[j] = std::move(raw[j - 1]);
      raw[j] = std::move(x);
    }
  } else {
    std::stable_sort(raw.begin(), raw.end(), by_start);
  }

  if (options.strict) {
    std::vector<RawRepair> lossy;
    for (auto& r : raw)
      if (!r.lossless) lossy.push_back(r);
    if (!lossy.empty()) refuse(text, std::move(lossy), "strict mode refuses a repair that is not lossless: ");
  }

  if (options.multiple == Multiple::kAll) {
    std::size_t total = 2;
    for (const auto& v : values) total += v.text.size() + 1;
    result.text.reserve(total);
    result.text.push_back('[');
    for (std::size_t i = 0; i < values.size(); ++i) {
      if (i) result.text.push_back(',');
      result.text.append(values[i].text);
    }
    result.text.push_back(']');
  } else if (raw.empty()) {
    // Valid JSON that simdjson declined (an integer beyond 64 bits, an escaped lone
    // surrogate): the input stands as written.
    result.text.assign(text);
    result.unchanged = true;
  } else {
    result.text = std::move(values.front().text);
  }
  CodePoints cp(text);
  result.repairs.reserve(raw.size());
  for (auto& r : raw) {
    const std::size_t s = cp(r.start);
    const std::size_t e = std::max(s, cp(r.end));
    result.repairs.push_back({r.kind, s, e, r.start, r.end, std::move(r.message), r.lossless});
  }
  return result;
}

}  // namespace covekit::json_repair
