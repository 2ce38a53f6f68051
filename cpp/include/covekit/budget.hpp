// Packing items into a token budget: which pieces of context a request carries.
//
// Each item has a token count, a utility, a section, an optional group (a document) and
// flags: required, or truncatable from the start or the end down to `min_keep` tokens
// (a truncated item keeps utility * kept / tokens). Sections have a priority, a minimum
// and a maximum of tokens, and an overhead charged once when they hold any item (a
// chat message's framing, a header). A group holds at most `group_cap` items.
//
// The objective is lexicographic over priority levels (a lower number is filled
// first): the packer maximises the utility of the first level, then of the next, and so
// on. Section minimums are reservations: a section takes at least
// min(min_tokens, overhead + all of its items) tokens, whatever its priority.
//
// `pack` never returns a selection over the budget, a section over its maximum or
// under its (effective) minimum, or a group over its cap; when the required items or
// the minimums cannot fit it throws BudgetExceeded with the numbers. Up to
// `exact_limit` optional items it returns the exact optimum (branch and bound from the
// greedy solution; `exact` says whether the search finished within `node_limit`).
// Above that it runs a density greedy and a score greedy, each followed by a fill of
// truncatable items and a repair pass of improving swaps, and returns the better one:
// never worse than greedy by score.
#pragma once

#include <cstdint>
#include <limits>
#include <span>
#include <string>
#include <vector>

#include "covekit/errors.hpp"

namespace covekit::budget {

// Required items, or section minimums, that cannot fit. `needed` and `available` are
// tokens; the message names the section or items that needed the room.
class BudgetExceeded : public InvalidInput {
 public:
  enum class Cause : uint8_t { kRequired, kMinimum };
  BudgetExceeded(const std::string& what, int64_t needed, int64_t available, Cause cause)
      : InvalidInput(what), needed_(needed), available_(available), cause_(cause) {}
  [[nodiscard]] int64_t needed() const noexcept { return needed_; }
  [[nodiscard]] int64_t available() const noexcept { return available_; }
  // kRequired: the required items (or their section's max_tokens); kMinimum: a
  // section minimum that no selection meets
  [[nodiscard]] Cause cause() const noexcept { return cause_; }

 private:
  int64_t needed_;
  int64_t available_;
  Cause cause_;
};

enum Flag : uint8_t {
  kRequired = 1,        // must be in the selection (truncated down to min_keep at most)
  kTruncateStart = 2,   // may lose tokens from its start (history: keep the latest)
  kTruncateEnd = 4,     // may lose tokens from its end
};

struct Section {
  int32_t priority = 0;  // lower is filled first
  int64_t min_tokens = 0;
  int64_t max_tokens = std::numeric_limits<int64_t>::max();
  int64_t overhead = 0;  // charged once when the section holds any item
  std::string name;      // for messages ("section 3" when empty)
};

// The input, as views over caller-owned arrays (numpy arrays from Python, no copy).
// `section[i]` indexes `sections`; `group[i]` is -1 (no group) or in [0, num_groups).
// `section`, `group`, `flags` and `min_keep` may be empty: every item in section 0, in
// no group, with no flags, keeping at least 1 token when truncatable. `num_groups` -1:
// one more than the largest group.
struct Problem {
  std::span<const int64_t> tokens;
  std::span<const double> utility;
  std::span<const int32_t> section;
  std::span<const int32_t> group;
  std::span<const uint8_t> flags;
  std::span<const int64_t> min_keep;
  std::vector<Section> sections;
  int64_t budget = 0;
  int64_t group_cap = 0;  // items per group at most; 0: no cap
  int32_t num_groups = -1;
  int32_t exact_limit = 24;      // optional items up to which the optimum is searched
  int64_t node_limit = 2000000;  // branch-and-bound nodes before settling for the best found
};

// Why an item is out of the selection.
enum class Status : uint8_t {
  kKept = 0,
  kOverBudget = 1,    // it did not fit the budget
  kGroupCap = 2,      // its group already holds group_cap items
  kSectionFull = 3,   // its section is at max_tokens
};

struct Selection {
  std::vector<int64_t> kept;      // tokens kept per item (0: out; < tokens: truncated)
  std::vector<uint8_t> status;    // Status per item
  std::vector<int64_t> section_tokens;  // per section, overhead included
  std::vector<double> level_utility;    // per priority level, in priority order
  std::vector<int32_t> levels;          // the distinct priorities, ascending
  int64_t total = 0;                    // tokens of the selection, overheads included
  double utility = 0.0;                 // sum over the levels
  bool exact = false;                   // proven optimal
  int64_t nodes = 0;                    // branch-and-bound nodes visited (0: greedy)
  std::string method;                   // "exact", "exact-partial", "density", "score"
};

// Validates `p` (throws InvalidInput naming the first bad value) and packs it.
[[nodiscard]] Selection pack(const Problem& p);

// Greedy by score alone (required items, section minimums, then items by priority
// level and descending utility, each whole if it fits): the baseline `pack` never
// falls below. Exposed for tests and benchmarks.
[[nodiscard]] Selection greedy_by_score(const Problem& p);

// True when a's level utilities are lexicographically greater than b's (with a small
// relative tolerance).
[[nodiscard]] bool lex_better(std::span<const double> a, std::span<const double> b) noexcept;

}  // namespace covekit::budget
