#include "common.hpp"

#include <cstring>
#include <string>

#include "covekit/errors.hpp"
#include "covekit/utf8.hpp"

namespace covekit::bindings {

Utf8Text as_utf8_text(py::handle obj, const char* what) {
  if (PyUnicode_Check(obj.ptr())) {
    Py_ssize_t n = 0;
    const char* data = PyUnicode_AsUTF8AndSize(obj.ptr(), &n);
    if (data) return {py::reinterpret_borrow<py::object>(obj), std::string_view(data, static_cast<std::size_t>(n))};
    if (!PyErr_ExceptionMatches(PyExc_UnicodeEncodeError)) throw py::error_already_set();
    PyErr_Clear();
    // Lone surrogates: replace them by U+FFFD exactly as tiktoken does.
    py::object fixed = py::reinterpret_borrow<py::object>(obj)
                           .attr("encode")("utf-16", "surrogatepass")
                           .attr("decode")("utf-16", "replace");
    data = PyUnicode_AsUTF8AndSize(fixed.ptr(), &n);
    if (!data) throw py::error_already_set();
    return {fixed, std::string_view(data, static_cast<std::size_t>(n))};
  }
  if (PyBytes_Check(obj.ptr())) {
    std::string_view v(PyBytes_AS_STRING(obj.ptr()), static_cast<std::size_t>(PyBytes_GET_SIZE(obj.ptr())));
    utf8::validate(v);
    return {py::reinterpret_borrow<py::object>(obj), v};
  }
  throw py::type_error(std::string(what) + " must be a str (or UTF-8 bytes), not " +
                       std::string(py::str(py::type::handle_of(obj).attr("__name__"))));
}

std::vector<Utf8Text> utf8_texts(py::handle iterable, const char* what) {
  std::vector<Utf8Text> out;
  for (py::handle x : py::reinterpret_borrow<py::iterable>(iterable)) out.push_back(as_utf8_text(x, what));
  return out;
}

Utf8Text as_bytes_like(py::handle obj, const char* what) {
  if (PyUnicode_Check(obj.ptr())) {
    Py_ssize_t n = 0;
    const char* data = PyUnicode_AsUTF8AndSize(obj.ptr(), &n);
    if (!data) {
      PyErr_Clear();
      throw InvalidInput(std::string(what) +
                         " is a str with lone surrogates, which have no UTF-8 form; encode it yourself, "
                         "e.g. s.encode('utf-8', 'surrogatepass')");
    }
    return {py::reinterpret_borrow<py::object>(obj), std::string_view(data, static_cast<std::size_t>(n))};
  }
  if (PyBytes_Check(obj.ptr()))
    return {py::reinterpret_borrow<py::object>(obj),
            std::string_view(PyBytes_AS_STRING(obj.ptr()), static_cast<std::size_t>(PyBytes_GET_SIZE(obj.ptr())))};
  if (PyObject_CheckBuffer(obj.ptr())) {
    // bytearray, memoryview, numpy buffers: one copy into bytes.
    py::object as_bytes = py::reinterpret_steal<py::object>(PyBytes_FromObject(obj.ptr()));
    if (!as_bytes) throw py::error_already_set();
    return {as_bytes, std::string_view(PyBytes_AS_STRING(as_bytes.ptr()),
                                       static_cast<std::size_t>(PyBytes_GET_SIZE(as_bytes.ptr())))};
  }
  throw py::type_error(std::string(what) + " must be bytes or str, not " +
                       std::string(py::str(py::type::handle_of(obj).attr("__name__"))));
}

}  // namespace covekit::bindings

namespace covekit::bindings {
void register_chunker(py::module_& m);  // bind_chunker.cpp
void register_hashing_embedder(py::module_& m);  // bind_hashing_embedder.cpp
void register_bm25(py::module_& m);     // bind_bm25.cpp
void register_filter(py::module_& m);        // bind_filter.cpp
void register_vector_index(py::module_& m);  // bind_vector_index.cpp
void register_json_schema(py::module_& m);   // bind_json_schema.cpp
void register_json_repair(py::module_& m);   // bind_json_repair.cpp
void register_budget(py::module_& m);        // bind_budget.cpp
void register_mmr(py::module_& m);           // bind_mmr.cpp
void register_near_duplicate(py::module_& m);  // bind_near_duplicate.cpp
void register_pii(py::module_& m);             // bind_pii.cpp
void register_grounding(py::module_& m);       // bind_grounding.cpp
}  // namespace covekit::bindings

PYBIND11_MODULE(_core, m) {
  m.doc() = "covekit's native core (private: use the covekit package).";
#ifdef COVEKIT_VERSION
  m.attr("__version__") = COVEKIT_VERSION;
#endif
  covekit::bindings::register_errors(m);
  covekit::bindings::register_hash(m);
  covekit::bindings::register_tokenizer(m);
  covekit::bindings::register_chunker(m);
  covekit::bindings::register_hashing_embedder(m);
  covekit::bindings::register_bm25(m);
  covekit::bindings::register_filter(m);
  covekit::bindings::register_vector_index(m);
  covekit::bindings::register_json_schema(m);
  covekit::bindings::register_json_repair(m);
  covekit::bindings::register_budget(m);
  covekit::bindings::register_mmr(m);
  covekit::bindings::register_near_duplicate(m);
  covekit::bindings::register_pii(m);
  covekit::bindings::register_grounding(m);
}
