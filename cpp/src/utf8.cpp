#include "covekit/utf8.hpp"

#include <cstdio>
#include <cstring>
#include <string>

#include "covekit/errors.hpp"

namespace covekit::utf8 {

std::size_t first_invalid(std::string_view s) noexcept {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  const std::size_t n = s.size();
  std::size_t i = 0;
  while (i < n) {
    // ASCII fast path, 8 bytes at a time.
    while (i + 8 <= n) {
      uint64_t w;
      std::memcpy(&w, p + i, 8);
      if (w & 0x8080808080808080ULL) break;
      i += 8;
    }
    if (i >= n) break;
    const unsigned char b0 = p[i];
    if (b0 < 0x80) {
      ++i;
      continue;
    }
    std::size_t len;
    unsigned char lo = 0x80, hi = 0xBF;
    if (b0 >= 0xC2 && b0 <= 0xDF) {
      len = 2;
    } else if (b0 >= 0xE0 && b0 <= 0xEF) {
      len = 3;
      if (b0 == 0xE0) lo = 0xA0;        // no overlongs
      else if (b0 == 0xED) hi = 0x9F;   // no surrogates
    } else if (b0 >= 0xF0 && b0 <= 0xF4) {
      len = 4;
      if (b0 == 0xF0) lo = 0x90;        // no overlongs
      else if (b0 == 0xF4) hi = 0x8F;   // nothing above U+10FFFF
    } else {
      return i;
    }
    if (i + len > n) return i;
    if (p[i + 1] < lo || p[i + 1] > hi) return i;
    for (std::size_t k = 2; k < len; ++k)
      if (!is_continuation(p[i + k])) return i;
    i += len;
  }
  return npos;
}

void validate(std::string_view s) {
  const std::size_t bad = first_invalid(s);
  if (bad == npos) return;
  std::string shown;
  for (std::size_t k = bad; k < s.size() && k < bad + 4; ++k) {
    char buf[8];
    std::snprintf(buf, sizeof buf, "\\x%02x", static_cast<unsigned char>(s[k]));
    shown += buf;
  }
  throw InvalidUtf8("invalid UTF-8 at byte offset " + std::to_string(bad) + " (bytes " + shown +
                        "); pass a str, or decode the bytes first, e.g. "
                        "data.decode('utf-8', errors='replace')",
                    bad);
}

std::size_t count_code_points(std::string_view s) noexcept {
  std::size_t count = 0;
  for (unsigned char b : s) count += !is_continuation(b);
  return count;
}

}  // namespace covekit::utf8
