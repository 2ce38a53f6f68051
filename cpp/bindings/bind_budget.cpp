// Bindings of covekit::budget (the context packer).
//
// make_packer(packing_type, section_type) returns the builtin (METH_FASTCALL, see
// py_objects.hpp) that covekit.pack calls. It takes the caller's arguments as they are
// when they are of the common kinds (numpy arrays, Python ints, a list of Section
// objects), packs with the GIL released, and returns the Packing, made without running
// its __init__ (SlotsFactory). Arguments of other kinds (lists, group labels, numpy
// integers, a wrong shape) make it return None, and covekit.pack's general path
// normalises them (raising its own errors) and calls it again with `strict`, where
// anything still off raises InvalidInput.
//
// Item arrays: C-contiguous arrays of the exact dtype (int64 tokens and min_keep,
// float64 utility, int32 section and group, bool required, uint8 flags) are read
// without a copy; other numeric dtypes are cast (one copy).
#include <chrono>
#include <cstring>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_set>

#include "common.hpp"
#include "covekit/budget.hpp"
#include "covekit/errors.hpp"
#include "py_objects.hpp"

namespace covekit::bindings {

namespace {

template <class T>
using Arr = py::array_t<T, py::array::c_style | py::array::forcecast>;

template <class T>
std::span<const T> view(const Arr<T>& a, const char* what) {
  if (a.ndim() != 1) throw InvalidInput(std::string(what) + " must be a 1-D array, got " + std::to_string(a.ndim()) + " dimensions");
  return {a.data(), static_cast<std::size_t>(a.shape(0))};
}

[[noreturn]] void raise_budget_exceeded(const budget::BudgetExceeded& e) {
  py::object cls = py::module_::import("covekit.errors").attr("BudgetExceeded");
  py::dict kw;
  kw["needed"] = e.needed();
  kw["available"] = e.available();
  py::object exc = cls(e.what(), **kw);
  PyErr_SetObject(cls.ptr(), exc.ptr());
  throw py::error_already_set();
}

// Runs f(problem) with the GIL released; BudgetExceeded becomes covekit.errors'.
template <class F>
budget::Selection run(const budget::Problem& problem, F&& f) {
  budget::Selection sel;
  std::optional<budget::BudgetExceeded> over;
  {
    py::gil_scoped_release release;
    try {
      sel = f(problem);
    } catch (const budget::BudgetExceeded& e) {
      over.emplace(e);
    }
  }
  if (over) raise_budget_exceeded(*over);
  return sel;
}

// A Python int (not a bool, not a numpy integer) that fits int64.
bool py_int(PyObject* o, int64_t& out) {
  if (!PyLong_Check(o) || PyBool_Check(o)) return false;
  int overflow = 0;
  const long long v = PyLong_AsLongLongAndOverflow(o, &overflow);
  if (overflow) return false;
  if (v == -1 && PyErr_Occurred()) throw py::error_already_set();
  out = v;
  return true;
}

bool is_array(PyObject* o) { return py::isinstance<py::array>(o); }

// A 1-D numpy array of n entries as T (cast when its dtype is another), or nothing.
template <class T>
std::optional<Arr<T>> item_array(PyObject* o, std::size_t n) {
  if (!is_array(o)) return std::nullopt;
  auto a = py::reinterpret_borrow<py::array>(o);
  if (a.ndim() != 1 || static_cast<std::size_t>(a.shape(0)) != n) return std::nullopt;
  Arr<T> out = Arr<T>::ensure(a);
  if (!out) throw py::error_already_set();
  return out;
}

constexpr std::array<const char*, 10> kPackingFields = {"kept",  "status", "total",  "utility", "section_tokens",
                                                        "level_utility", "exact", "method", "nodes", "budget"};
constexpr std::array<const char*, 5> kSectionFields = {"priority", "min_tokens", "max_tokens", "overhead", "name"};

// The fast pack of covekit.pack (see the file's comment).
class Packer {
 public:
  Packer(py::handle packing_type, py::handle section_type)
      : packing_(packing_type, kPackingFields, "packing_type"),
        section_type_(py::reinterpret_borrow<py::object>(section_type)),
        default_name_(py::str("default")) {
    if (!PyType_Check(section_type.ptr())) throw py::type_error("section_type must be a class");
    for (std::size_t k = 0; k < kSectionFields.size(); ++k) {
      py::object d = py::getattr(section_type, kSectionFields[k], py::none());
      if (!Py_IS_TYPE(d.ptr(), &PyMemberDescr_Type))
        throw py::type_error(std::string("section_type must declare __slots__ with the field '") + kSectionFields[k] + "'");
      section_fields_[k] = std::move(d);
    }
    for (const char* m : {"exact", "exact-partial", "density", "score"}) methods_.emplace_back(py::str(m));
  }

  // (tokens, utility, budget, sections, section, groups, group_cap, required, flags,
  //  min_keep, exact_limit, node_limit, method, strict) -> Packing | None
  py::object operator()(PyObject* const* a, Py_ssize_t nargs) const {
    if (nargs != 14) throw py::type_error("the fast pack takes 14 positional arguments");
    const bool strict = PyObject_IsTrue(a[13]) == 1;
    auto fail = [strict](const char* what) -> py::object {
      if (strict) throw InvalidInput(std::string("pack: ") + what);
      return py::none();
    };
    if (!is_array(a[0]) || py::reinterpret_borrow<py::array>(a[0]).ndim() != 1) return fail("tokens must be a 1-D array");
    const auto n = static_cast<std::size_t>(py::reinterpret_borrow<py::array>(a[0]).shape(0));
    const auto tokens = item_array<int64_t>(a[0], n);
    if (!tokens) return fail("tokens must be a 1-D array");
    const auto utility = item_array<double>(a[1], n);
    if (!utility) return fail("utility must be a 1-D array with one entry per item");
    budget::Problem p;
    if (!py_int(a[2], p.budget)) return fail("budget must be an int in the int64 range");
    bool best = true;
    if (PyUnicode_Check(a[12]) && PyUnicode_CompareWithASCIIString(a[12], "greedy_by_score") == 0)
      best = false;
    else if (!PyUnicode_Check(a[12]) || PyUnicode_CompareWithASCIIString(a[12], "best") != 0)
      return fail("method must be 'best' or 'greedy_by_score'");

    // sections: None (one, "default", priority 0) or a list or tuple of Section objects
    std::vector<py::object> names;
    if (a[3] == Py_None) {
      budget::Section s;
      s.name = "default";
      p.sections.push_back(std::move(s));
      names.push_back(default_name_);
    } else {
      if (!PyList_CheckExact(a[3]) && !PyTuple_CheckExact(a[3])) return fail("sections must be a list of Section objects");
      const Py_ssize_t S = PySequence_Fast_GET_SIZE(a[3]);
      PyObject** items = PySequence_Fast_ITEMS(a[3]);
      p.sections.reserve(static_cast<std::size_t>(S));
      names.reserve(static_cast<std::size_t>(S));
      for (Py_ssize_t k = 0; k < S; ++k) {
        if (!PyObject_TypeCheck(items[k], reinterpret_cast<PyTypeObject*>(section_type_.ptr())))
          return fail("sections must be Section objects");
        std::array<py::object, 5> v;
        for (std::size_t f = 0; f < v.size(); ++f) {
          PyObject* d = section_fields_[f].ptr();
          v[f] = py::reinterpret_steal<py::object>(Py_TYPE(d)->tp_descr_get(d, items[k], section_type_.ptr()));
          if (!v[f]) throw py::error_already_set();
        }
        budget::Section s;
        int64_t priority = 0;
        if (!py_int(v[0].ptr(), priority) || priority < std::numeric_limits<int32_t>::min() ||
            priority > std::numeric_limits<int32_t>::max())
          return fail("a section's priority must be an int in the int32 range");
        s.priority = static_cast<int32_t>(priority);
        if (!py_int(v[1].ptr(), s.min_tokens) || !py_int(v[3].ptr(), s.overhead) ||
            (!v[2].is_none() && !py_int(v[2].ptr(), s.max_tokens)))
          return fail("a section's min_tokens, max_tokens and overhead must be ints in the int64 range");
        if (!PyUnicode_Check(v[4].ptr())) return fail("a section's name must be a str");
        Py_ssize_t len = 0;
        const char* utf8 = PyUnicode_AsUTF8AndSize(v[4].ptr(), &len);
        if (!utf8) {
          PyErr_Clear();  // lone surrogates
          return fail("a section's name must have a UTF-8 form");
        }
        s.name.assign(utf8, static_cast<std::size_t>(len));
        p.sections.push_back(std::move(s));
        names.push_back(std::move(v[4]));
      }
      if (!unique_names(p.sections)) return fail("section names must be unique");
    }

    std::optional<Arr<int32_t>> section, group;
    std::optional<Arr<uint8_t>> flags;
    std::optional<Arr<bool>> required;
    std::vector<uint8_t> required_flags;
    std::optional<Arr<int64_t>> min_keep;
    if (a[4] != Py_None) {
      section = item_array<int32_t>(a[4], n);
      if (!section) return fail("section must be a 1-D array with one entry per item");
      p.section = {section->data(), n};
    }
    if (a[5] != Py_None) {
      // an integer array: group indices as they are (-1: none); labels go the general way
      if (!is_array(a[5]) || !is_integer(py::reinterpret_borrow<py::array>(a[5]))) return fail("groups must be an integer array");
      group = item_array<int32_t>(a[5], n);
      if (!group) return fail("groups must be a 1-D array with one entry per item");
      p.group = {group->data(), n};
    }
    if (!py_int(a[6], p.group_cap)) return fail("group_cap must be an int in the int64 range");
    if (a[7] != Py_None && a[8] != Py_None) return fail("required and flags are exclusive");
    if (a[7] != Py_None) {
      if (!is_array(a[7]) || py::reinterpret_borrow<py::array>(a[7]).dtype().kind() != 'b')
        return fail("required must be a bool array");
      required = item_array<bool>(a[7], n);
      if (!required) return fail("required must be a 1-D array with one entry per item");
      // the required flag (1) per item; a bool array's bytes are read as nonzero or not
      required_flags.resize(n);
      const auto* bytes = reinterpret_cast<const uint8_t*>(required->data());
      for (std::size_t i = 0; i < n; ++i) required_flags[i] = bytes[i] != 0 ? 1 : 0;
      p.flags = required_flags;
    }
    if (a[8] != Py_None) {
      flags = item_array<uint8_t>(a[8], n);
      if (!flags) return fail("flags must be a 1-D array with one entry per item");
      p.flags = {flags->data(), n};
    }
    if (a[9] != Py_None) {
      min_keep = item_array<int64_t>(a[9], n);
      if (!min_keep) return fail("min_keep must be a 1-D array with one entry per item");
      p.min_keep = {min_keep->data(), n};
    }
    int64_t exact_limit = 0;
    if (!py_int(a[10], exact_limit) || !py_int(a[11], p.node_limit))
      return fail("exact_limit and node_limit must be ints in the int64 range");
    if (exact_limit < 0 || exact_limit > 40) throw InvalidInput("exact_limit must be in [0, 40], got " + std::to_string(exact_limit));
    p.exact_limit = static_cast<int32_t>(exact_limit);
    p.tokens = {tokens->data(), n};
    p.utility = {utility->data(), n};

    budget::Selection sel =
        best ? run(p, [](const budget::Problem& q) { return budget::pack(q); })
             : run(p, [](const budget::Problem& q) { return budget::greedy_by_score(q); });
    // the budget as given when it is a plain int (an int subclass becomes one)
    const py::object budget_int = PyLong_CheckExact(a[2]) ? py::reinterpret_borrow<py::object>(a[2])
                                                          : py::reinterpret_steal<py::object>(PyLong_FromLongLong(p.budget));
    return result(std::move(sel), names, budget_int);
  }

 private:
  static bool is_integer(const py::array& a) {
    const char k = a.dtype().kind();
    return k == 'i' || k == 'u';
  }
  static bool unique_names(const std::vector<budget::Section>& secs) {
    if (secs.size() <= 16) {
      for (std::size_t x = 0; x < secs.size(); ++x)
        for (std::size_t y = 0; y < x; ++y)
          if (secs[x].name == secs[y].name) return false;
      return true;
    }
    std::unordered_set<std::string_view> seen;
    for (const budget::Section& s : secs)
      if (!seen.insert(s.name).second) return false;
    return true;
  }

  py::object result(budget::Selection&& s, const std::vector<py::object>& names, py::handle budget_obj) const {
    const auto n = static_cast<py::ssize_t>(s.kept.size());
    py::array_t<int64_t> kept(n);
    py::array_t<uint8_t> status(n);
    if (n) {
      std::memcpy(kept.mutable_data(), s.kept.data(), s.kept.size() * sizeof(int64_t));
      std::memcpy(status.mutable_data(), s.status.data(), s.status.size());
    }
    py::dict section_tokens, level_utility;
    for (std::size_t k = 0; k < names.size(); ++k)
      section_tokens[names[k]] = py::reinterpret_steal<py::object>(PyLong_FromLongLong(s.section_tokens[k]));
    for (std::size_t l = 0; l < s.levels.size(); ++l)
      level_utility[py::int_(s.levels[l])] = py::float_(s.level_utility[l]);
    py::handle method = methods_[2];
    if (s.method == "exact") method = methods_[0];
    else if (s.method == "exact-partial") method = methods_[1];
    else if (s.method == "score") method = methods_[3];
    const py::int_ total(s.total), nodes(s.nodes);
    const py::float_ utility(s.utility);
    return packing_.make({kept, status, total, utility, section_tokens, level_utility,
                          s.exact ? Py_True : Py_False, method, nodes, budget_obj});
  }

  SlotsFactory<10> packing_;
  py::object section_type_;
  std::array<py::object, 5> section_fields_;
  py::object default_name_;
  std::vector<py::object> methods_;
};

constexpr const char* kPackerCapsule = "covekit.Packer";

PyObject* pack_fastcall(PyObject* self, PyObject* const* args, Py_ssize_t nargs) {
  return fastcall_body(
      [](PyObject* s, PyObject* const* a, Py_ssize_t n) { return capsule_value<const Packer>(s, kPackerCapsule)(a, n); },
      self, args, nargs);
}

}  // namespace

void register_budget(py::module_& m) {
  m.def(
      "make_packer",
      [](py::handle packing_type, py::handle section_type) {
        static PyMethodDef def = fastcall_def(
            "pack",
            &pack_fastcall,
            "pack(tokens, utility, budget, sections, section, groups, group_cap, required, flags, min_keep, "
            "exact_limit, node_limit, method, strict) -> Packing | None (see covekit.pack).");
        const py::object cap = owning_capsule(std::make_unique<Packer>(packing_type, section_type), kPackerCapsule);
        return fastcall_function(def, cap);
      },
      py::arg("packing_type"), py::arg("section_type"),
      "The fast pack(...) -> Packing | None that covekit.pack calls (see bind_budget.cpp).");
  m.def(
      "pack_timings",
      [](py::object tokens, py::object utility, py::object section, py::object group, py::object flags,
         py::object min_keep, py::sequence sections, int64_t budget_tokens, int64_t group_cap, int32_t num_groups,
         int32_t exact_limit, int64_t node_limit, std::size_t repeats) {
        const Arr<int64_t> t = Arr<int64_t>::ensure(tokens);
        const Arr<double> u = Arr<double>::ensure(utility);
        if (!t || !u) throw py::error_already_set();
        budget::Problem p;
        p.tokens = view(t, "tokens");
        p.utility = view(u, "utility");
        std::optional<Arr<int32_t>> s, g;
        std::optional<Arr<uint8_t>> f;
        std::optional<Arr<int64_t>> k;
        auto opt = [](py::object obj, auto& keep, auto& out, const char* what) {
          if (obj.is_none()) return;
          using A = typename std::remove_reference_t<decltype(keep)>::value_type;
          keep = A::ensure(obj);
          if (!*keep) throw py::error_already_set();
          out = view(*keep, what);
        };
        opt(section, s, p.section, "section");
        opt(group, g, p.group, "group");
        opt(flags, f, p.flags, "flags");
        opt(min_keep, k, p.min_keep, "min_keep");
        for (py::handle h : sections) {
          auto tup = py::reinterpret_borrow<py::tuple>(h);
          if (tup.size() != 5) throw InvalidInput("each section is (priority, min_tokens, max_tokens, overhead, name)");
          budget::Section x;
          x.priority = tup[0].cast<int32_t>();
          x.min_tokens = tup[1].cast<int64_t>();
          x.max_tokens = tup[2].is_none() ? std::numeric_limits<int64_t>::max() : tup[2].cast<int64_t>();
          x.overhead = tup[3].cast<int64_t>();
          x.name = tup[4].cast<std::string>();
          p.sections.push_back(std::move(x));
        }
        p.budget = budget_tokens;
        p.group_cap = group_cap;
        p.num_groups = num_groups;
        p.exact_limit = exact_limit;
        p.node_limit = node_limit;
        std::vector<double> ns(repeats);
        {
          py::gil_scoped_release release;
          for (std::size_t r = 0; r < repeats; ++r) {
            const auto t0 = std::chrono::steady_clock::now();
            const budget::Selection sel = budget::pack(p);
            const auto t1 = std::chrono::steady_clock::now();
            if (sel.total < 0) throw InvalidInput("unreachable");  // keeps the call
            ns[r] = std::chrono::duration<double, std::nano>(t1 - t0).count();
          }
        }
        return to_numpy(std::move(ns));
      },
      py::arg("tokens"), py::arg("utility"), py::arg("section"), py::arg("group"), py::arg("flags"),
      py::arg("min_keep"), py::arg("sections"), py::arg("budget"), py::arg("group_cap"), py::arg("num_groups"),
      py::arg("exact_limit"), py::arg("node_limit"), py::arg("repeats"),
      "Benchmark hook: nanoseconds of each of `repeats` native pack calls on the same input (GIL released).");
}

}  // namespace covekit::bindings
