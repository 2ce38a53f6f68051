#include "covekit/hashing_embedder.hpp"

#include <algorithm>
#include <atomic>
#include <bit>
#include <cmath>
#include <cstring>
#include <exception>
#include <string>
#include <thread>
#include <utility>

#include "covekit/casefold.hpp"
#include "covekit/errors.hpp"
#include "covekit/hash.hpp"
#include "covekit/unicode.hpp"

namespace covekit::embed {

namespace detail {

// A word of the folded buffer: code points [first, last) of cp_off, markers included.
struct Word {
  uint32_t first;
  uint32_t last;
  bool cjk;         // one Han/kana character
  bool cjk_follows; // ... directly after another one (no separator between them)
};

// One thread's buffers, reused from text to text.
struct EmbedScratch {
  std::string buf;                // "<w1><w2>...": the folded words with boundary markers
  std::vector<uint32_t> cp_off;   // byte offset in buf of each code point, then buf.size()
  std::vector<Word> words;
  std::vector<uint64_t> hashes;
  // Counting table of one feature group: open addressing, count 0 = empty slot; `order`
  // lists the used slots by first occurrence (and is how they are reset afterwards).
  std::vector<uint64_t> slot_key;
  std::vector<uint32_t> slot_count;
  std::vector<uint32_t> order;
  std::vector<Feature> features;
  std::vector<double> acc;
};

}  // namespace detail

namespace {

using detail::EmbedScratch;

constexpr std::size_t kMinBytesPerThread = 16 * 1024;
constexpr char kMagic[8] = {'C', 'K', 'H', 'A', 'S', 'H', 'E', 'M'};

// Decodes one code point of possibly invalid UTF-8; false (and *len = 1) on an invalid
// or truncated sequence.
bool decode(const unsigned char* p, std::size_t avail, char32_t* cp, unsigned* len) noexcept {
  const unsigned char b0 = p[0];
  *len = 1;
  if (b0 < 0x80) {
    *cp = b0;
    return true;
  }
  auto cont = [&](std::size_t i) { return i < avail && (p[i] & 0xC0) == 0x80; };
  if (b0 >= 0xC2 && b0 <= 0xDF) {
    if (!cont(1)) return false;
    *cp = (char32_t(b0 & 0x1F) << 6) | (p[1] & 0x3F);
    *len = 2;
    return true;
  }
  if (b0 >= 0xE0 && b0 <= 0xEF) {
    if (!cont(1) || !cont(2)) return false;
    if (b0 == 0xE0 && p[1] < 0xA0) return false;  // overlong
    if (b0 == 0xED && p[1] >= 0xA0) return false;  // surrogate
    *cp = (char32_t(b0 & 0x0F) << 12) | (char32_t(p[1] & 0x3F) << 6) | (p[2] & 0x3F);
    *len = 3;
    return true;
  }
  if (b0 >= 0xF0 && b0 <= 0xF4) {
    if (!cont(1) || !cont(2) || !cont(3)) return false;
    if (b0 == 0xF0 && p[1] < 0x90) return false;   // overlong
    if (b0 == 0xF4 && p[1] >= 0x90) return false;  // above U+10FFFF
    *cp = (char32_t(b0 & 0x07) << 18) | (char32_t(p[1] & 0x3F) << 12) | (char32_t(p[2] & 0x3F) << 6) |
          (p[3] & 0x3F);
    *len = 4;
    return true;
  }
  return false;
}

// Han ideographs, Hiragana and Katakana: scripts written without spaces between words,
// where each character is a word of its own.
bool is_ideographic(char32_t cp) noexcept {
  return (cp >= 0x3040 && cp <= 0x30FF) ||    // Hiragana, Katakana
         (cp >= 0x31F0 && cp <= 0x31FF) ||    // Katakana phonetic extensions
         (cp >= 0x3400 && cp <= 0x4DBF) ||    // CJK extension A
         (cp >= 0x4E00 && cp <= 0x9FFF) ||    // CJK unified ideographs
         (cp >= 0xF900 && cp <= 0xFAFF) ||    // CJK compatibility ideographs
         (cp >= 0xFF66 && cp <= 0xFF9F) ||    // halfwidth Katakana
         (cp >= 0x1B000 && cp <= 0x1B16F) ||  // Kana supplement / extended-A, small kana
         (cp >= 0x20000 && cp <= 0x3134F);    // CJK extensions B..H, compatibility supplement
}

void append_utf8(std::string& s, char32_t cp) {
  if (cp < 0x80) {
    s.push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    s.push_back(static_cast<char>(0xC0 | (cp >> 6)));
    s.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    s.push_back(static_cast<char>(0xE0 | (cp >> 12)));
    s.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    s.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    s.push_back(static_cast<char>(0xF0 | (cp >> 18)));
    s.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    s.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    s.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

bool finite_nonneg(float x) { return std::isfinite(x) && x >= 0.0f; }

void validate(const HashingOptions& o) {
  if (o.dim < 1 || o.dim > kMaxDim)
    throw InvalidInput("dim must be between 1 and " + std::to_string(kMaxDim) + ", got " + std::to_string(o.dim));
  const bool no_chars = o.char_ngram_min == 0 && o.char_ngram_max == 0;
  if (!no_chars && (o.char_ngram_min < 1 || o.char_ngram_min > o.char_ngram_max || o.char_ngram_max > kMaxCharNgram))
    throw InvalidInput("char_ngrams must be (min, max) with 1 <= min <= max <= " + std::to_string(kMaxCharNgram) +
                       ", got (" + std::to_string(o.char_ngram_min) + ", " + std::to_string(o.char_ngram_max) +
                       "); pass None for no character n-grams");
  if (!finite_nonneg(o.word_weight) || !finite_nonneg(o.bigram_weight) || !finite_nonneg(o.char_weight))
    throw InvalidInput("word_weight, bigram_weight and char_weight must be finite and >= 0");
  const bool any = (o.word_unigrams && o.word_weight > 0) || (o.word_bigrams && o.bigram_weight > 0) ||
                   (!no_chars && o.char_weight > 0);
  if (!any)
    throw InvalidInput(
        "no feature group is enabled with a weight > 0: enable words, word bigrams or character n-grams");
}

uint64_t group_seed(uint64_t seed, std::string_view tag) { return hash::xxh3_64(tag, seed); }

double idf_of(uint64_t documents, uint32_t df) {
  return std::log((1.0 + static_cast<double>(documents)) / (1.0 + static_cast<double>(df))) + 1.0;
}

// --- little-endian serialization ---------------------------------------------------------
void put_u8(std::string& s, uint8_t v) { s.push_back(static_cast<char>(v)); }
void put_u32(std::string& s, uint32_t v) {
  for (int i = 0; i < 4; ++i) s.push_back(static_cast<char>((v >> (8 * i)) & 0xFF));
}
void put_u64(std::string& s, uint64_t v) {
  for (int i = 0; i < 8; ++i) s.push_back(static_cast<char>((v >> (8 * i)) & 0xFF));
}
void put_f32(std::string& s, float v) { put_u32(s, std::bit_cast<uint32_t>(v)); }

class Reader {
 public:
  explicit Reader(std::string_view s) : s_(s) {}
  void need(std::size_t n) const {
    if (s_.size() - pos_ < n)
      throw EmbedderStateCorrupt("hashing embedder state is truncated (" + std::to_string(s_.size()) +
                                 " bytes); save it again");
  }
  uint8_t u8() {
    need(1);
    return static_cast<uint8_t>(s_[pos_++]);
  }
  uint32_t u32() {
    need(4);
    uint32_t v = 0;
    for (int i = 0; i < 4; ++i) v |= uint32_t(static_cast<unsigned char>(s_[pos_ + i])) << (8 * i);
    pos_ += 4;
    return v;
  }
  uint64_t u64() {
    need(8);
    uint64_t v = 0;
    for (int i = 0; i < 8; ++i) v |= uint64_t(static_cast<unsigned char>(s_[pos_ + i])) << (8 * i);
    pos_ += 8;
    return v;
  }
  float f32() { return std::bit_cast<float>(u32()); }
  [[nodiscard]] std::size_t remaining() const { return s_.size() - pos_; }

 private:
  std::string_view s_;
  std::size_t pos_ = 0;
};

std::string serialize_options(const HashingOptions& o) {
  std::string s(kMagic, sizeof kMagic);
  put_u32(s, HashingEmbedder::kFormatVersion);
  put_u32(s, o.dim);
  put_u8(s, o.word_unigrams);
  put_u8(s, o.word_bigrams);
  put_u8(s, o.lowercase);
  put_u8(s, 0);  // reserved
  put_u32(s, o.char_ngram_min);
  put_u32(s, o.char_ngram_max);
  put_f32(s, o.word_weight);
  put_f32(s, o.bigram_weight);
  put_f32(s, o.char_weight);
  put_u64(s, o.seed);
  return s;
}

// Merges the sorted (hash, count) runs of `b` into `a`, adding counts of equal hashes.
void merge_counts(std::vector<std::pair<uint64_t, uint32_t>>& a, std::vector<std::pair<uint64_t, uint32_t>>& b) {
  if (b.empty()) return;
  if (a.empty()) {
    a.swap(b);
    return;
  }
  std::vector<std::pair<uint64_t, uint32_t>> out;
  out.reserve(a.size() + b.size());
  std::size_t i = 0, j = 0;
  while (i < a.size() && j < b.size()) {
    if (a[i].first < b[j].first) {
      out.push_back(a[i++]);
    } else if (b[j].first < a[i].first) {
      out.push_back(b[j++]);
    } else {
      out.emplace_back(a[i].first, a[i].second + b[j].second);
      ++i;
      ++j;
    }
  }
  out.insert(out.end(), a.begin() + static_cast<std::ptrdiff_t>(i), a.end());
  out.insert(out.end(), b.begin() + static_cast<std::ptrdiff_t>(j), b.end());
  a.swap(out);
  b.clear();
}

// Document frequencies of one worker: an open-addressing map hash -> count that grows
// at half load (count 0 = empty slot).
class CountMap {
 public:
  CountMap() { rehash(1 << 12); }
  void add(uint64_t h) {
    std::size_t i = slot(h);
    if (count_[i]++ == 0) {
      key_[i] = h;
      if (++size_ * 2 > key_.size()) rehash(key_.size() * 2);
    }
  }
  // The (hash, count) pairs sorted by hash.
  [[nodiscard]] std::vector<std::pair<uint64_t, uint32_t>> sorted() const {
    std::vector<std::pair<uint64_t, uint32_t>> out;
    out.reserve(size_);
    for (std::size_t i = 0; i < key_.size(); ++i)
      if (count_[i] != 0) out.emplace_back(key_[i], count_[i]);
    std::sort(out.begin(), out.end());
    return out;
  }

 private:
  [[nodiscard]] std::size_t slot(uint64_t h) const {
    const std::size_t mask = key_.size() - 1;
    std::size_t i = static_cast<std::size_t>(h ^ (h >> 32)) & mask;
    while (count_[i] != 0 && key_[i] != h) i = (i + 1) & mask;
    return i;
  }
  void rehash(std::size_t cap) {
    std::vector<uint64_t> keys(cap, 0);
    std::vector<uint32_t> counts(cap, 0);
    keys.swap(key_);
    counts.swap(count_);
    for (std::size_t i = 0; i < keys.size(); ++i) {
      if (counts[i] == 0) continue;
      const std::size_t j = slot(keys[i]);
      key_[j] = keys[i];
      count_[j] = counts[i];
    }
  }
  std::vector<uint64_t> key_;
  std::vector<uint32_t> count_;
  std::size_t size_ = 0;
};

// Runs fn(begin, end, worker) over contiguous ranges of about equal byte size on up to
// `threads` threads; the first exception stops the rest and is rethrown.
template <class Fn>
void parallel_ranges(std::span<const std::string_view> texts, unsigned threads, Fn&& fn) {
  const std::size_t n = texts.size();
  std::size_t total = 0;
  for (auto t : texts) total += t.size() + 16;
  std::size_t want = threads ? threads : std::max(1u, std::thread::hardware_concurrency());
  want = std::min({want, n, std::max<std::size_t>(1, total / kMinBytesPerThread)});
  if (want <= 1) {
    fn(std::size_t{0}, n, std::size_t{0});
    return;
  }
  std::vector<std::size_t> bounds{0};
  const std::size_t per = total / want + 1;
  std::size_t acc = 0;
  for (std::size_t i = 0; i < n && bounds.size() < want; ++i) {
    acc += texts[i].size() + 16;
    if (acc >= per) {
      bounds.push_back(i + 1);
      acc = 0;
    }
  }
  if (bounds.back() != n) bounds.push_back(n);
  std::exception_ptr error;
  std::mutex error_mutex;
  {
    std::vector<std::jthread> workers;
    workers.reserve(bounds.size() - 1);
    for (std::size_t w = 0; w + 1 < bounds.size(); ++w) {
      workers.emplace_back([&, w] {
        try {
          fn(bounds[w], bounds[w + 1], w);
        } catch (...) {
          std::lock_guard lock(error_mutex);
          if (!error) error = std::current_exception();
        }
      });
    }
  }
  if (error) std::rethrow_exception(error);
}

}  // namespace

// --- IdfTable ---------------------------------------------------------------------------------

IdfTable::IdfTable(uint64_t documents, std::vector<std::pair<uint64_t, uint32_t>> sorted_df)
    : documents_(documents), sorted_(std::move(sorted_df)) {
  unseen_idf_ = static_cast<float>(idf_of(documents_, 0));
  std::size_t cap = 16;
  while (cap < 2 * sorted_.size()) cap <<= 1;
  slots_.assign(cap, Slot{});
  mask_ = cap - 1;
  for (const auto& [h, df] : sorted_) {
    const float v = static_cast<float>(idf_of(documents_, df));
    if (h == 0) {
      has_zero_key_ = true;
      zero_key_idf_ = v;
      continue;
    }
    std::size_t i = (h ^ (h >> 32)) & mask_;
    while (slots_[i].key != 0) i = (i + 1) & mask_;
    slots_[i] = {h, v};
  }
}

double IdfTable::idf(uint64_t h) const noexcept {
  if (h == 0) return has_zero_key_ ? zero_key_idf_ : unseen_idf_;
  for (std::size_t i = (h ^ (h >> 32)) & mask_;; i = (i + 1) & mask_) {
    if (slots_[i].key == h) return slots_[i].idf;
    if (slots_[i].key == 0) return unseen_idf_;
  }
}

// --- HashingEmbedder --------------------------------------------------------------------------

HashingEmbedder::HashingEmbedder(HashingOptions options) : options_(options) {
  validate(options_);
  seed_word_ = group_seed(options_.seed, "covekit.hashing.word");
  seed_bigram_ = group_seed(options_.seed, "covekit.hashing.bigram");
  seed_char_ = group_seed(options_.seed, "covekit.hashing.char");
  seed_cjk_ = group_seed(options_.seed, "covekit.hashing.cjk-bigram");
  std::lock_guard lock(mutex_);
  refresh_fingerprint_locked();
}

std::shared_ptr<const IdfTable> HashingEmbedder::table() const {
  std::lock_guard lock(mutex_);
  return idf_;
}

void HashingEmbedder::tokenize(std::string_view text, EmbedScratch& s) const {
  s.buf.clear();
  s.cp_off.clear();
  s.words.clear();
  const auto* p = reinterpret_cast<const unsigned char*>(text.data());
  const std::size_t n = text.size();
  bool open = false;
  bool after_cjk = false;  // the previous code point was a Han/kana character
  auto push_cp = [&](char32_t cp) {
    s.cp_off.push_back(static_cast<uint32_t>(s.buf.size()));
    append_utf8(s.buf, cp);
  };
  auto open_word = [&](bool cjk, bool follows) {
    s.words.push_back({static_cast<uint32_t>(s.cp_off.size()), 0, cjk, follows});
    push_cp('<');
    open = true;
  };
  auto close_word = [&] {
    if (!open) return;
    push_cp('>');
    s.words.back().last = static_cast<uint32_t>(s.cp_off.size());
    open = false;
  };
  constexpr uint8_t kWordClass = unicode::kLetter | unicode::kNumber | unicode::kMark;
  for (std::size_t i = 0; i < n;) {
    char32_t cp = 0;
    unsigned len = 1;
    if (!decode(p + i, n - i, &cp, &len) || !(unicode::classify(cp) & kWordClass)) {
      close_word();
      after_cjk = false;
      i += len;
      continue;
    }
    if (options_.lowercase) cp = unicode::simple_fold(cp);
    if (is_ideographic(cp)) {
      close_word();
      open_word(true, after_cjk);
      push_cp(cp);
      close_word();
      after_cjk = true;
    } else {
      if (!open) open_word(false, false);
      push_cp(cp);
      after_cjk = false;
    }
    i += len;
  }
  close_word();
  s.cp_off.push_back(static_cast<uint32_t>(s.buf.size()));
}

void HashingEmbedder::collect(std::string_view text, const IdfTable* idf, EmbedScratch& s) const {
  tokenize(text, s);
  s.features.clear();
  const HashingOptions& o = options_;
  const std::string_view buf(s.buf);
  auto bytes = [&](uint32_t first_cp, uint32_t last_cp) {
    return buf.substr(s.cp_off[first_cp], s.cp_off[last_cp] - s.cp_off[first_cp]);
  };
  auto inner = [&](const detail::Word& w) { return bytes(w.first + 1, w.last - 1); };

  auto emit_group = [&](FeatureKind kind, float group_weight) {
    // Count the distinct hashes (first-occurrence order: deterministic for a given text).
    std::size_t cap = 64;
    while (cap < 2 * s.hashes.size()) cap <<= 1;
    if (s.slot_key.size() < cap) {
      s.slot_key.assign(cap, 0);
      s.slot_count.assign(cap, 0);
    }
    const std::size_t mask = cap - 1;
    s.order.clear();
    for (const uint64_t h : s.hashes) {
      std::size_t i = static_cast<std::size_t>(h ^ (h >> 32)) & mask;
      while (s.slot_count[i] != 0 && s.slot_key[i] != h) i = (i + 1) & mask;
      if (s.slot_count[i]++ == 0) {
        s.slot_key[i] = h;
        s.order.push_back(static_cast<uint32_t>(i));
      }
    }
    const std::size_t first = s.features.size();
    double sumsq = 0.0;
    for (const uint32_t slot : s.order) {
      const uint64_t h = s.slot_key[slot];
      const uint32_t tf = s.slot_count[slot];
      s.slot_count[slot] = 0;
      double w = tf == 1 ? 1.0 : 1.0 + std::log(static_cast<double>(tf));
      if (idf) w *= idf->idf(h);
      sumsq += w * w;
      s.features.push_back({kind, h, static_cast<uint32_t>(h % o.dim), static_cast<float>(w), tf});
    }
    if (sumsq <= 0.0) return;
    const double scale = static_cast<double>(group_weight) / std::sqrt(sumsq);
    for (std::size_t k = first; k < s.features.size(); ++k) {
      Feature& f = s.features[k];
      const double sign = (f.hash >> 63) ? -1.0 : 1.0;
      f.weight = static_cast<float>(sign * static_cast<double>(f.weight) * scale);
    }
  };

  if (o.word_unigrams && o.word_weight > 0) {
    s.hashes.clear();
    for (const auto& w : s.words) s.hashes.push_back(hash::xxh3_64(inner(w), seed_word_));
    emit_group(FeatureKind::word, o.word_weight);
  }
  if (o.word_bigrams && o.bigram_weight > 0 && s.words.size() > 1) {
    s.hashes.clear();
    for (std::size_t i = 0; i + 1 < s.words.size(); ++i)
      s.hashes.push_back(hash::xxh3_64(inner(s.words[i + 1]), hash::xxh3_64(inner(s.words[i]), seed_bigram_)));
    emit_group(FeatureKind::bigram, o.bigram_weight);
  }
  if (o.char_ngram_max > 0 && o.char_weight > 0) {
    s.hashes.clear();
    for (std::size_t i = 0; i < s.words.size(); ++i) {
      const auto& [first, last, cjk, cjk_follows] = s.words[i];
      const uint32_t units = last - first;
      for (uint32_t n = o.char_ngram_min; n <= o.char_ngram_max && n <= units; ++n)
        for (uint32_t b = first; b + n <= last; ++b) s.hashes.push_back(hash::xxh3_64(bytes(b, b + n), seed_char_));
      // Han/kana text has no spaces: adjacent characters also make a character bigram.
      if (cjk_follows)
        s.hashes.push_back(hash::xxh3_64(inner(s.words[i]), hash::xxh3_64(inner(s.words[i - 1]), seed_cjk_)));
    }
    emit_group(FeatureKind::char_ngram, o.char_weight);
  }
}

void HashingEmbedder::embed_one(std::string_view text, const IdfTable* idf, std::span<float> out,
                                EmbedScratch& s) const {
  collect(text, idf, s);
  s.acc.assign(options_.dim, 0.0);
  for (const Feature& f : s.features) s.acc[f.index] += static_cast<double>(f.weight);
  double sumsq = 0.0;
  for (double v : s.acc) sumsq += v * v;
  if (sumsq <= 0.0) {
    std::fill(out.begin(), out.end(), 0.0f);
    return;
  }
  const double inv = 1.0 / std::sqrt(sumsq);
  for (uint32_t i = 0; i < options_.dim; ++i) out[i] = static_cast<float>(s.acc[i] * inv);
}

void HashingEmbedder::embed(std::string_view text, std::span<float> out) const {
  if (out.size() != options_.dim)
    throw InvalidInput("output must hold dim=" + std::to_string(options_.dim) + " floats, got " +
                       std::to_string(out.size()));
  const auto idf = table();
  EmbedScratch s;
  embed_one(text, idf.get(), out, s);
}

void HashingEmbedder::embed_batch(std::span<const std::string_view> texts, std::span<float> out,
                                  unsigned num_threads) const {
  const std::size_t dim = options_.dim;
  if (out.size() != texts.size() * dim)
    throw InvalidInput("output must hold len(texts) * dim = " + std::to_string(texts.size() * dim) +
                       " floats, got " + std::to_string(out.size()));
  if (texts.empty()) return;
  const auto idf = table();
  parallel_ranges(texts, num_threads, [&](std::size_t begin, std::size_t end, std::size_t) {
    EmbedScratch s;
    for (std::size_t i = begin; i < end; ++i) embed_one(texts[i], idf.get(), out.subspan(i * dim, dim), s);
  });
}

std::vector<Feature> HashingEmbedder::features(std::string_view text) const {
  const auto idf = table();
  EmbedScratch s;
  collect(text, idf.get(), s);
  return std::move(s.features);
}

void HashingEmbedder::distinct_hashes(std::string_view text, EmbedScratch& s, std::vector<uint64_t>& out) const {
  collect(text, nullptr, s);
  for (const Feature& f : s.features) out.push_back(f.hash);  // distinct within each group
}

void HashingEmbedder::fit(std::span<const std::string_view> texts, unsigned num_threads, uint32_t min_df) {
  if (min_df < 1) throw InvalidInput("min_df must be >= 1, got 0");
  std::vector<std::vector<std::pair<uint64_t, uint32_t>>> per_worker(
      std::max(1u, num_threads ? num_threads : std::thread::hardware_concurrency()));
  parallel_ranges(texts, static_cast<unsigned>(per_worker.size()),
                  [&](std::size_t begin, std::size_t end, std::size_t w) {
                    EmbedScratch s;
                    std::vector<uint64_t> distinct;
                    CountMap counts;
                    for (std::size_t i = begin; i < end; ++i) {
                      distinct.clear();
                      distinct_hashes(texts[i], s, distinct);
                      for (const uint64_t h : distinct) counts.add(h);
                    }
                    per_worker[w] = counts.sorted();
                  });
  std::vector<std::pair<uint64_t, uint32_t>> df;
  for (auto& c : per_worker) merge_counts(df, c);
  if (min_df > 1)
    df.erase(std::remove_if(df.begin(), df.end(), [&](const auto& e) { return e.second < min_df; }), df.end());
  auto fresh = std::make_shared<const IdfTable>(texts.size(), std::move(df));
  std::lock_guard lock(mutex_);
  idf_ = std::move(fresh);
  refresh_fingerprint_locked();
}

void HashingEmbedder::clear_fit() {
  std::lock_guard lock(mutex_);
  idf_.reset();
  refresh_fingerprint_locked();
}

bool HashingEmbedder::fitted() const { return table() != nullptr; }

uint64_t HashingEmbedder::fitted_documents() const {
  const auto t = table();
  return t ? t->documents() : 0;
}

std::size_t HashingEmbedder::vocabulary_size() const {
  const auto t = table();
  return t ? t->size() : 0;
}

// Layout (little-endian): magic "CKHASHEM", u32 version, u32 dim, u8 word_unigrams,
// u8 word_bigrams, u8 lowercase, u8 0, u32 char_ngram_min, u32 char_ngram_max,
// f32 word/bigram/char weights, u64 seed, u8 fitted, u64 documents, u64 entries,
// entries x (u64 hash, u32 df) by increasing hash, u64 XXH3-64 of everything before it.
std::string HashingEmbedder::to_bytes() const {
  const auto t = table();
  std::string s = serialize_options(options_);
  put_u8(s, t != nullptr);
  put_u64(s, t ? t->documents() : 0);
  put_u64(s, t ? t->size() : 0);
  if (t) {
    s.reserve(s.size() + t->size() * 12 + 8);
    for (const auto& [h, df] : t->entries()) {
      put_u64(s, h);
      put_u32(s, df);
    }
  }
  put_u64(s, hash::xxh3_64(s));
  return s;
}

std::unique_ptr<HashingEmbedder> HashingEmbedder::from_bytes(std::string_view bytes) {
  if (bytes.size() < sizeof kMagic || std::memcmp(bytes.data(), kMagic, sizeof kMagic) != 0)
    throw EmbedderStateCorrupt("not a hashing embedder state (bad magic bytes); pass bytes made by to_bytes()/save()");
  if (bytes.size() < sizeof kMagic + 8 + 8)
    throw EmbedderStateCorrupt("hashing embedder state is truncated; save it again");
  const std::string_view body = bytes.substr(0, bytes.size() - 8);
  Reader tail(bytes.substr(bytes.size() - 8));
  Reader r(body);
  for (std::size_t i = 0; i < sizeof kMagic; ++i) r.u8();
  const uint32_t version = r.u32();
  if (version != kFormatVersion)
    throw EmbedderStateCorrupt("hashing embedder state has format version " + std::to_string(version) +
                               ", this covekit reads version " + std::to_string(kFormatVersion));
  if (tail.u64() != hash::xxh3_64(body))
    throw EmbedderStateCorrupt("hashing embedder state fails its checksum (truncated or altered); save it again");
  auto flag = [&r] {
    const uint8_t v = r.u8();
    if (v > 1) throw EmbedderStateCorrupt("hashing embedder state has a flag that is neither 0 nor 1");
    return v == 1;
  };
  HashingOptions o;
  o.dim = r.u32();
  o.word_unigrams = flag();
  o.word_bigrams = flag();
  o.lowercase = flag();
  if (r.u8() != 0) throw EmbedderStateCorrupt("hashing embedder state has a non-zero reserved byte");
  o.char_ngram_min = r.u32();
  o.char_ngram_max = r.u32();
  o.word_weight = r.f32();
  o.bigram_weight = r.f32();
  o.char_weight = r.f32();
  o.seed = r.u64();
  std::unique_ptr<HashingEmbedder> e;
  try {
    e = std::make_unique<HashingEmbedder>(o);
  } catch (const InvalidInput& err) {
    throw EmbedderStateCorrupt(std::string("hashing embedder state holds invalid options: ") + err.what());
  }
  const bool fitted = flag();
  const uint64_t documents = r.u64();
  const uint64_t entries = r.u64();
  if (entries > r.remaining() / 12 || r.remaining() != entries * 12)
    throw EmbedderStateCorrupt("hashing embedder state has a wrong entry count; save it again");
  if (!fitted && (documents != 0 || entries != 0))
    throw EmbedderStateCorrupt("hashing embedder state: an unfitted state with idf entries");
  if (fitted) {
    std::vector<std::pair<uint64_t, uint32_t>> df;
    df.reserve(entries);
    for (uint64_t i = 0; i < entries; ++i) {
      const uint64_t h = r.u64();
      const uint32_t d = r.u32();
      if ((!df.empty() && h <= df.back().first) || d == 0 || d > documents)
        throw EmbedderStateCorrupt("hashing embedder state has an idf table out of order or out of range");
      df.emplace_back(h, d);
    }
    auto t = std::make_shared<const IdfTable>(documents, std::move(df));
    std::lock_guard lock(e->mutex_);
    e->idf_ = std::move(t);
    e->refresh_fingerprint_locked();
  }
  return e;
}

void HashingEmbedder::refresh_fingerprint_locked() {
  // The checksum of to_bytes(), computed without taking the lock again.
  std::string s = serialize_options(options_);
  put_u8(s, idf_ != nullptr);
  put_u64(s, idf_ ? idf_->documents() : 0);
  put_u64(s, idf_ ? idf_->size() : 0);
  if (idf_) {
    s.reserve(s.size() + idf_->size() * 12);
    for (const auto& [h, df] : idf_->entries()) {
      put_u64(s, h);
      put_u32(s, df);
    }
  }
  fingerprint_ = hash::xxh3_64(s);
}

uint64_t HashingEmbedder::fingerprint() const {
  std::lock_guard lock(mutex_);
  return fingerprint_;
}

}  // namespace covekit::embed
