// covekit._core.repair_json: the audited JSON repairer (covekit/json_repair.hpp).
// Python wraps the result in covekit.execution.repair.Repaired.
#include <string>
#include <string_view>
#include <vector>

#include "common.hpp"
#include "covekit/errors.hpp"
#include "covekit/json_repair.hpp"

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
// can list 100,000 changes; most callers read only `lossless`).
struct RepairLog {
  std::vector<jr::Repair> repairs;

  py::list tuples() const {
    py::list out(repairs.size());
    for (std::size_t i = 0; i < repairs.size(); ++i) {
      const auto& x = repairs[i];
      out[i] = py::make_tuple(py::str(x.kind), x.start, x.end, py::str(x.message), x.lossless);
    }
    return out;
  }
};

py::tuple py_repair_json(py::handle text, bool strict, const std::string& multiple, std::size_t max_depth) {
  jr::Options o;
  o.strict = strict;
  if (multiple == "first") {
    o.multiple = jr::Multiple::kFirst;
  } else if (multiple == "all") {
    o.multiple = jr::Multiple::kAll;
  } else {
    throw InvalidInput("multiple must be \"first\" or \"all\", got \"" + multiple + "\"");
  }
  if (max_depth < 1) throw InvalidInput("max_depth must be >= 1, got 0");
  o.max_depth = max_depth;
  const Utf8Text in = repair_input(text);
  jr::Result r;
  {
    py::gil_scoped_release release;
    r = jr::repair(in.view, o);
  }
  py::object out;
  if (r.unchanged && PyUnicode_Check(text.ptr())) {
    out = py::reinterpret_borrow<py::object>(text);
  } else {
    out = py::reinterpret_steal<py::object>(
        PyUnicode_DecodeUTF8(r.text.data(), static_cast<Py_ssize_t>(r.text.size()), "strict"));
    if (!out) throw py::error_already_set();
  }
  const bool lossless = r.lossless();
  py::object log = py::none();
  if (!r.repairs.empty()) log = py::cast(RepairLog{std::move(r.repairs)});
  return py::make_tuple(out, lossless, log);
}

}  // namespace

void register_json_repair(py::module_& m) {
  py::class_<RepairLog>(m, "RepairLog", "The repairs of one repair_json call, kept native until read.")
      .def("__len__", [](const RepairLog& l) { return l.repairs.size(); })
      .def("tuples", &RepairLog::tuples, "The repairs as [(kind, start, end, message, lossless), ...].")
      .def("__repr__", [](const RepairLog& l) { return "<covekit.RepairLog repairs=" + std::to_string(l.repairs.size()) + ">"; });
  m.def("repair_json", &py_repair_json, py::arg("text"), py::kw_only(), py::arg("strict") = false,
        py::arg("multiple") = "first", py::arg("max_depth") = 512,
        "Repairs malformed JSON; returns (text, lossless, RepairLog or None when nothing was repaired). "
        "Raises RepairError (with .problems) when no repair exists without guessing data.");
}

}  // namespace covekit::bindings
