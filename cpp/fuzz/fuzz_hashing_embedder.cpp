// Fuzz target for the hashing embedder: any bytes in, two parsers exercised.
//   * as text (invalid UTF-8 included: such bytes are separators): the vector has dim
//     finite entries and length 1 or 0, the same in a batch as alone, and every feature
//     lands on its own hash % dim;
//   * as a saved state: from_bytes either rejects it with EmbedderStateCorrupt or gives
//     an embedder whose to_bytes() is the same bytes;
//   * a state made from the input (fit on its lines) survives a bit flip only as an
//     EmbedderStateCorrupt.
// Built as a libFuzzer target with clang (-DCOVEKIT_LIBFUZZER=ON), or with the
// standalone driver (fuzz_driver.cpp) that ctest runs on generated inputs.
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "covekit/errors.hpp"
#include "covekit/hashing_embedder.hpp"
#include "fuzz_common.hpp"

namespace {

using covekit::embed::HashingEmbedder;
using covekit::embed::HashingOptions;

const HashingEmbedder& small_embedder() {
  static const HashingEmbedder e([] {
    HashingOptions o;
    o.dim = 16;
    o.word_bigrams = true;
    o.char_ngram_min = 1;
    o.char_ngram_max = 4;
    return o;
  }());
  return e;  // immutable after construction
}

void check_text(const std::string& text) {
  const HashingEmbedder& e = small_embedder();
  std::vector<float> one(e.dim());
  e.embed(text, one);
  double sumsq = 0;
  for (float x : one) {
    COVEKIT_FUZZ_CHECK(std::isfinite(x), text);
    sumsq += double(x) * x;
  }
  COVEKIT_FUZZ_CHECK(sumsq == 0.0 || std::abs(sumsq - 1.0) < 1e-4, text);
  const std::vector<std::string_view> batch = {"a b", text, ""};
  std::vector<float> rows(batch.size() * e.dim());
  e.embed_batch(batch, rows, 1);
  COVEKIT_FUZZ_CHECK(std::vector<float>(rows.begin() + e.dim(), rows.begin() + 2 * e.dim()) == one, text);
  for (const auto& f : e.features(text)) COVEKIT_FUZZ_CHECK(f.index == f.hash % e.dim(), text);
}

void check_state(const std::string& data) {
  try {
    const auto e = HashingEmbedder::from_bytes(data);
    COVEKIT_FUZZ_CHECK(e->to_bytes() == data, data);
  } catch (const covekit::EmbedderStateCorrupt&) {
    // the typed rejection is the expected outcome for almost every input
  }
}

void check_flipped_state(const std::string& data) {
  HashingOptions o;
  o.dim = 8;
  HashingEmbedder e(o);
  std::vector<std::string_view> lines;
  std::size_t start = 0;
  for (std::size_t i = 0; i <= data.size(); ++i) {
    if (i == data.size() || data[i] == '\n') {
      lines.emplace_back(data.data() + start, i - start);
      start = i + 1;
    }
  }
  e.fit(lines, 1);
  std::string state = e.to_bytes();
  const std::size_t bit = data.empty() ? 0 : (static_cast<unsigned char>(data[0]) * 131u + data.size());
  state[(bit / 8) % state.size()] = static_cast<char>(state[(bit / 8) % state.size()] ^ (1 << (bit % 8)));
  bool rejected = false;
  try {
    (void)HashingEmbedder::from_bytes(state);
  } catch (const covekit::EmbedderStateCorrupt&) {
    rejected = true;
  }
  COVEKIT_FUZZ_CHECK(rejected, data);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
  const std::string input(reinterpret_cast<const char*>(data), size);
  check_text(input);
  check_state(input);
  if (size < 4096) check_flipped_state(input);
  return 0;
}
