// Bindings of covekit::Tokenizer. Arguments are converted with the GIL held; every
// loop over text runs with the GIL released; results are built after.
#include <pybind11/stl.h>

#include <algorithm>
#include <exception>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "common.hpp"
#include "py_tokenizer.hpp"
#include "covekit/errors.hpp"
#include "covekit/parallel.hpp"
#include "covekit/tokenizer.hpp"
#include "covekit/utf8.hpp"

namespace covekit::bindings {

namespace {

using pretokenize::Pattern;

Pattern parse_pattern(const std::string& name) {
  if (name == "r50k") return Pattern::kR50k;
  if (name == "cl100k") return Pattern::kCl100k;
  if (name == "o200k") return Pattern::kO200k;
  throw InvalidInput("unknown pre-tokenizer pattern '" + name +
                     "'; choose one of 'r50k' (gpt2, r50k_base, p50k_base), 'cl100k' (cl100k_base) "
                     "or 'o200k' (o200k_base)");
}

const char* pattern_name(Pattern p) {
  switch (p) {
    case Pattern::kR50k: return "r50k";
    case Pattern::kCl100k: return "cl100k";
    case Pattern::kO200k: return "o200k";
  }
  return "?";
}

std::vector<std::pair<std::string, Rank>> specials_from(py::handle mapping) {
  std::vector<std::pair<std::string, Rank>> out;
  if (mapping.is_none()) return out;
  for (auto item : py::reinterpret_borrow<py::dict>(mapping)) {
    if (!PyUnicode_Check(item.first.ptr()))
      throw InvalidInput("special token names must be str");
    const long long id = py::cast<long long>(item.second);
    if (id < 0 || id >= static_cast<long long>(kNoRank)) throw InvalidInput("special token ids must be in [0, 2**32 - 1)");
    out.emplace_back(py::cast<std::string>(item.first), static_cast<Rank>(id));
  }
  return out;
}

// Token ids from a list/tuple/sequence of ints or a numpy integer array.
struct Ids {
  std::vector<Rank> owned;
  std::span<const Rank> view;
  py::object keep;
};

[[noreturn]] void bad_id(long long v) {
  throw InvalidTokenId("token id " + std::to_string(v) + " is out of range: ids are integers in [0, 2**32 - 1)");
}

Ids as_ids(py::handle obj) {
  Ids ids;
  if (py::isinstance<py::array>(obj)) {
    py::array arr = py::reinterpret_borrow<py::array>(obj);
    const char kind = arr.dtype().kind();
    if (kind != 'i' && kind != 'u')
      throw InvalidInput("token ids must be integers; got a numpy array of dtype " + std::string(py::str(arr.dtype())));
    if (arr.ndim() != 1) throw InvalidInput("token ids must be a 1-D sequence");
    if (arr.dtype().is(py::dtype::of<uint32_t>()) && (arr.flags() & py::array::c_style)) {
      ids.keep = arr;
      ids.view = std::span<const Rank>(static_cast<const Rank*>(arr.data()), static_cast<std::size_t>(arr.size()));
      return ids;
    }
    auto conv = py::array_t<long long, py::array::c_style | py::array::forcecast>::ensure(arr);
    if (!conv) throw py::error_already_set();
    ids.owned.reserve(static_cast<std::size_t>(conv.size()));
    const long long* d = conv.data();
    for (py::ssize_t i = 0; i < conv.size(); ++i) {
      if (d[i] < 0 || d[i] >= static_cast<long long>(kNoRank)) bad_id(d[i]);
      ids.owned.push_back(static_cast<Rank>(d[i]));
    }
  } else {
    if (PyUnicode_Check(obj.ptr()) || PyBytes_Check(obj.ptr()))
      throw py::type_error("token ids must be a sequence of ints, not " +
                           std::string(py::str(py::type::handle_of(obj).attr("__name__"))));
    PyObject* seq = PySequence_Fast(obj.ptr(), "token ids must be a sequence of ints");
    if (!seq) throw py::error_already_set();
    py::object guard = py::reinterpret_steal<py::object>(seq);
    const Py_ssize_t n = PySequence_Fast_GET_SIZE(seq);
    PyObject** items = PySequence_Fast_ITEMS(seq);
    ids.owned.reserve(static_cast<std::size_t>(n));
    for (Py_ssize_t i = 0; i < n; ++i) {
      PyObject* x = items[i];
      if (!PyLong_Check(x))
        throw py::type_error("token ids must be ints; item " + std::to_string(i) + " is " +
                             std::string(py::str(py::type::handle_of(x).attr("__name__"))));
      int overflow = 0;
      const long long v = PyLong_AsLongLongAndOverflow(x, &overflow);
      if (overflow) throw InvalidTokenId("token id at position " + std::to_string(i) + " is out of range");
      if (v < 0 || v >= static_cast<long long>(kNoRank)) bad_id(v);
      ids.owned.push_back(static_cast<Rank>(v));
    }
  }
  ids.view = ids.owned;
  return ids;
}

// Takes a scratch for this call. A scratch of another tokenizer, or one in use by
// another thread, is an error, not a wait (each thread of a batch makes its own).
std::unique_lock<std::mutex> lock_scratch(PyScratch& s, const PyTokenizer& w) {
  if (&py::cast<const PyTokenizer&>(s.tokenizer) != &w)
    throw InvalidInput("this scratch was made by another tokenizer; use make_scratch() of this one");
  std::unique_lock<std::mutex> lock(s.busy, std::try_to_lock);
  if (!lock.owns_lock())
    throw InvalidInput("this scratch is in use by another thread; make one scratch per thread");
  return lock;
}

void check_threads(std::size_t num_threads, const PyScratch* scratch) {
  if (num_threads < 1) throw InvalidInput("num_threads must be >= 1, got 0");
  if (scratch && num_threads > 1)
    throw InvalidInput("a scratch is for one thread: pass a scratch or num_threads > 1, not both");
}

using parallel::Slice;

// The batch cut into slices of about equal UTF-8 size, 8 per thread.
std::vector<Slice> batch_slices(std::span<const std::string_view> views, std::size_t threads) {
  return parallel::balanced_slices(views.size(), threads * 8, [&](std::size_t i) { return views[i].size(); });
}

// A batch on `threads` native threads (parallel::run_slices), the GIL released: each
// thread encodes its run of slices with its own scratch (memos). The calling thread is
// one of them: between its slices it takes the GIL, turns the finished slices into
// Python objects (`done(slice_index, slice)`) and checks for Ctrl-C, so building the
// results overlaps the encoding. The first error is raised once all threads stopped.
template <class Work, class Done>
void run_batch(const Tokenizer& t, std::span<const std::string_view> views, std::span<const Slice> slices,
               std::size_t threads, Work&& work, Done&& done) {
  threads = std::min(threads, slices.size());
  std::size_t total = 0;
  for (const Slice& s : slices) total += s.size;
  const std::size_t hint = total / std::max<std::size_t>(threads, 1);
  std::vector<std::optional<Tokenizer::Scratch>> scratch(threads);  // worker w makes scratch[w]
  std::exception_ptr error;
  {
    py::gil_scoped_release release;
    try {
      parallel::run_slices(
          slices.size(), threads,
          [&](std::size_t i, std::size_t w) {
            if (!scratch[w]) scratch[w].emplace(t.make_scratch(hint));
            work(views.subspan(slices[i].begin, slices[i].end - slices[i].begin), i, *scratch[w]);
          },
          [&](std::span<const std::size_t> ready) {
            py::gil_scoped_acquire gil;
            for (const std::size_t i : ready) done(i, slices[i]);
            if (PyErr_CheckSignals() != 0) throw py::error_already_set();
          });
    } catch (...) {
      error = std::current_exception();
    }
  }
  if (error) std::rethrow_exception(error);  // GIL held again: pybind11 translates it
}

SpecialPolicy make_policy(const Tokenizer& tok, py::handle allowed, py::handle disallowed) {
  const auto& specials = tok.special_tokens();
  std::vector<uint8_t> allow(specials.size(), 0), forbid(specials.size(), 0);
  auto mark = [&](py::handle spec, std::vector<uint8_t>& flags, const char* what) -> bool {
    if (PyUnicode_Check(spec.ptr())) {
      if (py::cast<std::string>(spec) == "all") return true;
      throw InvalidInput(std::string(what) + " must be 'all' or a collection of special-token strings, not a str");
    }
    for (py::handle s : py::reinterpret_borrow<py::iterable>(spec)) {
      if (!PyUnicode_Check(s.ptr())) throw InvalidInput(std::string(what) + " must hold str special tokens");
      const std::string name = py::cast<std::string>(s);
      bool found = false;
      for (std::size_t k = 0; k < specials.size(); ++k) {
        if (specials[k].first == name) {
          flags[k] = 1;
          found = true;
        }
      }
      if (!found) {
        std::string known;
        for (const auto& [text, id] : specials) known += (known.empty() ? "" : ", ") + text;
        throw InvalidInput("'" + name + "' in " + what + " is not a special token of '" + tok.name() +
                           "'; its special tokens are: " + (known.empty() ? "(none)" : known));
      }
    }
    return false;
  };
  const bool allow_all = mark(allowed, allow, "allowed_special");
  if (allow_all) std::fill(allow.begin(), allow.end(), 1);
  const bool forbid_all = mark(disallowed, forbid, "disallowed_special");
  SpecialPolicy p;
  p.actions.resize(specials.size());
  for (std::size_t k = 0; k < specials.size(); ++k) {
    const bool f = forbid_all ? !allow[k] : forbid[k] != 0;
    p.actions[k] = f ? SpecialAction::kDisallowed : allow[k] ? SpecialAction::kAllowed : SpecialAction::kOrdinary;
    p.any_allowed |= p.actions[k] == SpecialAction::kAllowed;
    p.any_disallowed |= p.actions[k] == SpecialAction::kDisallowed;
  }
  return p;
}

std::unique_ptr<PyTokenizer> build(std::vector<std::pair<std::string, Rank>> ranks, py::handle specials,
                                 const std::string& pattern, const std::string& name) {
  auto sp = specials_from(specials);
  const Pattern pat = parse_pattern(pattern);
  std::unique_ptr<Tokenizer> core;
  {
    py::gil_scoped_release release;
    core = std::make_unique<Tokenizer>(std::move(ranks), std::move(sp), pat, name);
  }
  return std::make_unique<PyTokenizer>(std::move(core));
}

}  // namespace

void register_tokenizer(py::module_& m) {
  py::class_<SpecialPolicy>(m, "SpecialPolicy", "What encode does with special-token text (see Tokenizer.policy).")
      .def_property_readonly("any_allowed", [](const SpecialPolicy& p) { return p.any_allowed; })
      .def_property_readonly("any_disallowed", [](const SpecialPolicy& p) { return p.any_disallowed; })
      .def("__repr__", [](const SpecialPolicy& p) {
        std::size_t a = 0, d = 0;
        for (auto x : p.actions) {
          a += x == SpecialAction::kAllowed;
          d += x == SpecialAction::kDisallowed;
        }
        return "<covekit.SpecialPolicy allowed=" + std::to_string(a) + " disallowed=" + std::to_string(d) + ">";
      });

  m.def(
      "parse_tiktoken_bpe",
      [](py::bytes data) {
        std::string_view v(PyBytes_AS_STRING(data.ptr()), static_cast<std::size_t>(PyBytes_GET_SIZE(data.ptr())));
        std::vector<std::pair<std::string, Rank>> ranks;
        {
          py::gil_scoped_release release;
          ranks = parse_tiktoken_bpe(v);
        }
        py::dict out;
        for (auto& [bytes, rank] : ranks) out[py::bytes(bytes)] = rank;
        return out;
      },
      py::arg("data"), "Parses the contents of a .tiktoken file into {token bytes: rank}.");

  m.def(
      "pretokenize",
      [](py::handle text, const std::string& pattern) {
        Utf8Text t = as_utf8_text(text);
        const Pattern pat = parse_pattern(pattern);
        std::vector<std::pair<std::size_t, std::size_t>> spans;
        {
          py::gil_scoped_release release;
          std::size_t pos = 0;
          pretokenize::split(pat, t.view, [&](std::string_view piece) {
            spans.emplace_back(pos, piece.size());
            pos += piece.size();
          });
        }
        py::list out(spans.size());
        for (std::size_t i = 0; i < spans.size(); ++i)
          out[i] = py::reinterpret_steal<py::str>(PyUnicode_DecodeUTF8(t.view.data() + spans[i].first,
                                                                        static_cast<Py_ssize_t>(spans[i].second), "strict"));
        return out;
      },
      py::arg("text"), py::arg("pattern"),
      "Splits text into the pieces that BPE encodes, as tiktoken's regex for `pattern` does.");

  py::class_<PyScratch>(m, "Scratch",
                        "Memos of one thread's batches for one tokenizer (Tokenizer.make_scratch).")
      .def("__repr__", [](const PyScratch& s) {
        return "<covekit._core.Scratch tokenizer=" + std::string(py::str(s.tokenizer.attr("name"))) + ">";
      });

  py::class_<PyTokenizer>(m, "Tokenizer", "Byte-level BPE tokenizer (native core of covekit.Tokenizer).")
      .def_static(
          "from_tiktoken_data",
          [](py::bytes data, py::handle special_tokens, const std::string& pattern, const std::string& name) {
            std::string_view v(PyBytes_AS_STRING(data.ptr()), static_cast<std::size_t>(PyBytes_GET_SIZE(data.ptr())));
            std::vector<std::pair<std::string, Rank>> ranks;
            {
              py::gil_scoped_release release;
              ranks = parse_tiktoken_bpe(v);
            }
            return build(std::move(ranks), special_tokens, pattern, name);
          },
          py::arg("data"), py::arg("special_tokens"), py::arg("pattern"), py::arg("name"))
      .def_static(
          "from_ranks",
          [](py::dict mergeable_ranks, py::handle special_tokens, const std::string& pattern, const std::string& name) {
            std::vector<std::pair<std::string, Rank>> ranks;
            ranks.reserve(mergeable_ranks.size());
            for (auto item : mergeable_ranks) {
              if (!PyBytes_Check(item.first.ptr())) throw InvalidInput("mergeable_ranks keys must be bytes");
              const long long r = py::cast<long long>(item.second);
              if (r < 0 || r >= static_cast<long long>(kNoRank)) throw InvalidInput("ranks must be in [0, 2**32 - 1)");
              ranks.emplace_back(py::cast<std::string>(item.first), static_cast<Rank>(r));
            }
            return build(std::move(ranks), special_tokens, pattern, name);
          },
          py::arg("mergeable_ranks"), py::arg("special_tokens"), py::arg("pattern"), py::arg("name"))
      .def_property_readonly("name", [](const PyTokenizer& w) {
            return w.core->name(); })
      .def_property_readonly("pattern", [](const PyTokenizer& w) {
            const Tokenizer& t = *w.core; return pattern_name(t.pattern()); })
      .def_property_readonly("max_token_value", [](const PyTokenizer& w) {
            return w.core->max_token_value(); })
      .def_property_readonly("mergeable_count", [](const PyTokenizer& w) {
            return w.core->mergeable_count(); })
      .def_property_readonly("memory_bytes", [](const PyTokenizer& w) {
            return w.core->memory_bytes(); })
      .def_property_readonly("special_tokens",
                             [](const PyTokenizer& w) {
            const Tokenizer& t = *w.core;
                               py::dict d;
                               for (const auto& [text, id] : t.special_tokens()) d[py::str(text)] = id;
                               return d;
                             })
      .def(
          "policy",
          [](const PyTokenizer& w, py::handle allowed, py::handle disallowed) {
            const Tokenizer& t = *w.core; return make_policy(t, allowed, disallowed); },
          py::arg("allowed_special"), py::arg("disallowed_special"))
      .def(
          "encode",
          [](const PyTokenizer& w, py::handle text, const SpecialPolicy* policy, bool as_numpy) {
            const Tokenizer& t = *w.core;
            Utf8Text s = as_utf8_text(text);
            std::vector<Rank> out;
            {
              py::gil_scoped_release release;
              if (policy) t.encode(s.view, *policy, out);
              else t.encode_ordinary(s.view, out);
            }
            return w.ids_out(std::move(out), as_numpy);
          },
          py::arg("text"), py::arg("policy") = nullptr, py::arg("as_numpy") = false)
      .def(
          "count",
          [](const PyTokenizer& w, py::handle text, const SpecialPolicy* policy) {
            const Tokenizer& t = *w.core;
            Utf8Text s = as_utf8_text(text);
            py::gil_scoped_release release;
            return policy ? t.count(s.view, *policy) : t.count_ordinary(s.view);
          },
          py::arg("text"), py::arg("policy") = nullptr)
      .def(
          "make_scratch",
          [](py::object self, std::size_t size_hint) {
            const Tokenizer& t = *py::cast<const PyTokenizer&>(self).core;
            return std::make_unique<PyScratch>(self, t.make_scratch(size_hint));
          },
          py::arg("size_hint") = 0,
          "Memos for one thread's batches (pass to encode_many/count_many); tied to this tokenizer.")
      .def(
          "encode_many",
          [](const PyTokenizer& w, py::iterable texts, const SpecialPolicy* policy, bool as_numpy,
             PyScratch* scratch, std::size_t num_threads) {
            const Tokenizer& t = *w.core;
            const TextBatch in(utf8_texts(texts, "each text"));
            check_threads(num_threads, scratch);
            if (num_threads > 1 && in.views.size() > 1) {
              py::list res(in.views.size());
              const std::vector<Slice> slices = batch_slices(in.views, num_threads);
              std::vector<std::vector<std::vector<Rank>>> parts(slices.size());
              run_batch(
                  t, in.views, slices, num_threads,
                  [&](std::span<const std::string_view> part, std::size_t i, Tokenizer::Scratch& s) {
                    t.encode_many(part, policy, parts[i], s);
                  },
                  [&](std::size_t i, const Slice& slice) {
                    for (std::size_t k = 0; k < parts[i].size(); ++k)
                      res[slice.begin + k] = w.ids_out(std::move(parts[i][k]), as_numpy);
                    std::vector<std::vector<Rank>>().swap(parts[i]);
                  });
              return res;
            }
            std::vector<std::vector<Rank>> out;
            {
              std::unique_lock<std::mutex> lock;
              if (scratch) lock = lock_scratch(*scratch, w);
              py::gil_scoped_release release;
              if (scratch) {
                t.encode_many(in.views, policy, out, scratch->scratch);
              } else {
                t.encode_many(in.views, policy, out);
              }
            }
            py::list res(out.size());
            for (std::size_t i = 0; i < out.size(); ++i) res[i] = w.ids_out(std::move(out[i]), as_numpy);
            return res;
          },
          py::arg("texts"), py::arg("policy") = nullptr, py::arg("as_numpy") = false,
          py::arg("scratch") = nullptr, py::arg("num_threads") = 1)
      .def(
          "count_many",
          [](const PyTokenizer& w, py::iterable texts, const SpecialPolicy* policy, PyScratch* scratch,
             std::size_t num_threads) {
            const Tokenizer& t = *w.core;
            const TextBatch in(utf8_texts(texts, "each text"));
            check_threads(num_threads, scratch);
            std::vector<std::size_t> counts;
            if (num_threads > 1 && in.views.size() > 1) {
              counts.resize(in.views.size());
              const std::vector<Slice> slices = batch_slices(in.views, num_threads);
              run_batch(
                  t, in.views, slices, num_threads,
                  [&](std::span<const std::string_view> part, std::size_t i, Tokenizer::Scratch& s) {
                    std::vector<std::size_t> c;
                    t.count_many(part, policy, c, s);
                    std::copy(c.begin(), c.end(), counts.begin() + static_cast<std::ptrdiff_t>(slices[i].begin));
                  },
                  [](std::size_t, const Slice&) {});
            } else {
              std::unique_lock<std::mutex> lock;
              if (scratch) lock = lock_scratch(*scratch, w);
              py::gil_scoped_release release;
              if (scratch) {
                t.count_many(in.views, policy, counts, scratch->scratch);
              } else {
                t.count_many(in.views, policy, counts);
              }
            }
            std::vector<int64_t> out(counts.begin(), counts.end());
            return to_numpy(std::move(out));
          },
          py::arg("texts"), py::arg("policy") = nullptr, py::arg("scratch") = nullptr,
          py::arg("num_threads") = 1)
      .def(
          "encode_with_offsets",
          [](const PyTokenizer& w, py::handle text, const SpecialPolicy& policy, bool as_numpy) {
            const Tokenizer& t = *w.core;
            Utf8Text s = as_utf8_text(text);
            std::vector<Rank> ids;
            std::vector<int64_t> starts;
            {
              py::gil_scoped_release release;
              std::vector<std::size_t> bytes;
              t.encode_with_byte_offsets(s.view, policy, ids, bytes);
              // Byte offsets -> str indices. A token that starts inside a character
              // (continuation byte) gets the index of that character, as tiktoken's
              // decode_with_offsets does.
              starts.reserve(bytes.size());
              const auto* p = reinterpret_cast<const unsigned char*>(s.view.data());
              std::size_t pos = 0, chars = 0;
              for (const std::size_t b : bytes) {
                for (; pos < b; ++pos) chars += !utf8::is_continuation(p[pos]);
                const bool inside = b < s.view.size() && utf8::is_continuation(p[b]);
                starts.push_back(static_cast<int64_t>(chars) - (inside ? 1 : 0));
              }
            }
            if (as_numpy) return py::tuple(py::make_tuple(to_numpy(std::move(ids)), to_numpy(std::move(starts))));
            return py::tuple(py::make_tuple(w.to_list(ids), to_list(starts)));
          },
          py::arg("text"), py::arg("policy"), py::arg("as_numpy") = false)
      .def(
          "truncate",
          [](const PyTokenizer& w, py::handle text, std::size_t max_tokens, const SpecialPolicy& policy) {
            const Tokenizer& t = *w.core;
            Utf8Text s = as_utf8_text(text);
            py::gil_scoped_release release;
            const std::size_t end = t.truncate_bytes(s.view, max_tokens, policy);
            return utf8::count_code_points(s.view.substr(0, end));
          },
          py::arg("text"), py::arg("max_tokens"), py::arg("policy"),
          "Number of characters of the longest prefix that fits in max_tokens.")
      .def(
          "decode_bytes",
          [](const PyTokenizer& w, py::handle tokens) {
            const Tokenizer& t = *w.core;
            Ids ids = as_ids(tokens);
            std::string out;
            {
              py::gil_scoped_release release;
              t.decode_bytes(ids.view, out);
            }
            return py::bytes(out);
          },
          py::arg("tokens"))
      .def(
          "decode",
          [](const PyTokenizer& w, py::handle tokens, const std::string& errors) {
            const Tokenizer& t = *w.core;
            Ids ids = as_ids(tokens);
            std::string out;
            {
              py::gil_scoped_release release;
              t.decode_bytes(ids.view, out);
            }
            PyObject* s = PyUnicode_DecodeUTF8(out.data(), static_cast<Py_ssize_t>(out.size()), errors.c_str());
            if (!s) throw py::error_already_set();
            return py::reinterpret_steal<py::str>(s);
          },
          py::arg("tokens"), py::arg("errors") = "replace")
      .def(
          "decode_batch_bytes",
          [](const PyTokenizer& w, py::iterable batch) {
            const Tokenizer& t = *w.core;
            std::vector<Ids> all;
            for (py::handle x : batch) all.push_back(as_ids(x));
            std::vector<std::string> out(all.size());
            {
              py::gil_scoped_release release;
              for (std::size_t i = 0; i < all.size(); ++i) t.decode_bytes(all[i].view, out[i]);
            }
            py::list res(out.size());
            for (std::size_t i = 0; i < out.size(); ++i) res[i] = py::bytes(out[i]);
            return res;
          },
          py::arg("batch"))
      .def(
          "token_bytes",
          [](const PyTokenizer& w, py::handle token) {
            const Tokenizer& t = *w.core;
            if (!PyLong_Check(token.ptr()) || PyBool_Check(token.ptr()))
              throw py::type_error("a token id must be an int, not " +
                                   std::string(py::str(py::type::handle_of(token).attr("__name__"))));
            int overflow = 0;
            const long long v = PyLong_AsLongLongAndOverflow(token.ptr(), &overflow);
            if (overflow) throw InvalidTokenId("token id " + std::string(py::str(token)) + " is out of range");
            if (v < 0 || v >= static_cast<long long>(kNoRank)) bad_id(v);
            return py::bytes(std::string(t.token_bytes(static_cast<Rank>(v))));
          },
          py::arg("token"))
      .def(
          "tokens_bytes",
          [](const PyTokenizer& w, py::handle tokens) {
            const Tokenizer& t = *w.core;
            Ids ids = as_ids(tokens);
            py::list out(ids.view.size());
            for (std::size_t i = 0; i < ids.view.size(); ++i) out[i] = py::bytes(std::string(t.token_bytes(ids.view[i])));
            return out;
          },
          py::arg("tokens"), "The bytes of each token.")
      .def(
          "lookup",
          [](const PyTokenizer& w, py::bytes data) -> py::object {
            const Tokenizer& t = *w.core;
            const std::string_view v(PyBytes_AS_STRING(data.ptr()), static_cast<std::size_t>(PyBytes_GET_SIZE(data.ptr())));
            const Rank r = t.lookup(v);
            if (r == kNoRank) return py::none();
            return py::int_(r);
          },
          py::arg("data"), "Rank of exactly these bytes as one mergeable token, or None.")
      .def(
          "encode_piece",
          [](const PyTokenizer& w, py::bytes piece) {
            const Tokenizer& t = *w.core;
            const std::string_view v(PyBytes_AS_STRING(piece.ptr()), static_cast<std::size_t>(PyBytes_GET_SIZE(piece.ptr())));
            std::vector<Rank> out;
            {
              py::gil_scoped_release release;
              t.encode_piece(v, out);
            }
            return to_list(out);
          },
          py::arg("piece"), "BPE of one pre-tokenized piece (bytes), without splitting.")
      .def("is_token", [](const PyTokenizer& w, Rank token) {
            return w.core->is_token(token); }, py::arg("token"))
      .def("is_special", [](const PyTokenizer& w, Rank token) {
            return w.core->is_special(token); }, py::arg("token"))
      .def("mergeable_ranks",
           [](const PyTokenizer& w) {
            const Tokenizer& t = *w.core;
             py::dict d;
             for (Rank r = 0; r <= t.max_token_value(); ++r)
               if (t.is_token(r) && !t.is_special(r)) d[py::bytes(std::string(t.token_bytes(r)))] = r;
             return d;
           })
      .def("__repr__", [](const PyTokenizer& w) {
            const Tokenizer& t = *w.core;
        return "<covekit._core.Tokenizer name='" + t.name() + "' pattern=" + pattern_name(t.pattern()) +
               " n_vocab=" + std::to_string(std::size_t{t.max_token_value()} + 1) + ">";
      });
}

}  // namespace covekit::bindings
