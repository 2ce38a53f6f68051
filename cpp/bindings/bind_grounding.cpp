// Bindings of covekit::grounding: the sentence scorer of the extractive answerer and the
// support checks of an answer. Texts are converted with the GIL held (they stay owned by
// their Python objects); segmentation, analysis and scoring run with the GIL released;
// results come back as lists of tuples with Python str offsets.
#include <cstdint>
#include <string>
#include <vector>

#include <pybind11/stl.h>

#include "common.hpp"
#include "covekit/errors.hpp"
#include "covekit/grounding.hpp"

namespace covekit::bindings {

namespace {

using grounding::Grounder;

TextBatch passage_batch(py::handle passages) {
  if (PyUnicode_Check(passages.ptr()) || PyBytes_Check(passages.ptr()))
    throw py::type_error("passages must be a list of str, not a single str; wrap it in a list");
  return TextBatch(utf8_texts(passages, "each passage"));
}

}  // namespace

void register_grounding(py::module_& m) {
  py::class_<Grounder>(m, "Grounder", "Sentence scoring and answer support (native core of covekit.ground).")
      .def(py::init([](double k1, double b, double overlap_weight) {
             return Grounder(grounding::Options{k1, b, overlap_weight});
           }),
           py::arg("k1") = 1.2, py::arg("b") = 0.75, py::arg("overlap_weight") = 0.5)
      .def_property_readonly("k1", [](const Grounder& g) { return g.options().k1; })
      .def_property_readonly("b", [](const Grounder& g) { return g.options().b; })
      .def_property_readonly("overlap_weight", [](const Grounder& g) { return g.options().overlap_weight; })
      .def(
          "rank",
          [](const Grounder& g, py::handle question, py::handle passages, std::size_t top_k) {
            Utf8Text q = as_utf8_text(question, "question");
            const TextBatch batch = passage_batch(passages);
            std::vector<grounding::RankedSentence> out;
            {
              py::gil_scoped_release release;
              out = g.rank(q.view, batch.views, top_k);
            }
            py::list res(out.size());
            for (std::size_t i = 0; i < out.size(); ++i) {
              const auto& r = out[i];
              res[i] = py::make_tuple(r.passage, r.span.start, r.span.stop, r.score, r.bm25, r.overlap, r.terms);
            }
            return res;
          },
          py::arg("question"), py::arg("passages"), py::arg("top_k") = 0,
          "Every sentence of the passages, best first: (passage, start, end, score, bm25, overlap, terms).")
      .def(
          "support",
          [](const Grounder& g, py::handle answer, py::handle passages, const std::vector<int64_t>& markers) {
            Utf8Text a = as_utf8_text(answer, "answer");
            const TextBatch batch = passage_batch(passages);
            grounding::SupportResult r;
            {
              py::gil_scoped_release release;
              r = g.support(a.view, batch.views, markers);
            }
            py::list sents(r.sentences.size());
            for (std::size_t i = 0; i < r.sentences.size(); ++i) {
              const auto& s = r.sentences[i];
              sents[i] = py::make_tuple(s.span.start, s.span.stop, py::tuple(py::cast(s.markers)), s.support, s.unigram,
                                        s.bigram, s.source, s.terms);
            }
            py::list quotes(r.quotes.size());
            for (std::size_t i = 0; i < r.quotes.size(); ++i) {
              const auto& q = r.quotes[i];
              quotes[i] = py::make_tuple(q.span.start, q.span.stop, q.sentence, q.verbatim, q.source);
            }
            return py::make_tuple(sents, quotes, py::tuple(py::cast(r.dangling)));
          },
          py::arg("answer"), py::arg("passages"), py::arg("markers"),
          "(sentences, quotes, dangling): sentences as (start, end, markers, support, unigram, bigram, source, "
          "terms), quotes as (start, end, sentence, verbatim, source); source is -1 when none.")
      .def(
          "sentences",
          [](const Grounder&, py::handle text) {
            Utf8Text t = as_utf8_text(text);
            std::vector<grounding::Span> spans;
            {
              py::gil_scoped_release release;
              spans = grounding::sentences(t.view);
            }
            py::list res(spans.size());
            for (std::size_t i = 0; i < spans.size(); ++i) res[i] = py::make_tuple(spans[i].start, spans[i].stop);
            return res;
          },
          py::arg("text"), "Character spans of the sentence units of a text.")
      .def(
          "markers",
          [](const Grounder&, py::handle text) {
            Utf8Text t = as_utf8_text(text);
            std::vector<grounding::Marker> ms;
            {
              py::gil_scoped_release release;
              ms = grounding::markers(t.view);
            }
            py::list res(ms.size());
            for (std::size_t i = 0; i < ms.size(); ++i)
              res[i] = py::make_tuple(ms[i].span.start, ms[i].span.stop, ms[i].value);
            return res;
          },
          py::arg("text"), "Citation markers of a text: (start, end, value), one per number.")
      .def("__repr__", [](const Grounder& g) {
        const auto& o = g.options();
        return "<covekit._core.Grounder k1=" + std::to_string(o.k1) + " b=" + std::to_string(o.b) +
               " overlap_weight=" + std::to_string(o.overlap_weight) + ">";
      });
}

}  // namespace covekit::bindings
