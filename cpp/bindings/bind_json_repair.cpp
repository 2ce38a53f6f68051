// covekit._core.make_repairer: the audited JSON repairer (covekit/json_repair.hpp),
// returning covekit.execution.repair.Repaired instances.
#include <array>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common.hpp"
#include "covekit/errors.hpp"
#include "covekit/json_repair.hpp"
#include "covekit/json_schema_dom.hpp"
#include "py_json.hpp"

namespace covekit::bindings {

namespace {

namespace jr = covekit::json_repair;

// str -> its UTF-8 (lone surrogates have none: InvalidInput); bytes-like -> the bytes,
// which the core validates (InvalidUtf8).
Utf8Text repair_input(py::handle obj) {
  if (PyUnicode_Check(obj.ptr())) {
    Py_ssize_t n = 0;
    const char* data = PyUnicode_AsUTF8AndSize(obj.ptr(), &n);
    if (!data) {
      PyErr_Clear();
      throw InvalidInput(
          "text is a str with lone surrogates, which have no UTF-8 form and cannot be JSON text; "
          "pass text that came from a decoder, or bytes");
    }
    return {py::reinterpret_borrow<py::object>(obj), std::string_view(data, static_cast<std::size_t>(n))};
  }
  if (PyBytes_Check(obj.ptr()) || PyByteArray_Check(obj.ptr()) || PyMemoryView_Check(obj.ptr()))
    return as_bytes_like(obj, "text");
  throw py::type_error("text must be a str (or UTF-8 bytes), not " +
                       std::string(py::str(py::type::handle_of(obj).attr("__name__"))));
}

// The repairs of one result, kept native until Python asks for them (a large repair
// can list 100,000 changes; most callers read only `lossless`). A capsule, not a bound
// class: a pybind11 instance costs more to make and free than the whole repair of a
// small model output.
constexpr const char* kLogCapsule = "covekit.RepairLog";
using RepairLog = std::vector<jr::Repair>;

py::object make_log(RepairLog&& repairs) {
  auto owned = std::make_unique<RepairLog>(std::move(repairs));
  PyObject* cap = PyCapsule_New(owned.get(), kLogCapsule, [](PyObject* c) {
    std::unique_ptr<RepairLog>(static_cast<RepairLog*>(PyCapsule_GetPointer(c, kLogCapsule)));
  });
  if (!cap) throw py::error_already_set();
  owned.release();  // now owned by the capsule
  return py::reinterpret_steal<py::object>(cap);
}

const RepairLog& log_of(py::handle cap) {
  auto* log = static_cast<const RepairLog*>(PyCapsule_GetPointer(cap.ptr(), kLogCapsule));
  if (!log) throw py::error_already_set();
  return *log;
}

py::list log_tuples(py::handle cap) {
  const RepairLog& repairs = log_of(cap);
  py::list out(repairs.size());
  for (std::size_t i = 0; i < repairs.size(); ++i) {
    const auto& x = repairs[i];
    out[i] = py::make_tuple(py::str(x.kind), x.start, x.end, py::str(x.message), x.lossless);
  }
  return out;
}

jr::Options repair_options(bool strict, py::handle multiple, std::size_t max_depth) {
  jr::Options o;
  o.strict = strict;
  if (PyUnicode_Check(multiple.ptr()) && PyUnicode_CompareWithASCIIString(multiple.ptr(), "first") == 0) {
    o.multiple = jr::Multiple::kFirst;
  } else if (PyUnicode_Check(multiple.ptr()) && PyUnicode_CompareWithASCIIString(multiple.ptr(), "all") == 0) {
    o.multiple = jr::Multiple::kAll;
  } else {
    throw InvalidInput("multiple must be \"first\" or \"all\", got " + std::string(py::repr(multiple)));
  }
  if (max_depth < 1) throw InvalidInput("max_depth must be >= 1, got 0");
  o.max_depth = max_depth;
  return o;
}

// Builds covekit.execution.repair.Repaired instances in one native call: the repair, the
// parse of its output into Python objects (simdjson; json.loads where simdjson declines,
// e.g. a lone surrogate escape, so the value is always json.loads(text)), and the result
// object, whose slots are stored through their member descriptors (what its __init__
// does, minus the interpreter). On small model outputs the Python-level steps cost more
// than the repair itself.
class Repairer {
 public:
  static constexpr std::array<const char*, 5> kFields = {"text", "value", "lossless", "_log", "_repairs"};

  Repairer(py::handle type, py::object loads) : loads_(std::move(loads)) {
    if (!PyType_Check(type.ptr())) throw py::type_error("repaired_type must be a class");
    type_ = py::reinterpret_borrow<py::object>(type);
    for (std::size_t i = 0; i < kFields.size(); ++i) {
      py::object d = py::getattr(type, kFields[i], py::none());
      if (!Py_IS_TYPE(d.ptr(), &PyMemberDescr_Type) || Py_TYPE(d.ptr())->tp_descr_set == nullptr)
        throw py::type_error(std::string("repaired_type must declare __slots__ with '") + kFields[i] + "'");
      setters_[i] = std::move(d);
    }
  }

  py::object operator()(py::handle text, bool strict, py::handle multiple, std::size_t max_depth) const {
    const jr::Options o = repair_options(strict, multiple, max_depth);
    const Utf8Text in = repair_input(text);
    jr::Result r;
    simdjson::dom::element root;
    bool parsed = false;
    {
      // Small outputs repair and parse in about a microsecond: releasing the GIL would
      // cost more than it gives other threads.
      std::optional<py::gil_scoped_release> release;
      if (in.view.size() >= kReleaseGilFrom) release.emplace();
      r = jr::repair(in.view, o);
      parsed = json_schema_detail::parse_dom(r.unchanged ? in.view : std::string_view(r.text), root);
    }
    py::object out;
    if (r.unchanged && PyUnicode_Check(text.ptr())) {
      out = py::reinterpret_borrow<py::object>(text);
    } else {
      out = py::reinterpret_steal<py::object>(
          PyUnicode_DecodeUTF8(r.unchanged ? in.view.data() : r.text.data(),
                               static_cast<Py_ssize_t>(r.unchanged ? in.view.size() : r.text.size()), "strict"));
      if (!out) throw py::error_already_set();
    }
    py::object value = parsed ? dom_to_python(root) : loads_(out);
    py::object log = py::none();
    py::object repairs = py::none();  // built from the log on first read; none: []
    const bool lossless = r.lossless();
    if (!r.repairs.empty()) log = make_log(std::move(r.repairs));
    auto* tp = reinterpret_cast<PyTypeObject*>(type_.ptr());
    py::object obj = py::reinterpret_steal<py::object>(tp->tp_alloc(tp, 0));
    if (!obj) throw py::error_already_set();
    const std::array<py::handle, 5> values = {out, value, lossless ? Py_True : Py_False, log, repairs};
    for (std::size_t i = 0; i < values.size(); ++i) {
      PyObject* d = setters_[i].ptr();
      if (Py_TYPE(d)->tp_descr_set(d, obj.ptr(), values[i].ptr()) != 0) throw py::error_already_set();
    }
    return obj;
  }

 private:
  static constexpr std::size_t kReleaseGilFrom = 4096;
  py::object type_;
  py::object loads_;
  std::array<py::object, 5> setters_;
};

// The repairer as a builtin function (METH_FASTCALL, its Repairer in a capsule): a
// pybind11 method call costs a tenth of a small repair_json call. Errors are translated
// by pybind11's registered translators, as in any bound function.
constexpr const char* kRepairerCapsule = "covekit.Repairer";

PyObject* repair_fastcall(PyObject* self, PyObject* const* args, Py_ssize_t nargs) noexcept {
  try {
    if (nargs != 4) throw py::type_error("repair(text, strict, multiple, max_depth) takes 4 positional arguments");
    const auto* rep = static_cast<const Repairer*>(PyCapsule_GetPointer(self, kRepairerCapsule));
    if (rep == nullptr) return nullptr;
    if (args[1] != Py_True && args[1] != Py_False)
      throw py::type_error(std::string("strict must be a bool, not ") + Py_TYPE(args[1])->tp_name);
    if (!PyLong_Check(args[3]) || PyBool_Check(args[3]))
      throw py::type_error(std::string("max_depth must be an int, not ") + Py_TYPE(args[3])->tp_name);
    const Py_ssize_t depth = PyLong_AsSsize_t(args[3]);
    if (depth == -1 && PyErr_Occurred()) return nullptr;
    if (depth < 1) throw InvalidInput("max_depth must be >= 1, got " + std::to_string(depth));
    return (*rep)(args[0], args[1] == Py_True, args[2], static_cast<std::size_t>(depth)).release().ptr();
  } catch (...) {
    py::detail::try_translate_exceptions();
    return nullptr;
  }
}

PyMethodDef repair_method_def() noexcept {
  PyMethodDef def{};
  def.ml_name = "repair";
  def.ml_meth = reinterpret_cast<PyCFunction>(reinterpret_cast<void (*)()>(&repair_fastcall));
  def.ml_flags = METH_FASTCALL;
  def.ml_doc = "repair(text, strict, multiple, max_depth) -> Repaired; raises RepairError like repair_json.";
  return def;
}

}  // namespace

void register_json_repair(py::module_& m) {
  m.def(
      "make_repairer",
      [](py::handle repaired_type, py::object loads) {
        // CPython keeps a pointer to the method table for the function's lifetime.
        static PyMethodDef def = repair_method_def();
        auto rep = std::make_unique<Repairer>(repaired_type, std::move(loads));
        PyObject* cap = PyCapsule_New(rep.get(), kRepairerCapsule, [](PyObject* c) {
          std::unique_ptr<Repairer>(static_cast<Repairer*>(PyCapsule_GetPointer(c, kRepairerCapsule)));
        });
        if (cap == nullptr) throw py::error_already_set();
        rep.release();  // now owned by the capsule
        PyObject* fn = PyCFunction_New(&def, cap);
        Py_DECREF(cap);
        if (fn == nullptr) throw py::error_already_set();
        return py::reinterpret_steal<py::object>(fn);
      },
      py::arg("repaired_type"), py::arg("loads"),
      "A fast repair(text, strict, multiple, max_depth) -> Repaired (see covekit.repair_json).");
  m.def("repair_log_tuples", &log_tuples, py::arg("log"),
        "The repairs of a Repaired's log as [(kind, start, end, message, lossless), ...].");
  m.def("repair_log_len", [](py::handle cap) { return log_of(cap).size(); }, py::arg("log"),
        "How many repairs a Repaired's log holds.");
}

}  // namespace covekit::bindings
