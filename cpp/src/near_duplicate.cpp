#include "covekit/near_duplicate.hpp"

#include <algorithm>
#include <string>
#include <utility>

#include "covekit/errors.hpp"
#include "covekit/hash.hpp"

namespace covekit::near_duplicate {

namespace {

// The k smallest distinct values of h (kEmpty mapped to kEmpty - 1) into out.
void bottom_k(std::vector<uint64_t>& h, std::span<uint64_t> out) {
  for (uint64_t& x : h)
    if (x == kEmpty) x = kEmpty - 1;
  const std::size_t k = out.size();
  if (h.size() > 2 * k) {
    // the 2k smallest (with repeats) hold the k smallest distinct values when they hold
    // k distinct ones: every value outside is at least as large as all of them
    std::nth_element(h.begin(), h.begin() + static_cast<std::ptrdiff_t>(2 * k), h.end());
    std::vector<uint64_t> front(h.begin(), h.begin() + static_cast<std::ptrdiff_t>(2 * k));
    std::sort(front.begin(), front.end());
    front.erase(std::unique(front.begin(), front.end()), front.end());
    if (front.size() >= k) {
      std::copy_n(front.begin(), k, out.begin());
      return;
    }
  }
  std::sort(h.begin(), h.end());
  h.erase(std::unique(h.begin(), h.end()), h.end());
  std::copy_n(h.begin(), std::min(k, h.size()), out.begin());
}

// The code point at s[i] (valid UTF-8) and its length.
std::pair<uint32_t, std::size_t> decode(std::string_view s, std::size_t i) {
  const auto b = static_cast<unsigned char>(s[i]);
  if (b < 0x80) return {b, 1};
  if (b < 0xE0) return {((b & 0x1Fu) << 6) | (static_cast<unsigned char>(s[i + 1]) & 0x3Fu), 2};
  if (b < 0xF0)
    return {((b & 0x0Fu) << 12) | ((static_cast<unsigned char>(s[i + 1]) & 0x3Fu) << 6) |
                (static_cast<unsigned char>(s[i + 2]) & 0x3Fu),
            3};
  return {((b & 0x07u) << 18) | ((static_cast<unsigned char>(s[i + 1]) & 0x3Fu) << 12) |
              ((static_cast<unsigned char>(s[i + 2]) & 0x3Fu) << 6) | (static_cast<unsigned char>(s[i + 3]) & 0x3Fu),
          4};
}

bool own_word(uint32_t cp) {  // CJK ideographs, kana, hangul: one word each
  return (cp >= 0x3040 && cp <= 0x30FF) || (cp >= 0x3400 && cp <= 0x9FFF) || (cp >= 0xAC00 && cp <= 0xD7AF) ||
         (cp >= 0xF900 && cp <= 0xFAFF) || (cp >= 0x20000 && cp <= 0x3FFFF);
}

bool separator(uint32_t cp) {  // non-ASCII punctuation, spaces and symbols
  return (cp >= 0x80 && cp <= 0xBF) || cp == 0xD7 || cp == 0xF7 || (cp >= 0x2000 && cp <= 0x2BFF) ||
         (cp >= 0x3000 && cp <= 0x303F) || (cp >= 0xFE30 && cp <= 0xFE4F) || (cp >= 0xFF00 && cp <= 0xFF0F) ||
         (cp >= 0xFF1A && cp <= 0xFF20) || (cp >= 0xFF3B && cp <= 0xFF40) || (cp >= 0xFF5B && cp <= 0xFF65) ||
         cp == 0xFEFF || (cp >= 0x1F000 && cp <= 0x1FAFF);
}

}  // namespace

void sketch(std::span<const uint32_t> tokens, std::size_t shingle, uint64_t seed, std::span<uint64_t> out) {
  if (shingle == 0) throw InvalidInput("shingle must be >= 1 token");
  const std::size_t k = out.size();
  if (k == 0) throw InvalidInput("a sketch needs k >= 1 hashes");
  std::fill(out.begin(), out.end(), kEmpty);
  if (tokens.empty()) return;
  const std::size_t w = std::min(shingle, tokens.size());
  const std::size_t windows = tokens.size() - w + 1;
  std::vector<uint64_t> h(windows);
  const char* base = reinterpret_cast<const char*>(tokens.data());
  for (std::size_t i = 0; i < windows; ++i)
    h[i] = hash::xxh3_64(std::string_view(base + i * sizeof(uint32_t), w * sizeof(uint32_t)), seed);
  bottom_k(h, out);
}

void sketch_words(std::string_view text, std::size_t shingle, uint64_t seed, std::span<uint64_t> out) {
  if (shingle == 0) throw InvalidInput("shingle must be >= 1 word");
  if (out.empty()) throw InvalidInput("a sketch needs k >= 1 hashes");
  std::fill(out.begin(), out.end(), kEmpty);
  std::vector<uint64_t> words;
  std::string word;
  auto flush = [&] {
    if (!word.empty()) {
      words.push_back(hash::xxh3_64(word, seed));
      word.clear();
    }
  };
  for (std::size_t i = 0; i < text.size();) {
    const auto c = static_cast<unsigned char>(text[i]);
    if (c < 0x80) {
      if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z')) {
        word.push_back(static_cast<char>(c));
      } else if (c >= 'A' && c <= 'Z') {
        word.push_back(static_cast<char>(c + 32));
      } else {
        flush();
      }
      ++i;
      continue;
    }
    const auto [cp, len] = decode(text, i);
    if (own_word(cp)) {
      flush();
      word.assign(text.substr(i, len));
      flush();
    } else if (separator(cp)) {
      flush();
    } else {
      word.append(text.substr(i, len));
    }
    i += len;
  }
  flush();
  if (words.empty()) return;
  const std::size_t w = std::min(shingle, words.size());
  std::vector<uint64_t> h(words.size() - w + 1);
  const char* base = reinterpret_cast<const char*>(words.data());
  for (std::size_t i = 0; i < h.size(); ++i)
    h[i] = hash::xxh3_64(std::string_view(base + i * sizeof(uint64_t), w * sizeof(uint64_t)), seed);
  bottom_k(h, out);
}

namespace {

// The share of the union's k smallest hashes found in both sketches. With a threshold,
// the walk stops as soon as the share cannot reach it (and returns -1): the final share
// is at most (both + r) / (taken + r) for the r <= k - taken steps left, which grows with
// r, so (both + k - taken) / k bounds it.
double shared(std::span<const uint64_t> a, std::span<const uint64_t> b, double stop_below) noexcept {
  const std::size_t k = std::min(a.size(), b.size());
  const bool a_empty = k == 0 || a[0] == kEmpty;
  const bool b_empty = k == 0 || b[0] == kEmpty;
  if (a_empty || b_empty) return a_empty && b_empty ? 1.0 : 0.0;
  std::size_t i = 0, j = 0, taken = 0, both = 0;
  const double floor = stop_below * static_cast<double>(k);
  while (taken < k) {
    const uint64_t x = i < k ? a[i] : kEmpty;
    const uint64_t y = j < k ? b[j] : kEmpty;
    if (x == kEmpty && y == kEmpty) break;
    if (x == y) {
      ++both;
      ++i;
      ++j;
    } else if (x < y) {
      ++i;
    } else {
      ++j;
    }
    ++taken;
    if (both < taken && static_cast<double>(both + (k - taken)) < floor) return -1.0;
  }
  return taken ? static_cast<double>(both) / static_cast<double>(taken) : 1.0;
}

}  // namespace

bool similar(std::span<const uint64_t> a, std::span<const uint64_t> b, double threshold) noexcept {
  return shared(a, b, threshold) >= threshold;
}

double similarity(std::span<const uint64_t> a, std::span<const uint64_t> b) noexcept {
  return shared(a, b, 0.0);
}

std::vector<int32_t> find(std::span<const uint64_t> sketches, std::size_t k, double threshold) {
  if (k == 0) throw InvalidInput("k must be >= 1");
  if (sketches.size() % k) throw InvalidInput("the sketch matrix must have k columns");
  if (!(threshold >= 0.0 && threshold <= 1.0))
    throw InvalidInput("threshold must be in [0, 1], got " + std::to_string(threshold));
  const std::size_t n = sketches.size() / k;
  std::vector<int32_t> dup(n, -1);
  std::vector<std::size_t> kept;
  for (std::size_t i = 0; i < n; ++i) {
    const auto si = sketches.subspan(i * k, k);
    for (std::size_t j : kept) {
      if (similar(si, sketches.subspan(j * k, k), threshold)) {
        dup[i] = static_cast<int32_t>(j);
        break;
      }
    }
    if (dup[i] < 0) kept.push_back(i);
  }
  return dup;
}

}  // namespace covekit::near_duplicate
