// Token-exact chunking of UTF-8 text.
//
// The document is encoded once, in context, with byte offsets; boundaries (sections,
// blocks, list items, sentences, words, token boundaries: segment.hpp/markdown.hpp)
// are found in one more pass. Each chunk is then chosen from its start: the strongest
// boundary level whose first unit fits is used, and the chunk extends to the furthest
// boundary of that level (or a stronger one) that still fits, without crossing the end
// of the unit of the level above (so a chunk that packs the sentences of an oversized
// paragraph stops at the paragraph's end). Packing uses the in-context token counts as
// an estimate; every chunk is then counted exactly, on its own text alone, and a chunk
// over the limit is chosen again with a budget lowered by the excess, until it fits.
//
// Invariants (for every strategy and input):
//   - count_ordinary(chunk text) <= max_tokens;
//   - chunks are non-empty, not whitespace-only, in document order;
//   - without overlap, only whitespace lies between consecutive chunks, and none before
//     the first or after the last (the token strategy keeps whitespace inside windows);
//   - with overlap_tokens = k, each chunk after the first starts at the start of the
//     k-th last document token (in-context tokenization) that starts inside its
//     predecessor, moved back to the nearest character boundary; when the predecessor
//     has k tokens or fewer it starts where the predecessor starts; when the overlap
//     leaves no room for new text within max_tokens, it is shortened token by token;
//   - deterministic.
//
// Special-token text ("<|endoftext|>") is counted as ordinary text.
//
// Thread safety: a Chunker is immutable; chunk() may be called from many threads.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "covekit/tokenizer.hpp"

namespace covekit::chunking {

enum class Strategy : uint8_t { kRecursive, kToken, kSentence, kSemantic };

// Parses "recursive", "token", "sentence" or "semantic"; throws InvalidInput otherwise.
[[nodiscard]] Strategy parse_strategy(std::string_view name);
[[nodiscard]] const char* strategy_name(Strategy s) noexcept;

struct Options {
  std::size_t max_tokens = 512;
  std::size_t overlap_tokens = 0;      // recursive, token, semantic
  std::size_t overlap_sentences = 0;   // sentence
  Strategy strategy = Strategy::kRecursive;
  bool markdown = true;                // parse markdown structure (recursive)
  // With overlap_tokens: start each overlap at the strongest boundary (sentence, then
  // word, then token) inside the predecessor's last overlap_tokens tokens, instead of
  // exactly overlap_tokens tokens back. The overlap is then at most overlap_tokens.
  bool overlap_at_boundary = false;
};

// Throws InvalidInput, saying what to change, for impossible settings.
void validate(const Options& o);

struct Chunk {
  uint32_t begin = 0;          // byte offsets into the text
  uint32_t end = 0;
  uint64_t start = 0;          // code point offsets (Python str indices)
  uint64_t stop = 0;
  uint32_t token_count = 0;    // exact, of the chunk's text alone
  uint32_t heading_path = 0;   // index into ChunkResult::heading_paths
  uint64_t id = 0;             // chunk_id(doc_id, start, stop, text)
};

struct ChunkResult {
  std::vector<Chunk> chunks;
  // Each heading path is a list of titles (byte spans of the text), outermost first.
  // Path 0 is the empty path.
  std::vector<std::vector<std::pair<uint32_t, uint32_t>>> heading_paths;
};

// XXH3-64 of doc_id, 0x00, start and stop (8 bytes little-endian each), then the text.
[[nodiscard]] uint64_t chunk_id(std::string_view doc_id, uint64_t start, uint64_t stop, std::string_view text);

// Code point index of each byte offset in `byte_offsets` (any order; each offset must be
// a character boundary of valid UTF-8 `text`). One pass over the text when sorted.
void byte_to_char(std::string_view text, std::span<const uint32_t> byte_offsets, std::vector<uint64_t>& out);
// Byte offset of each code point index (sorted ascending, each <= the text's length).
// Throws InvalidInput for an index past the end.
void char_to_byte(std::string_view text, std::span<const uint64_t> char_offsets, std::vector<uint32_t>& out);

class Chunker {
 public:
  // `tokenizer` must outlive the Chunker. Throws InvalidInput for bad options.
  Chunker(const Tokenizer& tokenizer, Options options);

  [[nodiscard]] const Options& options() const noexcept { return opts_; }
  [[nodiscard]] const Tokenizer& tokenizer() const noexcept { return tok_; }

  // Chunks valid UTF-8 `text` (< 4 GiB). `breaks` (byte offsets, ascending) are hard
  // boundaries no chunk crosses (the semantic strategy's breakpoints). Throws
  // InvalidInput when a single character needs more than max_tokens tokens.
  [[nodiscard]] ChunkResult chunk(std::string_view text, std::string_view doc_id,
                                  std::span<const uint32_t> breaks = {}) const;
  // The same, with a tokenizer scratch (tokenizer().make_scratch()) reused across the
  // documents of a batch on one thread: pieces seen in one document are memoized for the
  // next. Results are identical.
  [[nodiscard]] ChunkResult chunk(std::string_view text, std::string_view doc_id, std::span<const uint32_t> breaks,
                                  Tokenizer::Scratch& scratch) const;

  // Byte spans of the sentences (and headings, list items, table rows, code lines) of
  // `text`, the units of the sentence and semantic strategies.
  [[nodiscard]] std::vector<std::pair<uint32_t, uint32_t>> sentences(std::string_view text) const;

 private:
  const Tokenizer& tok_;
  Options opts_;
  SpecialPolicy ordinary_;
};

}  // namespace covekit::chunking
