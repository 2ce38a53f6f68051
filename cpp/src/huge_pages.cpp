#include "covekit/huge_pages.hpp"

#include <cstdint>
#include <cstdlib>
#include <new>

#if defined(__linux__)
#include <sys/mman.h>
#endif

namespace covekit {

void* huge_alloc(std::size_t bytes, std::size_t align) {
  if (align < alignof(std::max_align_t)) align = alignof(std::max_align_t);
  if (bytes > SIZE_MAX - kHugePageBytes) throw std::bad_alloc();  // no room to round up
  void* p = nullptr;
#if defined(__linux__) && defined(MADV_HUGEPAGE)
  if (bytes >= kHugeMinBytes) {
    const std::size_t size = (bytes + kHugePageBytes - 1) / kHugePageBytes * kHugePageBytes;
    p = std::aligned_alloc(kHugePageBytes, size);
    if (p == nullptr) throw std::bad_alloc();
    // Only a hint: without THP (or with THP "never") the pages stay 4 KiB.
    (void)madvise(p, size, MADV_HUGEPAGE);
    return p;
  }
#endif
  bytes = (bytes + align - 1) / align * align;  // aligned_alloc wants a multiple
  p = std::aligned_alloc(align, bytes);
  if (p == nullptr) throw std::bad_alloc();
  return p;
}

void huge_free(void* p) noexcept { std::free(p); }

}  // namespace covekit
