#include "covekit/chunker.hpp"

#include <gtest/gtest.h>

#include <memory>
#include <random>
#include <string>
#include <vector>

#include "covekit/errors.hpp"
#include "covekit/markdown.hpp"
#include "covekit/segment.hpp"
#include "covekit/unicode.hpp"
#include "test_data.hpp"

using covekit::Tokenizer;
using covekit::chunking::Chunker;
using covekit::chunking::Options;
using covekit::chunking::Strategy;
namespace fs = std::filesystem;
namespace seg = covekit::segment;

namespace {

std::vector<std::string> sentences_of(const std::string& text) {
  std::vector<seg::Boundary> b;
  seg::scan_line(text, 0, text.size(), true, b);
  std::vector<std::string> out;
  std::size_t start = 0;
  for (const auto& x : b) {
    if (x.level != seg::kSentence) continue;
    out.push_back(text.substr(start, x.pos - start));
    start = seg::skip_space(text, x.pos);
  }
  if (start < text.size()) out.push_back(text.substr(start));
  return out;
}

TEST(Segment, SentenceRules) {
  EXPECT_EQ(sentences_of("Dr. Smith paid $3.50 today. Then he left."),
            (std::vector<std::string>{"Dr. Smith paid $3.50 today.", "Then he left."}));
  EXPECT_EQ(sentences_of("The U.S. team won. \"Stop!\" he said. Wait... and then? Yes."),
            (std::vector<std::string>{"The U.S. team won.", "\"Stop!\" he said.", "Wait... and then?", "Yes."}));
  EXPECT_EQ(sentences_of("東京です。大阪です！本当？"),
            (std::vector<std::string>{"東京です。", "大阪です！", "本当？"}));
  EXPECT_EQ(sentences_of("J. R. R. Tolkien wrote it. Fine."),
            (std::vector<std::string>{"J. R. R. Tolkien wrote it.", "Fine."}));
}

// is_space must be Python's str.isspace() on every code point: Unicode White_Space
// plus U+001C..U+001F and U+0085.
TEST(Segment, IsSpaceOnEveryCodePoint) {
  for (char32_t cp = 0; cp <= 0x10FFFF; ++cp) {
    const bool expected = (cp >= 0x1C && cp <= 0x1F) || cp == 0x85 || covekit::unicode::is_space(cp);
    ASSERT_EQ(seg::is_space(cp), expected) << std::hex << static_cast<uint32_t>(cp);
  }
}

TEST(Segment, HardTerminators) {
  for (const char32_t cp : {0x037EU, 0x0589U, 0x061FU, 0x06D4U, 0x0964U, 0x0965U, 0x104AU, 0x1362U, 0x17D4U,
                            0x3002U, 0xA4FFU, 0xFF01U, 0xFF0EU, 0xFF1FU, 0xFF61U, 0x11047U, 0x16E98U, 0x1DA88U})
    EXPECT_TRUE(seg::is_hard_terminator(cp)) << std::hex << static_cast<uint32_t>(cp);
  for (const char32_t cp : {0x2EU, 0x21U, 0x037DU, 0x0963U, 0x0966U, 0x3001U, 0x3003U, 0x3042U, 0x4E2DU, 0xAC00U,
                            0xFF02U, 0x0E01U, 0x11046U, 0x1DA89U, 0x10FFFFU})
    EXPECT_FALSE(seg::is_hard_terminator(cp)) << std::hex << static_cast<uint32_t>(cp);
  EXPECT_EQ(sentences_of("यह है। वह था।"), (std::vector<std::string>{"यह है।", "वह था।"}));
}

TEST(Segment, WordsAndSpaces) {
  std::vector<seg::Boundary> b;
  const std::string t = "ab  cd\u3000ef";
  seg::scan_line(t, 0, t.size(), false, b);
  ASSERT_EQ(b.size(), 2u);
  EXPECT_EQ(b[0].pos, 2u);
  EXPECT_EQ(b[1].pos, 6u);
  EXPECT_EQ(seg::skip_space(t, 2), 4u);
  EXPECT_EQ(seg::trim_back(t, 0, 4), 2u);
  EXPECT_TRUE(seg::continues_cluster(0x200D));
  EXPECT_TRUE(seg::continues_cluster(0x0301));
  EXPECT_FALSE(seg::continues_cluster('a'));
}

TEST(Markdown, HeadingsListsCodeTables) {
  const std::string t =
      "# Title\n\nPara one.\n\n## Sub ##\n\n- item\n  - nested\n\n```\ncode\nmore\n```\n\n| a |\n| b |\n\n"
      "Setext\n===\n";
  const auto s = covekit::markdown::analyze(t, true);
  ASSERT_EQ(s.headings.size(), 3u);
  EXPECT_EQ(t.substr(s.headings[0].text_begin, s.headings[0].text_end - s.headings[0].text_begin), "Title");
  EXPECT_EQ(t.substr(s.headings[1].text_begin, s.headings[1].text_end - s.headings[1].text_begin), "Sub");
  EXPECT_EQ(s.headings[1].depth, 2);
  EXPECT_EQ(t.substr(s.headings[2].text_begin, s.headings[2].text_end - s.headings[2].text_begin), "Setext");
  for (std::size_t i = 1; i < s.boundaries.size(); ++i) EXPECT_LT(s.boundaries[i - 1].pos, s.boundaries[i].pos);
  auto level_at = [&](std::size_t pos) {
    for (const auto& b : s.boundaries)
      if (b.pos == pos) return static_cast<int>(b.level);
    return -1;
  };
  EXPECT_EQ(level_at(t.find("\n\n## Sub")), seg::kSection);
  EXPECT_EQ(level_at(t.find("\n  - nested")), seg::kSubItem);
  EXPECT_EQ(level_at(t.find("\nmore")), seg::kSubItem);
  EXPECT_EQ(level_at(t.find("\n| b |")), seg::kItem);
}

TEST(Chunking, Validation) {
  Options o;
  o.max_tokens = 0;
  EXPECT_THROW(covekit::chunking::validate(o), covekit::InvalidInput);
  o.max_tokens = 10;
  o.overlap_tokens = 10;
  EXPECT_THROW(covekit::chunking::validate(o), covekit::InvalidInput);
  EXPECT_THROW((void)covekit::chunking::parse_strategy("words"), covekit::InvalidInput);
}

TEST(Chunking, Offsets) {
  const std::string t = "aé日🙂b";
  std::vector<uint32_t> bytes = {0, 1, 3, 6, 10, 11};
  std::vector<uint64_t> chars;
  covekit::chunking::byte_to_char(t, bytes, chars);
  EXPECT_EQ(chars, (std::vector<uint64_t>{0, 1, 2, 3, 4, 5}));
  std::vector<uint32_t> back;
  covekit::chunking::char_to_byte(t, chars, back);
  EXPECT_EQ(back, bytes);
  std::vector<uint64_t> past = {6};
  EXPECT_THROW(covekit::chunking::char_to_byte(t, past, back), covekit::InvalidInput);
}

class ChunkerCl100k : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    const fs::path p = covekit::testing::data_root() / "tokenizers" / "cl100k_base.tiktoken";
    if (!fs::exists(p)) return;
    tok_ = std::make_unique<Tokenizer>(covekit::parse_tiktoken_bpe(covekit::testing::read_file(p)),
                                       std::vector<std::pair<std::string, covekit::Rank>>{},
                                       covekit::pretokenize::Pattern::kCl100k, "cl100k_base");
  }
  static void TearDownTestSuite() { tok_.reset(); }
  void SetUp() override {
    if (!tok_) GTEST_SKIP() << "shared tokenizer files missing";
  }

  // The invariants: exact counts within the limit, spans in order, no blank chunk,
  // and (without overlap) only whitespace between chunks.
  static void check(const std::string& text, const Options& o) {
    Chunker c(*tok_, o);
    const auto r = c.chunk(text, "doc");
    std::size_t prev_end = 0, prev_begin = 0;
    for (std::size_t i = 0; i < r.chunks.size(); ++i) {
      const auto& k = r.chunks[i];
      const std::string_view piece = std::string_view(text).substr(k.begin, k.end - k.begin);
      ASSERT_LT(k.begin, k.end);
      EXPECT_EQ(tok_->count_ordinary(piece), k.token_count);
      EXPECT_LE(k.token_count, o.max_tokens);
      EXPECT_LT(seg::skip_space(text, k.begin), k.end);
      if (o.overlap_tokens == 0 && o.overlap_sentences == 0) {
        EXPECT_GE(seg::skip_space(text, prev_end), i == 0 ? seg::skip_space(text, 0) : k.begin);
        EXPECT_EQ(seg::skip_space(text, prev_end), o.strategy == Strategy::kToken ? seg::skip_space(text, k.begin) : k.begin);
      } else {
        EXPECT_GE(k.begin, prev_begin);
        if (i > 0) {
          EXPECT_GT(k.end, prev_end);
        }
      }
      prev_end = k.end;
      prev_begin = k.begin;
    }
    if (!r.chunks.empty()) {
      EXPECT_EQ(seg::skip_space(text, r.chunks.back().end), text.size());
    }
    // Deterministic.
    const auto again = c.chunk(text, "doc");
    ASSERT_EQ(again.chunks.size(), r.chunks.size());
    for (std::size_t i = 0; i < r.chunks.size(); ++i) EXPECT_EQ(again.chunks[i].id, r.chunks[i].id);
  }

  static std::unique_ptr<Tokenizer> tok_;
};

std::unique_ptr<Tokenizer> ChunkerCl100k::tok_;

TEST_F(ChunkerCl100k, RandomTextEveryStrategy) {
  std::mt19937 rng(7);
  const std::vector<std::string> parts = {"word", " ", "\n", "\n\n", ". ", "Mr. ", "日本", "。", "ไทย", "🙂",
                                          "# H\n", "- item\n", "```\nx\n```\n", "| a |\n", "\r\n", "é"};
  for (int round = 0; round < 60; ++round) {
    std::string text;
    const int n = static_cast<int>(rng() % 300);
    for (int i = 0; i < n; ++i) text += parts[rng() % parts.size()];
    for (Strategy s : {Strategy::kRecursive, Strategy::kToken, Strategy::kSentence}) {
      for (std::size_t max : {4u, 9u, 64u}) {
        Options o;
        o.strategy = s;
        o.max_tokens = max;
        check(text, o);
        if (s == Strategy::kSentence) {
          o.overlap_sentences = 1;
        } else {
          o.overlap_tokens = max / 2;
        }
        check(text, o);
      }
    }
  }
}

TEST_F(ChunkerCl100k, LongLineWithoutBoundaries) {
  std::string text;
  for (int i = 0; i < 20000; ++i) text += "\xe4\xb8\x80";  // 一, no spaces or stops
  Options o;
  o.max_tokens = 100;
  o.overlap_tokens = 10;
  check(text, o);
  o.strategy = Strategy::kToken;
  check(text, o);
}

TEST_F(ChunkerCl100k, CharacterTooBigForLimit) {
  Options o;
  o.max_tokens = 1;
  Chunker c(*tok_, o);
  EXPECT_THROW((void)c.chunk("\xf0\x9f\xa7\xbf", ""), covekit::InvalidInput);  // 🧿
}

TEST_F(ChunkerCl100k, HardBreaksAreNotCrossed) {
  const std::string text = "One two. Three four. Five six.";
  Options o;
  o.strategy = Strategy::kSemantic;
  o.max_tokens = 100;
  Chunker c(*tok_, o);
  const std::vector<uint32_t> breaks = {static_cast<uint32_t>(text.find(" Three"))};
  const auto r = c.chunk(text, "", breaks);
  ASSERT_EQ(r.chunks.size(), 2u);
  EXPECT_EQ(r.chunks[0].end, breaks[0]);
}

}  // namespace
