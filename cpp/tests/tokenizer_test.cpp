#include "covekit/tokenizer.hpp"

#include <gtest/gtest.h>

#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "covekit/errors.hpp"
#include "test_data.hpp"

using covekit::Rank;
using covekit::SpecialAction;
using covekit::SpecialPolicy;
using covekit::Tokenizer;
using covekit::pretokenize::Pattern;
namespace fs = std::filesystem;

namespace {

std::unique_ptr<Tokenizer> load(const std::string& name, Pattern pattern,
                                std::vector<std::pair<std::string, Rank>> specials = {}) {
  const fs::path p = covekit::testing::data_root() / "tokenizers" / (name + ".tiktoken");
  if (!fs::exists(p)) return nullptr;
  return std::make_unique<Tokenizer>(covekit::parse_tiktoken_bpe(covekit::testing::read_file(p)),
                                     std::move(specials), pattern, name);
}

const std::vector<std::pair<std::string, Rank>> kCl100kSpecials = {
    {"<|endoftext|>", 100257}, {"<|fim_prefix|>", 100258}, {"<|fim_middle|>", 100259},
    {"<|fim_suffix|>", 100260}, {"<|endofprompt|>", 100276}};

class Cl100k : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { tok_ = load("cl100k_base", Pattern::kCl100k, kCl100kSpecials).release(); }
  static void TearDownTestSuite() {
    delete tok_;  // owned by the suite (gtest needs a static)
    tok_ = nullptr;
  }
  void SetUp() override {
    if (!tok_) GTEST_SKIP() << "shared tokenizer data missing under " << covekit::testing::data_root();
  }
  std::vector<Rank> enc(std::string_view s) const {
    std::vector<Rank> out;
    tok_->encode_ordinary(s, out);
    return out;
  }
  std::string dec(const std::vector<Rank>& ids) const {
    std::string out;
    tok_->decode_bytes(ids, out);
    return out;
  }
  static Tokenizer* tok_;
};
Tokenizer* Cl100k::tok_ = nullptr;

// tiktoken's byte_pair_merge, written the slow obvious way: the oracle for BPE.
std::vector<Rank> reference_bpe(const Tokenizer& t, std::string_view piece) {
  if (Rank r = t.lookup(piece); r != covekit::kNoRank) return {r};
  std::vector<std::size_t> starts;
  for (std::size_t i = 0; i <= piece.size(); ++i) starts.push_back(i);
  auto rank_at = [&](std::size_t i) -> Rank {
    if (i + 2 >= starts.size()) return covekit::kNoRank;
    return t.lookup(piece.substr(starts[i], starts[i + 2] - starts[i]));
  };
  while (starts.size() > 2) {
    Rank best = covekit::kNoRank;
    std::size_t at = 0;
    for (std::size_t i = 0; i + 2 < starts.size(); ++i) {
      const Rank r = rank_at(i);
      if (r < best) {
        best = r;
        at = i;
      }
    }
    if (best == covekit::kNoRank) break;
    starts.erase(starts.begin() + static_cast<std::ptrdiff_t>(at) + 1);
  }
  std::vector<Rank> out;
  for (std::size_t i = 0; i + 1 < starts.size(); ++i)
    out.push_back(t.lookup(piece.substr(starts[i], starts[i + 1] - starts[i])));
  return out;
}

}  // namespace

TEST_F(Cl100k, KnownIds) {
  EXPECT_EQ(enc("hello world"), (std::vector<Rank>{15339, 1917}));
  EXPECT_EQ(enc(""), std::vector<Rank>{});
  EXPECT_EQ(tok_->max_token_value(), 100276u);
}

TEST_F(Cl100k, MergesMatchTheReferenceAlgorithmOnShortAndLongPieces) {
  std::mt19937 rng(7);
  const std::string alphabet = "aaabbcdeeeilnorstu";
  for (int trial = 0; trial < 300; ++trial) {
    const std::size_t len = 1 + rng() % (trial < 200 ? 60 : 700);  // both merge paths
    std::string piece;
    for (std::size_t i = 0; i < len; ++i) piece.push_back(alphabet[rng() % alphabet.size()]);
    std::vector<Rank> got;
    tok_->encode_piece(piece, got);
    ASSERT_EQ(got, reference_bpe(*tok_, piece)) << piece;
  }
  // Multi-byte text, where merges cross character boundaries.
  const std::string thai = "\xE0\xB8\x81\xE0\xB8\xB2\xE0\xB8\xA3\xE0\xB8\x97\xE0\xB8\x94\xE0\xB8\xAA\xE0\xB8\xAD\xE0\xB8\x9A";
  std::string long_thai;
  for (int i = 0; i < 20; ++i) long_thai += thai;
  std::vector<Rank> got;
  tok_->encode_piece(long_thai, got);
  EXPECT_EQ(got, reference_bpe(*tok_, long_thai));
}

TEST_F(Cl100k, PathologicalPiecesStayFast) {
  const std::string as(100000, 'a');
  const auto ids = enc(as);
  EXPECT_EQ(dec(ids), as);
  EXPECT_EQ(tok_->count_ordinary(as), ids.size());
  const std::string digits(100000, '7');
  EXPECT_EQ(dec(enc(digits)), digits);
  const std::string spaces(100000, ' ');
  EXPECT_EQ(dec(enc(spaces)), spaces);
}

TEST_F(Cl100k, RoundTripsTheCorpus) {
  const fs::path root = covekit::testing::data_root() / "corpus";
  COVEKIT_REQUIRE_DATA(root);
  int files = 0;
  for (const auto& entry : fs::recursive_directory_iterator(root)) {
    if (!entry.is_regular_file() || entry.path().extension() != ".txt") continue;
    const std::string text = covekit::testing::read_file(entry.path());
    const auto ids = enc(text);
    ASSERT_EQ(dec(ids), text) << entry.path();
    ASSERT_EQ(tok_->count_ordinary(text), ids.size());
    if (++files == 12) break;  // the Python suite compares every file with tiktoken
  }
  EXPECT_GT(files, 0);
}

TEST_F(Cl100k, SpecialTokenPolicies) {
  const std::string text = "a<|endoftext|>b";
  SpecialPolicy allow = tok_->ordinary_policy();
  allow.actions[0] = SpecialAction::kAllowed;
  allow.any_allowed = true;
  std::vector<Rank> ids;
  tok_->encode(text, allow, ids);
  EXPECT_EQ(ids, (std::vector<Rank>{64, 100257, 65}));

  SpecialPolicy forbid = tok_->ordinary_policy();
  forbid.actions[0] = SpecialAction::kDisallowed;
  forbid.any_disallowed = true;
  ids.clear();
  EXPECT_THROW(tok_->encode(text, forbid, ids), covekit::DisallowedSpecialToken);
  EXPECT_THROW((void)tok_->count(text, forbid), covekit::DisallowedSpecialToken);

  ids.clear();
  tok_->encode(text, tok_->ordinary_policy(), ids);
  EXPECT_EQ(ids, enc(text));
  SpecialPolicy wrong;
  wrong.any_allowed = true;
  EXPECT_THROW(tok_->encode(text, wrong, ids), covekit::InvalidInput);
}

TEST_F(Cl100k, DecodeRejectsUnknownIds) {
  std::string out;
  const std::vector<Rank> hole{100256};
  EXPECT_THROW(tok_->decode_bytes(hole, out), covekit::InvalidTokenId);
  const std::vector<Rank> beyond{100277};
  EXPECT_THROW(tok_->decode_bytes(beyond, out), covekit::InvalidTokenId);
  EXPECT_EQ(tok_->token_bytes(100257), "<|endoftext|>");
}

TEST_F(Cl100k, TruncateNeverOverflowsNorSplitsACharacter) {
  const std::string text = "Caf\xC3\xA9 \xE4\xB8\xAD\xE6\x96\x87\xE6\x96\x87\xE6\x9C\xAC and more words here \xF0\x9F\x98\x80\xF0\x9F\x98\x80";
  const SpecialPolicy p = tok_->ordinary_policy();
  for (std::size_t k = 0; k < 20; ++k) {
    const std::size_t end = tok_->truncate_bytes(text, k, p);
    ASSERT_LE(end, text.size());
    ASSERT_TRUE(end == text.size() || (static_cast<unsigned char>(text[end]) & 0xC0) != 0x80);
    ASSERT_LE(tok_->count_ordinary(text.substr(0, end)), k);
  }
  EXPECT_EQ(tok_->truncate_bytes(text, 1000, p), text.size());
}

TEST_F(Cl100k, OffsetsAddUpToTheText) {
  const std::string text = "hello \xE4\xB8\xAD\xE6\x96\x87 world";
  std::vector<Rank> ids;
  std::vector<std::size_t> starts;
  tok_->encode_with_byte_offsets(text, tok_->ordinary_policy(), ids, starts);
  ASSERT_EQ(ids.size(), starts.size());
  EXPECT_EQ(starts.front(), 0u);
  for (std::size_t i = 1; i < starts.size(); ++i) EXPECT_LT(starts[i - 1], starts[i]);
}

TEST_F(Cl100k, SharedAcrossThreads) {
  const std::string text = "The quick brown fox jumps over the lazy dog. \xE4\xB8\xAD\xE6\x96\x87 1234567";
  const auto expected = enc(text);
  std::vector<std::thread> threads;
  std::vector<int> ok(4, 0);
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&, t] {
      bool good = true;
      for (int i = 0; i < 200; ++i) good &= enc(text) == expected;
      ok[t] = good;
    });
  for (auto& th : threads) th.join();
  for (int v : ok) EXPECT_EQ(v, 1);
}

TEST(TiktokenFile, ParsesAndRejectsMalformedData) {
  const auto ranks = covekit::parse_tiktoken_bpe("IQ== 0\nIg== 1\r\n\n");
  ASSERT_EQ(ranks.size(), 2u);
  EXPECT_EQ(ranks[0].first, "!");
  EXPECT_EQ(ranks[1].second, 1u);
  EXPECT_THROW(covekit::parse_tiktoken_bpe(""), covekit::TokenizerFileCorrupt);
  EXPECT_THROW(covekit::parse_tiktoken_bpe("IQ==\n"), covekit::TokenizerFileCorrupt);
  EXPECT_THROW(covekit::parse_tiktoken_bpe("I*== 0\n"), covekit::TokenizerFileCorrupt);
  EXPECT_THROW(covekit::parse_tiktoken_bpe("IQ== x1\n"), covekit::TokenizerFileCorrupt);
  EXPECT_THROW(covekit::parse_tiktoken_bpe("IQ= 0\n"), covekit::TokenizerFileCorrupt);
}

TEST(TokenizerTables, RejectsInconsistentVocabularies) {
  std::vector<std::pair<std::string, Rank>> bytes;
  for (int b = 0; b < 256; ++b) bytes.emplace_back(std::string(1, static_cast<char>(b)), static_cast<Rank>(b));
  EXPECT_NO_THROW(Tokenizer(bytes, {}, Pattern::kCl100k));

  auto missing = bytes;
  missing.pop_back();
  EXPECT_THROW(Tokenizer(missing, {}, Pattern::kCl100k), covekit::TokenizerFileCorrupt);

  auto dup_rank = bytes;
  dup_rank.emplace_back("ab", 5);
  EXPECT_THROW(Tokenizer(dup_rank, {}, Pattern::kCl100k), covekit::TokenizerFileCorrupt);

  auto dup_bytes = bytes;
  dup_bytes.emplace_back("a", 300);
  EXPECT_THROW(Tokenizer(dup_bytes, {}, Pattern::kCl100k), covekit::TokenizerFileCorrupt);

  EXPECT_THROW(Tokenizer(bytes, {{"<|x|>", 7}}, Pattern::kCl100k), covekit::InvalidInput);
  EXPECT_THROW(Tokenizer(bytes, {{"", 300}}, Pattern::kCl100k), covekit::InvalidInput);
  EXPECT_THROW(Tokenizer({}, {}, Pattern::kCl100k), covekit::TokenizerFileCorrupt);
}

TEST(TokenizerTables, BytesOnlyVocabularyEncodesBytes) {
  std::vector<std::pair<std::string, Rank>> bytes;
  for (int b = 0; b < 256; ++b) bytes.emplace_back(std::string(1, static_cast<char>(b)), static_cast<Rank>(b));
  const Tokenizer t(bytes, {}, Pattern::kO200k);
  std::vector<Rank> out;
  t.encode_ordinary("h\xC3\xA9", out);
  EXPECT_EQ(out, (std::vector<Rank>{'h', 0xC3, 0xA9}));
}

// token_length reads a one-byte length per id; tokens too long for it, special tokens
// and ids outside the vocabulary take the other paths.
TEST(TokenizerTables, TokenLengthOfShortLongSpecialAndUnknownIds) {
  std::vector<std::pair<std::string, Rank>> ranks;
  for (int b = 0; b < 256; ++b) ranks.emplace_back(std::string(1, static_cast<char>(b)), static_cast<Rank>(b));
  std::string run = "a";
  for (Rank r = 256; run.size() < 300; ++r) {  // "aa", "aaa", ... up to 300 bytes
    run += 'a';
    ranks.emplace_back(run, r);
  }
  const Rank last = static_cast<Rank>(ranks.size() - 1);
  const Tokenizer t(ranks, {{"<|end|>", last + 2}}, Pattern::kCl100k);
  EXPECT_EQ(t.token_length('x'), 1u);
  EXPECT_EQ(t.token_length(256), 2u);
  EXPECT_EQ(t.token_length(256 + 251), 253u);   // the longest kept in the byte table
  EXPECT_EQ(t.token_length(256 + 252), 254u);   // from here on, from the offsets
  EXPECT_EQ(t.token_length(last), 300u);
  EXPECT_EQ(t.token_length(last + 1), 0u);      // a gap between mergeable and special ids
  EXPECT_EQ(t.token_length(last + 2), 7u);      // the special token's text
  EXPECT_EQ(t.token_length(last + 3), 0u);      // beyond the vocabulary
  EXPECT_TRUE(t.is_special(last + 2));
  EXPECT_FALSE(t.is_special(last));
  EXPECT_TRUE(t.is_token(last));
  EXPECT_FALSE(t.is_token(last + 1));
  std::vector<Rank> out, merged;
  t.encode_ordinary(std::string(600, 'a'), out);
  t.encode_piece_merge(std::string(600, 'a'), merged);
  EXPECT_EQ(out, merged);
  std::string back;
  t.decode_bytes(out, back);
  EXPECT_EQ(back, std::string(600, 'a'));
}

TEST_F(Cl100k, BatchesShareMemosAndMatchSingleCalls) {
  std::vector<std::string> texts;
  for (int i = 0; i < 300; ++i)
    texts.push_back("Document " + std::to_string(i) + ": the same words again and again, \xE4\xB8\xAD\xE6\x96\x87 " +
                    std::string(static_cast<std::size_t>(i % 7), 'x'));
  texts.emplace_back("");
  std::vector<std::string_view> views(texts.begin(), texts.end());
  std::vector<std::vector<Rank>> many;
  tok_->encode_many(views, nullptr, many);
  std::vector<std::size_t> counts;
  tok_->count_many(views, nullptr, counts);
  ASSERT_EQ(many.size(), texts.size());
  for (std::size_t i = 0; i < texts.size(); ++i) {
    EXPECT_EQ(many[i], enc(texts[i]));
    EXPECT_EQ(counts[i], many[i].size());
  }
}

// The backtracking encoder must give the merge loop's tokens on every piece. Checked on
// every pre-tokenized piece of the corpus (all scripts), and on random byte strings
// made from corpus bytes with random bytes mixed in (invalid UTF-8 included), for each
// official vocabulary, all of which pass the construction check.
TEST(Backtracking, AgreesWithTheMergeLoopForEveryOfficialVocabulary) {
  const fs::path corpus = covekit::testing::data_root() / "corpus";
  COVEKIT_REQUIRE_DATA(corpus);
  std::string text;
  for (const auto& entry : fs::recursive_directory_iterator(corpus))
    if (entry.is_regular_file() && entry.path().extension() == ".txt")
      text += covekit::testing::read_file(entry.path()).substr(0, 20000);
  const std::pair<const char*, Pattern> vocabularies[] = {
      {"r50k_base", Pattern::kR50k}, {"p50k_base", Pattern::kR50k},
      {"cl100k_base", Pattern::kCl100k}, {"o200k_base", Pattern::kO200k}};
  for (const auto& [name, pattern] : vocabularies) {
    const auto t = load(name, pattern);
    if (!t) GTEST_SKIP() << "shared tokenizer data missing: " << name;
    ASSERT_TRUE(t->uses_backtracking()) << name;
    std::size_t pieces = 0;
    std::vector<Rank> a, b;
    covekit::pretokenize::split(pattern, text, [&](std::string_view piece) {
      a.clear();
      b.clear();
      t->encode_piece_merge(piece, a);
      t->encode_piece_backtrack(piece, b);
      ++pieces;
      if (a != b) ADD_FAILURE() << name << ": piece '" << piece << "'";
    });
    EXPECT_GT(pieces, 10000u);
    std::mt19937 rng(11);
    for (int k = 0; k < 20000; ++k) {
      std::string s;
      const std::size_t n = 1 + rng() % (k % 10 == 0 ? 300 : 40);  // short, and past the heap threshold
      const std::size_t at = rng() % text.size();
      for (std::size_t i = 0; i < n; ++i)
        s.push_back(rng() % 5 == 0 ? static_cast<char>(rng() % 256) : text[(at + i) % text.size()]);
      a.clear();
      b.clear();
      t->encode_piece_merge(s, a);
      t->encode_piece_backtrack(s, b);
      ASSERT_EQ(a, b) << name << ": random piece #" << k;
    }
  }
}

// A vocabulary with a token the merge loop can never build from its own bytes ("abcd":
// its bytes merge to ["a", "bc", "d"] and stop, since neither "abc" nor "bcd" is a
// token) fails the construction check and keeps the merge loop: results stay exact.
TEST(Backtracking, UnreachableTokenDisablesItAndResultsStayExact) {
  std::vector<std::pair<std::string, Rank>> v;
  for (int b = 0; b < 256; ++b) v.emplace_back(std::string(1, static_cast<char>(b)), static_cast<Rank>(b));
  v.emplace_back("bc", 256);
  v.emplace_back("ab", 257);
  v.emplace_back("abcd", 258);
  const Tokenizer t(v, {}, Pattern::kCl100k);
  EXPECT_FALSE(t.uses_backtracking());
  std::vector<Rank> out;
  t.encode_ordinary("abcd", out);  // whole-piece rule: the piece is a token
  EXPECT_EQ(out, (std::vector<Rank>{258}));
  out.clear();
  t.encode_ordinary("xabcd\xC3\xA9", out);  // not a token: the merge loop's answer
  EXPECT_EQ(out, reference_bpe(t, "xabcd\xC3\xA9"));
  EXPECT_EQ(out, (std::vector<Rank>{'x', 'a', 256, 'd', 0xC3, 0xA9}));  // "bc" outranks "ab"
  EXPECT_THROW(t.encode_piece_backtrack("abcd", out), covekit::InvalidInput);

  // The same vocabulary without the unreachable token does use backtracking, and agrees.
  v.pop_back();
  v.emplace_back("\xC3\xA9", 258);
  v.emplace_back("b\xC3\xA9", 259);
  const Tokenizer u(v, {}, Pattern::kCl100k);
  EXPECT_TRUE(u.uses_backtracking());
  for (std::string_view s : {"ab\xC3\xA9", "abc\xC3\xA9", "bbc\xC3\xA9\xC3\xA9", "\xC3\xA9" "abcabc"}) {
    std::vector<Rank> x, y;
    u.encode_piece_merge(s, x);
    u.encode_piece_backtrack(s, y);
    EXPECT_EQ(x, y) << s;
    EXPECT_EQ(x, reference_bpe(u, s)) << s;
  }
}

// A scratch space reused across calls gives exactly the results of the calls without
// it (its memos carry pieces over, long ones included), and is tied to its tokenizer.
TEST_F(Cl100k, ScratchReuseMatchesFreshCallsAndIsTiedToItsTokenizer) {
  const fs::path corpus = covekit::testing::data_root() / "corpus" / "alice_multilingual";
  COVEKIT_REQUIRE_DATA(corpus);
  auto scratch = tok_->make_scratch(1 << 20);
  const auto policy = tok_->ordinary_policy();
  for (const char* name : {"alice_th.txt", "alice_zh.txt", "alice_en.txt"}) {
    const std::string text = covekit::testing::read_file(corpus / name).substr(0, 60000);
    std::vector<Rank> a, b;
    std::vector<std::size_t> sa, sb;
    tok_->encode_with_byte_offsets(text, policy, a, sa);
    tok_->encode_with_byte_offsets(text, policy, b, sb, scratch);
    ASSERT_EQ(a, b) << name;
    ASSERT_EQ(sa, sb) << name;
    for (std::size_t cut = 1; cut < text.size(); cut += 4999) {
      const std::string_view part = std::string_view(text).substr(cut / 2, cut - cut / 2);
      ASSERT_EQ(tok_->count_ordinary(part, scratch), tok_->count_ordinary(part)) << name << " " << cut;
    }
  }
  std::vector<std::pair<std::string, Rank>> bytes;
  for (int b = 0; b < 256; ++b) bytes.emplace_back(std::string(1, static_cast<char>(b)), static_cast<Rank>(b));
  const Tokenizer other(bytes, {}, Pattern::kCl100k);
  EXPECT_THROW((void)other.count_ordinary("abc", scratch), covekit::InvalidInput);
}
