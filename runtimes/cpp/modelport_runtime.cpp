// modelport_runtime.cpp: the implementation of modelport_runtime.hpp (CSV program, float- and
// double-row C ABI helpers).
// Standard library only; compiled once per toolchain and linked into every model.
#include "modelport_runtime.hpp"

#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <limits>
#include <new>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#if defined(_WIN32)
#include <fcntl.h>
#include <io.h>
#else
#include <cerrno>
#include <unistd.h>
#endif

// Floating-point std::to_chars with a precision gives exactly the output of printf("%.*g")
// and is much faster; fall back to snprintf where the standard library lacks it.
#if !defined(MODELPORT_NO_TO_CHARS) && defined(__cpp_lib_to_chars) && __cpp_lib_to_chars >= 201611L
#define MODELPORT_FP_TO_CHARS 1
#else
#define MODELPORT_FP_TO_CHARS 0
#endif

namespace modelport {

const char* dtype_name(DType t) {
  switch (t) {
    case DType::F32: return "float32";
    case DType::F64: return "float64";
    case DType::I64: return "int64";
    case DType::STR: return "string";
  }
  return "?";
}

namespace detail {

constexpr int64_t kBlockRows = 1024;
constexpr int64_t kBlockBytes = int64_t(1) << 26;  // 64 MiB

// Rows per block: kBlockRows, fewer where rows are wide (images) so that a block's
// buffers stay within about kBlockBytes (8 bytes counted per element).
inline int64_t block_rows(const ModelSpec& spec) {
  int64_t row_bytes = 0;
  for (int i = 0; i < spec.num_inputs; ++i) row_bytes += 8 * spec.inputs[i].row_size;
  for (int i = 0; i < spec.num_outputs; ++i) row_bytes += 8 * spec.outputs[i].row_size;
  const int64_t fit = row_bytes > 0 ? kBlockBytes / row_bytes : kBlockRows;
  return fit < 1 ? 1 : (fit < kBlockRows ? fit : kBlockRows);
}
constexpr size_t kOutFlushBytes = size_t(1) << 16;
constexpr size_t kInBufBytes = size_t(1) << 16;

inline bool valid_dtype(DType t) {
  return t == DType::F32 || t == DType::F64 || t == DType::I64 || t == DType::STR;
}

inline bool is_blank(char c) { return c == ' ' || c == '\t'; }

// --------------------------------------------------------------------------------------
// Spec validation
// --------------------------------------------------------------------------------------

inline bool check_tensors(const TensorSpec* t, int n, const char* what, std::string& err) {
  if (n < 0 || (n > 0 && t == nullptr)) {
    err = std::string("bad ") + what + " tensor list";
    return false;
  }
  for (int i = 0; i < n; ++i) {
    if (t[i].name == nullptr || !valid_dtype(t[i].dtype) || t[i].row_size < 0) {
      err = std::string("bad ") + what + " tensor #" + std::to_string(i);
      return false;
    }
  }
  return true;
}

inline bool check_columns(const ColumnSpec* c, int n, const TensorSpec* t, int nt, const char* what,
                          std::string& err) {
  if (n < 0 || (n > 0 && c == nullptr)) {
    err = std::string("bad ") + what + " column list";
    return false;
  }
  std::unordered_map<std::string, int> seen;
  for (int i = 0; i < n; ++i) {
    if (c[i].name == nullptr) {
      err = std::string(what) + " column #" + std::to_string(i) + " has no name";
      return false;
    }
    if (c[i].tensor < 0 || c[i].tensor >= nt || c[i].offset < 0 ||
        c[i].offset >= t[c[i].tensor].row_size) {
      err = std::string(what) + " column \"" + c[i].name + "\" refers to a missing tensor element";
      return false;
    }
    if (!seen.emplace(c[i].name, i).second) {
      err = std::string("duplicate ") + what + " column name \"" + c[i].name + "\"";
      return false;
    }
    if (c[i].num_levels < 0 || (c[i].num_levels > 0 && c[i].levels == nullptr)) {
      err = std::string(what) + " column \"" + c[i].name + "\" has a bad level list";
      return false;
    }
    if (c[i].num_levels > 0 && t[c[i].tensor].dtype != DType::STR) {
      err = std::string(what) + " column \"" + c[i].name + "\" has levels but is not a string column";
      return false;
    }
    for (int l = 0; l < c[i].num_levels; ++l) {
      if (c[i].levels[l] == nullptr) {
        err = std::string(what) + " column \"" + c[i].name + "\" has a null level";
        return false;
      }
    }
  }
  return true;
}

// Returns an empty string when the spec is consistent.
inline std::string validate_spec(const ModelSpec& spec) {
  std::string err;
  if (spec.run == nullptr) return "no run function";
  if (!check_tensors(spec.inputs, spec.num_inputs, "input", err)) return err;
  if (!check_tensors(spec.outputs, spec.num_outputs, "output", err)) return err;
  if (!check_columns(spec.input_columns, spec.num_input_columns, spec.inputs, spec.num_inputs,
                     "input", err))
    return err;
  if (!check_columns(spec.output_columns, spec.num_output_columns, spec.outputs, spec.num_outputs,
                     "output", err))
    return err;
  // Every input element must be covered by exactly one column.
  std::vector<std::vector<unsigned char>> covered(static_cast<size_t>(spec.num_inputs));
  for (int i = 0; i < spec.num_inputs; ++i)
    covered[static_cast<size_t>(i)].assign(static_cast<size_t>(spec.inputs[i].row_size), 0);
  for (int k = 0; k < spec.num_input_columns; ++k) {
    const ColumnSpec& c = spec.input_columns[k];
    unsigned char& flag = covered[static_cast<size_t>(c.tensor)][static_cast<size_t>(c.offset)];
    if (flag) return std::string("input column \"") + c.name + "\" maps to an element already covered";
    flag = 1;
  }
  for (int i = 0; i < spec.num_inputs; ++i)
    for (size_t j = 0; j < covered[static_cast<size_t>(i)].size(); ++j)
      if (!covered[static_cast<size_t>(i)][j])
        return std::string("element ") + std::to_string(j) + " of input \"" + spec.inputs[i].name +
               "\" has no column";
  return std::string();
}

// --------------------------------------------------------------------------------------
// Tensor storage for one block of rows
// --------------------------------------------------------------------------------------

struct TensorBuf {
  DType dtype = DType::F32;
  int64_t row_size = 0;
  std::vector<float> f32;
  std::vector<double> f64;
  std::vector<int64_t> i64;
  std::vector<std::string> str;

  void init(const TensorSpec& t, int64_t rows) {
    dtype = t.dtype;
    row_size = t.row_size;
    size_t n = static_cast<size_t>(rows * t.row_size);
    switch (dtype) {
      case DType::F32: f32.assign(n, 0.0f); break;
      case DType::F64: f64.assign(n, 0.0); break;
      case DType::I64: i64.assign(n, 0); break;
      case DType::STR: str.assign(n, std::string()); break;
    }
  }
  void* data() {
    switch (dtype) {
      case DType::F32: return f32.data();
      case DType::F64: return f64.data();
      case DType::I64: return i64.data();
      case DType::STR: return str.data();
    }
    return nullptr;
  }
};

// One block's typed buffers for every input and output, and the pointer arrays `run` takes.
struct BlockBuffers {
  std::vector<TensorBuf> ins, outs;
  std::vector<const void*> in_ptrs;
  std::vector<void*> out_ptrs;

  BlockBuffers(const ModelSpec& spec, int64_t block)
      : ins(static_cast<size_t>(spec.num_inputs)),
        outs(static_cast<size_t>(spec.num_outputs)),
        in_ptrs(ins.size() + 1, nullptr),
        out_ptrs(outs.size() + 1, nullptr) {
    for (size_t i = 0; i < ins.size(); ++i) {
      ins[i].init(spec.inputs[i], block);
      in_ptrs[i] = ins[i].data();
    }
    for (size_t i = 0; i < outs.size(); ++i) {
      outs[i].init(spec.outputs[i], block);
      out_ptrs[i] = outs[i].data();
    }
  }
};

// --------------------------------------------------------------------------------------
// Value parsing
// --------------------------------------------------------------------------------------

inline bool ieq(const char* s, size_t n, const char* lit) {
  size_t m = std::strlen(lit);
  if (n != m) return false;
  for (size_t i = 0; i < n; ++i) {
    char c = s[i];
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    if (c != lit[i]) return false;
  }
  return true;
}

// Decimal number syntax: [+-] (digits [. digits*] | . digits) [(e|E) [+-] digits]
inline bool is_decimal(const char* b, const char* e) {
  const char* p = b;
  if (p < e && (*p == '+' || *p == '-')) ++p;
  bool digits = false;
  while (p < e && *p >= '0' && *p <= '9') ++p, digits = true;
  if (p < e && *p == '.') {
    ++p;
    while (p < e && *p >= '0' && *p <= '9') ++p, digits = true;
  }
  if (!digits) return false;
  if (p < e && (*p == 'e' || *p == 'E')) {
    ++p;
    if (p < e && (*p == '+' || *p == '-')) ++p;
    bool exp_digits = false;
    while (p < e && *p >= '0' && *p <= '9') ++p, exp_digits = true;
    if (!exp_digits) return false;
  }
  return p == e;
}

// Parses a float field. `s` must be NUL-terminated at s[len]. Returns false when it does not parse.
inline bool parse_real(const char* s, size_t len, bool single, double* out_d, float* out_f) {
  const char* b = s;
  const char* e = s + len;
  while (b < e && is_blank(*b)) ++b;
  while (e > b && is_blank(e[-1])) --e;
  bool neg = false;
  const char* w = b;
  if (w < e && (*w == '+' || *w == '-')) neg = (*w++ == '-');
  size_t wn = static_cast<size_t>(e - w);
  if (b == e || ieq(w, wn, "nan")) {
    if (single) *out_f = std::numeric_limits<float>::quiet_NaN();
    else *out_d = std::numeric_limits<double>::quiet_NaN();
    return true;
  }
  if (ieq(w, wn, "inf") || ieq(w, wn, "infinity")) {
    if (single) *out_f = neg ? -std::numeric_limits<float>::infinity() : std::numeric_limits<float>::infinity();
    else *out_d = neg ? -std::numeric_limits<double>::infinity() : std::numeric_limits<double>::infinity();
    return true;
  }
  if (!is_decimal(b, e)) return false;
  char* end = nullptr;
  // The syntax was checked above; strtod rounds correctly (overflow gives +-inf). A float32
  // is the double narrowed (round to nearest even), as numpy's float64 -> float32 and every
  // reader that parses to double first: parsing straight to float32 (strtof) differs on
  // decimal strings between a float32 midpoint and the double nearest to it.
  const double d = std::strtod(b, &end);
  if (single) *out_f = static_cast<float>(d);
  else *out_d = d;
  return end == e;
}

inline bool parse_int64(const char* s, size_t len, int64_t* out) {
  const char* b = s;
  const char* e = s + len;
  while (b < e && is_blank(*b)) ++b;
  while (e > b && is_blank(e[-1])) --e;
  if (b < e && *b == '+') {
    ++b;
    if (b < e && *b == '-') return false;
  }
  if (b == e) return false;
  for (const char* p = (*b == '-') ? b + 1 : b; p < e; ++p)
    if (*p < '0' || *p > '9') return false;
  auto r = std::from_chars(b, e, *out);
  return r.ec == std::errc() && r.ptr == e;
}

// --------------------------------------------------------------------------------------
// Output formatting
// --------------------------------------------------------------------------------------

inline void append_real(std::string& out, double v, int precision) {
  if (std::isnan(v)) {
    out += "NaN";
    return;
  }
  if (std::isinf(v)) {
    out += v > 0 ? "inf" : "-inf";
    return;
  }
  char tmp[64];
#if MODELPORT_FP_TO_CHARS
  auto r = std::to_chars(tmp, tmp + sizeof tmp, v, std::chars_format::general, precision);
  out.append(tmp, static_cast<size_t>(r.ptr - tmp));
#else
  int n = std::snprintf(tmp, sizeof tmp, "%.*g", precision, v);
  out.append(tmp, static_cast<size_t>(n));
#endif
}

inline void append_int64(std::string& out, int64_t v) {
  char tmp[32];
  auto r = std::to_chars(tmp, tmp + sizeof tmp, v);
  out.append(tmp, static_cast<size_t>(r.ptr - tmp));
}

inline bool needs_quotes(const char* s, size_t n) {
  if (n == 0) return false;
  if (is_blank(s[0]) || is_blank(s[n - 1])) return true;
  for (size_t i = 0; i < n; ++i) {
    char c = s[i];
    if (c == ',' || c == '"' || c == '\n' || c == '\r') return true;
  }
  return false;
}

// Appends one CSV field; `only_field` forces quotes on an empty value so that a
// one-column row is not written as an empty line.
inline void append_field(std::string& out, const char* s, size_t n, bool only_field) {
  if (!needs_quotes(s, n) && !(only_field && n == 0)) {
    out.append(s, n);
    return;
  }
  out += '"';
  for (size_t i = 0; i < n; ++i) {
    if (s[i] == '"') out += '"';
    out += s[i];
  }
  out += '"';
}

inline std::string csv_name(const char* name) {
  std::string r;
  append_field(r, name, std::strlen(name), true);
  return r;
}

// For messages: the raw field text, cut after 100 characters (code points, never inside one;
// ModelSpec.shown in the Java runtime cuts the same way).
inline std::string shown(const char* s, size_t n) {
  size_t chars = 0;
  for (size_t i = 0; i < n; ++i) {
    if ((static_cast<unsigned char>(s[i]) & 0xC0) != 0x80 && ++chars > 100) return std::string(s, i) + "...";
  }
  return std::string(s, n);
}

// --------------------------------------------------------------------------------------
// Closed string columns (known levels)
// --------------------------------------------------------------------------------------

constexpr int kShownLevels = 20;  // levels listed in a message

// `column "NAME": unknown level "VALUE" (known levels: "L1", "L2", ...)`; the same text in
// the Java runtime (ModelSpec.ColumnSpec.unknownLevel).
inline std::string unknown_level_text(const ColumnSpec& c, const char* value, size_t len) {
  std::string s = std::string("column \"") + c.name + "\": unknown level \"" + shown(value, len) +
                  "\" (known levels: ";
  const int listed = c.num_levels < kShownLevels ? c.num_levels : kShownLevels;
  for (int l = 0; l < listed; ++l) {
    if (l) s += ", ";
    s += '"';
    s += shown(c.levels[l], std::strlen(c.levels[l]));
    s += '"';
  }
  if (c.num_levels > listed) s += ", ... (" + std::to_string(c.num_levels) + " levels)";
  s += ')';
  return s;
}

// A hash set of levels for each closed string input column of a (validated) spec.
struct LevelSets {
  struct Closed {
    int column;  // index into spec.input_columns
    std::unordered_set<std::string_view> levels;
  };
  std::vector<Closed> closed;
  std::vector<int> slot;  // per input column: index into `closed`, or -1 when open

  explicit LevelSets(const ModelSpec& spec) : slot(static_cast<size_t>(spec.num_input_columns), -1) {
    for (int k = 0; k < spec.num_input_columns; ++k) {
      const ColumnSpec& c = spec.input_columns[k];
      if (c.num_levels <= 0) continue;
      slot[static_cast<size_t>(k)] = static_cast<int>(closed.size());
      closed.push_back(Closed{k, {}});
      std::unordered_set<std::string_view>& set = closed.back().levels;
      set.reserve(static_cast<size_t>(c.num_levels));
      for (int l = 0; l < c.num_levels; ++l) set.emplace(c.levels[l]);
    }
  }
  bool allows(int column, std::string_view value) const {
    const int i = slot[static_cast<size_t>(column)];
    return i < 0 || value.empty() || closed[static_cast<size_t>(i)].levels.count(value) != 0;
  }
};

// --------------------------------------------------------------------------------------
// CSV input
// --------------------------------------------------------------------------------------

class InBuf {
 public:
  // `partial`: take what each read() returns instead of filling the buffer (fread waits for a
  // full buffer), so that a line is read as soon as it arrives (--stream).
  InBuf(std::FILE* f, bool partial) : f_(f), partial_(partial), buf_(kInBufBytes) {}
  // Text in memory (the HTTP server's CSV bodies): read in place.
  InBuf(const char* data, size_t size) : f_(nullptr), mem_(data), len_(size), eof_(true) {}
  int peek() {
    if (pos_ == len_ && !refill()) return -1;
    return static_cast<unsigned char>(data()[pos_]);
  }
  int get() {
    if (pos_ == len_ && !refill()) return -1;
    return static_cast<unsigned char>(data()[pos_++]);
  }
  // Appends bytes up to (not including) the next ',', '\n', '\r' or end of input.
  void read_unquoted(std::string& dst) {
    for (;;) {
      if (pos_ == len_ && !refill()) return;
      const char* b = data();
      size_t s = pos_;
      while (pos_ < len_) {
        char c = b[pos_];
        if (c == ',' || c == '\n' || c == '\r') break;
        ++pos_;
      }
      dst.append(b + s, pos_ - s);
      if (pos_ < len_) return;
    }
  }
  bool read_error() const { return error_; }

 private:
  const char* data() const { return mem_ ? mem_ : buf_.data(); }
  bool refill() {
    if (eof_) return false;
    pos_ = 0;
#if defined(_WIN32)
    len_ = std::fread(buf_.data(), 1, buf_.size(), f_);
#else
    if (partial_) {
      std::fflush(nullptr);  // nothing buffered may wait while we block on the input
      ssize_t got;
      do got = ::read(fileno(f_), buf_.data(), buf_.size());
      while (got < 0 && errno == EINTR);
      len_ = got > 0 ? static_cast<size_t>(got) : 0;
      if (got < 0) error_ = true;
    } else {
      len_ = std::fread(buf_.data(), 1, buf_.size(), f_);
    }
#endif
    if (len_ == 0) {
      eof_ = true;
      if (f_ && std::ferror(f_)) error_ = true;
      return false;
    }
    return true;
  }
  std::FILE* f_;
  bool partial_ = false;
  const char* mem_ = nullptr;
  std::vector<char> buf_;
  size_t pos_ = 0;
  size_t len_ = 0;
  bool eof_ = false;
  bool error_ = false;
};

// One parsed CSV record; each field is stored NUL-terminated in `data`.
struct Record {
  std::string data;
  std::vector<size_t> starts;
  std::vector<size_t> lens;
  int64_t line = 0;  // physical line the record starts on (1 = first line)

  void clear() {
    data.clear();
    starts.clear();
    lens.clear();
  }
  size_t size() const { return starts.size(); }
  const char* field(size_t i) const { return data.data() + starts[i]; }
  size_t len(size_t i) const { return lens[i]; }
};

enum class ReadStatus { Ok, Eof, Error };

class CsvReader {
 public:
  CsvReader(std::FILE* f, bool partial) : in_(f, partial) {}
  CsvReader(const char* data, size_t size) : in_(data, size) {}

  // Reads the next record. Empty lines at the very end of the input are ignored; an empty
  // line elsewhere is a record with one empty field.
  ReadStatus next(Record& rec, std::string& err) {
    rec.clear();
    if (pending_blank_ == 0) {
      blank_line_ = line_;
      for (;;) {
        int c = in_.peek();
        if (c == '\n') {
          in_.get();
        } else if (c == '\r') {
          in_.get();
          if (in_.peek() == '\n') in_.get();
        } else {
          break;
        }
        ++line_;
        ++pending_blank_;
      }
      if (in_.peek() == -1) {
        pending_blank_ = 0;
        return ReadStatus::Eof;
      }
    }
    if (pending_blank_ > 0) {
      --pending_blank_;
      rec.line = blank_line_++;
      rec.starts.push_back(0);
      rec.lens.push_back(0);
      rec.data.push_back('\0');
      return ReadStatus::Ok;
    }
    rec.line = line_;
    for (;;) {
      size_t start = rec.data.size();
      if (in_.peek() == '"') {
        in_.get();
        for (;;) {
          int c = in_.get();
          if (c == -1) {
            err = "unterminated quoted field";
            return ReadStatus::Error;
          }
          if (c == '"') {
            if (in_.peek() == '"') {
              in_.get();
              rec.data.push_back('"');
              continue;
            }
            break;
          }
          if (c == '\n' || (c == '\r' && in_.peek() != '\n')) ++line_;
          rec.data.push_back(static_cast<char>(c));
        }
        int c = in_.peek();
        if (c != ',' && c != '\n' && c != '\r' && c != -1) {
          err = "unexpected character after a closing quote (quotes inside a quoted field must be doubled)";
          return ReadStatus::Error;
        }
      } else {
        in_.read_unquoted(rec.data);
      }
      rec.starts.push_back(start);
      rec.lens.push_back(rec.data.size() - start);
      rec.data.push_back('\0');
      int c = in_.get();
      if (c == ',') continue;
      if (c == '\r' && in_.peek() == '\n') in_.get();
      if (c != -1) ++line_;
      return ReadStatus::Ok;
    }
  }
  bool read_error() const { return in_.read_error(); }
  // After an error inside a record: drops the rest of its line, so that reading can go on at
  // the next one (--stream).
  void skip_line() {
    for (;;) {
      int c = in_.get();
      if (c == -1) return;
      if (c == '\n' || c == '\r') {
        if (c == '\r' && in_.peek() == '\n') in_.get();
        ++line_;
        return;
      }
    }
  }

 private:
  InBuf in_;
  int64_t line_ = 1;
  int64_t pending_blank_ = 0;
  int64_t blank_line_ = 0;
};

// --------------------------------------------------------------------------------------
// Program
// --------------------------------------------------------------------------------------

// Output text, written to `f` in pieces of about kOutFlushBytes; with no file, it all stays in
// `buf` (the HTTP server's CSV answers).
class OutBuf {
 public:
  explicit OutBuf(std::FILE* f) : f_(f) {
    if (f_) buf.reserve(kOutFlushBytes + 4096);
  }
  std::string buf;
  void maybe_flush() {
    if (buf.size() >= kOutFlushBytes) flush();
  }
  void flush() {
    if (f_ && !buf.empty()) {
      if (std::fwrite(buf.data(), 1, buf.size(), f_) != buf.size()) ok_ = false;
      buf.clear();
    }
  }
  bool finish() {
    if (!f_) return true;
    flush();
    if (std::fflush(f_) != 0 || std::ferror(f_)) ok_ = false;
    return ok_;
  }

 private:
  std::FILE* f_;
  bool ok_ = true;
};

inline void print(std::FILE* f, const std::string& s) { std::fwrite(s.data(), 1, s.size(), f); }

inline std::string prog_name(const ModelSpec& spec, int argc, char** argv) {
  if (argc > 0 && argv && argv[0] && argv[0][0]) {
    const char* p = argv[0];
    const char* base = p;
    for (; *p; ++p)
      if (*p == '/' || *p == '\\') base = p + 1;
    if (*base) return base;
  }
  return spec.model_name ? spec.model_name : "model";
}

inline void append_column_list(std::string& s, const ColumnSpec* cols, int n, const TensorSpec* tensors) {
  std::vector<std::string> names;
  size_t width = 0;
  for (int i = 0; i < n; ++i) {
    names.push_back(csv_name(cols[i].name));
    if (names.back().size() > width) width = names.back().size();
  }
  if (width > 40) width = 40;
  for (int i = 0; i < n; ++i) {
    const TensorSpec& t = tensors[cols[i].tensor];
    s += "  ";
    s += names[static_cast<size_t>(i)];
    s.append(width + 2 > names[static_cast<size_t>(i)].size() ? width + 2 - names[static_cast<size_t>(i)].size() : 1, ' ');
    const char* dt = dtype_name(t.dtype);
    s += dt;
    s.append(9 - std::strlen(dt), ' ');
    s += '(';
    s += t.name;
    s += '[';
    s += std::to_string(cols[i].offset);
    s += "])\n";
  }
}

inline std::string usage_text(const ModelSpec& spec, const std::string& prog) {
  std::string s;
  s += "Usage: " + prog + " [--allow-extra-columns] [--stream] < input.csv > output.csv\n";
  s += "       " + prog + " serve [--host HOST] [--port PORT] ...   (HTTP server: " + prog + " serve --help)\n";
  s += "       " + prog + " --help | --schema\n\n";
  s += "Runs the model \"";
  s += spec.model_name ? spec.model_name : "model";
  s += "\" on CSV data.\n";
  s += "Reads CSV from standard input: a header line naming the input columns (in any\n"
       "order), then one line per example. Writes CSV to standard output: a header line\n"
       "with the output column names, then one line per input row, in input order.\n\n";
  s += "Input columns (" + std::to_string(spec.num_input_columns) + "):\n";
  append_column_list(s, spec.input_columns, spec.num_input_columns, spec.inputs);
  s += "Output columns (" + std::to_string(spec.num_output_columns) + "):\n";
  append_column_list(s, spec.output_columns, spec.num_output_columns, spec.outputs);
  s += "\nAn empty field or NaN is a missing value in a float column; inf and -inf are accepted.\n"
       "Fields follow RFC 4180 quoting (\"a, b\" and \"say \"\"hi\"\"\").\n\n"
       "Options:\n"
       "  --allow-extra-columns  ignore input columns that the model does not use\n"
       "  --stream               answer each row as soon as it is read (flushed line by line);\n"
       "                         a bad row is reported on stderr and skipped, and reading goes on\n"
       "  --schema               print the model's schema and exit\n"
       "  --help                 print this help and exit\n\n"
       "Exit status: 0 on success, 2 on bad arguments or bad input (message on stderr).\n";
  return s;
}

inline std::string schema_text(const ModelSpec& spec) {
  std::string s;
  if (spec.description && spec.description[0]) {
    s = spec.description;
  } else {
    s = "Model: ";
    s += spec.model_name ? spec.model_name : "model";
    s += "\nInput columns:\n";
    append_column_list(s, spec.input_columns, spec.num_input_columns, spec.inputs);
    s += "Output columns:\n";
    append_column_list(s, spec.output_columns, spec.num_output_columns, spec.outputs);
  }
  if (s.empty() || s.back() != '\n') s += '\n';
  return s;
}

inline std::string quoted_list(const std::vector<std::string>& names) {
  std::string s;
  for (size_t i = 0; i < names.size(); ++i) {
    if (i) s += ", ";
    s += '"' + names[i] + '"';
  }
  return s;
}

inline std::string row_prefix(int64_t row, int64_t line) {
  return "error: row " + std::to_string(row) + " (line " + std::to_string(line) + ")";
}

// --------------------------------------------------------------------------------------
// Fields, rows and headers: what the CSV program, --stream and the HTTP server share
// --------------------------------------------------------------------------------------

enum class FieldStatus { Ok, BadNumber, BadInteger, UnknownLevel };

// Sets input column k of row r of `ins` from the field text (NUL-terminated at text[len]).
inline FieldStatus set_field(const ModelSpec& spec, const LevelSets& levels, std::vector<TensorBuf>& ins, int64_t r,
                             int k, const char* text, size_t len) {
  const ColumnSpec& c = spec.input_columns[k];
  TensorBuf& t = ins[static_cast<size_t>(c.tensor)];
  const size_t idx = static_cast<size_t>(r * t.row_size + c.offset);
  switch (t.dtype) {
    case DType::F32: return parse_real(text, len, true, nullptr, &t.f32[idx]) ? FieldStatus::Ok : FieldStatus::BadNumber;
    case DType::F64: return parse_real(text, len, false, &t.f64[idx], nullptr) ? FieldStatus::Ok : FieldStatus::BadNumber;
    case DType::I64: return parse_int64(text, len, &t.i64[idx]) ? FieldStatus::Ok : FieldStatus::BadInteger;
    case DType::STR:
      if (!levels.allows(k, std::string_view(text, len))) return FieldStatus::UnknownLevel;
      t.str[idx].assign(text, len);
      return FieldStatus::Ok;
  }
  return FieldStatus::Ok;
}

// `column "x": cannot parse "abc" as a number`, or the unknown level message.
inline std::string field_error(const ModelSpec& spec, int k, FieldStatus st, const char* text, size_t len) {
  const ColumnSpec& c = spec.input_columns[k];
  if (st == FieldStatus::UnknownLevel) return unknown_level_text(c, text, len);
  return std::string("column \"") + c.name + "\": cannot parse \"" + shown(text, len) + "\" as " +
         (st == FieldStatus::BadInteger ? "an integer" : "a number");
}

// Appends output row r of `outs` as CSV (no line end).
inline void append_output_row(std::string& out, const ModelSpec& spec, const std::vector<TensorBuf>& outs, int64_t r) {
  const int ncols = spec.num_output_columns;
  for (int k = 0; k < ncols; ++k) {
    if (k) out += ',';
    const ColumnSpec& c = spec.output_columns[k];
    const TensorBuf& t = outs[static_cast<size_t>(c.tensor)];
    size_t idx = static_cast<size_t>(r * t.row_size + c.offset);
    switch (t.dtype) {
      case DType::F32: append_real(out, static_cast<double>(t.f32[idx]), 9); break;
      case DType::F64: append_real(out, t.f64[idx], 17); break;
      case DType::I64: append_int64(out, t.i64[idx]); break;
      case DType::STR: append_field(out, t.str[idx].data(), t.str[idx].size(), ncols == 1); break;
    }
  }
}

inline std::string output_header(const ModelSpec& spec) {
  std::string s;
  const int ncols = spec.num_output_columns;
  for (int k = 0; k < ncols; ++k) {
    if (k) s += ',';
    const char* nm = spec.output_columns[k].name;
    append_field(s, nm, std::strlen(nm), ncols == 1);
  }
  s += '\n';
  return s;
}

inline InputError make_error(int64_t row, int64_t line, bool header, std::string column, std::string message) {
  InputError e;
  e.row = row;
  e.line = line;
  e.header = header;
  e.column = std::move(column);
  e.message = std::move(message);
  return e;
}

inline std::string unknown_message(const std::vector<std::string>& unknown) {
  return std::string("unknown input column") + (unknown.size() > 1 ? "s " : " ") + quoted_list(unknown) +
         " (pass --allow-extra-columns to ignore extra columns)";
}

inline std::vector<InputError> bind(const ModelSpec& spec, const std::vector<std::string>& names, bool allow_extra,
                                    std::vector<int>& col_of_field) {
  std::unordered_map<std::string, int> by_name;
  for (int k = 0; k < spec.num_input_columns; ++k) by_name.emplace(spec.input_columns[k].name, k);
  col_of_field.assign(names.size(), -1);
  std::vector<char> found(static_cast<size_t>(spec.num_input_columns), 0);
  std::unordered_map<std::string, int> seen;
  std::vector<std::string> dups, unknown, missing;
  for (size_t j = 0; j < names.size(); ++j) {
    if (!seen.emplace(names[j], 1).second) {
      if (seen[names[j]]++ == 1) dups.push_back(names[j]);
      continue;
    }
    auto it = by_name.find(names[j]);
    if (it == by_name.end()) {
      unknown.push_back(names[j]);
    } else {
      col_of_field[j] = it->second;
      found[static_cast<size_t>(it->second)] = 1;
    }
  }
  for (int k = 0; k < spec.num_input_columns; ++k)
    if (!found[static_cast<size_t>(k)]) missing.push_back(spec.input_columns[k].name);
  std::vector<InputError> errors;
  if (!dups.empty())
    errors.push_back(make_error(0, 0, true, dups[0],
                                std::string("duplicate column name") + (dups.size() > 1 ? "s " : " ") + quoted_list(dups)));
  if (!missing.empty()) {
    std::vector<std::string> all;
    for (int k = 0; k < spec.num_input_columns; ++k) all.push_back(spec.input_columns[k].name);
    errors.push_back(make_error(0, 0, true, missing[0],
                                std::string("missing input column") + (missing.size() > 1 ? "s " : " ") +
                                    quoted_list(missing) + " (the model needs " + quoted_list(all) + ")"));
  }
  if (!unknown.empty() && !allow_extra) errors.push_back(make_error(0, 0, true, unknown[0], unknown_message(unknown)));
  return errors;
}

// The CSV program after its options: the header, then the rows in blocks (one row at a time
// with `stream`, each answer flushed at once), the output into `ob`. Every error goes to
// `report` (an InputError); a bad row stops the reading, except with `stream`, which reports it
// and goes on with the next row (the bad row gets no output line). Returns a kExit* code and
// the number of rows answered in *rows.
template <class Report>
int process_csv(const ModelSpec& spec, CsvReader& reader, OutBuf& ob, bool allow_extra, bool stream,
                Report&& report, int64_t* rows) {
  Record rec;
  std::string rerr;
  *rows = 0;

  // ---- header
  ReadStatus st = reader.next(rec, rerr);
  if (st == ReadStatus::Eof) {
    if (reader.read_error()) {
      report(make_error(0, 0, false, "", "cannot read standard input"));
      return kExitFailure;
    }
    report(make_error(0, 0, false, "", "empty input: expected a header line naming the input columns"));
    return kExitBadInput;
  }
  if (st == ReadStatus::Error) {
    report(make_error(0, rec.line, true, "", rerr));
    return kExitBadInput;
  }
  if (rec.size() == 1 && rec.len(0) == 0) {
    report(make_error(0, rec.line, true, "", "the header line is empty"));
    return kExitBadInput;
  }
  std::vector<std::string> header;
  for (size_t j = 0; j < rec.size(); ++j) header.emplace_back(rec.field(j), rec.len(j));
  if (header[0].compare(0, 3, "\xEF\xBB\xBF") == 0) header[0].erase(0, 3);  // UTF-8 byte order mark
  std::vector<int> col_of_field;
  std::vector<InputError> header_errors = bind(spec, header, allow_extra, col_of_field);
  for (InputError& e : header_errors) {
    e.line = rec.line;
    report(e);
  }
  if (!header_errors.empty()) return kExitBadInput;

  // ---- buffers
  const int64_t block = stream ? 1 : block_rows(spec);
  BlockBuffers bufs(spec, block);
  const LevelSets levels(spec);

  ob.buf += output_header(spec);
  if (stream && !ob.finish()) {
    report(make_error(0, 0, false, "", "cannot write standard output"));
    return kExitFailure;
  }

  const size_t nfields = header.size();
  int64_t row = 0;  // rows read, bad ones included
  bool failed = false, done = false;
  while (!done) {
    int64_t n = 0;
    while (n < block) {
      st = reader.next(rec, rerr);
      if (st == ReadStatus::Eof) {
        done = true;
        break;
      }
      ++row;
      InputError bad;
      if (st == ReadStatus::Error) {
        bad = make_error(row, rec.line, false, "", rerr);
        if (stream) reader.skip_line();
      } else if (rec.size() != nfields) {
        bad = make_error(row, rec.line, false, "",
                         "expected " + std::to_string(nfields) + (nfields == 1 ? " field" : " fields") + ", found " +
                             std::to_string(rec.size()));
      } else {
        for (size_t j = 0; j < nfields; ++j) {
          const int k = col_of_field[j];
          if (k < 0) continue;
          const FieldStatus fs = set_field(spec, levels, bufs.ins, n, k, rec.field(j), rec.len(j));
          if (fs != FieldStatus::Ok) {
            bad = make_error(row, rec.line, false, spec.input_columns[k].name,
                             field_error(spec, k, fs, rec.field(j), rec.len(j)));
            break;
          }
        }
      }
      if (!bad.message.empty()) {
        if (!stream) {
          ob.finish();
          report(bad);
          return kExitBadInput;
        }
        report(bad);
        failed = true;
        continue;
      }
      ++n;
    }
    if (reader.read_error()) {
      ob.finish();
      report(make_error(0, 0, false, "", "cannot read standard input"));
      return kExitFailure;
    }
    if (n == 0) break;

    spec.run(bufs.in_ptrs.data(), bufs.out_ptrs.data(), n);

    for (int64_t r = 0; r < n; ++r) {
      append_output_row(ob.buf, spec, bufs.outs, r);
      ob.buf += '\n';
      ob.maybe_flush();
    }
    *rows += n;
    if (stream && !ob.finish()) {
      report(make_error(0, 0, false, "", "cannot write standard output"));
      return kExitFailure;
    }
  }
  if (!ob.finish()) {
    report(make_error(0, 0, false, "", "cannot write standard output"));
    return kExitFailure;
  }
  return failed ? kExitBadInput : kExitOk;
}

inline int run_program(const ModelSpec& spec, int argc, char** argv, std::FILE* in, std::FILE* out,
                       std::FILE* err) {
  std::string bad = validate_spec(spec);
  if (!bad.empty()) {
    print(err, "internal error: invalid model spec: " + bad + "\n");
    return kExitInvalidSpec;
  }

  bool help = false, schema = false, allow_extra = false, stream = false;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i] ? argv[i] : "";
    if (a == "--help" || a == "-h") help = true;
    else if (a == "--schema") schema = true;
    else if (a == "--allow-extra-columns") allow_extra = true;
    else if (a == "--stream") stream = true;
    else {
      std::string prog = prog_name(spec, argc, argv);
      if (!a.empty() && a[0] == '-')
        print(err, "error: unknown option \"" + a + "\"\n");
      else
        print(err, "error: unexpected argument \"" + a + "\" (the input is read from standard input)\n");
      print(err, "Usage: " + prog + " [--allow-extra-columns] [--stream] < input.csv > output.csv\n"
                 "Run '" + prog + " --help' for details.\n");
      return kExitBadInput;
    }
  }
  if (help || schema) {
    std::string text = help ? usage_text(spec, prog_name(spec, argc, argv)) : schema_text(spec);
    print(out, text);
    return std::fflush(out) == 0 && !std::ferror(out) ? kExitOk : kExitFailure;
  }

  CsvReader reader(in, stream);
  OutBuf ob(out);
  int64_t rows = 0;
  return process_csv(spec, reader, ob, allow_extra, stream,
                     [&](const InputError& e) {
                       print(err, error_text(e) + "\n");
                       if (stream) std::fflush(err);
                     },
                     &rows);
}

}  // namespace detail

struct LevelIndex::Impl {
  const ModelSpec& spec;
  detail::LevelSets sets;
  explicit Impl(const ModelSpec& s) : spec(s), sets(s) {}
};

static const ModelSpec& validated(const ModelSpec& spec) {
  std::string bad = detail::validate_spec(spec);
  if (!bad.empty()) throw std::invalid_argument("invalid model spec: " + bad);
  return spec;
}

LevelIndex::LevelIndex(const ModelSpec& spec) : impl_(new Impl(validated(spec))) {}

LevelIndex::~LevelIndex() { delete impl_; }

bool LevelIndex::allows(int column, const char* value, std::size_t len) const noexcept {
  if (column < 0 || column >= impl_->spec.num_input_columns) return true;
  return impl_->sets.allows(column, std::string_view(value, value ? len : 0));
}

void LevelIndex::check(const void* const* inputs, int64_t n) const {
  if (n <= 0 || impl_->sets.closed.empty()) return;
  if (inputs == nullptr) throw std::invalid_argument("no input buffers");
  const ModelSpec& spec = impl_->spec;
  for (const detail::LevelSets::Closed& cl : impl_->sets.closed) {
    const ColumnSpec& c = spec.input_columns[cl.column];
    const int64_t row_size = spec.inputs[c.tensor].row_size;
    const std::string* s = static_cast<const std::string*>(inputs[c.tensor]);
    if (s == nullptr) throw std::invalid_argument(std::string("input \"") + spec.inputs[c.tensor].name + "\" is null");
    for (int64_t r = 0; r < n; ++r) {
      const std::string& v = s[r * row_size + c.offset];
      if (!v.empty() && cl.levels.count(std::string_view(v)) == 0)
        throw std::invalid_argument(detail::unknown_level_text(c, v.data(), v.size()));
    }
  }
}

std::string error_text(const InputError& e) {
  std::string s = "error: ";
  if (e.header) {
    s += "line " + std::to_string(e.line) + " (header): ";
  } else if (e.row > 0) {
    s += "row " + std::to_string(e.row);
    if (e.line > 0) s += " (line " + std::to_string(e.line) + ")";
    s += e.column.empty() ? ": " : ", ";
  }
  return s + e.message;
}

std::vector<InputError> bind_columns(const ModelSpec& spec, const std::vector<std::string>& names, bool allow_extra,
                                     std::vector<int>& input_column) {
  return detail::bind(spec, names, allow_extra, input_column);
}

std::string unknown_columns_message(const std::vector<std::string>& names) { return detail::unknown_message(names); }

std::string csv_output_header(const ModelSpec& spec) { return detail::output_header(spec); }

struct RowBlock::Impl {
  const ModelSpec& spec;
  detail::BlockBuffers bufs;
  detail::LevelSets levels;
  int64_t capacity;
  Impl(const ModelSpec& s, int64_t cap) : spec(s), bufs(s, cap), levels(s), capacity(cap) {}
};

RowBlock::RowBlock(const ModelSpec& spec, int64_t capacity)
    : impl_(new Impl(validated(spec), capacity > 0 ? capacity : detail::block_rows(spec))) {}

RowBlock::~RowBlock() { delete impl_; }

int64_t RowBlock::capacity() const { return impl_->capacity; }

int64_t RowBlock::max_rows(const ModelSpec& spec) { return detail::block_rows(spec); }

bool RowBlock::set(int64_t r, int column, const char* text, std::size_t len, std::string* error) {
  const detail::FieldStatus st = detail::set_field(impl_->spec, impl_->levels, impl_->bufs.ins, r, column, text, len);
  if (st == detail::FieldStatus::Ok) return true;
  if (error) *error = detail::field_error(impl_->spec, column, st, text, len);
  return false;
}

void RowBlock::run(int64_t n) { impl_->spec.run(impl_->bufs.in_ptrs.data(), impl_->bufs.out_ptrs.data(), n); }

DType RowBlock::output_type(int k) const {
  return impl_->spec.outputs[impl_->spec.output_columns[k].tensor].dtype;
}

namespace {
size_t out_index(const ModelSpec& spec, const std::vector<detail::TensorBuf>& outs, int64_t r, int k) {
  const ColumnSpec& c = spec.output_columns[k];
  return static_cast<size_t>(r * outs[static_cast<size_t>(c.tensor)].row_size + c.offset);
}
}  // namespace

double RowBlock::output_real(int64_t r, int k) const {
  const detail::TensorBuf& t = impl_->bufs.outs[static_cast<size_t>(impl_->spec.output_columns[k].tensor)];
  const size_t i = out_index(impl_->spec, impl_->bufs.outs, r, k);
  switch (t.dtype) {
    case DType::F32: return static_cast<double>(t.f32[i]);
    case DType::F64: return t.f64[i];
    case DType::I64: return static_cast<double>(t.i64[i]);
    case DType::STR: break;
  }
  return std::numeric_limits<double>::quiet_NaN();
}

int64_t RowBlock::output_int(int64_t r, int k) const {
  const detail::TensorBuf& t = impl_->bufs.outs[static_cast<size_t>(impl_->spec.output_columns[k].tensor)];
  return t.dtype == DType::I64 ? t.i64[out_index(impl_->spec, impl_->bufs.outs, r, k)] : 0;
}

const std::string& RowBlock::output_string(int64_t r, int k) const {
  static const std::string kEmpty;
  const detail::TensorBuf& t = impl_->bufs.outs[static_cast<size_t>(impl_->spec.output_columns[k].tensor)];
  return t.dtype == DType::STR ? t.str[out_index(impl_->spec, impl_->bufs.outs, r, k)] : kEmpty;
}

void RowBlock::append_csv_row(std::string& out, int64_t r) const {
  detail::append_output_row(out, impl_->spec, impl_->bufs.outs, r);
}

int csv_text(const ModelSpec& spec, const char* data, std::size_t size, bool allow_extra, std::string& out,
             InputError& error, int64_t* rows) {
  validated(spec);
  detail::CsvReader reader(data, size);
  detail::OutBuf ob(nullptr);
  bool first = true;
  int64_t n = 0;
  const int code = detail::process_csv(spec, reader, ob, allow_extra, false,
                                       [&](const InputError& e) {
                                         if (first) error = e;
                                         first = false;
                                       },
                                       &n);
  if (rows) *rows = n;
  if (code == kExitOk) out.swap(ob.buf);
  return code;
}

bool read_csv_records(const char* data, std::size_t size, std::vector<std::vector<std::string>>& records) {
  detail::CsvReader reader(data, size);
  detail::Record rec;
  std::string err;
  records.clear();
  for (;;) {
    const detail::ReadStatus st = reader.next(rec, err);
    if (st == detail::ReadStatus::Eof) return true;
    if (st == detail::ReadStatus::Error) return false;
    records.emplace_back();
    for (size_t j = 0; j < rec.size(); ++j) records.back().emplace_back(rec.field(j), rec.len(j));
  }
}

int csv_main(const ModelSpec& spec, int argc, char** argv, std::FILE* in, std::FILE* out,
                    std::FILE* err) {
  try {
    return detail::run_program(spec, argc, argv, in, out, err);
  } catch (const std::bad_alloc&) {
    std::fputs("error: out of memory\n", err);
  } catch (const std::exception& e) {
    std::fprintf(err, "error: model evaluation failed: %s\n", e.what());
  } catch (...) {
    std::fputs("error: model evaluation failed\n", err);
  }
  std::fflush(out);
  return kExitFailure;
}

int csv_main(const ModelSpec& spec, int argc, char** argv) {
#if defined(_WIN32)
  _setmode(_fileno(stdin), _O_BINARY);
  _setmode(_fileno(stdout), _O_BINARY);
#endif
  return csv_main(spec, argc, argv, stdin, stdout, stderr);
}

namespace detail {

// predict_float_rows and predict_double_rows: rows of `Real` in input-column order to rows of
// `Real` in output-column order. Values reach float32 tensors narrowed (round to nearest even),
// float64 tensors widened or as they are; outputs are converted to Real.
template <typename Real>
int predict_rows(const ModelSpec& spec, const Real* x, int64_t n_rows, Real* y) noexcept {
  constexpr DType kSame = sizeof(Real) == sizeof(float) ? DType::F32 : DType::F64;
  if (n_rows < 0) return kPredictBadArguments;
  if (n_rows > 0 && (x == nullptr || y == nullptr)) return kPredictBadArguments;
  if (spec.run == nullptr || spec.num_inputs < 0 || spec.num_outputs < 0 || spec.num_input_columns < 0 ||
      spec.num_output_columns < 0)
    return kPredictUnsupported;
  for (int i = 0; i < spec.num_inputs; ++i)
    if (spec.inputs[i].dtype == DType::STR || !valid_dtype(spec.inputs[i].dtype)) return kPredictUnsupported;
  for (int i = 0; i < spec.num_outputs; ++i)
    if (spec.outputs[i].dtype == DType::STR || !valid_dtype(spec.outputs[i].dtype)) return kPredictUnsupported;
  for (int k = 0; k < spec.num_input_columns; ++k) {
    const ColumnSpec& c = spec.input_columns[k];
    if (c.tensor < 0 || c.tensor >= spec.num_inputs || c.offset < 0 || c.offset >= spec.inputs[c.tensor].row_size)
      return kPredictUnsupported;
  }
  for (int k = 0; k < spec.num_output_columns; ++k) {
    const ColumnSpec& c = spec.output_columns[k];
    if (c.tensor < 0 || c.tensor >= spec.num_outputs || c.offset < 0 || c.offset >= spec.outputs[c.tensor].row_size)
      return kPredictUnsupported;
  }
  if (n_rows == 0) return kPredictOk;
  const int64_t nin = spec.num_input_columns;
  const int64_t nout = spec.num_output_columns;
  try {
    // Fast path: one input and one output of type Real whose columns are laid out in order.
    auto identity = [](const ColumnSpec* cols, int64_t n, const TensorSpec& t) {
      if (t.dtype != kSame || t.row_size != n) return false;
      for (int64_t k = 0; k < n; ++k)
        if (cols[k].tensor != 0 || cols[k].offset != k) return false;
      return true;
    };
    if (spec.num_inputs == 1 && spec.num_outputs == 1 && identity(spec.input_columns, nin, spec.inputs[0]) &&
        identity(spec.output_columns, nout, spec.outputs[0])) {
      const void* in_ptrs[1] = {x};
      void* out_ptrs[1] = {y};
      spec.run(in_ptrs, out_ptrs, n_rows);
      return kPredictOk;
    }

    const int64_t most = block_rows(spec);
    const int64_t block = n_rows < most ? n_rows : most;
    BlockBuffers bufs(spec, block);
    std::vector<TensorBuf>& ins = bufs.ins;
    std::vector<TensorBuf>& outs = bufs.outs;
    for (int64_t r0 = 0; r0 < n_rows; r0 += block) {
      const int64_t n = (n_rows - r0 < block) ? n_rows - r0 : block;
      for (int64_t r = 0; r < n; ++r) {
        const Real* xr = x + (r0 + r) * nin;
        for (int64_t k = 0; k < nin; ++k) {
          const ColumnSpec& c = spec.input_columns[k];
          TensorBuf& t = ins[static_cast<size_t>(c.tensor)];
          size_t idx = static_cast<size_t>(r * t.row_size + c.offset);
          const Real v = xr[k];
          switch (t.dtype) {
            case DType::F32: t.f32[idx] = static_cast<float>(v); break;
            case DType::F64: t.f64[idx] = static_cast<double>(v); break;
            case DType::I64:
              // Every value in [-2^63, 2^63) that is an integer converts exactly.
              if (!(v >= static_cast<Real>(-9223372036854775808.0) && v < static_cast<Real>(9223372036854775808.0)) ||
                  std::trunc(v) != v)
                return kPredictBadValue;
              t.i64[idx] = static_cast<int64_t>(v);
              break;
            case DType::STR: return kPredictUnsupported;
          }
        }
      }
      spec.run(bufs.in_ptrs.data(), bufs.out_ptrs.data(), n);
      for (int64_t r = 0; r < n; ++r) {
        Real* yr = y + (r0 + r) * nout;
        for (int64_t k = 0; k < nout; ++k) {
          const ColumnSpec& c = spec.output_columns[k];
          const TensorBuf& t = outs[static_cast<size_t>(c.tensor)];
          size_t idx = static_cast<size_t>(r * t.row_size + c.offset);
          switch (t.dtype) {
            case DType::F32: yr[k] = static_cast<Real>(t.f32[idx]); break;
            case DType::F64: yr[k] = static_cast<Real>(t.f64[idx]); break;
            case DType::I64: yr[k] = static_cast<Real>(t.i64[idx]); break;
            case DType::STR: return kPredictUnsupported;
          }
        }
      }
    }
    return kPredictOk;
  } catch (const std::exception& e) {
    set_last_error(e.what());
    return kPredictModelError;
  } catch (...) {
    set_last_error("the model failed (an exception that is not a std::exception)");
    return kPredictModelError;
  }
}

thread_local std::string t_last_error;

}  // namespace detail

int predict_result(int code) noexcept {
  switch (code) {
    case kPredictOk: set_last_error(""); break;
    case kPredictBadArguments: set_last_error("bad arguments: x or y is null, or n_rows is negative"); break;
    case kPredictUnsupported:
      set_last_error("the model has string columns or outputs, which rows of numbers cannot carry: use the C++ "
                     "Model::predict with typed tensors");
      break;
    case kPredictBadValue: set_last_error("a value for an integer input column is not an integer"); break;
    default: break;
  }
  return code;
}

int predict_float_rows(const ModelSpec& spec, const float* x, int64_t n_rows, float* y) noexcept {
  return detail::predict_rows<float>(spec, x, n_rows, y);
}

int predict_double_rows(const ModelSpec& spec, const double* x, int64_t n_rows, double* y) noexcept {
  return detail::predict_rows<double>(spec, x, n_rows, y);
}

const char* last_error() noexcept { return detail::t_last_error.c_str(); }

void set_last_error(const char* message) noexcept {
  try {
    detail::t_last_error = message;
  } catch (...) {  // out of memory: keep what was there
  }
}

}  // namespace modelport
