// Maps the core's C++ exceptions to Python classes. Each class that stands for a bad
// argument also derives from ValueError, so `except ValueError` keeps working.
#include <exception>

#include "common.hpp"
#include "covekit/errors.hpp"

namespace covekit::bindings {

namespace {

// Exception classes, created once at import and kept for the life of the process
// (a Python module's classes live as long as the interpreter).
struct ErrorClasses {
  PyObject* base = nullptr;
  PyObject* invalid_input = nullptr;
  PyObject* invalid_utf8 = nullptr;
  PyObject* tokenizer = nullptr;
  PyObject* file_corrupt = nullptr;
  PyObject* disallowed = nullptr;
  PyObject* invalid_id = nullptr;
  PyObject* embedding = nullptr;
  PyObject* state_corrupt = nullptr;
  PyObject* index_corrupt = nullptr;
  PyObject* invalid_json = nullptr;
  PyObject* schema_error = nullptr;
  PyObject* repair = nullptr;
};

ErrorClasses& classes() {
  static ErrorClasses c;  // written once during module init, read-only afterwards
  return c;
}

PyObject* make(py::module_& m, const char* name, const char* doc, std::initializer_list<PyObject*> bases) {
  py::tuple b(bases.size());
  std::size_t i = 0;
  for (PyObject* base : bases) b[i++] = py::reinterpret_borrow<py::object>(base);
  const std::string qual = std::string("covekit.errors.") + name;
  PyObject* cls = PyErr_NewExceptionWithDoc(qual.c_str(), doc, b.ptr(), nullptr);
  if (!cls) throw py::error_already_set();
  m.add_object(name, py::reinterpret_borrow<py::object>(cls));
  return cls;
}

PyObject* none() {
  Py_INCREF(Py_None);
  return Py_None;
}

// Sets exc.name = value (a new reference, consumed).
void set_attr(PyObject* exc, const char* name, PyObject* value) {
  if (value) {
    PyObject_SetAttrString(exc, name, value);
    Py_DECREF(value);
  }
}

// Raises an instance of `cls` with `message` and attributes set by `fill`.
template <class Fill>
void raise_with(PyObject* cls, const char* message, Fill&& fill) {
  PyObject* exc = PyObject_CallFunction(cls, "s", message);
  if (!exc) return;  // the call's own error stays set
  fill(exc);
  PyErr_SetObject(cls, exc);
  Py_DECREF(exc);
}

}  // namespace

void register_errors(py::module_& m) {
  ErrorClasses& c = classes();
  c.base = make(m, "CovekitError", "Base class of every error covekit raises.", {PyExc_Exception});
  c.invalid_input = make(m, "InvalidInput", "A bad argument; the message says what to pass instead.",
                         {c.base, PyExc_ValueError});
  c.invalid_utf8 = make(m, "InvalidUtf8", "Bytes that are not valid UTF-8 where text is required.",
                        {c.invalid_input});
  c.tokenizer = make(m, "TokenizerError", "Base class of tokenizer errors.", {c.base});
  c.file_corrupt = make(m, "TokenizerFileCorrupt",
                        "A vocabulary file that is malformed, truncated or fails its checksum.",
                        {c.tokenizer, PyExc_ValueError});
  c.disallowed = make(m, "DisallowedSpecialToken",
                      "The text holds a special token's text that the call did not allow.",
                      {c.tokenizer, PyExc_ValueError});
  c.invalid_id = make(m, "InvalidTokenId",
                      "A token id that is not in the vocabulary (a KeyError too, as in tiktoken).",
                      {c.tokenizer, PyExc_KeyError, PyExc_ValueError});
  c.embedding = make(m, "EmbeddingError", "Base class of embedding errors.", {c.base});
  c.state_corrupt = make(m, "EmbedderStateCorrupt",
                         "A saved embedder state that is truncated, altered or of another format.",
                         {c.embedding, PyExc_ValueError});
  c.index_corrupt = make(m, "IndexFileCorrupt",
                         "An index file that is not one, is truncated, fails its checksum or has an "
                         "unsupported format version.",
                         {c.base, PyExc_ValueError});
  c.invalid_json = make(m, "InvalidJSON",
                        "JSON text that does not parse; offset, line and column say where (None when unknown).",
                        {c.invalid_input});
  c.schema_error = make(m, "SchemaError",
                        "A JSON Schema that does not compile; pointer is the JSON Pointer of the fault in it.",
                        {c.base, PyExc_ValueError});
  c.repair = make(m, "RepairError",
                  "Malformed JSON that cannot be repaired without guessing data (or, in strict mode, "
                  "only with a repair that is not lossless); .problems lists (kind, start, end, message).",
                  {c.base, PyExc_ValueError});
  py::handle(c.repair).attr("problems") = py::tuple();  // instances raised by covekit get their own list
  // KeyError quotes its message; show it plainly.
  py::handle(c.invalid_id).attr("__str__") = py::handle(PyExc_Exception).attr("__str__");

  py::register_exception_translator([](std::exception_ptr p) {
    if (!p) return;
    const ErrorClasses& k = classes();
    try {
      std::rethrow_exception(p);
    } catch (const InvalidJSON& e) {
      raise_with(k.invalid_json, e.what(), [&](PyObject* exc) {
        const bool known = e.offset() != InvalidJSON::npos;
        set_attr(exc, "offset", known ? PyLong_FromSize_t(e.offset()) : none());
        set_attr(exc, "line", known ? PyLong_FromSize_t(e.line()) : none());
        set_attr(exc, "column", known ? PyLong_FromSize_t(e.column()) : none());
      });
    } catch (const SchemaError& e) {
      raise_with(k.schema_error, e.what(), [&](PyObject* exc) {
        set_attr(exc, "pointer", PyUnicode_FromStringAndSize(e.pointer().data(), static_cast<Py_ssize_t>(e.pointer().size())));
      });
    } catch (const InvalidUtf8& e) {
      PyErr_SetString(k.invalid_utf8, e.what());
    } catch (const InvalidInput& e) {
      PyErr_SetString(k.invalid_input, e.what());
    } catch (const TokenizerFileCorrupt& e) {
      PyErr_SetString(k.file_corrupt, e.what());
    } catch (const DisallowedSpecialToken& e) {
      PyErr_SetString(k.disallowed, e.what());
    } catch (const InvalidTokenId& e) {
      PyErr_SetString(k.invalid_id, e.what());
    } catch (const EmbedderStateCorrupt& e) {
      PyErr_SetString(k.state_corrupt, e.what());
    } catch (const EmbeddingError& e) {
      PyErr_SetString(k.embedding, e.what());
    } catch (const RepairError& e) {
      // Messages quote the input; decode leniently all the same.
      auto text = [](const std::string& s) {
        PyObject* o = PyUnicode_DecodeUTF8(s.data(), static_cast<Py_ssize_t>(s.size()), "replace");
        if (!o) throw py::error_already_set();
        return py::reinterpret_steal<py::str>(o);
      };
      py::list problems;
      for (const auto& p : e.problems()) problems.append(py::make_tuple(p.kind, p.start, p.end, text(p.message)));
      py::object exc = py::handle(k.repair)(text(e.what()));
      exc.attr("problems") = problems;
      PyErr_SetObject(k.repair, exc.ptr());
    } catch (const IndexFileCorrupt& e) {
      PyErr_SetString(k.index_corrupt, e.what());
    } catch (const TokenizerError& e) {
      PyErr_SetString(k.tokenizer, e.what());
    } catch (const Error& e) {
      PyErr_SetString(k.base, e.what());
    }
  });
}

}  // namespace covekit::bindings
