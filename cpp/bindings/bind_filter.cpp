// Bindings of covekit::filter: the Filter expression compiled from its dict form, and
// the attribute dicts of documents. All of it runs with the GIL held (it is small,
// per-call work); evaluation happens inside the index searches, without the GIL.
#include <string>

#include "covekit/errors.hpp"
#include "py_filter.hpp"

namespace covekit::bindings {

namespace {

std::string type_name(py::handle obj) { return py::str(py::type::handle_of(obj).attr("__name__")); }

filter::Value parse_value(py::handle v, const std::string& where) {
  if (PyBool_Check(v.ptr())) return v.ptr() == Py_True;
  if (PyLong_Check(v.ptr())) {
    int overflow = 0;
    const long long x = PyLong_AsLongLongAndOverflow(v.ptr(), &overflow);
    if (overflow) throw InvalidInput(where + ": the int " + std::string(py::str(v)) + " does not fit in 64 bits");
    if (x == -1 && PyErr_Occurred()) throw py::error_already_set();
    return static_cast<int64_t>(x);
  }
  if (PyFloat_Check(v.ptr())) return PyFloat_AS_DOUBLE(v.ptr());
  if (PyUnicode_Check(v.ptr())) {
    Utf8Text t = as_utf8_text(v, where.c_str());
    return std::string(t.view);
  }
  // numpy scalars and other numbers
  if (py::hasattr(v, "dtype") && py::hasattr(v, "item")) return parse_value(v.attr("item")(), where);
  throw InvalidInput(where + ": values must be str, int, float or bool, not " + type_name(v) +
                     (v.is_none() ? " (leave the field out instead)" : " (dates: pass epoch seconds)"));
}

std::vector<std::string> parse_strings(py::handle obj, const std::string& where) {
  if (PyUnicode_Check(obj.ptr()) || PyBytes_Check(obj.ptr()))
    throw InvalidInput(where + " takes a list of strings, not one string: wrap it in a list");
  if (!py::isinstance<py::iterable>(obj))
    throw InvalidInput(where + " takes a list of strings, not " + type_name(obj));
  std::vector<std::string> out;
  for (py::handle x : obj) {
    if (!PyUnicode_Check(x.ptr())) throw InvalidInput(where + " takes strings, got " + type_name(x));
    out.emplace_back(as_utf8_text(x, where.c_str()).view);
  }
  return out;
}

std::string parse_field(py::handle obj, const char* op) {
  if (!PyUnicode_Check(obj.ptr()))
    throw InvalidInput(std::string(op) + ": 'field' must be a str, not " + type_name(obj));
  return std::string(as_utf8_text(obj).view);
}

py::dict as_dict(py::handle obj, const char* op) {
  if (!PyDict_Check(obj.ptr()))
    throw InvalidInput(std::string(op) + " takes a dict, e.g. {\"field\": \"lang\", \"value\": \"en\"}, not " +
                       type_name(obj));
  return py::reinterpret_borrow<py::dict>(obj);
}

void only_keys(const py::dict& d, std::initializer_list<const char*> keys, const char* op) {
  for (auto [k, v] : d) {
    (void)v;
    bool ok = false;
    for (const char* key : keys) ok = ok || (PyUnicode_Check(k.ptr()) && py::str(k).cast<std::string>() == key);
    if (!ok) {
      std::string allowed;
      for (const char* key : keys) allowed += std::string(allowed.empty() ? "" : ", ") + key;
      throw InvalidInput(std::string(op) + ": unknown key " + std::string(py::repr(k)) + " (allowed: " + allowed + ")");
    }
  }
}

}  // namespace

filter::Expr parse_filter(py::handle obj) {
  using filter::Expr;
  if (!PyDict_Check(obj.ptr()) || PyDict_Size(obj.ptr()) != 1)
    throw InvalidInput("a filter is a dict with one key (and, or, not, acl_any, tags_any, tags_all, eq, in, "
                       "range, exists, all), got " +
                       std::string(py::repr(obj)));
  auto item = *py::reinterpret_borrow<py::dict>(obj).begin();
  if (!PyUnicode_Check(item.first.ptr())) throw InvalidInput("a filter's key must be a str");
  const std::string op = py::str(item.first);
  py::handle arg = item.second;
  if (op == "all") {
    if (arg.ptr() != Py_True) throw InvalidInput("all: write {\"all\": True}");
    return Expr::all();
  }
  if (op == "acl_any") return Expr::acl_any(parse_strings(arg, "acl_any"));
  if (op == "tags_any") return Expr::tags_any(parse_strings(arg, "tags_any"));
  if (op == "tags_all") return Expr::tags_all(parse_strings(arg, "tags_all"));
  if (op == "exists") return Expr::exists(parse_field(arg, "exists"));
  if (op == "eq") {
    py::dict d = as_dict(arg, "eq");
    only_keys(d, {"field", "value"}, "eq");
    if (!d.contains("field") || !d.contains("value")) throw InvalidInput("eq needs 'field' and 'value'");
    return Expr::eq(parse_field(d["field"], "eq"), parse_value(d["value"], "eq"));
  }
  if (op == "in") {
    py::dict d = as_dict(arg, "in");
    only_keys(d, {"field", "values"}, "in");
    if (!d.contains("field") || !d.contains("values")) throw InvalidInput("in needs 'field' and 'values'");
    py::object vs = d["values"];
    if (PyUnicode_Check(vs.ptr()) || !py::isinstance<py::iterable>(vs))
      throw InvalidInput("in: 'values' must be a list of values");
    std::vector<filter::Value> values;
    for (py::handle v : vs) values.push_back(parse_value(v, "in"));
    return Expr::in(parse_field(d["field"], "in"), std::move(values));
  }
  if (op == "range") {
    py::dict d = as_dict(arg, "range");
    only_keys(d, {"field", "gt", "gte", "lt", "lte"}, "range");
    if (!d.contains("field")) throw InvalidInput("range needs 'field'");
    if (d.contains("gt") && d.contains("gte")) throw InvalidInput("range: give gt or gte, not both");
    if (d.contains("lt") && d.contains("lte")) throw InvalidInput("range: give lt or lte, not both");
    auto bound = [&](const char* key) -> filter::Value {
      if (!d.contains(key)) return {};
      py::object v = d[key];
      if (PyBool_Check(v.ptr()) || PyUnicode_Check(v.ptr()))
        throw InvalidInput(std::string("range: '") + key + "' must be a number");
      return parse_value(v, "range");
    };
    const bool lo_incl = !d.contains("gt"), hi_incl = !d.contains("lt");
    return Expr::range(parse_field(d["field"], "range"), bound(lo_incl ? "gte" : "gt"), lo_incl,
                       bound(hi_incl ? "lte" : "lt"), hi_incl);
  }
  if (op == "and" || op == "or") {
    if (PyDict_Check(arg.ptr()) || !py::isinstance<py::iterable>(arg))
      throw InvalidInput(op + " takes a list of filters");
    std::vector<Expr> cs;
    for (py::handle c : arg) cs.push_back(parse_filter(c));
    return op == "and" ? Expr::and_(std::move(cs)) : Expr::or_(std::move(cs));
  }
  if (op == "not") return Expr::not_(parse_filter(arg));
  throw InvalidInput("unknown filter operator '" + op +
                     "' (use and, or, not, acl_any, tags_any, tags_all, eq, in, range, exists, all)");
}

const filter::Expr* as_filter(py::handle obj) {
  if (obj.is_none()) return nullptr;
  if (py::isinstance<PyFilter>(obj)) return &obj.cast<const PyFilter&>().expr;
  if (py::hasattr(obj, "_native")) {
    py::object n = obj.attr("_native");
    if (py::isinstance<PyFilter>(n)) return &n.cast<const PyFilter&>().expr;
  }
  throw py::type_error("filter must be a covekit.Filter or None, not " + type_name(obj) +
                       " (build one with covekit.Filter.from_dict(...))");
}

filter::Attributes parse_attributes(py::handle obj) {
  if (obj.is_none()) return {};
  if (!PyDict_Check(obj.ptr()))
    throw InvalidInput("attributes: each entry is a dict like {\"acl\": [...], \"tags\": [...], \"fields\": {...}}, not " +
                       type_name(obj));
  py::dict d = py::reinterpret_borrow<py::dict>(obj);
  only_keys(d, {"acl", "tags", "fields"}, "attributes");
  filter::Attributes a;
  if (d.contains("acl")) a.acl = parse_strings(d["acl"], "attributes 'acl'");
  if (d.contains("tags")) a.tags = parse_strings(d["tags"], "attributes 'tags'");
  if (d.contains("fields")) {
    py::object f = d["fields"];
    if (!PyDict_Check(f.ptr())) throw InvalidInput("attributes 'fields' must be a dict of field name -> value");
    for (auto [k, v] : py::reinterpret_borrow<py::dict>(f)) {
      if (!PyUnicode_Check(k.ptr())) throw InvalidInput("attributes 'fields': names must be str");
      const std::string name(as_utf8_text(k).view);
      a.fields.emplace_back(name, parse_value(v, "field '" + name + "'"));
    }
  }
  filter::AttributeStore::validate(a);
  return a;
}

std::vector<filter::Attributes> parse_attribute_list(py::handle obj, std::size_t n) {
  std::vector<filter::Attributes> out;
  if (obj.is_none()) return out;
  if (PyDict_Check(obj.ptr()) || !py::isinstance<py::sequence>(obj))
    throw InvalidInput("attributes must be a list with one dict per id (or None)");
  py::sequence seq = py::reinterpret_borrow<py::sequence>(obj);
  if (seq.size() != n)
    throw InvalidInput("attributes has " + std::to_string(seq.size()) + " entries for " + std::to_string(n) +
                       " ids; pass one dict per id");
  out.reserve(n);
  for (py::handle x : seq) out.push_back(parse_attributes(x));
  return out;
}

py::dict attributes_to_dict(const filter::Attributes& a) {
  py::dict d;
  py::list acl, tags;
  for (const auto& s : a.acl) acl.append(py::str(s));
  for (const auto& s : a.tags) tags.append(py::str(s));
  py::dict fields;
  for (const auto& [name, v] : a.fields) {
    py::object o;
    if (const bool* b = std::get_if<bool>(&v))
      o = py::bool_(*b);
    else if (const int64_t* i = std::get_if<int64_t>(&v))
      o = py::int_(*i);
    else if (const double* x = std::get_if<double>(&v))
      o = py::float_(*x);
    else
      o = py::str(std::get<std::string>(v));
    fields[py::str(name)] = o;
  }
  d["acl"] = acl;
  d["tags"] = tags;
  d["fields"] = fields;
  return d;
}

void register_filter(py::module_& m) {
  py::class_<PyFilter>(m, "Filter", "A compiled filter expression (native core of covekit.Filter).")
      .def(py::init([](py::handle spec) { return PyFilter{parse_filter(spec)}; }), py::arg("spec"),
           "Compiles a filter from its dict form; raises InvalidInput when it is malformed.")
      .def("evaluate",
           [](const PyFilter& f, py::handle attributes) {
             // Evaluates the filter on a list of attribute dicts (ids 0..n-1): a bool per entry.
             const std::size_t n = static_cast<std::size_t>(py::len(attributes));
             auto attrs = parse_attribute_list(attributes, n);
             filter::AttributeStore store;
             for (std::size_t i = 0; i < n; ++i) store.set(static_cast<uint32_t>(i), attrs[i]);
             filter::Selection sel;
             {
               py::gil_scoped_release r;
               sel = store.evaluate(f.expr, filter::Bitset(n, true));
             }
             py::list out(n);
             for (std::size_t i = 0; i < n; ++i) out[i] = py::bool_(sel.allows(static_cast<uint32_t>(i)));
             return out;
           },
           py::arg("attributes"), "Evaluates the filter on a list of attribute dicts: a bool per entry.");
}

}  // namespace covekit::bindings
