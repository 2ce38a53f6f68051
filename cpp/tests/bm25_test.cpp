#include "covekit/bm25.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "covekit/analyzer.hpp"
#include "covekit/errors.hpp"

using covekit::analysis::Analyzer;
using covekit::analysis::AnalyzerOptions;
using covekit::analysis::Stemmer;
using covekit::bm25::AllowedBits;
using covekit::bm25::Hit;
using covekit::bm25::Index;
using covekit::bm25::Strategy;

namespace {

std::string stem(std::string w) {
  covekit::analysis::porter_stem_ascii(w);
  return w;
}

// Random documents over a small Zipf-like vocabulary (many shared terms, long lists).
std::vector<std::string> random_docs(std::mt19937_64& rng, std::size_t n, std::size_t vocab, std::size_t max_len) {
  std::vector<std::string> docs;
  std::uniform_int_distribution<std::size_t> len(0, max_len);
  for (std::size_t i = 0; i < n; ++i) {
    std::string d;
    const std::size_t l = len(rng);
    for (std::size_t j = 0; j < l; ++j) {
      // Squaring a uniform draw skews towards small term numbers.
      const double u = std::uniform_real_distribution<double>(0, 1)(rng);
      const auto t = static_cast<std::size_t>(u * u * static_cast<double>(vocab));
      d += "w" + std::to_string(t) + " ";
    }
    docs.push_back(std::move(d));
  }
  return docs;
}

void add_all(Index& index, const std::vector<std::string>& docs, uint64_t first_id = 1000) {
  std::vector<uint64_t> ids;
  std::vector<std::string_view> views;
  for (std::size_t i = 0; i < docs.size(); ++i) {
    ids.push_back(first_id + i * 7);
    views.emplace_back(docs[i]);
  }
  index.add(ids, views);
}

void expect_same(const std::vector<Hit>& a, const std::vector<Hit>& b) {
  ASSERT_EQ(a.size(), b.size());
  for (std::size_t i = 0; i < a.size(); ++i) {
    EXPECT_EQ(a[i].id, b[i].id) << "rank " << i;
    EXPECT_EQ(a[i].score, b[i].score) << "rank " << i;
  }
}

}  // namespace

TEST(Porter, LuceneExamples) {
  // Martin Porter's published vocabulary/output pairs (the reference C version).
  EXPECT_EQ(stem("caresses"), "caress");
  EXPECT_EQ(stem("ponies"), "poni");
  EXPECT_EQ(stem("ties"), "ti");
  EXPECT_EQ(stem("cats"), "cat");
  EXPECT_EQ(stem("feed"), "feed");
  EXPECT_EQ(stem("agreed"), "agre");
  EXPECT_EQ(stem("plastered"), "plaster");
  EXPECT_EQ(stem("motoring"), "motor");
  EXPECT_EQ(stem("sing"), "sing");
  EXPECT_EQ(stem("conflated"), "conflat");
  EXPECT_EQ(stem("hopping"), "hop");
  EXPECT_EQ(stem("falling"), "fall");
  EXPECT_EQ(stem("filing"), "file");
  EXPECT_EQ(stem("happy"), "happi");
  EXPECT_EQ(stem("relational"), "relat");
  EXPECT_EQ(stem("conditional"), "condit");
  EXPECT_EQ(stem("generalization"), "gener");
  EXPECT_EQ(stem("oscillators"), "oscil");
  EXPECT_EQ(stem("hopefulness"), "hope");
  EXPECT_EQ(stem("electrical"), "electr");
  EXPECT_EQ(stem("adjustment"), "adjust");
  EXPECT_EQ(stem("adoption"), "adopt");
  EXPECT_EQ(stem("controlling"), "control");
  EXPECT_EQ(stem("rolling"), "roll");
  EXPECT_EQ(stem("possibly"), "possibl");
  EXPECT_EQ(stem("archaeology"), "archaeolog");  // the "logi" departure
  EXPECT_EQ(stem("is"), "is");                    // two letters: untouched
  EXPECT_EQ(stem("a"), "a");
  std::u32string w = U"cafés";
  covekit::analysis::porter_stem(w);
  EXPECT_EQ(w, U"café");
}

TEST(Analyzer, EnglishDefaults) {
  const Analyzer a;
  EXPECT_EQ(a.analyze("The cats' owners were running, e.g. in John's house!"),
            (std::vector<std::string>{"cat", "owner", "were", "run", "e.g", "john", "hous"}));
  EXPECT_EQ(a.analyze("3.14 and 1,000 U.S.A. don't"), (std::vector<std::string>{"3.14", "1,000", "u.s.a", "don't"}));
  EXPECT_EQ(a.analyze(""), std::vector<std::string>{});
  EXPECT_EQ(a.analyze("  ,,, !! "), std::vector<std::string>{});
  EXPECT_EQ(a.analyze("ÉCOLE Straße ΣΟΦΙΑ"), (std::vector<std::string>{"école", "straße", "σοφια"}));
}

TEST(Analyzer, CjkBigrams) {
  const Analyzer a;
  EXPECT_EQ(a.analyze("東京都に住む"), (std::vector<std::string>{"東京", "京都", "都に", "に住", "住む"}));
  EXPECT_EQ(a.analyze("x 中 y"), (std::vector<std::string>{"x", "中", "y"}));
  const Analyzer uni(AnalyzerOptions{true, Stemmer::kNone, false, {}});
  EXPECT_EQ(uni.analyze("東京abc"), (std::vector<std::string>{"東", "京", "abc"}));
}

TEST(Analyzer, OptionsAndErrors) {
  const Analyzer plain(AnalyzerOptions{false, Stemmer::kNone, true, {}});
  EXPECT_EQ(plain.analyze("The Running"), (std::vector<std::string>{"The", "Running"}));
  EXPECT_THROW(Analyzer(AnalyzerOptions{true, Stemmer::kNone, true, {""}}), covekit::InvalidInput);
  EXPECT_THROW((void)plain.analyze(std::string_view("ok\xff", 3)), covekit::InvalidUtf8);
  const std::string huge(300, 'a');
  EXPECT_EQ(plain.analyze(huge).size(), 2u);  // cut at 255 code points
}

// MaxScore returns exactly what exhaustive scoring returns, on random data with
// deletes, re-adds, filters and long queries.
TEST(Bm25, PruningEqualsExhaustive) {
  std::mt19937_64 rng(42);
  for (int round = 0; round < 6; ++round) {
    Index index(covekit::bm25::Params{round % 2 ? 1.2 : 0.9, round % 3 ? 0.75 : 0.4},
                Analyzer(AnalyzerOptions{true, Stemmer::kNone, true, {}}));
    const auto docs = random_docs(rng, 600 + 300 * round, 40 + 30 * round, 30);
    add_all(index, docs);
    if (round % 2) {
      std::vector<uint64_t> del;
      for (std::size_t i = 0; i < docs.size(); i += 3) del.push_back(1000 + i * 7);
      EXPECT_EQ(index.remove(del), del.size());
      if (round == 3) index.compact();
    }
    std::vector<uint64_t> bits((index.internal_capacity() + 63) / 64);
    for (std::size_t i = 0; i < index.internal_capacity(); ++i)
      if (rng() % 2) bits[i / 64] |= uint64_t{1} << (i % 64);
    const AllowedBits allowed(bits);
    const auto queries = random_docs(rng, 40, 60 + 30 * round, 25);
    for (const std::string& q : queries) {
      for (std::size_t k : {1, 10, 100}) {
        const auto exact = index.search_exhaustive(q, k);
        expect_same(index.search(q, k, nullptr, Strategy::kMaxScore), exact);
        expect_same(index.search(q, k), exact);
        expect_same(index.search(q, k, &allowed, Strategy::kMaxScore), index.search_exhaustive(q, k, &allowed));
      }
    }
  }
}

TEST(Bm25, EmptyIndexAndQuery) {
  Index index;
  EXPECT_TRUE(index.search("anything", 10).empty());
  const std::vector<std::string> docs = {"alpha beta", "", "gamma"};
  add_all(index, docs);
  EXPECT_EQ(index.size(), 3u);
  EXPECT_TRUE(index.search("", 10).empty());
  EXPECT_TRUE(index.search("the of", 10).empty());  // only stopwords
  EXPECT_TRUE(index.search("alpha", 0).empty());
  const auto hits = index.search("alpha gamma zzz", 10);
  ASSERT_EQ(hits.size(), 2u);
  EXPECT_THROW(Index(covekit::bm25::Params{-1, 0.4}), covekit::InvalidInput);
  EXPECT_THROW(Index(covekit::bm25::Params{0.9, 1.5}), covekit::InvalidInput);
}

TEST(Bm25, ReplaceDeleteAndDuplicateIds) {
  Index index;
  std::vector<uint64_t> ids = {1, 2};
  std::vector<std::string_view> texts = {"red apple", "green pear"};
  index.add(ids, texts);
  std::vector<uint64_t> one = {1};
  std::vector<std::string_view> t1 = {"blue sky"};
  index.add(one, t1);  // replaces id 1
  EXPECT_EQ(index.size(), 2u);
  EXPECT_TRUE(index.search("apple", 10).empty());
  ASSERT_EQ(index.search("sky", 10).size(), 1u);
  EXPECT_EQ(index.remove(one), 1u);
  EXPECT_EQ(index.remove(one), 0u);
  EXPECT_TRUE(index.search("sky", 10).empty());
  std::vector<uint64_t> dup = {5, 5};
  std::vector<std::string_view> t2 = {"a", "b"};
  EXPECT_THROW(index.add(dup, t2), covekit::InvalidInput);
  std::vector<std::string_view> bad = {std::string_view("\xc3", 1)};
  std::vector<uint64_t> nine = {9};
  EXPECT_THROW(index.add(nine, bad), covekit::InvalidUtf8);
  EXPECT_EQ(index.size(), 1u);
}

TEST(Bm25, SaveLoadRoundTripAndCorruption) {
  std::mt19937_64 rng(7);
  Index index(covekit::bm25::Params{1.1, 0.5});
  const auto docs = random_docs(rng, 500, 80, 20);
  add_all(index, docs);
  std::vector<uint64_t> del = {1000, 1007};
  index.remove(del);
  const auto dir = std::filesystem::temp_directory_path() / ("covekit_bm25_" + std::to_string(rng()));
  std::filesystem::create_directories(dir);
  const std::string path = (dir / "index.bm25").string();
  index.save(path);
  auto loaded = Index::load(path);
  EXPECT_EQ(loaded->size(), index.size());
  EXPECT_EQ(loaded->params().k1, 1.1);
  for (const std::string& q : random_docs(rng, 20, 80, 6)) expect_same(loaded->search(q, 10), index.search(q, 10));

  std::string bytes;
  {
    std::ifstream in(path, std::ios::binary);
    bytes.assign(std::istreambuf_iterator<char>(in), {});
  }
  auto write = [&](const std::string& b) {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out << b;
  };
  std::string flipped = bytes;
  flipped[bytes.size() / 2] ^= 0x10;
  write(flipped);
  EXPECT_THROW((void)Index::load(path), covekit::IndexFileCorrupt);
  write(bytes.substr(0, bytes.size() - 3));
  EXPECT_THROW((void)Index::load(path), covekit::IndexFileCorrupt);
  write("");
  EXPECT_THROW((void)Index::load(path), covekit::IndexFileCorrupt);
  write("not an index at all, just text");
  EXPECT_THROW((void)Index::load(path), covekit::IndexFileCorrupt);
  EXPECT_THROW((void)Index::load((dir / "missing").string()), covekit::Error);
  std::filesystem::remove_all(dir);
}

// Readers search while a writer adds and deletes (run under ThreadSanitizer).
TEST(Bm25Thread, SearchWhileWriting) {
  std::mt19937_64 rng(3);
  Index index;
  const auto docs = random_docs(rng, 300, 50, 15);
  add_all(index, docs);
  const auto queries = random_docs(rng, 30, 50, 5);
  std::atomic<bool> stop{false};
  std::vector<std::thread> readers;
  std::atomic<std::size_t> searches{0};
  for (int t = 0; t < 3; ++t) {
    readers.emplace_back([&] {
      do {
        for (const std::string& q : queries) {
          const auto hits = index.search(q, 10);
          for (std::size_t i = 1; i < hits.size(); ++i) ASSERT_GE(hits[i - 1].score, hits[i].score);
          ++searches;
        }
      } while (!stop.load());
    });
  }
  while (searches.load() == 0) std::this_thread::yield();  // readers are running
  for (int round = 0; round < 20; ++round) {
    const auto more = random_docs(rng, 20, 50, 15);
    add_all(index, more, 100000 + static_cast<uint64_t>(round) * 1000);
    std::vector<uint64_t> del;
    for (int i = 0; i < 10; ++i) del.push_back(1000 + static_cast<uint64_t>(rng() % 300) * 7);
    index.remove(del);
    if (round % 5 == 4) index.compact();
  }
  stop = true;
  for (auto& t : readers) t.join();
  EXPECT_GT(searches.load(), 0u);
  std::vector<std::string_view> qs(queries.begin(), queries.end());
  std::vector<uint64_t> ids(qs.size() * 10);
  std::vector<float> scores(qs.size() * 10);
  index.search_batch(qs, 10, 2, ids.data(), scores.data());
  for (std::size_t q = 0; q < qs.size(); ++q) {
    const auto hits = index.search(qs[q], 10);
    for (std::size_t j = 0; j < hits.size(); ++j) EXPECT_EQ(ids[q * 10 + j], hits[j].id);
  }
}
