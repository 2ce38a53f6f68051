// Bindings of covekit::embed::HashingEmbedder. Texts are converted with the GIL held (str
// as its UTF-8, lone surrogates replaced by U+FFFD); hashing runs with the GIL released, in
// slices so that Ctrl-C is seen between them; the result is one zero-copy float32 array.
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "common.hpp"
#include "covekit/errors.hpp"
#include "covekit/hashing_embedder.hpp"

namespace covekit::bindings {

namespace {

using embed::HashingEmbedder;
using embed::HashingOptions;

// Texts per GIL-free slice of a batch: signals are checked between slices.
constexpr std::size_t kSliceTexts = 8192;

std::vector<Utf8Text> as_texts(py::handle texts) {
  if (PyUnicode_Check(texts.ptr()) || PyBytes_Check(texts.ptr()))
    throw py::type_error("texts must be a list of str, not a single " +
                         std::string(py::str(py::type::handle_of(texts).attr("__name__"))) +
                         "; wrap one text in a list: embed([text])");
  std::vector<Utf8Text> out;
  if (PyList_Check(texts.ptr()) || PyTuple_Check(texts.ptr())) out.reserve(static_cast<std::size_t>(py::len(texts)));
  for (py::handle item : py::iter(texts)) {
    if (!PyUnicode_Check(item.ptr()))
      throw py::type_error("each text must be a str, not " +
                           std::string(py::str(py::type::handle_of(item).attr("__name__"))));
    out.push_back(as_utf8_text(item, "each text"));
  }
  return out;
}

// A (rows, cols) float32 array that owns `v` (no copy).
py::array_t<float> to_numpy_2d(std::vector<float>&& v, std::size_t rows, std::size_t cols) {
  auto* heap = new std::vector<float>(std::move(v));  // owned by the capsule below
  py::capsule owner(heap, [](void* p) { delete static_cast<std::vector<float>*>(p); });
  return py::array_t<float>({static_cast<py::ssize_t>(rows), static_cast<py::ssize_t>(cols)},
                            {static_cast<py::ssize_t>(cols * sizeof(float)), static_cast<py::ssize_t>(sizeof(float))},
                            heap->data(), owner);
}

py::array_t<float> embed_texts(const HashingEmbedder& e, py::handle texts, unsigned num_threads) {
  const TextBatch in(as_texts(texts));
  const std::vector<std::string_view>& v = in.views;
  const std::size_t dim = e.dim();
  std::vector<float> out(v.size() * dim);
  for (std::size_t begin = 0; begin < v.size(); begin += kSliceTexts) {
    const std::size_t end = std::min(v.size(), begin + kSliceTexts);
    {
      py::gil_scoped_release release;
      e.embed_batch(std::span(v).subspan(begin, end - begin), std::span(out).subspan(begin * dim, (end - begin) * dim),
                    num_threads);
    }
    if (end < v.size() && PyErr_CheckSignals() != 0) throw py::error_already_set();
  }
  return to_numpy_2d(std::move(out), v.size(), dim);
}

py::bytes state_bytes(const HashingEmbedder& e) {
  std::string s;
  {
    py::gil_scoped_release release;
    s = e.to_bytes();
  }
  return py::bytes(s);
}

std::unique_ptr<HashingEmbedder> from_state(py::handle data) {
  Utf8Text b = as_bytes_like(data, "state");
  py::gil_scoped_release release;
  return HashingEmbedder::from_bytes(b.view);
}

const char* kind_name(embed::FeatureKind k) {
  switch (k) {
    case embed::FeatureKind::word:
      return "word";
    case embed::FeatureKind::bigram:
      return "bigram";
    case embed::FeatureKind::char_ngram:
      return "char";
  }
  return "?";
}

}  // namespace

void register_hashing_embedder(py::module_& m) {
  py::class_<HashingEmbedder>(m, "HashingEmbedder",
                              "Feature-hashing text embedder (native core of covekit.HashingEmbedder).")
      .def(py::init([](uint32_t dim, bool word_unigrams, bool word_bigrams, uint32_t char_ngram_min,
                       uint32_t char_ngram_max, bool lowercase, uint64_t seed, float word_weight, float bigram_weight,
                       float char_weight) {
             HashingOptions o;
             o.dim = dim;
             o.word_unigrams = word_unigrams;
             o.word_bigrams = word_bigrams;
             o.char_ngram_min = char_ngram_min;
             o.char_ngram_max = char_ngram_max;
             o.lowercase = lowercase;
             o.seed = seed;
             o.word_weight = word_weight;
             o.bigram_weight = bigram_weight;
             o.char_weight = char_weight;
             return std::make_unique<HashingEmbedder>(o);
           }),
           py::arg("dim"), py::arg("word_unigrams"), py::arg("word_bigrams"), py::arg("char_ngram_min"),
           py::arg("char_ngram_max"), py::arg("lowercase"), py::arg("seed"), py::arg("word_weight"),
           py::arg("bigram_weight"), py::arg("char_weight"))
      .def_property_readonly("dim", &HashingEmbedder::dim)
      .def_property_readonly("word_unigrams", [](const HashingEmbedder& e) { return e.options().word_unigrams; })
      .def_property_readonly("word_bigrams", [](const HashingEmbedder& e) { return e.options().word_bigrams; })
      .def_property_readonly("char_ngram_min", [](const HashingEmbedder& e) { return e.options().char_ngram_min; })
      .def_property_readonly("char_ngram_max", [](const HashingEmbedder& e) { return e.options().char_ngram_max; })
      .def_property_readonly("lowercase", [](const HashingEmbedder& e) { return e.options().lowercase; })
      .def_property_readonly("seed", [](const HashingEmbedder& e) { return e.options().seed; })
      .def_property_readonly("word_weight", [](const HashingEmbedder& e) { return e.options().word_weight; })
      .def_property_readonly("bigram_weight", [](const HashingEmbedder& e) { return e.options().bigram_weight; })
      .def_property_readonly("char_weight", [](const HashingEmbedder& e) { return e.options().char_weight; })
      .def_property_readonly("fitted", &HashingEmbedder::fitted)
      .def_property_readonly("fitted_documents", &HashingEmbedder::fitted_documents)
      .def_property_readonly("vocabulary_size", &HashingEmbedder::vocabulary_size)
      .def_property_readonly("fingerprint", &HashingEmbedder::fingerprint)
      .def("embed", &embed_texts, py::arg("texts"), py::arg("num_threads") = 0,
           "Vectors of a list of str as a float32 array (len(texts), dim), without the GIL.")
      .def(
          "fit",
          [](HashingEmbedder& e, py::handle texts, unsigned num_threads, uint32_t min_df) {
            const TextBatch in(as_texts(texts));
            const std::vector<std::string_view>& v = in.views;
            py::gil_scoped_release release;
            e.fit(v, num_threads, min_df);
          },
          py::arg("texts"), py::arg("num_threads") = 0, py::arg("min_df") = 1,
          "Fits document frequencies on a list of str (replacing any previous fit).")
      .def("clear_fit", &HashingEmbedder::clear_fit, "Forgets the fit (idf 1 for every feature).")
      .def(
          "features",
          [](const HashingEmbedder& e, py::handle text) {
            if (!PyUnicode_Check(text.ptr()))
              throw py::type_error("text must be a str, not " +
                                   std::string(py::str(py::type::handle_of(text).attr("__name__"))));
            Utf8Text t = as_utf8_text(text);
            std::vector<embed::Feature> fs;
            {
              py::gil_scoped_release release;
              fs = e.features(t.view);
            }
            py::list out(fs.size());
            for (std::size_t i = 0; i < fs.size(); ++i)
              out[i] = py::make_tuple(kind_name(fs[i].kind), fs[i].hash, fs[i].index, fs[i].weight, fs[i].count);
            return out;
          },
          py::arg("text"), "The distinct features of a text: (kind, hash, index, weight, count) tuples.")
      .def("to_bytes", &state_bytes, "The whole state (options and fit) as bytes with a checksum.")
      .def_static("from_bytes", &from_state, py::arg("data"), "An embedder from to_bytes() output.")
      .def(py::pickle([](const HashingEmbedder& e) { return state_bytes(e); },
                      [](const py::bytes& b) { return from_state(b); }))
      .def("__repr__", [](const HashingEmbedder& e) {
        const auto& o = e.options();
        return "<covekit._core.HashingEmbedder dim=" + std::to_string(o.dim) +
               " fitted=" + (e.fitted() ? std::string("True") : std::string("False")) + ">";
      });
}

}  // namespace covekit::bindings
