// Bindings of covekit::analysis::Analyzer and covekit::bm25::Index. Arguments are
// converted with the GIL held (texts stay owned by their Python objects); analysis,
// indexing and search run with the GIL released; results come back as numpy arrays
// that own their C++ buffers (no copy).
#include <algorithm>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include <pybind11/stl.h>

#include "common.hpp"
#include "py_filter.hpp"
#include "covekit/analyzer.hpp"
#include "covekit/bm25.hpp"
#include "covekit/errors.hpp"

namespace covekit::bindings {

namespace {

using analysis::Analyzer;
using analysis::AnalyzerOptions;
using analysis::Stemmer;
using bm25::Index;

template <class T>
py::array_t<T> to_numpy_2d(std::vector<T>&& v, std::size_t rows, std::size_t cols) {
  auto* heap = new std::vector<T>(std::move(v));  // owned by the capsule below
  py::capsule owner(heap, [](void* p) { delete static_cast<std::vector<T>*>(p); });
  return py::array_t<T>({static_cast<py::ssize_t>(rows), static_cast<py::ssize_t>(cols)}, heap->data(), owner);
}

std::vector<Utf8Text> as_texts(py::handle seq, const char* what) {
  if (PyUnicode_Check(seq.ptr()) || PyBytes_Check(seq.ptr()))
    throw py::type_error(std::string(what) + " must be a list of str, not a single " +
                         std::string(py::str(py::type::handle_of(seq).attr("__name__"))) + "; wrap it in a list");
  return utf8_texts(seq, what);
}

std::span<const uint64_t> as_ids(const py::array_t<uint64_t, py::array::c_style>& ids) {
  if (ids.ndim() != 1) throw InvalidInput("ids must be a 1-D array of uint64, got " + std::to_string(ids.ndim()) + " dimensions");
  return {ids.data(), static_cast<std::size_t>(ids.size())};
}

Analyzer make_analyzer(bool lowercase, const std::string& stemmer, bool cjk_bigrams, std::vector<std::string> stopwords) {
  Stemmer s = Stemmer::kNone;
  if (stemmer == "porter")
    s = Stemmer::kPorter;
  else if (stemmer != "none")
    throw InvalidInput("stem must be 'porter' or None, got '" + stemmer + "'");
  return Analyzer(AnalyzerOptions{lowercase, s, cjk_bigrams, std::move(stopwords)});
}

}  // namespace

void register_bm25(py::module_& m) {
  py::class_<Analyzer>(m, "Analyzer", "Text analyzer for keyword search (native core of covekit.Analyzer).")
      .def(py::init(&make_analyzer), py::arg("lowercase"), py::arg("stemmer"), py::arg("cjk_bigrams"),
           py::arg("stopwords"))
      .def(
          "analyze",
          [](const Analyzer& a, py::handle text) {
            Utf8Text t = as_utf8_text(text);
            std::vector<std::string> terms;
            {
              py::gil_scoped_release release;
              a.analyze(t.view, terms);
            }
            return terms;
          },
          py::arg("text"))
      .def_property_readonly("lowercase", [](const Analyzer& a) { return a.options().lowercase; })
      .def_property_readonly("stemmer",
                             [](const Analyzer& a) {
                               return std::string(a.options().stemmer == Stemmer::kPorter ? "porter" : "none");
                             })
      .def_property_readonly("cjk_bigrams", [](const Analyzer& a) { return a.options().cjk_bigrams; })
      .def_property_readonly("stopwords", [](const Analyzer& a) { return a.options().stopwords; });

  m.def("english_stopwords", &analysis::english_stopwords, "Lucene's English stop set.");

  py::class_<Index>(m, "BM25Index", "BM25 keyword index (native core of covekit.BM25Index).")
      .def(py::init([](double k1, double b, const Analyzer& analyzer) {
             return std::make_unique<Index>(bm25::Params{k1, b}, analyzer);
           }),
           py::arg("k1"), py::arg("b"), py::arg("analyzer"))
      .def(
          "add",
          [](Index& index, const py::array_t<uint64_t, py::array::c_style>& ids, py::handle texts,
             py::handle attributes) {
            const std::span<const uint64_t> id_span = as_ids(ids);
            const TextBatch batch(as_texts(texts, "texts"));
            const std::vector<std::string_view>& views = batch.views;
            const std::vector<filter::Attributes> attrs = parse_attribute_list(attributes, id_span.size());
            py::gil_scoped_release release;
            index.add(id_span, views, attrs);
          },
          py::arg("ids"), py::arg("texts"), py::arg("attributes") = py::none())
      .def(
          "set_attributes",
          [](Index& index, const py::array_t<uint64_t, py::array::c_style>& ids, py::handle attributes) {
            const std::span<const uint64_t> id_span = as_ids(ids);
            const std::vector<filter::Attributes> attrs = parse_attribute_list(attributes, id_span.size());
            py::gil_scoped_release release;
            index.set_attributes(id_span, attrs);
          },
          py::arg("ids"), py::arg("attributes"))
      .def(
          "attributes", [](const Index& index, uint64_t id) { return attributes_to_dict(index.attributes(id)); },
          py::arg("id"))
      .def(
          "remove",
          [](Index& index, const py::array_t<uint64_t, py::array::c_style>& ids) {
            const std::span<const uint64_t> id_span = as_ids(ids);
            py::gil_scoped_release release;
            return index.remove(id_span);
          },
          py::arg("ids"))
      .def("compact", &Index::compact, py::call_guard<py::gil_scoped_release>())
      .def(
          "search",
          [](const Index& index, py::handle queries, std::size_t k, std::size_t num_threads, py::object allowed,
             const std::string& strategy, py::handle where) {
            const filter::Expr* expr = as_filter(where);
            bm25::Strategy how = bm25::Strategy::kAuto;
            if (strategy == "maxscore")
              how = bm25::Strategy::kMaxScore;
            else if (strategy == "exhaustive")
              how = bm25::Strategy::kExhaustive;
            else if (strategy != "auto")
              throw InvalidInput("strategy must be 'auto', 'maxscore' or 'exhaustive', got '" + strategy + "'");
            const TextBatch batch(as_texts(queries, "queries"));
            const std::vector<std::string_view>& views = batch.views;
            py::array_t<uint64_t, py::array::c_style> bits;
            std::span<const uint64_t> bit_span;
            if (!allowed.is_none()) {
              bits = allowed.cast<py::array_t<uint64_t, py::array::c_style>>();
              if (bits.ndim() != 1) throw InvalidInput("allowed must be a 1-D uint64 bitset");
              bit_span = {bits.data(), static_cast<std::size_t>(bits.size())};
            }
            const std::size_t nq = views.size();
            std::vector<uint64_t> ids(nq * k);
            std::vector<float> scores(nq * k);
            // Slices of queries, GIL released for each; between slices the calling
            // thread checks for Ctrl-C (KeyboardInterrupt) and stops there.
            constexpr std::size_t kSlice = 2048;
            for (std::size_t first = 0; first < nq; first += kSlice) {
              const std::size_t n = std::min(kSlice, nq - first);
              {
                py::gil_scoped_release release;
                index.search_batch(std::span<const std::string_view>(views).subspan(first, n), k, num_threads,
                                   ids.data() + first * k, scores.data() + first * k,
                                   allowed.is_none() ? nullptr : &bit_span, how, expr);
              }
              if (first + n < nq && PyErr_CheckSignals() != 0) throw py::error_already_set();
            }
            return py::make_tuple(to_numpy_2d(std::move(ids), nq, k), to_numpy_2d(std::move(scores), nq, k));
          },
          py::arg("queries"), py::arg("k"), py::arg("num_threads"), py::arg("allowed") = py::none(),
          py::arg("strategy") = "auto", py::arg("filter") = py::none())
      .def(
          "save", [](const Index& index, const std::string& path) { index.save(path); }, py::arg("path"),
          py::call_guard<py::gil_scoped_release>())
      .def_static(
          "load", [](const std::string& path) { return Index::load(path); }, py::arg("path"),
          py::call_guard<py::gil_scoped_release>())
      .def("to_bytes",
           [](const Index& index) {
             std::string data;
             {
               py::gil_scoped_release release;
               data = index.to_bytes();
             }
             return py::bytes(data);
           })
      .def_static(
          "from_bytes",
          [](const py::bytes& data) {
            const std::string_view view(PyBytes_AS_STRING(data.ptr()), static_cast<std::size_t>(PyBytes_GET_SIZE(data.ptr())));
            py::gil_scoped_release release;
            return Index::from_bytes(view, "<bytes>");
          },
          py::arg("data"))
      .def("__len__", &Index::size)
      .def("contains", &Index::contains, py::arg("id"))
      .def("internal_id", &Index::internal_id, py::arg("id"))
      .def_property_readonly("internal_capacity", &Index::internal_capacity)
      .def_property_readonly("num_terms", &Index::num_terms)
      .def_property_readonly("k1", [](const Index& i) { return i.params().k1; })
      .def_property_readonly("b", [](const Index& i) { return i.params().b; })
      .def_property_readonly("analyzer", [](const Index& i) { return i.analyzer(); });
}

}  // namespace covekit::bindings
