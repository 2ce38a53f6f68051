#include "covekit/utf8.hpp"

#include <gtest/gtest.h>

#include <string>

#include "covekit/errors.hpp"

using covekit::utf8::count_code_points;
using covekit::utf8::first_invalid;
using covekit::utf8::npos;

TEST(Utf8, ValidText) {
  EXPECT_EQ(first_invalid(""), npos);
  EXPECT_EQ(first_invalid("plain ascii text that is longer than eight bytes"), npos);
  EXPECT_EQ(first_invalid("h\xC3\xA9llo \xE4\xB8\xAD\xE6\x96\x87 \xF0\x9F\x98\x80"), npos);
  EXPECT_EQ(first_invalid("\xF4\x8F\xBF\xBF"), npos);  // U+10FFFF
}

TEST(Utf8, InvalidSequencesAreFoundAtTheirOffset) {
  EXPECT_EQ(first_invalid("abc\xFF"), 3u);
  EXPECT_EQ(first_invalid("ab\xC0\xAF"), 2u);          // overlong '/'
  EXPECT_EQ(first_invalid("\xE0\x80\xAF"), 0u);        // overlong
  EXPECT_EQ(first_invalid("x\xED\xA0\x80"), 1u);       // surrogate U+D800
  EXPECT_EQ(first_invalid("\xF4\x90\x80\x80"), 0u);    // above U+10FFFF
  EXPECT_EQ(first_invalid("12345678\xE4\xB8"), 8u);    // truncated at the end
  EXPECT_EQ(first_invalid("\x80"), 0u);                // lone continuation
  EXPECT_EQ(first_invalid("\xC3\x28"), 0u);            // bad continuation
}

TEST(Utf8, ValidateThrowsTypedError) {
  try {
    covekit::utf8::validate(std::string("ok\xFEno"));
    FAIL() << "no exception";
  } catch (const covekit::InvalidUtf8& e) {
    EXPECT_EQ(e.offset(), 2u);
    EXPECT_NE(std::string(e.what()).find("byte offset 2"), std::string::npos);
  }
  EXPECT_NO_THROW(covekit::utf8::validate("fine \xE2\x9C\x93"));
}

TEST(Utf8, CountsCodePointsLikePythonLen) {
  EXPECT_EQ(count_code_points(""), 0u);
  EXPECT_EQ(count_code_points("abc"), 3u);
  EXPECT_EQ(count_code_points("h\xC3\xA9" "\xF0\x9F\x98\x80"), 3u);
}
