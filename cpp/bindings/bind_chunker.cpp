// Bindings of covekit::chunking::Chunker. Arguments are converted with the GIL held;
// the chunking (tokenization, boundaries, exact counts, offsets, ids) runs with the GIL
// released; the results are built after, as numpy arrays of one chunk field each.
#include <array>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "common.hpp"
#include "py_objects.hpp"
#include "py_tokenizer.hpp"
#include "covekit/chunker.hpp"
#include "covekit/errors.hpp"
#include "covekit/tokenizer.hpp"

namespace covekit::bindings {

namespace {

using chunking::ChunkResult;

// Builds instances of covekit.Chunk (a frozen dataclass with slots) through a
// SlotsFactory: about 1 us saved per chunk, a tenth of chunk() on short documents.
class ChunkFactory {
 public:
  ChunkFactory() = default;
  explicit ChunkFactory(py::handle type)
      : slots_(type,
               {"text", "start", "end", "token_count", "index", "id", "doc_id", "heading_path", "metadata", "acl"},
               "chunk_type") {}
  [[nodiscard]] bool enabled() const noexcept { return slots_.enabled(); }

  // The chunks of one document; `data` is the UTF-8 of the str `text`.
  [[nodiscard]] py::list build(py::handle text, const char* data, const ChunkResult& r, py::handle doc_id,
                               py::handle metadata, py::handle acl) const {
    std::vector<py::object> paths;
    paths.reserve(r.heading_paths.size());
    for (const auto& p : r.heading_paths) {
      py::tuple titles(p.size());
      for (std::size_t k = 0; k < p.size(); ++k) {
        PyObject* t =
            PyUnicode_DecodeUTF8(data + p[k].first, static_cast<Py_ssize_t>(p[k].second - p[k].first), "replace");
        if (!t) throw py::error_already_set();
        titles[k] = py::reinterpret_steal<py::str>(t);
      }
      paths.push_back(std::move(titles));
    }
    py::list out(r.chunks.size());
    for (std::size_t i = 0; i < r.chunks.size(); ++i) {
      const auto& ch = r.chunks[i];
      py::object piece = py::reinterpret_steal<py::object>(
          PyUnicode_Substring(text.ptr(), static_cast<Py_ssize_t>(ch.start), static_cast<Py_ssize_t>(ch.stop)));
      if (!piece) throw py::error_already_set();
      const py::int_ start(ch.start), stop(ch.stop), count(ch.token_count), index(i), hash(ch.id);
      out[i] = slots_.make({piece, start, stop, count, index, hash, doc_id, paths[ch.heading_path], metadata, acl});
    }
    return out;
  }

 private:
  SlotsFactory<10> slots_;
};

struct PyChunker {
  py::object tokenizer;  // keeps the native tokenizer alive
  std::unique_ptr<chunking::Chunker> core;
  ChunkFactory factory;  // covekit.Chunk, when given
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
                                     const std::string& overlap, py::handle chunk_type) {
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
             if (!chunk_type.is_none()) self->factory = ChunkFactory(chunk_type);
             return self;
           }),
           py::arg("tokenizer"), py::arg("max_tokens"), py::arg("overlap_tokens"), py::arg("strategy"),
           py::arg("overlap_sentences"), py::arg("markdown"), py::arg("overlap") = "exact",
           py::arg("chunk_type") = py::none())
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
          "chunk_objects",
          [](const PyChunker& c, py::handle text, py::str doc_id, py::handle metadata,
             py::handle acl) -> py::object {
            if (!c.factory.enabled()) throw InvalidInput("this Chunker was made without chunk_type");
            if (!PyUnicode_Check(text.ptr())) throw py::type_error("text must be a str");
            Py_ssize_t n = 0;
            const char* data = PyUnicode_AsUTF8AndSize(text.ptr(), &n);
            if (data == nullptr) {
              // Lone surrogates: the caller maps offsets through tiktoken's repair instead.
              if (!PyErr_ExceptionMatches(PyExc_UnicodeEncodeError)) throw py::error_already_set();
              PyErr_Clear();
              return py::none();
            }
            const std::string_view view(data, static_cast<std::size_t>(n));
            const std::string id = doc_id;
            ChunkResult r;
            {
              py::gil_scoped_release release;
              r = c.core->chunk(view, id, {});
            }
            return c.factory.build(text, data, r, doc_id, metadata, acl);
          },
          py::arg("text"), py::arg("doc_id"), py::arg("metadata"), py::arg("acl"),
          "chunk() as a list of chunk_type instances; None for text with lone surrogates.")
      .def(
          "chunk_many_objects",
          [](const PyChunker& c, py::list texts, py::list doc_ids, py::list metadatas, py::list acls) -> py::object {
            if (!c.factory.enabled()) throw InvalidInput("this Chunker was made without chunk_type");
            const std::size_t n = texts.size();
            if (doc_ids.size() != n || metadatas.size() != n || acls.size() != n)
              throw InvalidInput("texts, doc_ids, metadatas and acls must have the same length");
            std::vector<std::string_view> views(n);
            std::vector<std::string> ids(n);
            for (std::size_t i = 0; i < n; ++i) {
              py::handle t = texts[i];
              if (!PyUnicode_Check(t.ptr())) throw py::type_error("each text must be a str");
              Py_ssize_t len = 0;
              const char* data = PyUnicode_AsUTF8AndSize(t.ptr(), &len);
              if (data == nullptr) {
                if (!PyErr_ExceptionMatches(PyExc_UnicodeEncodeError)) throw py::error_already_set();
                PyErr_Clear();
                return py::none();
              }
              views[i] = std::string_view(data, static_cast<std::size_t>(len));
              ids[i] = py::cast<std::string>(doc_ids[i]);
            }
            std::vector<ChunkResult> results(n);
            {
              py::gil_scoped_release release;
              std::size_t total = 0;
              for (const auto v : views) total += v.size();
              // One scratch for the whole slice: its memos carry over from document to document.
              auto scratch = c.core->tokenizer().make_scratch(total, true);
              for (std::size_t i = 0; i < n; ++i) results[i] = c.core->chunk(views[i], ids[i], {}, scratch);
            }
            py::list out(n);
            for (std::size_t i = 0; i < n; ++i)
              out[i] = c.factory.build(texts[i], views[i].data(), results[i], doc_ids[i], metadatas[i], acls[i]);
            return std::move(out);
          },
          py::arg("texts"), py::arg("doc_ids"), py::arg("metadatas"), py::arg("acls"),
          "chunk_objects() of many texts, GIL-free; None when one has lone surrogates.")
      .def(
          "chunk_many",
          [](const PyChunker& c, py::iterable texts, py::iterable doc_ids) {
            const std::vector<Utf8Text> in = utf8_texts(texts, "each document");
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
