// Memory for large lookup tables that are read at random (the tokenizer's trie, merge
// and byte tables, the vector index's arrays): a std::allocator replacement that aligns
// big blocks to 2 MiB and asks Linux for transparent huge pages on them
// (madvise(MADV_HUGEPAGE), which works when THP is "madvise", the default of most
// distributions). A random lookup in a table of several MB then costs a cache miss but
// rarely a TLB miss as well: with 4 KiB pages a 12 MB table spans 3,000 pages, more
// than the second-level TLB holds.
//
// Small blocks, and systems without THP, get ordinary memory; the advice is a hint and
// never changes results. A block rounded up to whole huge pages wastes at most 2 MiB, so
// only blocks of at least one huge page get it.
#pragma once

#include <cstddef>
#include <cstdlib>
#include <new>
#include <vector>

namespace covekit {

inline constexpr std::size_t kHugePageBytes = std::size_t{2} << 20;
inline constexpr std::size_t kHugeMinBytes = kHugePageBytes;

// Allocates `bytes` (> 0) aligned to `align` (a power of two); huge-page advice for
// blocks of at least kHugeMinBytes. Throws std::bad_alloc. Free with huge_free.
[[nodiscard]] void* huge_alloc(std::size_t bytes, std::size_t align);
void huge_free(void* p) noexcept;

template <class T>
struct HugePageAllocator {
  using value_type = T;

  HugePageAllocator() noexcept = default;
  template <class U>
  HugePageAllocator(const HugePageAllocator<U>&) noexcept {}  // NOLINT(google-explicit-constructor)

  [[nodiscard]] T* allocate(std::size_t n) {
    if (n > static_cast<std::size_t>(-1) / sizeof(T)) throw std::bad_array_new_length();
    return static_cast<T*>(huge_alloc(n * sizeof(T) + (n == 0), alignof(T)));
  }
  void deallocate(T* p, std::size_t) noexcept { huge_free(p); }

  template <class U>
  friend bool operator==(const HugePageAllocator&, const HugePageAllocator<U>&) noexcept {
    return true;
  }
};

// A vector whose storage gets huge pages once it is big enough.
template <class T>
using huge_vector = std::vector<T, HugePageAllocator<T>>;

}  // namespace covekit
