// Bindings of covekit::chunking::Chunker. Arguments are converted with the GIL held;
// the chunking (tokenization, boundaries, exact counts, offsets, ids) runs with the GIL
// released; the results are built after, as numpy arrays of one chunk field each.
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "common.hpp"
#include "py_tokenizer.hpp"
#include "covekit/chunker.hpp"
#include "covekit/errors.hpp"
#include "covekit/tokenizer.hpp"

namespace covekit::bindings {

namespace {

using chunking::ChunkResult;

struct PyChunker {
  py::object tokenizer;  // keeps the native tokenizer alive
  std::unique_ptr<chunking::Chunker> core;
};

// One document's chunks as a tuple of arrays:
// (start, end, token_count, id, heading_path_index, heading_paths).
py::tuple to_python(std::string_view text, ChunkResult&& r) {
  const std::size_t n = r.chunks.size();
  std::vector<int64_t> start(n), end(n), tokens(n), path(n);
  std::vector<uint64_t> ids(n);
  for (std::size_t i = 0; i < n; ++i) {
    const auto& c = r.chunks[i];
    start[i] = static_cast<int64_t>(c.start);
    end[i] = static_cast<int64_t>(c.stop);
    tokens[i] = c.token_count;
    path[i] = c.heading_path;
    ids[i] = c.id;
  }
  py::list paths(r.heading_paths.size());
  for (std::size_t i = 0; i < r.heading_paths.size(); ++i) {
    const auto& p = r.heading_paths[i];
    py::tuple titles(p.size());
    for (std::size_t k = 0; k < p.size(); ++k) {
      PyObject* s = PyUnicode_DecodeUTF8(text.data() + p[k].first, static_cast<Py_ssize_t>(p[k].second - p[k].first),
                                         "replace");
      if (!s) throw py::error_already_set();
      titles[k] = py::reinterpret_steal<py::str>(s);
    }
    paths[i] = std::move(titles);
  }
  return py::make_tuple(to_numpy(std::move(start)), to_numpy(std::move(end)), to_numpy(std::move(tokens)),
                        to_numpy(std::move(ids)), to_numpy(std::move(path)), std::move(paths));
}

std::vector<uint64_t> as_offsets(py::handle obj) {
  std::vector<uint64_t> out;
  if (obj.is_none()) return out;
  auto arr = py::array_t<int64_t, py::array::c_style | py::array::forcecast>::ensure(obj);
  if (!arr) throw py::error_already_set();
  if (arr.ndim() != 1) throw InvalidInput("breaks must be a 1-D sequence of character offsets");
  out.reserve(static_cast<std::size_t>(arr.size()));
  for (py::ssize_t i = 0; i < arr.size(); ++i) {
    if (arr.data()[i] < 0) throw InvalidInput("breaks must be non-negative character offsets");
    out.push_back(static_cast<uint64_t>(arr.data()[i]));
  }
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace

void register_chunker(py::module_& m) {
  py::class_<PyChunker>(m, "Chunker", "Token-exact chunker (native core of covekit.Chunker).")
      .def(py::init([](py::object tokenizer, std::size_t max_tokens, std::size_t overlap_tokens,
                                     const std::string& strategy, std::size_t overlap_sentences, bool markdown,
                                     const std::string& overlap) {
             if (!py::isinstance<PyTokenizer>(tokenizer))
               throw py::type_error("tokenizer must be a covekit.Tokenizer, not " +
                                    std::string(py::str(py::type::handle_of(tokenizer).attr("__name__"))));
             const Tokenizer& tok = native_tokenizer(tokenizer);
             chunking::Options o;
             o.max_tokens = max_tokens;
             o.overlap_tokens = overlap_tokens;
             o.overlap_sentences = overlap_sentences;
             o.strategy = chunking::parse_strategy(strategy);
             o.markdown = markdown;
             if (overlap != "exact" && overlap != "boundary")
               throw InvalidInput("overlap must be 'exact' (the default) or 'boundary', got '" + overlap + "'");
             o.overlap_at_boundary = overlap == "boundary";
             auto self = std::make_unique<PyChunker>();
             self->tokenizer = tokenizer;
             self->core = std::make_unique<chunking::Chunker>(tok, o);
             return self;
           }),
           py::arg("tokenizer"), py::arg("max_tokens"), py::arg("overlap_tokens"), py::arg("strategy"),
           py::arg("overlap_sentences"), py::arg("markdown"), py::arg("overlap") = "exact")
      .def_property_readonly("max_tokens", [](const PyChunker& c) { return c.core->options().max_tokens; })
      .def_property_readonly("overlap_tokens", [](const PyChunker& c) { return c.core->options().overlap_tokens; })
      .def_property_readonly("overlap_sentences",
                             [](const PyChunker& c) { return c.core->options().overlap_sentences; })
      .def_property_readonly("strategy",
                             [](const PyChunker& c) { return chunking::strategy_name(c.core->options().strategy); })
      .def_property_readonly("markdown", [](const PyChunker& c) { return c.core->options().markdown; })
      .def_property_readonly("overlap", [](const PyChunker& c) {
        return std::string(c.core->options().overlap_at_boundary ? "boundary" : "exact");
      })
      .def(
          "chunk",
          [](const PyChunker& c, py::handle text, const std::string& doc_id, py::handle breaks) {
            Utf8Text t = as_utf8_text(text);
            const std::vector<uint64_t> char_breaks = as_offsets(breaks);
            ChunkResult r;
            {
              py::gil_scoped_release release;
              std::vector<uint32_t> byte_breaks;
              chunking::char_to_byte(t.view, char_breaks, byte_breaks);
              r = c.core->chunk(t.view, doc_id, byte_breaks);
            }
            return to_python(t.view, std::move(r));
          },
          py::arg("text"), py::arg("doc_id") = "", py::arg("breaks") = py::none(),
          "Chunks one text: (start, end, token_count, id, heading_path_index, heading_paths).")
      .def(
          "chunk_many",
          [](const PyChunker& c, py::iterable texts, py::iterable doc_ids) {
            std::vector<Utf8Text> in;
            for (py::handle x : texts) in.push_back(as_utf8_text(x, "each document"));
            std::vector<std::string> ids;
            for (py::handle x : doc_ids) ids.push_back(py::cast<std::string>(x));
            if (ids.size() != in.size()) throw InvalidInput("texts and doc_ids must have the same length");
            std::vector<ChunkResult> out(in.size());
            {
              py::gil_scoped_release release;
              std::size_t total = 0;
              for (const auto& t : in) total += t.view.size();
              // One scratch for the whole slice: its memos carry over from document to document.
              auto scratch = c.core->tokenizer().make_scratch(total, true);
              for (std::size_t i = 0; i < in.size(); ++i) out[i] = c.core->chunk(in[i].view, ids[i], {}, scratch);
            }
            py::list res(in.size());
            for (std::size_t i = 0; i < in.size(); ++i) res[i] = to_python(in[i].view, std::move(out[i]));
            return res;
          },
          py::arg("texts"), py::arg("doc_ids"), "chunk() of many texts in one GIL-free call.")
      .def(
          "sentence_spans",
          [](const PyChunker& c, py::handle text) {
            Utf8Text t = as_utf8_text(text);
            std::vector<int64_t> starts, ends;
            {
              py::gil_scoped_release release;
              const auto spans = c.core->sentences(t.view);
              std::vector<uint32_t> offs;
              offs.reserve(spans.size() * 2);
              for (const auto& [b, e] : spans) {
                offs.push_back(b);
                offs.push_back(e);
              }
              std::vector<uint64_t> chars;
              chunking::byte_to_char(t.view, offs, chars);
              for (std::size_t i = 0; i < spans.size(); ++i) {
                starts.push_back(static_cast<int64_t>(chars[2 * i]));
                ends.push_back(static_cast<int64_t>(chars[2 * i + 1]));
              }
            }
            return py::make_tuple(to_numpy(std::move(starts)), to_numpy(std::move(ends)));
          },
          py::arg("text"), "Character spans of the sentence units of a text: (starts, ends).")
      .def("__repr__", [](const PyChunker& c) {
        const auto& o = c.core->options();
        return "<covekit._core.Chunker strategy=" + std::string(chunking::strategy_name(o.strategy)) +
               " max_tokens=" + std::to_string(o.max_tokens) + " overlap_tokens=" + std::to_string(o.overlap_tokens) +
               ">";
      });
}

}  // namespace covekit::bindings
