#include "covekit/analyzer.hpp"

#include <algorithm>
#include <string>

#include "covekit/errors.hpp"
#include "covekit/unicode.hpp"
#include "covekit/utf8.hpp"

namespace covekit::analysis {

namespace {

// ---- Porter stemmer: a transcription of Lucene's PorterStemmer (itself Martin
// Porter's reference C implementation). `b[0..k]` is the word; `j` a general offset.
template <class CharT>
class Porter {
 public:
  explicit Porter(std::basic_string<CharT>& b) : b_(b) {}

  void stem() {
    k_ = static_cast<long>(b_.size()) - 1;
    if (k_ > 1) {  // words of one or two characters are left alone
      step1();
      step2();
      step3();
      step4();
      step5();
      step6();
    }
    b_.resize(static_cast<std::size_t>(k_ + 1));
  }

 private:
  std::basic_string<CharT>& b_;
  long k_ = 0;
  long j_ = 0;

  [[nodiscard]] CharT at(long i) const { return b_[static_cast<std::size_t>(i)]; }

  [[nodiscard]] bool cons(long i) const {
    switch (at(i)) {
      case 'a':
      case 'e':
      case 'i':
      case 'o':
      case 'u':
        return false;
      case 'y':
        return i == 0 ? true : !cons(i - 1);
      default:
        return true;
    }
  }

  // Number of consonant-vowel sequences in b[0..j].
  [[nodiscard]] int m() const {
    int n = 0;
    long i = 0;
    while (true) {
      if (i > j_) return n;
      if (!cons(i)) break;
      ++i;
    }
    ++i;
    while (true) {
      while (true) {
        if (i > j_) return n;
        if (cons(i)) break;
        ++i;
      }
      ++i;
      ++n;
      while (true) {
        if (i > j_) return n;
        if (!cons(i)) break;
        ++i;
      }
      ++i;
    }
  }

  [[nodiscard]] bool vowelinstem() const {
    for (long i = 0; i <= j_; ++i)
      if (!cons(i)) return true;
    return false;
  }

  [[nodiscard]] bool doublec(long j) const { return j >= 1 && at(j) == at(j - 1) && cons(j); }

  [[nodiscard]] bool cvc(long i) const {
    if (i < 2 || !cons(i) || cons(i - 1) || !cons(i - 2)) return false;
    const CharT ch = at(i);
    return !(ch == 'w' || ch == 'x' || ch == 'y');
  }

  bool ends(std::string_view s) {
    const long l = static_cast<long>(s.size());
    const long o = k_ - l + 1;
    if (o < 0) return false;
    for (long i = 0; i < l; ++i)
      if (at(o + i) != static_cast<CharT>(s[static_cast<std::size_t>(i)])) return false;
    j_ = k_ - l;
    return true;
  }

  void setto(std::string_view s) {
    const long l = static_cast<long>(s.size());
    const long o = j_ + 1;
    if (static_cast<std::size_t>(o + l) > b_.size()) b_.resize(static_cast<std::size_t>(o + l));
    for (long i = 0; i < l; ++i) b_[static_cast<std::size_t>(o + i)] = static_cast<CharT>(s[static_cast<std::size_t>(i)]);
    k_ = j_ + l;
  }

  void r(std::string_view s) {
    if (m() > 0) setto(s);
  }

  void step1() {
    if (at(k_) == 's') {
      if (ends("sses"))
        k_ -= 2;
      else if (ends("ies"))
        setto("i");
      else if (at(k_ - 1) != 's')
        --k_;
    }
    if (ends("eed")) {
      if (m() > 0) --k_;
    } else if ((ends("ed") || ends("ing")) && vowelinstem()) {
      k_ = j_;
      if (ends("at"))
        setto("ate");
      else if (ends("bl"))
        setto("ble");
      else if (ends("iz"))
        setto("ize");
      else if (doublec(k_)) {
        const CharT ch = at(k_);
        --k_;
        if (ch == 'l' || ch == 's' || ch == 'z') ++k_;
      } else if (m() == 1 && cvc(k_))
        setto("e");
    }
  }

  void step2() {
    if (ends("y") && vowelinstem()) b_[static_cast<std::size_t>(k_)] = 'i';
  }

  void step3() {
    if (k_ == 0) return;
    switch (at(k_ - 1)) {
      case 'a':
        if (ends("ational")) { r("ate"); break; }
        if (ends("tional")) { r("tion"); break; }
        break;
      case 'c':
        if (ends("enci")) { r("ence"); break; }
        if (ends("anci")) { r("ance"); break; }
        break;
      case 'e':
        if (ends("izer")) { r("ize"); break; }
        break;
      case 'l':
        if (ends("bli")) { r("ble"); break; }
        if (ends("alli")) { r("al"); break; }
        if (ends("entli")) { r("ent"); break; }
        if (ends("eli")) { r("e"); break; }
        if (ends("ousli")) { r("ous"); break; }
        break;
      case 'o':
        if (ends("ization")) { r("ize"); break; }
        if (ends("ation")) { r("ate"); break; }
        if (ends("ator")) { r("ate"); break; }
        break;
      case 's':
        if (ends("alism")) { r("al"); break; }
        if (ends("iveness")) { r("ive"); break; }
        if (ends("fulness")) { r("ful"); break; }
        if (ends("ousness")) { r("ous"); break; }
        break;
      case 't':
        if (ends("aliti")) { r("al"); break; }
        if (ends("iviti")) { r("ive"); break; }
        if (ends("biliti")) { r("ble"); break; }
        break;
      case 'g':
        if (ends("logi")) { r("log"); break; }
        break;
      default:
        break;
    }
  }

  void step4() {
    switch (at(k_)) {
      case 'e':
        if (ends("icate")) { r("ic"); break; }
        if (ends("ative")) { r(""); break; }
        if (ends("alize")) { r("al"); break; }
        break;
      case 'i':
        if (ends("iciti")) { r("ic"); break; }
        break;
      case 'l':
        if (ends("ical")) { r("ic"); break; }
        if (ends("ful")) { r(""); break; }
        break;
      case 's':
        if (ends("ness")) { r(""); break; }
        break;
      default:
        break;
    }
  }

  void step5() {
    if (k_ == 0) return;
    switch (at(k_ - 1)) {
      case 'a':
        if (ends("al")) break;
        return;
      case 'c':
        if (ends("ance")) break;
        if (ends("ence")) break;
        return;
      case 'e':
        if (ends("er")) break;
        return;
      case 'i':
        if (ends("ic")) break;
        return;
      case 'l':
        if (ends("able")) break;
        if (ends("ible")) break;
        return;
      case 'n':
        if (ends("ant")) break;
        if (ends("ement")) break;
        if (ends("ment")) break;
        if (ends("ent")) break;
        return;
      case 'o':
        if (ends("ion") && j_ >= 0 && (at(j_) == 's' || at(j_) == 't')) break;
        if (ends("ou")) break;
        return;
      case 's':
        if (ends("ism")) break;
        return;
      case 't':
        if (ends("ate")) break;
        if (ends("iti")) break;
        return;
      case 'u':
        if (ends("ous")) break;
        return;
      case 'v':
        if (ends("ive")) break;
        return;
      case 'z':
        if (ends("ize")) break;
        return;
      default:
        return;
    }
    if (m() > 1) k_ = j_;
  }

  void step6() {
    j_ = k_;
    if (at(k_) == 'e') {
      const int a = m();
      if (a > 1 || (a == 1 && !cvc(k_ - 1))) --k_;
    }
    if (at(k_) == 'l' && doublec(k_) && m() > 1) --k_;
  }
};

// ---- character classes --------------------------------------------------------------

[[nodiscard]] bool is_cjk(char32_t c) noexcept {
  return (c >= 0x1100 && c <= 0x11FF) ||    // Hangul Jamo
         (c >= 0x2E80 && c <= 0x2FDF) ||    // CJK radicals, Kangxi
         c == 0x3005 || c == 0x3007 ||      // 々 〇
         (c >= 0x3021 && c <= 0x3029) ||    // Hangzhou numerals
         (c >= 0x3040 && c <= 0x30FF) ||    // Hiragana, Katakana
         (c >= 0x3130 && c <= 0x318F) ||    // Hangul compatibility Jamo
         (c >= 0x31F0 && c <= 0x31FF) ||    // Katakana extensions
         (c >= 0x3400 && c <= 0x4DBF) ||    // CJK ext A
         (c >= 0x4E00 && c <= 0x9FFF) ||    // CJK unified
         (c >= 0xA960 && c <= 0xA97F) ||    // Hangul Jamo ext A
         (c >= 0xAC00 && c <= 0xD7FF) ||    // Hangul syllables, Jamo ext B
         (c >= 0xF900 && c <= 0xFAFF) ||    // CJK compatibility
         (c >= 0xFF66 && c <= 0xFF9F) ||    // halfwidth Katakana
         (c >= 0x20000 && c <= 0x3FFFF);    // CJK ext B..
}

[[nodiscard]] bool is_word(char32_t c) noexcept {
  return (unicode::classify(c) & (unicode::kLetter | unicode::kNumber | unicode::kMark)) != 0;
}

[[nodiscard]] bool is_mid_letter(char32_t c) noexcept {
  return c == '\'' || c == 0x2019 || c == 0x2018 || c == '.' || c == ':' || c == 0x00B7 || c == 0x2024 ||
         c == 0xFE52 || c == 0xFE55 || c == 0xFF07 || c == 0xFF0E || c == 0xFF1A || c == 0x0387 || c == 0x05F4;
}

[[nodiscard]] bool is_mid_num(char32_t c) noexcept {
  return c == ',' || c == '.' || c == ';' || c == '\'' || c == 0x2019 || c == 0x2018 || c == 0x037E ||
         c == 0x066C || c == 0xFE50 || c == 0xFE54 || c == 0xFF0C || c == 0xFF1B || c == 0xFF07 || c == 0xFF0E;
}

[[nodiscard]] bool is_extend_num_let(char32_t c) noexcept {
  return c == '_' || c == 0x203F || c == 0x2040 || c == 0x2054 || c == 0xFE33 || c == 0xFE34 ||
         (c >= 0xFE4D && c <= 0xFE4F) || c == 0xFF3F;
}

void append_utf8(std::string& s, char32_t c) {
  if (c < 0x80) {
    s.push_back(static_cast<char>(c));
  } else if (c < 0x800) {
    s.push_back(static_cast<char>(0xC0 | (c >> 6)));
    s.push_back(static_cast<char>(0x80 | (c & 0x3F)));
  } else if (c < 0x10000) {
    s.push_back(static_cast<char>(0xE0 | (c >> 12)));
    s.push_back(static_cast<char>(0x80 | ((c >> 6) & 0x3F)));
    s.push_back(static_cast<char>(0x80 | (c & 0x3F)));
  } else {
    s.push_back(static_cast<char>(0xF0 | (c >> 18)));
    s.push_back(static_cast<char>(0x80 | ((c >> 12) & 0x3F)));
    s.push_back(static_cast<char>(0x80 | ((c >> 6) & 0x3F)));
    s.push_back(static_cast<char>(0x80 | (c & 0x3F)));
  }
}

constexpr std::size_t kMaxWordLength = 255;  // code points, Lucene's StandardTokenizer default

}  // namespace

char32_t to_lower(char32_t cp) noexcept {
  if (cp < 0x80) return (cp >= 'A' && cp <= 'Z') ? cp + 32 : cp;
  const detail::CaseMapping* first = detail::kLowercase;
  const detail::CaseMapping* last = detail::kLowercase + detail::kLowercaseCount;
  const auto* it = std::lower_bound(first, last, cp, [](const detail::CaseMapping& m, char32_t c) { return m.from < c; });
  return (it != last && it->from == cp) ? it->to : cp;
}

void porter_stem(std::u32string& word) { Porter<char32_t>(word).stem(); }
void porter_stem_ascii(std::string& word) { Porter<char>(word).stem(); }

const std::vector<std::string>& english_stopwords() {
  static const std::vector<std::string> words = {
      "a",    "an",    "and",   "are",  "as",   "at",    "be",    "but",  "by",   "for", "if",
      "in",   "into",  "is",    "it",   "no",   "not",   "of",    "on",   "or",   "such", "that",
      "the",  "their", "then",  "there", "these", "they", "this", "to",   "was",  "will", "with"};
  return words;
}

Analyzer::Analyzer() : Analyzer(AnalyzerOptions{true, Stemmer::kPorter, true, english_stopwords()}) {}

Analyzer::Analyzer(AnalyzerOptions options) : options_(std::move(options)) {
  for (const std::string& w : options_.stopwords) {
    if (w.empty()) throw InvalidInput("stopwords must be non-empty strings; remove the empty one");
    utf8::validate(w);
    stop_.insert(w);
  }
}

std::vector<std::string> Analyzer::analyze(std::string_view text) const {
  std::vector<std::string> out;
  analyze(text, out);
  return out;
}

void Analyzer::analyze(std::string_view text, std::vector<std::string>& out) const {
  utf8::validate(text);
  // Decode once into code points.
  std::u32string cps;
  cps.reserve(text.size());
  {
    const auto* p = reinterpret_cast<const unsigned char*>(text.data());
    const auto* end = p + text.size();
    while (p < end) {
      unsigned len = 0;
      cps.push_back(utf8::decode(p, &len));
      p += len;
    }
  }
  const bool english = options_.stemmer == Stemmer::kPorter;
  std::u32string word;
  std::string term;

  auto emit = [&](std::u32string& w, bool stem) {
    if (w.empty()) return;
    if (english && w.size() >= 2 && (w[w.size() - 1] == 's' || w[w.size() - 1] == 'S')) {
      const char32_t q = w[w.size() - 2];
      if (q == '\'' || q == 0x2019 || q == 0xFF07) w.resize(w.size() - 2);
      if (w.empty()) return;
    }
    if (options_.lowercase)
      for (char32_t& c : w) c = to_lower(c);
    term.clear();
    bool ascii = true;
    for (char32_t c : w) {
      if (c >= 0x80) ascii = false;
      append_utf8(term, c);
    }
    if (stop_.count(term)) return;
    if (stem && english) {
      if (ascii) {
        porter_stem_ascii(term);
      } else {
        porter_stem(w);
        term.clear();
        for (char32_t c : w) append_utf8(term, c);
      }
    }
    out.push_back(term);
  };

  const std::size_t n = cps.size();
  std::size_t i = 0;
  while (i < n) {
    const char32_t c = cps[i];
    if (is_cjk(c)) {
      std::size_t e = i;
      while (e < n && is_cjk(cps[e])) ++e;
      if (!options_.cjk_bigrams || e - i == 1) {
        for (std::size_t t = i; t < e; ++t) {
          word.assign(1, cps[t]);
          emit(word, false);
        }
      } else {
        for (std::size_t t = i; t + 1 < e; ++t) {
          word.assign(cps.data() + t, 2);
          emit(word, false);
        }
      }
      i = e;
      continue;
    }
    if (!is_word(c) || (unicode::classify(c) & unicode::kMark && !(unicode::classify(c) & (unicode::kLetter | unicode::kNumber)))) {
      ++i;  // a separator, or a combining mark with no base
      continue;
    }
    // A word: word characters, joined across single mid characters.
    std::size_t e = i + 1;
    while (e < n) {
      const char32_t x = cps[e];
      if (is_cjk(x)) break;
      if (is_word(x)) {
        ++e;
        continue;
      }
      if (e + 1 < n && !is_cjk(cps[e + 1]) && is_word(cps[e + 1])) {
        const char32_t prev = cps[e - 1];
        const char32_t next = cps[e + 1];
        const bool letters = unicode::is_letter(prev) && unicode::is_letter(next);
        const bool digits = unicode::is_number(prev) && unicode::is_number(next);
        if ((letters && is_mid_letter(x)) || (digits && is_mid_num(x)) || is_extend_num_let(x)) {
          e += 2;
          continue;
        }
      }
      break;
    }
    for (std::size_t s = i; s < e; s += kMaxWordLength) {
      word.assign(cps.data() + s, std::min(kMaxWordLength, e - s));
      emit(word, true);
    }
    i = e;
  }
}

}  // namespace covekit::analysis
