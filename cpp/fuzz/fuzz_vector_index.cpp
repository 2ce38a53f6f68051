// Fuzz target for VectorIndex::deserialize, the parser of index files (bytes from disk).
// Each input is tried twice:
//  1. as a file on its own: it must be refused with IndexFileCorrupt, never crash;
//  2. as edits to a valid index image (a small index with attributes and deleted
//     slots): the input's bytes pick positions in the payload and values to XOR in,
//     then both checksums are recomputed, so the structural checks behind the
//     checksums are what is tested (a crafted file, not a damaged one).
// A file that loads must be usable: filtered and unfiltered searches return only live
// ids of the index, and serializing it again loads again.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <random>
#include <string>
#include <unordered_set>
#include <vector>

#include "covekit/errors.hpp"
#include "covekit/hash.hpp"
#include "covekit/vector_index.hpp"
#include "fuzz_common.hpp"

namespace {

using covekit::vector::VectorIndex;

constexpr std::size_t kHeader = 88, kDim = 4;

const std::string& template_image() {
  static const std::string image = [] {
    VectorIndex index(covekit::vector::Options{kDim, covekit::vector::Metric::kCosine, 4, 16, 1});
    std::mt19937_64 rng(5);
    std::normal_distribution<float> d;
    const std::size_t n = 60;
    std::vector<float> v(n * kDim);
    for (auto& x : v) x = d(rng);
    std::vector<uint64_t> ids(n);
    std::vector<covekit::filter::Attributes> attrs(n);
    for (std::size_t i = 0; i < n; ++i) {
      ids[i] = 1000 + i;
      attrs[i].acl.push_back(i % 2 ? "user:1" : "user:2");
      if (i % 3 == 0) attrs[i].tags.push_back("t");
      attrs[i].fields.emplace_back("n", static_cast<int64_t>(i));
      attrs[i].fields.emplace_back("s", std::string(i % 2 ? "a" : "b"));
    }
    index.add(ids, v.data(), attrs, 1);
    index.remove(std::vector<uint64_t>{1000, 1007, 1030}, false);
    return index.serialize();
  }();
  return image;
}

void fix_checksums(std::string& image) {
  const uint64_t payload = covekit::hash::xxh3_64(std::string_view(image).substr(kHeader));
  std::memcpy(image.data() + kHeader - 16, &payload, 8);
  const uint64_t header = covekit::hash::xxh3_64(std::string_view(image).substr(0, kHeader - 8));
  std::memcpy(image.data() + kHeader - 8, &header, 8);
}

// `reserialize`: also check that the loaded index saves and loads again (every 8th
// input: building an index costs hnswlib's 65536 update mutexes, slow under ASan).
void exercise(const std::string& image, const std::string& input, bool reserialize) {
  std::unique_ptr<VectorIndex> index;
  try {
    index = VectorIndex::deserialize(image);
  } catch (const covekit::IndexFileCorrupt&) {
    return;
  }
  const auto live = index->ids();
  const std::unordered_set<uint64_t> live_set(live.begin(), live.end());
  COVEKIT_FUZZ_CHECK(live_set.size() == live.size() && live.size() == index->size(), input);
  std::vector<float> q{0.5f, -1.0f, 0.25f, 2.0f};
  const auto expr = covekit::filter::Expr::acl_any({"user:1"});
  for (const covekit::filter::Expr* f : {static_cast<const covekit::filter::Expr*>(nullptr), &expr}) {
    for (double scale : {0.0, 1e9}) {
      index->set_exact_scale(scale);
      const auto r = index->search(q.data(), 1, 8, 0, f);
      for (uint64_t id : r.ids)
        COVEKIT_FUZZ_CHECK(id == covekit::vector::kMissingId || live_set.count(id), input);
    }
  }
  if (!reserialize) return;
  auto again = VectorIndex::deserialize(index->serialize());
  COVEKIT_FUZZ_CHECK(again->size() == index->size(), input);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
  const std::string input(reinterpret_cast<const char*>(data), size);
  try {
    (void)VectorIndex::deserialize(input);
  } catch (const covekit::IndexFileCorrupt&) {
  }
  // Edits: (position: 3 bytes, xor value: 1 byte) per 4 input bytes, at most 8 edits.
  std::string image = template_image();
  const std::size_t payload = image.size() - kHeader;
  for (std::size_t i = 0; i + 4 <= size && i < 32; i += 4) {
    const std::size_t pos = (std::size_t{data[i]} | std::size_t{data[i + 1]} << 8 | std::size_t{data[i + 2]} << 16) % payload;
    image[kHeader + pos] = static_cast<char>(image[kHeader + pos] ^ static_cast<char>(data[i + 3] ? data[i + 3] : 1));
  }
  if (size >= 4) {
    fix_checksums(image);
    exercise(image, input, data[3] % 8 == 0);
  }
  // A truncation of the valid image (checksums fixed) at a position chosen by the input
  // (for a quarter of the inputs).
  if (size >= 2 && data[0] % 4 == 0) {
    std::string cut = template_image().substr(0, kHeader + (std::size_t{data[0]} | std::size_t{data[1]} << 8) % payload);
    const uint64_t len = cut.size() - kHeader;
    std::memcpy(cut.data() + kHeader - 24, &len, 8);
    fix_checksums(cut);
    exercise(cut, input, true);
  }
  return 0;
}
