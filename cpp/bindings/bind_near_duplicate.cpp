// Bindings of covekit::near_duplicate: MinHash sketches of texts (their words, or the
// ids of a covekit Tokenizer, ordinary encoding; GIL released) or of token arrays, their
// similarity, and greedy near-duplicate removal. Sketches are (n, k) uint64 matrices.
#include <string>

#include "common.hpp"
#include "covekit/errors.hpp"
#include "covekit/near_duplicate.hpp"
#include "py_tokenizer.hpp"

namespace covekit::bindings {

namespace {

using U64 = py::array_t<uint64_t, py::array::c_style | py::array::forcecast>;

py::array_t<uint64_t> matrix(std::vector<uint64_t>&& v, std::size_t rows, std::size_t k) {
  auto* heap = new std::vector<uint64_t>(std::move(v));  // owned by the capsule below
  py::capsule owner(heap, [](void* p) { delete static_cast<std::vector<uint64_t>*>(p); });
  return py::array_t<uint64_t>({static_cast<py::ssize_t>(rows), static_cast<py::ssize_t>(k)}, heap->data(), owner);
}

void check_k(std::size_t k) {
  if (k == 0 || k > 4096) throw InvalidInput("k must be in [1, 4096], got " + std::to_string(k));
}

// The (n, k) sketch matrix of a batch of texts, each sketched by `one` with the GIL
// released.
template <class One>
py::array_t<uint64_t> sketch_texts(py::handle texts, std::size_t shingle, std::size_t k, One&& one) {
  check_k(k);
  if (shingle == 0) throw InvalidInput("shingle must be >= 1");
  TextBatch batch(utf8_texts(texts, "each text"));
  const std::size_t n = batch.views.size();
  std::vector<uint64_t> out(n * k);
  {
    py::gil_scoped_release release;
    for (std::size_t i = 0; i < n; ++i) one(batch.views[i], std::span<uint64_t>(out.data() + i * k, k));
  }
  return matrix(std::move(out), n, k);
}

}  // namespace

void register_near_duplicate(py::module_& m) {
  m.def(
      "minhash_texts",
      [](py::handle tokenizer, py::handle texts, std::size_t shingle, std::size_t k, uint64_t seed) {
        const Tokenizer& tok = native_tokenizer(tokenizer);
        std::vector<uint32_t> ids;  // reused from text to text
        return sketch_texts(texts, shingle, k, [&](std::string_view text, std::span<uint64_t> out) {
          ids.clear();
          tok.encode_ordinary(text, ids);
          near_duplicate::sketch(ids, shingle, seed, out);
        });
      },
      py::arg("tokenizer"), py::arg("texts"), py::arg("shingle"), py::arg("k"), py::arg("seed") = 0,
      "MinHash bottom-k sketches (n, k) of texts' token shingles.");
  m.def(
      "minhash_words",
      [](py::handle texts, std::size_t shingle, std::size_t k, uint64_t seed) {
        return sketch_texts(texts, shingle, k, [&](std::string_view text, std::span<uint64_t> out) {
          near_duplicate::sketch_words(text, shingle, seed, out);
        });
      },
      py::arg("texts"), py::arg("shingle"), py::arg("k"), py::arg("seed") = 0,
      "MinHash bottom-k sketches (n, k) of texts' word shingles.");
  m.def(
      "minhash_tokens",
      [](py::array_t<uint32_t, py::array::c_style | py::array::forcecast> tokens, std::size_t shingle, std::size_t k,
         uint64_t seed) {
        check_k(k);
        if (tokens.ndim() != 1) throw InvalidInput("tokens must be a 1-D array");
        std::vector<uint64_t> out(k);
        {
          py::gil_scoped_release release;
          near_duplicate::sketch({tokens.data(), static_cast<std::size_t>(tokens.shape(0))}, shingle, seed, out);
        }
        return to_numpy(std::move(out));
      },
      py::arg("tokens"), py::arg("shingle"), py::arg("k"), py::arg("seed") = 0,
      "The MinHash bottom-k sketch (k,) of one token sequence.");
  m.def(
      "minhash_similarity",
      [](U64 a, U64 b) {
        if (a.ndim() != 1 || b.ndim() != 1 || a.shape(0) != b.shape(0))
          throw InvalidInput("two 1-D sketches of the same k are needed");
        return near_duplicate::similarity({a.data(), static_cast<std::size_t>(a.shape(0))},
                                          {b.data(), static_cast<std::size_t>(b.shape(0))});
      },
      py::arg("a"), py::arg("b"), "The estimated Jaccard similarity of two sketches.");
  m.def(
      "near_duplicates",
      [](U64 sketches, double threshold) {
        if (sketches.ndim() != 2) throw InvalidInput("sketches must be a 2-D (n, k) array");
        const auto n = static_cast<std::size_t>(sketches.shape(0));
        const auto k = static_cast<std::size_t>(sketches.shape(1));
        std::vector<int32_t> dup;
        {
          py::gil_scoped_release release;
          dup = near_duplicate::find({sketches.data(), n * k}, k == 0 ? 1 : k, threshold);
        }
        return to_numpy(std::move(dup));
      },
      py::arg("sketches"), py::arg("threshold"),
      "Per row, the earlier kept row it nearly duplicates (similarity >= threshold), or -1.");
}

}  // namespace covekit::bindings
