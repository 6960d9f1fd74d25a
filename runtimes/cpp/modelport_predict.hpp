// modelport_predict.hpp: POST /predict of the HTTP server without the HTTP: a request body (JSON
// rows or columns, or CSV) to its answer, with the checks and messages of the Java server
// (modelport/runtime/Server.java, its JsonRequest and Answer), so that both servers answer the
// same bytes the same way. Values are read as the CSV program reads its fields (RowBlock): a
// JSON number or string becomes the text of a CSV field.
#ifndef MODELPORT_PREDICT_HPP
#define MODELPORT_PREDICT_HPP

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <cmath>
#include <cstdlib>
#include <deque>
#include <memory>
#include <new>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "modelport_json.hpp"
#include "modelport_runtime.hpp"

namespace modelport {
namespace serve {

enum class Form { Csv, Rows, Columns };

// A refused request: its status and the error object's fields.
struct Refusal {
  int code = 400;
  std::string message;
  int64_t row = 0;  // 1-based; 0 is null
  bool has_column = false;
  std::string column;

  static Refusal of(int code, std::string message, int64_t row = 0) {
    Refusal r;
    r.code = code;
    r.message = std::move(message);
    r.row = row;
    return r;
  }
  static Refusal at(std::string message, int64_t row, std::string column) {
    Refusal r = of(400, std::move(message), row);
    r.has_column = true;
    r.column = std::move(column);
    return r;
  }
  // {"error": ..., "row": ..., "column": ...}
  std::string json() const {
    std::string s = "{\"error\":";
    json::append_string(s, message);
    s += ",\"row\":" + (row > 0 ? std::to_string(row) : std::string("null")) + ",\"column\":";
    if (has_column) json::append_string(s, column);
    else s += "null";
    return s + "}";
  }
};

// Rows of field texts (as CSV fields: "" is a missing value) under the column names `header`.
struct Table {
  std::vector<std::string> header;
  std::vector<const std::string*> fields;  // row-major, header.size() a row
  std::deque<std::string> owned;           // texts the fields point to, when not elsewhere
  int64_t rows() const { return header.empty() ? 0 : static_cast<int64_t>(fields.size() / header.size()); }
  const std::string& field(int64_t r, size_t j) const { return *fields[static_cast<size_t>(r) * header.size() + j]; }
};

inline const std::string& empty_text() {
  static const std::string s;
  return s;
}

// Output column k of row r of a block as a JSON value (NaN and infinities as null).
inline void append_output(std::string& s, const RowBlock& b, int64_t r, int k) {
  switch (b.output_type(k)) {
    case DType::F32:
    case DType::F64: json::append_double(s, b.output_real(r, k)); return;
    case DType::I64: s += std::to_string(b.output_int(r, k)); return;
    case DType::STR: json::append_string(s, b.output_string(r, k)); return;
  }
}

// Scores the rows of `t` with the CSV program's checks (CsvProgram.scoreRows): the column set
// first, then row by row in the header's order, in blocks; stops at the first bad row.
// sink.begin() once before the first block, sink.block(b, n) after each. Returns false with
// `error` set for bad input; exceptions of the model propagate.
template <class Sink>
bool score_rows(const ModelSpec& spec, const Table& t, bool allow_extra, Sink& sink, Refusal& error) {
  std::vector<int> col_of_field;
  const std::vector<InputError> bad = bind_columns(spec, t.header, allow_extra, col_of_field);
  if (!bad.empty()) {
    error = Refusal::of(400, bad[0].message);
    error.has_column = true;
    error.column = bad[0].column;
    return false;
  }
  const int64_t n = t.rows();
  RowBlock block(spec, std::max<int64_t>(1, std::min(n, RowBlock::max_rows(spec))));
  sink.begin();
  const size_t width = t.header.size();
  int64_t filled = 0;
  std::string message;
  for (int64_t r = 0; r < n; ++r) {
    for (size_t j = 0; j < width; ++j) {
      const int k = col_of_field[j];
      if (k < 0) continue;
      const std::string& text = t.field(r, j);
      if (!block.set(filled, k, text.c_str(), text.size(), &message)) {
        error = Refusal::at("row " + std::to_string(r + 1) + ", " + message, r + 1,
                            spec.input_columns[k].name);
        return false;
      }
    }
    if (++filled == block.capacity()) {
      block.run(filled);
      sink.block(block, filled);
      filled = 0;
    }
  }
  if (filled > 0) {
    block.run(filled);
    sink.block(block, filled);
  }
  return true;
}

// A JSON /predict body read into a Table (JsonRequest.read of the Java server).
class JsonRequest {
 public:
  Form form = Form::Rows;
  json::Value doc;
  Table table;
  const json::Value* source = nullptr;  // the rows array or the columns object

  static constexpr const char* kShape =
      "the request must be a JSON object with \"rows\" (an array of objects) or \"columns\" (an object of "
      "arrays)";

  // Reads `text` (java_utf8's UTF-8); `spec` names the columns a row may leave out. Throws
  // Refusal.
  void read(std::string_view text, const ModelSpec& spec) {
    try {
      json::parse(text, doc);
    } catch (const json::ParseError& e) {
      throw Refusal::of(400, e.message);
    }
    if (doc.kind != json::Value::Object) throw Refusal::of(400, kShape);
    const json::Value* rows = nullptr;
    const json::Value* columns = nullptr;
    for (size_t i = 0; i < doc.names.size(); ++i) {
      const std::string& key = doc.names[i];
      if (key != "rows" && key != "columns")
        throw Refusal::of(400, "unknown key " + json::quote(key) + " in the request (expected \"rows\" or \"columns\")");
      if (std::find(doc.names.begin(), doc.names.end(), key) - doc.names.begin() != static_cast<long>(i))
        throw Refusal::of(400, "duplicate key " + json::quote(key) + " in the request");
      (key == "rows" ? rows : columns) = &doc.items[i];
    }
    if ((rows == nullptr) == (columns == nullptr)) throw Refusal::of(400, kShape);
    if (rows) read_rows(*rows, spec);
    else read_columns(*columns);
  }

  // Row i of the request as a JSON object (for the log).
  std::string row_json(int64_t i) const {
    std::string s;
    if (form == Form::Rows) {
      json::append_value(s, source->items[static_cast<size_t>(i)]);
      return s;
    }
    s += '{';
    for (size_t j = 0; j < source->items.size(); ++j) {
      if (j) s += ',';
      json::append_string(s, source->names[j]);
      s += ':';
      json::append_value(s, source->items[j].items[static_cast<size_t>(i)]);
    }
    return s + "}";
  }

  // The request's rows as a JSON array of objects (for the log).
  std::string row_form() const {
    if (form == Form::Rows) {
      std::string s;
      json::append_value(s, *source);
      return s;
    }
    std::string s = "[";
    const int64_t n = table.rows();
    for (int64_t i = 0; i < n; ++i) s += (i ? "," : "") + row_json(i);
    return s + "]";
  }

 private:
  // A JSON value as the CSV field it stands for: a number's text as written, a string's text,
  // "" for null; true and false as words (which no number column reads).
  static const std::string* text(const json::Value& v, int64_t row, const std::string& column) {
    static const std::string kTrue = "true", kFalse = "false";
    switch (v.kind) {
      case json::Value::Null: return &empty_text();
      case json::Value::True: return &kTrue;
      case json::Value::False: return &kFalse;
      case json::Value::Number:
      case json::Value::String: return &v.text;
      default:
        throw Refusal::at("row " + std::to_string(row) + ", column \"" + column + "\": expected a number, a string or null",
                          row, column);
    }
  }

  // Row form: a name that a row leaves out is a missing value in that row, and so is, in every
  // row, an input column that no row names.
  void read_rows(const json::Value& value, const ModelSpec& spec) {
    form = Form::Rows;
    source = &value;
    if (value.kind != json::Value::Array) throw Refusal::of(400, "\"rows\" must be an array of objects");
    std::unordered_map<std::string, size_t> index;
    std::vector<std::string>& names = table.header;
    for (int k = 0; k < spec.num_input_columns; ++k)
      if (index.emplace(spec.input_columns[k].name, names.size()).second) names.emplace_back(spec.input_columns[k].name);
    const size_t n = value.items.size();
    for (size_t i = 0; i < n; ++i) {
      const json::Value& row = value.items[i];
      if (row.kind != json::Value::Object)
        throw Refusal::of(400, "row " + std::to_string(i + 1) + ": expected an object", static_cast<int64_t>(i + 1));
      for (const std::string& name : row.names)
        if (index.emplace(name, names.size()).second) names.push_back(name);
    }
    const size_t width = names.size();
    table.fields.assign(n * width, &empty_text());
    std::vector<char> set(width);
    for (size_t i = 0; i < n; ++i) {
      const json::Value& row = value.items[i];
      std::fill(set.begin(), set.end(), 0);
      for (size_t m = 0; m < row.names.size(); ++m) {
        const std::string& name = row.names[m];
        const size_t j = index[name];
        if (set[j])
          throw Refusal::at("row " + std::to_string(i + 1) + ": duplicate column name \"" + name + "\"",
                            static_cast<int64_t>(i + 1), name);
        set[j] = 1;
        table.fields[i * width + j] = text(row.items[m], static_cast<int64_t>(i + 1), name);
      }
    }
  }

  void read_columns(const json::Value& value) {
    form = Form::Columns;
    source = &value;
    if (value.kind != json::Value::Object) throw Refusal::of(400, "\"columns\" must be an object of arrays");
    table.header = value.names;
    const std::vector<std::string>& h = table.header;
    int64_t n = -1;
    for (size_t j = 0; j < h.size(); ++j) {
      const json::Value& v = value.items[j];
      if (v.kind != json::Value::Array) {
        Refusal r = Refusal::at("column \"" + h[j] + "\": expected an array of values", 0, h[j]);
        throw r;
      }
      const int64_t size = static_cast<int64_t>(v.items.size());
      if (n < 0) n = size;
      else if (size != n)
        throw Refusal::at("column \"" + h[j] + "\" has " + std::to_string(size) + " values, column \"" + h[0] +
                              "\" has " + std::to_string(n),
                          0, h[j]);
    }
    n = std::max<int64_t>(n, 0);
    table.fields.resize(static_cast<size_t>(n) * h.size());
    for (int64_t i = 0; i < n; ++i)
      for (size_t j = 0; j < h.size(); ++j)
        table.fields[static_cast<size_t>(i) * h.size() + j] = text(value.items[j].items[static_cast<size_t>(i)], i + 1, h[j]);
  }
};

// The answer of a JSON request in its form, and the outputs in row form for the log.
class JsonAnswer {
 public:
  JsonAnswer(const std::vector<std::string>& names, Form form, bool logged)
      : names_(names), form_(form), logged_(logged) {}

  int64_t rows = 0;
  std::string logged_outputs = "[";

  void begin() {
    if (form_ == Form::Rows) body_ = "{\"rows\":[";
    else columns_.assign(names_.size(), std::string());
  }
  void block(const RowBlock& b, int64_t n) {
    const int nout = static_cast<int>(names_.size());
    for (int64_t r = 0; r < n; ++r) {
      const int64_t i = rows + r;
      if (form_ == Form::Rows) {
        if (i > 0) body_ += ',';
        append_row(body_, b, r);
      } else {
        for (int k = 0; k < nout; ++k) {
          if (i > 0) columns_[static_cast<size_t>(k)] += ',';
          append_output(columns_[static_cast<size_t>(k)], b, r, k);
        }
      }
      if (logged_) {
        if (i > 0) logged_outputs += ',';
        append_row(logged_outputs, b, r);
      }
    }
    rows += n;
  }
  std::string body() {
    if (form_ == Form::Rows) return body_ + "]}";
    std::string s = "{\"columns\":{";
    for (size_t k = 0; k < names_.size(); ++k) {
      if (k) s += ',';
      s += names_[k] + ":[" + (columns_.empty() ? std::string() : columns_[k]) + "]";
    }
    return s + "}}";
  }

 private:
  void append_row(std::string& s, const RowBlock& b, int64_t r) const {
    s += '{';
    for (size_t k = 0; k < names_.size(); ++k) {
      if (k) s += ',';
      s += names_[k];
      s += ':';
      append_output(s, b, r, static_cast<int>(k));
    }
    s += '}';
  }

  const std::vector<std::string>& names_;  // output column names as JSON strings
  Form form_;
  bool logged_;
  std::string body_;
  std::vector<std::string> columns_;
};

// ---------------------------------------------------------------------------------------------
// CSV bodies: the CSV program's answer (csv_text), and the request's rows for the log
// ---------------------------------------------------------------------------------------------

inline bool is_blank(char c) { return c == ' ' || c == '\t'; }

// Decimal number syntax (CsvProgram.isDecimal): [+-] (digits [. digits*] | . digits) [(e|E) [+-] digits]
inline bool is_decimal(const std::string& s) {
  size_t p = 0;
  const size_t n = s.size();
  if (p < n && (s[p] == '+' || s[p] == '-')) ++p;
  bool digits = false;
  while (p < n && s[p] >= '0' && s[p] <= '9') ++p, digits = true;
  if (p < n && s[p] == '.') {
    ++p;
    while (p < n && s[p] >= '0' && s[p] <= '9') ++p, digits = true;
  }
  if (!digits) return false;
  if (p < n && (s[p] == 'e' || s[p] == 'E')) {
    ++p;
    if (p < n && (s[p] == '+' || s[p] == '-')) ++p;
    bool exp = false;
    while (p < n && s[p] >= '0' && s[p] <= '9') ++p, exp = true;
    if (!exp) return false;
  }
  return p == n;
}

// Java's CsvProgram.parseReal on a field (double): false when the text is no number.
inline bool parse_number(const std::string& raw, double& out) {
  size_t b = 0, e = raw.size();
  while (b < e && is_blank(raw[b])) ++b;
  while (e > b && is_blank(raw[e - 1])) --e;
  std::string s = raw.substr(b, e - b);
  std::string word = s;
  bool neg = false;
  if (!s.empty() && (s[0] == '+' || s[0] == '-')) {
    neg = s[0] == '-';
    word = s.substr(1);
  }
  std::string lower = word;
  for (char& c : lower) c = static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
  if (s.empty() || lower == "nan") {
    out = std::nan("");
    return true;
  }
  if (lower == "inf" || lower == "infinity") {
    out = neg ? -HUGE_VAL : HUGE_VAL;
    return true;
  }
  if (!is_decimal(s)) return false;
  out = std::strtod(s.c_str(), nullptr);
  return true;
}

// A CSV field in the log: a number for a number column when it reads as one (null when
// missing), else the text (Server.Answer.appendLoggedValue).
inline void append_logged_field(std::string& s, const ModelSpec& spec, int column, const std::string& text) {
  double d = 0;
  if (column >= 0 && spec.inputs[spec.input_columns[column].tensor].dtype != DType::STR && parse_number(text, d)) {
    if (std::isnan(d)) {
      s += "null";
      return;
    }
    if (std::isfinite(d)) {
      json::append_java_double(s, d);
      return;
    }
  }
  json::append_string(s, text);
}

// The CSV program's output line (fields of the output columns) as a JSON row for the log.
inline void append_csv_output_row(std::string& s, const ModelSpec& spec, const std::vector<std::string>& names,
                                  const std::vector<std::string>& fields) {
  s += '{';
  for (int k = 0; k < spec.num_output_columns && k < static_cast<int>(fields.size()); ++k) {
    if (k) s += ',';
    s += names[static_cast<size_t>(k)] + ":";
    const std::string& f = fields[static_cast<size_t>(k)];
    switch (spec.outputs[spec.output_columns[k].tensor].dtype) {
      case DType::STR: json::append_string(s, f); break;
      case DType::I64: s += f; break;
      case DType::F32: {
        double d = 0;
        json::append_double(s, parse_number(f, d) ? static_cast<double>(static_cast<float>(d)) : std::nan(""));
        break;
      }
      case DType::F64: {
        double d = 0;
        json::append_double(s, parse_number(f, d) ? d : std::nan(""));
        break;
      }
    }
  }
  s += '}';
}

// One output value of one row.
struct OutputCell {
  DType type = DType::F64;
  double real = 0;  // F32 (widened), F64, I64
  int64_t integer = 0;
  std::string text;  // STR
};

// Collects the outputs of score_rows as cells, row by row.
struct CellSink {
  int width = 0;
  std::vector<OutputCell> cells;
  void begin() {}
  void block(const RowBlock& b, int64_t n) {
    for (int64_t r = 0; r < n; ++r)
      for (int k = 0; k < width; ++k) {
        OutputCell c;
        c.type = b.output_type(k);
        if (c.type == DType::STR) {
          c.text = b.output_string(r, k);
        } else if (c.type == DType::I64) {
          c.integer = b.output_int(r, k);
          c.real = static_cast<double>(c.integer);
        } else {
          c.real = b.output_real(r, k);
        }
        cells.push_back(std::move(c));
      }
  }
};

// The JSON answer and, for a shadow, the cells.
struct AnswerAndCells {
  JsonAnswer& answer;
  CellSink* cells;
  void begin() { answer.begin(); }
  void block(const RowBlock& b, int64_t n) {
    answer.block(b, n);
    if (cells) cells->block(b, n);
  }
};

// The CSV program's answer as cells (its numbers read back exactly: 9 and 17 digits round-trip).
inline std::vector<OutputCell> csv_cells(const ModelSpec& spec, const std::string& answer) {
  std::vector<std::vector<std::string>> records;
  read_csv_records(answer.data(), answer.size(), records);
  std::vector<OutputCell> cells;
  for (size_t i = 1; i < records.size(); ++i)
    for (int k = 0; k < spec.num_output_columns; ++k) {
      const std::string& f = k < static_cast<int>(records[i].size()) ? records[i][static_cast<size_t>(k)] : empty_text();
      OutputCell c;
      c.type = spec.outputs[spec.output_columns[k].tensor].dtype;
      double d = 0;
      if (c.type == DType::STR) {
        c.text = f;
      } else if (c.type == DType::I64) {
        c.integer = std::strtoll(f.c_str(), nullptr, 10);
        c.real = static_cast<double>(c.integer);
      } else {
        c.real = parse_number(f, d) ? (c.type == DType::F32 ? static_cast<double>(static_cast<float>(d)) : d)
                                    : std::nan("");
      }
      cells.push_back(std::move(c));
    }
  return cells;
}

// The rows of a CSV text (header first) as a Table.
inline std::shared_ptr<Table> csv_table(const std::string& text) {
  auto t = std::make_shared<Table>();
  std::vector<std::vector<std::string>> records;
  read_csv_records(text.data(), text.size(), records);
  if (records.empty()) return t;
  t->header = records[0];
  if (t->header[0].compare(0, 3, "\xEF\xBB\xBF") == 0) t->header[0].erase(0, 3);
  for (size_t i = 1; i < records.size(); ++i)
    for (size_t j = 0; j < t->header.size(); ++j) {
      t->owned.push_back(j < records[i].size() ? std::move(records[i][j]) : std::string());
      t->fields.push_back(&t->owned.back());
    }
  return t;
}

// ---------------------------------------------------------------------------------------------
// A /predict request, from its body to its answer
// ---------------------------------------------------------------------------------------------

// The answer of /predict, and what the request log keeps of it.
struct Outcome {
  int code = 200;
  const char* type = "application/json";
  std::string body;
  int64_t scored = 0;   // rows answered
  int64_t rows = 0;     // rows of the request (the log's "rows")
  std::string inputs;   // the request's rows in row form (JSON), "" for null
  std::string outputs;  // the answer's rows in row form (JSON), "" for null
  std::string error;    // the error object (JSON), "" for null
  // Kept for a comparison with a shadow model (`keep`): the rows' field texts and the outputs
  // (output_columns a row).
  std::shared_ptr<JsonRequest> request;  // a JSON request
  std::shared_ptr<Table> csv_rows;       // a CSV one
  std::vector<OutputCell> cells;
};

class Predictor {
 public:
  Predictor(const ModelSpec& spec, bool allow_extra) : spec_(spec), allow_extra_(allow_extra) {
    for (int k = 0; k < spec.num_output_columns; ++k) names_.push_back(json::quote(spec.output_columns[k].name));
    for (int k = 0; k < spec.num_input_columns; ++k) by_name_.emplace(spec.input_columns[k].name, k);
  }
  const ModelSpec& spec() const { return spec_; }
  bool allow_extra() const { return allow_extra_; }
  // Output column names as JSON strings.
  const std::vector<std::string>& output_names() const { return names_; }

  // Answers `body` (a JSON request, or CSV) into `out`; `logged`: fill the log's fields;
  // `keep`: keep the rows and outputs (for a shadow).
  void predict(Form form, const std::string& body, bool logged, bool keep, Outcome& out) const {
    try {
      std::string fixed;
      const std::string& text = json::java_utf8(body.data(), body.size(), fixed) ? fixed : body;
      if (form == Form::Csv) csv(text, logged, keep, out);
      else json_request(text, logged, keep, out);
    } catch (const Refusal& r) {
      fail(out, r);
    } catch (const std::bad_alloc&) {
      fail(out, Refusal::of(500, "out of memory"));
    } catch (const std::exception& e) {
      fail(out, Refusal::of(500, std::string("model evaluation failed: ") + e.what()));
    } catch (...) {
      fail(out, Refusal::of(500, "model evaluation failed"));
    }
  }

  // Row r of a CSV request's table as the log writes it (numbers of number columns as numbers).
  std::string csv_row_json(const Table& t, int64_t r) const {
    std::string s = "{";
    for (size_t j = 0; j < t.header.size(); ++j) {
      if (j) s += ',';
      json::append_string(s, t.header[j]);
      s += ':';
      const auto it = by_name_.find(t.header[j]);
      append_logged_field(s, spec_, it == by_name_.end() ? -1 : it->second, t.field(r, j));
    }
    return s + "}";
  }

  // The log's rows of a CSV text (header's names, numbers as numbers): the first `rows` rows.
  std::string logged_csv_inputs(const std::string& text, int64_t rows) const {
    std::vector<std::vector<std::string>> records;
    read_csv_records(text.data(), text.size(), records);
    std::string s = "[";
    if (records.empty()) return s + "]";
    std::vector<std::string>& header = records[0];
    if (header[0].compare(0, 3, "\xEF\xBB\xBF") == 0) header[0].erase(0, 3);
    std::vector<int> column(header.size(), -1);
    for (size_t j = 0; j < header.size(); ++j) {
      const auto it = by_name_.find(header[j]);
      if (it != by_name_.end()) column[j] = it->second;
    }
    for (int64_t i = 1; i <= rows && i < static_cast<int64_t>(records.size()); ++i) {
      const std::vector<std::string>& rec = records[static_cast<size_t>(i)];
      if (i > 1) s += ',';
      s += '{';
      for (size_t j = 0; j < std::min(header.size(), rec.size()); ++j) {
        if (j) s += ',';
        json::append_string(s, header[j]);
        s += ':';
        append_logged_field(s, spec_, column[j], rec[j]);
      }
      s += '}';
    }
    return s + "]";
  }

 private:
  static void fail(Outcome& out, const Refusal& r) {
    out.code = r.code;
    out.type = "application/json";
    out.body = r.json();
    out.error = out.body;
    out.outputs.clear();
    out.scored = 0;
  }

  void json_request(const std::string& text, bool logged, bool keep, Outcome& out) const {
    auto request = std::make_shared<JsonRequest>();
    request->read(text, spec_);
    if (keep) out.request = request;
    out.rows = request->table.rows();
    if (logged) out.inputs = request->row_form();
    JsonAnswer answer(names_, request->form, logged);
    CellSink cells;
    cells.width = spec_.num_output_columns;
    AnswerAndCells sink{answer, keep ? &cells : nullptr};
    Refusal error;
    if (!score_rows(spec_, request->table, allow_extra_, sink, error)) throw error;
    if (keep) out.cells = std::move(cells.cells);
    out.body = answer.body();
    out.scored = answer.rows;
    if (logged) out.outputs = answer.logged_outputs + "]";
  }

  void csv(const std::string& text, bool logged, bool keep, Outcome& out) const {
    InputError e;
    int64_t n = 0;
    std::string answer;
    const int code = csv_text(spec_, text.data(), text.size(), allow_extra_, answer, e, &n);
    if (code == kExitOk) {
      out.rows = n;
    } else if (e.header || e.row == 0) {
      out.rows = 0;
    } else {
      // The rows read: a row with a quoting error is not one.
      const bool quoting = e.column.empty() && e.message.compare(0, 9, "expected ") != 0;
      out.rows = e.row - (quoting ? 1 : 0);
    }
    if (logged) out.inputs = logged_csv_inputs(text, out.rows);
    if (code != kExitOk) {
      Refusal r = Refusal::of(code == kExitBadInput ? 400 : 500, error_text(e).substr(std::strlen("error: ")), e.row);
      const bool names_column = e.header && (e.message.compare(0, 9, "duplicate") == 0 ||
                                             e.message.compare(0, 7, "missing") == 0 ||
                                             e.message.compare(0, 7, "unknown") == 0);
      r.has_column = !e.column.empty() || names_column;
      r.column = e.column;
      throw r;
    }
    out.type = "text/csv";
    out.scored = n;
    if (keep) {
      out.csv_rows = csv_table(text);
      out.cells = csv_cells(spec_, answer);
    }
    if (logged) {
      std::vector<std::vector<std::string>> records;
      read_csv_records(answer.data(), answer.size(), records);
      out.outputs = "[";
      for (size_t i = 1; i < records.size(); ++i) {
        if (i > 1) out.outputs += ',';
        append_csv_output_row(out.outputs, spec_, names_, records[i]);
      }
      out.outputs += "]";
    }
    out.body.swap(answer);
  }

  const ModelSpec& spec_;
  bool allow_extra_;
  std::vector<std::string> names_;
  std::unordered_map<std::string, int> by_name_;
};

}  // namespace serve
}  // namespace modelport

#endif  // MODELPORT_PREDICT_HPP
