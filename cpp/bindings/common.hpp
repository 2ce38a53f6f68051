// Shared helpers of the bindings: argument conversion with clear errors.
#pragma once

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <memory>
#include <string_view>
#include <vector>

namespace covekit::bindings {

namespace py = pybind11;

// A str (or UTF-8 bytes) argument seen as UTF-8 without copying. `keep` holds the
// object that owns the bytes (the argument itself or a repaired copy of it).
struct Utf8Text {
  py::object keep;
  std::string_view view;
};

// str -> its UTF-8 (lone surrogates replaced by U+FFFD, as tiktoken does);
// bytes -> validated UTF-8. Anything else raises TypeError.
Utf8Text as_utf8_text(py::handle obj, const char* what = "text");

// Each item of an iterable through as_utf8_text (`what` names an item in errors).
std::vector<Utf8Text> utf8_texts(py::handle iterable, const char* what);

// A batch of texts: the converted texts (each keeps its Python object alive) and
// their UTF-8 views, for the C++ calls that take a span of string_views.
struct TextBatch {
  explicit TextBatch(std::vector<Utf8Text> texts) : keep(std::move(texts)) {
    views.reserve(keep.size());
    for (const Utf8Text& t : keep) views.push_back(t.view);
  }
  std::vector<Utf8Text> keep;
  std::vector<std::string_view> views;
};

// str -> UTF-8 (surrogates rejected); bytes/bytearray/memoryview -> raw bytes.
Utf8Text as_bytes_like(py::handle obj, const char* what = "data");

// Moves `v` to the heap and returns a numpy array that views it (no copy).
template <class T>
py::array_t<T> to_numpy(std::vector<T>&& v) {
  auto* heap = new std::vector<T>(std::move(v));  // owned by the capsule below
  py::capsule owner(heap, [](void* p) { delete static_cast<std::vector<T>*>(p); });
  return py::array_t<T>(static_cast<py::ssize_t>(heap->size()), heap->data(), owner);
}

template <class T>
py::list to_list(const std::vector<T>& v) {
  PyObject* list = PyList_New(static_cast<Py_ssize_t>(v.size()));
  if (!list) throw py::error_already_set();
  for (std::size_t i = 0; i < v.size(); ++i) {
    PyObject* x = PyLong_FromUnsignedLongLong(static_cast<unsigned long long>(v[i]));
    if (!x) {
      Py_DECREF(list);
      throw py::error_already_set();
    }
    PyList_SET_ITEM(list, static_cast<Py_ssize_t>(i), x);
  }
  return py::reinterpret_steal<py::list>(list);
}

void register_errors(py::module_& m);
void register_hash(py::module_& m);
void register_tokenizer(py::module_& m);

}  // namespace covekit::bindings
