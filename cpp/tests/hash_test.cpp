#include "covekit/hash.hpp"

#include <gtest/gtest.h>

#include <string>

using covekit::hash::xxh3_128;
using covekit::hash::xxh3_64;

// Reference values of the xxHash test suite / xxhsum.
TEST(Hash, Xxh3_64KnownValues) {
  EXPECT_EQ(xxh3_64(""), 0x2D06800538D394C2ULL);
  EXPECT_EQ(xxh3_64("", 0), xxh3_64(std::string_view()));
}

TEST(Hash, Xxh3_128KnownValues) {
  const auto h = xxh3_128("");
  EXPECT_EQ(h.high, 0x99AA06D3014798D8ULL);
  EXPECT_EQ(h.low, 0x6001C324468D497FULL);
}

TEST(Hash, SeedAndInputChangeTheValue) {
  EXPECT_NE(xxh3_64("a"), xxh3_64("b"));
  EXPECT_NE(xxh3_64("a", 1), xxh3_64("a", 2));
  EXPECT_EQ(xxh3_64("chunk-1"), xxh3_64(std::string("chunk-1")));
  std::string big(1 << 20, 'x');
  EXPECT_EQ(xxh3_64(big), xxh3_64(big));
  EXPECT_NE(xxh3_128(big), xxh3_128(big.substr(1)));
}
