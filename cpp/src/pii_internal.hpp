// Internals of the PII scanner shared by pii.cpp (the pass, numbers, resolution) and
// pii_rules.cpp (the other matchers): the byte class table and the pass state.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

#include "covekit/pii.hpp"

namespace covekit::pii::detail {

inline constexpr uint8_t kDigit = 1, kUpper = 2, kLower = 4, kUnder = 8, kHexC = 16, kPunct = 32;
inline constexpr uint8_t kAlnum = kDigit | kUpper | kLower;
inline constexpr uint8_t kWord = kAlnum | kUnder;

// Per byte: digit, upper, lower, '_', hex digit, or one of the punctuation bytes the
// pass stops at ('@', ':', '=', '+', '(', '-'). Everything else (space, other
// punctuation, non-ASCII) is 0 and skipped.
inline constexpr std::array<uint8_t, 256> kClass = [] {
  std::array<uint8_t, 256> t{};
  for (int c = '0'; c <= '9'; ++c) t[c] = kDigit | kHexC;
  for (int c = 'A'; c <= 'Z'; ++c) t[c] = kUpper;
  for (int c = 'a'; c <= 'z'; ++c) t[c] = kLower;
  for (int c = 'A'; c <= 'F'; ++c) t[c] |= kHexC;
  for (int c = 'a'; c <= 'f'; ++c) t[c] |= kHexC;
  t['_'] = kUnder;
  for (unsigned char c : std::string_view("@:=+(-")) t[c] = kPunct;
  return t;
}();

inline bool is_digit(unsigned char c) { return kClass[c] & kDigit; }
inline bool is_upper(unsigned char c) { return kClass[c] & kUpper; }
inline bool is_alpha(unsigned char c) { return kClass[c] & (kUpper | kLower); }
inline bool is_alnum(unsigned char c) { return kClass[c] & kAlnum; }
inline bool is_word(unsigned char c) { return kClass[c] & kWord; }
inline bool is_hex(unsigned char c) { return kClass[c] & kHexC; }
inline bool is_b64url(unsigned char c) { return (kClass[c] & kWord) || c == '-'; }
inline unsigned char lower(unsigned char c) { return (c >= 'A' && c <= 'Z') ? static_cast<unsigned char>(c + 32) : c; }

struct Group;

struct Pass {
  std::string_view text;
  const unsigned char* p;
  std::size_t n;
  const Config& cfg;
  std::vector<Finding>& out;
  // Where a value may start inside a chain of space-separated digit groups: right after
  // a finding that ends at "<space><digit>" (see numeric). Positions ahead of the pass.
  std::vector<std::size_t> after_finding{};

  [[nodiscard]] unsigned char at(std::size_t i) const { return i < n ? p[i] : 0; }
  [[nodiscard]] bool on(Entity e) const { return cfg.enabled[static_cast<std::size_t>(e)]; }
  [[nodiscard]] bool starts(std::size_t i, std::string_view lit) const {
    return i <= n && n - i >= lit.size() && text.compare(i, lit.size(), lit) == 0;
  }
  // Length of the run of bytes satisfying pred from i (at most `cap`).
  template <class Pred>
  [[nodiscard]] std::size_t run_of(std::size_t i, Pred pred, std::size_t cap = static_cast<std::size_t>(-1)) const {
    std::size_t j = i;
    while (j < n && j - i < cap && pred(p[j])) ++j;
    return j - i;
  }
  // Is one of `words` (lowercase) within the context window before b or after e,
  // starting a word?
  [[nodiscard]] bool context_near(std::size_t b, std::size_t e, std::span<const std::string_view> words,
                                  bool after = true) const;
  [[nodiscard]] bool start_ok(std::size_t s) const;
  [[nodiscard]] bool end_ok(std::size_t e) const;
  // Where the digit group after a number ending at e starts, when a separator joins one
  // to it (" 1", "-1", ".1", ")1", ") 1", ")-1", " (1", "-(1", "(1"); 0 otherwise.
  [[nodiscard]] std::size_t next_group(std::size_t e) const;
  [[nodiscard]] bool follows_finding(std::size_t s);
  void add(Entity e, std::size_t b, std::size_t en, double score, std::string_view rule);

  void run();
  std::size_t word(std::size_t i);
  std::size_t punct(std::size_t i);

  // pii.cpp
  void numeric(std::size_t s);
  void phone(std::size_t s, bool plus, bool open_paren, std::span<const Group> g, std::size_t ext_end);
  // pii_rules.cpp
  void email(std::size_t at_sign);
  [[nodiscard]] bool call_before(std::size_t s) const;
  [[nodiscard]] std::size_t letter2_at(std::size_t i) const;
  [[nodiscard]] std::size_t letter2_before(std::size_t i) const;
  void url_credentials(std::size_t colon);
  void assignment(std::size_t op);
  void hex_address(std::size_t s);
  void aws_or_google(std::size_t s);
  void iban(std::size_t s);
  void jwt(std::size_t s);
  void github(std::size_t s);
  void openai_anthropic(std::size_t s);
  void stripe(std::size_t s);
  void slack(std::size_t s);
  void slack_webhook(std::size_t s);
  std::size_t private_key(std::size_t s);  // returns where the pass resumes (0: next byte)
  [[nodiscard]] bool token_start(std::size_t s) const;  // not after [A-Za-z0-9_-]
};

std::string_view with_context(std::string_view rule, bool ctx);
bool card_iin_ok(std::string_view digits);
void trim_generic_secrets(std::vector<Finding>& found);
// Is a finding next to a byte that may have hidden a value beside it: a letter, digit
// or '_', or one of - . : + / % @ ~ (after it: '(' too, not '/') with more than a space
// beyond?
bool glued(std::string_view text, std::span<const Finding> found);
void resolve(std::vector<Finding>& found);

}  // namespace covekit::pii::detail
