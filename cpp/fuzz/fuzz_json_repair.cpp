// Fuzz target for the JSON repairer: any bytes in. The checks:
//   invalid UTF-8 throws InvalidUtf8, and anything else that cannot be repaired throws
//   RepairError with at least one problem whose span lies inside the input;
//   otherwise the output is valid JSON (simdjson parses it; nesting within max_depth),
//   every repair's span lies inside the input, and a second repair of the output
//   changes nothing (valid JSON is returned unchanged, with no repairs);
//   strict mode either refuses or agrees with the default mode and is lossless;
//   multiple="all" yields a JSON array.
// The driver's generated inputs are mostly prose; a second pass splices JSON-ish
// fragments into each input so that the repair paths are reached.
#include <simdjson.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "covekit/errors.hpp"
#include "covekit/json_repair.hpp"
#include "covekit/utf8.hpp"
#include "fuzz_common.hpp"

namespace {

namespace jr = covekit::json_repair;

bool parses(const std::string& s) {
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  return parser.parse(s).get(doc) == simdjson::SUCCESS;
}

void check(const std::string& input) {
  const std::size_t n_cp = covekit::utf8::first_invalid(input) == covekit::utf8::npos
                               ? covekit::utf8::count_code_points(input)
                               : 0;
  jr::Result r;
  try {
    r = jr::repair(input);
  } catch (const covekit::InvalidUtf8&) {
    COVEKIT_FUZZ_CHECK(covekit::utf8::first_invalid(input) != covekit::utf8::npos, input);
    return;
  } catch (const covekit::RepairError& e) {
    COVEKIT_FUZZ_CHECK(!e.problems().empty(), input);
    for (const auto& p : e.problems()) COVEKIT_FUZZ_CHECK(p.start <= p.end && p.end <= n_cp, input);
    return;
  }
  // Integers beyond 64 bits are valid JSON that simdjson's DOM declines: the output
  // is then the input itself, with no repairs.
  COVEKIT_FUZZ_CHECK(parses(r.text) || (r.unchanged && r.repairs.empty()), input);
  for (const auto& rep : r.repairs) {
    COVEKIT_FUZZ_CHECK(rep.start <= rep.end && rep.end <= n_cp, input);
    COVEKIT_FUZZ_CHECK(rep.byte_start <= rep.byte_end && rep.byte_end <= input.size(), input);
    COVEKIT_FUZZ_CHECK(rep.lossless == jr::is_lossless_kind(rep.kind), input);
  }
  COVEKIT_FUZZ_CHECK(r.repairs.empty() == r.unchanged, input);
  const jr::Result again = jr::repair(r.text);
  COVEKIT_FUZZ_CHECK(again.repairs.empty() && again.text == r.text, input);
  try {
    const jr::Result strict = jr::repair(input, {.strict = true});
    COVEKIT_FUZZ_CHECK(strict.text == r.text && strict.lossless(), input);
  } catch (const covekit::RepairError&) {
    COVEKIT_FUZZ_CHECK(!r.lossless(), input);
  }
  try {  // a later value may be refused, which multiple="first" never reads
    const jr::Result all = jr::repair(input, {.multiple = jr::Multiple::kAll});
    COVEKIT_FUZZ_CHECK(!all.text.empty() && all.text.front() == '[' && parses(all.text), input);
  } catch (const covekit::RepairError& e) {
    COVEKIT_FUZZ_CHECK(!e.problems().empty(), input);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
  const std::string input(reinterpret_cast<const char*>(data), size);
  check(input);
  // JSON-ish fragments spliced in at positions chosen by the input's own bytes.
  static constexpr std::string_view kBits[] = {
      "{", "}", "[", "]", ",", ":", "\"", "'", "{\"a\": ", "[1, ", "True", "None", "NaN", "// c\n",
      "/*", "```json\n", "\xE2\x80\x9C", "\xE2\x80\x9D", "\\", "\\u12", "-Infinity", "1e", "{'k': 'v'",
      "\n", "\t", "#", "\"x\": [", "}]", "0.5", "null,", "nul"};
  if (size >= 2) check(covekit::fuzz::splice(data, size, kBits));
  return 0;
}
