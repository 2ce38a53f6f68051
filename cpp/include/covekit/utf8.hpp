// UTF-8 validation, decoding and code point counting.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace covekit::utf8 {

// Offset of the first byte that is not part of a well-formed UTF-8 sequence
// (overlongs, surrogates and code points above U+10FFFF are ill-formed), or
// `npos` when all of `s` is valid.
[[nodiscard]] std::size_t first_invalid(std::string_view s) noexcept;

// Throws covekit::InvalidUtf8 (naming the offset and the bytes) unless `s` is valid UTF-8.
void validate(std::string_view s);

inline constexpr std::size_t npos = static_cast<std::size_t>(-1);

[[nodiscard]] inline bool is_continuation(unsigned char b) noexcept { return (b & 0xC0) == 0x80; }

// Number of code points in valid UTF-8 `s` (Python `len()` of the decoded str).
[[nodiscard]] std::size_t count_code_points(std::string_view s) noexcept;

// Decodes the code point of valid UTF-8 starting at p; stores its length in *len.
[[nodiscard]] inline char32_t decode(const unsigned char* p, unsigned* len) noexcept {
  const unsigned char b0 = p[0];
  if (b0 < 0x80) {
    *len = 1;
    return b0;
  }
  if (b0 < 0xE0) {
    *len = 2;
    return (char32_t(b0 & 0x1F) << 6) | (p[1] & 0x3F);
  }
  if (b0 < 0xF0) {
    *len = 3;
    return (char32_t(b0 & 0x0F) << 12) | (char32_t(p[1] & 0x3F) << 6) | (p[2] & 0x3F);
  }
  *len = 4;
  return (char32_t(b0 & 0x07) << 18) | (char32_t(p[1] & 0x3F) << 12) | (char32_t(p[2] & 0x3F) << 6) |
         (p[3] & 0x3F);
}

}  // namespace covekit::utf8
