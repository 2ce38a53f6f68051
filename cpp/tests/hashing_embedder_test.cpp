#include "covekit/hashing_embedder.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <thread>
#include <vector>

#include "covekit/casefold.hpp"
#include "covekit/errors.hpp"
#include "covekit/hash.hpp"

using covekit::embed::Feature;
using covekit::embed::FeatureKind;
using covekit::embed::HashingEmbedder;
using covekit::embed::HashingOptions;

namespace {

std::vector<float> vec(const HashingEmbedder& e, std::string_view text) {
  std::vector<float> v(e.dim());
  e.embed(text, v);
  return v;
}

double norm(const std::vector<float>& v) {
  double s = 0;
  for (float x : v) s += double(x) * x;
  return std::sqrt(s);
}

double cosine(const std::vector<float>& a, const std::vector<float>& b) {
  double s = 0;
  for (std::size_t i = 0; i < a.size(); ++i) s += double(a[i]) * b[i];
  return s;
}

std::size_t count_kind(const std::vector<Feature>& fs, FeatureKind k) {
  std::size_t n = 0;
  for (const auto& f : fs) n += f.kind == k;
  return n;
}

std::vector<std::string> corpus(std::size_t n) {
  const char* words[] = {"refund", "invoice", "billing", "password", "reset", "account", "東京", "données", "ΣΊΣΥΦΟΣ"};
  std::vector<std::string> out;
  uint64_t x = 42;
  for (std::size_t i = 0; i < n; ++i) {
    std::string t;
    for (int k = 0; k < 40; ++k) {
      x = x * 6364136223846793005ULL + 1442695040888963407ULL;
      t += words[(x >> 33) % 9];
      t += (x >> 20) % 7 ? " " : ". ";
    }
    out.push_back(t);
  }
  return out;
}

}  // namespace

TEST(CaseFold, SimpleFolding) {
  using covekit::unicode::simple_fold;
  EXPECT_EQ(simple_fold(U'A'), U'a');
  EXPECT_EQ(simple_fold(U'z'), U'z');
  EXPECT_EQ(simple_fold(U'1'), U'1');
  EXPECT_EQ(simple_fold(0x130), U'i');    // İ
  EXPECT_EQ(simple_fold(0x212A), U'k');   // Kelvin sign
  EXPECT_EQ(simple_fold(0x3A3), 0x3C3u);  // Σ -> σ
  EXPECT_EQ(simple_fold(0x3C2), 0x3C3u);  // final ς -> σ
  EXPECT_EQ(simple_fold(0x17F), U's');    // long s
  EXPECT_EQ(simple_fold(0xDF), 0xDFu);    // ß stays (no one-to-one folding)
  EXPECT_EQ(simple_fold(0x6771), 0x6771u);
  EXPECT_EQ(simple_fold(0x10400), 0x10428u);  // Deseret
  for (std::size_t i = 1; i < covekit::unicode::detail::kCaseFoldSize; ++i)
    ASSERT_LT(covekit::unicode::detail::kCaseFold[i - 1].from, covekit::unicode::detail::kCaseFold[i].from);
}

TEST(HashingEmbedder, FeaturesOfASimpleText) {
  HashingOptions o;
  o.word_bigrams = true;
  HashingEmbedder e(o);
  const auto fs = e.features("Hi there");
  EXPECT_EQ(count_kind(fs, FeatureKind::word), 2u);
  EXPECT_EQ(count_kind(fs, FeatureKind::bigram), 1u);
  // "<hi>": 2 trigrams + 1 four-gram; "<there>": 5 + 4 + 3.
  EXPECT_EQ(count_kind(fs, FeatureKind::char_ngram), 15u);
  const uint64_t word_seed = covekit::hash::xxh3_64("covekit.hashing.word", 0);
  bool found = false;
  for (const auto& f : fs) {
    EXPECT_EQ(f.index, f.hash % o.dim);
    EXPECT_EQ(f.count, 1u);
    EXPECT_EQ(f.weight < 0, (f.hash >> 63) != 0);
    if (f.kind == FeatureKind::word && f.hash == covekit::hash::xxh3_64("hi", word_seed)) found = true;
  }
  EXPECT_TRUE(found) << "the word feature of 'Hi' is the seeded XXH3-64 of 'hi'";
}

TEST(HashingEmbedder, SublinearTermFrequency) {
  HashingOptions o;
  o.char_ngram_min = o.char_ngram_max = 0;
  o.word_weight = 1.0f;
  HashingEmbedder e(o);
  const auto fs = e.features("cat cat cat cat dog");
  ASSERT_EQ(fs.size(), 2u);
  const Feature& cat = fs[0].count == 4 ? fs[0] : fs[1];
  const Feature& dog = fs[0].count == 4 ? fs[1] : fs[0];
  EXPECT_EQ(cat.count, 4u);
  EXPECT_NEAR(std::abs(cat.weight) / std::abs(dog.weight), 1.0 + std::log(4.0), 1e-5);
}

TEST(HashingEmbedder, NormalizedDeterministicAndZeroForNoFeatures) {
  HashingEmbedder e;
  const auto a = vec(e, "The refund was approved on Monday.");
  EXPECT_NEAR(norm(a), 1.0, 1e-5);
  EXPECT_EQ(a, vec(e, "The refund was approved on Monday."));
  EXPECT_EQ(a, vec(e, "the REFUND was approved, on monday!"));  // case and punctuation
  for (const char* empty : {"", "   \n\t", "?!... --- ***"}) {
    const auto z = vec(e, empty);
    EXPECT_EQ(norm(z), 0.0) << empty;
  }
}

TEST(HashingEmbedder, UnicodeCaseFoldingAndInvalidBytes) {
  HashingEmbedder e;
  EXPECT_EQ(vec(e, "ΣΊΣΥΦΟΣ"), vec(e, "σίσυφος"));
  EXPECT_EQ(vec(e, "STRASSE"), vec(e, "strasse"));
  EXPECT_NE(vec(e, "straße"), vec(e, "strasse"));  // no full folding
  EXPECT_EQ(vec(e, std::string("ab\xff" "cd", 5)), vec(e, "ab cd"));
  EXPECT_EQ(vec(e, std::string("ab\xe6\x9d", 4)), vec(e, "ab"));  // truncated sequence at the end
  HashingOptions cased;
  cased.lowercase = false;
  HashingEmbedder c(cased);
  EXPECT_NE(vec(c, "Hello"), vec(c, "hello"));
}

TEST(HashingEmbedder, SimilarTextsAreCloser) {
  HashingEmbedder e;
  const auto q = vec(e, "How do I reset my password?");
  const auto near = vec(e, "Resetting your password: open settings and choose reset password.");
  const auto far = vec(e, "Quarterly revenue grew by five percent in Europe.");
  EXPECT_GT(cosine(q, near), cosine(q, far) + 0.1);
  const auto ja = vec(e, "東京に行きました");
  EXPECT_GT(cosine(ja, vec(e, "東京へ行った")), cosine(ja, vec(e, "今日は雨が降っています")));
}

TEST(HashingEmbedder, SeedAndDimChangeTheVector) {
  HashingOptions a, b;
  b.seed = 7;
  EXPECT_NE(vec(HashingEmbedder(a), "billing question"), vec(HashingEmbedder(b), "billing question"));
  HashingOptions d;
  d.dim = 3;
  HashingEmbedder small(d);
  EXPECT_EQ(vec(small, "billing question").size(), 3u);
  EXPECT_NEAR(norm(vec(small, "billing question")), 1.0, 1e-5);
}

TEST(HashingEmbedder, BadOptions) {
  auto bad = [](auto tweak) {
    HashingOptions o;
    tweak(o);
    EXPECT_THROW(HashingEmbedder{o}, covekit::InvalidInput);
  };
  bad([](HashingOptions& o) { o.dim = 0; });
  bad([](HashingOptions& o) { o.dim = covekit::embed::kMaxDim + 1; });
  bad([](HashingOptions& o) { o.char_ngram_min = 4, o.char_ngram_max = 3; });
  bad([](HashingOptions& o) { o.char_ngram_min = 0, o.char_ngram_max = 3; });
  bad([](HashingOptions& o) { o.char_ngram_max = 17; });
  bad([](HashingOptions& o) { o.word_weight = -1; });
  bad([](HashingOptions& o) { o.char_weight = NAN; });
  bad([](HashingOptions& o) {
    o.word_unigrams = false;
    o.char_ngram_min = o.char_ngram_max = 0;
  });
  HashingEmbedder e;
  std::vector<float> wrong(3);
  EXPECT_THROW(e.embed("x", wrong), covekit::InvalidInput);
  std::vector<std::string_view> none;
  EXPECT_THROW(e.fit(none, 1, 0), covekit::InvalidInput);
}

TEST(HashingEmbedder, FitLowersCommonFeatures) {
  HashingOptions o;
  o.char_ngram_min = o.char_ngram_max = 0;
  o.word_weight = 1.0f;
  HashingEmbedder e(o);
  const std::vector<std::string_view> docs = {"the cat", "the dog", "the bird", "a fish"};
  e.fit(docs);
  EXPECT_TRUE(e.fitted());
  EXPECT_EQ(e.fitted_documents(), 4u);
  EXPECT_EQ(e.vocabulary_size(), 6u);
  const auto fs = e.features("the cat");
  ASSERT_EQ(fs.size(), 2u);
  const uint64_t the = covekit::hash::xxh3_64("the", covekit::hash::xxh3_64("covekit.hashing.word", 0));
  const Feature& f_the = fs[0].hash == the ? fs[0] : fs[1];
  const Feature& f_cat = fs[0].hash == the ? fs[1] : fs[0];
  // idf = ln((1 + N) / (1 + df)) + 1
  const double idf_the = std::log(5.0 / 4.0) + 1, idf_cat = std::log(5.0 / 2.0) + 1;
  EXPECT_NEAR(std::abs(f_the.weight) / std::abs(f_cat.weight), idf_the / idf_cat, 1e-5);
  const uint64_t before = e.fingerprint();
  e.fit(docs, 1, 2);  // min_df 2 keeps only "the"
  EXPECT_EQ(e.vocabulary_size(), 1u);
  EXPECT_NE(e.fingerprint(), before);
  e.clear_fit();
  EXPECT_FALSE(e.fitted());
  EXPECT_EQ(e.fingerprint(), HashingEmbedder(o).fingerprint());
}

TEST(HashingEmbedder, StateRoundTripAndCorruption) {
  HashingOptions o;
  o.dim = 64;
  o.seed = 99;
  o.word_bigrams = true;
  HashingEmbedder e(o);
  const auto docs = corpus(50);
  std::vector<std::string_view> views(docs.begin(), docs.end());
  e.fit(views);
  const std::string state = e.to_bytes();
  const auto back = HashingEmbedder::from_bytes(state);
  EXPECT_EQ(back->fingerprint(), e.fingerprint());
  EXPECT_EQ(back->to_bytes(), state);
  EXPECT_EQ(vec(*back, docs[3]), vec(e, docs[3]));
  EXPECT_EQ(back->options().seed, 99u);

  using covekit::EmbedderStateCorrupt;
  EXPECT_THROW((void)HashingEmbedder::from_bytes(""), EmbedderStateCorrupt);
  EXPECT_THROW((void)HashingEmbedder::from_bytes("not a state at all"), EmbedderStateCorrupt);
  EXPECT_THROW((void)HashingEmbedder::from_bytes(state.substr(0, state.size() - 1)), EmbedderStateCorrupt);
  EXPECT_THROW((void)HashingEmbedder::from_bytes(state.substr(0, 20)), EmbedderStateCorrupt);
  for (std::size_t pos : {std::size_t{9}, std::size_t{16}, state.size() / 2, state.size() - 1}) {
    std::string flipped = state;
    flipped[pos] = static_cast<char>(flipped[pos] ^ 0x01);
    EXPECT_THROW((void)HashingEmbedder::from_bytes(flipped), EmbedderStateCorrupt) << pos;
  }
}

TEST(HashingEmbedder, ThreadsGiveIdenticalRows) {
  HashingEmbedder e;
  const auto docs = corpus(400);
  std::vector<std::string_view> views(docs.begin(), docs.end());
  e.fit(views, 4);
  HashingEmbedder serial_fit;
  serial_fit.fit(views, 1);
  EXPECT_EQ(serial_fit.fingerprint(), e.fingerprint());
  std::vector<float> one(views.size() * e.dim()), four(views.size() * e.dim());
  e.embed_batch(views, one, 1);
  e.embed_batch(views, four, 4);
  EXPECT_EQ(one, four);
  EXPECT_EQ(std::vector<float>(one.begin(), one.begin() + e.dim()), vec(e, docs[0]));
}

TEST(HashingEmbedder, ThreadsEmbedWhileAnotherFits) {
  HashingEmbedder e;
  const auto docs = corpus(200);
  std::vector<std::string_view> views(docs.begin(), docs.end());
  std::vector<std::jthread> readers;
  for (int t = 0; t < 3; ++t) {
    readers.emplace_back([&] {
      for (int round = 0; round < 20; ++round) {
        const auto v = vec(e, docs[static_cast<std::size_t>(round)]);
        const double n = norm(v);
        EXPECT_NEAR(n, 1.0, 1e-5);
        (void)e.fingerprint();
      }
    });
  }
  for (int round = 0; round < 3; ++round) e.fit(views, 2);
  readers.clear();
  EXPECT_TRUE(e.fitted());
}

TEST(HashingEmbedder, HugeText) {
  HashingEmbedder e;
  std::string big;
  for (int i = 0; i < 100000; ++i) big += "word" + std::to_string(i % 997) + " ";
  const auto v = vec(e, big);
  EXPECT_NEAR(norm(v), 1.0, 1e-5);
  const std::string one_word(1 << 20, 'a');
  EXPECT_NEAR(norm(vec(e, one_word)), 1.0, 1e-5);
}
