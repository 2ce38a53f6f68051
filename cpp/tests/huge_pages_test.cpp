#include "covekit/huge_pages.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <numeric>

using covekit::huge_vector;
using covekit::kHugeMinBytes;
using covekit::kHugePageBytes;

namespace {

TEST(HugePages, SmallVectorsBehaveLikeStdVector) {
  huge_vector<uint32_t> v;
  for (uint32_t i = 0; i < 1000; ++i) v.push_back(i);
  EXPECT_EQ(v.size(), 1000u);
  EXPECT_EQ(std::accumulate(v.begin(), v.end(), uint64_t{0}), 999u * 1000u / 2);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(v.data()) % alignof(uint32_t), 0u);
  v.clear();
  v.shrink_to_fit();
  EXPECT_TRUE(v.empty());
  huge_vector<uint8_t> one(1, 7);
  EXPECT_EQ(one[0], 7);
}

TEST(HugePages, LargeBlocksAreAlignedToHugePagesAndUsable) {
  huge_vector<uint64_t> v(kHugeMinBytes / sizeof(uint64_t) + 3, 5);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(v.data()) % kHugePageBytes, 0u);
  v.back() = 9;
  EXPECT_EQ(v.front(), 5u);
  EXPECT_EQ(v.back(), 9u);
  huge_vector<uint64_t> moved = std::move(v);
  EXPECT_EQ(moved.back(), 9u);
  moved.resize(10);  // shrink_to_fit moves back to a small block
  moved.shrink_to_fit();
  EXPECT_EQ(moved.size(), 10u);
  EXPECT_EQ(moved[9], 5u);
}

TEST(HugePages, ImpossibleSizesThrow) {
  covekit::HugePageAllocator<uint64_t> a;
  EXPECT_THROW((void)a.allocate(SIZE_MAX / 4), std::bad_array_new_length);
}

}  // namespace
