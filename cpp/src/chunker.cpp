#include "covekit/chunker.hpp"

#include <algorithm>
#include <array>
#include <cstring>
#include <limits>

#include "covekit/errors.hpp"
#include "covekit/hash.hpp"
#include "covekit/markdown.hpp"
#include "covekit/segment.hpp"
#include "covekit/utf8.hpp"

namespace covekit::chunking {

Strategy parse_strategy(std::string_view name) {
  if (name == "recursive") return Strategy::kRecursive;
  if (name == "token") return Strategy::kToken;
  if (name == "sentence") return Strategy::kSentence;
  if (name == "semantic") return Strategy::kSemantic;
  throw InvalidInput("unknown chunking strategy '" + std::string(name) +
                     "'; choose one of 'recursive' (the default), 'token', 'sentence' or 'semantic'");
}

const char* strategy_name(Strategy s) noexcept {
  switch (s) {
    case Strategy::kRecursive: return "recursive";
    case Strategy::kToken: return "token";
    case Strategy::kSentence: return "sentence";
    case Strategy::kSemantic: return "semantic";
  }
  return "?";
}

void validate(const Options& o) {
  if (o.max_tokens < 1) throw InvalidInput("max_tokens must be at least 1, got 0");
  if (o.max_tokens > (std::size_t{1} << 30))
    throw InvalidInput("max_tokens must be at most 2**30, got " + std::to_string(o.max_tokens));
  if (o.overlap_tokens >= o.max_tokens)
    throw InvalidInput("overlap_tokens (" + std::to_string(o.overlap_tokens) + ") must be smaller than max_tokens (" +
                       std::to_string(o.max_tokens) + "); lower overlap_tokens or raise max_tokens");
  if (o.strategy == Strategy::kSentence && o.overlap_tokens > 0)
    throw InvalidInput("the 'sentence' strategy counts its overlap in whole sentences: pass overlap_sentences=" +
                       std::string("N instead of overlap_tokens"));
  if (o.strategy != Strategy::kSentence && o.overlap_sentences > 0)
    throw InvalidInput(std::string("overlap_sentences applies to strategy='sentence' only; with strategy='") +
                       strategy_name(o.strategy) + "' pass overlap_tokens instead");
  if (o.overlap_at_boundary && o.strategy == Strategy::kToken)
    throw InvalidInput("overlap='boundary' needs the boundaries of a structure-aware strategy; with strategy='token' "
                       "use overlap='exact'");
}

uint64_t chunk_id(std::string_view doc_id, uint64_t start, uint64_t stop, std::string_view text) {
  std::string buf;
  buf.reserve(doc_id.size() + 17 + text.size());
  buf.append(doc_id);
  buf.push_back('\0');
  for (uint64_t v : {start, stop})
    for (int i = 0; i < 8; ++i) buf.push_back(static_cast<char>((v >> (8 * i)) & 0xFF));
  buf.append(text);
  return hash::xxh3_64(buf);
}

void byte_to_char(std::string_view text, std::span<const uint32_t> offs, std::vector<uint64_t>& out) {
  out.resize(offs.size());
  std::size_t pos = 0;
  uint64_t chars = 0;
  for (std::size_t i = 0; i < offs.size(); ++i) {
    const std::size_t b = offs[i];
    if (b < pos) {  // not sorted: start over (callers pass sorted offsets)
      pos = 0;
      chars = 0;
    }
    chars += utf8::count_code_points(text.substr(pos, b - pos));
    pos = b;
    out[i] = chars;
  }
}

void char_to_byte(std::string_view text, std::span<const uint64_t> offs, std::vector<uint32_t>& out) {
  out.resize(offs.size());
  const auto* p = reinterpret_cast<const unsigned char*>(text.data());
  std::size_t pos = 0;
  uint64_t chars = 0;
  for (std::size_t i = 0; i < offs.size(); ++i) {
    if (offs[i] < chars) throw InvalidInput("character offsets must be sorted ascending");
    while (chars < offs[i]) {
      if (pos >= text.size())
        throw InvalidInput("character offset " + std::to_string(offs[i]) + " is past the end of the text (" +
                           std::to_string(chars) + " characters)");
      ++pos;
      while (pos < text.size() && utf8::is_continuation(p[pos])) ++pos;
      ++chars;
    }
    out[i] = static_cast<uint32_t>(pos);
  }
}

namespace {

constexpr std::size_t npos = std::numeric_limits<std::size_t>::max();

class Engine {
 public:
  Engine(const Tokenizer& tok, const SpecialPolicy& policy, const Options& o, std::string_view text,
         std::span<const uint32_t> breaks, Tokenizer::Scratch& scratch)
      : tok_(tok), policy_(policy), o_(o), t_(text), trim_(o.strategy != Strategy::kToken), scratch_(scratch) {
    if (text.size() >= std::numeric_limits<uint32_t>::max())
      throw InvalidInput("a document must be smaller than 4 GiB of UTF-8; split it first");
    end_ = trim_ ? segment::trim_back(t_, 0, t_.size()) : t_.size();
    if (end_ == 0) return;
    build_tokens();
    if (o_.strategy != Strategy::kToken) build_structure();
    build_cuts();
    for (uint32_t b : breaks) {
      const std::size_t x = segment::trim_back(t_, 0, std::min<std::size_t>(b, t_.size()));
      if (x > 0 && x < end_ && (hard_.empty() || hard_.back() < x)) hard_.push_back(static_cast<uint32_t>(x));
    }
    hard_.push_back(static_cast<uint32_t>(end_));
  }

  ChunkResult run(std::string_view doc_id) {
    ChunkResult r;
    r.heading_paths.emplace_back();
    if (end_ == 0) return r;
    std::size_t s = trim_ ? segment::skip_space(t_, 0) : 0;
    if (s >= end_) return r;
    std::size_t min_end = s;
    std::size_t heading = 0;  // next heading to apply
    std::vector<std::pair<uint8_t, uint32_t>> stack;  // (depth, heading index)
    uint32_t path_id = 0;
    while (true) {
      std::size_t count = 0;
      const std::size_t e = pick(s, min_end, count);
      // Heading path in effect at the chunk's start.
      bool changed = false;
      while (heading < headings_.size() && headings_[heading].pos <= s) {
        const auto& h = headings_[heading];
        while (!stack.empty() && stack.back().first >= h.depth) stack.pop_back();
        stack.emplace_back(h.depth, static_cast<uint32_t>(heading));
        ++heading;
        changed = true;
      }
      if (changed) {
        std::vector<std::pair<uint32_t, uint32_t>> path;
        for (const auto& [d, i] : stack) path.emplace_back(headings_[i].text_begin, headings_[i].text_end);
        r.heading_paths.push_back(std::move(path));
        path_id = static_cast<uint32_t>(r.heading_paths.size() - 1);
      }
      if (trim_ || segment::skip_space(t_, s) < e) {
        Chunk c;
        c.begin = static_cast<uint32_t>(s);
        c.end = static_cast<uint32_t>(e);
        c.token_count = static_cast<uint32_t>(count);
        c.heading_path = path_id;
        r.chunks.push_back(c);
      }
      if (e >= end_) break;
      next_start(s, min_end, e);
    }
    finish(r, doc_id);
    return r;
  }

 private:
  // The document's tokens in context (special-token text as ordinary text), split here
  // so that the pieces' boundaries are kept for exact().
  void build_tokens() {
    std::vector<Rank> ids;
    tstart_.reserve(t_.size() / 3 + 1);
    pstart_.reserve(t_.size() / 4 + 1);
    pretokenize::split(tok_.pattern(), t_, [&](std::string_view piece) {
      auto pos = static_cast<uint32_t>(piece.data() - t_.data());
      pstart_.push_back(pos);
      ids.clear();
      tok_.encode_piece(piece, ids, scratch_);
      if (ids.size() == 1) {  // most pieces are one token: no length to look up
        tstart_.push_back(pos);
        return;
      }
      for (const Rank r : ids) {
        tstart_.push_back(pos);
        pos += static_cast<uint32_t>(tok_.token_length(r));
      }
    });
    tstart_.push_back(static_cast<uint32_t>(t_.size()));  // sentinels
    pstart_.push_back(static_cast<uint32_t>(t_.size()));
  }

  void build_structure() {
    const bool md = o_.markdown && o_.strategy == Strategy::kRecursive;
    markdown::Structure st = markdown::analyze(t_, o_.markdown);
    if (md) headings_ = std::move(st.headings);
    // Strategy levels: recursive uses every level; sentence and semantic use sentence
    // units (anything at least as strong as a sentence end), then words.
    std::array<uint8_t, segment::kLevelCount> remap{};
    for (int i = 0; i < segment::kLevelCount; ++i) remap[i] = static_cast<uint8_t>(i);
    if (o_.strategy != Strategy::kRecursive) {
      for (int i = 0; i <= segment::kSentence; ++i) remap[i] = 0;
      remap[segment::kLine] = segment::kWord;
    }
    for (auto& v : levels_) v.reserve(64);
    levels_[segment::kWord].reserve(st.boundaries.size());
    for (const auto& b : st.boundaries) {
      if (b.pos == 0 || b.pos >= end_) continue;
      for (int l = remap[b.level]; l < segment::kToken; ++l) levels_[l].push_back(b.pos);
    }
  }

  void build_cuts() {
    // Token starts where a chunk may end: on a character boundary, not before a
    // combining character, and (when chunks are trimmed) right after content.
    const auto* p = reinterpret_cast<const unsigned char*>(t_.data());
    std::vector<uint32_t> tok_cuts;
    tok_cuts.reserve(tstart_.size());
    for (std::size_t i = 0; i + 1 < tstart_.size(); ++i) {
      const std::size_t x = tstart_[i];
      if (x == 0 || x >= end_ || utf8::is_continuation(p[x])) continue;
      if (trim_) {
        const char32_t next = p[x] < 0x80 ? p[x] : segment::code_point_at(t_, x);
        if (segment::continues_cluster(next)) continue;
        const char32_t prev = p[x - 1] < 0x80 ? p[x - 1] : segment::code_point_before(t_, x);
        if (prev == 0x200D || segment::is_space(prev)) continue;
      }
      tok_cuts.push_back(static_cast<uint32_t>(x));
    }
    const auto& words = levels_[segment::kWord];
    auto& cuts = levels_[segment::kToken];
    cuts.resize(tok_cuts.size() + words.size());
    auto it = std::set_union(tok_cuts.begin(), tok_cuts.end(), words.begin(), words.end(), cuts.begin());
    cuts.resize(static_cast<std::size_t>(it - cuts.begin()));
  }

  // Index of the first token that starts at or after byte `p`.
  [[nodiscard]] std::size_t tok_index(std::size_t p) const noexcept {
    return static_cast<std::size_t>(std::lower_bound(tstart_.begin(), tstart_.end() - 1, p) - tstart_.begin());
  }

  // Tokens of the document that overlap [s, e): the in-context estimate.
  [[nodiscard]] std::size_t est(std::size_t s, std::size_t e) const noexcept {
    const std::size_t i = tok_index(s);
    const std::size_t j = tok_index(e);
    return j - i + (tstart_[i] == s ? 0 : 1);
  }

  // The tokens of t_[s, e) encoded alone (BPE works piece by piece). The scratch memo
  // holds every piece of the document from build_tokens(), so re-encoded pieces that
  // the document also has are memo hits.
  [[nodiscard]] std::size_t exact(std::size_t s, std::size_t e) const {
    // The chunk's own split agrees with the document's once a chunk piece starts where a
    // document piece starts: the scanners are then in the same place, and a piece's
    // match only reads its own text and the character after it. So: split the head
    // until it meets a document piece start; take the document's tokens for the
    // document pieces that end well before e; split and encode the last pieces again
    // (there the end of the chunk can change the match: `\s+(?!\S)`, `\s++$`).
    const std::string_view sub = t_.substr(s, e - s);
    const auto pattern = tok_.pattern();
    std::size_t count = 0;
    std::size_t i = 0;  // offset in sub
    auto pit = std::lower_bound(pstart_.begin(), pstart_.end(), static_cast<uint32_t>(s));
    while (i < sub.size()) {
      while (*pit < s + i) ++pit;  // sentinel t_.size() >= e stops it
      if (*pit == s + i) break;
      const std::size_t j = pretokenize::piece_end(pattern, sub, i);
      count += tok_.count_piece(sub.substr(i, j - i), scratch_);
      i = j;
    }
    if (i < sub.size()) {
      // Document pieces from *pit on; z: the last one that starts before e.
      const auto z = std::lower_bound(pit, pstart_.end(), static_cast<uint32_t>(e)) - 1;
      const auto tail = z - pit >= 2 ? z - 2 : pit;
      if (tail > pit) {
        count += tok_index(*tail) - tok_index(*pit);
        i = *tail - s;
      }
      while (i < sub.size()) {
        const std::size_t j = pretokenize::piece_end(pattern, sub, i);
        count += tok_.count_piece(sub.substr(i, j - i), scratch_);
        i = j;
      }
    }
    return count;
  }

  [[nodiscard]] std::size_t hard_after(std::size_t min_end) const noexcept {
    return *std::upper_bound(hard_.begin(), hard_.end(), min_end);
  }

  // The furthest boundary after min_end that fits `budget` by estimate, at the strongest
  // level whose first unit fits; npos when not even a token fits.
  [[nodiscard]] std::size_t choose_end(std::size_t s, std::size_t min_end, std::size_t budget) const {
    const std::size_t hard_end = hard_after(min_end);
    for (int l = 0; l < segment::kLevelCount; ++l) {
      const auto& P = levels_[l];
      const auto it = std::upper_bound(P.begin(), P.end(), static_cast<uint32_t>(min_end));
      const std::size_t b = (it != P.end() && *it < hard_end) ? *it : hard_end;
      if (est(s, b) > budget) continue;
      std::size_t E = hard_end;
      if (l > 0) {
        const auto& Q = levels_[l - 1];
        const auto jt = std::upper_bound(Q.begin(), Q.end(), static_cast<uint32_t>(min_end));
        if (jt != Q.end() && *jt < hard_end) E = *jt;
      }
      std::size_t r = E;
      if (est(s, E) > budget) {
        auto lo = it;
        auto hi = std::lower_bound(it, P.end(), static_cast<uint32_t>(E));
        while (hi - lo > 1) {
          const auto mid = lo + (hi - lo) / 2;
          if (est(s, *mid) <= budget) lo = mid;
          else hi = mid;
        }
        r = *lo;
      }
      return l > segment::kSentence ? split_sentence(s, min_end, budget, l, r, hard_end) : r;
    }
    return npos;
  }

  // The furthest boundary of `level` in (min_end, limit) that fits `budget` from s by
  // estimate; npos when none does.
  [[nodiscard]] std::size_t furthest(int level, std::size_t s, std::size_t min_end, std::size_t limit,
                                     std::size_t budget) const {
    const auto& P = levels_[static_cast<std::size_t>(level)];
    const auto lo = std::upper_bound(P.begin(), P.end(), static_cast<uint32_t>(min_end));
    const auto hi = std::lower_bound(lo, P.end(), static_cast<uint32_t>(limit));
    const auto it = std::partition_point(lo, hi, [&](uint32_t b) { return est(s, b) <= budget; });
    return it == lo ? npos : *(it - 1);
  }

  // No sentence end fits, so the chunk ends inside a sentence at r (a boundary of level
  // l). Cut the sentence into as few chunks as its tokens allow: when the rest of the
  // sentence after r needs more chunks than the rest after the furthest cut that fits
  // (a token boundary), take the strongest finer level whose furthest cut needs no more.
  // Greedy filling at the strongest level alone can cut a long sentence three times where
  // two cuts do (Lao, Thai or Burmese, whose words are long runs between spaces).
  [[nodiscard]] std::size_t split_sentence(std::size_t s, std::size_t min_end, std::size_t budget, int l,
                                           std::size_t r, std::size_t hard_end) const {
    const auto& S = levels_[segment::kSentence];
    const auto st = std::upper_bound(S.begin(), S.end(), static_cast<uint32_t>(min_end));
    const std::size_t send = (st != S.end() && *st < hard_end) ? *st : hard_end;
    if (r >= send || budget == 0) return r;
    const std::size_t ov = o_.overlap_tokens;
    const auto need = [&](std::size_t c) { return (est(c, send) + ov + budget - 1) / budget; };
    const std::size_t best = furthest(segment::kToken, s, min_end, send, budget);
    if (best == npos) return r;
    const std::size_t fewest = need(best);
    if (need(r) <= fewest) return r;
    for (int l2 = l + 1; l2 < segment::kToken; ++l2) {
      const std::size_t c = furthest(l2, s, min_end, send, budget);
      if (c != npos && need(c) <= fewest) return c;
    }
    return best;
  }

  // The longest prefix from s that fits exactly (token and character boundary).
  [[nodiscard]] std::size_t truncate_end(std::size_t s, std::size_t min_end) const {
    const std::size_t hard_end = hard_after(min_end);
    const std::size_t k = tok_index(s) + o_.max_tokens + 8;
    const std::size_t lim = std::min<std::size_t>(hard_end, k < tstart_.size() ? tstart_[k] : t_.size());
    std::size_t e = s + tok_.truncate_bytes(t_.substr(s, lim - s), o_.max_tokens, policy_);
    if (trim_) e = segment::trim_back(t_, s, e);
    return e > min_end ? e : npos;
  }

  // Moves an overlapping start forward by one unit (a sentence for the sentence
  // strategy, else a token); past the overlap, the start is the next content.
  void shorten_overlap(std::size_t& s, std::size_t& min_end) const {
    const auto& P = o_.strategy == Strategy::kSentence ? levels_[0] : levels_[segment::kToken];
    const auto it = std::upper_bound(P.begin(), P.end(), static_cast<uint32_t>(s));
    std::size_t next = it != P.end() ? *it : min_end;
    if (o_.strategy == Strategy::kSentence && next < min_end) next = segment::skip_space(t_, next);
    if (next >= min_end) {
      s = trim_ ? segment::skip_space(t_, min_end) : min_end;
      min_end = s;
    } else {
      s = next;
    }
  }

  // Chooses the chunk that starts at s (which may move forward when an overlap leaves
  // no room) and ends after min_end; returns its end and exact token count.
  std::size_t pick(std::size_t& s, std::size_t& min_end, std::size_t& count) const {
    std::size_t budget = o_.max_tokens;
    while (true) {
      std::size_t e = budget >= 1 ? choose_end(s, min_end, budget) : npos;
      if (e == npos) e = truncate_end(s, min_end);
      if (e == npos) {
        if (s < min_end) {
          shorten_overlap(s, min_end);
          budget = o_.max_tokens;
          continue;
        }
        const std::size_t need = tok_.count_ordinary(t_.substr(s, std::min<std::size_t>(4, t_.size() - s)));
        throw InvalidInput("the character at byte offset " + std::to_string(s) + " needs " + std::to_string(need) +
                           " tokens on its own, more than max_tokens=" + std::to_string(o_.max_tokens) +
                           "; raise max_tokens to at least 4 (no character needs more)");
      }
      const std::size_t c = exact(s, e);
      if (c <= o_.max_tokens) {
        count = c;
        return e;
      }
      const std::size_t guess = est(s, e);
      const std::size_t excess = c - o_.max_tokens;
      const std::size_t lowered = guess > excess ? guess - excess : 0;
      budget = std::min(budget > 0 ? budget - 1 : 0, lowered);
    }
  }

  // The start of the strongest unit that begins in [lo, e): the first boundary of the
  // strongest level found there, past its whitespace; lo when there is none.
  [[nodiscard]] std::size_t overlap_boundary(std::size_t lo, std::size_t e) const {
    for (int l = 0; l < segment::kLevelCount; ++l) {
      const auto& P = levels_[static_cast<std::size_t>(l)];
      for (auto it = std::lower_bound(P.begin(), P.end(), static_cast<uint32_t>(lo)); it != P.end() && *it < e; ++it) {
        const std::size_t b = trim_ ? segment::skip_space(t_, *it) : *it;
        if (b < e) return b;
      }
    }
    return lo;
  }

  void next_start(std::size_t& s, std::size_t& min_end, std::size_t e) const {
    if (o_.overlap_tokens > 0) {
      const std::size_t j = tok_index(e);  // tokens that start before e
      const std::size_t first = tok_index(s);
      std::size_t ns = s;
      if (j > first + o_.overlap_tokens) {
        std::size_t k = j - o_.overlap_tokens;
        const auto* p = reinterpret_cast<const unsigned char*>(t_.data());
        while (k > first && utf8::is_continuation(p[tstart_[k]])) --k;
        ns = std::max<std::size_t>(s, tstart_[k]);
      }
      if (o_.overlap_at_boundary) ns = overlap_boundary(ns, e);
      s = ns;
      min_end = e;
      return;
    }
    if (o_.overlap_sentences > 0) {
      const auto& P = levels_[0];
      const auto lo = std::upper_bound(P.begin(), P.end(), static_cast<uint32_t>(s));
      const auto hi = std::lower_bound(P.begin(), P.end(), static_cast<uint32_t>(e));
      const std::size_t inside = hi > lo ? static_cast<std::size_t>(hi - lo) : 0;
      const std::size_t take = std::min(inside, o_.overlap_sentences);
      if (take > 0) {
        s = segment::skip_space(t_, *(hi - static_cast<std::ptrdiff_t>(take)));
        min_end = e;
        return;
      }
    }
    s = trim_ ? segment::skip_space(t_, e) : e;
    min_end = s;
  }

  void finish(ChunkResult& r, std::string_view doc_id) const {
    std::vector<uint32_t> offs(r.chunks.size());
    std::vector<uint64_t> chars;
    for (std::size_t i = 0; i < r.chunks.size(); ++i) offs[i] = r.chunks[i].begin;
    byte_to_char(t_, offs, chars);
    for (std::size_t i = 0; i < r.chunks.size(); ++i) r.chunks[i].start = chars[i];
    for (std::size_t i = 0; i < r.chunks.size(); ++i) offs[i] = r.chunks[i].end;
    byte_to_char(t_, offs, chars);
    for (std::size_t i = 0; i < r.chunks.size(); ++i) {
      Chunk& c = r.chunks[i];
      c.stop = chars[i];
      c.id = chunk_id(doc_id, c.start, c.stop, t_.substr(c.begin, c.end - c.begin));
    }
  }

  const Tokenizer& tok_;
  const SpecialPolicy& policy_;
  const Options& o_;
  std::string_view t_;
  bool trim_;
  std::size_t end_ = 0;                   // end of the last chunk
  std::vector<uint32_t> tstart_;          // byte start of each token, then t_.size()
  std::vector<uint32_t> pstart_;          // byte start of each piece, then t_.size()
  std::array<std::vector<uint32_t>, segment::kLevelCount> levels_;  // boundaries of level <= l
  std::vector<uint32_t> hard_;            // boundaries no chunk crosses, then end_
  std::vector<markdown::Heading> headings_;
  Tokenizer::Scratch& scratch_;           // memos shared by the encode and every exact count
};

}  // namespace

Chunker::Chunker(const Tokenizer& tokenizer, Options options)
    : tok_(tokenizer), opts_(options), ordinary_(tokenizer.ordinary_policy()) {
  validate(opts_);
}

ChunkResult Chunker::chunk(std::string_view text, std::string_view doc_id, std::span<const uint32_t> breaks) const {
  Tokenizer::Scratch scratch = tok_.make_scratch(text.size(), true);
  return chunk(text, doc_id, breaks, scratch);
}

ChunkResult Chunker::chunk(std::string_view text, std::string_view doc_id, std::span<const uint32_t> breaks,
                           Tokenizer::Scratch& scratch) const {
  Engine engine(tok_, ordinary_, opts_, text, breaks, scratch);
  return engine.run(doc_id);
}

std::vector<std::pair<uint32_t, uint32_t>> Chunker::sentences(std::string_view text) const {
  std::vector<std::pair<uint32_t, uint32_t>> out;
  if (text.size() >= std::numeric_limits<uint32_t>::max())
    throw InvalidInput("a document must be smaller than 4 GiB of UTF-8; split it first");
  const markdown::Structure st = markdown::analyze(text, opts_.markdown);
  std::size_t start = segment::skip_space(text, 0);
  auto close = [&](std::size_t b) {
    const std::size_t e = segment::trim_back(text, start, b);
    if (e > start) out.emplace_back(static_cast<uint32_t>(start), static_cast<uint32_t>(e));
    start = segment::skip_space(text, std::max(b, start));
  };
  for (const auto& b : st.boundaries)
    if (b.level <= segment::kSentence && b.pos > start) close(b.pos);
  close(text.size());
  return out;
}

}  // namespace covekit::chunking
