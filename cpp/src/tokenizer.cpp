#include "covekit/tokenizer.hpp"

#include <algorithm>
#include <bit>
#include <cstring>
#include <memory>
#include <optional>
#include <queue>
#include <string>

#include "covekit/errors.hpp"
#include "covekit/utf8.hpp"

#define XXH_INLINE_ALL
#include <xxhash.h>

namespace covekit {

namespace {

constexpr std::size_t kHeapThreshold = 64;  // pieces longer than this merge with a heap

int base64_value(unsigned char c) noexcept {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '+') return 62;
  if (c == '/') return 63;
  return -1;
}

// Strict base64 (with padding) into `out`; false on malformed input.
bool base64_decode(std::string_view in, std::string& out) {
  out.clear();
  if (in.empty() || in.size() % 4 != 0) return false;
  std::size_t pad = 0;
  if (in.back() == '=') ++pad;
  if (in.size() >= 2 && in[in.size() - 2] == '=') ++pad;
  for (std::size_t i = 0; i < in.size(); i += 4) {
    int v[4];
    for (int k = 0; k < 4; ++k) {
      const unsigned char c = static_cast<unsigned char>(in[i + k]);
      const bool tail = i + 4 == in.size() && k >= 4 - static_cast<int>(pad);
      if (tail) {
        if (c != '=') return false;
        v[k] = 0;
      } else {
        v[k] = base64_value(c);
        if (v[k] < 0) return false;
      }
    }
    const uint32_t w = (uint32_t(v[0]) << 18) | (uint32_t(v[1]) << 12) | (uint32_t(v[2]) << 6) | uint32_t(v[3]);
    out.push_back(static_cast<char>(w >> 16));
    if (!(i + 4 == in.size() && pad >= 2)) out.push_back(static_cast<char>((w >> 8) & 0xFF));
    if (!(i + 4 == in.size() && pad >= 1)) out.push_back(static_cast<char>(w & 0xFF));
  }
  return true;
}

std::string printable(std::string_view s) {
  std::string r;
  for (unsigned char c : s.substr(0, 60)) {
    if (c >= 0x20 && c < 0x7F) {
      r.push_back(static_cast<char>(c));
    } else {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02x", c);
      r += buf;
    }
  }
  if (s.size() > 60) r += "...";
  return r;
}

// Whether any byte of p[0, n) is >= 0x80.
inline bool has_high_byte(const unsigned char* p, std::size_t n) noexcept {
  uint64_t acc = 0;
  std::size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    uint64_t w;
    std::memcpy(&w, p + i, 8);
    acc |= w;
  }
  for (; i < n; ++i) acc |= p[i];
  return (acc & 0x8080808080808080ULL) != 0;
}

inline uint64_t load_head(std::string_view s) noexcept {
  uint64_t v = 0;
  std::memcpy(&v, s.data(), s.size() < 8 ? s.size() : 8);
  return v;
}

constexpr unsigned kPackBits = 21;
constexpr uint64_t kPackMask = (uint64_t{1} << kPackBits) - 1;

inline uint64_t pair_hash(uint64_t key) noexcept {
  key ^= key >> 29;
  key *= 0xBF58476D1CE4E5B9ULL;
  key ^= key >> 32;
  return key;
}

}  // namespace

// Per-call memo of piece -> tokens, for texts long enough that pieces repeat. It lives
// for one encode call only (no shared state) and points into that call's text.
class Tokenizer::PieceCache {
 public:
  struct Slot {
    uint64_t hash;
    uint32_t size;
    uint32_t bytes;   // offset of the piece's bytes in bytes_
    uint32_t offset;  // offset of its tokens in tokens_
    uint32_t count;
  };
  static constexpr std::size_t kMinText = 4096;        // below this, no cache
  static constexpr std::size_t kMaxPiece = 64;         // longer pieces are not memoized...
  static constexpr std::size_t kMaxPieceScratch = 4096;  // ...unless the memo outlives the call
  static constexpr std::size_t kMaxArena = 1u << 22;   // tokens held before a reset
  static constexpr std::size_t kMaxArenaScratch = 1u << 18;  // ... in a scratch (see set_max_arena)

  void keep_long_pieces() noexcept { max_piece_ = kMaxPieceScratch; }

  explicit PieceCache(std::size_t text_size) {
    const std::size_t cap = std::bit_ceil(std::clamp<std::size_t>(text_size / 64, 1024, std::size_t{1} << 14));
    slots_.assign(cap, Slot{0, 0, 0, 0, 0});
    mask_ = cap - 1;
    tokens_.reserve(cap * 2);
    bytes_.reserve(cap * 8);
  }
  [[nodiscard]] const Slot* find(std::string_view piece, uint64_t h) const noexcept {
    const Slot& s = slots_[h & mask_];
    // The bytes are copied into the memo, so a hit reads memory that is already hot.
    if (s.hash == h && s.size == piece.size() && s.count != 0 &&
        std::memcmp(bytes_.data() + s.bytes, piece.data(), piece.size()) == 0)
      return &s;
    return nullptr;
  }
  [[nodiscard]] const Rank* tokens(const Slot& s) const noexcept { return tokens_.data() + s.offset; }
  void put(std::string_view piece, uint64_t h, const Rank* toks, std::size_t n) {
    if (piece.size() > max_piece_) return;
    if (tokens_.size() + n > max_arena_) {
      tokens_.clear();
      bytes_.clear();
      std::fill(slots_.begin(), slots_.end(), Slot{0, 0, 0, 0, 0});
    }
    slots_[h & mask_] = Slot{h, static_cast<uint32_t>(piece.size()), static_cast<uint32_t>(bytes_.size()),
                             static_cast<uint32_t>(tokens_.size()), static_cast<uint32_t>(n)};
    bytes_.append(piece);
    tokens_.insert(tokens_.end(), toks, toks + n);
  }

 private:
  std::vector<Slot> slots_;
  uint64_t mask_ = 0;
  std::vector<Rank> tokens_;
  std::string bytes_;
  std::size_t max_piece_ = kMaxPiece;
  std::size_t max_arena_ = kMaxArena;

 public:
  // A memo that lives across calls (a scratch) starts afresh more often, so that it
  // holds the currently hot pieces in a footprint that stays in cache.
  void set_max_arena(std::size_t tokens) noexcept { max_arena_ = tokens; }
};

// Scratch space of one encode call: the piece memo and the heap merger's buffers.
struct Tokenizer::Workspace {
  struct Entry {
    Rank rank;
    uint32_t node;
    uint32_t ver_left;
    uint32_t ver_right;
    // std::priority_queue is a max-heap: "greater" means lower priority.
    bool operator<(const Entry& o) const noexcept { return rank != o.rank ? rank > o.rank : node > o.node; }
  };
  // A small direct-mapped memo of pair ranks (text in one language repeats the same
  // pairs; the memo stays in L1/L2 while the full table does not).
  static constexpr std::size_t kPairMemo = 16384;
  struct PairMemo {
    uint64_t key[kPairMemo];
    Rank merged[kPairMemo];
  };
  std::unique_ptr<PairMemo> memo;
  // Memo of the backtracking encoder's pair checks: a | b << 21 | compatible << 42.
  static constexpr unsigned kCompatBits = 14;
  static constexpr std::size_t kCompatMemo = std::size_t{1} << kCompatBits;
  std::unique_ptr<uint64_t[]> compat;

  void enable_memo() {
    memo = std::make_unique<PairMemo>();
    std::fill(std::begin(memo->key), std::end(memo->key), UINT64_MAX);
    compat = std::make_unique<uint64_t[]>(kCompatMemo);
    std::fill(compat.get(), compat.get() + kCompatMemo, UINT64_MAX);
  }

  Rank pair(const Tokenizer& t, Rank left, Rank right) {
    if (!memo) return t.pair_rank(left, right);
    const uint64_t key = (uint64_t{left} << 32) | right;
    const std::size_t slot = (key * 0x9E3779B97F4A7C15ULL) >> 50;  // 14 bits
    if (memo->key[slot] == key) return memo->merged[slot];
    const Rank r = t.pair_rank(left, right);
    memo->key[slot] = key;
    memo->merged[slot] = r;
    return r;
  }

  std::optional<PieceCache> cache;
  std::vector<Rank> bt_tokens;
  std::vector<uint64_t> bt_dead;
  std::vector<Rank> tok;
  std::vector<uint32_t> prev, next, ver;
  std::vector<Entry> heap;
};

std::vector<std::pair<std::string, Rank>> parse_tiktoken_bpe(std::string_view data) {
  std::vector<std::pair<std::string, Rank>> out;
  out.reserve(data.size() / 16);
  std::size_t line_no = 0;
  std::size_t pos = 0;
  std::string bytes;
  while (pos < data.size()) {
    std::size_t eol = data.find('\n', pos);
    if (eol == std::string_view::npos) eol = data.size();
    std::string_view line = data.substr(pos, eol - pos);
    pos = eol + 1;
    ++line_no;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.empty()) continue;
    const std::size_t sp = line.find(' ');
    auto fail = [&](const char* why) {
      throw TokenizerFileCorrupt("malformed .tiktoken data at line " + std::to_string(line_no) + " ('" +
                                 printable(line) + "'): " + why +
                                 "; each line must be '<base64 token bytes> <rank>'. The file is "
                                 "probably truncated or corrupt: download it again.");
    };
    if (sp == std::string_view::npos) fail("no rank after the token");
    const std::string_view b64 = line.substr(0, sp);
    std::string_view num = line.substr(sp + 1);
    while (!num.empty() && num.front() == ' ') num.remove_prefix(1);
    while (!num.empty() && num.back() == ' ') num.remove_suffix(1);
    if (num.empty()) fail("no rank after the token");
    uint64_t rank = 0;
    for (char ch : num) {
      if (ch < '0' || ch > '9') fail("the rank is not a non-negative integer");
      rank = rank * 10 + static_cast<uint64_t>(ch - '0');
      if (rank >= kNoRank) fail("the rank is too large");
    }
    if (!base64_decode(b64, bytes)) fail("the token is not valid base64");
    out.emplace_back(bytes, static_cast<Rank>(rank));
  }
  if (out.empty()) throw TokenizerFileCorrupt(".tiktoken data holds no tokens (empty or blank file)");
  return out;
}

Tokenizer::Tokenizer(std::vector<std::pair<std::string, Rank>> mergeable_ranks,
                     std::vector<std::pair<std::string, Rank>> special_tokens, pretokenize::Pattern pattern,
                     std::string name)
    : name_(std::move(name)), pattern_(pattern), specials_(std::move(special_tokens)) {
  if (mergeable_ranks.empty()) throw TokenizerFileCorrupt("the vocabulary of '" + name_ + "' is empty");
  mergeable_count_ = mergeable_ranks.size();
  Rank max_rank = 0;
  for (const auto& [bytes, rank] : mergeable_ranks) {
    if (rank == kNoRank) throw TokenizerFileCorrupt("rank 4294967295 is reserved");
    if (bytes.empty()) throw TokenizerFileCorrupt("the vocabulary holds an empty token (rank " + std::to_string(rank) + ")");
    max_rank = std::max(max_rank, rank);
  }
  max_token_ = max_rank;
  for (const auto& [text, id] : specials_) {
    if (id == kNoRank) throw InvalidInput("special token id 4294967295 is reserved");
    if (text.empty()) throw InvalidInput("a special token's text must not be empty");
    max_token_ = std::max(max_token_, id);
  }

  // Token bytes by rank.
  kind_.assign(std::size_t{max_token_} + 1, 0);
  std::sort(mergeable_ranks.begin(), mergeable_ranks.end(),
            [](const auto& a, const auto& b) { return a.second < b.second; });
  offsets_.assign(std::size_t{max_rank} + 2, 0);
  std::size_t total = 0;
  for (const auto& [bytes, rank] : mergeable_ranks) total += bytes.size();
  if (total >= UINT32_MAX) throw TokenizerFileCorrupt("the vocabulary is too large");
  blob_.reserve(total);
  {
    std::size_t k = 0;
    for (Rank r = 0; r <= max_rank; ++r) {
      offsets_[r] = static_cast<uint32_t>(blob_.size());
      if (k < mergeable_ranks.size() && mergeable_ranks[k].second == r) {
        blob_ += mergeable_ranks[k].first;
        kind_[r] = kind_of_length(mergeable_ranks[k].first.size());
        ++k;
        if (k < mergeable_ranks.size() && mergeable_ranks[k].second == r)
          throw TokenizerFileCorrupt("rank " + std::to_string(r) + " is given to two tokens ('" +
                                     printable(mergeable_ranks[k - 1].first) + "' and '" +
                                     printable(mergeable_ranks[k].first) + "'); the file is corrupt");
      }
    }
    offsets_[std::size_t{max_rank} + 1] = static_cast<uint32_t>(blob_.size());
  }

  // Bytes -> rank, open addressing.
  std::size_t cap = std::bit_ceil(mergeable_count_ * 2 + 16);
  byte_table_.assign(cap, ByteSlot{0, kNoRank, 0});
  byte_mask_ = cap - 1;
  for (const auto& [bytes, rank] : mergeable_ranks) {
    const uint64_t h = XXH3_64bits(bytes.data(), bytes.size());
    const uint64_t head = load_head(bytes);
    for (uint64_t i = h & byte_mask_;; i = (i + 1) & byte_mask_) {
      ByteSlot& s = byte_table_[i];
      if (s.rank == kNoRank) {
        s = {head, rank, static_cast<uint32_t>(bytes.size())};
        break;
      }
      if (s.head == head && token_bytes(s.rank) == std::string_view(bytes))
        throw TokenizerFileCorrupt("the token '" + printable(bytes) + "' appears twice (ranks " +
                                   std::to_string(s.rank) + " and " + std::to_string(rank) +
                                   "); the file is corrupt");
    }
  }
  for (int b = 0; b < 256; ++b) {
    const char c = static_cast<char>(b);
    byte_rank_[b] = lookup(std::string_view(&c, 1));
    if (byte_rank_[b] == kNoRank) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "0x%02x", b);
      throw TokenizerFileCorrupt(std::string("the vocabulary has no token for the single byte ") + buf +
                                 "; a byte-level BPE vocabulary needs all 256 (is the file truncated?)");
    }
  }

  // (left, right) -> merged rank for every token that splits into two tokens.
  std::vector<std::pair<uint64_t, Rank>> pairs;
  pairs.reserve(mergeable_count_ * 3);
  for (const auto& [bytes, rank] : mergeable_ranks) {
    const std::string_view t(bytes);
    for (std::size_t s = 1; s < t.size(); ++s) {
      const Rank a = lookup(t.substr(0, s));
      if (a == kNoRank) continue;
      const Rank b = lookup(t.substr(s));
      if (b == kNoRank) continue;
      pairs.emplace_back((uint64_t{a} << 32) | b, rank);
    }
  }
  cap = std::bit_ceil(pairs.size() + pairs.size() / 2 + 16);
  pair_mask_ = cap - 1;
  if (max_rank <= kPackMask - 1) {
    pair_packed_.assign(cap, UINT64_MAX);
    for (const auto& [key, merged] : pairs) {
      const uint64_t k = (key >> 32) | ((key & 0xFFFFFFFFu) << kPackBits);
      for (uint64_t i = pair_hash(k) & pair_mask_;; i = (i + 1) & pair_mask_) {
        if (pair_packed_[i] == UINT64_MAX) {
          pair_packed_[i] = k | (uint64_t{merged} << (2 * kPackBits));
          break;
        }
      }
    }
  } else {
    pair_table_.assign(cap, PairSlot{UINT64_MAX, kNoRank});
    for (const auto& [key, merged] : pairs) {
      for (uint64_t i = pair_hash(key) & pair_mask_;; i = (i + 1) & pair_mask_) {
        if (pair_table_[i].key == UINT64_MAX) {
          pair_table_[i] = {key, merged};
          break;
        }
      }
    }
  }

  byte_pair_.resize(256 * 256);
  for (std::size_t a = 0; a < 256; ++a)
    for (std::size_t b = 0; b < 256; ++b) byte_pair_[(a << 8) | b] = pair_rank(byte_rank_[a], byte_rank_[b]);

  // Special tokens.
  for (std::size_t k = 0; k < specials_.size(); ++k) {
    const auto& [text, id] = specials_[k];
    if (!special_by_text_.emplace(std::string_view(text), k).second) throw InvalidInput("the special token '" + printable(text) + "' is given twice");
    if (is_mergeable(id))
      throw InvalidInput("special token '" + printable(text) + "' has id " + std::to_string(id) +
                         ", which is already the id of a mergeable token");
    // Two special texts may share an id (o200k_harmony does); decoding gives the first.
    kind_[id] = kKindSpecial;
    special_by_id_.emplace(id, k);
    const auto first = static_cast<unsigned char>(text[0]);
    special_first_bytes_[first >> 6] |= uint64_t{1} << (first & 63);
    if (std::find(special_lengths_.begin(), special_lengths_.end(), text.size()) == special_lengths_.end())
      special_lengths_.push_back(text.size());
  }
  std::sort(special_lengths_.rbegin(), special_lengths_.rend());

  build_backtrack();
}

Rank Tokenizer::lookup(std::string_view bytes) const noexcept {
  return lookup_hashed(bytes, XXH3_64bits(bytes.data(), bytes.size()));
}

inline Rank Tokenizer::lookup_hashed(std::string_view bytes, uint64_t h) const noexcept {
  const uint64_t head = load_head(bytes);
  const std::size_t n = bytes.size();
  for (uint64_t i = h & byte_mask_;; i = (i + 1) & byte_mask_) {
    const ByteSlot& s = byte_table_[i];
    if (s.rank == kNoRank) return kNoRank;
    if (s.head == head && s.size == n) {
      if (n <= 8 || std::memcmp(blob_.data() + offsets_[s.rank] + 8, bytes.data() + 8, n - 8) == 0) return s.rank;
    }
  }
}

inline Rank Tokenizer::pair_rank(Rank left, Rank right) const noexcept {
  if (!pair_packed_.empty()) [[likely]] {
    const uint64_t k = uint64_t{left} | (uint64_t{right} << kPackBits);
    for (uint64_t i = pair_hash(k) & pair_mask_;; i = (i + 1) & pair_mask_) {
      const uint64_t s = pair_packed_[i];
      if ((s & ((uint64_t{1} << (2 * kPackBits)) - 1)) == k) return static_cast<Rank>(s >> (2 * kPackBits));
      if (s == UINT64_MAX) return kNoRank;
    }
  }
  const uint64_t key = (uint64_t{left} << 32) | right;
  for (uint64_t i = pair_hash(key) & pair_mask_;; i = (i + 1) & pair_mask_) {
    const PairSlot& s = pair_table_[i];
    if (s.key == key) return s.merged;
    if (s.key == UINT64_MAX) return kNoRank;
  }
}

bool Tokenizer::is_token(Rank token) const noexcept { return token <= max_token_ && kind_[token] != 0; }
bool Tokenizer::is_special(Rank token) const noexcept { return token <= max_token_ && kind_[token] == kKindSpecial; }

std::string_view Tokenizer::token_bytes(Rank token) const {
  if (token <= max_token_) {
    if (is_mergeable(token)) {
      const uint32_t off = offsets_[token];
      return std::string_view(blob_).substr(off, offsets_[token + 1] - off);
    }
    if (kind_[token] == kKindSpecial) {
      return specials_[special_by_id_.at(token)].first;
    }
  }
  throw InvalidTokenId("token id " + std::to_string(token) + " is not in the vocabulary of '" + name_ +
                       "' (ids run from 0 to " + std::to_string(max_token_) +
                       (mergeable_count_ + specials_.size() == std::size_t{max_token_} + 1 ? "" : ", with gaps") +
                       "); pass ids produced by this tokenizer");
}

template <class Sink>
void Tokenizer::bpe(std::string_view piece, Sink&& sink, Workspace& ws) const {
  PieceCache* cache = ws.cache ? &*ws.cache : nullptr;
  const std::size_t n = piece.size();
  const auto* p = reinterpret_cast<const unsigned char*>(piece.data());
  if (n == 1) {
    sink(byte_rank_[p[0]]);
    return;
  }
  const uint64_t h = XXH3_64bits(piece.data(), n);
  if (cache) {
    if (const PieceCache::Slot* s = cache->find(piece, h)) {
      const Rank* t = cache->tokens(*s);
      for (uint32_t k = 0; k < s->count; ++k) sink(t[k]);
      return;
    }
  }
  // tiktoken's rule: a piece that is itself a token is that token. Non-ASCII pieces
  // (few bytes per token, so many merges) go to the backtracking encoder; it starts with
  // the longest token at the start of the piece, so it takes a whole-piece token as its
  // first and only token without a separate lookup. ASCII pieces are mostly whole tokens
  // or merge in a few steps: one hash lookup, then the merge loop. (Measured on the
  // corpus: backtracking ASCII pieces too is slower on English.)
  if (bt_ && has_high_byte(p, n) && bpe_backtrack(piece, ws)) {
    for (const Rank t : ws.bt_tokens) sink(t);
    if (cache) cache->put(piece, h, ws.bt_tokens.data(), ws.bt_tokens.size());
    return;
  }
  if (const Rank whole = lookup_hashed(piece, h); whole != kNoRank) {
    sink(whole);
    return;
  }
  if (n > kHeapThreshold) {
    bpe_heap(piece, sink, ws);
    return;
  }
  Rank tok[kHeapThreshold];
  const std::size_t m = merge_small(piece, tok, ws);
  for (std::size_t i = 0; i < m; ++i) sink(tok[i]);
  if (cache) cache->put(piece, h, tok, m);
}

std::size_t Tokenizer::merge_small(std::string_view piece, Rank* tok, Workspace& ws) const {
  const std::size_t n = piece.size();
  const auto* p = reinterpret_cast<const unsigned char*>(piece.data());
  Rank pr[kHeapThreshold];
  std::size_t m = n;
  for (std::size_t i = 0; i < n; ++i) tok[i] = byte_rank_[p[i]];
  for (std::size_t i = 0; i + 1 < n; ++i) pr[i] = byte_pair_[(std::size_t{p[i]} << 8) | p[i + 1]];
  while (m > 1) {
    // Lowest rank (a reduction the compiler vectorizes), then its leftmost position.
    Rank best = kNoRank;
    for (std::size_t i = 0; i + 1 < m; ++i) best = pr[i] < best ? pr[i] : best;
    if (best == kNoRank) break;
    std::size_t at = 0;
    while (pr[at] != best) ++at;
    tok[at] = best;
    // Remove tok[at+1] and pr[at+1].
    if (at + 2 < m) {
      std::memmove(tok + at + 1, tok + at + 2, (m - at - 2) * sizeof(Rank));
      std::memmove(pr + at + 1, pr + at + 2, (m - at - 2) * sizeof(Rank));
    }
    --m;
    pr[at] = at + 1 < m ? ws.pair(*this, tok[at], tok[at + 1]) : kNoRank;
    if (at > 0) pr[at - 1] = ws.pair(*this, tok[at - 1], tok[at]);
  }
  return m;
}

// ---------------------------------------------------------------------------------------
// Backtracking BPE.
//
// For a vocabulary built by BPE training, the merge loop's result on a piece is the one
// segmentation into tokens in which every adjacent pair is "compatible": merging the
// bytes of the two tokens alone gives back exactly those two tokens. (A merge inside one
// token's span never depends on anything outside it unless a merge across the boundary
// wins first, and that is what the pair check looks for.) The encoder walks the piece
// left to right taking the longest token that starts at the current position, steps
// down to shorter prefix tokens when the pair with the previous token is incompatible,
// and backtracks when no prefix fits; a bitset remembers dead-end positions so each is
// visited once. This is the algorithm of GitHub's `bpe` crate (rust-gems), written
// afresh here.
//
// The equivalence needs every token to be produced by the merge loop from its own bytes
// ("reachable"). The constructor checks exactly that by encoding every token with the
// backtracking encoder; a vocabulary that fails keeps the merge loop for every piece.
// The pair check uses only each token's canonical last merge (its "split"); the tests
// compare both algorithms on corpora and random bytes.
struct Tokenizer::Backtrack {
  struct Node {
    int32_t base;   // children at base + byte
    int32_t check;  // parent slot; -1 free, -2 root
    Rank value;     // the token ending here, or kNoRank
  };
  huge_vector<Node> nodes;
  huge_vector<uint32_t> len;        // token length by rank
  huge_vector<Rank> next_prefix;    // longest token that is a proper prefix, by rank
  huge_vector<Rank> left, right;    // canonical split by rank; (r, r) for unsplittable tokens
  huge_vector<uint64_t> merges;     // canonical pairs: left | right << 21 | merged << 42
  uint64_t mask = 0;
  // A one-hash filter of the canonical pairs (about 4 bits per pair, so it stays in L2
  // while the merge table does not): most pairs the encoder checks are not merges, and
  // their bit is clear, so they skip the probe of the big table.
  huge_vector<uint64_t> filter;
  unsigned filter_shift = 64;

  struct Match {
    Rank rank;
    uint32_t len;
  };

  [[nodiscard]] std::size_t memory_bytes() const noexcept {
    return nodes.capacity() * sizeof(Node) +
           (len.capacity() + next_prefix.capacity() + left.capacity() + right.capacity()) * sizeof(Rank) +
           (merges.capacity() + filter.capacity()) * sizeof(uint64_t);
  }

  // The longest token that is a prefix of p[0, n), with its length; n >= 1 and every
  // byte is a token.
  [[nodiscard]] Match longest(const unsigned char* p, std::size_t n) const noexcept {
    const Node* nd = nodes.data();
    const auto size = static_cast<int64_t>(nodes.size());
    int32_t s = 0;
    Match best{kNoRank, 0};
    for (std::size_t i = 0; i < n; ++i) {
      const int64_t t = int64_t{nd[s].base} + p[i];
      if (t >= size || nd[t].check != s) break;
      s = static_cast<int32_t>(t);
      if (nd[s].value != kNoRank) best = {nd[s].value, static_cast<uint32_t>(i + 1)};
    }
    return best;
  }

  [[nodiscard]] Rank merged(Rank a, Rank b) const noexcept {
    const uint64_t k = uint64_t{a} | (uint64_t{b} << kPackBits);
    const uint64_t h = pair_hash(k);
    const uint64_t bit = h >> filter_shift;
    if (!((filter[bit >> 6] >> (bit & 63)) & 1)) return kNoRank;
    for (uint64_t i = h & mask;; i = (i + 1) & mask) {
      const uint64_t s = merges[i];
      if ((s & ((uint64_t{1} << (2 * kPackBits)) - 1)) == k) return static_cast<Rank>(s >> (2 * kPackBits));
      if (s == UINT64_MAX) return kNoRank;
    }
  }

  void insert_merge(Rank a, Rank b, Rank m) {
    const uint64_t k = uint64_t{a} | (uint64_t{b} << kPackBits);
    const uint64_t h = pair_hash(k);
    const uint64_t bit = h >> filter_shift;
    filter[bit >> 6] |= uint64_t{1} << (bit & 63);
    for (uint64_t i = h & mask;; i = (i + 1) & mask) {
      if (merges[i] == UINT64_MAX) {
        merges[i] = k | (uint64_t{m} << (2 * kPackBits));
        return;
      }
    }
  }

  // Would merging the bytes of a then b give exactly [a, b]? Undo the merges that built
  // a (from its right end) and b (from its left end), highest rank first, and look for a
  // merge across the boundary that would have come before them. Equal ranks (the same
  // token) go to the leftmost pair, as in the merge loop.
  [[nodiscard]] bool compatible(Rank a, Rank b) const noexcept {
    Rank limit = kNoRank;
    for (;;) {
      const Rank m = merged(a, b);
      if (m != kNoRank && m < limit) return false;
      if (a > b) {
        limit = a;
        a = right[a];
        if (a == limit) {  // a is a single byte: only b can still be undone
          limit = b + 1;
          b = left[b];
          if (b + 1 == limit) return true;
        }
      } else {
        limit = b + 1;
        b = left[b];
        if (b + 1 == limit) {
          limit = a;
          a = right[a];
          if (a == limit) return true;
        }
      }
    }
  }
};

Tokenizer::~Tokenizer() = default;

bool Tokenizer::bpe_backtrack(std::string_view piece, Workspace& ws) const {
  const Backtrack& bt = *bt_;
  const std::size_t n = piece.size();
  const auto* p = reinterpret_cast<const unsigned char*>(piece.data());
  uint64_t* memo = ws.compat.get();
  const auto compatible = [&](Rank a, Rank b) {
    if (memo == nullptr) return bt.compatible(a, b);
    const uint64_t key = uint64_t{a} | (uint64_t{b} << kPackBits);
    uint64_t& slot = memo[(key * 0x9E3779B97F4A7C15ULL) >> (64 - Workspace::kCompatBits)];
    if ((slot & ((uint64_t{1} << (2 * kPackBits)) - 1)) == key) return (slot >> (2 * kPackBits)) != 0;
    const bool ok = bt.compatible(a, b);
    slot = key | (uint64_t{ok} << (2 * kPackBits));
    return ok;
  };
  auto& dead = ws.bt_dead;  // positions from which no valid encoding continues
  dead.assign(n / 64 + 1, 0);
  ws.bt_tokens.resize(n);  // at most one token per byte
  Rank* const toks = ws.bt_tokens.data();
  std::size_t m = 0;
  std::size_t pos = 0;
  Backtrack::Match next = bt.longest(p, n);
  while (next.rank != kNoRank) {
    Rank token = next.rank;
    std::size_t end = pos + next.len;
    const Rank last = m == 0 ? kNoRank : toks[m - 1];
    for (;;) {
      const bool alive = !(dead[end >> 6] >> (end & 63) & 1);
      if (alive && (last == kNoRank || compatible(last, token))) {
        toks[m++] = token;
        pos = end;
        next = end < n ? bt.longest(p + end, n - end) : Backtrack::Match{kNoRank, 0};
        break;
      }
      const Rank shorter = bt.next_prefix[token];
      if (shorter != kNoRank) {
        token = shorter;
        end = pos + bt.len[token];
        continue;
      }
      if (last == kNoRank) return false;  // cannot happen for a checked vocabulary
      dead[pos >> 6] |= uint64_t{1} << (pos & 63);
      --m;
      pos -= bt.len[last];
      next = {last, bt.len[last]};
      break;
    }
  }
  ws.bt_tokens.resize(m);
  return true;
}

void Tokenizer::build_backtrack() {
  // Reserved widths: ranks are packed in 21 bits like the pair table.
  if (max_rank_of_mergeable() > kPackMask - 1) return;
  auto bt = std::make_unique<Backtrack>();
  const std::size_t nranks = offsets_.size() - 1;
  bt->len.assign(nranks, 0);
  bt->next_prefix.assign(nranks, kNoRank);
  std::vector<Rank> order;
  order.reserve(mergeable_count_);
  for (Rank r = 0; r < nranks; ++r) {
    if (!is_mergeable(r)) continue;
    bt->len[r] = offsets_[r + 1] - offsets_[r];
    order.push_back(r);
  }
  const auto bytes_of = [&](Rank r) { return std::string_view(blob_).substr(offsets_[r], offsets_[r + 1] - offsets_[r]); };
  std::sort(order.begin(), order.end(), [&](Rank a, Rank b) { return bytes_of(a) < bytes_of(b); });

  // Double-array trie over the token bytes.
  auto& nodes = bt->nodes;
  nodes.assign(std::max<std::size_t>(1024, blob_.size() / 2), Backtrack::Node{0, -1, kNoRank});
  std::vector<uint64_t> used(nodes.size() / 64 + 1, 0);
  const auto grow = [&](std::size_t need) {
    if (need < nodes.size()) return;
    const std::size_t size = std::bit_ceil(need + 1);
    nodes.resize(size, Backtrack::Node{0, -1, kNoRank});
    used.resize(size / 64 + 1, 0);
  };
  const auto is_used = [&](std::size_t i) { return i < nodes.size() && (used[i >> 6] >> (i & 63) & 1); };
  const auto mark = [&](std::size_t i) { used[i >> 6] |= uint64_t{1} << (i & 63); };
  mark(0);
  nodes[0].check = -2;
  std::size_t first_free = 1;
  struct Item {
    int32_t node;
    uint32_t lo, hi, depth;
    Rank above;
  };
  std::vector<Item> stack{{0, 0, static_cast<uint32_t>(order.size()), 0, kNoRank}};
  std::vector<std::pair<unsigned, std::pair<uint32_t, uint32_t>>> kids;
  while (!stack.empty()) {
    Item it = stack.back();
    stack.pop_back();
    Rank above = it.above;
    if (it.lo < it.hi && bytes_of(order[it.lo]).size() == it.depth) {
      const Rank r = order[it.lo];
      nodes[it.node].value = r;
      bt->next_prefix[r] = it.above;
      above = r;
      ++it.lo;
    }
    if (it.lo == it.hi) continue;
    kids.clear();
    for (uint32_t i = it.lo; i < it.hi;) {
      const auto c = static_cast<unsigned char>(bytes_of(order[i])[it.depth]);
      uint32_t j = i + 1;
      while (j < it.hi && static_cast<unsigned char>(bytes_of(order[j])[it.depth]) == c) ++j;
      kids.push_back({c, {i, j}});
      i = j;
    }
    // The lowest base at which every child's slot is free; candidates come from free
    // slots for the first child.
    const unsigned c0 = kids.front().first;
    std::size_t f = std::max<std::size_t>(first_free, c0 + 1);
    std::size_t base = 0;
    for (;; ++f) {
      while (is_used(f)) ++f;
      base = f - c0;
      bool ok = true;
      for (const auto& k : kids)
        if (is_used(base + k.first)) {
          ok = false;
          break;
        }
      if (ok) break;
    }
    grow(base + 256);
    nodes[it.node].base = static_cast<int32_t>(base);
    for (const auto& [c, range] : kids) {
      const std::size_t slot = base + c;
      mark(slot);
      nodes[slot].check = it.node;
      stack.push_back({static_cast<int32_t>(slot), range.first, range.second, it.depth + 1, above});
    }
    while (is_used(first_free)) ++first_free;
  }
  if (nodes.size() > static_cast<std::size_t>(INT32_MAX)) return;
  std::size_t last_used = nodes.size();
  while (last_used > 1 && !is_used(last_used - 1)) --last_used;
  nodes.resize(last_used + 256, Backtrack::Node{0, -1, kNoRank});
  nodes.shrink_to_fit();

  // Canonical splits, in rank order: the longest prefix token whose remainder is a token
  // and which forms a compatible pair with it.
  bt->left.assign(nranks, kNoRank);
  bt->right.assign(nranks, kNoRank);
  const std::size_t cap = std::bit_ceil(mergeable_count_ * 2 + 16);
  bt->merges.assign(cap, UINT64_MAX);
  bt->mask = cap - 1;
  const std::size_t filter_bits = std::bit_ceil(mergeable_count_ * 4 + 64);
  bt->filter.assign(filter_bits / 64, 0);
  bt->filter_shift = 64 - static_cast<unsigned>(std::countr_zero(filter_bits));
  for (Rank r = 0; r < nranks; ++r) {
    if (!is_mergeable(r)) continue;
    const std::string_view t = bytes_of(r);
    Rank a = bt->next_prefix[r];
    for (; a != kNoRank; a = bt->next_prefix[a]) {
      const Rank b = lookup(t.substr(bt->len[a]));
      if (b != kNoRank && a < r && b < r && bt->compatible(a, b)) {
        bt->left[r] = a;
        bt->right[r] = b;
        bt->insert_merge(a, b, r);
        break;
      }
    }
    if (a == kNoRank) bt->left[r] = bt->right[r] = r;
  }

  // The check: every token of two or more bytes must have a split, and the merge loop
  // (tiktoken's rule, without the whole-piece shortcut) must turn its bytes into itself.
  Workspace ws;
  std::vector<Rank> got;
  Rank tok[kHeapThreshold];
  for (Rank r = 0; r < nranks; ++r) {
    if (!is_mergeable(r) || bt->len[r] < 2) continue;
    bool ok = bt->left[r] != r;
    if (ok) {
      const std::string_view t = bytes_of(r);
      std::size_t m = 0;
      if (t.size() <= kHeapThreshold) {
        m = merge_small(t, tok, ws);
      } else {
        got.clear();
        bpe_heap(t, [&](Rank x) { got.push_back(x); }, ws);
        m = got.size();
        tok[0] = got[0];
      }
      ok = m == 1 && tok[0] == r;
    }
    if (!ok) return;  // keep the merge loop for this vocabulary
  }
  bt_ = std::move(bt);
}

template <class Sink>
void Tokenizer::bpe_heap(std::string_view piece, Sink&& sink, Workspace& ws) const {
  // Doubly linked parts; a min-heap of candidate merges ordered by (rank, position).
  // An entry is stale when either part changed since it was pushed (versions).
  const std::size_t n = piece.size();
  const auto* p = reinterpret_cast<const unsigned char*>(piece.data());
  constexpr uint32_t kEnd = UINT32_MAX;
  auto& tok = ws.tok;
  auto& prev = ws.prev;
  auto& next = ws.next;
  auto& ver = ws.ver;
  tok.resize(n);
  prev.resize(n);
  next.resize(n);
  ver.assign(n, 0);
  for (std::size_t i = 0; i < n; ++i) {
    tok[i] = byte_rank_[p[i]];
    prev[i] = i == 0 ? kEnd : static_cast<uint32_t>(i - 1);
    next[i] = i + 1 == n ? kEnd : static_cast<uint32_t>(i + 1);
  }
  auto& heap = ws.heap;
  heap.clear();
  for (std::size_t i = 0; i + 1 < n; ++i) {
    const Rank r = byte_pair_[(std::size_t{p[i]} << 8) | p[i + 1]];
    if (r != kNoRank) heap.push_back({r, static_cast<uint32_t>(i), 0, 0});
  }
  std::make_heap(heap.begin(), heap.end());
  while (!heap.empty()) {
    std::pop_heap(heap.begin(), heap.end());
    const Workspace::Entry e = heap.back();
    heap.pop_back();
    const uint32_t k = e.node;
    const uint32_t j = next[k];
    if (j == kEnd || ver[k] != e.ver_left || ver[j] != e.ver_right) continue;  // stale
    tok[k] = e.rank;
    ++ver[k];
    ++ver[j];  // j is gone
    next[k] = next[j];
    if (next[j] != kEnd) prev[next[j]] = k;
    if (next[k] != kEnd) {
      const Rank rr = ws.pair(*this, tok[k], tok[next[k]]);
      if (rr != kNoRank) {
        heap.push_back({rr, k, ver[k], ver[next[k]]});
        std::push_heap(heap.begin(), heap.end());
      }
    }
    if (prev[k] != kEnd) {
      const uint32_t l = prev[k];
      const Rank rl = ws.pair(*this, tok[l], tok[k]);
      if (rl != kNoRank) {
        heap.push_back({rl, l, ver[l], ver[k]});
        std::push_heap(heap.begin(), heap.end());
      }
    }
  }
  for (uint32_t k = 0; k != kEnd; k = next[k]) sink(tok[k]);
}

bool Tokenizer::find_special(std::string_view text, std::size_t from, const SpecialPolicy& policy,
                             bool want_disallowed, SpecialMatch& m) const noexcept {
  const std::size_t n = text.size();
  const auto want = want_disallowed ? SpecialAction::kDisallowed : SpecialAction::kAllowed;
  const auto* p = reinterpret_cast<const unsigned char*>(text.data());
  for (std::size_t i = from; i < n; ++i) {
    const unsigned char b = p[i];
    if (!(special_first_bytes_[b >> 6] & (uint64_t{1} << (b & 63)))) continue;
    for (const std::size_t len : special_lengths_) {
      if (i + len > n) continue;
      const auto it = special_by_text_.find(text.substr(i, len));
      if (it != special_by_text_.end() && policy.actions[it->second] == want) {
        m = {i, len, it->second};
        return true;
      }
    }
  }
  return false;
}

void Tokenizer::throw_disallowed(const std::string& token) const {
  throw DisallowedSpecialToken(
      "Encountered text corresponding to disallowed special token '" + token +
      "'.\nIf you want this text to be encoded as a special token, pass it to `allowed_special`, e.g. "
      "`allowed_special={'" + token + "', ...}`.\nIf you want this text to be encoded as normal text, "
      "disable the check for this token by passing `disallowed_special=(enc.special_tokens_set - {'" + token +
      "'})`.\nTo disable this check for all special tokens, pass `disallowed_special=()`.");
}

SpecialPolicy Tokenizer::ordinary_policy() const {
  SpecialPolicy p;
  p.actions.assign(specials_.size(), SpecialAction::kOrdinary);
  return p;
}

void Tokenizer::prepare(Workspace& ws, std::size_t text_size) {
  if (text_size >= PieceCache::kMinText && !ws.cache) {
    ws.cache.emplace(text_size);
    ws.enable_memo();
  }
}

template <class Sink>
void Tokenizer::run(std::string_view text, const SpecialPolicy* policy, Sink&& sink) const {
  Workspace ws;
  prepare(ws, text.size());
  run(text, policy, sink, ws);
}

template <class Sink>
void Tokenizer::run(std::string_view text, const SpecialPolicy* policy, Sink&& sink, Workspace& ws) const {
  auto ordinary = [&](std::string_view segment) {
    pretokenize::split(pattern_, segment, [&](std::string_view piece) { bpe(piece, sink, ws); });
  };
  if (policy == nullptr || (!policy->any_allowed && !policy->any_disallowed)) {
    ordinary(text);
    return;
  }
  if (policy->actions.size() != specials_.size())
    throw InvalidInput("the special-token policy was built for another tokenizer");
  SpecialMatch m{};
  if (policy->any_disallowed && find_special(text, 0, *policy, true, m)) throw_disallowed(specials_[m.index].first);
  if (!policy->any_allowed) {
    ordinary(text);
    return;
  }
  std::size_t start = 0;
  while (true) {
    const bool found = find_special(text, start, *policy, false, m);
    const std::size_t end = found ? m.pos : text.size();
    if (end > start) ordinary(text.substr(start, end - start));
    if (!found) break;
    sink(specials_[m.index].second);
    start = m.pos + m.len;
  }
}

void Tokenizer::encode_ordinary(std::string_view text, std::vector<Rank>& out) const {
  run(text, nullptr, [&](Rank r) { out.push_back(r); });
}

void Tokenizer::encode(std::string_view text, const SpecialPolicy& policy, std::vector<Rank>& out) const {
  run(text, &policy, [&](Rank r) { out.push_back(r); });
}

void Tokenizer::encode_many(std::span<const std::string_view> texts, const SpecialPolicy* policy,
                            std::vector<std::vector<Rank>>& out) const {
  // One workspace for the whole batch: the memos carry over from text to text, which
  // is what makes many small documents as cheap per byte as one large one.
  Workspace ws;
  std::size_t total = 0;
  for (const auto t : texts) total += t.size();
  prepare(ws, total);
  out.resize(texts.size());
  for (std::size_t i = 0; i < texts.size(); ++i) {
    auto& v = out[i];
    run(texts[i], policy, [&](Rank r) { v.push_back(r); }, ws);
  }
}

void Tokenizer::count_many(std::span<const std::string_view> texts, const SpecialPolicy* policy,
                           std::vector<std::size_t>& out) const {
  Workspace ws;
  std::size_t total = 0;
  for (const auto t : texts) total += t.size();
  prepare(ws, total);
  out.assign(texts.size(), 0);
  for (std::size_t i = 0; i < texts.size(); ++i) {
    std::size_t& c = out[i];
    run(texts[i], policy, [&](Rank) { ++c; }, ws);
  }
}

void Tokenizer::encode_many(std::span<const std::string_view> texts, const SpecialPolicy* policy,
                            std::vector<std::vector<Rank>>& out, Scratch& scratch) const {
  Workspace& ws = workspace_of(scratch);
  out.resize(texts.size());
  for (std::size_t i = 0; i < texts.size(); ++i) {
    auto& v = out[i];
    run(texts[i], policy, [&](Rank r) { v.push_back(r); }, ws);
  }
}

void Tokenizer::count_many(std::span<const std::string_view> texts, const SpecialPolicy* policy,
                           std::vector<std::size_t>& out, Scratch& scratch) const {
  Workspace& ws = workspace_of(scratch);
  out.assign(texts.size(), 0);
  for (std::size_t i = 0; i < texts.size(); ++i) {
    std::size_t& c = out[i];
    run(texts[i], policy, [&](Rank) { ++c; }, ws);
  }
}

std::size_t Tokenizer::count_ordinary(std::string_view text) const {
  std::size_t c = 0;
  run(text, nullptr, [&](Rank) { ++c; });
  return c;
}

std::size_t Tokenizer::count(std::string_view text, const SpecialPolicy& policy) const {
  std::size_t c = 0;
  run(text, &policy, [&](Rank) { ++c; });
  return c;
}

void Tokenizer::encode_piece_merge(std::string_view piece, std::vector<Rank>& out) const {
  if (piece.empty()) return;
  Workspace ws;
  if (piece.size() > kHeapThreshold) {
    bpe_heap(piece, [&](Rank r) { out.push_back(r); }, ws);
    return;
  }
  Rank tok[kHeapThreshold];
  const std::size_t m = merge_small(piece, tok, ws);
  out.insert(out.end(), tok, tok + m);
}

void Tokenizer::encode_piece_backtrack(std::string_view piece, std::vector<Rank>& out) const {
  if (!bt_) throw InvalidInput("the vocabulary of '" + name_ + "' does not support backtracking BPE");
  if (piece.empty()) return;
  Workspace ws;
  if (!bpe_backtrack(piece, ws)) throw InvalidInput("backtracking BPE hit a dead end");
  out.insert(out.end(), ws.bt_tokens.begin(), ws.bt_tokens.end());
}

void Tokenizer::encode_piece(std::string_view piece, std::vector<Rank>& out) const {
  if (piece.empty()) return;
  Workspace ws;
  bpe(piece, [&](Rank r) { out.push_back(r); }, ws);
}

std::size_t Tokenizer::count_piece(std::string_view piece) const {
  std::size_t c = 0;
  Workspace ws;
  if (!piece.empty()) bpe(piece, [&](Rank) { ++c; }, ws);
  return c;
}

void Tokenizer::encode_with_byte_offsets(std::string_view text, const SpecialPolicy& policy,
                                         std::vector<Rank>& out, std::vector<std::size_t>& starts) const {
  const std::size_t first = out.size();
  encode(text, policy, out);
  byte_starts(std::span<const Rank>(out).subspan(first), text, starts);
}

void Tokenizer::encode_with_byte_offsets(std::string_view text, const SpecialPolicy& policy,
                                         std::vector<Rank>& out, std::vector<std::size_t>& starts,
                                         Scratch& scratch) const {
  const std::size_t first = out.size();
  run(text, &policy, [&](Rank r) { out.push_back(r); }, workspace_of(scratch));
  byte_starts(std::span<const Rank>(out).subspan(first), text, starts);
}

void Tokenizer::byte_starts(std::span<const Rank> tokens, std::string_view text,
                            std::vector<std::size_t>& starts) const {
  starts.reserve(starts.size() + tokens.size());
  std::size_t pos = 0;
  for (const Rank t : tokens) {
    starts.push_back(pos);
    if (kind_[t] != kKindSpecial) {
      pos += offsets_[t + 1] - offsets_[t];
      continue;
    }
    // A special token: advance by the text it matched in the source, which may be an
    // alias of the text it decodes to (o200k_harmony gives two texts one id).
    std::size_t len = 0;
    for (const auto& [special, id] : specials_)
      if (id == t && special.size() > len && text.substr(pos, special.size()) == special) len = special.size();
    pos += len;
  }
}

Tokenizer::Scratch::Scratch(const Tokenizer* owner, std::unique_ptr<Workspace> ws)
    : owner_(owner), ws_(std::move(ws)) {}
Tokenizer::Scratch::Scratch(Scratch&&) noexcept = default;
Tokenizer::Scratch& Tokenizer::Scratch::operator=(Scratch&&) noexcept = default;
Tokenizer::Scratch::~Scratch() = default;

Tokenizer::Scratch Tokenizer::make_scratch(std::size_t size_hint, bool keep_long_pieces) const {
  auto ws = std::make_unique<Workspace>();
  ws->cache.emplace(size_hint);
  // The pair memos (~330 KB to set up) pay off only on longer text.
  if (size_hint >= 4 * PieceCache::kMinText) ws->enable_memo();
  if (keep_long_pieces) ws->cache->keep_long_pieces();
  ws->cache->set_max_arena(PieceCache::kMaxArenaScratch);
  return Scratch(this, std::move(ws));
}

Tokenizer::Workspace& Tokenizer::workspace_of(Scratch& scratch) const {
  if (scratch.owner_ != this || !scratch.ws_)
    throw InvalidInput("this scratch space was made by another tokenizer (or moved from); make one with "
                       "make_scratch() of the tokenizer that uses it");
  return *scratch.ws_;
}

void Tokenizer::encode_piece(std::string_view piece, std::vector<Rank>& out, Scratch& scratch) const {
  if (!piece.empty()) bpe(piece, [&](Rank r) { out.push_back(r); }, workspace_of(scratch));
}

std::size_t Tokenizer::count_piece(std::string_view piece, Scratch& scratch) const {
  std::size_t c = 0;
  if (!piece.empty()) bpe(piece, [&](Rank) { ++c; }, workspace_of(scratch));
  return c;
}

std::size_t Tokenizer::token_bytes_special_length(Rank token) const noexcept {
  const auto it = special_by_id_.find(token);
  return it == special_by_id_.end() ? 0 : specials_[it->second].first.size();
}

std::size_t Tokenizer::count_ordinary(std::string_view text, Scratch& scratch) const {
  std::size_t c = 0;
  run(text, nullptr, [&](Rank) { ++c; }, workspace_of(scratch));
  return c;
}

std::size_t Tokenizer::truncate_bytes(std::string_view text, std::size_t max_tokens,
                                      const SpecialPolicy& policy) const {
  std::vector<Rank> toks;
  encode(text, policy, toks);
  if (toks.size() <= max_tokens) return text.size();
  std::vector<std::size_t> ends(toks.size());
  std::size_t pos = 0;
  for (std::size_t k = 0; k < toks.size(); ++k) ends[k] = pos += token_bytes(toks[k]).size();
  const auto* p = reinterpret_cast<const unsigned char*>(text.data());
  auto boundary = [&](std::size_t e) { return e == text.size() || !utf8::is_continuation(p[e]); };
  auto fits = [&](std::size_t e) { return count(text.substr(0, e), policy) <= max_tokens; };
  // A prefix's own encoding can differ from the start of the text's encoding (BPE and the
  // split regexes look ahead), so the longest prefix that fits ends near, not always at,
  // the end of the first max_tokens tokens: try every character boundary up to the end
  // of token max_tokens + 2, longest first, each checked by counting it on its own.
  const std::size_t lo = max_tokens == 0 ? 0 : ends[max_tokens - 1];
  const std::size_t hi = ends[std::min(max_tokens + 1, toks.size() - 1)];
  for (std::size_t e = hi; e > lo; --e) {
    if (boundary(e) && fits(e)) return e;
  }
  // Rare: even the first max_tokens tokens re-encode to more on their own; back off.
  for (std::size_t k = max_tokens; k > 0; --k) {
    std::size_t end = ends[k - 1];
    while (end > 0 && !boundary(end)) --end;
    if (end > 0 && fits(end)) return end;
  }
  return 0;
}

void Tokenizer::decode_bytes(std::span<const Rank> tokens, std::string& out) const {
  std::size_t total = 0;
  for (const Rank t : tokens) {
    if (t <= max_token_ && is_mergeable(t)) total += offsets_[t + 1] - offsets_[t];
    else total += token_bytes(t).size();  // throws for unknown ids
  }
  out.reserve(out.size() + total);
  for (const Rank t : tokens) {
    if (is_mergeable(t)) out.append(blob_.data() + offsets_[t], offsets_[t + 1] - offsets_[t]);
    else out += token_bytes(t);
  }
}

std::size_t Tokenizer::memory_bytes() const noexcept {
  std::size_t s = blob_.capacity() + offsets_.capacity() * sizeof(uint32_t) + kind_.capacity() +
                  byte_table_.capacity() * sizeof(ByteSlot) + byte_pair_.capacity() * sizeof(Rank) + pair_table_.capacity() * sizeof(PairSlot) +
                  pair_packed_.capacity() * sizeof(uint64_t);
  for (const auto& [text, id] : specials_) s += text.capacity() + sizeof(id);
  if (bt_) s += bt_->memory_bytes();
  return s;
}

}  // namespace covekit
