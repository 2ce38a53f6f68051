// simdjson DOM -> Python objects, shared by parse_json and repair_json.
#pragma once

#include <simdjson.h>

#include "common.hpp"

namespace covekit::bindings {

// The value as json.loads builds it: dict (insertion order), list, str, int (any int64 or
// uint64), float, bool, None. Throws py::error_already_set when Python runs out of memory.
py::object dom_to_python(simdjson::dom::element e);

}  // namespace covekit::bindings
