// The evaluator's adapter over simdjson's DOM, and the per-thread DOM parser (internal to
// covekit: json_schema.cpp and the bindings use it).
#pragma once

#include <simdjson.h>

#include <cmath>
#include <cstdint>
#include <string_view>

#include "covekit/json_schema_eval.hpp"

namespace covekit::json_schema_detail {

// Parses `text` with this thread's parser into `out` (valid until the next parse on the
// thread). False when simdjson refuses the text (the caller falls back to
// parse_json_value, which keeps big numbers or says where the fault is).
bool parse_dom(std::string_view text, simdjson::dom::element& out);

struct DomAdapter {
  using V = simdjson::dom::element;
  static uint8_t type(V v) noexcept {
    switch (v.type()) {
      case simdjson::dom::element_type::ARRAY: return kArray;
      case simdjson::dom::element_type::OBJECT: return kObject;
      case simdjson::dom::element_type::STRING: return kString;
      case simdjson::dom::element_type::BOOL: return kBoolean;
      case simdjson::dom::element_type::NULL_VALUE: return kNull;
      default: return kNumber;
    }
  }
  static bool boolean(V v) noexcept { return v.get_bool().value_unsafe(); }
  static NumberView number(V v) noexcept {
    switch (v.type()) {
      case simdjson::dom::element_type::INT64: {
        const int64_t i = v.get_int64().value_unsafe();
        return {static_cast<double>(i), true, true, i, {}};
      }
      case simdjson::dom::element_type::UINT64: {
        const uint64_t u = v.get_uint64().value_unsafe();
        if (u <= static_cast<uint64_t>(INT64_MAX)) return {static_cast<double>(u), true, true, static_cast<int64_t>(u), {}};
        return {static_cast<double>(u), true, false, 0, {}};
      }
      default: {
        const double d = v.get_double().value_unsafe();
        NumberView n{d, std::isfinite(d) && std::floor(d) == d, false, 0, {}};
        if (n.integer && std::fabs(d) < 9.2e18) {
          n.exact = true;
          n.i = static_cast<int64_t>(d);
        }
        return n;
      }
    }
  }
  static std::string_view string(V v) noexcept { return v.get_string().value_unsafe(); }
  static std::size_t size(V v) noexcept {
    if (v.type() == simdjson::dom::element_type::ARRAY) {
      const simdjson::dom::array arr = v.get_array().value_unsafe();
      return arr.size();
    }
    const simdjson::dom::object obj = v.get_object().value_unsafe();
    return obj.size();
  }
  template <class F>
  static bool each_item(V v, F&& f) {
    std::size_t i = 0;
    const simdjson::dom::array arr = v.get_array().value_unsafe();
    for (simdjson::dom::element x : arr)
      if (!f(i++, x)) return false;
    return true;
  }
  template <class F>
  static bool each_member(V v, F&& f) {
    const simdjson::dom::object obj = v.get_object().value_unsafe();
    for (simdjson::dom::key_value_pair kv : obj)
      if (!f(kv.key, kv.value)) return false;
    return true;
  }
  static bool find(V v, std::string_view key, V& out) noexcept {
    const simdjson::dom::object obj = v.get_object().value_unsafe();
    for (simdjson::dom::key_value_pair kv : obj) {
      if (kv.key == key) {
        out = kv.value;
        return true;
      }
    }
    return false;
  }
};

}  // namespace covekit::json_schema_detail
