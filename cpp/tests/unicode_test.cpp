// Tests for covekit/unicode.hpp and the generated tables (Unicode 16.0.0, the
// version tiktoken 0.14's regex-syntax uses).
#include <gtest/gtest.h>

#include <cstdint>
#include <iterator>

#include "covekit/unicode.hpp"

namespace {

using namespace covekit::unicode;

constexpr uint8_t kLu = kLetter | kUpper;            // Lu, Lt
constexpr uint8_t kLl = kLetter | kLower;            // Ll
constexpr uint8_t kLo = kLetter | kUpper | kLower;   // Lm, Lo
constexpr uint8_t kM = kMark | kUpper | kLower;      // Mn, Mc, Me
constexpr uint8_t kN = kNumber;
constexpr uint8_t kS = kSpace;

struct Case {
  char32_t cp;
  uint8_t want;
  const char* what;
};

void ExpectAll(const Case* begin, const Case* end) {
  for (const Case* c = begin; c != end; ++c) {
    EXPECT_EQ(int{classify(c->cp)}, int{c->want})
        << "U+" << std::hex << std::uppercase << uint32_t{c->cp} << " " << c->what;
  }
}

TEST(Unicode, Version) { EXPECT_STREQ(kUnicodeVersion, "16.0.0"); }

TEST(Unicode, Ascii) {
  const Case cases[] = {
      {U'A', kLu, "A"},        {U'Z', kLu, "Z"},       {U'a', kLl, "a"},
      {U'z', kLl, "z"},        {U'0', kN, "0"},        {U'9', kN, "9"},
      {U' ', kS, "space"},     {U'\t', kS, "tab"},     {U'\n', kS, "LF"},
      {0x0B, kS, "VT"},        {0x0C, kS, "FF"},       {U'\r', kS, "CR"},
      {0x00, 0, "NUL"},        {0x1F, 0, "US"},        {0x7F, 0, "DEL"},
      {U'\'', 0, "apostrophe"}, {U'_', 0, "low line"}, {U'/', 0, "solidus"},
      {U'@', 0, "@"},          {U'[', 0, "["},         {U'`', 0, "`"},
      {U'{', 0, "{"},
  };
  ExpectAll(std::begin(cases), std::end(cases));
}

TEST(Unicode, AsciiFastPathMatchesTables) {
  for (char32_t cp = 0; cp < 0x80; ++cp) {
    EXPECT_EQ(int{classify(cp)}, int{detail::kStage2[std::size_t{detail::kStage1[0]} * 256 + cp]})
        << "U+" << std::hex << uint32_t{cp};
  }
}

TEST(Unicode, WhiteSpace) {
  const Case cases[] = {
      {0x0085, kS, "NEL (Cc)"},
      {0x00A0, kS, "NO-BREAK SPACE"},
      {0x1680, kS, "OGHAM SPACE MARK"},
      {0x2000, kS, "EN QUAD"},
      {0x200A, kS, "HAIR SPACE"},
      {0x2028, kS, "LINE SEPARATOR"},
      {0x2029, kS, "PARAGRAPH SEPARATOR"},
      {0x202F, kS, "NARROW NO-BREAK SPACE"},
      {0x205F, kS, "MEDIUM MATHEMATICAL SPACE"},
      {0x3000, kS, "IDEOGRAPHIC SPACE"},
      // Not White_Space:
      {0x200B, 0, "ZERO WIDTH SPACE (Cf)"},
      {0x180E, 0, "MONGOLIAN VOWEL SEPARATOR (Cf since 6.3)"},
      {0xFEFF, 0, "ZERO WIDTH NO-BREAK SPACE"},
      {0x001C, 0, "FILE SEPARATOR"},
  };
  ExpectAll(std::begin(cases), std::end(cases));
}

TEST(Unicode, Scripts) {
  const Case cases[] = {
      {0x00AA, kLo, "FEMININE ORDINAL INDICATOR (Lo)"},
      {0x00B2, kN, "SUPERSCRIPT TWO (No)"},
      {0x00BD, kN, "VULGAR FRACTION ONE HALF (No)"},
      {0x00DF, kLl, "SHARP S"},
      {0x0130, kLu, "CAPITAL I WITH DOT ABOVE"},
      {0x0131, kLl, "DOTLESS I"},
      {0x01C5, kLu, "Dz WITH CARON (Lt)"},
      {0x1F88, kLu, "GREEK ALPHA WITH PSILI AND PROSGEGRAMMENI (Lt)"},
      {0x0295, kLl, "PHARYNGEAL VOICED FRICATIVE (Ll until Unicode 17)"},
      {0x02B0, kLo, "MODIFIER LETTER SMALL H (Lm)"},
      {0x0301, kM, "COMBINING ACUTE ACCENT (Mn)"},
      {0x0903, kM, "DEVANAGARI SIGN VISARGA (Mc)"},
      {0x20DD, kM, "COMBINING ENCLOSING CIRCLE (Me)"},
      {0x03A3, kLu, "GREEK CAPITAL SIGMA"},
      {0x05D0, kLo, "HEBREW ALEF"},
      {0x0627, kLo, "ARABIC ALEF"},
      {0x0660, kN, "ARABIC-INDIC DIGIT ZERO (Nd)"},
      {0x06F0, kN, "EXTENDED ARABIC-INDIC DIGIT ZERO"},
      {0x0E01, kLo, "THAI KO KAI"},
      {0x1100, kLo, "HANGUL CHOSEONG KIYEOK"},
      {0x2070, kN, "SUPERSCRIPT ZERO (No)"},
      {0x2160, kN, "ROMAN NUMERAL ONE (Nl)"},
      {0x3041, kLo, "HIRAGANA SMALL A"},
      {0x30A2, kLo, "KATAKANA A"},
      {0x4E00, kLo, "CJK 4E00"},
      {0xAC00, kLo, "HANGUL SYLLABLE GA"},
      {0xFF10, kN, "FULLWIDTH DIGIT ZERO"},
      {0xFF21, kLu, "FULLWIDTH A"},
      {0xFF41, kLl, "FULLWIDTH a"},
      {0x10400, kLu, "DESERET CAPITAL LONG I"},
      {0x10428, kLl, "DESERET SMALL LONG I"},
      {0x1D7CE, kN, "MATHEMATICAL BOLD DIGIT ZERO"},
      {0x1F600, 0, "GRINNING FACE (So)"},
      {0x20000, kLo, "CJK EXT B 20000"},
      {0x31350, kLo, "CJK EXT H (Unicode 15.0)"},
      {0x2EBF0, kLo, "CJK EXT I (Unicode 15.1)"},
      {0x11F5A, kM, "KAWI SIGN NUKTA (Unicode 15.0)"},
      {0xE0100, kM, "VARIATION SELECTOR-17 (Mn)"},
      {0xE0001, 0, "LANGUAGE TAG (Cf)"},
  };
  ExpectAll(std::begin(cases), std::end(cases));
}

TEST(Unicode, NewInUnicode16) {
  const Case cases[] = {
      {0x0897, kM, "ARABIC PEPET (Mn)"},
      {0x1C89, kLu, "CYRILLIC CAPITAL TJE"},
      {0x1C8A, kLl, "CYRILLIC SMALL TJE"},
      {0xA7CB, kLu, "LATIN CAPITAL RAMS HORN"},
      {0xA7CD, kLl, "LATIN SMALL S WITH DIAGONAL STROKE"},
      {0x10D40, kN, "GARAY DIGIT ZERO"},
      {0x16D70, kN, "KIRAT RAI DIGIT ZERO"},
      {0x1E5D0, kLo, "OL ONAL LETTER O"},
  };
  ExpectAll(std::begin(cases), std::end(cases));
}

TEST(Unicode, NotYetAssignedInUnicode16) {
  // Assigned in Unicode 17, which tiktoken 0.14 does not know about.
  EXPECT_EQ(classify(0x088F), 0);  // ARABIC LETTER NOON WITH RING ABOVE (Lo in 17)
  EXPECT_EQ(classify(0x1ACF), 0);  // combining mark in 17
  EXPECT_EQ(classify(0x1AD0), 0);
}

TEST(Unicode, UnassignedSurrogatesPrivateUseAndOutOfRange) {
  EXPECT_EQ(classify(0x0378), 0);    // unassigned
  EXPECT_EQ(classify(0xD800), 0);    // surrogates
  EXPECT_EQ(classify(0xDBFF), 0);
  EXPECT_EQ(classify(0xDFFF), 0);
  EXPECT_EQ(classify(0xE000), 0);    // private use
  EXPECT_EQ(classify(0xF0000), 0);
  EXPECT_EQ(classify(0xFFFF), 0);    // noncharacters
  EXPECT_EQ(classify(0x10FFFE), 0);
  EXPECT_EQ(classify(0x10FFFF), 0);
  EXPECT_EQ(classify(0x110000), 0);  // out of range
  EXPECT_EQ(classify(0x7FFFFFFF), 0);
  EXPECT_EQ(classify(0xFFFFFFFF), 0);
}

// Invariants over every code point, plus per-class totals for Unicode 16.0.0
// (from unicodedata2 16.0.0): a wrong or partially generated table fails here.
TEST(Unicode, WholeRangeInvariantsAndCounts) {
  int letters = 0, numbers = 0, spaces = 0, marks = 0, upper = 0, lower = 0;
  for (char32_t cp = 0; cp <= kMaxCodePoint; ++cp) {
    const uint8_t c = classify(cp);
    ASSERT_EQ(c & ~0x3F, 0) << std::hex << uint32_t{cp};
    const int kinds = !!(c & kLetter) + !!(c & kNumber) + !!(c & kSpace) + !!(c & kMark);
    ASSERT_LE(kinds, 1) << std::hex << uint32_t{cp};
    if (c & kLetter) {
      ASSERT_NE(c & (kUpper | kLower), 0) << std::hex << uint32_t{cp};
    }
    if (c & kMark) {
      ASSERT_EQ(c, kM) << std::hex << uint32_t{cp};
    }
    if (c & (kNumber | kSpace)) {
      ASSERT_EQ(c & (kUpper | kLower), 0) << std::hex << uint32_t{cp};
    }
    if (c & (kUpper | kLower)) {
      ASSERT_NE(c & (kLetter | kMark), 0) << std::hex << uint32_t{cp};
    }
    letters += !!(c & kLetter);
    numbers += !!(c & kNumber);
    spaces += !!(c & kSpace);
    marks += !!(c & kMark);
    upper += !!(c & kUpper);
    lower += !!(c & kLower);
  }
  EXPECT_EQ(letters, 141028);
  EXPECT_EQ(numbers, 1911);
  EXPECT_EQ(spaces, 25);
  EXPECT_EQ(marks, 2501);
  EXPECT_EQ(upper, 141271);
  EXPECT_EQ(lower, 141640);
}

TEST(Unicode, Helpers) {
  EXPECT_TRUE(is_letter(U'x'));
  EXPECT_TRUE(is_letter(0x4E00));
  EXPECT_FALSE(is_letter(0x0301));
  EXPECT_TRUE(is_number(0x0660));
  EXPECT_FALSE(is_number(U'x'));
  EXPECT_TRUE(is_space(0x3000));
  EXPECT_FALSE(is_space(0x200B));
}

}  // namespace
