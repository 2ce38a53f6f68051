// Byte-level BPE tokenizer that gives exactly tiktoken's token ids.
//
// Merging follows tiktoken's rule: repeatedly merge the adjacent pair whose
// concatenated bytes have the lowest rank (leftmost on ties), after first emitting a
// whole piece that is itself a token. Pair ranks are precomputed into a table keyed by
// the two token ids (exact, since a token's bytes determine it), and long pieces merge
// with a heap in O(n log n) instead of O(n^2). Non-ASCII pieces (few bytes per token,
// many merges) use a backtracking encoder over a trie of the vocabulary that gives the
// same tokens in about linear time; it is enabled only when the vocabulary passes a
// check at construction (every official encoding does), see tokenizer.cpp.
//
// Thread safety: a Tokenizer is immutable after construction; every const method is
// safe to call from many threads at once.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "covekit/huge_pages.hpp"
#include "covekit/pretokenize.hpp"

namespace covekit {

using Rank = uint32_t;
inline constexpr Rank kNoRank = UINT32_MAX;

// Parses the text of a `.tiktoken` file ("base64 rank" per line) into (bytes, rank)
// pairs. Throws TokenizerFileCorrupt naming the line for malformed content.
[[nodiscard]] std::vector<std::pair<std::string, Rank>> parse_tiktoken_bpe(std::string_view data);

// What encode does with the text of each special token.
enum class SpecialAction : uint8_t {
  kOrdinary,    // encode the text as ordinary text
  kAllowed,     // emit the special token
  kDisallowed,  // throw DisallowedSpecialToken
};

// One action per special token, in the order of Tokenizer::special_tokens().
struct SpecialPolicy {
  std::vector<SpecialAction> actions;
  bool any_allowed = false;
  bool any_disallowed = false;
};

class Tokenizer {
  struct Workspace;

 public:
  // Scratch space (the piece and pair memos) reused across many calls on one thread, so
  // that pieces seen by one call are found by the next: what the chunker does when it
  // encodes a document and then counts each chunk of it alone. Results are exactly those
  // of the calls without it. Made by make_scratch() and tied to that tokenizer; not
  // thread-safe (one per thread).
  class Scratch {
   public:
    Scratch(Scratch&&) noexcept;
    Scratch& operator=(Scratch&&) noexcept;
    ~Scratch();

   private:
    friend class Tokenizer;
    Scratch(const Tokenizer* owner, std::unique_ptr<Workspace> ws);
    const Tokenizer* owner_;
    std::unique_ptr<Workspace> ws_;
  };
  Tokenizer(std::vector<std::pair<std::string, Rank>> mergeable_ranks,
            std::vector<std::pair<std::string, Rank>> special_tokens, pretokenize::Pattern pattern,
            std::string name = "custom");
  Tokenizer(const Tokenizer&) = delete;  // holds views into its own special-token strings
  Tokenizer& operator=(const Tokenizer&) = delete;
  ~Tokenizer();

  [[nodiscard]] const std::string& name() const noexcept { return name_; }
  [[nodiscard]] pretokenize::Pattern pattern() const noexcept { return pattern_; }
  [[nodiscard]] std::size_t mergeable_count() const noexcept { return mergeable_count_; }
  [[nodiscard]] Rank max_token_value() const noexcept { return max_token_; }
  [[nodiscard]] const std::vector<std::pair<std::string, Rank>>& special_tokens() const noexcept {
    return specials_;
  }

  // Policies. `ordinary()` treats special-token text as text; `policy()` builds one
  // from the special tokens' indices in special_tokens().
  [[nodiscard]] SpecialPolicy ordinary_policy() const;

  // Encoding. `text` must be valid UTF-8 (callers validate untrusted bytes with
  // utf8::validate). Results are appended to `out`.
  void encode_ordinary(std::string_view text, std::vector<Rank>& out) const;
  void encode(std::string_view text, const SpecialPolicy& policy, std::vector<Rank>& out) const;
  [[nodiscard]] std::size_t count_ordinary(std::string_view text) const;

  // `size_hint`: about how many bytes will go through the scratch (sizes the memo).
  // `keep_long_pieces`: memoize long pieces too (they never repeat within one text, but
  // do when the same text comes back, as a document's chunks do).
  [[nodiscard]] Scratch make_scratch(std::size_t size_hint, bool keep_long_pieces = false) const;
  // The same as the calls without a scratch. Throw InvalidInput for another tokenizer's.
  [[nodiscard]] std::size_t count_ordinary(std::string_view text, Scratch& scratch) const;
  void encode_with_byte_offsets(std::string_view text, const SpecialPolicy& policy, std::vector<Rank>& out,
                                std::vector<std::size_t>& starts, Scratch& scratch) const;
  // BPE of one piece of pretokenize::split(pattern(), ...), memoized in the scratch:
  // for callers that split text themselves (the chunker keeps the piece boundaries).
  void encode_piece(std::string_view piece, std::vector<Rank>& out, Scratch& scratch) const;
  [[nodiscard]] std::size_t count_piece(std::string_view piece, Scratch& scratch) const;
  // Length in bytes of a token (0 for ids that are not tokens).
  [[nodiscard]] std::size_t token_length(Rank token) const noexcept {
    if (token > max_token_) return 0;
    const uint8_t kind = kind_[token];
    if (kind < kKindLong) return kind;  // 0 for ids that are not tokens
    if (kind == kKindLong) return offsets_[token + 1] - offsets_[token];
    return token_bytes_special_length(token);
  }

  // Many texts at once (policy nullptr = ordinary); memos are shared across the batch.
  void encode_many(std::span<const std::string_view> texts, const SpecialPolicy* policy,
                   std::vector<std::vector<Rank>>& out) const;
  void count_many(std::span<const std::string_view> texts, const SpecialPolicy* policy,
                  std::vector<std::size_t>& out) const;
  // The same with a scratch kept by the caller across batches (one per thread).
  void encode_many(std::span<const std::string_view> texts, const SpecialPolicy* policy,
                   std::vector<std::vector<Rank>>& out, Scratch& scratch) const;
  void count_many(std::span<const std::string_view> texts, const SpecialPolicy* policy,
                  std::vector<std::size_t>& out, Scratch& scratch) const;

  [[nodiscard]] std::size_t count(std::string_view text, const SpecialPolicy& policy) const;

  // Byte offset at which each token of encode(text, policy) starts.
  void encode_with_byte_offsets(std::string_view text, const SpecialPolicy& policy,
                                std::vector<Rank>& out, std::vector<std::size_t>& starts) const;

  // Byte length of the longest prefix of `text` that ends on a token boundary and on a
  // character boundary and encodes, on its own, to at most `max_tokens` tokens.
  [[nodiscard]] std::size_t truncate_bytes(std::string_view text, std::size_t max_tokens,
                                           const SpecialPolicy& policy) const;

  // Decoding. Throws InvalidTokenId for ids that are not tokens.
  void decode_bytes(std::span<const Rank> tokens, std::string& out) const;
  [[nodiscard]] std::string_view token_bytes(Rank token) const;  // throws InvalidTokenId
  [[nodiscard]] bool is_token(Rank token) const noexcept;
  [[nodiscard]] bool is_special(Rank token) const noexcept;

  // Rank of exactly these bytes as one mergeable token, or kNoRank.
  [[nodiscard]] Rank lookup(std::string_view bytes) const noexcept;

  // BPE of one piece (exposed for tests and for callers that split text themselves).
  void encode_piece(std::string_view piece, std::vector<Rank>& out) const;
  [[nodiscard]] std::size_t count_piece(std::string_view piece) const;

  // The same BPE by the two algorithms, for tests: the merge loop (tiktoken's own rule,
  // with a heap on long pieces, without the whole-piece shortcut) and the backtracking
  // encoder. `encode_piece_backtrack` throws InvalidInput when backtracking is
  // unavailable for this vocabulary.
  void encode_piece_merge(std::string_view piece, std::vector<Rank>& out) const;
  void encode_piece_backtrack(std::string_view piece, std::vector<Rank>& out) const;
  // True when the vocabulary passed the check that lets long pieces use backtracking.
  [[nodiscard]] bool uses_backtracking() const noexcept { return bt_ != nullptr; }

  // Approximate heap memory held by the tables, in bytes.
  [[nodiscard]] std::size_t memory_bytes() const noexcept;

 private:
  struct ByteSlot {
    uint64_t head;  // the token's first (up to) 8 bytes, zero padded
    Rank rank;      // kNoRank when empty
    uint32_t size;  // the token's length in bytes
  };
  struct PairSlot {
    uint64_t key;   // (left << 32) | right; UINT64_MAX when empty
    Rank merged;
  };
  struct SpecialMatch {
    std::size_t pos;
    std::size_t len;
    std::size_t index;  // into specials_
  };

  class PieceCache;
  struct Backtrack;
  Workspace& workspace_of(Scratch& scratch) const;
  [[nodiscard]] std::size_t token_bytes_special_length(Rank token) const noexcept;
  void byte_starts(std::span<const Rank> tokens, std::string_view text, std::vector<std::size_t>& starts) const;
  [[nodiscard]] Rank pair_rank(Rank left, Rank right) const noexcept;
  [[nodiscard]] Rank lookup_hashed(std::string_view bytes, uint64_t hash) const noexcept;
  template <class Sink>
  void bpe(std::string_view piece, Sink&& sink, Workspace& ws) const;
  template <class Sink>
  void bpe_heap(std::string_view piece, Sink&& sink, Workspace& ws) const;
  std::size_t merge_small(std::string_view piece, Rank* tok, Workspace& ws) const;
  // Leaves the tokens in the workspace; false when the piece hit a dead end (only
  // possible for vocabularies that failed the construction check).
  bool bpe_backtrack(std::string_view piece, Workspace& ws) const;
  void build_backtrack();
  [[nodiscard]] Rank max_rank_of_mergeable() const noexcept {
    return static_cast<Rank>(offsets_.size() - 2);
  }
  static void prepare(Workspace& ws, std::size_t text_size);
  template <class Sink>
  void run(std::string_view text, const SpecialPolicy* policy, Sink&& sink) const;
  template <class Sink>
  void run(std::string_view text, const SpecialPolicy* policy, Sink&& sink, Workspace& ws) const;
  [[nodiscard]] bool find_special(std::string_view text, std::size_t from, const SpecialPolicy& policy,
                                  bool want_disallowed, SpecialMatch& m) const noexcept;
  [[noreturn]] void throw_disallowed(const std::string& token) const;

  std::string name_;
  pretokenize::Pattern pattern_;
  std::size_t mergeable_count_ = 0;
  Rank max_token_ = 0;

  std::string blob_;                 // bytes of every mergeable token, by rank
  huge_vector<uint32_t> offsets_;    // token r is blob_[offsets_[r], offsets_[r+1]); size max+2
  // By id: 0 for ids that are not tokens, kKindSpecial for special tokens, and for
  // mergeable tokens their length in bytes (kKindLong when it does not fit below it),
  // so that token_length() reads one byte from a small table.
  huge_vector<uint8_t> kind_;
  static constexpr uint8_t kKindLong = 254;
  static constexpr uint8_t kKindSpecial = 255;
  [[nodiscard]] static uint8_t kind_of_length(std::size_t n) noexcept {
    return n > 0 && n < kKindLong ? static_cast<uint8_t>(n) : kKindLong;
  }
  [[nodiscard]] bool is_mergeable(Rank r) const noexcept { return kind_[r] != 0 && kind_[r] != kKindSpecial; }
  huge_vector<ByteSlot> byte_table_;
  uint64_t byte_mask_ = 0;
  huge_vector<PairSlot> pair_table_;  // used when ranks need more than 21 bits
  huge_vector<uint64_t> pair_packed_;  // left | right << 21 | merged << 42, when they fit
  uint64_t pair_mask_ = 0;
  Rank byte_rank_[256];
  huge_vector<Rank> byte_pair_;      // rank of the merge of two single bytes (256 x 256)

  std::vector<std::pair<std::string, Rank>> specials_;
  std::unordered_map<std::string_view, std::size_t> special_by_text_;  // -> index in specials_
  std::unordered_map<Rank, std::size_t> special_by_id_;
  std::vector<std::size_t> special_lengths_;  // distinct lengths, longest first
  uint64_t special_first_bytes_[4] = {0, 0, 0, 0};  // bitset of first bytes

  // Backtracking encoder for long pieces (see build_backtrack); null when the
  // vocabulary does not allow it, and then long pieces merge with the heap.
  std::unique_ptr<const Backtrack> bt_;
};

}  // namespace covekit
