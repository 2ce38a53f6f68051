// JSON Schema validation (drafts 2020-12, 2019-09 and 7). A schema is compiled once into a
// program of small typed instructions (json_schema_compiler.cpp): every $ref, $id and
// $anchor is resolved at compile time, cheap checks come first, small `properties` tables
// are searched by length + memcmp and large ones by hash, plain regexes become string
// tests. One evaluator (json_schema_eval.hpp), templated over a value adapter, runs the
// program over simdjson's DOM, over covekit's own JSON values, or (in the bindings) over
// Python objects, so the semantics exist once.
//
// A compiled Schema is immutable: share it across threads freely.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

namespace covekit {

namespace json_schema_detail {
struct Program;
}

// One JSON value held by covekit (schemas, `const`/`enum` values, and documents that
// simdjson cannot represent, such as integers beyond 64 bits).
struct JsonValue {
  enum class Kind : uint8_t { Null, Bool, Number, String, Array, Object };
  Kind kind = Kind::Null;
  bool boolean = false;
  // Numbers: `number` always; `integer` is true for a mathematically whole value, and
  // `exact` true when `i64` holds it exactly. `text` keeps the source digits of numbers
  // that do not fit 64 bits.
  double number = 0;
  int64_t i64 = 0;
  bool integer = false;
  bool exact = false;
  std::string text;  // strings, and the digits of big numbers
  std::vector<JsonValue> items;
  std::vector<std::pair<std::string, JsonValue>> members;

  [[nodiscard]] const JsonValue* find(std::string_view key) const noexcept;
};

// Parses JSON text into a JsonValue (any size of number; nesting up to `max_depth`).
// Throws InvalidJSON with the byte offset, line and column of the fault.
JsonValue parse_json_value(std::string_view text, std::size_t max_depth = 1024);

// Renders a JsonValue as compact JSON.
std::string to_json(const JsonValue& v);

struct SchemaViolation {
  std::string instance_path;      // JSON Pointer into the instance ("" is the root)
  std::string keyword_location;   // path through the schema, $ref hops included
  std::string absolute_keyword_location;  // absolute URI of the keyword; empty when the schema has no base URI
  std::string message;            // for a person: "-3 is less than the minimum of 0"
  std::string keyword;            // "minimum"
};

struct SchemaOptions {
  bool format_assertion = false;  // `format` asserts instead of only annotating
};

class Schema {
 public:
  // Compiles `schema_json` (JSON text of an object or a boolean). `registry` maps absolute
  // URIs to JSON texts of schemas for remote $ref; nothing is ever fetched. Throws
  // SchemaError (with the JSON Pointer of the fault) or InvalidJSON.
  explicit Schema(std::string_view schema_json,
                  const std::vector<std::pair<std::string, std::string>>& registry = {},
                  SchemaOptions options = {});

  // True when the JSON text is valid against the schema. Throws InvalidJSON for text that
  // does not parse.
  [[nodiscard]] bool is_valid_json(std::string_view text) const;

  // The violations of the JSON text (empty: valid). all_errors=false stops at the first.
  [[nodiscard]] std::vector<SchemaViolation> validate_json(std::string_view text, bool all_errors = false) const;

  // The same over an already parsed value.
  [[nodiscard]] bool is_valid(const JsonValue& value) const;
  [[nodiscard]] std::vector<SchemaViolation> validate(const JsonValue& value, bool all_errors = false) const;

  [[nodiscard]] const json_schema_detail::Program& program() const noexcept { return *program_; }

 private:
  std::shared_ptr<const json_schema_detail::Program> program_;
};

namespace json_schema_detail {

// Deepest nesting of instructions the evaluator follows (instance depth and $ref hops
// together) before it gives up with InvalidInput instead of overflowing the stack.
inline constexpr std::size_t kMaxEvalDepth = 2500;
// ... and at most this much of the thread's stack (sanitizer builds have larger frames;
// threads have at least 8 MB on Linux, 16 MB for Python's threads on macOS).
inline constexpr std::size_t kMaxEvalStackBytes = std::size_t{3} << 20;
// Deepest nesting of a JSON document or of a Python object walked for validation.
inline constexpr std::size_t kMaxInstanceDepth = 1024;

enum class Draft : uint8_t { Draft7, Draft2019, Draft2020 };

// Type bits of `type` and of the instance kinds.
enum TypeBit : uint8_t {
  kNull = 1, kBoolean = 2, kInteger = 4, kNumber = 8, kString = 16, kArray = 32, kObject = 64
};

// A compiled regex (PCRE2, ECMA-262 flavour, UTF mode, JIT) with plain-string shortcuts.
class Regex {
 public:
  // Throws std::invalid_argument with PCRE2's message for a pattern that does not compile.
  explicit Regex(const std::string& pattern);
  ~Regex();
  Regex(const Regex&) = delete;
  Regex& operator=(const Regex&) = delete;
  // True when the pattern matches anywhere in `s` (ECMA-262 `test`, unanchored).
  [[nodiscard]] bool search(std::string_view s) const;
  [[nodiscard]] const std::string& pattern() const noexcept { return pattern_; }

 private:
  enum class Kind : uint8_t { Pcre, Contains, Prefix, Exact, Always, Simple } kind_ = Kind::Pcre;
  // Kind::Simple: "^" then ASCII classes/literals with quantifiers, optionally "$", run as
  // a greedy loop (only built when greed cannot go wrong: see json_schema_regex.cpp).
  struct Atom {
    uint64_t lo = 0, hi = 0;  // set of ASCII bytes
    uint32_t min = 1, max = 1;
    [[nodiscard]] bool has(unsigned char c) const noexcept {
      return c < 64 ? (lo >> c) & 1u : c < 128 ? (hi >> (c - 64)) & 1u : false;
    }
  };
  bool compile_simple(std::string_view body);
  std::vector<Atom> atoms_;
  bool anchored_end_ = false;
  std::string pattern_, literal_;
  void* code_ = nullptr;  // pcre2_code_8*
};

// True when `s` is a valid instance of the named format; unknown formats are valid.
bool check_format(std::string_view format, std::string_view s);
// Number of code points in valid UTF-8.
std::size_t count_code_points(std::string_view s) noexcept;
// a == b within JSON Schema's number equality (1 == 1.0).
bool number_equal(double a, bool a_exact, int64_t a_i, double b, bool b_exact, int64_t b_i) noexcept;
// `value` is a multiple of `divisor` (> 0), exact for integers and decimals like 0.0001.
// `v_text` is the number's JSON text when it is known (numbers beyond a double's reach).
bool is_multiple_of(double value, bool v_exact, int64_t v_i, const JsonValue& divisor,
                    std::string_view v_text = {}) noexcept;
// Splits decimal JSON number text into significant digits (no leading/trailing zeros) and a
// power of ten. False when `text` is not a number.
bool decimal_parts(std::string_view text, std::string& digits, int64_t& exp10, bool& negative);
// The JSON number text denotes a whole number (1.0, 1e3: yes; 1e-1000, 0.5: no).
bool decimal_is_integer(std::string_view text);

enum class Op : uint8_t {
  Fail,          // a `false` schema
  Type,          // mask
  Const,         // value
  Enum,          // values
  Minimum, Maximum, ExclusiveMinimum, ExclusiveMaximum,  // value
  MultipleOf,    // value
  MinLength, MaxLength,  // count
  Pattern,       // regex
  Format,        // text
  MinItems, MaxItems, UniqueItems,
  Items,         // prefix nodes, then `rest` for the others
  Contains,      // node, count (min), count2 (max or -1)
  MinProperties, MaxProperties,
  Required,      // names
  DependentRequired,  // groups: name -> names
  Properties,    // props, patterns, rest (additionalProperties)
  PropertyNames,  // node
  DependentSchemas,  // props: name -> node
  AllOf, AnyOf, OneOf,  // nodes
  Not,           // node
  IfThenElse,    // node (if), nodes[0] then or -1, nodes[1] else or -1
  Ref,           // node
  DynamicRef,    // node (static target), text (anchor name)
  RecursiveRef,  // node (static target)
  UnevaluatedProperties,  // node
  UnevaluatedItems,       // node
};

struct NamedNode {
  std::string name;
  int node = -1;
};

struct PatternNode {
  std::unique_ptr<Regex> regex;
  int node = -1;
};

struct Instr {
  Op op = Op::Fail;
  std::string keyword;   // "minimum", "properties", ...
  std::string location;  // keyword location relative to its node: "minimum", "items"
  uint8_t mask = 0;
  int node = -1;
  int rest = -1;
  int64_t count = 0, count2 = -1;
  std::string text;
  JsonValue value;
  std::vector<JsonValue> values;
  std::vector<int> nodes;
  std::vector<std::string> names;
  std::vector<std::pair<std::string, std::vector<std::string>>> groups;
  std::vector<NamedNode> props;
  std::unordered_map<std::string_view, int> prop_index;  // for large `props`
  std::vector<PatternNode> patterns;
  std::unique_ptr<Regex> regex;
  bool contains_marks_items = true;  // 2020-12: contains' matches count as evaluated items
};

struct Node {
  bool always_valid = false;
  bool unevaluated = false;  // has unevaluatedProperties/Items: collects annotations
  int resource = -1;         // schema resource (for the dynamic scope)
  std::string absolute;      // absolute URI of this subschema ("" when there is no base URI)
  std::vector<Instr> instrs;
};

struct Resource {
  std::string uri;
  std::unordered_map<std::string, int> dynamic_anchors;  // name -> node
  bool recursive_anchor = false;
  int root = -1;  // node
};

struct Program {
  std::vector<Node> nodes;
  std::vector<Resource> resources;
  int root = -1;
  SchemaOptions options;
};

// Compiles a parsed schema (json_schema_compiler.cpp).
std::shared_ptr<Program> compile_schema(const JsonValue& schema,
                                        const std::vector<std::pair<std::string, JsonValue>>& registry,
                                        SchemaOptions options);

}  // namespace json_schema_detail
}  // namespace covekit
