// Conversions between Python objects and covekit::filter (bind_filter.cpp), shared by
// the index bindings: a filter's dict form to an Expr, attribute dicts to Attributes.
#pragma once

#include <memory>
#include <vector>

#include "common.hpp"
#include "covekit/filter.hpp"

namespace covekit::bindings {

// The object behind covekit._core.Filter: a compiled, immutable expression.
struct PyFilter {
  filter::Expr expr;
};

// {"and": [...]} etc. (docs/retrieval.md) -> Expr. Raises InvalidInput / TypeError.
filter::Expr parse_filter(py::handle obj);
// A filter argument: None, a _core.Filter, or anything with a `_native` attribute that
// is one (covekit.Filter). Returns null for None.
const filter::Expr* as_filter(py::handle obj);

// {"acl": [...], "tags": [...], "fields": {...}} -> Attributes.
filter::Attributes parse_attributes(py::handle obj);
// None -> empty; else one dict per id (exactly `n`).
std::vector<filter::Attributes> parse_attribute_list(py::handle obj, std::size_t n);
py::dict attributes_to_dict(const filter::Attributes& a);

}  // namespace covekit::bindings
