// Fuzz target for the BM25 index: any bytes in, used three ways.
//   1. As text (when valid UTF-8): analyzed (terms non-empty, valid UTF-8, analysis
//      deterministic), added to a small index and used as a query, where MaxScore and
//      exhaustive scoring must return the same hits, best first.
//   2. As an index file: Index::from_bytes must throw IndexFileCorrupt or succeed.
//   3. As the body of an index file behind a valid magic, version and a recomputed
//      checksum, so the parser's own bounds checks (counts, term ids, lengths) are
//      what stands between the bytes and a crash: IndexFileCorrupt or a usable index.
// Invalid UTF-8 text is rejected by utf8::validate with a typed error.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include "covekit/analyzer.hpp"
#include "covekit/bm25.hpp"
#include "covekit/errors.hpp"
#include "covekit/hash.hpp"
#include "covekit/utf8.hpp"
#include "fuzz_common.hpp"

namespace {

using covekit::bm25::Hit;
using covekit::bm25::Index;
using covekit::bm25::Strategy;

void check_text(const std::string& text) {
  const covekit::analysis::Analyzer analyzer;
  const auto terms = analyzer.analyze(text);
  COVEKIT_FUZZ_CHECK(terms == analyzer.analyze(text), text);
  for (const std::string& t : terms) {
    COVEKIT_FUZZ_CHECK(!t.empty(), text);
    COVEKIT_FUZZ_CHECK(covekit::utf8::first_invalid(t) == covekit::utf8::npos, text);
  }
  Index index;
  const std::vector<uint64_t> ids = {1, 2, 3};
  const std::string half = text.substr(0, text.size() / 2);
  std::vector<std::string_view> texts = {text, "the quick brown fox", half};
  if (covekit::utf8::first_invalid(half) != covekit::utf8::npos) texts[2] = "";
  index.add(ids, texts);
  for (std::size_t k : {1, 3}) {
    const std::vector<Hit> a = index.search(text, k, nullptr, Strategy::kMaxScore);
    const std::vector<Hit> b = index.search(text, k, nullptr, Strategy::kExhaustive);
    COVEKIT_FUZZ_CHECK(a.size() == b.size(), text);
    for (std::size_t i = 0; i < a.size(); ++i) {
      COVEKIT_FUZZ_CHECK(a[i].id == b[i].id && a[i].score == b[i].score, text);
      COVEKIT_FUZZ_CHECK(i == 0 || a[i - 1].score >= a[i].score, text);
    }
  }
}

void check_file(const std::string& bytes) {
  try {
    const auto index = Index::from_bytes(bytes, "fuzz");
    (void)index->search("fox", 3);
    const std::string again = index->to_bytes();
    (void)Index::from_bytes(again, "fuzz-again");
  } catch (const covekit::IndexFileCorrupt&) {
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
  const std::string input(reinterpret_cast<const char*>(data), size);
  if (covekit::utf8::first_invalid(input) == covekit::utf8::npos) check_text(input);
  check_file(input);
  // Magic + version 1 + the input as the body + a correct checksum.
  std::string file("CVKBM25", 8);
  const uint32_t version = 1;
  file.append(reinterpret_cast<const char*>(&version), 4);
  file += input;
  const uint64_t sum = covekit::hash::xxh3_64(file);
  file.append(reinterpret_cast<const char*>(&sum), 8);
  check_file(file);
  return 0;
}
