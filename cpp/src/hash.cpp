#include "covekit/hash.hpp"

#define XXH_INLINE_ALL
#include <xxhash.h>

namespace covekit::hash {

uint64_t xxh3_64(std::string_view data, uint64_t seed) noexcept {
  return XXH3_64bits_withSeed(data.data(), data.size(), seed);
}

Hash128 xxh3_128(std::string_view data, uint64_t seed) noexcept {
  const XXH128_hash_t h = XXH3_128bits_withSeed(data.data(), data.size(), seed);
  return {h.low64, h.high64};
}

}  // namespace covekit::hash
