// Block structure of (markdown) text for the chunker, in one pass over the lines:
// ATX and setext headings (with their nesting, for heading paths), fenced code
// blocks, list items (nested by indentation), table rows, blank-line paragraphs and
// soft line breaks; then the sentence and word boundaries of segment.hpp inside prose.
//
// With `markdown = false` every line is prose: blank lines separate paragraphs and
// single newlines are soft line breaks.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

#include "covekit/segment.hpp"

namespace covekit::markdown {

struct Heading {
  uint32_t pos;          // first byte of the heading's block: it applies from here on
  uint32_t text_begin;   // the title, without markers and surrounding whitespace
  uint32_t text_end;
  uint8_t depth;         // 1..6
};

struct Structure {
  std::vector<segment::Boundary> boundaries;  // increasing positions, one per position
  std::vector<Heading> headings;              // in document order
};

// `text` must be valid UTF-8 shorter than 4 GiB.
[[nodiscard]] Structure analyze(std::string_view text, bool markdown);

}  // namespace covekit::markdown
