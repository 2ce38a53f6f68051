// Fuzz target for the PII scanner: any bytes in. The checks:
//   invalid UTF-8 throws InvalidUtf8 at the first invalid byte, nothing else throws;
//   findings lie inside the text, are sorted and disjoint, start and end on character
//   boundaries, have a score in [0, 1] and a rule name, and their code point spans
//   are consistent with the byte spans;
//   each finding's text scanned alone is found again, whole, as the same entity,
//   except for the rules that need what surrounds the match (the generic "keyword =
//   value" rule and AWS secret keys, whose key is outside the finding);
//   a batch on two threads equals the scans one by one.
// The scans use minimum scores of 0, so weak matches are checked too. The driver's
// generated inputs are mostly prose; a second pass splices PII-like fragments into
// each input so that the matchers are reached.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "covekit/errors.hpp"
#include "covekit/pii.hpp"
#include "covekit/utf8.hpp"
#include "fuzz_common.hpp"

namespace {

namespace pii = covekit::pii;

const pii::Scanner& scanner() {
  static const pii::Scanner s = [] {
    pii::Config c;
    c.min_score.fill(0.0);
    return pii::Scanner(c);
  }();
  return s;
}

bool needs_surroundings(pii::Entity e) {
  return e == pii::Entity::kGenericSecret || e == pii::Entity::kAwsSecretKey;
}

void check(const std::string& input) {
  std::vector<pii::Finding> found;
  try {
    found = scanner().scan(input);
  } catch (const covekit::InvalidUtf8& e) {
    COVEKIT_FUZZ_CHECK(e.offset() == covekit::utf8::first_invalid(input), input);
    return;
  }
  COVEKIT_FUZZ_CHECK(covekit::utf8::first_invalid(input) == covekit::utf8::npos, input);
  std::size_t prev_end = 0;
  for (const pii::Finding& f : found) {
    COVEKIT_FUZZ_CHECK(f.start < f.end && f.end <= input.size(), input);
    COVEKIT_FUZZ_CHECK(f.start >= prev_end, input);
    COVEKIT_FUZZ_CHECK(!covekit::utf8::is_continuation(static_cast<unsigned char>(input[f.start])), input);
    COVEKIT_FUZZ_CHECK(f.end == input.size() ||
                           !covekit::utf8::is_continuation(static_cast<unsigned char>(input[f.end])),
                       input);
    COVEKIT_FUZZ_CHECK(f.score >= 0.0 && f.score <= 1.0 && !f.rule.empty(), input);
    prev_end = f.end;
  }
  const auto cps = pii::code_point_spans(input, found);
  for (std::size_t i = 0; i < found.size(); ++i) {
    const std::string_view before(input.data(), found[i].start);
    const std::string_view inside(input.data() + found[i].start, found[i].end - found[i].start);
    COVEKIT_FUZZ_CHECK(cps[i].first == covekit::utf8::count_code_points(before), input);
    COVEKIT_FUZZ_CHECK(cps[i].second - cps[i].first == covekit::utf8::count_code_points(inside), input);
    if (needs_surroundings(found[i].entity)) continue;
    const std::string alone(inside);
    const auto again = scanner().scan(alone);
    bool same = false;
    for (const pii::Finding& g : again) same = same || (g.entity == found[i].entity && g.start == 0 && g.end == alone.size());
    COVEKIT_FUZZ_CHECK(same, input);
  }
  const std::string_view views[] = {input, "x ", input};
  const auto batch = scanner().scan_batch(views, 2);
  COVEKIT_FUZZ_CHECK(batch[0].size() == found.size() && batch[2].size() == found.size(), input);
  for (std::size_t i = 0; i < found.size(); ++i)
    COVEKIT_FUZZ_CHECK(batch[2][i].start == found[i].start && batch[2][i].end == found[i].end &&
                           batch[2][i].entity == found[i].entity,
                       input);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
  const std::string input(reinterpret_cast<const char*>(data), size);
  check(input);
  // PII-like fragments spliced in at positions chosen by the input's own bytes.
  static constexpr std::string_view kBits[] = {
      "@",          "example.com", ".",        ":",          "::",       "-",          "4111 1111 1111 1111",
      "+1 ",        "(415) ",      "555-2671", "DE89 3704 ", "0044 ",    "123-45-",    "6789",
      "10.0.",      "ffff:",       "00:1A:",   "://u:p@",    "AKIA",     "IOSFODNN7EXAMPLE", "ghp_",
      "sk-",        "sk-ant-api03-", "xoxb-",  "sk_live_",   "AIza",     "-----BEGIN RSA PRIVATE KEY-----\n",
      "-----END ",  "eyJhbGciOiJub25lIn0", "password=", "token: \"", "\"",    "tel ",       "SSN ",
      "version ",   "\xE9\x9B\xBB", "0123456789abcdef", "T3BlbkFJ", "https://hooks.slack.com/services/",
      "x", " ", "\n"};
  if (size >= 2) check(covekit::fuzz::splice(data, size, kBits));
  return 0;
}
