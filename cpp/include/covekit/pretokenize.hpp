// Pre-tokenization: splits text into the pieces that BPE then encodes, exactly as
// tiktoken's split regexes do, by hand-written scanners over the Unicode class tables
// (no regex engine). The three pattern families:
//
//   kR50k  (gpt2, r50k_base, p50k_base, p50k_edit)
//     '(?:[sdmt]|ll|ve|re)| ?\p{L}++| ?\p{N}++| ?[^\s\p{L}\p{N}]++|\s++$|\s+(?!\S)|\s
//   kCl100k (cl100k_base)
//     '(?i:[sdmt]|ll|ve|re)|[^\r\n\p{L}\p{N}]?+\p{L}++|\p{N}{1,3}+| ?[^\s\p{L}\p{N}]++[\r\n]*+
//     |\s++$|\s*[\r\n]|\s+(?!\S)|\s
//   kO200k (o200k_base, o200k_harmony)
//     [^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?
//     |[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?
//     |\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+
//
// Each scanner reproduces the leftmost-first backtracking semantics of its regex
// (comments at each alternative say how). `$` is the end of the text handed in:
// text between special tokens is scanned as its own text, as tiktoken does.
// Input must be valid UTF-8.
#pragma once

#include <cstddef>
#include <string_view>

#include "covekit/unicode.hpp"
#include "covekit/utf8.hpp"

namespace covekit::pretokenize {

enum class Pattern { kR50k, kCl100k, kO200k };

namespace detail {

using unicode::kLetter;
using unicode::kLower;
using unicode::kNumber;
using unicode::kSpace;
using unicode::kUpper;

struct Char {
  char32_t cp;
  uint8_t cls;
  uint8_t len;
};

class Scanner {
 public:
  explicit Scanner(std::string_view text) noexcept
      : p_(reinterpret_cast<const unsigned char*>(text.data())), n_(text.size()) {}

  [[nodiscard]] std::size_t size() const noexcept { return n_; }

  [[nodiscard]] Char at(std::size_t i) const noexcept {
    const unsigned char b = p_[i];
    if (b < 0x80) return {b, unicode::detail::kAscii.v[b], 1};
    unsigned len;
    const char32_t cp = utf8::decode(p_ + i, &len);
    return {cp, unicode::classify(cp), static_cast<uint8_t>(len)};
  }

  // End of the run of characters starting at i whose class has any bit of `mask`.
  [[nodiscard]] std::size_t run_any(std::size_t i, uint8_t mask) const noexcept {
    while (i < n_) {
      const unsigned char b = p_[i];
      if (b < 0x80) {
        if (!(unicode::detail::kAscii.v[b] & mask)) break;
        ++i;
      } else {
        const Char c = at(i);
        if (!(c.cls & mask)) break;
        i += c.len;
      }
    }
    return i;
  }

  // End of the run of "other" characters ([^\s\p{L}\p{N}]) starting at i.
  [[nodiscard]] std::size_t run_other(std::size_t i) const noexcept {
    constexpr uint8_t kLNS = kLetter | kNumber | kSpace;
    while (i < n_) {
      const Char c = at(i);
      if (c.cls & kLNS) break;
      i += c.len;
    }
    return i;
  }

  // Up to three \p{N} characters from i (i must start one).
  [[nodiscard]] std::size_t run_number3(std::size_t i) const noexcept {
    for (int k = 0; k < 3 && i < n_; ++k) {
      const Char c = at(i);
      if (!(c.cls & kNumber)) break;
      i += c.len;
    }
    return i;
  }

  // Characters from i while cp is in `set` (ASCII only).
  template <char32_t... Cs>
  [[nodiscard]] std::size_t run_ascii(std::size_t i) const noexcept {
    while (i < n_) {
      const unsigned char b = p_[i];
      if (!((b == Cs) || ...)) break;
      ++i;
    }
    return i;
  }

  // Length in bytes of a contraction after an apostrophe at i-1, i.e. of
  // [sdmt]|ll|ve|re at i; 0 if none. Case-insensitive matching follows Unicode
  // simple case folding, under which U+017F (long s) also matches 's'.
  template <bool kIgnoreCase>
  [[nodiscard]] std::size_t contraction(std::size_t i) const noexcept {
    if (i >= n_) return 0;
    auto fold = [](unsigned char b) -> unsigned char {
      return kIgnoreCase && b >= 'A' && b <= 'Z' ? static_cast<unsigned char>(b | 0x20) : b;
    };
    const unsigned char a = fold(p_[i]);
    if (a == 's' || a == 'd' || a == 'm' || a == 't') return 1;
    if (kIgnoreCase && a == 0xC5 && i + 1 < n_ && p_[i + 1] == 0xBF) return 2;  // U+017F
    if (i + 1 >= n_) return 0;
    const unsigned char b = fold(p_[i + 1]);
    if ((a == 'l' && b == 'l') || (a == 'v' && b == 'e') || (a == 'r' && b == 'e')) return 2;
    return 0;
  }

  // For a whitespace run [i, end): its end, the start of its last character, the
  // end of its last \r or \n (0 if none), and whether it has 2+ characters.
  struct SpaceRun {
    std::size_t end, last_start, after_last_newline;
    bool several;
  };
  [[nodiscard]] SpaceRun space_run(std::size_t i) const noexcept {
    SpaceRun r{i, i, 0, false};
    std::size_t chars = 0;
    while (r.end < n_) {
      const Char c = at(r.end);
      if (!(c.cls & kSpace)) break;
      r.last_start = r.end;
      r.end += c.len;
      if (c.cp == '\n' || c.cp == '\r') r.after_last_newline = r.end;
      ++chars;
    }
    r.several = chars >= 2;
    return r;
  }

  [[nodiscard]] static bool is_other(const Char& c) noexcept {
    return !(c.cls & (kLetter | kNumber | kSpace));
  }
  // [^\r\n\p{L}\p{N}]
  [[nodiscard]] static bool is_prefix(const Char& c) noexcept {
    return !(c.cls & (kLetter | kNumber)) && c.cp != '\r' && c.cp != '\n';
  }

  // --- r50k --------------------------------------------------------------------------
  [[nodiscard]] std::size_t next_r50k(std::size_t i) const noexcept {
    const Char c = at(i);
    // '(?:[sdmt]|ll|ve|re)
    if (c.cp == '\'') {
      if (const std::size_t k = contraction<false>(i + 1)) return i + 1 + k;
    }
    // ` ?X++` for X in \p{L}, \p{N}, [^\s\p{L}\p{N}]: with the space when the next
    // character is not whitespace (without it, the space itself cannot start X).
    std::size_t p = i;
    Char d = c;
    if (c.cp == ' ' && i + 1 < n_) {
      const Char e = at(i + 1);
      if (!(e.cls & kSpace)) {
        p = i + 1;
        d = e;
      }
    }
    if (d.cls & kLetter) return run_any(p, kLetter);
    if (d.cls & kNumber) return run_any(p, kNumber);
    if (is_other(d)) return run_other(p);
    // \s++$ | \s+(?!\S) | \s
    const SpaceRun r = space_run(i);
    if (r.end == n_) return r.end;
    if (r.several) return r.last_start;
    return r.end;
  }

  // --- cl100k ------------------------------------------------------------------------
  [[nodiscard]] std::size_t next_cl100k(std::size_t i) const noexcept {
    const Char c = at(i);
    // '(?i:[sdmt]|ll|ve|re)
    if (c.cp == '\'') {
      if (const std::size_t k = contraction<true>(i + 1)) return i + 1 + k;
    }
    // [^\r\n\p{L}\p{N}]?+\p{L}++ (the possessive prefix never gives its character back)
    if (c.cls & kLetter) return run_any(i, kLetter);
    if (is_prefix(c) && i + c.len < n_) {
      if (at(i + c.len).cls & kLetter) return run_any(i + c.len, kLetter);
    }
    // \p{N}{1,3}+
    if (c.cls & kNumber) return run_number3(i);
    // ` ?[^\s\p{L}\p{N}]++[\r\n]*+`
    std::size_t p = i;
    Char d = c;
    if (c.cp == ' ' && i + 1 < n_) {
      const Char e = at(i + 1);
      if (is_other(e)) {
        p = i + 1;
        d = e;
      }
    }
    if (is_other(d)) return run_ascii<'\r', '\n'>(run_other(p));
    // \s++$ | \s*[\r\n] | \s+(?!\S) | \s
    const SpaceRun r = space_run(i);
    if (r.end == n_) return r.end;
    if (r.after_last_newline) return r.after_last_newline;
    if (r.several) return r.last_start;
    return r.end;
  }

  // --- o200k -------------------------------------------------------------------------
  // [UP]*[LOW]+(?i:'s|...)? at p; 0 when it does not match. [UP]* takes the longest
  // run, then gives characters back until [LOW]+ can start: at the first non-UP
  // character if it is LOW, else at the last character of the run that is both.
  [[nodiscard]] std::size_t o200k_lower_first(std::size_t p) const noexcept {
    if (p >= n_) return 0;
    std::size_t u = p, last_both = n_;
    while (u < n_) {
      const Char d = at(u);
      if (!(d.cls & kUpper)) break;
      if (d.cls & kLower) last_both = u;
      u += d.len;
    }
    std::size_t start;
    if (u < n_ && (at(u).cls & kLower)) start = u;
    else if (last_both != n_) start = last_both;
    else return 0;
    const std::size_t j = run_any(start, kLower);
    return j + o200k_contraction(j);
  }
  // [UP]+[LOW]*(?i:'s|...)? at p; 0 when it does not match.
  [[nodiscard]] std::size_t o200k_upper_first(std::size_t p) const noexcept {
    if (p >= n_ || !(at(p).cls & kUpper)) return 0;
    const std::size_t j = run_any(run_any(p, kUpper), kLower);
    return j + o200k_contraction(j);
  }
  [[nodiscard]] std::size_t o200k_contraction(std::size_t j) const noexcept {
    if (j < n_ && p_[j] == '\'') {
      if (const std::size_t k = contraction<true>(j + 1)) return 1 + k;
    }
    return 0;
  }

  [[nodiscard]] std::size_t next_o200k(std::size_t i) const noexcept {
    const Char c = at(i);
    const bool prefix = is_prefix(c);
    // Alternatives 1 and 2, each tried with the optional prefix character, then without.
    if (prefix) {
      if (const std::size_t e = o200k_lower_first(i + c.len)) return e;
    }
    if (const std::size_t e = o200k_lower_first(i)) return e;
    if (prefix) {
      if (const std::size_t e = o200k_upper_first(i + c.len)) return e;
    }
    if (const std::size_t e = o200k_upper_first(i)) return e;
    // \p{N}{1,3}
    if (c.cls & kNumber) return run_number3(i);
    // ` ?[^\s\p{L}\p{N}]+[\r\n/]*`
    std::size_t p = i;
    Char d = c;
    if (c.cp == ' ' && i + 1 < n_) {
      const Char e = at(i + 1);
      if (is_other(e)) {
        p = i + 1;
        d = e;
      }
    }
    if (is_other(d)) return run_ascii<'\r', '\n', '/'>(run_other(p));
    // \s*[\r\n]+ | \s+(?!\S) | \s+
    const SpaceRun r = space_run(i);
    if (r.after_last_newline) return r.after_last_newline;
    if (r.end == n_) return r.end;
    if (r.several) return r.last_start;
    return r.end;
  }

 private:
  const unsigned char* p_;
  std::size_t n_;
};

}  // namespace detail

// Calls on_piece(std::string_view piece) for each piece of `text`, in order. The
// pieces tile the text exactly.
template <class F>
void split(Pattern pattern, std::string_view text, F&& on_piece) {
  const detail::Scanner s(text);
  const std::size_t n = text.size();
  std::size_t i = 0;
  switch (pattern) {
    case Pattern::kR50k:
      while (i < n) {
        const std::size_t j = s.next_r50k(i);
        on_piece(text.substr(i, j - i));
        i = j;
      }
      break;
    case Pattern::kCl100k:
      while (i < n) {
        const std::size_t j = s.next_cl100k(i);
        on_piece(text.substr(i, j - i));
        i = j;
      }
      break;
    case Pattern::kO200k:
      while (i < n) {
        const std::size_t j = s.next_o200k(i);
        on_piece(text.substr(i, j - i));
        i = j;
      }
      break;
  }
}

// The end of the piece of `text` that starts at byte `i` (i < text.size()): one step of
// split(), for callers that walk the pieces themselves and may stop early.
inline std::size_t piece_end(Pattern pattern, std::string_view text, std::size_t i) {
  const detail::Scanner s(text);
  switch (pattern) {
    case Pattern::kR50k:
      return s.next_r50k(i);
    case Pattern::kCl100k:
      return s.next_cl100k(i);
    case Pattern::kO200k:
      return s.next_o200k(i);
  }
  return text.size();
}

}  // namespace covekit::pretokenize
