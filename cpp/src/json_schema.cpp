// covekit::Schema: compiles a schema and validates JSON text parsed by simdjson's DOM (one
// parser per thread). Text that simdjson refuses (numbers beyond 64 bits, or a real
// syntax error) goes through covekit's own parser, which keeps big numbers and reports
// where a fault is.
#include "covekit/json_schema.hpp"

#include <simdjson.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include "covekit/errors.hpp"
#include "covekit/json_schema_eval.hpp"
#include "covekit/json_schema_dom.hpp"

namespace covekit {

namespace json_schema_detail {

simdjson::dom::parser& thread_parser() {
  thread_local simdjson::dom::parser parser;  // nesting up to simdjson's 1024 levels
  return parser;
}

bool parse_dom(std::string_view text, simdjson::dom::element& out) {
  simdjson::dom::parser& parser = thread_parser();
  // A thread that once parsed a huge document does not keep its buffers for good.
  constexpr std::size_t kKeep = std::size_t{64} << 20;
  if (parser.capacity() > kKeep && text.size() <= kKeep) parser = simdjson::dom::parser();
  // simdjson reads up to SIMDJSON_PADDING bytes past the end: copy into this thread's
  // padded buffer (no allocation once it is large enough; big buffers are not kept).
  thread_local std::vector<uint8_t> padded;
  const std::size_t need = text.size() + simdjson::SIMDJSON_PADDING;
  if (padded.size() < need) padded.resize(std::max(need, std::size_t{4096}));
  std::memcpy(padded.data(), text.data(), text.size());
  std::memset(padded.data() + text.size(), 0, simdjson::SIMDJSON_PADDING);
  auto result = parser.parse(padded.data(), text.size(), false);
  if (padded.size() > (std::size_t{64} << 20)) std::vector<uint8_t>().swap(padded);
  if (result.error() == simdjson::SUCCESS) {
    out = result.value_unsafe();
    return true;
  }
  if (result.error() == simdjson::MEMALLOC) throw InvalidInput("out of memory while parsing a JSON document");
  return false;
}

}  // namespace json_schema_detail

using json_schema_detail::DomAdapter;
using json_schema_detail::Evaluator;
using json_schema_detail::JsonValueAdapter;

namespace {

JsonValue parse_schema_text(std::string_view text, const char* what) {
  try {
    return parse_json_value(text, 1024);
  } catch (const InvalidJSON& e) {
    throw InvalidJSON(std::string(what) + ": " + e.what(), e.offset(), e.line(), e.column());
  }
}

}  // namespace

Schema::Schema(std::string_view schema_json, const std::vector<std::pair<std::string, std::string>>& registry,
               SchemaOptions options) {
  const JsonValue root = parse_schema_text(schema_json, "the schema is not valid JSON");
  if (root.kind != JsonValue::Kind::Object && root.kind != JsonValue::Kind::Bool)
    throw SchemaError("invalid schema at the root: a schema must be an object or a boolean", "");
  auto docs = std::make_shared<std::vector<std::pair<std::string, JsonValue>>>();
  for (const auto& [uri, text] : registry)
    docs->emplace_back(uri, parse_schema_text(text, ("registry entry " + uri + " is not valid JSON").c_str()));
  auto owned_root = std::make_shared<JsonValue>(root);
  auto program = json_schema_detail::compile_schema(*owned_root, *docs, options);
  // The program points into the documents' values (regexes, constants are copies, but
  // the program keeps the documents alive for their lifetime anyway).
  struct Holder {
    std::shared_ptr<json_schema_detail::Program> program;
    std::shared_ptr<JsonValue> root;
    std::shared_ptr<std::vector<std::pair<std::string, JsonValue>>> docs;
  };
  auto holder = std::make_shared<Holder>(Holder{program, owned_root, docs});
  program_ = std::shared_ptr<const json_schema_detail::Program>(holder, holder->program.get());
}

bool Schema::is_valid_json(std::string_view text) const {
  simdjson::dom::element root;
  if (json_schema_detail::parse_dom(text, root)) {
    Evaluator<DomAdapter> e(*program_, false, false, nullptr);
    return e.run(root);
  }
  const JsonValue v = parse_json_value(text, json_schema_detail::kMaxInstanceDepth);
  return is_valid(v);
}

std::vector<SchemaViolation> Schema::validate_json(std::string_view text, bool all_errors) const {
  simdjson::dom::element root;
  std::vector<SchemaViolation> out;
  if (json_schema_detail::parse_dom(text, root)) {
    // Fast pass first: most documents are valid, and then no paths are tracked at all.
    Evaluator<DomAdapter> fast(*program_, false, false, nullptr);
    if (fast.run(root)) return out;
    Evaluator<DomAdapter> e(*program_, true, all_errors, &out);
    e.run(root);
    return out;
  }
  const JsonValue v = parse_json_value(text, json_schema_detail::kMaxInstanceDepth);
  return validate(v, all_errors);
}

bool Schema::is_valid(const JsonValue& value) const {
  Evaluator<JsonValueAdapter> e(*program_, false, false, nullptr);
  return e.run(&value);
}

std::vector<SchemaViolation> Schema::validate(const JsonValue& value, bool all_errors) const {
  std::vector<SchemaViolation> out;
  Evaluator<JsonValueAdapter> fast(*program_, false, false, nullptr);
  if (fast.run(&value)) return out;
  Evaluator<JsonValueAdapter> e(*program_, true, all_errors, &out);
  e.run(&value);
  return out;
}

}  // namespace covekit
