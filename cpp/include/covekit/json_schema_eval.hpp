// The JSON Schema evaluator: runs a compiled program (json_schema.hpp) over any value
// type through an adapter, so simdjson's DOM, covekit's JsonValue and Python objects share
// one implementation of the semantics. An adapter A provides:
//
//   using V = ...;                                     // a cheap handle to a value
//   static uint8_t type(V);                            // one TypeBit; numbers: kNumber
//   static bool boolean(V);
//   static NumberView number(V);
//   static std::string_view string(V);                 // UTF-8
//   static std::size_t size(V);                        // array length / member count
//   template <class F> static bool each_item(V, F);    // f(size_t, V) -> bool (go on)
//   template <class F> static bool each_member(V, F);  // f(string_view, V) -> bool (go on)
//   static bool find(V, std::string_view key, V& out);
//
// This header is internal to covekit (the core and the bindings include it).
#pragma once

#include <algorithm>
#include <charconv>
#include <cstdint>
#include <cmath>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include "covekit/errors.hpp"
#include "covekit/json_schema.hpp"

namespace covekit::json_schema_detail {

struct NumberView {
  double d = 0;
  bool integer = false;  // mathematically whole
  bool exact = false;    // i holds the value exactly
  int64_t i = 0;
  std::string_view text;  // the JSON digits, for numbers a double cannot hold (may be empty)
};

inline void append_double(std::string& out, double d) {
  if (std::isinf(d)) {
    out += d > 0 ? "1e999" : "-1e999";
    return;
  }
  char buf[32];
  auto r = std::to_chars(buf, buf + sizeof buf, d);
  out.append(buf, r.ptr);
}

inline void append_json_string(std::string& out, std::string_view s) {
  out += '"';
  for (unsigned char c : s) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (c < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", c);
          out += buf;
        } else {
          out += static_cast<char>(c);
        }
    }
  }
  out += '"';
}

inline void append_pointer_token(std::string& out, std::string_view tok) {
  out += '/';
  for (char c : tok) {
    if (c == '~') out += "~0";
    else if (c == '/') out += "~1";
    else out += c;
  }
}

// Numbers of the schema (JsonValue) and of the instance compared as JSON numbers.
inline int compare_numbers(const NumberView& a, const JsonValue& b) noexcept {
  if (a.exact && b.exact) return a.i < b.i64 ? -1 : (a.i > b.i64 ? 1 : 0);
  const long double x = a.exact ? static_cast<long double>(a.i) : static_cast<long double>(a.d);
  const long double y = b.exact ? static_cast<long double>(b.i64) : static_cast<long double>(b.number);
  return x < y ? -1 : (x > y ? 1 : 0);
}

template <class A>
class Evaluator {
 public:
  using V = typename A::V;

  Evaluator(const Program& p, bool report, bool all_errors, std::vector<SchemaViolation>* out)
      : p_(p), report_(report), all_(all_errors), out_(out) {
    char here = 0;
    stack_base_ = reinterpret_cast<std::uintptr_t>(&here);
  }

  bool run(V root) { return eval(p_.root, root, nullptr); }
  bool eval_node(int node, V v) { return eval(node, v, nullptr); }

  // Deep equality of two instance values (numbers: 1 == 1.0).
  static bool equal(V a, V b) {
    const uint8_t ta = A::type(a), tb = A::type(b);
    if (ta != tb) return false;
    switch (ta) {
      case kNull: return true;
      case kBoolean: return A::boolean(a) == A::boolean(b);
      case kNumber: {
        NumberView x = A::number(a), y = A::number(b);
        return number_equal(x.d, x.exact, x.i, y.d, y.exact, y.i);
      }
      case kString: return A::string(a) == A::string(b);
      case kArray: {
        if (A::size(a) != A::size(b)) return false;
        std::vector<V> xs;
        xs.reserve(A::size(a));
        A::each_item(a, [&](std::size_t, V x) { xs.push_back(x); return true; });
        bool same = true;
        A::each_item(b, [&](std::size_t i, V y) { same = equal(xs[i], y); return same; });
        return same;
      }
      default: {
        if (A::size(a) != A::size(b)) return false;
        bool same = true;
        A::each_member(a, [&](std::string_view k, V x) {
          V y{};
          same = A::find(b, k, y) && equal(x, y);
          return same;
        });
        return same;
      }
    }
  }

  // Deep equality of an instance value and a schema value.
  static bool equal(V a, const JsonValue& b) {
    const uint8_t ta = A::type(a);
    switch (b.kind) {
      case JsonValue::Kind::Null: return ta == kNull;
      case JsonValue::Kind::Bool: return ta == kBoolean && A::boolean(a) == b.boolean;
      case JsonValue::Kind::Number: {
        if (ta != kNumber) return false;
        NumberView x = A::number(a);
        return number_equal(x.d, x.exact, x.i, b.number, b.exact, b.i64);
      }
      case JsonValue::Kind::String: return ta == kString && A::string(a) == b.text;
      case JsonValue::Kind::Array: {
        if (ta != kArray || A::size(a) != b.items.size()) return false;
        bool same = true;
        A::each_item(a, [&](std::size_t i, V x) { same = equal(x, b.items[i]); return same; });
        return same;
      }
      case JsonValue::Kind::Object: {
        if (ta != kObject || A::size(a) != b.members.size()) return false;
        bool same = true;
        A::each_member(a, [&](std::string_view k, V x) {
          const JsonValue* y = b.find(k);
          same = y && equal(x, *y);
          return same;
        });
        return same;
      }
    }
    return false;
  }

  // Compact JSON of an instance value, cut at about `limit` bytes.
  static void render(std::string& out, V v, std::size_t limit = 80) {
    if (out.size() > limit) return;
    switch (A::type(v)) {
      case kNull: out += "null"; break;
      case kBoolean: out += A::boolean(v) ? "true" : "false"; break;
      case kNumber: {
        NumberView n = A::number(v);
        if (n.exact) out += std::to_string(n.i);
        else append_double(out, n.d);
        break;
      }
      case kString: {
        std::string_view s = A::string(v);
        if (s.size() > limit) {
          std::size_t cut = limit;
          while (cut > 0 && (static_cast<unsigned char>(s[cut]) & 0xC0) == 0x80) --cut;
          append_json_string(out, s.substr(0, cut));
          out.insert(out.size() - 1, "...");
        } else {
          append_json_string(out, s);
        }
        break;
      }
      case kArray: {
        out += '[';
        A::each_item(v, [&](std::size_t i, V x) {
          if (i) out += ", ";
          if (out.size() > limit) { out += "..."; return false; }
          render(out, x, limit);
          return true;
        });
        out += ']';
        break;
      }
      default: {
        out += '{';
        bool first = true;
        A::each_member(v, [&](std::string_view k, V x) {
          if (!first) out += ", ";
          first = false;
          if (out.size() > limit) { out += "..."; return false; }
          append_json_string(out, k);
          out += ": ";
          render(out, x, limit);
          return true;
        });
        out += '}';
      }
    }
  }

 private:
  struct Tok {
    std::string_view key;
    int64_t index = -1;  // >= 0: an array index
  };

  struct Annot {
    std::vector<std::string_view> props;
    bool all_props = false;
    std::size_t prefix = 0;  // items [0, prefix) evaluated
    bool all_items = false;
    std::vector<std::size_t> items;

    void merge(const Annot& o) {
      all_props = all_props || o.all_props;
      if (!all_props) props.insert(props.end(), o.props.begin(), o.props.end());
      all_items = all_items || o.all_items;
      prefix = std::max(prefix, o.prefix);
      if (!all_items) items.insert(items.end(), o.items.begin(), o.items.end());
    }
    [[nodiscard]] bool has_prop(std::string_view k) const {
      return all_props || std::find(props.begin(), props.end(), k) != props.end();
    }
    [[nodiscard]] bool has_item(std::size_t i) const {
      return all_items || i < prefix || std::find(items.begin(), items.end(), i) != items.end();
    }
  };

  // Pushes path tokens while reporting; pops them on scope exit.
  struct Push {
    std::vector<Tok>* stack = nullptr;
    std::size_t n = 0;
    Push(Evaluator& e, std::vector<Tok>& s, std::string_view key, int64_t index = -1) {
      if (!e.report_) return;
      stack = &s;
      s.push_back({key, index});
      n = 1;
    }
    Push(Evaluator& e, std::vector<Tok>& s, std::string_view key, std::string_view key2, int64_t index2 = -1) {
      if (!e.report_) return;
      stack = &s;
      s.push_back({key, -1});
      s.push_back({key2, index2});
      n = 2;
    }
    ~Push() {
      if (stack) stack->resize(stack->size() - n);
    }
    Push(const Push&) = delete;
    Push& operator=(const Push&) = delete;
  };

  struct Silence {
    Evaluator& e;
    bool saved;
    explicit Silence(Evaluator& ev) : e(ev), saved(ev.report_) { ev.report_ = false; }
    ~Silence() { e.report_ = saved; }
    Silence(const Silence&) = delete;
    Silence& operator=(const Silence&) = delete;
  };

  static std::string join(const std::vector<Tok>& toks) {
    std::string s;
    for (const Tok& t : toks) {
      if (t.index >= 0) {
        s += '/';
        s += std::to_string(t.index);
      } else {
        append_pointer_token(s, t.key);
      }
    }
    return s;
  }

  template <class Msg>
  bool fail(const Node& n, const Instr& ins, Msg&& msg, const char* keyword = nullptr) {
    if (!report_) return false;
    SchemaViolation v;
    v.instance_path = join(ipath_);
    v.keyword_location = join(kpath_);
    const std::string_view kw = keyword ? std::string_view(keyword) : std::string_view(ins.location);
    append_pointer_token(v.keyword_location, kw);
    if (!n.absolute.empty()) {
      v.absolute_keyword_location = n.absolute;
      if (v.absolute_keyword_location.find('#') == std::string::npos) v.absolute_keyword_location += '#';
      append_pointer_token(v.absolute_keyword_location, kw);
    }
    v.message = msg();
    v.keyword = std::string(kw);
    out_->push_back(std::move(v));
    return false;
  }

  std::string show(V v) const {
    std::string s;
    render(s, v);
    return s;
  }

  static bool is_false_node(const Node& n) { return n.instrs.size() == 1 && n.instrs[0].op == Op::Fail; }

  static uint8_t type_bits(V v) {
    const uint8_t t = A::type(v);
    if (t == kNumber && A::number(v).integer) return kNumber | kInteger;
    return t;
  }

  bool eval(int ni, V v, Annot* out) {
    const Node& n = p_.nodes[static_cast<std::size_t>(ni)];
    if (n.always_valid) return true;
    char here = 0;
    const std::uintptr_t sp = reinterpret_cast<std::uintptr_t>(&here);
    const std::uintptr_t used = sp < stack_base_ ? stack_base_ - sp : sp - stack_base_;
    if (++depth_ > kMaxEvalDepth || used > kMaxEvalStackBytes) {
      depth_ = 0;
      throw InvalidInput("validation nested deeper than the evaluator follows (" + std::to_string(kMaxEvalDepth) +
                         " steps or " + std::to_string(kMaxEvalStackBytes >> 20) +
                         " MB of stack): a $ref cycle that never consumes the instance, or an instance nested too deeply");
    }
    bool pushed = false;
    if (scope_.empty() || scope_.back() != n.resource) {
      scope_.push_back(n.resource);
      pushed = true;
    }
    Annot local;
    Annot* a = (out || n.unevaluated) ? &local : nullptr;
    bool ok = true;
    for (const Instr& ins : n.instrs) {
      if (!exec(n, ins, v, a)) {
        ok = false;
        if (!report_ || !all_) break;
      }
    }
    if (ok && out) out->merge(local);
    if (pushed) scope_.pop_back();
    --depth_;
    return ok;
  }

  int lookup(const Instr& ins, std::string_view key) const {
    if (!ins.prop_index.empty()) {
      auto it = ins.prop_index.find(key);
      return it == ins.prop_index.end() ? -1 : static_cast<int>(it->second);
    }
    for (std::size_t i = 0; i < ins.props.size(); ++i) {
      const std::string& name = ins.props[i].name;
      if (name.size() == key.size() && std::memcmp(name.data(), key.data(), key.size()) == 0)
        return static_cast<int>(i);
    }
    return -1;
  }

  bool exec(const Node& n, const Instr& ins, V v, Annot* a) {
    switch (ins.op) {
      case Op::Fail:
        return fail(n, ins, [&] { return "false schema does not allow " + show(v); }, "false");
      case Op::Type:
        if (type_bits(v) & ins.mask) return true;
        return fail(n, ins, [&] { return show(v) + " is not of type " + ins.text; });
      case Op::Const:
        if (equal(v, ins.value)) return true;
        return fail(n, ins, [&] { return to_json(ins.value) + " was expected, not " + show(v); });
      case Op::Enum:
        for (const JsonValue& x : ins.values)
          if (equal(v, x)) return true;
        return fail(n, ins, [&] {
          std::string s = show(v) + " is not one of [";
          for (std::size_t i = 0; i < ins.values.size() && s.size() < 200; ++i) s += (i ? ", " : "") + to_json(ins.values[i]);
          return s + "]";
        });
      case Op::Minimum: case Op::Maximum: case Op::ExclusiveMinimum: case Op::ExclusiveMaximum: {
        if (A::type(v) != kNumber) return true;
        const NumberView x = A::number(v);
        const int c = compare_numbers(x, ins.value);
        bool ok = true;
        const char* what = "";
        switch (ins.op) {
          case Op::Minimum: ok = c >= 0; what = " is less than the minimum of "; break;
          case Op::Maximum: ok = c <= 0; what = " is greater than the maximum of "; break;
          case Op::ExclusiveMinimum: ok = c > 0; what = " is less than or equal to the exclusive minimum of "; break;
          default: ok = c < 0; what = " is greater than or equal to the exclusive maximum of "; break;
        }
        if (ok) return true;
        return fail(n, ins, [&] { return show(v) + what + to_json(ins.value); });
      }
      case Op::MultipleOf: {
        if (A::type(v) != kNumber) return true;
        const NumberView x = A::number(v);
        if (is_multiple_of(x.d, x.exact, x.i, ins.value, x.text)) return true;
        return fail(n, ins, [&] { return show(v) + " is not a multiple of " + to_json(ins.value); });
      }
      case Op::MinLength: case Op::MaxLength: {
        if (A::type(v) != kString) return true;
        const std::string_view s = A::string(v);
        const auto limit = static_cast<std::size_t>(ins.count);
        if (ins.op == Op::MinLength) {
          if (s.size() >= limit * 4 || count_code_points(s) >= limit) return true;
          return fail(n, ins, [&] { return show(v) + " is shorter than " + std::to_string(limit) + " characters"; });
        }
        if (s.size() <= limit || count_code_points(s) <= limit) return true;
        return fail(n, ins, [&] { return show(v) + " is longer than " + std::to_string(limit) + " characters"; });
      }
      case Op::Pattern:
        if (A::type(v) != kString || ins.regex->search(A::string(v))) return true;
        return fail(n, ins, [&] {
          std::string s = show(v) + " does not match ";
          append_json_string(s, ins.text);
          return s;
        });
      case Op::Format:
        if (A::type(v) != kString || check_format(ins.text, A::string(v))) return true;
        return fail(n, ins, [&] { return show(v) + " is not a valid \"" + ins.text + "\""; });
      case Op::MinItems: case Op::MaxItems: {
        if (A::type(v) != kArray) return true;
        const std::size_t size = A::size(v);
        const auto limit = static_cast<std::size_t>(ins.count);
        if (ins.op == Op::MinItems ? size >= limit : size <= limit) return true;
        return fail(n, ins, [&] {
          return show(v) + (ins.op == Op::MinItems ? " has fewer than " : " has more than ") + std::to_string(limit) +
                 (limit == 1 ? " item" : " items");
        });
      }
      case Op::UniqueItems: {
        if (A::type(v) != kArray) return true;
        std::vector<V> xs;
        xs.reserve(A::size(v));
        A::each_item(v, [&](std::size_t, V x) { xs.push_back(x); return true; });
        for (std::size_t i = 0; i < xs.size(); ++i)
          for (std::size_t j = i + 1; j < xs.size(); ++j)
            if (equal(xs[i], xs[j]))
              return fail(n, ins, [&] {
                return show(v) + " has non-unique items (at " + std::to_string(i) + " and " + std::to_string(j) + ")";
              });
        return true;
      }
      case Op::Items: return exec_items(n, ins, v, a);
      case Op::Contains: return exec_contains(n, ins, v, a);
      case Op::MinProperties: case Op::MaxProperties: {
        if (A::type(v) != kObject) return true;
        const std::size_t size = A::size(v);
        const auto limit = static_cast<std::size_t>(ins.count);
        if (ins.op == Op::MinProperties ? size >= limit : size <= limit) return true;
        return fail(n, ins, [&] {
          return show(v) + (ins.op == Op::MinProperties ? " has fewer than " : " has more than ") +
                 std::to_string(limit) + (limit == 1 ? " property" : " properties");
        });
      }
      case Op::Required: {
        if (A::type(v) != kObject) return true;
        bool ok = true;
        V tmp{};
        for (const std::string& name : ins.names) {
          if (A::find(v, name, tmp)) continue;
          ok = false;
          fail(n, ins, [&] {
            std::string s;
            append_json_string(s, name);
            return s + " is a required property";
          });
          if (!report_ || !all_) return false;
        }
        return ok;
      }
      case Op::DependentRequired: {
        if (A::type(v) != kObject) return true;
        bool ok = true;
        V tmp{};
        for (const auto& [key, names] : ins.groups) {
          if (!A::find(v, key, tmp)) continue;
          for (const std::string& name : names) {
            if (A::find(v, name, tmp)) continue;
            ok = false;
            fail(n, ins, [&] {
              std::string s;
              append_json_string(s, name);
              s += " is required when ";
              append_json_string(s, key);
              return s + " is present";
            });
            if (!report_ || !all_) return false;
          }
        }
        return ok;
      }
      case Op::Properties: return exec_properties(n, ins, v, a);
      case Op::PropertyNames: return exec_property_names(n, ins, v);
      case Op::DependentSchemas: {
        if (A::type(v) != kObject) return true;
        bool ok = true;
        V tmp{};
        for (const NamedNode& d : ins.props) {
          if (!A::find(v, d.name, tmp)) continue;
          Push k(*this, kpath_, ins.location, d.name);
          if (!eval(d.node, v, a)) {
            ok = false;
            if (!report_ || !all_) return false;
          }
        }
        return ok;
      }
      case Op::AllOf: {
        bool ok = true;
        for (std::size_t i = 0; i < ins.nodes.size(); ++i) {
          Push k(*this, kpath_, ins.location, {}, static_cast<int64_t>(i));
          if (!eval(ins.nodes[i], v, a)) {
            ok = false;
            if (!report_ || !all_) return false;
          }
        }
        return ok;
      }
      case Op::AnyOf: {
        bool any = false;
        {
          Silence s(*this);
          for (int child : ins.nodes) {
            if (eval(child, v, a)) {
              any = true;
              if (!a) break;
            }
          }
        }
        if (any) return true;
        return fail(n, ins, [&] { return show(v) + " is not valid under any of the given schemas"; });
      }
      case Op::OneOf: {
        std::vector<std::size_t> valid;
        Annot first;
        {
          Silence s(*this);
          for (std::size_t i = 0; i < ins.nodes.size(); ++i) {
            Annot mine;
            if (eval(ins.nodes[i], v, a ? &mine : nullptr)) {
              valid.push_back(i);
              if (valid.size() == 1) first = std::move(mine);
              if (valid.size() > 1) break;
            }
          }
        }
        if (valid.size() == 1) {
          if (a) a->merge(first);
          return true;
        }
        if (valid.empty()) return fail(n, ins, [&] { return show(v) + " is not valid under any of the given schemas"; });
        return fail(n, ins, [&] {
          return show(v) + " is valid under more than one of the given schemas (" + std::to_string(valid[0]) + " and " +
                 std::to_string(valid[1]) + ")";
        });
      }
      case Op::Not: {
        bool inner;
        {
          Silence s(*this);
          inner = eval(ins.node, v, nullptr);
        }
        if (!inner) return true;
        return fail(n, ins, [&] { return show(v) + " must not be valid under the given schema"; });
      }
      case Op::IfThenElse: {
        if (!a && ins.nodes[0] < 0 && ins.nodes[1] < 0) return true;
        bool cond;
        {
          Silence s(*this);
          cond = eval(ins.node, v, a);
        }
        const int next = cond ? ins.nodes[0] : ins.nodes[1];
        if (next < 0) return true;
        Push k(*this, kpath_, cond ? std::string_view("then") : std::string_view("else"));
        return eval(next, v, a);
      }
      case Op::Ref: {
        Push k(*this, kpath_, ins.location);
        return eval(ins.node, v, a);
      }
      case Op::DynamicRef: {
        int target = ins.node;
        if (!ins.text.empty()) {
          for (int r : scope_) {
            if (r < 0) continue;
            const auto& anchors = p_.resources[static_cast<std::size_t>(r)].dynamic_anchors;
            auto it = anchors.find(ins.text);
            if (it != anchors.end()) {
              target = it->second;
              break;
            }
          }
        }
        Push k(*this, kpath_, ins.location);
        return eval(target, v, a);
      }
      case Op::RecursiveRef: {
        int target = ins.node;
        const int res = p_.nodes[static_cast<std::size_t>(target)].resource;
        if (res >= 0 && p_.resources[static_cast<std::size_t>(res)].recursive_anchor) {
          for (int r : scope_) {
            if (r >= 0 && p_.resources[static_cast<std::size_t>(r)].recursive_anchor) {
              target = p_.resources[static_cast<std::size_t>(r)].root;
              break;
            }
          }
        }
        Push k(*this, kpath_, ins.location);
        return eval(target, v, a);
      }
      case Op::UnevaluatedProperties: {
        if (A::type(v) != kObject) return true;
        bool ok = true;
        const Node& sub = p_.nodes[static_cast<std::size_t>(ins.node)];
        A::each_member(v, [&](std::string_view key, V child) {
          if (a && a->has_prop(key)) return true;
          if (is_false_node(sub)) {
            ok = false;
            fail(n, ins, [&] {
              std::string s = "unevaluated property ";
              append_json_string(s, key);
              return s + " is not allowed";
            });
            return report_ && all_;
          }
          Push k(*this, kpath_, ins.location);
          Push i(*this, ipath_, key);
          if (!eval(ins.node, child, nullptr)) {
            ok = false;
            return report_ && all_;
          }
          return true;
        });
        if (ok && a) a->all_props = true;
        return ok;
      }
      case Op::UnevaluatedItems: {
        if (A::type(v) != kArray) return true;
        bool ok = true;
        const Node& sub = p_.nodes[static_cast<std::size_t>(ins.node)];
        A::each_item(v, [&](std::size_t idx, V child) {
          if (a && a->has_item(idx)) return true;
          if (is_false_node(sub)) {
            ok = false;
            fail(n, ins, [&] { return "unevaluated item at index " + std::to_string(idx) + " is not allowed"; });
            return report_ && all_;
          }
          Push k(*this, kpath_, ins.location);
          Push i(*this, ipath_, {}, static_cast<int64_t>(idx));
          if (!eval(ins.node, child, nullptr)) {
            ok = false;
            return report_ && all_;
          }
          return true;
        });
        if (ok && a) a->all_items = true;
        return ok;
      }
    }
    return true;
  }

  bool exec_items(const Node& n, const Instr& ins, V v, Annot* a) {
    if (A::type(v) != kArray) return true;
    bool ok = true;
    const std::size_t size = A::size(v);
    const bool rest_false = ins.rest >= 0 && is_false_node(p_.nodes[static_cast<std::size_t>(ins.rest)]);
    A::each_item(v, [&](std::size_t i, V child) {
      if (i < ins.nodes.size()) {
        Push k(*this, kpath_, ins.names[0], {}, static_cast<int64_t>(i));
        Push p(*this, ipath_, {}, static_cast<int64_t>(i));
        if (!eval(ins.nodes[i], child, nullptr)) {
          ok = false;
          return report_ && all_;
        }
        return true;
      }
      if (ins.rest < 0) return false;
      if (rest_false) {
        ok = false;
        fail(n, ins, [&] {
          return show(v) + " has " + std::to_string(size) + " items, but the schema allows only " +
                 std::to_string(ins.nodes.size());
        }, ins.names[1].c_str());
        return false;
      }
      Push k(*this, kpath_, ins.names[1]);
      Push p(*this, ipath_, {}, static_cast<int64_t>(i));
      if (!eval(ins.rest, child, nullptr)) {
        ok = false;
        return report_ && all_;
      }
      return true;
    });
    if (ok && a) {
      if (ins.rest >= 0 && size > ins.nodes.size()) a->all_items = true;
      else a->prefix = std::max(a->prefix, std::min(size, ins.nodes.size()));
    }
    return ok;
  }

  bool exec_contains(const Node& n, const Instr& ins, V v, Annot* a) {
    if (A::type(v) != kArray) return true;
    int64_t matches = 0;
    const bool mark = a && ins.contains_marks_items;
    {
      Silence s(*this);
      A::each_item(v, [&](std::size_t i, V child) {
        if (eval(ins.node, child, nullptr)) {
          ++matches;
          if (mark) a->items.push_back(i);
          if (!mark && ins.count2 < 0 && matches >= ins.count) return false;
          if (!mark && ins.count2 >= 0 && matches > ins.count2) return false;
        }
        return true;
      });
    }
    if (matches < ins.count) {
      if (ins.count <= 1)
        return fail(n, ins, [&] { return show(v) + " does not contain an item that matches the schema"; }, "contains");
      return fail(n, ins, [&] {
        return show(v) + " contains fewer than " + std::to_string(ins.count) + " items that match the schema";
      }, "minContains");
    }
    if (ins.count2 >= 0 && matches > ins.count2)
      return fail(n, ins, [&] {
        return show(v) + " contains more than " + std::to_string(ins.count2) + " items that match the schema";
      }, "maxContains");
    return true;
  }

  bool exec_properties(const Node& n, const Instr& ins, V v, Annot* a) {
    if (A::type(v) != kObject) return true;
    bool ok = true;
    const bool rest_false = ins.rest >= 0 && is_false_node(p_.nodes[static_cast<std::size_t>(ins.rest)]);
    A::each_member(v, [&](std::string_view key, V child) {
      bool matched = false;
      const int pi = lookup(ins, key);
      if (pi >= 0) {
        matched = true;
        Push k(*this, kpath_, "properties", key);
        Push p(*this, ipath_, key);
        if (!eval(ins.props[static_cast<std::size_t>(pi)].node, child, nullptr)) {
          ok = false;
          if (!report_ || !all_) return false;
        }
      }
      for (const PatternNode& pat : ins.patterns) {
        if (!pat.regex->search(key)) continue;
        matched = true;
        Push k(*this, kpath_, "patternProperties", pat.regex->pattern());
        Push p(*this, ipath_, key);
        if (!eval(pat.node, child, nullptr)) {
          ok = false;
          if (!report_ || !all_) return false;
        }
      }
      if (!matched && ins.rest >= 0) {
        matched = true;
        if (rest_false) {
          ok = false;
          fail(n, ins, [&] {
            std::string s = "additional property ";
            append_json_string(s, key);
            return s + " is not allowed";
          }, "additionalProperties");
          if (!report_ || !all_) return false;
        } else {
          Push k(*this, kpath_, "additionalProperties");
          Push p(*this, ipath_, key);
          if (!eval(ins.rest, child, nullptr)) {
            ok = false;
            if (!report_ || !all_) return false;
          }
        }
      }
      if (matched && a) a->props.push_back(key);
      return true;
    });
    return ok;
  }

  bool exec_property_names(const Node& n, const Instr& ins, V v);

  const Program& p_;
  bool report_;
  bool all_;
  std::vector<SchemaViolation>* out_;
  std::vector<Tok> ipath_, kpath_;
  std::vector<int> scope_;
  std::size_t depth_ = 0;
  std::uintptr_t stack_base_ = 0;
};

// The adapter over covekit's own JsonValue.
struct JsonValueAdapter {
  using V = const JsonValue*;
  static uint8_t type(V v) noexcept {
    switch (v->kind) {
      case JsonValue::Kind::Null: return kNull;
      case JsonValue::Kind::Bool: return kBoolean;
      case JsonValue::Kind::Number: return kNumber;
      case JsonValue::Kind::String: return kString;
      case JsonValue::Kind::Array: return kArray;
      default: return kObject;
    }
  }
  static bool boolean(V v) noexcept { return v->boolean; }
  static NumberView number(V v) noexcept { return {v->number, v->integer, v->exact, v->i64, v->text}; }
  static std::string_view string(V v) noexcept { return v->text; }
  static std::size_t size(V v) noexcept {
    return v->kind == JsonValue::Kind::Array ? v->items.size() : v->members.size();
  }
  template <class F>
  static bool each_item(V v, F&& f) {
    for (std::size_t i = 0; i < v->items.size(); ++i)
      if (!f(i, &v->items[i])) return false;
    return true;
  }
  template <class F>
  static bool each_member(V v, F&& f) {
    for (const auto& [k, x] : v->members)
      if (!f(std::string_view(k), &x)) return false;
    return true;
  }
  static bool find(V v, std::string_view key, V& out) noexcept {
    out = v->find(key);
    return out != nullptr;
  }
};

template <class A>
bool Evaluator<A>::exec_property_names(const Node& n, const Instr& ins, V v) {
  if (A::type(v) != kObject) return true;
  bool ok = true;
  A::each_member(v, [&](std::string_view key, V) {
    JsonValue name;
    name.kind = JsonValue::Kind::String;
    name.text = std::string(key);
    bool valid;
    {
      Evaluator<JsonValueAdapter> sub(p_, false, false, nullptr);
      valid = sub.eval_node(ins.node, &name);
    }
    if (valid) return true;
    ok = false;
    fail(n, ins, [&] {
      std::string s = "property name ";
      append_json_string(s, key);
      return s + " does not match the propertyNames schema";
    });
    return report_ && all_;
  });
  return ok;
}

}  // namespace covekit::json_schema_detail
