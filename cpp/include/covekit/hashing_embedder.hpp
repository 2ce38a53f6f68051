// A text embedder with no weights: signed feature hashing (XXH3) of word unigrams, word
// bigrams and character n-grams into a fixed number of dimensions, with sub-linear term
// weighting, an optional idf fitted on a corpus, and L2 normalization.
//
// Features of a text (after simple case folding, casefold.hpp):
//   * words: maximal runs of letters, digits and marks (\p{L} \p{N} \p{M}); every Han,
//     Hiragana or Katakana character is a word of its own (so CJK text gets character
//     unigrams and, as "word bigrams", character bigrams);
//   * word bigrams: adjacent words;
//   * character n-grams: n consecutive code points of "<word>" (the word with boundary
//     markers), for n in [char_ngram_min, char_ngram_max]; and in Han/kana text, each
//     pair of adjacent characters (CJK has no spaces, so character bigrams stand in for
//     words there).
// Each distinct feature f with count tf gets the weight (1 + ln tf) * idf(f), where
// idf(f) = ln((1 + N) / (1 + df(f))) + 1 after fit() on N documents, and 1 before. Each
// group (words, bigrams, character n-grams) is scaled to an L2 norm of its group weight,
// then every feature adds +-weight to dimension h % dim of its 64-bit hash h (the sign is
// the top bit of h), and the vector is L2-normalized. A text without features (empty,
// spaces, punctuation only) embeds to the zero vector.
//
// Determinism: the features, hashes (seeded XXH3-64) and summation order are fixed, the
// arithmetic is done in double and rounded to float once, so a text gets the same vector
// in every run, thread count and batch position (and on every platform whose libm log is
// correctly rounded, as glibc's is).
//
// Thread safety: embed* and the accessors are safe from many threads at once, also while
// another thread runs fit() (which builds the new table, then swaps it in).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace covekit::embed {

struct HashingOptions {
  uint32_t dim = 384;            // 1 .. kMaxDim
  bool word_unigrams = true;
  bool word_bigrams = false;
  uint32_t char_ngram_min = 3;   // 0 with char_ngram_max 0: no character n-grams
  uint32_t char_ngram_max = 5;   // <= kMaxCharNgram
  bool lowercase = true;         // simple case folding before anything else
  uint64_t seed = 0;
  float word_weight = 0.25f;     // each >= 0, finite; at least one used group > 0
  float bigram_weight = 0.25f;
  float char_weight = 1.0f;
};

inline constexpr uint32_t kMaxDim = 1u << 20;
inline constexpr uint32_t kMaxCharNgram = 16;

// Kind of a feature (HashingEmbedder::features).
enum class FeatureKind : uint8_t { word = 0, bigram = 1, char_ngram = 2 };

struct Feature {
  FeatureKind kind;
  uint64_t hash;      // seeded XXH3-64 of the feature
  uint32_t index;     // hash % dim
  float weight;       // signed contribution before the final normalization
  uint32_t count;     // term frequency in the text
};

// Document frequencies fitted on a corpus: an open-addressing table keyed by feature hash.
class IdfTable {
 public:
  IdfTable() = default;
  IdfTable(uint64_t documents, std::vector<std::pair<uint64_t, uint32_t>> sorted_df);

  [[nodiscard]] double idf(uint64_t hash) const noexcept;
  [[nodiscard]] uint64_t documents() const noexcept { return documents_; }
  [[nodiscard]] std::size_t size() const noexcept { return sorted_.size(); }
  [[nodiscard]] const std::vector<std::pair<uint64_t, uint32_t>>& entries() const noexcept { return sorted_; }

 private:
  uint64_t documents_ = 0;
  std::vector<std::pair<uint64_t, uint32_t>> sorted_;  // (hash, df), strictly increasing hash
  struct Slot {
    uint64_t key = 0;  // 0: empty
    float idf = 0.0f;
  };
  std::vector<Slot> slots_;                            // open addressing, one cache line per probe
  uint64_t mask_ = 0;
  float zero_key_idf_ = 0.0f;                          // idf of the feature whose hash is 0
  bool has_zero_key_ = false;
  float unseen_idf_ = 1.0f;
};

namespace detail {
struct EmbedScratch;  // per-thread buffers (hashing_embedder.cpp)
}  // namespace detail

class HashingEmbedder {
 public:
  // Validates the options (InvalidInput with what to change).
  explicit HashingEmbedder(HashingOptions options = {});

  HashingEmbedder(const HashingEmbedder&) = delete;
  HashingEmbedder& operator=(const HashingEmbedder&) = delete;

  [[nodiscard]] const HashingOptions& options() const noexcept { return options_; }
  [[nodiscard]] uint32_t dim() const noexcept { return options_.dim; }

  // The vector of `text` into `out` (exactly dim() floats). Invalid UTF-8 bytes count as
  // separators (the bindings pass valid UTF-8).
  void embed(std::string_view text, std::span<float> out) const;

  // The vectors of `texts` into `out` (texts.size() * dim() floats, row-major), on up to
  // `num_threads` threads (0: one per hardware thread); small batches run inline. An
  // exception on a worker stops the others and is rethrown here.
  void embed_batch(std::span<const std::string_view> texts, std::span<float> out,
                   unsigned num_threads = 0) const;

  // The distinct features of `text`, in the order they are summed.
  [[nodiscard]] std::vector<Feature> features(std::string_view text) const;

  // Fits document frequencies on `texts` (replacing any previous fit); features seen in
  // fewer than `min_df` texts are dropped (they get the idf of an unseen feature).
  void fit(std::span<const std::string_view> texts, unsigned num_threads = 0, uint32_t min_df = 1);
  // Forgets the fit (idf 1 for every feature).
  void clear_fit();

  [[nodiscard]] bool fitted() const;
  [[nodiscard]] uint64_t fitted_documents() const;
  [[nodiscard]] std::size_t vocabulary_size() const;

  // The whole state (options and fit) as bytes, with a checksum, and back. from_bytes
  // throws EmbedderStateCorrupt for bytes that are truncated, altered or of another format.
  [[nodiscard]] std::string to_bytes() const;
  [[nodiscard]] static std::unique_ptr<HashingEmbedder> from_bytes(std::string_view bytes);

  // XXH3-64 of the state: equal fingerprints, equal vectors for every text.
  [[nodiscard]] uint64_t fingerprint() const;

  // Format version of to_bytes().
  static constexpr uint32_t kFormatVersion = 1;

 private:
  [[nodiscard]] std::shared_ptr<const IdfTable> table() const;
  void collect(std::string_view text, const IdfTable* idf, detail::EmbedScratch& scratch) const;
  void embed_one(std::string_view text, const IdfTable* idf, std::span<float> out,
                 detail::EmbedScratch& scratch) const;
  void distinct_hashes(std::string_view text, detail::EmbedScratch& scratch, std::vector<uint64_t>& out) const;
  void tokenize(std::string_view text, detail::EmbedScratch& scratch) const;
  void refresh_fingerprint_locked();

  HashingOptions options_;
  uint64_t seed_word_ = 0, seed_bigram_ = 0, seed_char_ = 0, seed_cjk_ = 0;
  mutable std::mutex mutex_;                 // guards idf_ (the pointer, not the table) and fingerprint_
  std::shared_ptr<const IdfTable> idf_;      // null: not fitted
  uint64_t fingerprint_ = 0;
};

}  // namespace covekit::embed
