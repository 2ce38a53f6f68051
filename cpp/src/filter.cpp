#include "covekit/filter.hpp"

#include <algorithm>
#include <bit>
#include <cmath>

#include "binio.hpp"
#include "covekit/errors.hpp"

namespace covekit::filter {

// ---- Bitset --------------------------------------------------------------------------

Bitset::Bitset(std::size_t size, bool value) : size_(size), words_((size + 63) / 64, value ? ~uint64_t{0} : 0) {
  if (value && (size & 63)) words_.back() = (uint64_t{1} << (size & 63)) - 1;
}

void Bitset::resize(std::size_t size) {
  if (size < size_) {
    words_.resize((size + 63) / 64);
    if (size & 63) words_.back() &= (uint64_t{1} << (size & 63)) - 1;
  } else {
    words_.resize((size + 63) / 64, 0);
  }
  size_ = size;
}

std::size_t Bitset::count() const noexcept {
  std::size_t n = 0;
  for (uint64_t w : words_) n += static_cast<std::size_t>(std::popcount(w));
  return n;
}

Bitset& Bitset::operator&=(const Bitset& o) noexcept {
  const std::size_t n = std::min(words_.size(), o.words_.size());
  for (std::size_t i = 0; i < n; ++i) words_[i] &= o.words_[i];
  for (std::size_t i = n; i < words_.size(); ++i) words_[i] = 0;
  return *this;
}

Bitset& Bitset::operator|=(const Bitset& o) noexcept {
  const std::size_t n = std::min(words_.size(), o.words_.size());
  for (std::size_t i = 0; i < n; ++i) words_[i] |= o.words_[i];
  return *this;
}

void Bitset::flip_within(const Bitset& mask) noexcept {
  const std::size_t n = std::min(words_.size(), mask.words_.size());
  for (std::size_t i = 0; i < n; ++i) words_[i] = mask.words_[i] & ~words_[i];
  for (std::size_t i = n; i < words_.size(); ++i) words_[i] = 0;
}

Selection make_selection(Bitset bits) {
  Selection s;
  s.count = bits.count();
  if (s.count * 32 <= bits.size()) {
    s.ids.reserve(s.count);
    bits.for_each([&](uint32_t i) { s.ids.push_back(i); });
  }
  s.bits = std::move(bits);
  return s;
}

// ---- Expr factories ------------------------------------------------------------------

namespace {

void check_field(const std::string& f, const char* op) {
  if (f.empty()) throw InvalidInput(std::string(op) + ": the field name must be a non-empty string");
}

void check_value(const Value& v, const char* op) {
  if (std::holds_alternative<std::monostate>(v))
    throw InvalidInput(std::string(op) + ": the value must be a str, int, float or bool, not None");
  if (const double* d = std::get_if<double>(&v); d && std::isnan(*d))
    throw InvalidInput(std::string(op) + ": NaN never equals anything; pass a number");
}

bool is_number(const Value& v) { return std::holds_alternative<int64_t>(v) || std::holds_alternative<double>(v); }

// Exact comparison of two numbers (int64 or double): -1, 0, 1, or 2 when either is NaN.
// long double holds every int64 exactly on x86-64.
int compare_numbers(const Value& a, const Value& b) {
  if (std::holds_alternative<int64_t>(a) && std::holds_alternative<int64_t>(b)) {
    const int64_t x = std::get<int64_t>(a), y = std::get<int64_t>(b);
    return x < y ? -1 : (x > y ? 1 : 0);
  }
  const auto as_ld = [](const Value& v) -> long double {
    return std::holds_alternative<int64_t>(v) ? static_cast<long double>(std::get<int64_t>(v))
                                              : static_cast<long double>(std::get<double>(v));
  };
  const long double x = as_ld(a), y = as_ld(b);
  if (std::isnan(x) || std::isnan(y)) return 2;
  return x < y ? -1 : (x > y ? 1 : 0);
}

}  // namespace

Expr Expr::all() { return Expr{}; }

Expr Expr::acl_any(std::vector<std::string> principals) {
  Expr e;
  e.op = Op::kAclAny;
  e.strings = std::move(principals);
  return e;
}

Expr Expr::tags_any(std::vector<std::string> tags) {
  Expr e;
  e.op = Op::kTagsAny;
  e.strings = std::move(tags);
  return e;
}

Expr Expr::tags_all(std::vector<std::string> tags) {
  Expr e;
  e.op = Op::kTagsAll;
  e.strings = std::move(tags);
  return e;
}

Expr Expr::eq(std::string field, Value v) {
  check_field(field, "eq");
  check_value(v, "eq");
  Expr e;
  e.op = Op::kEq;
  e.field = std::move(field);
  e.values.push_back(std::move(v));
  return e;
}

Expr Expr::in(std::string field, std::vector<Value> vs) {
  check_field(field, "in");
  for (const auto& v : vs) check_value(v, "in");
  Expr e;
  e.op = Op::kIn;
  e.field = std::move(field);
  e.values = std::move(vs);
  return e;
}

Expr Expr::range(std::string field, Value lower, bool lower_inclusive, Value upper, bool upper_inclusive) {
  check_field(field, "range");
  for (const Value* v : {&lower, &upper}) {
    if (std::holds_alternative<std::monostate>(*v)) continue;
    if (!is_number(*v))
      throw InvalidInput("range: bounds must be numbers (int or float); for dates pass epoch seconds");
    if (const double* d = std::get_if<double>(v); d && std::isnan(*d))
      throw InvalidInput("range: a bound is NaN; pass a number or leave the bound out");
  }
  if (std::holds_alternative<std::monostate>(lower) && std::holds_alternative<std::monostate>(upper))
    throw InvalidInput("range: give at least one bound (gt, gte, lt or lte)");
  Expr e;
  e.op = Op::kRange;
  e.field = std::move(field);
  e.lower = std::move(lower);
  e.upper = std::move(upper);
  e.lower_inclusive = lower_inclusive;
  e.upper_inclusive = upper_inclusive;
  return e;
}

Expr Expr::exists(std::string field) {
  check_field(field, "exists");
  Expr e;
  e.op = Op::kExists;
  e.field = std::move(field);
  return e;
}

Expr Expr::and_(std::vector<Expr> children) {
  Expr e;
  e.op = Op::kAnd;
  e.children = std::move(children);
  return e;
}

Expr Expr::or_(std::vector<Expr> children) {
  Expr e;
  e.op = Op::kOr;
  e.children = std::move(children);
  return e;
}

Expr Expr::not_(Expr child) {
  Expr e;
  e.op = Op::kNot;
  e.children.push_back(std::move(child));
  return e;
}

// ---- AttributeStore ------------------------------------------------------------------

namespace {

void posting_insert(std::vector<uint32_t>& p, uint32_t id) {
  if (p.empty() || p.back() < id) {
    p.push_back(id);
    return;
  }
  auto it = std::lower_bound(p.begin(), p.end(), id);
  if (it == p.end() || *it != id) p.insert(it, id);
}

void posting_erase(std::vector<uint32_t>& p, uint32_t id) {
  auto it = std::lower_bound(p.begin(), p.end(), id);
  if (it != p.end() && *it == id) p.erase(it);
}

void or_postings(Bitset& b, const std::vector<uint32_t>& p) {
  for (uint32_t id : p)
    if (id < b.size()) b.set(id);
}

}  // namespace

uint32_t AttributeStore::Dict::intern(const std::string& s) {
  auto [it, fresh] = codes.try_emplace(s, static_cast<uint32_t>(postings.size()));
  if (fresh) {
    postings.emplace_back();
    names.push_back(s);
  }
  return it->second;
}

const AttributeStore::Postings* AttributeStore::Dict::find(const std::string& s) const {
  auto it = codes.find(s);
  return it == codes.end() ? nullptr : &postings[it->second];
}

const AttributeStore::Field* AttributeStore::field(const std::string& name) const {
  auto it = field_codes_.find(name);
  return it == field_codes_.end() ? nullptr : &fields_[it->second];
}

void AttributeStore::ensure(uint32_t id) {
  if (id < rows_.size()) return;
  const std::size_t n = static_cast<std::size_t>(id) + 1;
  rows_.resize(n);
  for (auto& f : fields_) {
    f.has_int.resize(n);
    f.has_double.resize(n);
    f.present.resize(n);
    if (!f.ints.empty()) f.ints.resize(n);
    if (!f.doubles.empty()) f.doubles.resize(n);
  }
}

void AttributeStore::clear(uint32_t id) {
  if (id >= rows_.size()) return;
  Row& r = rows_[id];
  for (uint32_t c : r.acl) posting_erase(acl_.postings[c], id);
  for (uint32_t c : r.tags) posting_erase(tags_.postings[c], id);
  for (const auto& [fc, v] : r.fields) {
    Field& f = fields_[fc];
    f.present.reset(id);
    if (const auto* s = std::get_if<std::string>(&v)) {
      posting_erase(f.strings.postings[f.strings.codes.at(*s)], id);
    } else if (const bool* b = std::get_if<bool>(&v)) {
      posting_erase(*b ? f.bool_true : f.bool_false, id);
    } else if (std::holds_alternative<int64_t>(v)) {
      f.has_int.reset(id);
    } else {
      f.has_double.reset(id);
    }
  }
  r = Row{};
}

void AttributeStore::validate(const Attributes& a) {
  for (std::size_t i = 0; i < a.fields.size(); ++i) {
    check_field(a.fields[i].first, "fields");
    if (std::holds_alternative<std::monostate>(a.fields[i].second))
      throw InvalidInput("fields: the value of '" + a.fields[i].first +
                         "' is None; leave the field out or pass a str, int, float or bool");
    for (std::size_t j = 0; j < i; ++j)
      if (a.fields[j].first == a.fields[i].first)
        throw InvalidInput("fields: the field '" + a.fields[i].first + "' is given twice");
  }
}

void AttributeStore::set(uint32_t id, const Attributes& a) {
  validate(a);  // before changing anything
  ensure(id);
  clear(id);
  Row& r = rows_[id];
  for (const auto& p : a.acl) {
    const uint32_t c = acl_.intern(p);
    if (std::find(r.acl.begin(), r.acl.end(), c) != r.acl.end()) continue;
    posting_insert(acl_.postings[c], id);
    r.acl.push_back(c);
  }
  for (const auto& t : a.tags) {
    const uint32_t c = tags_.intern(t);
    if (std::find(r.tags.begin(), r.tags.end(), c) != r.tags.end()) continue;
    posting_insert(tags_.postings[c], id);
    r.tags.push_back(c);
  }
  const std::size_t n = rows_.size();
  for (const auto& [name, v] : a.fields) {
    auto [it, fresh] = field_codes_.try_emplace(name, static_cast<uint32_t>(fields_.size()));
    if (fresh) {
      field_names_.push_back(name);
      Field f;
      f.has_int = Bitset(n);
      f.has_double = Bitset(n);
      f.present = Bitset(n);
      fields_.push_back(std::move(f));
    }
    Field& f = fields_[it->second];
    f.present.set(id);
    if (const auto* s = std::get_if<std::string>(&v)) {
      posting_insert(f.strings.postings[f.strings.intern(*s)], id);
    } else if (const bool* b = std::get_if<bool>(&v)) {
      posting_insert(*b ? f.bool_true : f.bool_false, id);
    } else if (const int64_t* x = std::get_if<int64_t>(&v)) {
      if (f.ints.size() < n) f.ints.resize(n);
      f.ints[id] = *x;
      f.has_int.set(id);
    } else {
      if (f.doubles.size() < n) f.doubles.resize(n);
      f.doubles[id] = std::get<double>(v);
      f.has_double.set(id);
    }
    r.fields.emplace_back(it->second, v);
  }
}

Attributes AttributeStore::get(uint32_t id) const {
  Attributes a;
  if (id >= rows_.size()) return a;
  const Row& r = rows_[id];
  for (uint32_t c : r.acl) a.acl.push_back(acl_.names[c]);
  for (uint32_t c : r.tags) a.tags.push_back(tags_.names[c]);
  for (const auto& [fc, v] : r.fields) a.fields.emplace_back(field_names_[fc], v);
  return a;
}

Bitset AttributeStore::leaf(const Expr& e, std::size_t n) const {
  Bitset b(n);
  switch (e.op) {
    case Op::kAclAny:
      for (const auto& p : e.strings)
        if (const Postings* ps = acl_.find(p)) or_postings(b, *ps);
      return b;
    case Op::kTagsAny:
      for (const auto& t : e.strings)
        if (const Postings* ps = tags_.find(t)) or_postings(b, *ps);
      return b;
    case Op::kTagsAll: {
      if (e.strings.empty()) return Bitset(n, true);
      bool first = true;
      for (const auto& t : e.strings) {
        const Postings* ps = tags_.find(t);
        if (!ps) return Bitset(n);
        Bitset one(n);
        or_postings(one, *ps);
        if (first) {
          b = std::move(one);
          first = false;
        } else {
          b &= one;
        }
      }
      return b;
    }
    case Op::kEq:
    case Op::kIn: {
      const Field* f = field(e.field);
      if (!f) return b;
      for (const Value& v : e.values) {
        if (const auto* s = std::get_if<std::string>(&v)) {
          if (const Postings* ps = f->strings.find(*s)) or_postings(b, *ps);
        } else if (const bool* bv = std::get_if<bool>(&v)) {
          or_postings(b, *bv ? f->bool_true : f->bool_false);
        } else {
          const std::size_t m = std::min(n, rows_.size());
          for (std::size_t i = 0; i < m; ++i) {
            if (f->has_int.test(i) && compare_numbers(Value(f->ints[i]), v) == 0) b.set(i);
            if (f->has_double.test(i) && compare_numbers(Value(f->doubles[i]), v) == 0) b.set(i);
          }
        }
      }
      return b;
    }
    case Op::kRange: {
      const Field* f = field(e.field);
      if (!f) return b;
      const bool has_lo = !std::holds_alternative<std::monostate>(e.lower);
      const bool has_hi = !std::holds_alternative<std::monostate>(e.upper);
      auto in_range = [&](const Value& x) {
        if (const double* d = std::get_if<double>(&x); d && std::isnan(*d)) return false;
        if (has_lo) {
          const int c = compare_numbers(x, e.lower);
          if (c < 0 || (c == 0 && !e.lower_inclusive)) return false;
        }
        if (has_hi) {
          const int c = compare_numbers(x, e.upper);
          if (c > 0 || (c == 0 && !e.upper_inclusive)) return false;
        }
        return true;
      };
      f->has_int.for_each([&](uint32_t i) {
        if (i < n && in_range(Value(f->ints[i]))) b.set(i);
      });
      f->has_double.for_each([&](uint32_t i) {
        if (i < n && in_range(Value(f->doubles[i]))) b.set(i);
      });
      return b;
    }
    case Op::kExists: {
      const Field* f = field(e.field);
      if (f) {
        b |= f->present;
        b.resize(n);
      }
      return b;
    }
    default:
      return Bitset(n, true);
  }
}

Bitset AttributeStore::eval(const Expr& e, const Bitset& universe) const {
  const std::size_t n = universe.size();
  switch (e.op) {
    case Op::kAll:
      return universe;
    case Op::kAnd: {
      Bitset b = universe;
      for (const auto& c : e.children) b &= eval(c, universe);
      return b;
    }
    case Op::kOr: {
      Bitset b(n);
      for (const auto& c : e.children) b |= eval(c, universe);
      return b;
    }
    case Op::kNot: {
      if (e.children.size() != 1) throw InvalidInput("not: takes exactly one filter");
      Bitset b = eval(e.children[0], universe);
      b.flip_within(universe);
      return b;
    }
    default: {
      Bitset b = leaf(e, n);
      b &= universe;
      return b;
    }
  }
}

Selection AttributeStore::evaluate(const Expr& e, const Bitset& universe) const {
  return make_selection(eval(e, universe));
}

// ---- binary form -----------------------------------------------------------------------
// rows:u32 then per row: acl (u32 n, strings), tags (same), fields (u32 n, then name,
// type u8 [1 bool, 2 int64, 3 double, 4 string], value).

void AttributeStore::write(std::string& out) const {
  binio::put<uint32_t>(out, static_cast<uint32_t>(rows_.size()));
  for (uint32_t id = 0; id < rows_.size(); ++id) {
    const Attributes a = [&] {
      Attributes x;
      const Row& r = rows_[id];
      x.fields.reserve(r.fields.size());
      for (const auto& [fc, v] : r.fields) x.fields.emplace_back(field_names_[fc], v);
      return x;
    }();
    const Row& r = rows_[id];
    binio::put<uint32_t>(out, static_cast<uint32_t>(r.acl.size()));
    for (uint32_t c : r.acl) binio::put<uint32_t>(out, c);
    binio::put<uint32_t>(out, static_cast<uint32_t>(r.tags.size()));
    for (uint32_t c : r.tags) binio::put<uint32_t>(out, c);
    binio::put<uint32_t>(out, static_cast<uint32_t>(a.fields.size()));
    for (const auto& [name, v] : a.fields) {
      binio::put_str(out, name);
      if (const bool* b = std::get_if<bool>(&v)) {
        binio::put<uint8_t>(out, 1);
        binio::put<uint8_t>(out, *b ? 1 : 0);
      } else if (const int64_t* x = std::get_if<int64_t>(&v)) {
        binio::put<uint8_t>(out, 2);
        binio::put<int64_t>(out, *x);
      } else if (const double* d = std::get_if<double>(&v)) {
        binio::put<uint8_t>(out, 3);
        binio::put<double>(out, *d);
      } else {
        binio::put<uint8_t>(out, 4);
        binio::put_str(out, std::get<std::string>(v));
      }
    }
  }
  // The dictionaries of principals and tags, in code order.
  for (const Dict* d : {&acl_, &tags_}) {
    binio::put<uint32_t>(out, static_cast<uint32_t>(d->names.size()));
    for (const auto& s : d->names) binio::put_str(out, s);
  }
}

AttributeStore AttributeStore::read(std::string_view& in) {
  const uint32_t n = binio::get<uint32_t>(in, "attribute rows");
  if (n > in.size() / 12) binio::truncated("attribute rows");  // a row takes at least 12 bytes
  struct Raw {
    std::vector<uint32_t> acl, tags;
    std::vector<std::pair<std::string, Value>> fields;
  };
  std::vector<Raw> raw(n);
  auto count = [&](const char* what) {
    const uint32_t c = binio::get<uint32_t>(in, what);
    if (c > in.size()) binio::truncated(what);  // each entry takes at least one byte
    return c;
  };
  for (auto& r : raw) {
    r.acl.resize(count("acl codes"));
    for (auto& c : r.acl) c = binio::get<uint32_t>(in, "acl codes");
    r.tags.resize(count("tag codes"));
    for (auto& c : r.tags) c = binio::get<uint32_t>(in, "tag codes");
    const uint32_t nf = count("fields");
    for (uint32_t i = 0; i < nf; ++i) {
      std::string name = binio::get_str(in, "field name");
      Value v;
      switch (binio::get<uint8_t>(in, "field type")) {
        case 1:
          v = binio::get<uint8_t>(in, "bool field") != 0;
          break;
        case 2:
          v = binio::get<int64_t>(in, "int field");
          break;
        case 3:
          v = binio::get<double>(in, "float field");
          break;
        case 4:
          v = binio::get_str(in, "str field");
          break;
        default:
          binio::truncated("field type");
      }
      r.fields.emplace_back(std::move(name), std::move(v));
    }
  }
  std::vector<std::string> dicts[2];
  for (auto& d : dicts) {
    d.resize(count("dictionary"));
    for (auto& s : d) s = binio::get_str(in, "dictionary");
  }
  AttributeStore st;
  // Intern the dictionaries first so that codes (and so a re-serialization) match.
  for (const auto& p : dicts[0])
    if (st.acl_.intern(p) + 1 != st.acl_.names.size()) binio::truncated("dictionary");
  for (const auto& t : dicts[1])
    if (st.tags_.intern(t) + 1 != st.tags_.names.size()) binio::truncated("dictionary");
  for (uint32_t id = 0; id < n; ++id) {
    Attributes a;
    for (uint32_t c : raw[id].acl) {
      if (c >= dicts[0].size()) binio::truncated("acl codes");
      a.acl.push_back(dicts[0][c]);
    }
    for (uint32_t c : raw[id].tags) {
      if (c >= dicts[1].size()) binio::truncated("tag codes");
      a.tags.push_back(dicts[1][c]);
    }
    a.fields = std::move(raw[id].fields);
    try {
      st.set(id, a);
    } catch (const InvalidInput&) {
      binio::truncated("fields");
    }
  }
  if (n) st.ensure(n - 1);
  return st;
}

}  // namespace covekit::filter
