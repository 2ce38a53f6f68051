#include "covekit/json_schema.hpp"

#include <gtest/gtest.h>

#include <regex>

#include <string>
#include <thread>
#include <vector>

#include "covekit/errors.hpp"

using covekit::InvalidInput;
using covekit::InvalidJSON;
using covekit::JsonValue;
using covekit::Schema;
using covekit::SchemaError;
using covekit::json_schema_detail::Op;

namespace {

Schema compile(const std::string& text) { return Schema(text); }

}  // namespace

TEST(JsonSchema, CompilesCheapChecksFirst) {
  const Schema s = compile(R"({"pattern":"^a","allOf":[{}],"type":"string","minLength":1})");
  const auto& root = s.program().nodes[static_cast<std::size_t>(s.program().root)];
  ASSERT_GE(root.instrs.size(), 3u);
  EXPECT_EQ(root.instrs[0].op, Op::Type);
  EXPECT_EQ(root.instrs[1].op, Op::MinLength);
  EXPECT_EQ(root.instrs[2].op, Op::Pattern);
}

TEST(JsonSchema, EmptyAndTrueSchemasCompileToNothing) {
  for (const char* text : {"{}", "true", R"({"$comment":"x","title":"t"})"}) {
    const Schema s = compile(text);
    EXPECT_TRUE(s.program().nodes[static_cast<std::size_t>(s.program().root)].always_valid) << text;
    EXPECT_TRUE(s.is_valid_json("[1,{\"a\":null}]"));
  }
  EXPECT_FALSE(compile("false").is_valid_json("null"));
}

TEST(JsonSchema, LargePropertiesUseAHashIndex) {
  std::string text = R"({"properties":{)";
  for (int i = 0; i < 20; ++i) text += (i ? "," : "") + std::string("\"p") + std::to_string(i) + "\":{\"type\":\"integer\"}";
  text += "}}";
  const Schema s = compile(text);
  const auto& props = s.program().nodes[static_cast<std::size_t>(s.program().root)].instrs[0];
  EXPECT_EQ(props.op, Op::Properties);
  EXPECT_EQ(props.prop_index.size(), 20u);
  EXPECT_TRUE(s.is_valid_json(R"({"p3":1,"p19":2,"other":"x"})"));
  EXPECT_FALSE(s.is_valid_json(R"({"p3":1,"p19":"2"})"));
}

TEST(JsonSchema, RefCyclesCompileOnce) {
  const Schema s = compile(R"({"type":"object","properties":{"next":{"$ref":"#"}}})");
  EXPECT_LE(s.program().nodes.size(), 3u);
  EXPECT_TRUE(s.is_valid_json(R"({"next":{"next":{}}})"));
  EXPECT_FALSE(s.is_valid_json(R"({"next":{"next":1}})"));
}

TEST(JsonSchema, ErrorsCarryPaths) {
  const Schema s = compile(R"({"properties":{"age":{"minimum":0}},"required":["name"]})");
  const auto errors = s.validate_json(R"({"age":-3})", true);
  ASSERT_EQ(errors.size(), 2u);
  EXPECT_EQ(errors[0].keyword_location, "/required");
  EXPECT_EQ(errors[1].instance_path, "/age");
  EXPECT_EQ(errors[1].keyword_location, "/properties/age/minimum");
  EXPECT_EQ(errors[1].message, "-3 is less than the minimum of 0");
  EXPECT_EQ(s.validate_json(R"({"age":-3})", false).size(), 1u);
}

TEST(JsonSchema, DomAndJsonValueAgree) {
  const Schema s = compile(R"({"items":{"type":"integer","multipleOf":3},"uniqueItems":true})");
  for (const char* text : {"[3,6,9]", "[3,3]", "[1]", "[3.0,6]", "[18446744073709551616]", "[123456789012345678901]"}) {
    const JsonValue v = covekit::parse_json_value(text);
    EXPECT_EQ(s.is_valid_json(text), s.is_valid(v)) << text;
  }
}

TEST(JsonSchema, SchemaErrorsNameThePointer) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {R"({"type":"integr"})", "/type"},
      {R"({"properties":{"a":{"pattern":"("}}})", "/properties/a/pattern"},
      {R"({"$ref":"#/nope"})", "/$ref"},
      {R"({"items":[1]})", "/items/0"},
  };
  for (const auto& [text, pointer] : cases) {
    try {
      (void)compile(text);
      ADD_FAILURE() << text;
    } catch (const SchemaError& e) {
      EXPECT_EQ(e.pointer(), pointer) << e.what();
    }
  }
}

TEST(JsonSchema, InvalidJsonHasALocation) {
  const Schema s = compile("{}");
  try {
    (void)s.validate_json("[1,\n2,,]");
    ADD_FAILURE();
  } catch (const InvalidJSON& e) {
    EXPECT_EQ(e.offset(), 6u);
    EXPECT_EQ(e.line(), 2u);
    EXPECT_EQ(e.column(), 3u);
  }
}

TEST(JsonSchema, DeepInputIsAnErrorNotACrash) {
  const Schema s = compile(R"({"items":{"$ref":"#"}})");
  const std::string deep = std::string(100000, '[') + std::string(100000, ']');
  EXPECT_THROW((void)s.validate_json(deep), InvalidJSON);
  const Schema loop = compile(R"({"$defs":{"a":{"$ref":"#/$defs/a"}},"$ref":"#/$defs/a"})");
  EXPECT_THROW((void)loop.is_valid_json("1"), InvalidInput);
}

TEST(JsonSchema, RegexShortcutsAndPcre) {
  using covekit::json_schema_detail::Regex;
  EXPECT_TRUE(Regex("^abc").search("abcdef"));
  EXPECT_FALSE(Regex("^abc").search("xabc"));
  EXPECT_TRUE(Regex("bc").search("abcd"));
  EXPECT_TRUE(Regex("^abc$").search("abc"));
  EXPECT_FALSE(Regex("^abc$").search("abc\n"));
  EXPECT_TRUE(Regex("^\\p{Letter}+$").search("\xc3\xa9t\xc3\xa9"));
  EXPECT_FALSE(Regex("^\\d$").search("\xd9\xa1"));  // ARABIC-INDIC ONE is not \d in ECMA-262
  EXPECT_THROW(Regex("(unclosed"), std::invalid_argument);
}

TEST(JsonSchema, SharedAcrossThreads) {
  const Schema s = compile(R"({"type":"object","properties":{"n":{"type":"integer","multipleOf":2}},"required":["n"]})");
  std::vector<std::thread> threads;
  std::vector<int> wrong(4, 0);
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 5000; ++i) {
        const std::string doc = "{\"n\":" + std::to_string(t * 100000 + i) + "}";
        if (s.is_valid_json(doc) != (i % 2 == 0)) ++wrong[static_cast<std::size_t>(t)];
        if (i % 2 && s.validate_json(doc).at(0).instance_path != "/n") ++wrong[static_cast<std::size_t>(t)];
      }
    });
  }
  for (auto& th : threads) th.join();
  for (int w : wrong) EXPECT_EQ(w, 0);
}

// The greedy loop that replaces PCRE2 for simple anchored patterns agrees with an
// ECMAScript regex engine (std::regex is fine as an oracle for ASCII patterns).
TEST(JsonSchema, SimplePatternsMatchLikeEcmaScript) {
  using covekit::json_schema_detail::Regex;
  const std::vector<std::string> patterns = {
      "^[0-9]{4}-[0-9]{2}-[0-9]{2}$", "^doc-[0-9]+$", "^SKU-[A-Z0-9]{6}$", "^[a-z]+$", "^\\d{3,5}$",
      "^[a-z]+[0-9]*$", "^[a-z]*x", "^a?b", "^[A-Za-z_][A-Za-z0-9_]*$", "^[a-c]{2,}$", "^\\w+\\.\\w+$"};
  const std::vector<std::string> inputs = {"", "2024-01-31", "2024-1-31", "doc-12", "doc-", "SKU-AB12C3", "SKU-ab12c3",
                                           "abc", "abc1", "ab1c", "x", "ax", "b", "ab", "12345", "123456", "_a1",
                                           "a.b", "a..b", "aaa", "ca", "é", "abé", "2024-01-31\n"};
  for (const std::string& p : patterns) {
    const Regex r(p);
    const std::regex oracle(p, std::regex::ECMAScript);
    for (const std::string& s : inputs) EXPECT_EQ(r.search(s), std::regex_search(s, oracle)) << p << " on " << s;
  }
}
