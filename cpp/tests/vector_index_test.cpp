#include "covekit/vector_index.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <fstream>
#include <numeric>
#include <random>
#include <set>
#include <thread>
#include <unordered_map>
#include <vector>

#include "covekit/errors.hpp"

using covekit::filter::Attributes;
using covekit::filter::Expr;
using covekit::vector::kMissingId;
using covekit::vector::Metric;
using covekit::vector::Options;
using covekit::vector::SearchInfo;
using covekit::vector::VectorIndex;

namespace {

std::vector<float> random_vectors(std::size_t n, std::size_t dim, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> d;
  std::vector<float> v(n * dim);
  for (auto& x : v) x = d(rng);
  return v;
}

// Exact top-k by inner product of normalized vectors (cosine), restricted to `allowed`.
std::vector<uint64_t> brute_force(const std::vector<float>& data, const std::vector<uint64_t>& ids, std::size_t dim,
                                  const float* q, std::size_t k, const std::vector<bool>& allowed) {
  auto norm = [&](const float* v) {
    double s = 0;
    for (std::size_t j = 0; j < dim; ++j) s += double(v[j]) * v[j];
    return std::sqrt(s);
  };
  const double qn = norm(q);
  std::vector<std::pair<double, uint64_t>> scored;
  for (std::size_t i = 0; i < ids.size(); ++i) {
    if (!allowed[i]) continue;
    const float* v = data.data() + i * dim;
    double dot = 0;
    for (std::size_t j = 0; j < dim; ++j) dot += double(v[j]) * q[j];
    scored.emplace_back(-dot / (norm(v) * qn), ids[i]);
  }
  const std::size_t m = std::min(k, scored.size());
  std::partial_sort(scored.begin(), scored.begin() + static_cast<std::ptrdiff_t>(m), scored.end());
  std::vector<uint64_t> out;
  for (std::size_t i = 0; i < m; ++i) out.push_back(scored[i].second);
  return out;
}

struct Fixture {
  static constexpr std::size_t kN = 20000, kDim = 32, kQ = 100, kK = 10;
  std::vector<float> data = random_vectors(kN, kDim, 1);
  std::vector<float> queries = random_vectors(kQ, kDim, 2);
  std::vector<uint64_t> ids;
  std::unordered_map<uint64_t, std::size_t> pos;
  std::vector<Attributes> attrs;
  std::unique_ptr<VectorIndex> index;

  Fixture() {
    ids.resize(kN);
    attrs.resize(kN);
    std::mt19937_64 rng(3);
    for (std::size_t i = 0; i < kN; ++i) {
      ids[i] = rng() | 1;  // arbitrary 64-bit ids
      pos[ids[i]] = i;
      // bucket b in [0, 1000): b < 500 -> 50%, < 100 -> 10%, < 10 -> 1%, < 1 -> 0.1%
      attrs[i].fields.emplace_back("bucket", static_cast<int64_t>(i % 1000));
    }
    index = std::make_unique<VectorIndex>(Options{kDim, Metric::kCosine, 16, 100, 100});
    index->add(ids, data.data(), attrs, 2);
  }
};

Fixture& fixture() {
  static Fixture f;  // built once: the index of 20k vectors takes a few seconds
  return f;
}

double recall(const Fixture& f, const covekit::vector::SearchResult& r, int64_t below, std::size_t* short_rows) {
  std::vector<bool> allowed(f.kN);
  for (std::size_t i = 0; i < f.kN; ++i) allowed[i] = (static_cast<int64_t>(i % 1000) < below);
  std::size_t hit = 0, total = 0;
  for (std::size_t q = 0; q < f.kQ; ++q) {
    auto truth = brute_force(f.data, f.ids, f.kDim, f.queries.data() + q * f.kDim, f.kK, allowed);
    std::set<uint64_t> t(truth.begin(), truth.end());
    std::size_t got = 0;
    for (std::size_t j = 0; j < f.kK; ++j) {
      const uint64_t id = r.ids[q * f.kK + j];
      if (id == kMissingId) continue;
      ++got;
      // Never an id outside the filter.
      EXPECT_TRUE(allowed[f.pos.at(id)]);
      hit += t.count(id);
    }
    if (got < truth.size()) ++*short_rows;
    total += truth.size();
  }
  return double(hit) / double(total);
}

}  // namespace

TEST(VectorIndex, UnfilteredRecallAgainstBruteForce) {
  auto& f = fixture();
  EXPECT_EQ(f.index->size(), f.kN);
  // The default ef (128): at 64 this hard data (random Gaussian, dim 32) gives 0.93.
  auto r = f.index->search(f.queries.data(), f.kQ, f.kK, 0, nullptr, 2);
  std::size_t short_rows = 0;
  EXPECT_GE(recall(f, r, 1000, &short_rows), 0.95);
  EXPECT_EQ(short_rows, 0u);
}

TEST(VectorIndex, FilteredRecallAtEverySelectivity) {
  auto& f = fixture();
  for (int64_t below : {500, 100, 10, 1}) {
    for (double scale : {1.3, 0.0}) {  // the chosen plan, then the graph search forced
      f.index->set_exact_scale(scale);
      SearchInfo info;
      Expr e = Expr::range("bucket", covekit::filter::Value{}, true, below, false);
      auto r = f.index->search(f.queries.data(), f.kQ, f.kK, 0, &e, 2, &info);
      std::size_t short_rows = 0;
      const double rec = recall(f, r, below, &short_rows);
      EXPECT_GE(rec, 0.95) << "selectivity " << below / 10.0 << "% scale " << scale << " exact " << info.exact
                           << " graph " << info.graph << " fallback " << info.fallback;
      EXPECT_EQ(short_rows, 0u);
      EXPECT_EQ(info.allowed, f.kN * static_cast<std::size_t>(below) / 1000);
    }
  }
  f.index->set_exact_scale(1.3);
}

TEST(VectorIndex, DeleteUpdateReuseAndGrowth) {
  const std::size_t dim = 8;
  VectorIndex index(Options{dim, Metric::kL2, 8, 50, 1});
  auto v = random_vectors(3000, dim, 5);  // grows past the initial 1024 slots
  std::vector<uint64_t> ids(3000);
  std::iota(ids.begin(), ids.end(), 1000);
  index.add(ids, v.data(), {}, 2);
  EXPECT_EQ(index.size(), 3000u);
  EXPECT_GE(index.capacity(), 3000u);
  // Each vector finds itself at distance 0.
  auto r = index.search(v.data(), 3000, 1, 64, nullptr, 2);
  std::size_t self = 0;
  for (std::size_t i = 0; i < 3000; ++i) self += r.ids[i] == ids[i];
  EXPECT_GE(self, 2990u);

  std::vector<uint64_t> gone(ids.begin(), ids.begin() + 500);
  EXPECT_EQ(index.remove(gone, false), 500u);
  EXPECT_EQ(index.size(), 2500u);
  EXPECT_FALSE(index.contains(1000));
  r = index.search(v.data(), 3000, 5, 64, nullptr, 2);
  for (uint64_t id : r.ids) EXPECT_TRUE(id == kMissingId || id >= 1500) << id;
  EXPECT_THROW(index.remove(gone, false), covekit::InvalidInput);
  EXPECT_EQ(index.remove(gone, true), 0u);

  // New ids reuse the deleted slots: the capacity stays.
  const std::size_t cap = index.capacity();
  std::vector<uint64_t> fresh(500);
  std::iota(fresh.begin(), fresh.end(), 900000);
  auto w = random_vectors(500, dim, 6);
  index.add(fresh, w.data(), {}, 2);
  EXPECT_EQ(index.capacity(), cap);
  EXPECT_EQ(index.size(), 3000u);
  r = index.search(w.data(), 500, 1, 64, nullptr, 1);
  std::size_t found = 0;
  for (std::size_t i = 0; i < 500; ++i) found += r.ids[i] == fresh[i];
  EXPECT_GE(found, 495u);

  // Update moves a vector.
  std::vector<uint64_t> one{2000};
  auto target = random_vectors(1, dim, 99);
  index.update(one, target.data(), {});
  r = index.search(target.data(), 1, 1, 64, nullptr, 1);
  EXPECT_EQ(r.ids[0], 2000u);
  EXPECT_FLOAT_EQ(r.scores[0], 0.0f);
  EXPECT_THROW(index.update(std::vector<uint64_t>{1}, target.data(), {}), covekit::InvalidInput);
  EXPECT_THROW(index.add(one, target.data(), {}), covekit::InvalidInput);
}

TEST(VectorIndex, EmptyAndSmallIndexes) {
  VectorIndex index(Options{4, Metric::kIp, 16, 200, 100});
  std::vector<float> q{1, 0, 0, 0};
  auto r = index.search(q.data(), 1, 3, 0, nullptr);
  EXPECT_EQ(r.ids, std::vector<uint64_t>(3, kMissingId));
  EXPECT_TRUE(std::isinf(r.scores[0]) && r.scores[0] < 0);
  std::vector<uint64_t> ids{7, 8};
  std::vector<float> v{1, 0, 0, 0, 0, 2, 0, 0};
  index.add(ids, v.data(), {});
  r = index.search(q.data(), 1, 3, 0, nullptr);
  EXPECT_EQ(r.ids[0], 7u);
  EXPECT_FLOAT_EQ(r.scores[0], 1.0f);
  EXPECT_EQ(r.ids[1], 8u);
  EXPECT_EQ(r.ids[2], kMissingId);
  std::vector<float> bad{0, 0, 0, NAN};
  EXPECT_THROW(index.add(std::vector<uint64_t>{9}, bad.data(), {}), covekit::InvalidInput);
  VectorIndex cos(Options{4, Metric::kCosine, 16, 200, 100});
  std::vector<float> zero(4, 0.0f);
  EXPECT_THROW(cos.add(std::vector<uint64_t>{1}, zero.data(), {}), covekit::InvalidInput);
  EXPECT_THROW(VectorIndex(Options{0, Metric::kL2, 16, 200, 1}), covekit::InvalidInput);
}

TEST(VectorIndex, SerializeRoundTripAndCorruption) {
  const std::size_t dim = 16;
  VectorIndex index(Options{dim, Metric::kCosine, 8, 64, 3});
  auto v = random_vectors(600, dim, 8);
  std::vector<uint64_t> ids(600);
  std::iota(ids.begin(), ids.end(), 1);
  std::vector<Attributes> attrs(600);
  for (std::size_t i = 0; i < 600; ++i) attrs[i].acl.push_back("user:" + std::to_string(i % 7));
  index.add(ids, v.data(), attrs, 1);
  index.remove(std::vector<uint64_t>{1, 2, 3}, false);
  const std::string bytes = index.serialize();
  auto copy = VectorIndex::deserialize(bytes);
  EXPECT_EQ(copy->size(), 597u);
  EXPECT_TRUE(copy->serialize() == bytes);
  Expr e = Expr::acl_any({"user:3"});
  auto a = index.search(v.data(), 50, 5, 0, &e);
  auto b = copy->search(v.data(), 50, 5, 0, &e);
  EXPECT_EQ(a.ids, b.ids);
  EXPECT_EQ(a.scores, b.scores);

  // Every truncation and every flipped byte (sampled) is caught.
  for (std::size_t cut = 0; cut < bytes.size(); cut += 97)
    EXPECT_THROW((void)VectorIndex::deserialize(std::string_view(bytes).substr(0, cut)), covekit::IndexFileCorrupt);
  for (std::size_t pos = 0; pos < bytes.size(); pos += 131) {
    std::string bad = bytes;
    bad[pos] = static_cast<char>(bad[pos] ^ 0x40);
    EXPECT_THROW((void)VectorIndex::deserialize(bad), covekit::IndexFileCorrupt) << pos;
  }

  const auto dir = std::filesystem::temp_directory_path() / ("covekit_vi_" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  const std::string path = (dir / "index.cvk").string();
  index.save(path);
  index.save(path);  // replaces atomically
  auto loaded = VectorIndex::load(path);
  EXPECT_TRUE(loaded->serialize() == bytes);
  EXPECT_EQ(std::distance(std::filesystem::directory_iterator(dir), {}), 1);  // no temp files left
  std::filesystem::remove_all(dir);
  EXPECT_THROW((void)VectorIndex::load(path), covekit::InvalidInput);
}

TEST(VectorIndex, ThreadedSearchWhileWriting) {
  const std::size_t dim = 16;
  VectorIndex index(Options{dim, Metric::kCosine, 8, 50, 4});
  auto v = random_vectors(4000, dim, 10);
  std::vector<uint64_t> ids(4000);
  std::iota(ids.begin(), ids.end(), 1);
  std::vector<Attributes> attrs(4000);
  for (std::size_t i = 0; i < 4000; ++i) attrs[i].acl.push_back(i % 2 ? "odd" : "even");
  index.add(std::span(ids).first(1000), v.data(), std::span(attrs).first(1000), 2);
  std::atomic<bool> done{false};
  std::atomic<std::size_t> searches{0}, violations{0};
  std::vector<std::thread> readers;
  for (int t = 0; t < 3; ++t) {
    readers.emplace_back([&, t] {
      Expr e = Expr::acl_any({"odd"});
      std::size_t i = static_cast<std::size_t>(t);
      while (!done.load()) {
        auto r = index.search(v.data() + (i % 4000) * dim, 1, 10, 32, t == 0 ? nullptr : &e);
        if (t != 0)
          for (uint64_t id : r.ids)
            if (id != kMissingId && id % 2 == 1) ++violations;  // ids i+1: odd i <=> even id
        ++searches;
        i += 7;
      }
    });
  }
  for (std::size_t start = 1000; start < 4000; start += 500) {
    index.add(std::span(ids).subspan(start, 500), v.data() + start * dim, std::span(attrs).subspan(start, 500), 2);
    std::vector<uint64_t> gone;
    for (std::size_t i = start - 1000; i < start - 900; ++i) gone.push_back(ids[i]);
    index.remove(gone, true);
  }
  done = true;
  for (auto& th : readers) th.join();
  EXPECT_EQ(violations.load(), 0u);
  EXPECT_GT(searches.load(), 0u);
  EXPECT_EQ(index.size(), 4000u - 600u);
}

TEST(VectorIndex, VectorsOfManyIdsEqualEachOne) {
  const std::size_t dim = 6;
  VectorIndex index(Options{dim, Metric::kCosine, 8, 50, 1});
  auto v = random_vectors(200, dim, 9);
  std::vector<uint64_t> ids(200);
  std::iota(ids.begin(), ids.end(), 70);
  index.add(ids, v.data(), {}, 1);
  const std::vector<uint64_t> want = {250, 70, 71, 150, 70};
  std::vector<float> out(want.size() * dim);
  index.vectors(want, out.data());
  for (std::size_t i = 0; i < want.size(); ++i)
    EXPECT_EQ(std::vector<float>(out.begin() + static_cast<std::ptrdiff_t>(i * dim),
                                 out.begin() + static_cast<std::ptrdiff_t>((i + 1) * dim)),
              index.vector(want[i]));
  const std::vector<uint64_t> missing = {70, 5};
  EXPECT_THROW(index.vectors(missing, out.data()), covekit::InvalidInput);
  index.vectors({}, out.data());  // nothing to read
}
