#include "covekit/filter.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <string>
#include <vector>

#include "covekit/errors.hpp"

using covekit::filter::AttributeStore;
using covekit::filter::Attributes;
using covekit::filter::Bitset;
using covekit::filter::Expr;
using covekit::filter::Op;
using covekit::filter::Value;

namespace {

// ---- a brute-force oracle: evaluates an expression on one document's attributes ----

const Value* field_of(const Attributes& a, const std::string& name) {
  for (const auto& [n, v] : a.fields)
    if (n == name) return &v;
  return nullptr;
}

bool has(const std::vector<std::string>& xs, const std::string& x) {
  return std::find(xs.begin(), xs.end(), x) != xs.end();
}

std::optional<long double> number(const Value& v) {
  if (const auto* i = std::get_if<int64_t>(&v)) return static_cast<long double>(*i);
  if (const auto* d = std::get_if<double>(&v)) return static_cast<long double>(*d);
  return std::nullopt;
}

bool equal(const Value& a, const Value& b) {
  auto x = number(a), y = number(b);
  if (x && y) return *x == *y;
  if (x || y) return false;
  return a == b;
}

bool oracle(const Expr& e, const Attributes& a) {
  switch (e.op) {
    case Op::kAll:
      return true;
    case Op::kAclAny:
      return std::any_of(e.strings.begin(), e.strings.end(), [&](const auto& p) { return has(a.acl, p); });
    case Op::kTagsAny:
      return std::any_of(e.strings.begin(), e.strings.end(), [&](const auto& t) { return has(a.tags, t); });
    case Op::kTagsAll:
      return std::all_of(e.strings.begin(), e.strings.end(), [&](const auto& t) { return has(a.tags, t); });
    case Op::kEq:
    case Op::kIn: {
      const Value* v = field_of(a, e.field);
      return v && std::any_of(e.values.begin(), e.values.end(), [&](const Value& x) { return equal(*v, x); });
    }
    case Op::kRange: {
      const Value* v = field_of(a, e.field);
      if (!v) return false;
      auto x = number(*v);
      if (!x || std::isnan(static_cast<double>(*x))) return false;
      if (auto lo = number(e.lower)) {
        if (*x < *lo || (*x == *lo && !e.lower_inclusive)) return false;
      }
      if (auto hi = number(e.upper)) {
        if (*x > *hi || (*x == *hi && !e.upper_inclusive)) return false;
      }
      return true;
    }
    case Op::kExists:
      return field_of(a, e.field) != nullptr;
    case Op::kAnd:
      return std::all_of(e.children.begin(), e.children.end(), [&](const Expr& c) { return oracle(c, a); });
    case Op::kOr:
      return std::any_of(e.children.begin(), e.children.end(), [&](const Expr& c) { return oracle(c, a); });
    case Op::kNot:
      return !oracle(e.children[0], a);
  }
  return false;
}

struct Gen {
  std::mt19937_64 rng;
  explicit Gen(uint64_t seed) : rng(seed) {}
  std::size_t below(std::size_t n) { return std::uniform_int_distribution<std::size_t>(0, n - 1)(rng); }
  std::string principal() { return below(2) ? "role:r" + std::to_string(below(5)) : "user:" + std::to_string(below(30)); }
  std::string tag() { return "t" + std::to_string(below(8)); }
  Value value(const std::string& field) {
    if (field == "lang") return std::string(below(2) ? "en" : (below(2) ? "fr" : "日本"));
    if (field == "n") return static_cast<int64_t>(below(20)) - 5;
    if (field == "x") return below(10) == 0 ? static_cast<double>(NAN) : static_cast<double>(below(40)) / 4.0 - 2;
    if (field == "ok") return below(2) == 1;
    // "mixed": any type
    switch (below(4)) {
      case 0:
        return static_cast<int64_t>(below(4));
      case 1:
        return static_cast<double>(below(4));
      case 2:
        return below(2) == 1;
      default:
        return std::string(1, static_cast<char>('a' + below(3)));
    }
  }
  std::string field() {
    static const char* names[] = {"lang", "n", "x", "ok", "mixed", "absent"};
    return names[below(6)];
  }
  Attributes doc() {
    Attributes a;
    for (std::size_t i = below(4); i-- > 0;) a.acl.push_back(principal());
    for (std::size_t i = below(4); i-- > 0;) a.tags.push_back(tag());
    for (const char* f : {"lang", "n", "x", "ok", "mixed"})
      if (below(3)) a.fields.emplace_back(f, value(f));
    return a;
  }
  Value number_bound() {
    return below(2) ? Value(static_cast<int64_t>(below(20)) - 5) : Value(static_cast<double>(below(40)) / 4.0 - 2);
  }
  Expr expr(int depth) {
    const std::size_t kind = below(depth > 0 ? 11 : 8);
    switch (kind) {
      case 0: {
        std::vector<std::string> ps;
        for (std::size_t i = below(3); i-- > 0;) ps.push_back(principal());
        return Expr::acl_any(ps);
      }
      case 1:
      case 2: {
        std::vector<std::string> ts;
        for (std::size_t i = below(3); i-- > 0;) ts.push_back(tag());
        return kind == 1 ? Expr::tags_any(ts) : Expr::tags_all(ts);
      }
      case 3: {
        const std::string f = field();
        Value v = value(f == "absent" ? "mixed" : f);
        if (const double* d = std::get_if<double>(&v); d && std::isnan(*d)) v = 0.5;
        return Expr::eq(f, v);
      }
      case 4: {
        const std::string f = field();
        std::vector<Value> vs;
        for (std::size_t i = below(3); i-- > 0;) {
          Value v = value(f == "absent" ? "mixed" : f);
          if (const double* d = std::get_if<double>(&v); d && std::isnan(*d)) v = 1.0;
          vs.push_back(v);
        }
        return Expr::in(f, vs);
      }
      case 5: {
        Value lo = below(3) ? number_bound() : Value{};
        Value hi = (below(3) || std::holds_alternative<std::monostate>(lo)) ? number_bound() : Value{};
        return Expr::range(below(2) ? "n" : (below(2) ? "x" : "mixed"), lo, below(2) == 1, hi, below(2) == 1);
      }
      case 6:
        return Expr::exists(field());
      case 7:
        return Expr::all();
      case 8:
      case 9: {
        std::vector<Expr> cs;
        for (std::size_t i = below(4); i-- > 0;) cs.push_back(expr(depth - 1));
        return kind == 8 ? Expr::and_(cs) : Expr::or_(cs);
      }
      default:
        return Expr::not_(expr(depth - 1));
    }
  }
};

std::string show(const Value& v) {
  if (std::holds_alternative<std::monostate>(v)) return "_";
  if (const auto* b = std::get_if<bool>(&v)) return *b ? "true" : "false";
  if (const auto* i = std::get_if<int64_t>(&v)) return std::to_string(*i) + "i";
  if (const auto* d = std::get_if<double>(&v)) return std::to_string(*d) + "f";
  return "'" + std::get<std::string>(v) + "'";
}

// The expression, readably (for failure messages).
std::string show(const Expr& e) {
  static const char* names[] = {"all", "acl_any", "tags_any", "tags_all", "eq", "in",
                                "range", "exists", "and", "or", "not"};
  std::string s = std::string(names[static_cast<int>(e.op)]) + "(" + e.field;
  for (const auto& x : e.strings) s += " " + x;
  for (const auto& v : e.values) s += " " + show(v);
  if (e.op == Op::kRange)
    s += std::string(e.lower_inclusive ? " [" : " (") + show(e.lower) + "," + show(e.upper) +
         (e.upper_inclusive ? "]" : ")");
  for (const auto& c : e.children) s += " " + show(c);
  return s + ")";
}

std::string show(const Attributes& a) {
  std::string s = "acl:";
  for (const auto& x : a.acl) s += " " + x;
  s += " tags:";
  for (const auto& x : a.tags) s += " " + x;
  for (const auto& [n, v] : a.fields) s += " " + n + "=" + show(v);
  return s;
}

}  // namespace

TEST(Filter, MatchesBruteForceOracleOnRandomData) {
  Gen g(7);
  for (int round = 0; round < 20; ++round) {
    const std::size_t n = 1 + g.below(300);
    AttributeStore store;
    std::vector<Attributes> docs(n);
    for (std::size_t i = 0; i < n; ++i) {
      docs[i] = g.doc();
      store.set(static_cast<uint32_t>(i), docs[i]);
    }
    // Overwrite and clear some (set replaces, clear removes).
    for (std::size_t r = 0; r < n / 4; ++r) {
      const auto i = g.below(n);
      if (g.below(2)) {
        docs[i] = g.doc();
        store.set(static_cast<uint32_t>(i), docs[i]);
      } else {
        docs[i] = Attributes{};
        store.clear(static_cast<uint32_t>(i));
      }
    }
    Bitset universe(n);
    for (std::size_t i = 0; i < n; ++i)
      if (g.below(5)) universe.set(i);
    for (int q = 0; q < 200; ++q) {
      const Expr e = g.expr(3);
      const auto sel = store.evaluate(e, universe);
      std::size_t expected = 0;
      for (std::size_t i = 0; i < n; ++i) {
        const bool want = universe.test(i) && oracle(e, docs[i]);
        expected += want;
        ASSERT_EQ(sel.allows(static_cast<uint32_t>(i)), want) << "round " << round << " query " << q << " doc " << i << ": "
                                                               << show(e) << " on " << show(docs[i]);
      }
      ASSERT_EQ(sel.count, expected);
      if (sel.has_ids()) {
        ASSERT_TRUE(std::is_sorted(sel.ids.begin(), sel.ids.end()));
        for (uint32_t id : sel.ids) ASSERT_TRUE(sel.allows(id));
      }
    }
  }
}

TEST(Filter, EmptyAclIsVisibleToNoPrincipal) {
  AttributeStore s;
  s.set(0, Attributes{{}, {"public"}, {}});
  s.set(1, Attributes{{"user:1"}, {}, {}});
  Bitset u(2, true);
  auto sel = s.evaluate(Expr::acl_any({"user:1", "role:admin"}), u);
  EXPECT_FALSE(sel.allows(0));
  EXPECT_TRUE(sel.allows(1));
  EXPECT_EQ(s.evaluate(Expr::acl_any({}), u).count, 0u);
  EXPECT_EQ(s.evaluate(Expr::tags_all({}), u).count, 2u);
}

TEST(Filter, NumbersCompareExactlyAcrossTypes) {
  AttributeStore s;
  const int64_t big = (int64_t{1} << 53) + 1;  // not representable as a double
  s.set(0, Attributes{{}, {}, {{"n", big}}});
  s.set(1, Attributes{{}, {}, {{"n", 2.0}}});
  s.set(2, Attributes{{}, {}, {{"n", std::string("2")}}});
  Bitset u(3, true);
  EXPECT_EQ(s.evaluate(Expr::eq("n", static_cast<int64_t>(2)), u).count, 1u);
  EXPECT_FALSE(s.evaluate(Expr::eq("n", static_cast<double>(big)), u).allows(0));
  auto sel = s.evaluate(Expr::range("n", static_cast<double>(1LL << 53), false, Value{}, true), u);
  EXPECT_TRUE(sel.allows(0));
  EXPECT_FALSE(sel.allows(1));
  EXPECT_FALSE(sel.allows(2));
}

TEST(Filter, BadExpressionsThrowInvalidInput) {
  EXPECT_THROW(Expr::eq("", static_cast<int64_t>(1)), covekit::InvalidInput);
  EXPECT_THROW(Expr::eq("a", Value{}), covekit::InvalidInput);
  EXPECT_THROW(Expr::eq("a", static_cast<double>(NAN)), covekit::InvalidInput);
  EXPECT_THROW(Expr::range("a", Value{}, true, Value{}, true), covekit::InvalidInput);
  EXPECT_THROW(Expr::range("a", std::string("x"), true, Value{}, true), covekit::InvalidInput);
  AttributeStore s;
  EXPECT_THROW(s.set(0, Attributes{{}, {}, {{"a", Value{}}}}), covekit::InvalidInput);
  EXPECT_THROW(s.set(0, Attributes{{}, {}, {{"a", true}, {"a", false}}}), covekit::InvalidInput);
}

TEST(Filter, BinaryRoundTrip) {
  Gen g(11);
  AttributeStore s;
  std::vector<Attributes> docs(50);
  for (uint32_t i = 0; i < 50; ++i) {
    docs[i] = g.doc();
    s.set(i, docs[i]);
  }
  s.clear(3);
  docs[3] = {};
  std::string bytes;
  s.write(bytes);
  std::string_view in = bytes;
  AttributeStore r = AttributeStore::read(in);
  EXPECT_TRUE(in.empty());
  Bitset u(50, true);
  for (int q = 0; q < 100; ++q) {
    const Expr e = g.expr(2);
    EXPECT_EQ(s.evaluate(e, u).bits.words(), r.evaluate(e, u).bits.words());
  }
  EXPECT_EQ(r.get(7).acl, s.get(7).acl);
  for (std::size_t cut = 0; cut < bytes.size(); cut += 7) {
    std::string_view part(bytes.data(), cut);
    EXPECT_THROW(AttributeStore::read(part), covekit::IndexFileCorrupt);
  }
}
