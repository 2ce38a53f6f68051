// covekit's own JSON values: a strict RFC 8259 parser that keeps numbers of any size and
// reports the byte offset, line and column of a fault; rendering; number semantics
// (equality, multipleOf) shared by every adapter.
#include <charconv>
#include <cmath>
#include <cstring>
#include <string>

#include "covekit/errors.hpp"
#include "covekit/json_schema.hpp"
#include "covekit/json_schema_eval.hpp"
#include "covekit/utf8.hpp"

namespace covekit {

namespace json_schema_detail {

bool decimal_parts(std::string_view t, std::string& digits, int64_t& exp10, bool& negative) {
  digits.clear();
  exp10 = 0;
  negative = false;
  std::size_t i = 0;
  if (i < t.size() && t[i] == '-') {
    negative = true;
    ++i;
  }
  for (; i < t.size() && t[i] >= '0' && t[i] <= '9'; ++i) digits += t[i];
  if (i < t.size() && t[i] == '.') {
    for (++i; i < t.size() && t[i] >= '0' && t[i] <= '9'; ++i) {
      digits += t[i];
      --exp10;
    }
  }
  if (i < t.size() && (t[i] == 'e' || t[i] == 'E')) {
    ++i;
    bool neg = false;
    if (i < t.size() && (t[i] == '+' || t[i] == '-')) neg = t[i++] == '-';
    int64_t e = 0;
    for (; i < t.size() && t[i] >= '0' && t[i] <= '9'; ++i) e = std::min<int64_t>(e * 10 + (t[i] - '0'), 1'000'000'000);
    exp10 += neg ? -e : e;
  }
  if (i != t.size()) return false;
  // strip leading zeros and trailing zeros (into the exponent)
  std::size_t lead = digits.find_first_not_of('0');
  if (lead == std::string::npos) {
    digits = "0";
    exp10 = 0;
    return true;
  }
  digits = digits.substr(lead);
  while (digits.size() > 1 && digits.back() == '0') {
    digits.pop_back();
    ++exp10;
  }
  return true;
}

bool decimal_is_integer(std::string_view t) {
  std::string digits;
  int64_t e = 0;
  bool neg = false;
  if (!decimal_parts(t, digits, e, neg)) return false;
  return e >= 0 || digits == "0";
}

}  // namespace json_schema_detail

const JsonValue* JsonValue::find(std::string_view key) const noexcept {
  for (const auto& [k, v] : members)
    if (k == key) return &v;
  return nullptr;
}

namespace {

class Parser {
 public:
  Parser(std::string_view text, std::size_t max_depth) : s_(text), max_depth_(max_depth) {}

  JsonValue parse() {
    JsonValue v;
    ws();
    value(v, 0);
    ws();
    if (i_ != s_.size()) fail("unexpected data after the JSON value");
    return v;
  }

 private:
  [[noreturn]] void fail(const std::string& what) const {
    std::size_t line = 1, col = 1;
    for (std::size_t k = 0; k < i_ && k < s_.size(); ++k) {
      if (s_[k] == '\n') {
        ++line;
        col = 1;
      } else {
        ++col;
      }
    }
    throw InvalidJSON("invalid JSON: " + what + " at line " + std::to_string(line) + ", column " + std::to_string(col) +
                          " (byte offset " + std::to_string(i_) + ")",
                      i_, line, col);
  }

  void ws() {
    while (i_ < s_.size() && (s_[i_] == ' ' || s_[i_] == '\t' || s_[i_] == '\n' || s_[i_] == '\r')) ++i_;
  }

  bool lit(const char* word) {
    const std::size_t n = std::strlen(word);
    if (s_.compare(i_, n, word) == 0) {
      i_ += n;
      return true;
    }
    return false;
  }

  void value(JsonValue& v, std::size_t depth) {
    if (depth > max_depth_) fail("nesting deeper than " + std::to_string(max_depth_) + " levels");
    if (i_ >= s_.size()) fail(i_ == 0 ? "empty input" : "unexpected end of input");
    const char c = s_[i_];
    if (c == '{') {
      v.kind = JsonValue::Kind::Object;
      ++i_;
      ws();
      if (i_ < s_.size() && s_[i_] == '}') {
        ++i_;
        return;
      }
      for (;;) {
        ws();
        if (i_ >= s_.size() || s_[i_] != '"') fail("expected a string key");
        std::string key;
        string(key);
        ws();
        if (i_ >= s_.size() || s_[i_] != ':') fail("expected ':'");
        ++i_;
        ws();
        v.members.emplace_back(std::move(key), JsonValue{});
        value(v.members.back().second, depth + 1);
        ws();
        if (i_ < s_.size() && s_[i_] == ',') {
          ++i_;
          continue;
        }
        if (i_ < s_.size() && s_[i_] == '}') {
          ++i_;
          return;
        }
        fail("expected ',' or '}'");
      }
    }
    if (c == '[') {
      v.kind = JsonValue::Kind::Array;
      ++i_;
      ws();
      if (i_ < s_.size() && s_[i_] == ']') {
        ++i_;
        return;
      }
      for (;;) {
        ws();
        v.items.emplace_back();
        value(v.items.back(), depth + 1);
        ws();
        if (i_ < s_.size() && s_[i_] == ',') {
          ++i_;
          continue;
        }
        if (i_ < s_.size() && s_[i_] == ']') {
          ++i_;
          return;
        }
        fail("expected ',' or ']'");
      }
    }
    if (c == '"') {
      v.kind = JsonValue::Kind::String;
      string(v.text);
      return;
    }
    if (lit("true")) {
      v.kind = JsonValue::Kind::Bool;
      v.boolean = true;
      return;
    }
    if (lit("false")) {
      v.kind = JsonValue::Kind::Bool;
      return;
    }
    if (lit("null")) return;
    if (c == '-' || (c >= '0' && c <= '9')) {
      number(v);
      return;
    }
    fail("unexpected character");
  }

  void number(JsonValue& v) {
    const std::size_t start = i_;
    if (s_[i_] == '-') ++i_;
    if (i_ >= s_.size() || !(s_[i_] >= '0' && s_[i_] <= '9')) fail("invalid number");
    if (s_[i_] == '0') {
      ++i_;
    } else {
      while (i_ < s_.size() && s_[i_] >= '0' && s_[i_] <= '9') ++i_;
    }
    bool frac = false, exp = false;
    if (i_ < s_.size() && s_[i_] == '.') {
      frac = true;
      ++i_;
      if (i_ >= s_.size() || !(s_[i_] >= '0' && s_[i_] <= '9')) fail("invalid number");
      while (i_ < s_.size() && s_[i_] >= '0' && s_[i_] <= '9') ++i_;
    }
    if (i_ < s_.size() && (s_[i_] == 'e' || s_[i_] == 'E')) {
      exp = true;
      ++i_;
      if (i_ < s_.size() && (s_[i_] == '+' || s_[i_] == '-')) ++i_;
      if (i_ >= s_.size() || !(s_[i_] >= '0' && s_[i_] <= '9')) fail("invalid number");
      while (i_ < s_.size() && s_[i_] >= '0' && s_[i_] <= '9') ++i_;
    }
    set_number(v, s_.substr(start, i_ - start), frac || exp);
  }

  void string(std::string& out) {
    ++i_;  // opening quote
    for (;;) {
      if (i_ >= s_.size()) fail("unterminated string");
      const unsigned char c = static_cast<unsigned char>(s_[i_]);
      if (c == '"') {
        ++i_;
        return;
      }
      if (c < 0x20) fail("control character in a string");
      if (c == '\\') {
        ++i_;
        if (i_ >= s_.size()) fail("unterminated string");
        const char e = s_[i_++];
        switch (e) {
          case '"': out += '"'; break;
          case '\\': out += '\\'; break;
          case '/': out += '/'; break;
          case 'b': out += '\b'; break;
          case 'f': out += '\f'; break;
          case 'n': out += '\n'; break;
          case 'r': out += '\r'; break;
          case 't': out += '\t'; break;
          case 'u': {
            uint32_t cp = hex4();
            if (cp >= 0xD800 && cp <= 0xDBFF) {
              if (s_.compare(i_, 2, "\\u") != 0) fail("lone surrogate escape");
              i_ += 2;
              const uint32_t lo = hex4();
              if (lo < 0xDC00 || lo > 0xDFFF) fail("lone surrogate escape");
              cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
            } else if (cp >= 0xDC00 && cp <= 0xDFFF) {
              fail("lone surrogate escape");
            }
            append_utf8(out, cp);
            break;
          }
          default: --i_; fail("invalid escape");
        }
        continue;
      }
      if (c < 0x80) {
        out += static_cast<char>(c);
        ++i_;
        continue;
      }
      // Multi-byte UTF-8: validate the sequence.
      const std::size_t len = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC0 ? 2 : 0;
      if (len == 0 || i_ + len > s_.size()) fail("invalid UTF-8");
      std::string_view seq = s_.substr(i_, len);
      try {
        utf8::validate(seq);
      } catch (const InvalidUtf8&) {
        fail("invalid UTF-8");
      }
      out.append(seq);
      i_ += len;
    }
  }

  uint32_t hex4() {
    if (i_ + 4 > s_.size()) fail("invalid \\u escape");
    uint32_t cp = 0;
    for (int k = 0; k < 4; ++k) {
      const char h = s_[i_++];
      cp <<= 4;
      if (h >= '0' && h <= '9') cp |= static_cast<uint32_t>(h - '0');
      else if (h >= 'a' && h <= 'f') cp |= static_cast<uint32_t>(h - 'a' + 10);
      else if (h >= 'A' && h <= 'F') cp |= static_cast<uint32_t>(h - 'A' + 10);
      else fail("invalid \\u escape");
    }
    return cp;
  }

  static void append_utf8(std::string& out, uint32_t cp) {
    if (cp < 0x80) {
      out += static_cast<char>(cp);
    } else if (cp < 0x800) {
      out += static_cast<char>(0xC0 | (cp >> 6));
      out += static_cast<char>(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
      out += static_cast<char>(0xE0 | (cp >> 12));
      out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
      out += static_cast<char>(0x80 | (cp & 0x3F));
    } else {
      out += static_cast<char>(0xF0 | (cp >> 18));
      out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
      out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
      out += static_cast<char>(0x80 | (cp & 0x3F));
    }
  }

  std::string_view s_;
  std::size_t max_depth_;
  std::size_t i_ = 0;

 public:
  // Sets a number from its JSON text: exact int64 when it fits, else a double; whole
  // values (1.0, 1e3, 10^30) are integers.
  static void set_number(JsonValue& v, std::string_view t, bool has_frac_or_exp) {
    v.kind = JsonValue::Kind::Number;
    v.number = std::strtod(std::string(t).c_str(), nullptr);
    if (!has_frac_or_exp) {
      int64_t i = 0;
      auto r = std::from_chars(t.data(), t.data() + t.size(), i);
      if (r.ec == std::errc() && r.ptr == t.data() + t.size()) {
        v.i64 = i;
        v.exact = true;
        v.integer = true;
        return;
      }
      v.integer = true;  // beyond 64 bits
      v.text = std::string(t);
      return;
    }
    v.integer = json_schema_detail::decimal_is_integer(t);
    if (v.integer && std::fabs(v.number) < 9.2e18) {
      v.i64 = static_cast<int64_t>(v.number);
      v.exact = true;
    }
    // Keep the digits whenever a double cannot hold the value exactly enough.
    if (!std::isfinite(v.number) || std::fabs(v.number) >= 9.2e18 || (v.integer && !v.exact) ||
        (!v.integer && std::floor(v.number) == v.number))
      v.text = std::string(t);
  }
};

void render(std::string& out, const JsonValue& v) {
  using json_schema_detail::append_json_string;
  switch (v.kind) {
    case JsonValue::Kind::Null: out += "null"; break;
    case JsonValue::Kind::Bool: out += v.boolean ? "true" : "false"; break;
    case JsonValue::Kind::Number:
      if (!v.text.empty()) out += v.text;
      else if (v.exact) out += std::to_string(v.i64);
      else json_schema_detail::append_double(out, v.number);
      break;
    case JsonValue::Kind::String: append_json_string(out, v.text); break;
    case JsonValue::Kind::Array:
      out += '[';
      for (std::size_t i = 0; i < v.items.size(); ++i) {
        if (i) out += ',';
        render(out, v.items[i]);
      }
      out += ']';
      break;
    case JsonValue::Kind::Object:
      out += '{';
      for (std::size_t i = 0; i < v.members.size(); ++i) {
        if (i) out += ',';
        append_json_string(out, v.members[i].first);
        out += ':';
        render(out, v.members[i].second);
      }
      out += '}';
      break;
  }
}

}  // namespace

JsonValue parse_json_value(std::string_view text, std::size_t max_depth) {
  return Parser(text, max_depth).parse();
}

std::string to_json(const JsonValue& v) {
  std::string s;
  render(s, v);
  return s;
}

namespace json_schema_detail {

std::size_t count_code_points(std::string_view s) noexcept {
  std::size_t n = 0;
  for (char c : s) n += (static_cast<unsigned char>(c) & 0xC0) != 0x80;
  return n;
}

bool number_equal(double a, bool a_exact, int64_t a_i, double b, bool b_exact, int64_t b_i) noexcept {
  if (a_exact && b_exact) return a_i == b_i;
  const long double x = a_exact ? static_cast<long double>(a_i) : static_cast<long double>(a);
  const long double y = b_exact ? static_cast<long double>(b_i) : static_cast<long double>(b);
  return x == y;
}

namespace {

__extension__ typedef unsigned __int128 u128;

// Digits of a number in its shortest decimal form.
std::string decimal_text(double d, bool exact, int64_t i, std::string_view text) {
  if (!text.empty()) return std::string(text);
  if (exact) return std::to_string(i);
  char buf[40];
  auto r = std::to_chars(buf, buf + sizeof buf, d);
  return std::string(buf, r.ptr);
}

// value / divisor is a whole number, computed on the decimal digits: value = V * 10^a,
// divisor = D * 10^b with D < 2^63. -1 when the digits are out of reach (the caller falls
// back to floating point).
int exact_multiple(const std::string& value, const std::string& divisor) {
  std::string vd, dd;
  int64_t a = 0, b = 0;
  bool vn = false, dn = false;
  if (!decimal_parts(value, vd, a, vn) || !decimal_parts(divisor, dd, b, dn)) return -1;
  if (vd == "0") return 1;
  if (dd.size() > 18) return -1;
  u128 d = 0;
  for (char c : dd) d = d * 10 + static_cast<unsigned>(c - '0');
  if (d == 0) return -1;
  // value/divisor = (V / D) * 10^(a-b)
  int64_t shift = a - b;
  // shift < 0: V would have to be divisible by D * 10^-shift, but V has no trailing zeros.
  if (shift < 0) return 0;
  if (shift > 100000) return -1;
  u128 r = 0;
  for (char c : vd) r = (r * 10 + static_cast<unsigned>(c - '0')) % d;
  for (int64_t k = 0; k < shift && r != 0; ++k) r = (r * 10) % d;
  return r == 0 ? 1 : 0;
}

}  // namespace

bool is_multiple_of(double value, bool v_exact, int64_t v_i, const JsonValue& divisor, std::string_view v_text) noexcept {
  if (v_exact && divisor.exact && divisor.i64 != 0) return v_i % divisor.i64 == 0;
  try {
    const int exact = exact_multiple(decimal_text(value, v_exact, v_i, v_text),
                                     decimal_text(divisor.number, divisor.exact, divisor.i64, divisor.text));
    if (exact >= 0) return exact == 1;
  } catch (...) {  // allocation failure: fall back to floating point
  }
  const double d = divisor.number;
  if (!std::isfinite(value)) return false;
  const double q = value / d;
  if (!std::isfinite(q)) return false;
  const double r = std::round(q);
  if (q == r) return true;
  // Decimal divisors such as 0.0001 are not exact in binary: accept a quotient within a
  // few ulps of a whole number (0.0075 / 0.0001 = 75.00000000000001).
  return std::fabs(q - r) <= 1e-9 * std::max(1.0, std::fabs(q)) && std::fabs(q) < 1e15;
}

}  // namespace json_schema_detail

// Exposed for the simdjson fallback and the bindings.
void json_set_number(JsonValue& v, std::string_view text, bool has_frac_or_exp) {
  Parser::set_number(v, text, has_frac_or_exp);
}

}  // namespace covekit
