// Per-document attributes (access-control principals, tags, typed fields) and filter
// expressions over them, evaluated to a Selection: a bitset over an index's dense
// internal ids. Both indexes (vector, BM25) embed one AttributeStore keyed by their own
// internal ids and pass the Selection into their searches, so filtering happens inside
// the search.
//
// Storage is compact: principal, tag and string-field values are dictionary-encoded and
// each (namespace, value) keeps a sorted posting list of internal ids; bool fields keep
// two posting lists; int64 and double fields are dense columns with a presence bitset,
// scanned for ranges.
//
// Semantics (documented in docs/retrieval.md):
//  * acl_any(P) matches a document whose acl holds at least one principal of P. A
//    document with an empty acl is visible to no principal: acl_any never matches it.
//  * tags_any(T): at least one tag of T; tags_all(T): every tag of T (tags_all([])
//    matches every document); acl_any([]) and tags_any([]) match nothing.
//  * eq / in / range / exists look at one field. A document without the field, or whose
//    value has a different type, does not match (so `not eq` matches it). Numbers
//    compare exactly across int64 and double (1 == 1.0); bools and strings only equal
//    values of their own type.
//  * range bounds are inclusive (gte/lte) or exclusive (gt/lt); NaN never matches.
//
// Thread safety: const members may be called from many threads at once; writers
// (set/clear) need exclusive access (the owning index holds its writer lock).
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <unordered_map>
#include <variant>
#include <vector>

namespace covekit::filter {

// A field value. monostate is never stored; it marks "no bound" in ranges.
using Value = std::variant<std::monostate, bool, int64_t, double, std::string>;

// A set of ids < size() as a bitset (+ the sorted list of its ids when it is sparse).
class Bitset {
 public:
  Bitset() = default;
  explicit Bitset(std::size_t size, bool value = false);

  [[nodiscard]] std::size_t size() const noexcept { return size_; }
  [[nodiscard]] bool test(std::size_t i) const noexcept {
    return i < size_ && ((words_[i >> 6] >> (i & 63)) & 1u);
  }
  void set(std::size_t i) noexcept { words_[i >> 6] |= (uint64_t{1} << (i & 63)); }
  void reset(std::size_t i) noexcept { words_[i >> 6] &= ~(uint64_t{1} << (i & 63)); }
  void resize(std::size_t size);  // new bits are 0
  [[nodiscard]] std::size_t count() const noexcept;

  Bitset& operator&=(const Bitset& o) noexcept;
  Bitset& operator|=(const Bitset& o) noexcept;
  // this = mask & ~this
  void flip_within(const Bitset& mask) noexcept;

  [[nodiscard]] const std::vector<uint64_t>& words() const noexcept { return words_; }
  [[nodiscard]] std::vector<uint64_t>& words() noexcept { return words_; }

  template <class F>
  void for_each(F&& f) const {
    for (std::size_t w = 0; w < words_.size(); ++w) {
      uint64_t bits = words_[w];
      while (bits) {
        const int b = __builtin_ctzll(bits);
        f(static_cast<uint32_t>(w * 64 + static_cast<std::size_t>(b)));
        bits &= bits - 1;
      }
    }
  }

 private:
  std::size_t size_ = 0;
  std::vector<uint64_t> words_;
};

// The result of a filter: which internal ids are allowed.
struct Selection {
  Bitset bits;
  std::size_t count = 0;
  // Sorted allowed ids when count is small relative to the universe (else empty).
  std::vector<uint32_t> ids;
  [[nodiscard]] bool allows(uint32_t id) const noexcept { return bits.test(id); }
  [[nodiscard]] bool has_ids() const noexcept { return ids.size() == count; }
};

// Builds a Selection from a bitset; lists the ids when count * 32 <= universe size.
Selection make_selection(Bitset bits);

// ---- filter expressions --------------------------------------------------------------

enum class Op : uint8_t {
  kAll,  // matches every id of the universe
  kAclAny,
  kTagsAny,
  kTagsAll,
  kEq,
  kIn,
  kRange,
  kExists,
  kAnd,
  kOr,
  kNot,
};

struct Expr {
  Op op = Op::kAll;
  std::string field;                 // eq / in / range / exists
  std::vector<std::string> strings;  // acl_any / tags_any / tags_all
  std::vector<Value> values;         // eq (one) / in (many)
  Value lower, upper;                // range bounds (monostate = open)
  bool lower_inclusive = true, upper_inclusive = true;
  std::vector<Expr> children;  // and / or (any number) / not (one)

  // Factories. They validate their arguments and throw InvalidInput.
  static Expr all();
  static Expr acl_any(std::vector<std::string> principals);
  static Expr tags_any(std::vector<std::string> tags);
  static Expr tags_all(std::vector<std::string> tags);
  static Expr eq(std::string field, Value v);
  static Expr in(std::string field, std::vector<Value> vs);
  static Expr range(std::string field, Value lower, bool lower_inclusive, Value upper, bool upper_inclusive);
  static Expr exists(std::string field);
  static Expr and_(std::vector<Expr> children);
  static Expr or_(std::vector<Expr> children);
  static Expr not_(Expr child);
};

// ---- the attribute store ---------------------------------------------------------------

// One document's attributes.
struct Attributes {
  std::vector<std::string> acl;
  std::vector<std::string> tags;
  std::vector<std::pair<std::string, Value>> fields;  // names unique; values not monostate
};

class AttributeStore {
 public:
  // Throws InvalidInput when `a` cannot be stored (a field given twice, a None value).
  static void validate(const Attributes& a);
  // Replaces every attribute of `id` (the store grows to hold it).
  void set(uint32_t id, const Attributes& a);
  // Removes every attribute of `id`.
  void clear(uint32_t id);
  // The attributes of `id` (empty when none were set).
  [[nodiscard]] Attributes get(uint32_t id) const;
  // Number of ids the store has room for (max id set + 1).
  [[nodiscard]] std::size_t size() const noexcept { return rows_.size(); }

  // Evaluates `e` over the ids of `universe`: the result is a subset of it.
  [[nodiscard]] Selection evaluate(const Expr& e, const Bitset& universe) const;

  // Binary form (for index files). `read` throws IndexFileCorrupt on bad input.
  void write(std::string& out) const;
  static AttributeStore read(std::string_view& in);

 private:
  using Postings = std::vector<uint32_t>;  // sorted, unique
  struct Dict {
    std::unordered_map<std::string, uint32_t> codes;
    std::vector<Postings> postings;
    std::vector<std::string> names;  // by code
    uint32_t intern(const std::string& s);
    [[nodiscard]] const Postings* find(const std::string& s) const;
  };
  struct Field {
    Dict strings;
    Postings bool_true, bool_false;
    std::vector<int64_t> ints;  // valid where has_int
    std::vector<double> doubles;  // valid where has_double
    Bitset has_int, has_double, present;
  };
  // What one id holds, to undo it on set/clear.
  struct Row {
    std::vector<uint32_t> acl, tags;  // codes
    std::vector<std::pair<uint32_t, Value>> fields;  // field code -> value
  };

  Bitset leaf(const Expr& e, std::size_t n) const;
  Bitset eval(const Expr& e, const Bitset& universe) const;
  [[nodiscard]] const Field* field(const std::string& name) const;
  void ensure(uint32_t id);

  Dict acl_, tags_;
  std::unordered_map<std::string, uint32_t> field_codes_;
  std::vector<std::string> field_names_;
  std::vector<Field> fields_;
  std::vector<Row> rows_;
};

}  // namespace covekit::filter
