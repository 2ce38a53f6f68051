#include "covekit/pretokenize.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

using covekit::pretokenize::Pattern;

namespace {
std::vector<std::string> pieces(Pattern p, std::string_view text) {
  std::vector<std::string> out;
  covekit::pretokenize::split(p, text, [&](std::string_view piece) { out.emplace_back(piece); });
  return out;
}
using V = std::vector<std::string>;
}  // namespace

TEST(Pretokenize, Cl100k) {
  EXPECT_EQ(pieces(Pattern::kCl100k, "I'm   here\n"), (V{"I", "'m", "  ", " here", "\n"}));
  EXPECT_EQ(pieces(Pattern::kCl100k, "HE'LL 12345"), (V{"HE", "'LL", " ", "123", "45"}));
  EXPECT_EQ(pieces(Pattern::kCl100k, "x  \n\n  "), (V{"x", "  \n\n  "}));      // \s++$
  EXPECT_EQ(pieces(Pattern::kCl100k, "x \n y"), (V{"x", " \n", " y"}));        // \s*[\r\n]
  EXPECT_EQ(pieces(Pattern::kCl100k, "!!\n\nab"), (V{"!!\n\n", "ab"}));        // [\r\n]*+
  EXPECT_EQ(pieces(Pattern::kCl100k, "'\xC5\xBF"), (V{"'\xC5\xBF"}));          // 's with long s
  EXPECT_EQ(pieces(Pattern::kCl100k, ""), V{});
}

TEST(Pretokenize, R50k) {
  EXPECT_EQ(pieces(Pattern::kR50k, "I'M here  now"), (V{"I", "'", "M", " here", " ", " now"}));
  EXPECT_EQ(pieces(Pattern::kR50k, "abc123 456"), (V{"abc", "123", " 456"}));
  EXPECT_EQ(pieces(Pattern::kR50k, "a   "), (V{"a", "   "}));
}

TEST(Pretokenize, O200k) {
  EXPECT_EQ(pieces(Pattern::kO200k, "HelloWorld"), (V{"Hello", "World"}));
  EXPECT_EQ(pieces(Pattern::kO200k, "HELLO world's"), (V{"HELLO", " world's"}));
  EXPECT_EQ(pieces(Pattern::kO200k, "1234567"), (V{"123", "456", "7"}));
  EXPECT_EQ(pieces(Pattern::kO200k, "a//b\n\n"), (V{"a", "//", "b", "\n\n"}));
  EXPECT_EQ(pieces(Pattern::kO200k, "x \n\n y"), (V{"x", " \n\n", " y"}));
}

TEST(Pretokenize, PiecesTileTheText) {
  const std::string text = "Mixed: caf\xC3\xA9, \xE4\xB8\xAD\xE6\x96\x87, \xD8\xB9\xD8\xB1\xD8\xA8\xD9\x8A 42\t\r\n  x \xF0\x9F\x91\x8D\xF0\x9F\x8F\xBD";
  for (Pattern p : {Pattern::kR50k, Pattern::kCl100k, Pattern::kO200k}) {
    std::string joined;
    for (const auto& s : pieces(p, text)) {
      EXPECT_FALSE(s.empty());
      joined += s;
    }
    EXPECT_EQ(joined, text);
  }
}
