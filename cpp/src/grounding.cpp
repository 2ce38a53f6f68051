#include "covekit/grounding.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <optional>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <utility>

#include "covekit/chunker.hpp"
#include "covekit/errors.hpp"
#include "covekit/markdown.hpp"
#include "covekit/segment.hpp"
#include "covekit/utf8.hpp"

namespace covekit::grounding {

namespace {

void check_text(std::string_view text) {
  if (text.size() >= std::numeric_limits<uint32_t>::max())
    throw InvalidInput("a text must be smaller than 4 GiB of UTF-8; split it first");
  utf8::validate(text);
}

// Byte spans of the sentence units (as Chunker::sentences, without a tokenizer).
std::vector<std::pair<uint32_t, uint32_t>> byte_sentences(std::string_view text) {
  std::vector<std::pair<uint32_t, uint32_t>> out;
  const markdown::Structure st = markdown::analyze(text, true);
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

// Fills the code point offsets of spans from their byte offsets.
void fill_chars(std::string_view text, std::vector<Span*>& spans) {
  std::vector<uint32_t> offs;
  offs.reserve(spans.size() * 2);
  for (const Span* s : spans) {
    offs.push_back(s->begin);
    offs.push_back(s->end);
  }
  std::sort(offs.begin(), offs.end());
  offs.erase(std::unique(offs.begin(), offs.end()), offs.end());
  std::vector<uint64_t> chars;
  chunking::byte_to_char(text, offs, chars);
  auto at = [&](uint32_t b) { return chars[std::lower_bound(offs.begin(), offs.end(), b) - offs.begin()]; };
  for (Span* s : spans) {
    s->start = at(s->begin);
    s->stop = at(s->end);
  }
}

bool is_digit(char c) { return c >= '0' && c <= '9'; }

std::vector<Marker> find_markers(std::string_view t) {
  std::vector<Marker> out;
  std::size_t i = 0;
  while ((i = t.find('[', i)) != std::string_view::npos) {
    std::size_t j = i + 1;
    std::vector<int64_t> values;
    bool ok = false;
    while (true) {
      const std::size_t d = j;
      while (j < t.size() && is_digit(t[j]) && j - d < 10) ++j;
      if (j == d || j - d > 9) break;
      values.push_back(std::stoll(std::string(t.substr(d, j - d))));
      if (j < t.size() && t[j] == ']') {
        ok = true;
        ++j;
        break;
      }
      if (j < t.size() && t[j] == ',') {
        ++j;
        while (j < t.size() && t[j] == ' ') ++j;
        continue;
      }
      break;
    }
    if (ok) {
      for (int64_t v : values) out.push_back({Span{static_cast<uint32_t>(i), static_cast<uint32_t>(j)}, v});
      i = j;
    } else {
      ++i;
    }
  }
  return out;
}

// `text` with runs of whitespace as one space, trimmed; bytes in [skip_b, skip_e)
// spans (sorted) are left out (markers inside a quote).
std::string collapse(std::string_view text, const std::vector<std::pair<uint32_t, uint32_t>>& skip = {}) {
  std::string out;
  out.reserve(text.size());
  bool space = false;
  std::size_t k = 0;
  const auto* p = reinterpret_cast<const unsigned char*>(text.data());
  for (std::size_t i = 0; i < text.size();) {
    while (k < skip.size() && skip[k].second <= i) ++k;
    if (k < skip.size() && skip[k].first <= i) {
      i = skip[k].second;
      continue;
    }
    unsigned len = 1;
    const char32_t cp = utf8::decode(p + i, &len);
    if (segment::is_space(cp)) {
      space = true;
    } else {
      if (space && !out.empty()) out.push_back(' ');
      space = false;
      out.append(text.substr(i, len));
    }
    i += len;
  }
  return out;
}

struct Vocab {
  std::unordered_map<std::string, uint32_t> ids;
  uint32_t get_or_add(const std::string& t) { return ids.emplace(t, static_cast<uint32_t>(ids.size())).first->second; }
  [[nodiscard]] int64_t find(const std::string& t) const {
    auto it = ids.find(t);
    return it == ids.end() ? -1 : static_cast<int64_t>(it->second);
  }
};

uint64_t pair_key(uint32_t a, uint32_t b) { return (static_cast<uint64_t>(a) << 32) | b; }

}  // namespace

analysis::Analyzer default_analyzer() {
  analysis::AnalyzerOptions o;
  for (const std::string& w : analysis::english_stopwords())
    if (w != "no" && w != "not") o.stopwords.push_back(w);
  return analysis::Analyzer(std::move(o));
}

std::vector<Span> sentences(std::string_view text) {
  check_text(text);
  std::vector<Span> out;
  for (const auto& [b, e] : byte_sentences(text)) out.push_back(Span{b, e});
  std::vector<Span*> ptrs;
  for (Span& s : out) ptrs.push_back(&s);
  fill_chars(text, ptrs);
  return out;
}

std::vector<Marker> markers(std::string_view text) {
  check_text(text);
  std::vector<Marker> out = find_markers(text);
  std::vector<Span*> ptrs;
  for (Marker& m : out) ptrs.push_back(&m.span);
  fill_chars(text, ptrs);
  return out;
}

Grounder::Grounder(Options options, analysis::Analyzer analyzer) : options_(options), analyzer_(std::move(analyzer)) {
  if (!(std::isfinite(options_.k1) && options_.k1 >= 0))
    throw InvalidInput("k1 must be a finite number >= 0, got " + std::to_string(options_.k1));
  if (!(options_.b >= 0 && options_.b <= 1)) throw InvalidInput("b must be in [0, 1], got " + std::to_string(options_.b));
  if (!(options_.overlap_weight >= 0 && options_.overlap_weight <= 1))
    throw InvalidInput("overlap_weight must be in [0, 1], got " + std::to_string(options_.overlap_weight));
}

std::vector<RankedSentence> Grounder::rank(std::string_view question, std::span<const std::string_view> passages,
                                           std::size_t top_k) const {
  check_text(question);
  for (std::string_view p : passages) check_text(p);
  // The question's distinct terms (ids 0..Q-1, by first occurrence) and repeats.
  Vocab q;
  std::vector<double> qtf;
  for (const std::string& t : analyzer_.analyze(question)) {
    const uint32_t id = q.get_or_add(t);
    if (id == qtf.size()) qtf.push_back(0);
    qtf[id] += 1;
  }
  const std::size_t nq = qtf.size();
  struct Sent {
    RankedSentence r;
    std::vector<std::pair<uint32_t, uint32_t>> tf;  // (question term, tf)
  };
  std::vector<Sent> sents;
  std::vector<uint32_t> df(nq, 0);
  uint64_t total = 0, nonempty = 0;
  std::vector<std::string> terms;
  std::vector<uint32_t> counts(nq, 0);
  for (std::size_t pi = 0; pi < passages.size(); ++pi) {
    const std::string_view text = passages[pi];
    const auto spans = byte_sentences(text);
    std::vector<Span*> ptrs;
    const std::size_t first = sents.size();
    for (const auto& [b, e] : spans) {
      terms.clear();
      analyzer_.analyze(text.substr(b, e - b), terms);
      Sent s;
      s.r.passage = static_cast<uint32_t>(pi);
      s.r.span = Span{b, e};
      s.r.terms = static_cast<uint32_t>(terms.size());
      total += terms.size();
      if (!terms.empty()) ++nonempty;
      for (const std::string& t : terms) {
        const int64_t id = q.find(t);
        if (id >= 0) ++counts[static_cast<std::size_t>(id)];
      }
      for (uint32_t id = 0; id < nq; ++id)
        if (counts[id]) {
          s.tf.emplace_back(id, counts[id]);
          ++df[id];
          counts[id] = 0;
        }
      sents.push_back(std::move(s));
    }
    for (std::size_t i = first; i < sents.size(); ++i) ptrs.push_back(&sents[i].r.span);
    fill_chars(text, ptrs);
  }
  if (nq > 0 && nonempty > 0) {
    const double N = static_cast<double>(nonempty);
    const double avgdl = static_cast<double>(total) / N;
    const double k1 = options_.k1, b = options_.b;
    std::vector<double> idf(nq);
    for (std::size_t i = 0; i < nq; ++i) idf[i] = std::log(1.0 + (N - df[i] + 0.5) / (df[i] + 0.5));
    double best = 0;
    for (Sent& s : sents) {
      const double norm = k1 * (1.0 - b + b * static_cast<double>(s.r.terms) / avgdl);
      double score = 0;
      for (const auto& [id, tf_i] : s.tf) {
        const double tf = tf_i;
        score += qtf[id] * idf[id] * (tf / (tf + norm));
      }
      s.r.bm25 = score;
      s.r.overlap = static_cast<double>(s.tf.size()) / static_cast<double>(nq);
      best = std::max(best, score);
    }
    const double w = options_.overlap_weight;
    for (Sent& s : sents) s.r.score = w * s.r.overlap + (best > 0 ? (1.0 - w) * s.r.bm25 / best : 0.0);
  }
  std::vector<RankedSentence> out;
  out.reserve(sents.size());
  for (Sent& s : sents) out.push_back(s.r);
  // Stable: equal scores keep passage order, then position.
  std::stable_sort(out.begin(), out.end(),
                   [](const RankedSentence& a, const RankedSentence& b) { return a.score > b.score; });
  if (top_k > 0 && out.size() > top_k) out.resize(top_k);
  return out;
}

SupportResult Grounder::support(std::string_view answer, std::span<const std::string_view> passages,
                                std::span<const int64_t> marker_of) const {
  if (marker_of.size() != passages.size())
    throw InvalidInput("passages and markers must have the same length (" + std::to_string(passages.size()) + " vs " +
                       std::to_string(marker_of.size()) + ")");
  check_text(answer);
  for (std::string_view p : passages) check_text(p);
  std::unordered_map<int64_t, std::size_t> passage_of;
  for (std::size_t i = 0; i < marker_of.size(); ++i)
    if (!passage_of.emplace(marker_of[i], i).second)
      throw InvalidInput("marker " + std::to_string(marker_of[i]) + " names two passages; markers must be distinct");

  SupportResult res;
  const std::vector<Marker> marks = find_markers(answer);
  // Sentences, with marker-only sentences merged into the one before.
  std::vector<std::pair<uint32_t, uint32_t>> spans;
  std::vector<std::string> terms;
  // The markers inside [b, e): a range of `marks` (sorted by position).
  auto marks_in = [&](uint32_t b, uint32_t e) {
    auto lo = std::lower_bound(marks.begin(), marks.end(), b,
                               [](const Marker& m, uint32_t pos) { return m.span.begin < pos; });
    auto hi = lo;
    while (hi != marks.end() && hi->span.end <= e) ++hi;
    return std::make_pair(lo, hi);
  };
  auto blanked = [&](uint32_t b, uint32_t e) {
    std::string s(answer.substr(b, e - b));
    const auto [lo, hi] = marks_in(b, e);
    for (auto m = lo; m != hi; ++m)
      std::fill(s.begin() + (m->span.begin - b), s.begin() + (m->span.end - b), ' ');
    return s;
  };
  for (const auto& [b, e] : byte_sentences(answer)) {
    const auto [lo, hi] = marks_in(b, e);
    const bool has_marker = lo != hi;
    if (has_marker && !spans.empty()) {
      terms.clear();
      analyzer_.analyze(blanked(b, e), terms);
      if (terms.empty()) {
        spans.back().second = e;
        continue;
      }
    }
    spans.emplace_back(b, e);
  }

  // Markers cited anywhere, valid ones, and the dangling ones.
  std::vector<std::size_t> cited_all;
  {
    std::unordered_set<int64_t> seen;
    for (const Marker& m : marks) {
      if (!seen.insert(m.value).second) continue;
      auto it = passage_of.find(m.value);
      if (it == passage_of.end())
        res.dangling.push_back(m.value);
      else
        cited_all.push_back(it->second);
    }
    if (cited_all.empty())
      for (std::size_t i = 0; i < passages.size(); ++i) cited_all.push_back(i);
  }

  // The answer's vocabulary; passages are seen through it (terms it lacks do not matter).
  Vocab vocab;
  struct Sent {
    std::vector<uint32_t> uni;   // distinct
    std::vector<uint64_t> bi;    // distinct
    std::vector<std::size_t> cand;
  };
  std::vector<Sent> sents(spans.size());
  std::unordered_set<uint32_t> seen_uni;
  std::unordered_set<uint64_t> seen_bi;
  for (std::size_t si = 0; si < spans.size(); ++si) {
    const auto [b, e] = spans[si];
    SentenceSupport out;
    out.span = Span{b, e};
    const auto [lo, hi] = marks_in(b, e);
    for (auto m = lo; m != hi; ++m)
      if (std::find(out.markers.begin(), out.markers.end(), m->value) == out.markers.end())
        out.markers.push_back(m->value);
    terms.clear();
    analyzer_.analyze(blanked(b, e), terms);
    Sent& s = sents[si];
    uint32_t prev = 0;
    seen_uni.clear();
    seen_bi.clear();
    for (std::size_t i = 0; i < terms.size(); ++i) {
      const uint32_t id = vocab.get_or_add(terms[i]);
      if (seen_uni.insert(id).second) s.uni.push_back(id);
      if (i > 0) {
        const uint64_t k = pair_key(prev, id);
        if (seen_bi.insert(k).second) s.bi.push_back(k);
      }
      prev = id;
    }
    out.terms = static_cast<uint32_t>(s.uni.size());
    if (out.markers.empty()) {
      s.cand = cited_all;
    } else {
      for (int64_t v : out.markers) {
        auto it = passage_of.find(v);
        if (it != passage_of.end()) s.cand.push_back(it->second);
      }
    }
    res.sentences.push_back(std::move(out));
  }

  // Passage term and bigram sets, built when first needed.
  struct PassageSets {
    bool ready = false;
    std::unordered_set<uint32_t> uni;
    std::unordered_set<uint64_t> bi;
  };
  std::vector<PassageSets> psets(passages.size());
  auto sets_of = [&](std::size_t pi) -> const PassageSets& {
    PassageSets& ps = psets[pi];
    if (ps.ready) return ps;
    ps.ready = true;
    std::vector<std::string> pt;
    analyzer_.analyze(passages[pi], pt);
    int64_t prev = -1;
    for (const std::string& t : pt) {
      const int64_t id = vocab.find(t);
      if (id >= 0) {
        ps.uni.insert(static_cast<uint32_t>(id));
        if (prev >= 0) ps.bi.insert(pair_key(static_cast<uint32_t>(prev), static_cast<uint32_t>(id)));
      }
      prev = id;
    }
    return ps;
  };
  for (std::size_t si = 0; si < sents.size(); ++si) {
    const Sent& s = sents[si];
    SentenceSupport& out = res.sentences[si];
    if (s.uni.empty()) {
      out.support = out.unigram = out.bigram = 1.0;
      if (!s.cand.empty()) out.source = marker_of[s.cand.front()];
      continue;
    }
    double best = -1;
    for (std::size_t pi : s.cand) {
      const PassageSets& ps = sets_of(pi);
      std::size_t hu = 0, hb = 0;
      for (uint32_t id : s.uni) hu += ps.uni.count(id);
      for (uint64_t k : s.bi) hb += ps.bi.count(k);
      const double u = static_cast<double>(hu) / static_cast<double>(s.uni.size());
      const double g = s.bi.empty() ? u : static_cast<double>(hb) / static_cast<double>(s.bi.size());
      const double sup = s.bi.empty() ? u : (u + g) / 2.0;
      if (sup > best) {
        best = sup;
        out.support = sup;
        out.unigram = u;
        out.bigram = s.bi.empty() ? 0.0 : g;
        out.source = marker_of[pi];
      }
    }
  }

  // Quotes.
  std::vector<std::optional<std::string>> collapsed(passages.size());
  auto collapsed_of = [&](std::size_t pi) -> const std::string& {
    if (!collapsed[pi]) collapsed[pi] = collapse(passages[pi]);
    return *collapsed[pi];
  };
  static constexpr std::string_view kOpenCurly = "\xE2\x80\x9C", kCloseCurly = "\xE2\x80\x9D";
  std::size_t i = 0;
  while (i < answer.size()) {
    std::size_t open_len = 0;
    std::string_view closer;
    if (answer[i] == '"') {
      open_len = 1;
      closer = "\"";
    } else if (answer.substr(i, 3) == kOpenCurly) {
      open_len = 3;
      closer = kCloseCurly;
    } else {
      ++i;
      continue;
    }
    const std::size_t inner = i + open_len;
    const std::size_t close = answer.find(closer, inner);
    if (close == std::string_view::npos) {
      i = inner;
      continue;
    }
    const std::size_t blank = answer.substr(inner, close - inner).find("\n\n");
    if (blank != std::string_view::npos) {
      i = inner + blank + 2;
      continue;
    }
    const std::size_t qb = segment::skip_space(answer.substr(0, close), inner);
    const std::size_t qe = segment::trim_back(answer, qb, close);
    i = close + closer.size();
    if (qe <= qb) continue;
    std::vector<std::pair<uint32_t, uint32_t>> skip;
    {
      const auto [lo, hi] = marks_in(static_cast<uint32_t>(qb), static_cast<uint32_t>(qe));
      for (auto m = lo; m != hi; ++m)
        if (skip.empty() || skip.back().first != m->span.begin - qb)
          skip.emplace_back(m->span.begin - static_cast<uint32_t>(qb), m->span.end - static_cast<uint32_t>(qb));
    }
    const std::string needle = collapse(answer.substr(qb, qe - qb), skip);
    Quote q;
    q.span = Span{static_cast<uint32_t>(qb), static_cast<uint32_t>(qe)};
    // The sentence it starts in, and the candidates of every sentence it overlaps.
    std::vector<std::size_t> cand;
    bool found = false;
    const std::size_t first_si = static_cast<std::size_t>(
        std::lower_bound(spans.begin(), spans.end(), qb,
                         [](const std::pair<uint32_t, uint32_t>& sp, std::size_t pos) { return sp.second <= pos; }) -
        spans.begin());
    for (std::size_t si = first_si; si < spans.size() && spans[si].first < qe; ++si) {
      if (spans[si].second <= qb) continue;
      if (!found) {
        q.sentence = static_cast<uint32_t>(si);
        found = true;
      }
      for (std::size_t pi : sents[si].cand)
        if (std::find(cand.begin(), cand.end(), pi) == cand.end()) cand.push_back(pi);
    }
    if (!needle.empty())
      for (std::size_t pi : cand)
        if (collapsed_of(pi).find(needle) != std::string::npos) {
          q.verbatim = true;
          q.source = marker_of[pi];
          break;
        }
    if (!needle.empty()) res.quotes.push_back(q);
  }

  std::vector<Span*> ptrs;
  for (SentenceSupport& s : res.sentences) ptrs.push_back(&s.span);
  for (Quote& q : res.quotes) ptrs.push_back(&q.span);
  fill_chars(answer, ptrs);
  return res;
}

}  // namespace covekit::grounding
