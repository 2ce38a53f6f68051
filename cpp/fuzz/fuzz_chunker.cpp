// Fuzz target for the chunker: any bytes in. Valid UTF-8 is chunked with cl100k_base by
// the recursive, token and sentence strategies at small limits, with and without
// overlap; the checks are the chunker's invariants:
//   every chunk non-empty, in document order, within the text, on character boundaries;
//   its token count, measured by encoding its text alone, equals token_count and is at
//   most max_tokens; its code point offsets match its byte offsets; chunking is
//   deterministic.
// Invalid UTF-8 is rejected by utf8::validate with a typed error before chunking.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "covekit/chunker.hpp"
#include "covekit/errors.hpp"
#include "covekit/utf8.hpp"
#include "fuzz_common.hpp"

namespace {

const covekit::Tokenizer* cl100k() {
  static const auto t = covekit::fuzz::load_tokenizer("cl100k_base", covekit::pretokenize::Pattern::kCl100k);
  return t.get();  // immutable after first use; null without the shared data
}

void check(const covekit::Tokenizer& tok, const covekit::chunking::Options& o, const std::string& text) {
  using covekit::chunking::Chunker;
  const Chunker chunker(tok, o);
  covekit::chunking::ChunkResult r;
  try {
    r = chunker.chunk(text, "doc");
  } catch (const covekit::InvalidInput&) {
    return;  // e.g. a character that needs more than max_tokens tokens: a typed refusal
  }
  const auto* p = reinterpret_cast<const unsigned char*>(text.data());
  std::size_t prev_begin = 0;
  for (std::size_t i = 0; i < r.chunks.size(); ++i) {
    const auto& c = r.chunks[i];
    COVEKIT_FUZZ_CHECK(c.begin < c.end && c.end <= text.size(), text);
    COVEKIT_FUZZ_CHECK(i == 0 || c.begin >= prev_begin, text);
    COVEKIT_FUZZ_CHECK(c.begin == 0 || !covekit::utf8::is_continuation(p[c.begin]), text);
    COVEKIT_FUZZ_CHECK(c.end == text.size() || !covekit::utf8::is_continuation(p[c.end]), text);
    const std::string_view piece = std::string_view(text).substr(c.begin, c.end - c.begin);
    const std::size_t n = tok.count_ordinary(piece);
    COVEKIT_FUZZ_CHECK(n == c.token_count && n <= o.max_tokens, text);
    COVEKIT_FUZZ_CHECK(c.start == covekit::utf8::count_code_points(std::string_view(text).substr(0, c.begin)), text);
    COVEKIT_FUZZ_CHECK(c.stop == covekit::utf8::count_code_points(std::string_view(text).substr(0, c.end)), text);
    prev_begin = c.begin;
  }
  const auto again = chunker.chunk(text, "doc");
  COVEKIT_FUZZ_CHECK(again.chunks.size() == r.chunks.size(), text);
  for (std::size_t i = 0; i < r.chunks.size(); ++i)
    COVEKIT_FUZZ_CHECK(again.chunks[i].id == r.chunks[i].id && again.chunks[i].end == r.chunks[i].end, text);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  try {
    covekit::utf8::validate(text);
  } catch (const covekit::InvalidUtf8&) {
    return 0;
  }
  const covekit::Tokenizer* tok = cl100k();
  if (!tok) return 0;
  using covekit::chunking::Strategy;
  const struct {
    Strategy s;
    std::size_t max, overlap, overlap_sentences;
    bool at_boundary;
  } settings[] = {
      {Strategy::kRecursive, 8, 0, 0, false}, {Strategy::kRecursive, 33, 8, 0, false},
      {Strategy::kRecursive, 20, 6, 0, true}, {Strategy::kToken, 8, 3, 0, false},
      {Strategy::kToken, 64, 0, 0, false},    {Strategy::kSentence, 16, 0, 1, false},
  };
  for (const auto& st : settings) {
    covekit::chunking::Options o;
    o.strategy = st.s;
    o.max_tokens = st.max;
    o.overlap_tokens = st.overlap;
    o.overlap_sentences = st.overlap_sentences;
    o.overlap_at_boundary = st.at_boundary;
    check(*tok, o, text);
  }
  return 0;
}
