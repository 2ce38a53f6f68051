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
  static constexpr std::size_t kMaxPiece = 64;         // longer pieces are not memoized
  static constexpr std::size_t kMaxArena = 1u << 22;   // tokens held before a reset

  explicit PieceCache(std::size_t text_size) {
    const std::size_t cap = std::bit_ceil(std::clamp<std::size_t>(text_size / 64, 1024, 1u << 16));
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
    if (piece.size() > kMaxPiece) return;
    if (tokens_.size() + n > kMaxArena) {
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

  void enable_memo() {
    memo = std::make_unique<PairMemo>();
    std::fill(std::begin(memo->key), std::end(memo->key), UINT64_MAX);
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
  present_.assign(std::size_t{max_token_} + 1, 0);
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
        present_[r] = 1;
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
    if (present_[id] == 1)
      throw InvalidInput("special token '" + printable(text) + "' has id " + std::to_string(id) +
                         ", which is already the id of a mergeable token");
    // Two special texts may share an id (o200k_harmony does); decoding gives the first.
    present_[id] = 2;
    special_by_id_.emplace(id, k);
    const auto first = static_cast<unsigned char>(text[0]);
    special_first_bytes_[first >> 6] |= uint64_t{1} << (first & 63);
    if (std::find(special_lengths_.begin(), special_lengths_.end(), text.size()) == special_lengths_.end())
      special_lengths_.push_back(text.size());
  }
  std::sort(special_lengths_.rbegin(), special_lengths_.rend());
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

bool Tokenizer::is_token(Rank token) const noexcept { return token <= max_token_ && present_[token] != 0; }
bool Tokenizer::is_special(Rank token) const noexcept { return token <= max_token_ && present_[token] == 2; }

std::string_view Tokenizer::token_bytes(Rank token) const {
  if (token <= max_token_) {
    if (present_[token] == 1) {
      const uint32_t off = offsets_[token];
      return std::string_view(blob_).substr(off, offsets_[token + 1] - off);
    }
    if (present_[token] == 2) {
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
  if (const Rank whole = lookup_hashed(piece, h); whole != kNoRank) {
    sink(whole);
    return;
  }
  if (n > kHeapThreshold) {
    bpe_heap(piece, sink, ws);
    return;
  }
  Rank tok[kHeapThreshold];
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
  for (std::size_t i = 0; i < m; ++i) sink(tok[i]);
  if (cache) cache->put(piece, h, tok, m);
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
  starts.reserve(starts.size() + out.size() - first);
  std::size_t pos = 0;
  for (std::size_t k = first; k < out.size(); ++k) {
    starts.push_back(pos);
    const Rank t = out[k];
    if (present_[t] != 2) {
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
    if (t <= max_token_ && present_[t] == 1) total += offsets_[t + 1] - offsets_[t];
    else total += token_bytes(t).size();  // throws for unknown ids
  }
  out.reserve(out.size() + total);
  for (const Rank t : tokens) {
    if (present_[t] == 1) out.append(blob_.data() + offsets_[t], offsets_[t + 1] - offsets_[t]);
    else out += token_bytes(t);
  }
}

std::size_t Tokenizer::memory_bytes() const noexcept {
  std::size_t s = blob_.capacity() + offsets_.capacity() * sizeof(uint32_t) + present_.capacity() +
                  byte_table_.capacity() * sizeof(ByteSlot) + byte_pair_.capacity() * sizeof(Rank) + pair_table_.capacity() * sizeof(PairSlot) +
                  pair_packed_.capacity() * sizeof(uint64_t);
  for (const auto& [text, id] : specials_) s += text.capacity() + sizeof(id);
  return s;
}

}  // namespace covekit
