// The C++ object behind covekit._core.Tokenizer, shared by the bindings that take a
// tokenizer argument (bind_chunker.cpp): they cast the Python object to PyTokenizer
// and use its core.
#pragma once

#include <memory>
#include <mutex>
#include <vector>

#include "common.hpp"
#include "covekit/tokenizer.hpp"

namespace covekit::bindings {

// The bound object: the core tokenizer plus a Python int for every token id, so that
// building result lists is a reference-count increment per token, not an allocation.
struct PyTokenizer {
  std::unique_ptr<Tokenizer> core;
  std::vector<PyObject*> ints;  // owned references, released in the destructor

  explicit PyTokenizer(std::unique_ptr<Tokenizer> t) : core(std::move(t)) {
    ints.reserve(std::size_t{core->max_token_value()} + 1);
    for (std::size_t i = 0; i <= core->max_token_value(); ++i) {
      PyObject* x = PyLong_FromSize_t(i);
      if (!x) {
        release();
        throw py::error_already_set();
      }
      ints.push_back(x);
    }
  }
  PyTokenizer(const PyTokenizer&) = delete;
  PyTokenizer& operator=(const PyTokenizer&) = delete;
  ~PyTokenizer() { release(); }
  void release() noexcept {
    for (PyObject* x : ints) Py_XDECREF(x);
    ints.clear();
  }

  [[nodiscard]] py::list to_list(const std::vector<Rank>& v) const {
    PyObject* list = PyList_New(static_cast<Py_ssize_t>(v.size()));
    if (!list) throw py::error_already_set();
    for (std::size_t i = 0; i < v.size(); ++i) {
      PyObject* x = ints[v[i]];
      Py_INCREF(x);
      PyList_SET_ITEM(list, static_cast<Py_ssize_t>(i), x);
    }
    return py::reinterpret_steal<py::list>(list);
  }
  [[nodiscard]] py::object ids_out(std::vector<Rank>&& v, bool as_numpy) const {
    if (as_numpy) return to_numpy(std::move(v));
    return to_list(v);
  }
};

// A tokenizer's scratch space (memos) for one Python thread's batches; holds a
// reference to the tokenizer object so that it cannot outlive it.
struct PyScratch {
  PyScratch(py::object t, Tokenizer::Scratch s) : tokenizer(std::move(t)), scratch(std::move(s)) {}
  py::object tokenizer;
  Tokenizer::Scratch scratch;
  std::mutex busy;  // a scratch is for one thread at a time; misuse raises, never races
};

// The core of a covekit._core.Tokenizer (py::cast raises TypeError for anything else).
inline const Tokenizer& native_tokenizer(py::handle obj) { return *py::cast<const PyTokenizer&>(obj).core; }

}  // namespace covekit::bindings
