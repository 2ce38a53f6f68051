#include "covekit/grounding.hpp"

#include <gtest/gtest.h>

#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "covekit/bm25.hpp"
#include "covekit/errors.hpp"

using covekit::grounding::Grounder;
using covekit::grounding::RankedSentence;
using covekit::grounding::SupportResult;

namespace {

std::string_view slice(std::string_view t, const covekit::grounding::Span& s) {
  return t.substr(s.begin, s.end - s.begin);
}

const std::vector<std::string_view> kPassages = {
    "Refunds take 5 days. Shipping is free for orders over 50 euros.",
    "Our office is in Berlin. Refunds are not available for gift cards.",
};
const std::vector<int64_t> kMarkers = {1, 2};

}  // namespace

TEST(GroundingRank, BestSentenceFirstWithSpans) {
  const Grounder g;
  const auto r = g.rank("How long do refunds take?", kPassages);
  ASSERT_EQ(r.size(), 4u);
  EXPECT_EQ(r[0].passage, 0u);
  EXPECT_EQ(slice(kPassages[0], r[0].span), "Refunds take 5 days.");
  EXPECT_EQ(r[0].span.start, 0u);
  EXPECT_EQ(r[0].span.stop, 20u);
  // Terms how, long, do, refund, take: the sentence has refund and take, 2 of 5.
  EXPECT_DOUBLE_EQ(r[0].overlap, 0.4);
  for (std::size_t i = 1; i < r.size(); ++i) EXPECT_GE(r[i - 1].score, r[i].score);
}

TEST(GroundingRank, OverlapIsShareOfQuestionTerms) {
  const Grounder g;
  const auto r = g.rank("refunds berlin office", kPassages);
  // "Our office is in Berlin." covers berlin and office: 2 of 3.
  EXPECT_EQ(slice(kPassages[r[0].passage], r[0].span), "Our office is in Berlin.");
  EXPECT_NEAR(r[0].overlap, 2.0 / 3.0, 1e-12);
}

TEST(GroundingRank, Bm25EqualsTheIndexOverTheSameSentences) {
  // The sentence collection scored by bm25::Index (same k1, b, analyzer) gives the same scores.
  const Grounder g;
  const std::string question = "refunds for gift cards take days";
  const auto r = g.rank(question, kPassages);
  covekit::bm25::Index index(covekit::bm25::Params{1.2, 0.75}, covekit::grounding::default_analyzer());
  std::vector<uint64_t> ids;
  std::vector<std::string_view> texts;
  for (const RankedSentence& s : r) {
    ids.push_back(ids.size());
    texts.push_back(slice(kPassages[s.passage], s.span));
  }
  index.add(ids, texts);
  const auto hits = index.search_exhaustive(question, ids.size());
  for (const auto& h : hits) EXPECT_NEAR(r[h.id].bm25, h.score, 1e-4) << texts[h.id];
}

TEST(GroundingRank, TiesKeepPositionAndTopK) {
  const Grounder g;
  const std::vector<std::string_view> same = {"Cats sleep.", "Cats sleep.", "Cats sleep."};
  const auto r = g.rank("cats", same);
  ASSERT_EQ(r.size(), 3u);
  EXPECT_EQ(r[0].passage, 0u);
  EXPECT_EQ(r[1].passage, 1u);
  EXPECT_EQ(r[2].passage, 2u);
  EXPECT_EQ(g.rank("cats", same, 2).size(), 2u);
}

TEST(GroundingRank, EmptyInputs) {
  const Grounder g;
  EXPECT_TRUE(g.rank("refunds", {}).empty());
  const auto r = g.rank("", kPassages);
  ASSERT_EQ(r.size(), 4u);
  for (const auto& s : r) EXPECT_EQ(s.score, 0.0);
  const std::vector<std::string_view> blank = {"", "   \n\n "};
  EXPECT_TRUE(g.rank("refunds", blank).empty());
}

TEST(GroundingRank, UnicodeOffsetsAreCodePoints) {
  const Grounder g;
  const std::vector<std::string_view> p = {"Café ouvert. 東京は日本の首都です。大阪は大きい。"};
  const auto r = g.rank("東京の首都", p);
  ASSERT_EQ(r.size(), 3u);
  EXPECT_EQ(slice(p[0], r[0].span), "東京は日本の首都です。");
  EXPECT_EQ(r[0].span.start, 13u);
  EXPECT_EQ(r[0].span.stop, 24u);
}

TEST(GroundingRank, HugePassage) {
  const Grounder g;
  std::string big;
  for (int i = 0; i < 20000; ++i) big += "Sentence number " + std::to_string(i) + " talks about refunds. ";
  const std::vector<std::string_view> p = {big};
  const auto r = g.rank("refunds number 19999", p, 1);
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(slice(big, r[0].span), "Sentence number 19999 talks about refunds.");
}

TEST(GroundingRank, BadInput) {
  const std::vector<std::string_view> bad = {"ok", "\xff\xfe"};
  EXPECT_THROW((void)Grounder().rank("q", bad), covekit::InvalidUtf8);
  EXPECT_THROW(Grounder(covekit::grounding::Options{-1, 0.75, 0.5}), covekit::InvalidInput);
  EXPECT_THROW(Grounder(covekit::grounding::Options{1.2, 2, 0.5}), covekit::InvalidInput);
  EXPECT_THROW(Grounder(covekit::grounding::Options{1.2, 0.75, 1.5}), covekit::InvalidInput);
}

TEST(GroundingMarkers, SinglesAndLists) {
  const std::string t = "A [1]. B [2, 3]. Not [x] nor [] nor [1234567890]. C[4][5].";
  const auto m = covekit::grounding::markers(t);
  std::vector<int64_t> values;
  for (const auto& x : m) values.push_back(x.value);
  EXPECT_EQ(values, (std::vector<int64_t>{1, 2, 3, 4, 5}));
  EXPECT_EQ(slice(t, m[1].span), "[2, 3]");
  EXPECT_EQ(m[1].span.begin, m[2].span.begin);
}

TEST(GroundingSupport, VerbatimSentenceIsFullySupported) {
  const Grounder g;
  const SupportResult r = g.support("Refunds take 5 days [1].", kPassages, kMarkers);
  ASSERT_EQ(r.sentences.size(), 1u);
  EXPECT_DOUBLE_EQ(r.sentences[0].support, 1.0);
  EXPECT_EQ(r.sentences[0].markers, (std::vector<int64_t>{1}));
  EXPECT_EQ(r.sentences[0].source, 1);
  EXPECT_TRUE(r.dangling.empty());
}

TEST(GroundingSupport, WrongNumberAndNegationLowerSupport) {
  const Grounder g;
  const SupportResult r = g.support("Refunds take 7 days [1]. Refunds are available for gift cards [2].", kPassages,
                                    kMarkers);
  ASSERT_EQ(r.sentences.size(), 2u);
  // A = {refund, take, 7, dai}: 3 of 4; bigrams (refund take) of 3: support (3/4 + 1/3) / 2.
  EXPECT_NEAR(r.sentences[0].support, (0.75 + 1.0 / 3.0) / 2.0, 1e-12);
  // {refund, avail, gift, card} are all in passage 2, but the bigram (refund, avail) is
  // not: there "not" stands between them. (1 + 2/3) / 2.
  EXPECT_NEAR(r.sentences[1].support, (1.0 + 2.0 / 3.0) / 2.0, 1e-12);
  EXPECT_LT(r.sentences[1].support, 1.0);
}

TEST(GroundingSupport, BestCitedPassageAndUncitedSentences) {
  const Grounder g;
  // Cited [2] only: the first sentence is checked against [2] and fails; the second,
  // uncited, is checked against what the answer cites ([2]).
  const SupportResult r = g.support("Refunds take 5 days [2]. Our office is in Berlin.", kPassages, kMarkers);
  ASSERT_EQ(r.sentences.size(), 2u);
  EXPECT_LT(r.sentences[0].support, 0.5);
  EXPECT_DOUBLE_EQ(r.sentences[1].support, 1.0);
  EXPECT_TRUE(r.sentences[1].markers.empty());
  EXPECT_EQ(r.sentences[1].source, 2);
  // Nothing cited: every passage is a candidate.
  EXPECT_DOUBLE_EQ(g.support("Refunds take 5 days.", kPassages, kMarkers).sentences[0].support, 1.0);
}

TEST(GroundingSupport, MarkerOnlySentenceMergesAndDanglingMarkers) {
  const Grounder g;
  const std::string a = "Refunds take 5 days. [1] [7]";
  const SupportResult r = g.support(a, kPassages, kMarkers);
  ASSERT_EQ(r.sentences.size(), 1u);
  EXPECT_EQ(r.sentences[0].span.stop, a.size());
  EXPECT_EQ(r.sentences[0].markers, (std::vector<int64_t>{1, 7}));
  EXPECT_EQ(r.dangling, (std::vector<int64_t>{7}));
  const SupportResult only = g.support("It is true [9].", kPassages, kMarkers);
  EXPECT_DOUBLE_EQ(only.sentences[0].support, 0.0);  // "true" cited to nothing
}

TEST(GroundingSupport, Quotes) {
  const Grounder g;
  const std::vector<std::string_view> p = {"The policy says refunds take\n5   days, always."};
  const std::vector<int64_t> mk = {3};
  const std::string a =
      "It says \"refunds take 5 days\" [3]. It also says \xE2\x80\x9Crefunds take 6 days\xE2\x80\x9D [3]. "
      "An \"unclosed quote.";
  const SupportResult r = g.support(a, p, mk);
  ASSERT_EQ(r.quotes.size(), 2u);
  EXPECT_TRUE(r.quotes[0].verbatim);
  EXPECT_EQ(r.quotes[0].source, 3);
  EXPECT_EQ(slice(a, r.quotes[0].span), "refunds take 5 days");
  EXPECT_FALSE(r.quotes[1].verbatim);
  EXPECT_EQ(r.quotes[1].sentence, 1u);
  // Case matters; markers inside a quote are left out.
  EXPECT_FALSE(g.support("\"Refunds take 5 days\" [3]", p, mk).quotes[0].verbatim);
  EXPECT_TRUE(g.support("\"refunds take 5 days [3]\"", p, mk).quotes[0].verbatim);
}

TEST(GroundingSupport, EmptyAndBadInput) {
  const Grounder g;
  const SupportResult r = g.support("", kPassages, kMarkers);
  EXPECT_TRUE(r.sentences.empty());
  EXPECT_TRUE(g.support("Refunds [1].", {}, {}).dangling == std::vector<int64_t>{1});
  const std::vector<int64_t> one = {1};
  EXPECT_THROW((void)g.support("x", kPassages, one), covekit::InvalidInput);
  const std::vector<int64_t> twice = {1, 1};
  EXPECT_THROW((void)g.support("x", kPassages, twice), covekit::InvalidInput);
  EXPECT_THROW((void)g.support("\xc3", kPassages, kMarkers), covekit::InvalidUtf8);
  // No terms: nothing to check.
  EXPECT_DOUBLE_EQ(g.support("\xE2\x80\x94 !", kPassages, kMarkers).sentences[0].support, 1.0);
}

TEST(GroundingSupport, UnicodeAndHuge) {
  const Grounder g;
  const std::vector<std::string_view> p = {"東京は日本の首都です。"};
  const std::vector<int64_t> mk = {1};
  const std::string a = "Ça va. 東京は日本の首都です [1]。";
  const SupportResult r = g.support(a, p, mk);
  ASSERT_EQ(r.sentences.size(), 2u);
  EXPECT_EQ(r.sentences[1].span.start, 7u);
  EXPECT_DOUBLE_EQ(r.sentences[1].support, 1.0);
  std::string big;
  for (int i = 0; i < 20000; ++i) big += "Refunds take 5 days [1]. ";
  const SupportResult h = g.support(big, kPassages, kMarkers);
  EXPECT_EQ(h.sentences.size(), 20000u);
  EXPECT_DOUBLE_EQ(h.sentences.back().support, 1.0);
}

TEST(GroundingThread, ConcurrentCallsAgree) {
  const Grounder g;
  const auto want_rank = g.rank("refunds take days", kPassages);
  const auto want = g.support("Refunds take 5 days [1]. \"free for orders\" [1].", kPassages, kMarkers);
  std::vector<std::thread> threads;
  std::vector<int> ok(4, 0);
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&, t] {
      bool same = true;
      for (int i = 0; i < 50; ++i) {
        const auto r = g.rank("refunds take days", kPassages);
        const auto s = g.support("Refunds take 5 days [1]. \"free for orders\" [1].", kPassages, kMarkers);
        same = same && r.size() == want_rank.size() && r[0].score == want_rank[0].score &&
               s.sentences.size() == want.sentences.size() && s.quotes.size() == want.quotes.size() &&
               s.quotes[0].verbatim;
      }
      ok[t] = same ? 1 : 0;
    });
  for (auto& th : threads) th.join();
  for (int v : ok) EXPECT_EQ(v, 1);
}
