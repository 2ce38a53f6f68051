// Python objects made natively on hot paths, shared by the bindings: instances of a
// class with __slots__ made without running its __init__, capsules that own a C++
// object, and METH_FASTCALL builtins whose errors go through pybind11's translators.
#pragma once

#include <array>
#include <cstddef>
#include <memory>
#include <string>
#include <utility>

#include "common.hpp"

namespace covekit::bindings {

// Makes instances of a class with __slots__ without running its __init__: the type
// allocates the instance and each field is stored through the slot's member
// descriptor, which is what __init__'s object.__setattr__ calls do, minus the
// interpreter (about 1 us saved per object).
template <std::size_t N>
class SlotsFactory {
 public:
  SlotsFactory() = default;
  // `what` names the argument in errors ("chunk_type").
  SlotsFactory(py::handle type, const std::array<const char*, N>& fields, const char* what) {
    if (!PyType_Check(type.ptr())) throw py::type_error(std::string(what) + " must be a class");
    type_ = py::reinterpret_borrow<py::object>(type);
    for (std::size_t i = 0; i < N; ++i) {
      py::object d = py::getattr(type, fields[i], py::none());
      if (!Py_IS_TYPE(d.ptr(), &PyMemberDescr_Type) || Py_TYPE(d.ptr())->tp_descr_set == nullptr)
        throw py::type_error(std::string(what) + " must declare __slots__ with the field '" + fields[i] + "'");
      setters_[i] = std::move(d);
    }
  }
  [[nodiscard]] bool enabled() const noexcept { return static_cast<bool>(type_); }

  // A new instance with `values` in the order of the fields; steals nothing.
  [[nodiscard]] py::object make(const std::array<py::handle, N>& values) const {
    auto* tp = reinterpret_cast<PyTypeObject*>(type_.ptr());
    py::object obj = py::reinterpret_steal<py::object>(tp->tp_alloc(tp, 0));
    if (!obj) throw py::error_already_set();
    for (std::size_t i = 0; i < N; ++i) {
      PyObject* d = setters_[i].ptr();
      if (Py_TYPE(d)->tp_descr_set(d, obj.ptr(), values[i].ptr()) != 0) throw py::error_already_set();
    }
    return obj;
  }

 private:
  py::object type_;
  std::array<py::object, N> setters_;
};

// A capsule named `name` (a string literal) that owns `value`.
template <class T>
py::object owning_capsule(std::unique_ptr<T> value, const char* name) {
  PyObject* cap = PyCapsule_New(value.get(), name, [](PyObject* c) {
    std::unique_ptr<T>(static_cast<T*>(PyCapsule_GetPointer(c, PyCapsule_GetName(c))));
  });
  if (cap == nullptr) throw py::error_already_set();
  value.release();  // now owned by the capsule
  return py::reinterpret_steal<py::object>(cap);
}

// The object in a capsule made by owning_capsule(..., name); a wrong object raises.
template <class T>
T& capsule_value(py::handle cap, const char* name) {
  auto* p = static_cast<T*>(PyCapsule_GetPointer(cap.ptr(), name));
  if (p == nullptr) throw py::error_already_set();
  return *p;
}

using FastcallFn = PyObject* (*)(PyObject* self, PyObject* const* args, Py_ssize_t nargs);

// Calls `body(self, args, nargs)` (which returns a py::object) as the body of a
// METH_FASTCALL function: a pybind11 method call costs about a tenth of a microsecond,
// as much as the whole work on a small input. C++ exceptions are translated by
// pybind11's registered translators, as in any bound function.
template <class Body>
PyObject* fastcall_body(Body&& body, PyObject* self, PyObject* const* args, Py_ssize_t nargs) noexcept {
  try {
    return body(self, args, nargs).release().ptr();
  } catch (...) {
    py::detail::try_translate_exceptions();
    return nullptr;
  }
}

// The method table entry of a METH_FASTCALL builtin. CPython keeps a pointer to it for
// the function's lifetime: keep it in a static.
inline PyMethodDef fastcall_def(const char* name, FastcallFn fn, const char* doc) noexcept {
  PyMethodDef def{};
  def.ml_name = name;
  def.ml_meth = reinterpret_cast<PyCFunction>(reinterpret_cast<void (*)()>(fn));
  def.ml_flags = METH_FASTCALL;
  def.ml_doc = doc;
  return def;
}

// A builtin function for `def`, bound to `self` (passed to it as its first argument).
inline py::object fastcall_function(PyMethodDef& def, py::handle self) {
  PyObject* f = PyCFunction_New(&def, self.ptr());
  if (f == nullptr) throw py::error_already_set();
  return py::reinterpret_steal<py::object>(f);
}

}  // namespace covekit::bindings
