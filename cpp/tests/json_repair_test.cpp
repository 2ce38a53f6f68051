#include "covekit/json_repair.hpp"

#include <gtest/gtest.h>

#include <string>
#include <thread>
#include <vector>

#include "covekit/errors.hpp"

namespace jr = covekit::json_repair;

namespace {

std::vector<std::string> kinds(const jr::Result& r) {
  std::vector<std::string> out;
  for (const auto& x : r.repairs) out.emplace_back(x.kind);
  return out;
}

// The problems' kinds of the RepairError that repairing `text` throws ("" if none).
std::string refusal(const std::string& text, jr::Options o = {}) {
  try {
    (void)jr::repair(text, o);
  } catch (const covekit::RepairError& e) {
    return e.problems().front().kind;
  }
  return "";
}

}  // namespace

TEST(JsonRepair, ValidJsonIsReturnedUnchanged) {
  for (const std::string s : {"{}", "[]", " {\"a\": [1, 2.5e3, true, null, \"x\"]} ", "42", "\"s\"",
                              "123456789012345678901234567890", "[\"\\ud800\"]"}) {
    const auto r = jr::repair(s);
    EXPECT_EQ(r.text, s);
    EXPECT_TRUE(r.repairs.empty()) << s;
    EXPECT_TRUE(r.unchanged);
  }
}

TEST(JsonRepair, AllModeWrapsValidJson) { EXPECT_EQ(jr::repair("{\"a\":1}", {.multiple = jr::Multiple::kAll}).text, "[{\"a\":1}]"); }

TEST(JsonRepair, LosslessRepairs) {
  struct Case {
    std::string in, out, kind;
  };
  const std::vector<Case> cases = {
      {"{\"a\": 1,}", "{\"a\":1}", "trailing_comma"},
      {"[1, 2, ]", "[1,2]", "trailing_comma"},
      {"{'a': 'b'}", "{\"a\":\"b\"}", "single_quotes"},
      {"{\xE2\x80\x9C" "a\xE2\x80\x9D: \xE2\x80\x9C" "b\xE2\x80\x9D}", "{\"a\":\"b\"}", "smart_quotes"},
      {"{a: 1}", "{\"a\":1}", "unquoted_key"},
      {"{\"a\": 1 // one\n}", "{\"a\":1}", "comment"},
      {"{\"a\": True, \"b\": None}", "{\"a\":true,\"b\":null}", "python_literal"},
      {"[{\"a\": 1} {\"b\": 2}]", "[{\"a\":1},{\"b\":2}]", "missing_comma"},
      {"{\"a\": \"x\ny\"}", "{\"a\":\"x\\ny\"}", "control_character"},
      {"Here you go: {\"a\": 1} Hope it helps", "{\"a\":1}", "extracted_from_prose"},
      {"```json\n{\"a\": 1}\n```", "{\"a\":1}", "code_fence"},
  };
  for (const auto& c : cases) {
    const auto r = jr::repair(c.in);
    EXPECT_EQ(r.text, c.out) << c.in;
    const auto k = kinds(r);
    EXPECT_NE(std::find(k.begin(), k.end(), c.kind), k.end()) << c.in;
    EXPECT_TRUE(r.lossless()) << c.in;
    EXPECT_EQ(jr::repair(c.in, {.strict = true}).text, c.out);
  }
}

TEST(JsonRepair, TruncationIsClosedButNotLossless) {
  const auto r = jr::repair("{\"a\": [1, 2], \"b\": \"hel");
  EXPECT_EQ(r.text, "{\"a\":[1,2],\"b\":\"hel\"}");
  EXPECT_EQ(kinds(r), (std::vector<std::string>{"truncated_string", "truncated_container"}));
  EXPECT_FALSE(r.lossless());
  EXPECT_EQ(refusal("{\"a\": [1, 2], \"b\": \"hel", {.strict = true}), "truncated_string");
  EXPECT_EQ(jr::repair("[1, 2,").text, "[1,2]");
  EXPECT_EQ(jr::repair("[true, fal").text, "[true,false]");
}

TEST(JsonRepair, Refusals) {
  EXPECT_EQ(refusal("{\"a\": }"), "missing_value");
  EXPECT_EQ(refusal("{\"a\": NaN}"), "non_finite_number");
  EXPECT_EQ(refusal("{\"a\": -Infinity}"), "non_finite_number");
  EXPECT_EQ(refusal("[Infinity]"), "non_finite_number");
  EXPECT_EQ(refusal("{\"a\": 1, \"a\": 2}"), "duplicate_key");
  EXPECT_EQ(refusal("{\"a\": 1, \"\\u0061\": 2}"), "duplicate_key");
  EXPECT_EQ(refusal("{\"a\": 1, \"b"), "truncated_key");
  EXPECT_EQ(refusal("{\"a\": 1, \"b\":"), "truncated_member");
  EXPECT_EQ(refusal("[1, 2, 3"), "truncated_number");
  EXPECT_EQ(refusal("{\"a\": yes}"), "unquoted_value");
  EXPECT_EQ(refusal("[1,,2]"), "missing_value");
  EXPECT_EQ(refusal("{\"a\": [1}"), "mismatched_bracket");
  EXPECT_EQ(refusal("[01]"), "invalid_number");
  EXPECT_EQ(refusal("no json here"), "no_json");
  EXPECT_EQ(refusal(""), "no_json");
}

TEST(JsonRepair, SpansAreCodePoints) {
  // "é" is two bytes but one code point.
  const auto r = jr::repair("\xC3\xA9 {'a': 1}");
  ASSERT_EQ(r.repairs.size(), 2u);
  EXPECT_STREQ(r.repairs[0].kind, "extracted_from_prose");
  EXPECT_EQ(r.repairs[0].start, 0u);
  EXPECT_EQ(r.repairs[0].end, 1u);
  EXPECT_EQ(r.repairs[0].byte_end, 2u);
  EXPECT_STREQ(r.repairs[1].kind, "single_quotes");
  EXPECT_EQ(r.repairs[1].start, 3u);
  EXPECT_EQ(r.repairs[1].end, 6u);
}

TEST(JsonRepair, MultipleValues) {
  const std::string in = "{\"a\": 1}\n{\"b\": 2,}";
  const auto first = jr::repair(in);
  EXPECT_EQ(first.text, "{\"a\":1}");
  EXPECT_EQ(kinds(first), (std::vector<std::string>{"extra_values_dropped"}));
  const auto all = jr::repair(in, {.multiple = jr::Multiple::kAll});
  EXPECT_EQ(all.text, "[{\"a\":1},{\"b\":2}]");
  EXPECT_EQ(kinds(all), (std::vector<std::string>{"trailing_comma"}));
}

TEST(JsonRepair, DeepNestingIsAnErrorNotACrash) {
  const std::string deep = std::string(100000, '[') + std::string(100000, ']');
  EXPECT_EQ(refusal(deep), "nesting_too_deep");
  EXPECT_EQ(refusal(std::string(100000, '[')), "nesting_too_deep");
  const std::string ok = std::string(500, '[') + std::string(500, ']');
  EXPECT_EQ(jr::repair(ok).text, ok);
}

TEST(JsonRepair, InvalidUtf8Throws) { EXPECT_THROW((void)jr::repair("{\"a\": \"\xff\"}"), covekit::InvalidUtf8); }

TEST(JsonRepair, HugeInput) {
  std::string big = "[";
  for (int i = 0; i < 200000; ++i) big += "{'k': 'v', 'n': True},";
  const auto r = jr::repair(big);
  EXPECT_EQ(r.text.substr(0, 22), "[{\"k\":\"v\",\"n\":true},{\"");
  EXPECT_EQ(r.text.back(), ']');
}

TEST(JsonRepair, ThreadsGetTheSameResults) {
  const std::vector<std::string> inputs = {
      "{'a': True, 'b': [1, 2,], // c\n}", "Here: ```json\n{\"x\": \"cut", "{\"a\": 1} {\"b\": 2}",
      "[{\"k\": \"v\"} {\"k\": \"w\"}]", "{\"valid\": [1, 2, 3]}", "{\"a\": NaN}"};
  auto run = [&] {
    std::string all;
    for (int round = 0; round < 200; ++round)
      for (const auto& in : inputs) {
        try {
          all += jr::repair(in).text;
        } catch (const covekit::RepairError& e) {
          all += e.what();
        }
      }
    return all;
  };
  const std::string expected = run();
  std::vector<std::string> got(4);
  std::vector<std::thread> threads;
  for (int i = 0; i < 4; ++i) threads.emplace_back([&, i] { got[i] = run(); });
  for (auto& t : threads) t.join();
  for (const auto& g : got) EXPECT_EQ(g, expected);
}
