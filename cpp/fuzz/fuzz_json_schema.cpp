// Fuzz target for JSON parsing and JSON Schema validation: any bytes in, used three ways.
//   1. As a JSON document, validated by fixed schemas that exercise every instruction
//      family: simdjson's path and covekit's own parser must agree on validity, errors
//      appear exactly when invalid, and invalid text raises InvalidJSON only.
//   2. As a schema: compiling must succeed or throw SchemaError / InvalidJSON, and a
//      compiled schema must validate a few documents (InvalidInput for a $ref cycle that
//      never consumes the instance is the only other allowed outcome).
//   3. Split in two halves: schema + document.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "covekit/errors.hpp"
#include "covekit/json_schema.hpp"
#include "fuzz_common.hpp"

namespace {

const std::vector<std::unique_ptr<covekit::Schema>>& fixed_schemas() {
  static const auto schemas = [] {
    std::vector<std::unique_ptr<covekit::Schema>> out;
    for (const char* text : {
             R"({"type":"object","properties":{"a":{"type":"integer","minimum":0,"multipleOf":0.5},
                "b":{"type":"string","pattern":"^[a-z]+\\d*$","maxLength":5}},"required":["a"],
                "additionalProperties":{"type":["array","null"],"items":{"$ref":"#"},"uniqueItems":true}})",
             R"({"anyOf":[{"type":"array","prefixItems":[{"const":1}],"contains":{"type":"string"},
                "maxContains":2,"unevaluatedItems":false},{"oneOf":[{"enum":[1,"a",null,{"k":[1]}]},
                {"not":{"type":"number"}}]}],"$defs":{"x":{"$dynamicAnchor":"x"}}})",
             R"({"if":{"propertyNames":{"maxLength":3}},"then":{"dependentSchemas":{"a":{"minProperties":2}},
                "unevaluatedProperties":{"format":"date-time"}},"else":{"patternProperties":{"\\p{L}":true}}})",
         }) {
      covekit::SchemaOptions o;
      o.format_assertion = true;
      out.push_back(std::make_unique<covekit::Schema>(text, std::vector<std::pair<std::string, std::string>>{}, o));
    }
    return out;
  }();
  return schemas;
}

void check_document(const covekit::Schema& schema, const std::string& text) {
  bool parsed = true;
  covekit::JsonValue value;
  try {
    value = covekit::parse_json_value(text);
  } catch (const covekit::InvalidJSON&) {
    parsed = false;
  }
  try {
    const bool valid = schema.is_valid_json(text);
    COVEKIT_FUZZ_CHECK(parsed, text);  // simdjson accepted what covekit's parser refused
    const auto errors = schema.validate_json(text, true);
    COVEKIT_FUZZ_CHECK(valid == errors.empty(), text);
    COVEKIT_FUZZ_CHECK(valid == schema.is_valid(value), text);
    COVEKIT_FUZZ_CHECK(schema.validate(value, false).size() == (valid ? 0u : 1u), text);
  } catch (const covekit::InvalidJSON&) {
    COVEKIT_FUZZ_CHECK(!parsed, text);
  } catch (const covekit::InvalidInput&) {
    // nesting deeper than the evaluator follows
  }
}

// Structured JSON driven by the bytes (random bytes are rarely JSON): keywords, numbers
// of every size, strings with escapes and non-ASCII, nesting.
void generate(const std::string& in, std::size_t& pos, std::string& out, int depth) {
  const auto next = [&]() -> unsigned { return pos < in.size() ? static_cast<unsigned char>(in[pos++]) : 0u; };
  static const char* const kAtoms[] = {"null", "true", "false", "0", "-1", "1.5", "1e400", "18446744073709551616",
                                       "0.0075", "\"a\"", "\"\\u00e9\\ud83d\\ude00\"", "\"2024-02-29T10:00:00Z\"",
                                       "\"type\"", "\"#\"", "{}", "[]"};
  static const char* const kKeys[] = {"a", "b", "k", "type", "$ref", "items", "properties", "minimum", "pattern",
                                      "anyOf", "not", "required", "enum", "const", "$id", "$defs", "$dynamicRef",
                                      "unevaluatedProperties", "contains", "if", "then", "format"};
  const unsigned c = next();
  if (depth > 6 || c % 4 == 0) {
    out += kAtoms[next() % (sizeof kAtoms / sizeof *kAtoms)];
  } else if (c % 4 == 1) {
    out += '[';
    for (unsigned n = next() % 4, i = 0; i < n; ++i) {
      if (i) out += ',';
      generate(in, pos, out, depth + 1);
    }
    out += ']';
  } else {
    out += '{';
    for (unsigned n = next() % 4, i = 0; i < n; ++i) {
      if (i) out += ',';
      out += '"';
      out += kKeys[next() % (sizeof kKeys / sizeof *kKeys)];
      out += "\":";
      generate(in, pos, out, depth + 1);
    }
    out += '}';
  }
}

void check_schema(const std::string& schema_text, const std::string& doc) {
  std::unique_ptr<covekit::Schema> schema;
  try {
    schema = std::make_unique<covekit::Schema>(schema_text);
  } catch (const covekit::SchemaError&) {
    return;
  } catch (const covekit::InvalidJSON&) {
    return;
  }
  for (const std::string& d : {doc, std::string("{}"), std::string("[1,\"a\",null]"), std::string("-1.5")}) {
    try {
      (void)schema->validate_json(d, true);
      (void)schema->is_valid_json(d);
    } catch (const covekit::InvalidInput&) {
      // InvalidJSON, or a $ref cycle without progress
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
  const std::string input(reinterpret_cast<const char*>(data), size);
  std::string doc, schema;
  std::size_t pos = 0;
  generate(input, pos, doc, 0);
  generate(input, pos, schema, 0);
  for (const auto& fixed : fixed_schemas()) {
    if (input.size() < 2000) check_document(*fixed, input);
    check_document(*fixed, doc);
  }
  check_schema(input, "null");
  check_schema(schema, doc);
  const std::size_t half = size / 2;
  check_schema(input.substr(0, half), input.substr(half));
  return 0;
}
