// Bindings of covekit::budget (the context packer). Item arrays come in by buffer:
// C-contiguous arrays of the exact dtype (int64 tokens and min_keep, float64 utility,
// int32 section and group, uint8 flags) are read without a copy; other numeric dtypes
// are cast (one copy). The packing runs with the GIL released; results go out as numpy
// arrays that own the core's buffers.
#include <chrono>
#include <optional>
#include <string>

#include "common.hpp"
#include "covekit/budget.hpp"
#include "covekit/errors.hpp"

namespace covekit::bindings {

namespace {

template <class T>
using Arr = py::array_t<T, py::array::c_style | py::array::forcecast>;

template <class T>
std::span<const T> view(const Arr<T>& a, const char* what) {
  if (a.ndim() != 1) throw InvalidInput(std::string(what) + " must be a 1-D array, got " + std::to_string(a.ndim()) + " dimensions");
  return {a.data(), static_cast<std::size_t>(a.shape(0))};
}

struct Args {
  Arr<int64_t> tokens;
  Arr<double> utility;
  std::optional<Arr<int32_t>> section;
  std::optional<Arr<int32_t>> group;
  std::optional<Arr<uint8_t>> flags;
  std::optional<Arr<int64_t>> min_keep;
  budget::Problem problem;
};

// An optional per-item array: None leaves the span empty (the packer's default).
template <class T>
void optional_view(py::object obj, std::optional<Arr<T>>& keep, std::span<const T>& out, const char* what) {
  if (obj.is_none()) return;
  keep = Arr<T>::ensure(obj);
  if (!*keep) throw py::error_already_set();
  out = view(*keep, what);
}

Args parse(py::object tokens, py::object utility, py::object section, py::object group, py::object flags,
           py::object min_keep, py::sequence sections, int64_t budget_tokens, int64_t group_cap, int32_t num_groups,
           int32_t exact_limit, int64_t node_limit) {
  Args a{Arr<int64_t>::ensure(tokens), Arr<double>::ensure(utility), std::nullopt, std::nullopt, std::nullopt,
         std::nullopt, {}};
  if (!a.tokens || !a.utility) throw py::error_already_set();
  budget::Problem& p = a.problem;
  p.tokens = view(a.tokens, "tokens");
  p.utility = view(a.utility, "utility");
  optional_view(section, a.section, p.section, "section");
  optional_view(group, a.group, p.group, "group");
  optional_view(flags, a.flags, p.flags, "flags");
  optional_view(min_keep, a.min_keep, p.min_keep, "min_keep");
  for (py::handle h : sections) {
    auto t = py::reinterpret_borrow<py::tuple>(h);
    if (t.size() != 5)
      throw InvalidInput("each section is (priority, min_tokens, max_tokens, overhead, name)");
    budget::Section s;
    s.priority = t[0].cast<int32_t>();
    s.min_tokens = t[1].cast<int64_t>();
    s.max_tokens = t[2].is_none() ? std::numeric_limits<int64_t>::max() : t[2].cast<int64_t>();
    s.overhead = t[3].cast<int64_t>();
    s.name = t[4].cast<std::string>();
    p.sections.push_back(std::move(s));
  }
  p.budget = budget_tokens;
  p.group_cap = group_cap;
  p.num_groups = num_groups;
  p.exact_limit = exact_limit;
  p.node_limit = node_limit;
  return a;
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

py::tuple result(budget::Selection&& s) {
  std::vector<int64_t> selected;
  for (std::size_t i = 0; i < s.kept.size(); ++i)
    if (s.kept[i]) selected.push_back(static_cast<int64_t>(i));
  return py::make_tuple(to_numpy(std::move(s.kept)), to_numpy(std::move(s.status)),
                        to_numpy(std::move(s.section_tokens)), to_numpy(std::move(s.level_utility)),
                        to_numpy(std::move(s.levels)), s.total, s.utility, s.exact, s.nodes, s.method,
                        to_list(selected));
}

template <class F>
py::tuple run(const Args& a, F&& f) {
  budget::Selection sel;
  std::optional<budget::BudgetExceeded> over;
  {
    py::gil_scoped_release release;
    try {
      sel = f(a.problem);
    } catch (const budget::BudgetExceeded& e) {
      over.emplace(e);
    }
  }
  if (over) raise_budget_exceeded(*over);
  return result(std::move(sel));
}

}  // namespace

void register_budget(py::module_& m) {
  const char* doc =
      "Packs items into a token budget (see covekit/budget.hpp). Returns (kept, status, section_tokens, "
      "level_utility, levels, total, utility, exact, nodes, method, selected). section, group, flags and "
      "min_keep may be None; num_groups -1: computed.";
  m.def(
      "pack",
      [](py::object tokens, py::object utility, py::object section, py::object group, py::object flags,
         py::object min_keep, py::sequence sections, int64_t budget_tokens, int64_t group_cap, int32_t num_groups,
         int32_t exact_limit, int64_t node_limit) {
        const Args a = parse(tokens, utility, section, group, flags, min_keep, sections, budget_tokens, group_cap,
                             num_groups, exact_limit, node_limit);
        return run(a, [](const budget::Problem& p) { return budget::pack(p); });
      },
      py::arg("tokens"), py::arg("utility"), py::arg("section"), py::arg("group"), py::arg("flags"),
      py::arg("min_keep"), py::arg("sections"), py::arg("budget"), py::arg("group_cap") = 0,
      py::arg("num_groups") = -1, py::arg("exact_limit") = 24, py::arg("node_limit") = 2000000, doc);
  m.def(
      "pack_greedy_by_score",
      [](py::object tokens, py::object utility, py::object section, py::object group, py::object flags,
         py::object min_keep, py::sequence sections, int64_t budget_tokens, int64_t group_cap, int32_t num_groups) {
        const Args a = parse(tokens, utility, section, group, flags, min_keep, sections, budget_tokens, group_cap,
                             num_groups, 0, 1);
        return run(a, [](const budget::Problem& p) { return budget::greedy_by_score(p); });
      },
      py::arg("tokens"), py::arg("utility"), py::arg("section"), py::arg("group"), py::arg("flags"),
      py::arg("min_keep"), py::arg("sections"), py::arg("budget"), py::arg("group_cap") = 0,
      py::arg("num_groups") = -1, "The greedy-by-score baseline of pack (same arguments and result).");
  m.def(
      "pack_timings",
      [](py::object tokens, py::object utility, py::object section, py::object group, py::object flags,
         py::object min_keep, py::sequence sections, int64_t budget_tokens, int64_t group_cap, int32_t num_groups,
         int32_t exact_limit, int64_t node_limit, std::size_t repeats) {
        const Args a = parse(tokens, utility, section, group, flags, min_keep, sections, budget_tokens, group_cap,
                             num_groups, exact_limit, node_limit);
        std::vector<double> ns(repeats);
        {
          py::gil_scoped_release release;
          for (std::size_t r = 0; r < repeats; ++r) {
            const auto t0 = std::chrono::steady_clock::now();
            const budget::Selection s = budget::pack(a.problem);
            const auto t1 = std::chrono::steady_clock::now();
            if (s.total < 0) throw InvalidInput("unreachable");  // keeps the call
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
