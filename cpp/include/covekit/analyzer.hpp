// Text analysis for keyword search: text -> index terms.
//
// The default pipeline reproduces Lucene's EnglishAnalyzer (what Pyserini's BM25
// baselines use), so that BM25 figures are comparable:
//
//   1. word splitting, a simplification of Unicode word boundaries (UAX #29, Lucene's
//      StandardTokenizer): a word is a run of letters, digits and combining marks
//      (\p{L} \p{N} \p{M}); inside a word one of ' ’ . : · joins two letters
//      ("don't", "e.g"), one of , . ; ' ’ joins two digits ("3.14", "1,000"), and _
//      joins any two word characters. Words longer than 255 code points are cut into
//      pieces of 255, as Lucene does. Everything else separates words.
//   2. CJK (Han, Hiragana, Katakana, Hangul): each run of such characters gives its
//      overlapping character bigrams ("東京都" -> "東京", "京都"), or a single
//      character when the run has one (Lucene's CJKBigramFilter); with
//      `cjk_bigrams = false`, one term per character.
//   3. English possessive removal (a trailing 's / ’s), when stemming is Porter.
//   4. lowercase: Unicode simple lowercase mapping of every code point (Java's
//      Character.toLowerCase, i.e. Lucene's LowerCaseFilter), Unicode version of
//      the generated table in kLowercaseUnicodeVersion.
//   5. stopword removal (exact match after lowercasing).
//   6. Porter stemming (Porter's original algorithm, as Lucene's PorterStemFilter,
//      including its departures from the paper: "bli" -> "ble", "logi" -> "log").
//
// Thread safety: an Analyzer is immutable after construction; `analyze` is safe from
// many threads at once.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

namespace covekit::analysis {

enum class Stemmer : uint8_t { kNone = 0, kPorter = 1 };

struct AnalyzerOptions {
  bool lowercase = true;
  Stemmer stemmer = Stemmer::kPorter;
  bool cjk_bigrams = true;
  std::vector<std::string> stopwords;  // compared after lowercasing; UTF-8
};

// Lucene's English stop set (EnglishAnalyzer.ENGLISH_STOP_WORDS_SET), 33 words.
[[nodiscard]] const std::vector<std::string>& english_stopwords();

class Analyzer {
 public:
  // Defaults: lowercase, Porter, CJK bigrams, Lucene's English stopwords.
  Analyzer();
  // Throws InvalidInput for a stopword that is empty or not valid UTF-8.
  explicit Analyzer(AnalyzerOptions options);

  // Appends the terms of valid UTF-8 `text` to `out` (in text order, repeats kept).
  // Throws InvalidUtf8 for bytes that are not valid UTF-8.
  void analyze(std::string_view text, std::vector<std::string>& out) const;
  [[nodiscard]] std::vector<std::string> analyze(std::string_view text) const;

  [[nodiscard]] const AnalyzerOptions& options() const noexcept { return options_; }

 private:
  AnalyzerOptions options_;
  std::unordered_set<std::string> stop_;
};

// Porter stemmer (Lucene's PorterStemmer) applied to one lowercased word, in place.
// Works on code points; words of one or two code points are left alone.
void porter_stem(std::u32string& word);
// The same on a word of ASCII bytes (the common case, no decoding).
void porter_stem_ascii(std::string& word);

// Unicode simple lowercase of one code point.
[[nodiscard]] char32_t to_lower(char32_t cp) noexcept;

namespace detail {
struct CaseMapping {
  char32_t from;
  char32_t to;
};
extern const char kLowercaseUnicodeVersion[];
extern const std::size_t kLowercaseCount;
extern const CaseMapping kLowercase[];  // sorted by `from`
}  // namespace detail

}  // namespace covekit::analysis
