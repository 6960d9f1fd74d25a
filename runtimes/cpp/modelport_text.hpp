// modelport_text.hpp: word counts of documents over a vocabulary, as scikit-learn's
// CountVectorizer counts them with its default analyzer (lowercase, then the maximal runs of
// two or more word characters, stop words dropped, n-grams joined by one space). The same
// algorithm as modelport/runtime/TextCounts.java. What a word character is and what each
// character lowercases to come from the model (a table made from the compiling Python: see
// compiler/ops/_text_unicode.py for its layout); this file holds no Unicode data.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

#include "modelport_runtime.hpp"

namespace modelport {

namespace text {

using Ranges = std::vector<std::pair<int32_t, int32_t>>;

inline bool in_ranges(const Ranges& r, uint32_t cp) {
  size_t lo = 0, hi = r.size();
  while (lo < hi) {  // the first range whose end is >= cp
    const size_t mid = (lo + hi) / 2;
    if (static_cast<uint32_t>(r[mid].second) < cp) lo = mid + 1; else hi = mid;
  }
  return lo < r.size() && static_cast<uint32_t>(r[lo].first) <= cp;
}


// UTF-8 to code points; a byte that starts no valid sequence becomes U+FFFD (not a word
// character), as Java's decoder does.
inline void decode_utf8(const std::string& s, std::vector<uint32_t>& out) {
  out.clear();
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  const size_t n = s.size();
  for (size_t i = 0; i < n;) {
    const unsigned c = p[i];
    int len = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
    uint32_t cp = len == 1 ? c : len == 2 ? (c & 0x1F) : len == 3 ? (c & 0x0F) : (c & 0x07);
    bool ok = len > 0 && i + len <= n;
    for (int j = 1; ok && j < len; ++j) {
      ok = (p[i + j] & 0xC0) == 0x80;
      cp = (cp << 6) | (p[i + j] & 0x3F);
    }
    static const uint32_t kLeast[] = {0, 0, 0x80, 0x800, 0x10000};
    ok = ok && cp >= kLeast[len] && cp < 0x110000 && !(cp >= 0xD800 && cp < 0xE000);
    out.push_back(ok ? cp : 0xFFFD);
    i += ok ? len : 1;
  }
}

class Analyzer {
 public:
  Analyzer(const int32_t* unicode, const char* const* vocab, const char* const* stop, const int64_t* opts)
      : lowercase_(opts[0] != 0), ngram_min_(opts[1]), ngram_max_(opts[2]), binary_(opts[3] != 0) {
    const int32_t* p = unicode;
    for (Ranges* r : {&word_, &cased_, &ignorable_}) {
      const int32_t n = *p++;
      for (int32_t i = 0; i < n; ++i, p += 2) r->emplace_back(p[0], p[1]);
    }
    const int32_t n_lower = *p++;
    for (int32_t i = 0; i < n_lower; ++i, p += 4) lower_[p[0]] = {p[1], p[2], p[3]};
    // characters below 0x10000: flags and single lowercase in direct tables
    bmp_flags_.assign(0x10000, 0);
    bmp_lower_.resize(0x10000);
    for (uint32_t cp = 0; cp < 0x10000; ++cp) {
      bmp_flags_[cp] = (in_ranges(word_, cp) ? kWord : 0) | (in_ranges(cased_, cp) ? kCased : 0) |
                       (in_ranges(ignorable_, cp) ? kIgnorable : 0);
      const auto it = lower_.find(static_cast<int32_t>(cp));
      const bool single = it != lower_.end() && it->second[1] < 0;
      bmp_lower_[cp] = single ? static_cast<uint32_t>(it->second[0]) : cp;
      if (it != lower_.end() && !single) bmp_flags_[cp] |= kMulti;
    }
    vocab_.reserve(static_cast<size_t>(opts[4]));
    for (int64_t j = 0; j < opts[4]; ++j) vocab_.emplace(vocab[j], j);  // the first of a repeated term counts
    for (int64_t j = 0; j < opts[5]; ++j) stop_.insert(stop[j]);
  }

  // counts[0..V) for one document (zeroed first)
  void count(const std::string& doc, double* counts, int64_t width) const {
    for (int64_t j = 0; j < width; ++j) counts[j] = 0.0;
    thread_local std::vector<uint32_t> cps, low;
    thread_local std::vector<std::string> tokens;
    decode_utf8(doc, cps);
    if (lowercase_) {
      lower_text(cps, low);
    } else {
      low = cps;
    }
    tokens.clear();
    std::string cur;
    size_t run = 0;
    for (size_t i = 0; i <= low.size(); ++i) {
      if (i < low.size() && (flags(low[i]) & kWord)) {
        append_utf8(cur, low[i]);
        ++run;
        continue;
      }
      if (run >= 2 && !stop_.count(cur)) tokens.push_back(cur);
      cur.clear();
      run = 0;
    }
    const int64_t n_tok = static_cast<int64_t>(tokens.size());
    if (ngram_min_ == 1) {
      for (const auto& t : tokens) add(t, counts);
    }
    std::string gram;
    for (int64_t n = ngram_min_ > 2 ? ngram_min_ : 2; n <= ngram_max_ && n <= n_tok; ++n) {
      for (int64_t i = 0; i + n <= n_tok; ++i) {
        gram = tokens[i];
        for (int64_t j = 1; j < n; ++j) {
          gram += ' ';
          gram += tokens[i + j];
        }
        add(gram, counts);
      }
    }
  }

 private:
  static constexpr uint8_t kWord = 1, kCased = 2, kIgnorable = 4, kMulti = 8;

  uint8_t flags(uint32_t cp) const {
    if (cp < 0x10000) return bmp_flags_[cp];
    return (in_ranges(word_, cp) ? kWord : 0) | (in_ranges(cased_, cp) ? kCased : 0) |
           (in_ranges(ignorable_, cp) ? kIgnorable : 0);
  }

  // Python's str.lower: character by character, capital sigma by its context.
  void lower_text(const std::vector<uint32_t>& in, std::vector<uint32_t>& out) const {
    out.clear();
    const size_t n = in.size();
    for (size_t i = 0; i < n; ++i) {
      const uint32_t cp = in[i];
      if (cp == 0x3A3) {
        size_t j = i;
        while (j > 0 && (flags(in[j - 1]) & kIgnorable)) --j;
        bool final_sigma = j > 0 && (flags(in[j - 1]) & kCased);
        if (final_sigma) {
          size_t m = i + 1;
          while (m < n && (flags(in[m]) & kIgnorable)) ++m;
          final_sigma = m == n || !(flags(in[m]) & kCased);
        }
        out.push_back(final_sigma ? 0x3C2 : 0x3C3);
      } else if (cp < 0x10000 && !(bmp_flags_[cp] & kMulti)) {
        out.push_back(bmp_lower_[cp]);
      } else {
        const auto it = lower_.find(static_cast<int32_t>(cp));
        if (it == lower_.end()) {
          out.push_back(cp);
        } else {
          for (int32_t c : it->second) if (c >= 0) out.push_back(static_cast<uint32_t>(c));
        }
      }
    }
  }

  void add(const std::string& term, double* counts) const {
    const auto it = vocab_.find(term);
    if (it == vocab_.end()) return;
    counts[it->second] = binary_ ? 1.0 : counts[it->second] + 1.0;
  }

  bool lowercase_;
  int64_t ngram_min_, ngram_max_;
  bool binary_;
  Ranges word_, cased_, ignorable_;
  std::unordered_map<int32_t, std::array<int32_t, 3>> lower_;
  std::vector<uint8_t> bmp_flags_;
  std::vector<uint32_t> bmp_lower_;
  std::unordered_map<std::string, int64_t> vocab_;
  std::unordered_set<std::string> stop_;
};

// One Analyzer per model op, made on first use (its tables identify it).
inline const Analyzer& analyzer(const int32_t* unicode, const char* const* vocab, const char* const* stop,
                                const int64_t* opts) {
  static std::mutex lock;
  static std::map<std::array<const void*, 4>, std::unique_ptr<Analyzer>> made;
  const std::array<const void*, 4> key = {unicode, vocab, stop, opts};
  std::lock_guard<std::mutex> hold(lock);
  auto& slot = made[key];
  if (!slot) slot.reset(new Analyzer(unicode, vocab, stop, opts));
  return *slot;
}

}  // namespace text

// The modelport.text:TokenCounts op on `rows` rows: document r is in[r * in_stride], its
// counts out[r * out_stride .. + opts[4]).
inline void text_counts(const int32_t* unicode, const char* const* vocab, const char* const* stop,
                        const int64_t* opts, const std::string* in, int64_t in_stride, int64_t rows, double* out,
                        int64_t out_stride) {
  const text::Analyzer& a = text::analyzer(unicode, vocab, stop, opts);
  for (int64_t r = 0; r < rows; ++r) a.count(in[r * in_stride], out + r * out_stride, opts[4]);
}

}  // namespace modelport
