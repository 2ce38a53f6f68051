// Grounding: the sentence scorer of the extractive answerer, and the support of an
// answer's sentences by the passages they cite.
//
// Terms are the analyzer's (analyzer.hpp: words, CJK bigrams, lowercase, Porter), with
// Lucene's English stopwords except "no" and "not" (a negation changes a claim).
// Sentences are the chunker's sentence units (markdown.hpp / segment.hpp: sentences,
// headings, list items, table rows, code lines), trimmed.
//
// Ranking (rank): every sentence of every passage is scored against the question:
//   overlap(s) = |Q ∩ T(s)| / |Q|, Q the question's distinct terms, T(s) the sentence's;
//   bm25(s)    = Lucene's BM25 (bm25.hpp, same formula) over the set of sentences as
//                the collection (N = sentences with a term, df over sentences);
//   score(s)   = w * overlap(s) + (1 - w) * bm25(s) / max bm25   (w = overlap_weight;
//                the bm25 part is 0 when no sentence matches).
// Best first; ties by position (passage, then offset).
//
// Support (support): for each sentence of an answer (a sentence that is only citation
// markers is merged into the one before it), with A its distinct terms (markers left
// out) and B its distinct bigrams of consecutive terms, against a passage P:
//   unigram = |A ∩ T(P)| / |A|,  bigram = |B ∩ bigrams(P)| / |B|,
//   support = (unigram + bigram) / 2, or unigram when B is empty, or 1 when A is empty
//             (nothing to check);
// the sentence's support is the best over its candidate passages: those its markers
// cite; a sentence without markers is checked against every passage the answer cites
// (every passage when it cites none). Markers that name no passage are dangling.
// Quotes ("..." and “...”, not across a blank line) are verbatim when their text, with
// markers removed and whitespace runs collapsed to one space, occurs in a candidate
// passage (whitespace collapsed the same way) exactly.
//
// Thread safety: a Grounder is immutable; rank and support may run from many threads.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

#include "covekit/analyzer.hpp"

namespace covekit::grounding {

struct Span {
  uint32_t begin = 0;  // bytes
  uint32_t end = 0;
  uint64_t start = 0;  // code points (Python str indices)
  uint64_t stop = 0;
};

struct Options {
  double k1 = 1.2;
  double b = 0.75;
  double overlap_weight = 0.5;
};

struct RankedSentence {
  uint32_t passage = 0;
  Span span;           // into that passage
  double score = 0;
  double bm25 = 0;
  double overlap = 0;
  uint32_t terms = 0;  // terms of the sentence (with repeats)
};

// A citation marker "[n]" or one number of a list "[n, m]" (all share the list's span).
struct Marker {
  Span span;
  int64_t value = 0;
};

struct SentenceSupport {
  Span span;
  std::vector<int64_t> markers;  // distinct, in order of appearance
  double support = 0;
  double unigram = 0;
  double bigram = 0;
  int64_t source = -1;   // marker of the best passage, -1 when none
  uint32_t terms = 0;    // distinct terms
};

struct Quote {
  Span span;               // the text between the quote marks
  uint32_t sentence = 0;   // index of the sentence it starts in
  bool verbatim = false;
  int64_t source = -1;     // marker of the first passage that holds it
};

struct SupportResult {
  std::vector<SentenceSupport> sentences;
  std::vector<Quote> quotes;
  std::vector<int64_t> dangling;  // distinct, in order of first appearance
};

// The default analyzer: Porter, CJK bigrams, English stopwords but "no" and "not".
[[nodiscard]] analysis::Analyzer default_analyzer();

// Sentence units of valid UTF-8 text (< 4 GiB), in order, trimmed, non-empty.
// Throws InvalidUtf8 / InvalidInput.
[[nodiscard]] std::vector<Span> sentences(std::string_view text);

// Citation markers of valid UTF-8 text: "[n]" and "[n, m, ...]" with n of 1 to 9 digits.
[[nodiscard]] std::vector<Marker> markers(std::string_view text);

class Grounder {
 public:
  // Throws InvalidInput unless k1 >= 0, 0 <= b <= 1 and 0 <= overlap_weight <= 1.
  explicit Grounder(Options options = {}, analysis::Analyzer analyzer = default_analyzer());

  // Every sentence of the passages, best first (top_k of them; 0: all).
  [[nodiscard]] std::vector<RankedSentence> rank(std::string_view question, std::span<const std::string_view> passages,
                                                 std::size_t top_k = 0) const;

  // The support of each sentence of `answer` by `passages`, passage i being cited as
  // markers[i] (sizes must match, markers distinct; else InvalidInput).
  [[nodiscard]] SupportResult support(std::string_view answer, std::span<const std::string_view> passages,
                                      std::span<const int64_t> markers) const;

  [[nodiscard]] const Options& options() const noexcept { return options_; }
  [[nodiscard]] const analysis::Analyzer& analyzer() const noexcept { return analyzer_; }

 private:
  Options options_;
  analysis::Analyzer analyzer_;
};

}  // namespace covekit::grounding
