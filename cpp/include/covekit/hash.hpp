// XXH3 hashing: the basis of every stable id in covekit (chunk ids, cache keys,
// index versions). The values equal those of the reference xxHash library.
#pragma once

#include <cstdint>
#include <string_view>

namespace covekit::hash {

struct Hash128 {
  uint64_t low;
  uint64_t high;
  friend bool operator==(const Hash128&, const Hash128&) = default;
};

// XXH3-64 of `data` with `seed` (seed 0 is the canonical XXH3_64bits).
[[nodiscard]] uint64_t xxh3_64(std::string_view data, uint64_t seed = 0) noexcept;

// XXH3-128 of `data` with `seed`.
[[nodiscard]] Hash128 xxh3_128(std::string_view data, uint64_t seed = 0) noexcept;

}  // namespace covekit::hash
