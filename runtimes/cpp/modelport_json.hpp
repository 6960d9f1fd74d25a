// modelport_json.hpp: the HTTP server's JSON, read and written exactly as the Java runtime's
// modelport/runtime/Json.java does, so that both servers say the same thing about the same bytes.
//
// The Java server decodes a request body as UTF-8 into a Java String (each malformed sequence
// becomes U+FFFD, by the JDK's rules) and reads JSON from it; positions in its messages count
// UTF-16 code units from 1. Here a body is first made the UTF-8 of that same String
// (java_utf8), then read in place; positions are converted to UTF-16 units for messages.
// Strings read may hold lone surrogates (from \u escapes): they are kept as the 3-byte
// sequence of the code point (WTF-8) and written back as \u escapes, as Java writes them.
//
// Values: null, true, false, numbers (kept as their text, exactly as written: the caller
// parses them as the CSV program parses a field), strings, arrays and objects (members in
// document order, repeated names kept).
#ifndef MODELPORT_JSON_HPP
#define MODELPORT_JSON_HPP

#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "modelport_runtime.hpp"

namespace modelport {
namespace json {

// Deepest nesting of arrays and objects accepted (the reader recurses).
constexpr int kMaxDepth = 256;

// ---------------------------------------------------------------------------------------------
// UTF-8 as Java decodes it
// ---------------------------------------------------------------------------------------------

inline void put_utf8(std::string& out, uint32_t cp) { append_utf8(out, cp); }

namespace detail {

inline bool not_continuation(unsigned b) { return (b & 0xC0) != 0x80; }
inline bool malformed3_2(unsigned b1, unsigned b2) { return (b1 == 0xE0 && (b2 & 0xE0) == 0x80) || not_continuation(b2); }
inline bool malformed4_2(unsigned b1, unsigned b2) {
  return (b1 == 0xF0 && (b2 < 0x90 || b2 > 0xBF)) || (b1 == 0xF4 && (b2 & 0xF0) != 0x80) || not_continuation(b2);
}

// Decodes s[0, n) as java.lang.String(bytes, UTF_8) does (JDK 17), calling unit(start, length)
// for each well-formed sequence and bad() for each U+FFFD it puts instead of malformed input.
template <class Good, class Bad>
void decode_java(const unsigned char* s, size_t n, Good&& good, Bad&& bad) {
  size_t sp = 0;
  while (sp < n) {
    const unsigned b1 = s[sp++];
    if (b1 < 0x80) {
      good(sp - 1, 1);
    } else if ((b1 >> 5) == 6 && (b1 & 0x1E) != 0) {  // C2..DF
      if (sp < n) {
        if (not_continuation(s[sp])) {
          bad();
        } else {
          good(sp - 1, 2);
          ++sp;
        }
        continue;
      }
      bad();
      break;
    } else if ((b1 >> 4) == 14) {  // E0..EF
      if (sp + 1 < n) {
        const unsigned b2 = s[sp], b3 = s[sp + 1];
        if (malformed3_2(b1, b2) || not_continuation(b3)) {
          bad();
          sp += malformed3_2(b1, b2) ? 0 : 1;
        } else {
          const unsigned cp = ((b1 & 0x0F) << 12) | ((b2 & 0x3F) << 6) | (b3 & 0x3F);
          if (cp >= 0xD800 && cp < 0xE000) bad();
          else good(sp - 1, 3);
          sp += 2;
        }
        continue;
      }
      if (sp < n && malformed3_2(b1, s[sp])) {
        bad();
        continue;
      }
      bad();
      break;
    } else if ((b1 >> 3) == 30) {  // F0..F7
      if (sp + 2 < n) {
        const unsigned b2 = s[sp], b3 = s[sp + 1], b4 = s[sp + 2];
        const uint32_t cp = ((b1 & 0x07) << 18) | ((b2 & 0x3F) << 12) | ((b3 & 0x3F) << 6) | (b4 & 0x3F);
        if (not_continuation(b2) || not_continuation(b3) || not_continuation(b4) || cp < 0x10000 || cp > 0x10FFFF) {
          bad();
          // malformed4: the length of the malformed input (1 to 3 bytes)
          if (b1 > 0xF4 || malformed4_2(b1, b2)) sp += 0;
          else if (not_continuation(b3)) sp += 1;
          else sp += 2;
        } else {
          good(sp - 1, 4);
          sp += 3;
        }
        continue;
      }
      if (b1 > 0xF4 || (sp < n && malformed4_2(b1, s[sp]))) {
        bad();
        continue;
      }
      ++sp;
      bad();
      if (sp < n && not_continuation(s[sp])) continue;
      break;
    } else {
      bad();
    }
  }
}

}  // namespace detail

// The UTF-8 of the String Java decodes from data[0, n): false when the bytes are already that
// (well-formed UTF-8), else true with the text in `out` (malformed input as U+FFFD).
inline bool java_utf8(const char* data, size_t n, std::string& out) {
  const auto* s = reinterpret_cast<const unsigned char*>(data);
  size_t i = 0;
  while (i < n && s[i] < 0x80) ++i;  // ASCII needs no decoding
  if (i == n) return false;
  bool changed = false;
  detail::decode_java(s + i, n - i, [](size_t, size_t) {}, [&] { changed = true; });
  if (!changed) return false;
  out.assign(data, i);
  out.reserve(n + 16);
  detail::decode_java(
      s + i, n - i, [&](size_t start, size_t len) { out.append(data + i + start, len); },
      [&] { out += "\xEF\xBF\xBD"; });
  return true;
}

// The number of UTF-16 code units in the (well-formed or WTF-8) UTF-8 text s[0, pos).
inline size_t utf16_length(std::string_view s, size_t pos) {
  size_t n = 0;
  for (size_t i = 0; i < pos && i < s.size(); ++i) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    if ((c & 0xC0) != 0x80) n += c >= 0xF0 ? 2 : 1;
  }
  return n;
}

// The code point at s[pos] (UTF-8 or WTF-8) and its length in bytes; U+FFFD for a stray byte.
inline uint32_t code_point(std::string_view s, size_t pos, size_t* len) {
  const unsigned char c = static_cast<unsigned char>(s[pos]);
  size_t n = c < 0x80 ? 1 : c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC0 ? 2 : 0;
  if (n == 0 || pos + n > s.size()) {
    *len = 1;
    return 0xFFFD;
  }
  uint32_t cp = n == 1 ? c : n == 2 ? (c & 0x1F) : n == 3 ? (c & 0x0F) : (c & 0x07);
  for (size_t i = 1; i < n; ++i) cp = (cp << 6) | (static_cast<unsigned char>(s[pos + i]) & 0x3F);
  *len = n;
  return cp;
}

// The Java char at byte position pos: the code point, or the high surrogate of a supplementary
// one (what String.charAt gives there).
inline uint32_t java_char_at(std::string_view s, size_t pos) {
  size_t len = 0;
  const uint32_t cp = code_point(s, pos, &len);
  return cp > 0xFFFF ? 0xD800 + ((cp - 0x10000) >> 10) : cp;
}

// Appends a Java char (a UTF-16 unit; a surrogate as WTF-8).
inline void append_java_char(std::string& out, uint32_t c) { put_utf8(out, c); }

// ---------------------------------------------------------------------------------------------
// Values and the reader
// ---------------------------------------------------------------------------------------------

struct Value {
  enum Kind : uint8_t { Null, True, False, Number, String, Array, Object };
  Kind kind = Null;
  std::string text;                // Number: as written; String: its characters (UTF-8 / WTF-8)
  std::vector<Value> items;        // Array: the elements; Object: the members' values
  std::vector<std::string> names;  // Object: the members' names, in order, repeats included
};

// Malformed JSON: "invalid JSON at character N: <what>".
struct ParseError {
  std::string message;
};

namespace detail {

// Character.digit(c, 16) of Java 17 for a char (a UTF-16 unit): ranges of consecutive digits.
struct DigitRange {
  uint32_t first, last;
  int value;
};
constexpr DigitRange kHexDigits[] = {
    {0x0030, 0x0039, 0},  {0x0041, 0x0046, 10}, {0x0061, 0x0066, 10}, {0x0660, 0x0669, 0},  {0x06F0, 0x06F9, 0},
    {0x07C0, 0x07C9, 0},  {0x0966, 0x096F, 0},  {0x09E6, 0x09EF, 0},  {0x0A66, 0x0A6F, 0},  {0x0AE6, 0x0AEF, 0},
    {0x0B66, 0x0B6F, 0},  {0x0BE6, 0x0BEF, 0},  {0x0C66, 0x0C6F, 0},  {0x0CE6, 0x0CEF, 0},  {0x0D66, 0x0D6F, 0},
    {0x0DE6, 0x0DEF, 0},  {0x0E50, 0x0E59, 0},  {0x0ED0, 0x0ED9, 0},  {0x0F20, 0x0F29, 0},  {0x1040, 0x1049, 0},
    {0x1090, 0x1099, 0},  {0x17E0, 0x17E9, 0},  {0x1810, 0x1819, 0},  {0x1946, 0x194F, 0},  {0x19D0, 0x19D9, 0},
    {0x1A80, 0x1A89, 0},  {0x1A90, 0x1A99, 0},  {0x1B50, 0x1B59, 0},  {0x1BB0, 0x1BB9, 0},  {0x1C40, 0x1C49, 0},
    {0x1C50, 0x1C59, 0},  {0xA620, 0xA629, 0},  {0xA8D0, 0xA8D9, 0},  {0xA900, 0xA909, 0},  {0xA9D0, 0xA9D9, 0},
    {0xA9F0, 0xA9F9, 0},  {0xAA50, 0xAA59, 0},  {0xABF0, 0xABF9, 0},  {0xFF10, 0xFF19, 0},  {0xFF21, 0xFF26, 10},
    {0xFF41, 0xFF46, 10},
};

inline int hex_digit(uint32_t c) {
  for (const DigitRange& r : kHexDigits)
    if (c >= r.first && c <= r.last) return r.value + static_cast<int>(c - r.first);
  return -1;
}

// Json.shownChar: 'c' for printable ASCII, else U+XXXX.
inline std::string shown_char(uint32_t c) {
  if (c < 0x20 || c > 0x7E) {
    char buf[16];
    std::snprintf(buf, sizeof buf, "U+%04X", static_cast<unsigned>(c));
    return buf;
  }
  return std::string("'") + static_cast<char>(c) + "'";
}

// Builds a string from UTF-16 units given one by one (escapes) and UTF-8 runs (the rest), so
// that an escaped surrogate pair becomes its character and a lone surrogate stays one.
class StringBuilder {
 public:
  explicit StringBuilder(std::string& out) : out_(out) {}
  void unit(uint32_t u) {
    if (high_ != 0 && u >= 0xDC00 && u < 0xE000) {
      put_utf8(out_, 0x10000 + ((high_ - 0xD800) << 10) + (u - 0xDC00));
      high_ = 0;
      return;
    }
    flush();
    if (u >= 0xD800 && u < 0xDC00) high_ = u;
    else put_utf8(out_, u);
  }
  void run(const char* p, size_t n) {
    if (n == 0) return;  // between two escapes: a high surrogate still waits for its low one
    flush();
    out_.append(p, n);
  }
  void flush() {
    if (high_ != 0) put_utf8(out_, high_);
    high_ = 0;
  }

 private:
  std::string& out_;
  uint32_t high_ = 0;
};

class Reader {
 public:
  explicit Reader(std::string_view s) : s_(s) {}

  void parse(Value& v) {
    blanks();
    value(v, 0);
    blanks();
    if (pos_ < s_.size()) throw error("unexpected text after the JSON value");
  }

 private:
  ParseError error(const std::string& what) const {
    return ParseError{"invalid JSON at character " + std::to_string(utf16_length(s_, pos_) + 1) + ": " + what};
  }
  bool at_end() const { return pos_ >= s_.size(); }
  char cur() const { return s_[pos_]; }

  void blanks() {
    while (pos_ < s_.size()) {
      const char c = s_[pos_];
      if (c != ' ' && c != '\t' && c != '\n' && c != '\r') return;
      ++pos_;
    }
  }

  void value(Value& v, int depth) {
    if (at_end()) throw error("unexpected end of input");
    const char c = cur();
    switch (c) {
      case '{':
        object(v, depth + 1);
        return;
      case '[':
        array(v, depth + 1);
        return;
      case '"':
        v.kind = Value::String;
        string(v.text);
        return;
      case 't':
        word("true");
        v.kind = Value::True;
        return;
      case 'f':
        word("false");
        v.kind = Value::False;
        return;
      case 'n':
        word("null");
        v.kind = Value::Null;
        return;
      default:
        if (c == '-' || (c >= '0' && c <= '9')) {
          number(v);
          return;
        }
        throw error("unexpected character " + shown_char(java_char_at(s_, pos_)));
    }
  }

  void word(const char* w) {
    const size_t n = std::strlen(w);
    if (s_.compare(pos_, n, w) != 0) throw error("unexpected character " + shown_char(java_char_at(s_, pos_)));
    pos_ += n;
  }

  void object(Value& o, int depth) {
    if (depth > kMaxDepth) throw error("nested deeper than " + std::to_string(kMaxDepth) + " levels");
    o.kind = Value::Object;
    ++pos_;  // {
    blanks();
    if (!at_end() && cur() == '}') {
      ++pos_;
      return;
    }
    for (;;) {
      blanks();
      if (at_end() || cur() != '"') throw error(at_end() ? "unexpected end of input" : "expected a member name");
      std::string name;
      string(name);
      blanks();
      if (at_end() || cur() != ':') throw error(at_end() ? "unexpected end of input" : "expected ':'");
      ++pos_;
      blanks();
      o.names.push_back(std::move(name));
      o.items.emplace_back();
      value(o.items.back(), depth);
      blanks();
      if (at_end()) throw error("unexpected end of input");
      const char c = s_[pos_++];
      if (c == '}') return;
      if (c != ',') {
        --pos_;
        throw error("expected ',' or '}'");
      }
    }
  }

  void array(Value& a, int depth) {
    if (depth > kMaxDepth) throw error("nested deeper than " + std::to_string(kMaxDepth) + " levels");
    a.kind = Value::Array;
    ++pos_;  // [
    blanks();
    if (!at_end() && cur() == ']') {
      ++pos_;
      return;
    }
    for (;;) {
      blanks();
      a.items.emplace_back();
      value(a.items.back(), depth);
      blanks();
      if (at_end()) throw error("unexpected end of input");
      const char c = s_[pos_++];
      if (c == ']') return;
      if (c != ',') {
        --pos_;
        throw error("expected ',' or ']'");
      }
    }
  }

  bool digit() const { return pos_ < s_.size() && s_[pos_] >= '0' && s_[pos_] <= '9'; }

  // -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)?
  void number(Value& v) {
    const size_t start = pos_;
    if (cur() == '-') ++pos_;
    if (!digit()) throw error("expected a digit");
    if (cur() == '0') {
      ++pos_;
      if (digit()) throw error("leading zero in a number");
    } else {
      while (digit()) ++pos_;
    }
    if (!at_end() && cur() == '.') {
      ++pos_;
      if (!digit()) throw error("expected a digit after '.'");
      while (digit()) ++pos_;
    }
    if (!at_end() && (cur() == 'e' || cur() == 'E')) {
      ++pos_;
      if (!at_end() && (cur() == '+' || cur() == '-')) ++pos_;
      if (!digit()) throw error("expected a digit in the exponent");
      while (digit()) ++pos_;
    }
    v.kind = Value::Number;
    v.text.assign(s_.data() + start, pos_ - start);
  }

  void string(std::string& out) {
    ++pos_;  // "
    StringBuilder b(out);
    size_t run = pos_;
    for (;;) {
      if (at_end()) throw error("unterminated string");
      const unsigned char c = static_cast<unsigned char>(cur());
      if (c == '"') {
        b.run(s_.data() + run, pos_ - run);
        b.flush();
        ++pos_;
        return;
      }
      if (c < 0x20) throw error("unescaped control character in a string");
      if (c != '\\') {
        ++pos_;
        continue;
      }
      b.run(s_.data() + run, pos_ - run);
      ++pos_;
      if (at_end()) throw error("unterminated string");
      const size_t escape = pos_;
      size_t len = 0;
      const uint32_t e = java_char_at(s_, pos_);
      code_point(s_, pos_, &len);
      pos_ += len;
      switch (e) {
        case '"': b.unit('"'); break;
        case '\\': b.unit('\\'); break;
        case '/': b.unit('/'); break;
        case 'b': b.unit('\b'); break;
        case 'f': b.unit('\f'); break;
        case 'n': b.unit('\n'); break;
        case 'r': b.unit('\r'); break;
        case 't': b.unit('\t'); break;
        case 'u': {
          uint32_t v = 0;
          for (int i = 0; i < 4; ++i) {
            const int d = at_end() ? -1 : hex_digit(java_char_at(s_, pos_));
            if (d < 0) throw error("bad \\u escape");
            v = v * 16 + static_cast<uint32_t>(d);
            code_point(s_, pos_, &len);
            pos_ += len;
          }
          b.unit(v);
          break;
        }
        default: {
          pos_ = escape;
          std::string what = "bad escape \\";
          append_java_char(what, e);
          throw error(what);
        }
      }
      run = pos_;
    }
  }

  std::string_view s_;
  size_t pos_ = 0;
};

}  // namespace detail

// Reads one JSON value filling all of `text` (blanks around it allowed); `text` must be the
// UTF-8 that java_utf8 gives. Throws ParseError.
inline void parse(std::string_view text, Value& out) {
  out = Value();
  detail::Reader(text).parse(out);
}

// ---------------------------------------------------------------------------------------------
// Writing
// ---------------------------------------------------------------------------------------------

// Appends s (UTF-8, lone surrogates as WTF-8) as a JSON string, as Json.appendString: the
// usual escapes, other control characters, lone surrogates, U+2028 and U+2029 as \u escapes.
inline void append_string(std::string& out, std::string_view s) {
  static const char kHex[] = "0123456789abcdef";
  auto escape = [&](uint32_t u) {
    out += "\\u";
    out += kHex[(u >> 12) & 0xF];
    out += kHex[(u >> 8) & 0xF];
    out += kHex[(u >> 4) & 0xF];
    out += kHex[u & 0xF];
  };
  out += '"';
  size_t run = 0;
  for (size_t i = 0; i < s.size();) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    if (c >= 0x20 && c < 0x80 && c != '"' && c != '\\') {
      ++i;
      continue;
    }
    if (c >= 0x80) {
      size_t len = 0;
      const uint32_t cp = code_point(s, i, &len);
      const bool surrogate = cp >= 0xD800 && cp < 0xE000;
      const bool stray = (len == 1);
      if (!surrogate && !stray && cp != 0x2028 && cp != 0x2029) {
        i += len;
        continue;
      }
      out.append(s.data() + run, i - run);
      if (surrogate && cp < 0xDC00 && i + 3 < s.size()) {
        size_t len2 = 0;
        const uint32_t low = code_point(s, i + 3, &len2);
        if (low >= 0xDC00 && low < 0xE000) {  // a pair kept apart: the character it makes
          put_utf8(out, 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00));
          i += 6;
          run = i;
          continue;
        }
      }
      escape(stray ? 0xFFFD : cp);
      i += len;
      run = i;
      continue;
    }
    out.append(s.data() + run, i - run);
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      case '\b': out += "\\b"; break;
      case '\f': out += "\\f"; break;
      default: escape(c);
    }
    ++i;
    run = i;
  }
  out.append(s.data() + run, s.size() - run);
  out += '"';
}

inline std::string quote(std::string_view s) {
  std::string out;
  out.reserve(s.size() + 2);
  append_string(out, s);
  return out;
}

// A finite double as Java's Double.toString writes it (its shortest digits): 0.1, 100.0,
// 1.0E-7, 1.2345678E10; a JSON reader gets exactly v back.
inline void append_java_double(std::string& out, double v) {
  if (v == 0) {
    out += std::signbit(v) ? "-0.0" : "0.0";
    return;
  }
  char buf[64];
  const auto r = std::to_chars(buf, buf + sizeof buf, v, std::chars_format::scientific);
  std::string_view sci(buf, static_cast<size_t>(r.ptr - buf));  // -d.ddde+XX
  bool neg = false;
  if (sci[0] == '-') {
    neg = true;
    sci.remove_prefix(1);
  }
  const size_t e = sci.find('e');
  std::string digits;
  for (size_t i = 0; i < e; ++i)
    if (sci[i] != '.') digits += sci[i];
  int exp = 0;
  std::from_chars(sci.data() + e + (sci[e + 1] == '+' ? 2 : 1), sci.data() + sci.size(), exp);
  if (neg) out += '-';
  const double a = std::fabs(v);
  if (a >= 1e-3 && a < 1e7) {
    if (exp >= 0) {
      const size_t whole = static_cast<size_t>(exp) + 1;
      if (digits.size() <= whole) {
        out += digits;
        out.append(whole - digits.size(), '0');
        out += ".0";
      } else {
        out.append(digits, 0, whole);
        out += '.';
        out.append(digits, whole, std::string::npos);
      }
    } else {
      out += "0.";
      out.append(static_cast<size_t>(-exp - 1), '0');
      out += digits;
    }
  } else {
    out += digits[0];
    out += '.';
    out += digits.size() > 1 ? digits.substr(1) : std::string("0");
    out += 'E';
    out += std::to_string(exp);
  }
}

// A double in JSON: null for NaN and infinities (JSON has none).
inline void append_double(std::string& out, double v) {
  if (std::isfinite(v)) append_java_double(out, v);
  else out += "null";
}

inline std::string java_double(double v) {
  std::string s;
  append_java_double(s, v);
  return s;
}

// Writes a value read by parse back as JSON (compact; numbers as written).
inline void append_value(std::string& out, const Value& v) {
  switch (v.kind) {
    case Value::Null: out += "null"; return;
    case Value::True: out += "true"; return;
    case Value::False: out += "false"; return;
    case Value::Number: out += v.text; return;
    case Value::String: append_string(out, v.text); return;
    case Value::Array:
      out += '[';
      for (size_t i = 0; i < v.items.size(); ++i) {
        if (i) out += ',';
        append_value(out, v.items[i]);
      }
      out += ']';
      return;
    case Value::Object:
      out += '{';
      for (size_t i = 0; i < v.items.size(); ++i) {
        if (i) out += ',';
        append_string(out, v.names[i]);
        out += ':';
        append_value(out, v.items[i]);
      }
      out += '}';
      return;
  }
}

}  // namespace json
}  // namespace modelport

#endif  // MODELPORT_JSON_HPP
