// Shared pieces of covekit's fuzz targets: loading the official vocabularies once, and
// a check that aborts with a message (a fuzzer reports the abort and keeps the input).
#pragma once

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <span>
#include <sstream>
#include <string>
#include <string_view>

#include "covekit/tokenizer.hpp"

namespace covekit::fuzz {

inline std::filesystem::path data_root() {
  if (const char* env = std::getenv("COVEKIT_TEST_DATA"); env && *env) return env;
  return std::filesystem::path(COVEKIT_SOURCE_DIR).parent_path() / "shared" / "data";
}

// The vocabulary `name` (e.g. "o200k_base"), or null when the shared data is missing.
inline std::unique_ptr<const Tokenizer> load_tokenizer(const std::string& name, pretokenize::Pattern pattern) {
  const auto path = data_root() / "tokenizers" / (name + ".tiktoken");
  std::ifstream f(path, std::ios::binary);
  if (!f) return nullptr;
  std::stringstream s;
  s << f.rdbuf();
  return std::make_unique<const Tokenizer>(parse_tiktoken_bpe(s.str()), std::vector<std::pair<std::string, Rank>>{},
                                           pattern, name);
}

// The input with fragments of `bits` spliced in at positions its own bytes choose: a
// byte divisible by 3 becomes bits[(b / 3) % size], any other byte stays. Grammar-aware
// noise for a standalone driver without coverage feedback.
inline std::string splice(const uint8_t* data, std::size_t size, std::span<const std::string_view> bits) {
  std::string mixed;
  for (std::size_t i = 0; i < size; ++i) {
    const auto b = static_cast<unsigned char>(data[i]);
    if (b % 3 == 0) mixed.append(bits[(b / 3) % bits.size()]);
    else mixed.push_back(static_cast<char>(b));
  }
  return mixed;
}

[[noreturn]] inline void fail(const char* what, const std::string& input) {
  std::fprintf(stderr, "fuzz check failed: %s (input of %zu bytes)\n", what, input.size());
  std::abort();
}

#define COVEKIT_FUZZ_CHECK(cond, input) \
  do {                                  \
    if (!(cond)) ::covekit::fuzz::fail(#cond, input); \
  } while (0)

}  // namespace covekit::fuzz
