// pybind11 bindings of covekit::Schema (JSON Schema validation). validate_json parses and
// validates with the GIL released; validate walks Python objects in C++ (GIL held) through
// the same evaluator, with an adapter over PyObject*.
#include <simdjson.h>

#include <array>
#include <cmath>
#include <memory>
#include <string>
#include <vector>

#include <pybind11/stl.h>

#include "common.hpp"
#include "py_json.hpp"
#include "py_objects.hpp"
#include "covekit/errors.hpp"
#include "covekit/json_schema.hpp"
#include "covekit/json_schema_dom.hpp"
#include "covekit/json_schema_eval.hpp"

namespace covekit::bindings {

namespace {

using json_schema_detail::Evaluator;
using json_schema_detail::NumberView;

// Documents shorter than this validate in about a microsecond: releasing and taking back
// the GIL would cost more than it lets other threads gain.
constexpr std::size_t kReleaseGilFrom = 4096;

std::string type_name(PyObject* v) { return Py_TYPE(v)->tp_name; }

// Python objects as JSON values: None, bool, int (any size), float, str, list/tuple, dict
// with str keys. Anything else raises InvalidInput naming the type.
struct PyAdapter {
  using V = PyObject*;
  static uint8_t type(V v) {
    using namespace json_schema_detail;
    if (v == Py_None) return kNull;
    if (PyBool_Check(v)) return kBoolean;
    if (PyLong_Check(v) || PyFloat_Check(v)) return kNumber;
    if (PyUnicode_Check(v)) return kString;
    if (PyList_Check(v) || PyTuple_Check(v)) return kArray;
    if (PyDict_Check(v)) return kObject;
    throw InvalidInput("cannot validate an object of type " + type_name(v) +
                       ": pass JSON-like data (dict, list, tuple, str, int, float, bool, None)");
  }
  static bool boolean(V v) noexcept { return v == Py_True; }
  static NumberView number(V v) {
    if (PyFloat_Check(v)) {
      const double d = PyFloat_AS_DOUBLE(v);
      NumberView n{d, std::isfinite(d) && std::floor(d) == d, false, 0, {}};
      if (n.integer && std::fabs(d) < 9.2e18) {
        n.exact = true;
        n.i = static_cast<int64_t>(d);
      }
      return n;
    }
    int overflow = 0;
    const long long i = PyLong_AsLongLongAndOverflow(v, &overflow);
    if (overflow == 0) {
      if (i == -1 && PyErr_Occurred()) throw py::error_already_set();
      return {static_cast<double>(i), true, true, static_cast<int64_t>(i), {}};
    }
    double d = PyLong_AsDouble(v);
    if (d == -1.0 && PyErr_Occurred()) {
      PyErr_Clear();
      d = overflow > 0 ? HUGE_VAL : -HUGE_VAL;
    }
    // The exact digits, for multipleOf (valid until the next big int on this thread).
    thread_local std::string digits;
    PyObject* str = PyNumber_ToBase(v, 10);  // never calls a subclass's __str__
    if (!str) throw py::error_already_set();
    Py_ssize_t n = 0;
    const char* data = PyUnicode_AsUTF8AndSize(str, &n);
    digits.assign(data ? data : "", data ? static_cast<std::size_t>(n) : 0);
    Py_DECREF(str);
    return {d, true, false, 0, digits};
  }
  static std::string_view string(V v) {
    Py_ssize_t n = 0;
    const char* data = PyUnicode_AsUTF8AndSize(v, &n);
    if (!data) {
      PyErr_Clear();
      throw InvalidInput("a str with lone surrogates has no UTF-8 form and cannot be validated");
    }
    return {data, static_cast<std::size_t>(n)};
  }
  static std::size_t size(V v) {
    if (PyDict_Check(v)) return static_cast<std::size_t>(PyDict_GET_SIZE(v));
    return static_cast<std::size_t>(PyList_Check(v) ? PyList_GET_SIZE(v) : PyTuple_GET_SIZE(v));
  }
  template <class F>
  static bool each_item(V v, F&& f) {
    const Py_ssize_t n = PyList_Check(v) ? PyList_GET_SIZE(v) : PyTuple_GET_SIZE(v);
    for (Py_ssize_t i = 0; i < n; ++i) {
      // Re-read each time: the list is not changed (no Python code runs), but stay safe.
      PyObject* x = PyList_Check(v) ? PyList_GET_ITEM(v, i) : PyTuple_GET_ITEM(v, i);
      if (!f(static_cast<std::size_t>(i), x)) return false;
    }
    return true;
  }
  template <class F>
  static bool each_member(V v, F&& f) {
    Py_ssize_t pos = 0;
    PyObject *key = nullptr, *value = nullptr;
    while (PyDict_Next(v, &pos, &key, &value)) {
      if (!PyUnicode_Check(key))
        throw InvalidInput("JSON object keys must be str, not " + type_name(key) + " (convert the keys first)");
      if (!f(string(key), value)) return false;
    }
    return true;
  }
  static bool find(V v, std::string_view key, V& out) {
    PyObject* k = PyUnicode_FromStringAndSize(key.data(), static_cast<Py_ssize_t>(key.size()));
    if (!k) throw py::error_already_set();
    PyObject* found = PyDict_GetItemWithError(v, k);
    Py_DECREF(k);
    if (!found) {
      if (PyErr_Occurred()) throw py::error_already_set();
      return false;
    }
    out = found;
    return true;
  }
};

py::list to_python(const std::vector<SchemaViolation>& errors) {
  py::list out;
  for (const SchemaViolation& v : errors) {
    py::object abs = v.absolute_keyword_location.empty() ? py::none() : py::object(py::str(v.absolute_keyword_location));
    out.append(py::make_tuple(py::str(v.instance_path), py::str(v.keyword_location), abs, py::str(v.message),
                              py::str(v.keyword)));
  }
  return out;
}

py::object number_object(double d, bool exact, int64_t i, const std::string& text, bool integer) {
  if (exact && integer && text.empty()) return py::int_(static_cast<long long>(i));
  if (!text.empty() && integer) {
    PyObject* o = PyLong_FromString(text.c_str(), nullptr, 10);
    if (o) return py::reinterpret_steal<py::object>(o);
    PyErr_Clear();
  }
  return py::float_(d);
}

py::object value_to_python(const JsonValue& v) {
  switch (v.kind) {
    case JsonValue::Kind::Null: return py::none();
    case JsonValue::Kind::Bool: return py::bool_(v.boolean);
    case JsonValue::Kind::Number: {
      // Integers as written (no fraction or exponent) become int; others float.
      if (v.exact && v.text.empty()) return py::int_(static_cast<long long>(v.i64));
      return number_object(v.number, v.exact, v.i64, v.text, v.integer);
    }
    case JsonValue::Kind::String: return py::str(v.text);
    case JsonValue::Kind::Array: {
      py::list out;
      for (const JsonValue& x : v.items) out.append(value_to_python(x));
      return out;
    }
    case JsonValue::Kind::Object: {
      py::dict out;
      for (const auto& [k, x] : v.members) out[py::str(k)] = value_to_python(x);
      return out;
    }
  }
  return py::none();
}

// A result's violations, kept native (a capsule) until .errors is read: a caller that
// only looks at .valid never pays for their Python strings.
constexpr const char* kViolationsCapsule = "covekit.SchemaViolations";
using Violations = std::vector<SchemaViolation>;

// Makes covekit.execution.schema.ValidationResult instances in the native call (see
// SlotsFactory). For a small document that is a fifth of the whole validate_json call.
class ResultFactory {
 public:
  ResultFactory(py::handle type, py::object unset)
      : unset_(std::move(unset)), slots_(type, {"valid", "_errors", "_raw", "_text", "_value"}, "result_type") {}

  // A result with violations `errors`, for the JSON `text` (value parsed on demand) or for
  // the Python `value` already in memory.
  [[nodiscard]] py::object make(Violations&& errors, py::handle text, py::handle value) const {
    const bool valid = errors.empty();
    const py::object raw =
        valid ? py::none() : owning_capsule(std::make_unique<Violations>(std::move(errors)), kViolationsCapsule);
    return slots_.make({valid ? Py_True : Py_False, Py_None, raw, text, value ? value : py::handle(unset_)});
  }

 private:
  py::object unset_;
  SlotsFactory<5> slots_;
};

// validate_json/validate as builtin functions (their ResultFactory in a capsule): see
// fastcall_body. Both take (schema, instance, all_errors).
constexpr const char* kFactoryCapsule = "covekit.ValidationResults";

struct ValidateCall {
  const ResultFactory& factory;
  const Schema& schema;
  py::handle instance;
  bool all_errors;
};

ValidateCall validate_call(PyObject* self, PyObject* const* args, Py_ssize_t nargs, const char* signature) {
  if (nargs != 3) throw py::type_error(std::string(signature) + " takes 3 positional arguments");
  if (args[2] != Py_True && args[2] != Py_False)
    throw py::type_error(std::string("all_errors must be a bool, not ") + Py_TYPE(args[2])->tp_name);
  return {capsule_value<const ResultFactory>(self, kFactoryCapsule), py::cast<const Schema&>(py::handle(args[0])),
          py::handle(args[1]), args[2] == Py_True};
}

PyObject* validate_json_fastcall(PyObject* self, PyObject* const* args, Py_ssize_t nargs) {
  return fastcall_body(
      [](PyObject* me, PyObject* const* a, Py_ssize_t n) {
        const ValidateCall c = validate_call(me, a, n, "validate_json(schema, text, all_errors)");
        Utf8Text t = as_bytes_like(c.instance, "text");
        Violations errors;
        if (t.view.size() < kReleaseGilFrom) {
          errors = c.schema.validate_json(t.view, c.all_errors);
        } else {
          py::gil_scoped_release release;
          errors = c.schema.validate_json(t.view, c.all_errors);
        }
        return c.factory.make(std::move(errors), c.instance, py::handle());
      },
      self, args, nargs);
}

PyObject* validate_fastcall(PyObject* self, PyObject* const* args, Py_ssize_t nargs) {
  return fastcall_body(
      [](PyObject* me, PyObject* const* a, Py_ssize_t n) {
        const ValidateCall c = validate_call(me, a, n, "validate(schema, obj, all_errors)");
        Violations errors;
        Evaluator<PyAdapter> fast(c.schema.program(), false, false, nullptr);
        if (!fast.run(c.instance.ptr())) {
          Evaluator<PyAdapter> e(c.schema.program(), true, c.all_errors, &errors);
          e.run(c.instance.ptr());
        }
        return c.factory.make(std::move(errors), py::none(), c.instance);
      },
      self, args, nargs);
}

std::string repr(const Schema& s) {
  return "<covekit._core.JsonSchema nodes=" + std::to_string(s.program().nodes.size()) + ">";
}

}  // namespace

void register_json_schema(py::module_& m) {
  py::class_<Schema>(m, "JsonSchema", "A compiled JSON Schema (use covekit.Schema).")
      .def(py::init([](py::handle schema_json, const std::vector<std::pair<std::string, std::string>>& registry,
                       bool format_assertion) {
             Utf8Text t = as_utf8_text(schema_json, "schema");
             SchemaOptions o;
             o.format_assertion = format_assertion;
             return new Schema(t.view, registry, o);
           }),
           py::arg("schema_json"), py::arg("registry") = std::vector<std::pair<std::string, std::string>>{},
           py::arg("format_assertion") = false)
      .def(
          "is_valid_json",
          [](const Schema& s, py::handle text) {
            Utf8Text t = as_bytes_like(text, "text");
            if (t.view.size() < kReleaseGilFrom) return s.is_valid_json(t.view);
            py::gil_scoped_release release;
            return s.is_valid_json(t.view);
          },
          py::arg("text"))
      .def(
          "is_valid",
          [](const Schema& s, py::handle obj) {
            Evaluator<PyAdapter> e(s.program(), false, false, nullptr);
            return e.run(obj.ptr());
          },
          py::arg("obj"))
      .def("__repr__", &repr);

  m.def(
      "violation_tuples",
      [](py::handle cap) { return to_python(capsule_value<const Violations>(cap, kViolationsCapsule)); },
      py::arg("log"),
      "A ValidationResult's native violations as [(instance_path, keyword_location, "
      "absolute_keyword_location, message, keyword), ...].");
  m.def(
      "make_validators",
      [](py::handle result_type, py::object unset) {
        static PyMethodDef defs[2] = {
            fastcall_def("validate_json", &validate_json_fastcall,
                         "validate_json(schema, text, all_errors) -> ValidationResult"),
            fastcall_def("validate", &validate_fastcall, "validate(schema, obj, all_errors) -> ValidationResult")};
        const py::object cap =
            owning_capsule(std::make_unique<ResultFactory>(result_type, std::move(unset)), kFactoryCapsule);
        return py::make_tuple(fastcall_function(defs[0], cap), fastcall_function(defs[1], cap));
      },
      py::arg("result_type"), py::arg("unset"),
      "(validate_json, validate): builtins that run a JsonSchema and return ValidationResult objects "
      "(see covekit.Schema).");

  m.def(
      "parse_json",
      [](py::handle text) -> py::object {
        Utf8Text t = as_bytes_like(text, "text");
        simdjson::dom::element root;
        bool ok;
        {
          py::gil_scoped_release release;
          ok = json_schema_detail::parse_dom(t.view, root);
        }
        if (ok) return dom_to_python(root);
        JsonValue v;
        {
          py::gil_scoped_release release;
          v = parse_json_value(t.view, json_schema_detail::kMaxInstanceDepth);
        }
        return value_to_python(v);
      },
      py::arg("text"),
      "Parses JSON text into Python objects (simdjson; integers of any size). Raises InvalidJSON.");
}

}  // namespace covekit::bindings
