// Audited repair of malformed JSON written by language models.
//
// repair() turns a model's output into one valid JSON text and lists every change it
// made (kind, span in the input, message, whether it is lossless). Text that is already
// valid JSON is returned unchanged with no repairs (simdjson validates it first). What
// cannot be repaired without guessing data (a missing value, NaN/Infinity, duplicate
// keys, a key cut off before its value, ...) throws covekit::RepairError listing the
// problems; nothing is silently changed. docs/json-repair.md has the decision table.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace covekit::json_repair {

enum class Multiple {
  kFirst,  // the first JSON value; later ones are dropped (recorded, not lossless)
  kAll,    // every JSON value, as one JSON array
};

struct Options {
  bool strict = false;  // throw RepairError for any repair that is not lossless
  Multiple multiple = Multiple::kFirst;
  std::size_t max_depth = 512;  // deeper nesting throws RepairError ("nesting_too_deep")
};

// One change made to the input. `start`/`end` count code points (Python str indices)
// into the input; `byte_start`/`byte_end` are the same span in UTF-8 bytes. An insertion
// has start == end. `kind` is one of the stable names listed in docs/json-repair.md.
struct Repair {
  const char* kind;
  std::size_t start;
  std::size_t end;
  std::size_t byte_start;
  std::size_t byte_end;
  std::string message;
  bool lossless;
};

struct Result {
  std::string text;              // the repaired JSON text
  std::vector<Repair> repairs;   // in input order; empty when the input was valid JSON
  bool unchanged = false;        // text is the input itself (valid JSON, multiple=kFirst)
  [[nodiscard]] bool lossless() const noexcept {
    for (const auto& r : repairs)
      if (!r.lossless) return false;
    return true;
  }
};

// Repairs `text` (UTF-8). Throws covekit::InvalidUtf8 for bytes that are not UTF-8 and
// covekit::RepairError when no repair exists without guessing data (or, with
// options.strict, when a repair would not be lossless). Thread-safe; no shared state.
[[nodiscard]] Result repair(std::string_view text, const Options& options = {});

// Whether `kind` is a repair that never changes or drops a value present in the input.
[[nodiscard]] bool is_lossless_kind(std::string_view kind) noexcept;

}  // namespace covekit::json_repair
