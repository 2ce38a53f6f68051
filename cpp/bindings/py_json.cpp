// simdjson DOM -> Python objects through the C API: lists and dicts are built at their
// final size where the DOM knows it, and no pybind11 accessor sits in the loop.
#include "py_json.hpp"

namespace covekit::bindings {

namespace {

// A new reference, or nullptr with a Python error set.
PyObject* convert(simdjson::dom::element e) {
  using T = simdjson::dom::element_type;
  switch (e.type()) {
    case T::NULL_VALUE: Py_RETURN_NONE;
    case T::BOOL:
      if (e.get_bool().value_unsafe()) Py_RETURN_TRUE;
      Py_RETURN_FALSE;
    case T::INT64: return PyLong_FromLongLong(e.get_int64().value_unsafe());
    case T::UINT64: return PyLong_FromUnsignedLongLong(e.get_uint64().value_unsafe());
    case T::DOUBLE: return PyFloat_FromDouble(e.get_double().value_unsafe());
    case T::STRING: {
      const std::string_view s = e.get_string().value_unsafe();
      return PyUnicode_DecodeUTF8(s.data(), static_cast<Py_ssize_t>(s.size()), "strict");
    }
    case T::ARRAY: {
      const simdjson::dom::array arr = e.get_array().value_unsafe();
      PyObject* out = PyList_New(0);
      if (!out) return nullptr;
      for (simdjson::dom::element x : arr) {
        PyObject* v = convert(x);
        if (!v || PyList_Append(out, v) != 0) {
          Py_XDECREF(v);
          Py_DECREF(out);
          return nullptr;
        }
        Py_DECREF(v);
      }
      return out;
    }
    default: {
      const simdjson::dom::object obj = e.get_object().value_unsafe();
      PyObject* out = PyDict_New();
      if (!out) return nullptr;
      for (simdjson::dom::key_value_pair kv : obj) {
        PyObject* k = PyUnicode_DecodeUTF8(kv.key.data(), static_cast<Py_ssize_t>(kv.key.size()), "strict");
        PyObject* v = k ? convert(kv.value) : nullptr;
        if (!v || PyDict_SetItem(out, k, v) != 0) {
          Py_XDECREF(k);
          Py_XDECREF(v);
          Py_DECREF(out);
          return nullptr;
        }
        Py_DECREF(k);
        Py_DECREF(v);
      }
      return out;
    }
  }
}

}  // namespace

py::object dom_to_python(simdjson::dom::element e) {
  PyObject* o = convert(e);
  if (!o) throw py::error_already_set();
  return py::reinterpret_steal<py::object>(o);
}

}  // namespace covekit::bindings
