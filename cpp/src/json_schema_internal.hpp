// Internals shared by the json_schema_*.cpp files (not installed, not used by the bindings).
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "covekit/json_schema.hpp"

namespace covekit {
// Sets `v` to the number written as `text` (json_schema_value.cpp).
void json_set_number(JsonValue& v, std::string_view text, bool has_frac_or_exp);
}  // namespace covekit

namespace covekit::json_schema_detail {

// The official metaschemas: (URI without '#', minified JSON text).
const std::vector<std::pair<std::string_view, std::string_view>>& builtin_metaschemas();

// RFC 3986 reference resolution of `ref` against `base` (json_schema_uri.cpp). An empty
// fragment ("x#") is dropped.
std::string resolve_uri(std::string_view base, std::string_view ref);
// Splits "a#frag" into ("a", "frag"); the fragment is percent-decoded.
std::pair<std::string, std::string> split_fragment(std::string_view uri);

}  // namespace covekit::json_schema_detail
