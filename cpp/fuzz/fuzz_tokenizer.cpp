// Fuzz target for the tokenizer: any bytes in. Valid UTF-8 is encoded with cl100k_base
// and o200k_base; the checks are the tokenizer's invariants:
//   decode(encode(s)) == s; count == len(encode); byte offsets tile the text;
//   the backtracking encoder and the merge loop agree on every piece;
//   truncate gives a prefix that fits, ends on a character boundary, and is longest.
// Invalid UTF-8 must be rejected by utf8::validate with a typed error, never crash.
// Built as a libFuzzer target with clang (-DCOVEKIT_LIBFUZZER=ON), or with the
// standalone driver (fuzz_driver.cpp) that ctest runs on generated inputs.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "covekit/errors.hpp"
#include "covekit/utf8.hpp"
#include "fuzz_common.hpp"

namespace {

struct Vocabularies {
  std::unique_ptr<const covekit::Tokenizer> cl100k =
      covekit::fuzz::load_tokenizer("cl100k_base", covekit::pretokenize::Pattern::kCl100k);
  std::unique_ptr<const covekit::Tokenizer> o200k =
      covekit::fuzz::load_tokenizer("o200k_base", covekit::pretokenize::Pattern::kO200k);
};

const Vocabularies& vocabularies() {
  static const Vocabularies v;  // immutable after first use
  return v;
}

bool is_char_boundary(std::string_view s, std::size_t i) {
  return i == 0 || i == s.size() || (static_cast<unsigned char>(s[i]) & 0xC0) != 0x80;
}

void check(const covekit::Tokenizer& t, const std::string& text) {
  using covekit::Rank;
  const covekit::SpecialPolicy ordinary = t.ordinary_policy();
  std::vector<Rank> ids;
  std::vector<std::size_t> starts;
  t.encode_with_byte_offsets(text, ordinary, ids, starts);
  std::string back;
  t.decode_bytes(ids, back);
  COVEKIT_FUZZ_CHECK(back == text, text);
  COVEKIT_FUZZ_CHECK(t.count_ordinary(text) == ids.size(), text);
  for (std::size_t k = 0; k < starts.size(); ++k) {
    COVEKIT_FUZZ_CHECK(starts[k] < text.size(), text);
    COVEKIT_FUZZ_CHECK(k == 0 || starts[k] > starts[k - 1], text);
  }
  if (t.uses_backtracking()) {
    std::vector<Rank> a, b;
    covekit::pretokenize::split(t.pattern(), text, [&](std::string_view piece) {
      a.clear();
      b.clear();
      t.encode_piece_merge(piece, a);
      t.encode_piece_backtrack(piece, b);
      COVEKIT_FUZZ_CHECK(a == b, text);
    });
  }
  for (const std::size_t limit : {std::size_t{0}, std::size_t{1}, ids.size() / 2, ids.size()}) {
    const std::size_t cut = t.truncate_bytes(text, limit, ordinary);
    COVEKIT_FUZZ_CHECK(cut <= text.size(), text);
    COVEKIT_FUZZ_CHECK(is_char_boundary(text, cut), text);
    COVEKIT_FUZZ_CHECK(t.count_ordinary(std::string_view(text).substr(0, cut)) <= limit, text);
    if (limit >= ids.size()) COVEKIT_FUZZ_CHECK(cut == text.size(), text);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  try {
    covekit::utf8::validate(text);
  } catch (const covekit::InvalidUtf8&) {
    return 0;  // the typed rejection is the expected outcome
  }
  const Vocabularies& v = vocabularies();
  if (v.cl100k) check(*v.cl100k, text);
  if (v.o200k) check(*v.o200k, text);
  return 0;
}
