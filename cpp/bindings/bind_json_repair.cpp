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
#include "py_objects.hpp"

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

const RepairLog& log_of(py::handle cap) { return capsule_value<const RepairLog>(cap, kLogCapsule); }

py::list log_tuples(py::handle cap) {
  const RepairLog& repairs = log_of(cap);
  py::list out(repairs.size());
  for (std::size_t i = 0; i < repairs.size(); ++i) {
    const auto& x = repairs[i];
    out[i] = py::make_tuple(py::str(x.kind), x.start, x.end, py::str(x.message), x.lossless);
  }
  return out;
}

// repair_json's options, checked: strict (a bool), multiple ("first" or "all"),
// max_depth (an int >= 1).
jr::Options repair_options(PyObject* strict, PyObject* multiple, PyObject* max_depth) {
  jr::Options o;
  if (strict != Py_True && strict != Py_False)
    throw py::type_error(std::string("strict must be a bool, not ") + Py_TYPE(strict)->tp_name);
  o.strict = strict == Py_True;
  if (PyUnicode_Check(multiple) && PyUnicode_CompareWithASCIIString(multiple, "first") == 0) {
    o.multiple = jr::Multiple::kFirst;
  } else if (PyUnicode_Check(multiple) && PyUnicode_CompareWithASCIIString(multiple, "all") == 0) {
    o.multiple = jr::Multiple::kAll;
  } else {
    throw InvalidInput("multiple must be \"first\" or \"all\", got " + std::string(py::repr(multiple)));
  }
  if (!PyLong_Check(max_depth) || PyBool_Check(max_depth))
    throw py::type_error(std::string("max_depth must be an int, not ") + Py_TYPE(max_depth)->tp_name);
  const Py_ssize_t depth = PyLong_AsSsize_t(max_depth);
  if (depth == -1 && PyErr_Occurred()) throw py::error_already_set();
  if (depth < 1) throw InvalidInput("max_depth must be >= 1, got " + std::to_string(depth));
  o.max_depth = static_cast<std::size_t>(depth);
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
  Repairer(py::handle type, py::object loads)
      : loads_(std::move(loads)), factory_(type, {"text", "value", "lossless", "_log", "_repairs"}, "repaired_type") {}

  py::object operator()(py::handle text, const jr::Options& o) const {
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
    if (!r.repairs.empty()) log = owning_capsule(std::make_unique<RepairLog>(std::move(r.repairs)), kLogCapsule);
    return factory_.make({out, value, lossless ? Py_True : Py_False, log, repairs});
  }

 private:
  static constexpr std::size_t kReleaseGilFrom = 4096;
  py::object loads_;
  SlotsFactory<5> factory_;
};

// The repairer as a builtin function (its Repairer in a capsule): see fastcall_body.
constexpr const char* kRepairerCapsule = "covekit.Repairer";

PyObject* repair_fastcall(PyObject* self, PyObject* const* args, Py_ssize_t nargs) {
  return fastcall_body(
      [](PyObject* s, PyObject* const* a, Py_ssize_t n) {
        if (n != 4) throw py::type_error("repair(text, strict, multiple, max_depth) takes 4 positional arguments");
        const auto& rep = capsule_value<const Repairer>(s, kRepairerCapsule);
        return rep(a[0], repair_options(a[1], a[2], a[3]));
      },
      self, args, nargs);
}

}  // namespace

void register_json_repair(py::module_& m) {
  m.def(
      "make_repairer",
      [](py::handle repaired_type, py::object loads) {
        static PyMethodDef def = fastcall_def(
            "repair", &repair_fastcall,
            "repair(text, strict, multiple, max_depth) -> Repaired; raises RepairError like repair_json.");
        const py::object cap =
            owning_capsule(std::make_unique<Repairer>(repaired_type, std::move(loads)), kRepairerCapsule);
        return fastcall_function(def, cap);
      },
      py::arg("repaired_type"), py::arg("loads"),
      "A fast repair(text, strict, multiple, max_depth) -> Repaired (see covekit.repair_json).");
  m.def("repair_log_tuples", &log_tuples, py::arg("log"),
        "The repairs of a Repaired's log as [(kind, start, end, message, lossless), ...].");
  m.def("repair_log_len", [](py::handle cap) { return log_of(cap).size(); }, py::arg("log"),
        "How many repairs a Repaired's log holds.");
}

}  // namespace covekit::bindings
