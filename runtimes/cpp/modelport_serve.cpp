// modelport_serve.cpp: the HTTP server of a model's program (`<program> serve`), built into the
// plugin lib/libmodelport_serve.so that the program loads on `serve` (modelport_serve.hpp).
//
// HTTP: cpp-httplib; JSON: nlohmann/json. Values are read exactly as the CSV program reads its
// fields (modelport::RowBlock, csv_text): a JSON number or string becomes the text of a CSV field,
// so the server accepts what the CSV program accepts and answers a bad value with the CSV
// program's message. The API (shared with the Java runtime):
//   POST /predict   application/json {"rows": [{col: value}]} or {"columns": {col: [values]}},
//                   or text/csv (the CSV program's input and output)
//   GET /schema /health /ready /metrics (Prometheus text 0.0.4)
#include <httplib.h>

#include <nlohmann/json.hpp>

#include <pthread.h>
#include <signal.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <cerrno>
#include <cctype>
#include <cmath>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <exception>
#include <map>
#include <mutex>
#include <new>
#include <random>
#include <string>
#include <thread>
#include <unordered_map>
#include <utility>
#include <vector>

#include "modelport_runtime.hpp"
#include "modelport_serve.hpp"

namespace modelport {
namespace serve {
namespace {

using json = nlohmann::json;
using ojson = nlohmann::ordered_json;

constexpr std::size_t kDefaultMaxBody = std::size_t(16) << 20;  // 16 MiB
constexpr int kStopSeconds = 30;  // how long in-flight requests get after SIGTERM
// modelport_request_duration_seconds buckets (seconds); +Inf follows.
constexpr std::array<double, 12> kBuckets = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
                                             0.05,   0.1,   0.25,   0.5,   1,     2.5};
constexpr std::array<const char*, 12> kBucketText = {"0.0005", "0.001", "0.0025", "0.005", "0.01", "0.025",
                                                     "0.05",   "0.1",   "0.25",   "0.5",   "1",    "2.5"};
const char* const kPaths[] = {"/predict", "/schema", "/health", "/ready", "/metrics"};

std::string dump(const ojson& j) { return j.dump(-1, ' ', false, ojson::error_handler_t::replace); }
std::string dump(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }

// ---------------------------------------------------------------------------------------
// Options
// ---------------------------------------------------------------------------------------

struct Options {
  std::string host = "127.0.0.1";
  int port = 8080;
  int threads = 0;  // 0: the number of cores
  std::size_t max_body = kDefaultMaxBody;
  std::string log;
  double log_sample = 1.0;
  bool allow_extra = false;
};

std::string usage(const std::string& prog) {
  return "Usage: " + prog +
         " serve [--host HOST] [--port PORT] [--threads N] [--max-body BYTES]\n"
         "       [--log FILE] [--log-sample RATE] [--allow-extra-columns]\n\n"
         "Serves the model over HTTP:\n"
         "  POST /predict  JSON {\"rows\": [{column: value, ...}, ...]} or {\"columns\": {column: [...]}},\n"
         "                 or CSV (Content-Type: text/csv) as the program reads on standard input\n"
         "  GET  /schema   the model's columns and description (JSON)\n"
         "  GET  /health   liveness; GET /ready: readiness (503 while stopping)\n"
         "  GET  /metrics  Prometheus metrics\n\n"
         "Options:\n"
         "  --host HOST            address to listen on (default 127.0.0.1; 0.0.0.0 for all)\n"
         "  --port PORT            port (default 8080; 0 picks a free one)\n"
         "  --threads N            worker threads (default: the number of cores)\n"
         "  --max-body BYTES       largest request body (default 16777216); larger ones get 413\n"
         "  --log FILE             append one JSON line per /predict request to FILE\n"
         "  --log-sample RATE      log only this fraction of the requests (0 to 1, default 1)\n"
         "  --allow-extra-columns  ignore input columns that the model does not use\n"
         "  --help                 print this help and exit\n\n"
         "It prints \"serving NAME on http://HOST:PORT\" on standard error when it is listening,\n"
         "and stops on SIGTERM or SIGINT, after the requests in flight (up to 30 s): exit status 0.\n";
}

bool parse_uint(const std::string& s, unsigned long long most, unsigned long long& out) {
  if (s.empty() || s.size() > 19) return false;
  for (char c : s)
    if (c < '0' || c > '9') return false;
  out = std::strtoull(s.c_str(), nullptr, 10);
  return out <= most;
}

// Returns -1 when the options are fine, else the exit status (help: 0, bad option: 2).
int parse_options(int argc, char** argv, const std::string& prog, Options& o) {
  auto bad = [&](const std::string& msg) {
    std::fprintf(stderr, "error: %s\nUsage: %s serve [--host HOST] [--port PORT] [--threads N] [--max-body BYTES] "
                         "[--log FILE] [--log-sample RATE] [--allow-extra-columns]\nRun '%s serve --help' for details.\n",
                 msg.c_str(), prog.c_str(), prog.c_str());
    return kExitBadInput;
  };
  for (int i = 2; i < argc; ++i) {
    std::string a = argv[i] ? argv[i] : "";
    if (a == "--help" || a == "-h") {
      std::fputs(usage(prog).c_str(), stdout);
      return kExitOk;
    }
    if (a == "--allow-extra-columns") {
      o.allow_extra = true;
      continue;
    }
    std::string value;
    const size_t eq = a.find('=');
    std::string name = a.substr(0, eq);
    const bool takes = name == "--host" || name == "--port" || name == "--threads" || name == "--max-body" ||
                       name == "--log" || name == "--log-sample";
    if (!takes) {
      if (!a.empty() && a[0] == '-') return bad("unknown option \"" + a + "\"");
      return bad("unexpected argument \"" + a + "\"");
    }
    if (eq != std::string::npos) {
      value = a.substr(eq + 1);
    } else {
      if (i + 1 >= argc || argv[i + 1] == nullptr) return bad("option " + name + " needs a value");
      value = argv[++i];
    }
    unsigned long long u = 0;
    if (name == "--host") {
      if (value.empty()) return bad("--host needs an address");
      o.host = value;
    } else if (name == "--port") {
      if (!parse_uint(value, 65535, u)) return bad("--port takes a port number from 0 to 65535, not \"" + value + "\"");
      o.port = static_cast<int>(u);
    } else if (name == "--threads") {
      if (!parse_uint(value, 4096, u) || u == 0) return bad("--threads takes a number from 1 to 4096, not \"" + value + "\"");
      o.threads = static_cast<int>(u);
    } else if (name == "--max-body") {
      if (!parse_uint(value, ~0ULL >> 1, u) || u == 0) return bad("--max-body takes a positive number of bytes, not \"" + value + "\"");
      o.max_body = static_cast<std::size_t>(u);
    } else if (name == "--log") {
      if (value.empty()) return bad("--log needs a file name");
      o.log = value;
    } else {
      char* end = nullptr;
      const double r = std::strtod(value.c_str(), &end);
      if (value.empty() || end != value.c_str() + value.size() || !(r >= 0.0 && r <= 1.0))
        return bad("--log-sample takes a rate from 0 to 1, not \"" + value + "\"");
      o.log_sample = r;
    }
  }
  return -1;
}

// ---------------------------------------------------------------------------------------
// Metrics
// ---------------------------------------------------------------------------------------

class Metrics {
 public:
  void response(const std::string& path, int code) {
    std::lock_guard<std::mutex> lock(mu_);
    ++requests_[{path, code}];
    if (code >= 400) ++errors_;
  }
  void predicted(double seconds, int64_t rows) {
    std::lock_guard<std::mutex> lock(mu_);
    rows_ += static_cast<uint64_t>(rows > 0 ? rows : 0);
    for (size_t i = 0; i < kBuckets.size(); ++i)
      if (seconds <= kBuckets[i]) ++buckets_[i];
    ++count_;
    sum_ += seconds;
  }
  std::string text() {
    std::lock_guard<std::mutex> lock(mu_);
    std::string s;
    s += "# HELP modelport_requests_total HTTP requests answered, by path and status code.\n";
    s += "# TYPE modelport_requests_total counter\n";
    for (const auto& kv : requests_)
      s += "modelport_requests_total{path=\"" + kv.first.first + "\",code=\"" + std::to_string(kv.first.second) +
           "\"} " + std::to_string(kv.second) + "\n";
    s += "# HELP modelport_errors_total HTTP requests answered with an error (status 400 or more).\n";
    s += "# TYPE modelport_errors_total counter\n";
    s += "modelport_errors_total " + std::to_string(errors_) + "\n";
    s += "# HELP modelport_rows_scored_total Rows the model answered in /predict requests.\n";
    s += "# TYPE modelport_rows_scored_total counter\n";
    s += "modelport_rows_scored_total " + std::to_string(rows_) + "\n";
    s += "# HELP modelport_request_duration_seconds Time to answer a /predict request (reading the body excluded).\n";
    s += "# TYPE modelport_request_duration_seconds histogram\n";
    for (size_t i = 0; i < kBuckets.size(); ++i)
      s += std::string("modelport_request_duration_seconds_bucket{le=\"") + kBucketText[i] + "\"} " +
           std::to_string(buckets_[i]) + "\n";
    s += "modelport_request_duration_seconds_bucket{le=\"+Inf\"} " + std::to_string(count_) + "\n";
    char sum[64];
    std::snprintf(sum, sizeof sum, "%.17g", sum_);
    s += std::string("modelport_request_duration_seconds_sum ") + sum + "\n";
    s += "modelport_request_duration_seconds_count " + std::to_string(count_) + "\n";
    return s;
  }

 private:
  std::mutex mu_;
  std::map<std::pair<std::string, int>, uint64_t> requests_;
  uint64_t errors_ = 0;
  uint64_t rows_ = 0;
  std::array<uint64_t, 12> buckets_{};
  uint64_t count_ = 0;
  double sum_ = 0.0;
};

// ---------------------------------------------------------------------------------------
// Request log (JSON lines)
// ---------------------------------------------------------------------------------------

class RequestLog {
 public:
  bool open(const std::string& path, double rate) {
    rate_ = rate;
    f_ = std::fopen(path.c_str(), "a");
    return f_ != nullptr;
  }
  bool enabled() const { return f_ != nullptr; }
  bool sample() const {
    if (f_ == nullptr || rate_ <= 0.0) return false;
    if (rate_ >= 1.0) return true;
    thread_local std::mt19937_64 rng(std::random_device{}() ^
                                     std::hash<std::thread::id>()(std::this_thread::get_id()));
    return std::uniform_real_distribution<double>(0.0, 1.0)(rng) < rate_;
  }
  void write(const std::string& line) {
    std::lock_guard<std::mutex> lock(mu_);
    std::fwrite(line.data(), 1, line.size(), f_);
    std::fputc('\n', f_);
    std::fflush(f_);
  }

 private:
  std::FILE* f_ = nullptr;
  double rate_ = 1.0;
  std::mutex mu_;
};

std::string utc_now() {
  const auto now = std::chrono::system_clock::now();
  const std::time_t t = std::chrono::system_clock::to_time_t(now);
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() % 1000;
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                tm.tm_hour, tm.tm_min, tm.tm_sec, static_cast<int>(ms));
  return buf;
}

// ---------------------------------------------------------------------------------------
// Predictions
// ---------------------------------------------------------------------------------------

// A request's failure: HTTP status and the error object {"error", "row", "column"}.
struct Failure {
  int status = 400;
  InputError error;
};

ojson error_object(const InputError& e) {
  ojson j = ojson::object();
  j["error"] = e.message;
  j["row"] = e.row > 0 ? ojson(e.row) : ojson(nullptr);
  j["column"] = e.column.empty() ? ojson(nullptr) : ojson(e.column);
  return j;
}

Failure failure(std::string message, int64_t row = 0, std::string column = std::string(), int status = 400) {
  Failure f;
  f.status = status;
  f.error.row = row;
  f.error.column = std::move(column);
  f.error.message = std::move(message);
  return f;
}

const char* type_name(const json& v) {
  switch (v.type()) {
    case json::value_t::null: return "null";
    case json::value_t::boolean: return v.get<bool>() ? "true" : "false";
    case json::value_t::string: return "a string";
    case json::value_t::array: return "a list";
    case json::value_t::object: return "an object";
    default: return "a number";
  }
}

// The CSV field text a JSON value stands for: null is an empty field (a missing value), a string
// its text, a number its JSON text (integers as written, other numbers in the shortest form that
// reads back to the same double, so a float32 column gets numpy's float32(float64(text))).
bool field_text(const json& v, std::string& text) {
  switch (v.type()) {
    case json::value_t::null: text.clear(); return true;
    case json::value_t::string: text = v.get_ref<const std::string&>(); return true;
    case json::value_t::number_integer: text = std::to_string(v.get<int64_t>()); return true;
    case json::value_t::number_unsigned: text = std::to_string(v.get<uint64_t>()); return true;
    case json::value_t::number_float: {
      const double d = v.get<double>();
      text = std::isfinite(d) ? v.dump() : (d > 0 ? "inf" : "-inf");
      return true;
    }
    default: return false;
  }
}

// Output column k of row r as a JSON value: numbers exact (NaN and infinities, which JSON
// cannot hold, as null), integers as integers, labels as strings.
ojson output_value(const RowBlock& block, int64_t r, int k) {
  switch (block.output_type(k)) {
    case DType::STR: return ojson(block.output_string(r, k));
    case DType::I64: return ojson(block.output_int(r, k));
    default: {
      const double d = block.output_real(r, k);
      return std::isfinite(d) ? ojson(d) : ojson(nullptr);
    }
  }
}

class Model {
 public:
  explicit Model(const ModelSpec& spec, bool allow_extra) : spec_(spec), allow_extra_(allow_extra) {
    for (int k = 0; k < spec.num_input_columns; ++k) by_name_.emplace(spec.input_columns[k].name, k);
    for (int k = 0; k < spec.num_output_columns; ++k) outputs_.emplace_back(spec.output_columns[k].name);
  }
  const ModelSpec& spec() const { return spec_; }
  bool allow_extra() const { return allow_extra_; }
  int input_index(const std::string& name) const {
    auto it = by_name_.find(name);
    return it == by_name_.end() ? -1 : it->second;
  }

  // Scores n rows whose values `value(r, k)` gives (a JSON value or nullptr for a missing one);
  // the answers go to rows (row form) or columns (columnar form).
  template <class Value>
  bool score(int64_t n, Value&& value, ojson* rows, ojson* columns, Failure& fail) const {
    const int nin = spec_.num_input_columns;
    const int nout = spec_.num_output_columns;
    if (rows) *rows = ojson::array();
    if (columns) {
      *columns = ojson::object();
      for (int k = 0; k < nout; ++k) (*columns)[outputs_[static_cast<size_t>(k)]] = ojson::array();
    }
    if (n == 0) return true;
    const int64_t most = RowBlock::max_rows(spec_);
    RowBlock block(spec_, n < most ? n : most);
    std::string text, message;
    for (int64_t r0 = 0; r0 < n; r0 += block.capacity()) {
      const int64_t m = std::min<int64_t>(block.capacity(), n - r0);
      for (int64_t r = 0; r < m; ++r) {
        for (int k = 0; k < nin; ++k) {
          const json* v = value(r0 + r, k);
          if (v == nullptr) {
            text.clear();
          } else if (!field_text(*v, text)) {
            fail = failure(std::string("column \"") + spec_.input_columns[k].name +
                               "\": expected a number, a string or null, found " + type_name(*v),
                           r0 + r + 1, spec_.input_columns[k].name);
            return false;
          }
          if (!block.set(r, k, text.c_str(), text.size(), &message)) {
            fail = failure(message, r0 + r + 1, spec_.input_columns[k].name);
            return false;
          }
        }
      }
      block.run(m);
      for (int64_t r = 0; r < m; ++r) {
        if (rows) {
          ojson row = ojson::object();
          for (int k = 0; k < nout; ++k) row[outputs_[static_cast<size_t>(k)]] = output_value(block, r, k);
          rows->push_back(std::move(row));
        }
        if (columns)
          for (int k = 0; k < nout; ++k) (*columns)[outputs_[static_cast<size_t>(k)]].push_back(output_value(block, r, k));
      }
    }
    return true;
  }

 private:
  const ModelSpec& spec_;
  bool allow_extra_;
  std::unordered_map<std::string, int> by_name_;
  std::vector<std::string> outputs_;
};

// One /predict request's result: the response, and what the log keeps.
struct Outcome {
  int status = 200;
  std::string body;
  std::string content_type = "application/json";
  int64_t rows = 0;
  ojson error;       // null, or the error object
  json inputs;       // row form, when logged
  ojson outputs;     // row form, when logged
};

const char* const kShape =
    "expected a JSON object with \"rows\" (a list of objects, one per row) or \"columns\" (an object of lists, "
    "one per column)";

void predict_json(const Model& model, const std::string& body, bool logged, Outcome& out) {
  json doc;
  try {
    doc = json::parse(body);
  } catch (const json::parse_error& e) {
    std::string what = e.what();
    const size_t p = what.find("] ");
    throw failure("malformed JSON: " + (p == std::string::npos ? what : what.substr(p + 2)));
  }
  if (!doc.is_object()) throw failure(kShape);
  for (auto it = doc.begin(); it != doc.end(); ++it)
    if (it.key() != "rows" && it.key() != "columns")
      throw failure("unknown key \"" + it.key() + "\" (" + kShape + ")");
  const bool has_rows = doc.contains("rows"), has_columns = doc.contains("columns");
  if (has_rows == has_columns) throw failure(kShape);
  const ModelSpec& spec = model.spec();
  const int nin = spec.num_input_columns;
  Failure fail;
  ojson result = ojson::object();
  if (has_rows) {
    const json& rows = doc["rows"];
    if (!rows.is_array()) throw failure(std::string("\"rows\" must be a list of objects, not ") + type_name(rows));
    const int64_t n = static_cast<int64_t>(rows.size());
    if (logged) out.inputs = rows;
    // Each row's values by input column; keys that are no input column are an error (as an
    // unknown CSV column), unless --allow-extra-columns; a missing key is a missing value.
    std::vector<const json*> values(static_cast<size_t>(n * nin), nullptr);
    for (int64_t r = 0; r < n; ++r) {
      const json& row = rows[static_cast<size_t>(r)];
      if (!row.is_object())
        throw failure(std::string("expected an object of column values, found ") + type_name(row), r + 1);
      std::vector<std::string> unknown;
      for (auto it = row.begin(); it != row.end(); ++it) {
        const int k = model.input_index(it.key());
        if (k < 0) unknown.push_back(it.key());
        else values[static_cast<size_t>(r * nin + k)] = &it.value();
      }
      if (!unknown.empty() && !model.allow_extra()) throw failure(unknown_columns_message(unknown), r + 1, unknown[0]);
    }
    ojson answers;
    if (!model.score(n, [&](int64_t r, int k) { return values[static_cast<size_t>(r * nin + k)]; }, &answers,
                     nullptr, fail))
      throw fail;
    out.rows = n;
    if (logged) out.outputs = answers;
    result["rows"] = std::move(answers);
  } else {
    const json& cols = doc["columns"];
    if (!cols.is_object()) throw failure(std::string("\"columns\" must be an object of lists, not ") + type_name(cols));
    std::vector<std::string> names;
    for (auto it = cols.begin(); it != cols.end(); ++it) names.push_back(it.key());
    std::vector<int> index;
    std::vector<InputError> errors = bind_columns(spec, names, model.allow_extra(), index);
    if (!errors.empty()) {
      Failure f;
      f.error = errors[0];
      throw f;
    }
    std::vector<const json*> by_column(static_cast<size_t>(nin), nullptr);
    int64_t n = -1;
    std::string first;
    for (size_t j = 0; j < names.size(); ++j) {
      const json& v = cols[names[j]];
      if (!v.is_array())
        throw failure("column \"" + names[j] + "\": expected a list of values, found " + type_name(v), 0, names[j]);
      const int64_t len = static_cast<int64_t>(v.size());
      if (n >= 0 && len != n)
        throw failure("column \"" + names[j] + "\" has " + std::to_string(len) + " values, column \"" + first +
                          "\" has " + std::to_string(n) + ": every column needs one value per row",
                      0, names[j]);
      if (n < 0) {
        n = len;
        first = names[j];
      }
      if (index[j] >= 0) by_column[static_cast<size_t>(index[j])] = &v;
    }
    if (n < 0) n = 0;
    if (logged) {
      out.inputs = json::array();
      for (int64_t r = 0; r < n; ++r) {
        json row = json::object();
        for (const std::string& name : names) row[name] = cols[name][static_cast<size_t>(r)];
        out.inputs.push_back(std::move(row));
      }
    }
    ojson answers;
    ojson* logged_rows = logged ? &out.outputs : nullptr;
    if (!model.score(n, [&](int64_t r, int k) { return &(*by_column[static_cast<size_t>(k)])[static_cast<size_t>(r)]; },
                     logged_rows, &answers, fail))
      throw fail;
    out.rows = n;
    result["columns"] = std::move(answers);
  }
  out.body = dump(result);
}

// A CSV output line's fields as JSON values of the output columns' types (for the log).
ojson csv_row_object(const ModelSpec& spec, const std::vector<std::string>& fields) {
  ojson row = ojson::object();
  for (int k = 0; k < spec.num_output_columns && k < static_cast<int>(fields.size()); ++k) {
    const std::string& f = fields[static_cast<size_t>(k)];
    const DType t = spec.outputs[spec.output_columns[k].tensor].dtype;
    if (t == DType::STR) {
      row[spec.output_columns[k].name] = f;
    } else {
      const double d = std::strtod(f.c_str(), nullptr);
      if (t == DType::I64) row[spec.output_columns[k].name] = std::strtoll(f.c_str(), nullptr, 10);
      else row[spec.output_columns[k].name] = std::isfinite(d) && f != "NaN" ? ojson(d) : ojson(nullptr);
    }
  }
  return row;
}

void predict_csv(const Model& model, const std::string& body, bool logged, Outcome& out) {
  InputError error;
  int64_t rows = 0;
  const int code = csv_text(model.spec(), body.data(), body.size(), model.allow_extra(), out.body, error, &rows);
  if (logged) {
    std::vector<std::vector<std::string>> records;
    out.inputs = json::array();
    if (read_csv_records(body.data(), body.size(), records) && !records.empty()) {
      for (size_t i = 1; i < records.size(); ++i) {
        json row = json::object();
        for (size_t j = 0; j < records[i].size() && j < records[0].size(); ++j) row[records[0][j]] = records[i][j];
        out.inputs.push_back(std::move(row));
      }
    }
  }
  if (code != kExitOk) {
    Failure f;
    f.error = error;
    f.status = code == kExitBadInput ? 400 : 500;
    throw f;
  }
  out.rows = rows;
  out.content_type = "text/csv";
  if (logged) {
    std::vector<std::vector<std::string>> records;
    out.outputs = ojson::array();
    if (read_csv_records(out.body.data(), out.body.size(), records))
      for (size_t i = 1; i < records.size(); ++i) out.outputs.push_back(csv_row_object(model.spec(), records[i]));
  }
}

std::string media_type(const std::string& content_type) {
  std::string t = content_type.substr(0, content_type.find(';'));
  const auto b = t.find_first_not_of(" \t");
  const auto e = t.find_last_not_of(" \t");
  t = b == std::string::npos ? std::string() : t.substr(b, e - b + 1);
  std::transform(t.begin(), t.end(), t.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return t;
}

// ---------------------------------------------------------------------------------------
// The server
// ---------------------------------------------------------------------------------------

// What the signal thread and the main thread share; never freed (a detached thread may hold it
// while the process exits).
struct Shutdown {
  std::mutex mu;
  std::condition_variable cv;
  bool finished = false;
};

class Server {
 public:
  Server(const ModelSpec& spec, const Options& o) : model_(spec, o.allow_extra), opts_(o) {}

  int run(const std::string& name) {
    if (!opts_.log.empty() && !log_.open(opts_.log, opts_.log_sample)) {
      std::fprintf(stderr, "error: cannot open the log file \"%s\": %s\n", opts_.log.c_str(), std::strerror(errno));
      return kExitFailure;
    }
    schema_ = schema_json();
    const int threads = opts_.threads > 0 ? opts_.threads : std::max(1u, std::thread::hardware_concurrency());
    svr_.new_task_queue = [threads] { return new httplib::ThreadPool(static_cast<size_t>(threads)); };
    svr_.set_payload_max_length(opts_.max_body);
    auto route = [this](const httplib::Request& req, httplib::Response& res) { handle(req, res, req.body); };
    // Bodies are read here, so that a chunked one (no Content-Length, which httplib checks
    // against --max-body itself) stops at the limit too.
    auto route_body = [this](const httplib::Request& req, httplib::Response& res, const httplib::ContentReader& read) {
      std::string body;
      const std::string length = req.get_header_value("Content-Length");
      bool too_big = !length.empty() && std::strtoull(length.c_str(), nullptr, 10) > opts_.max_body;
      const bool has_body = !length.empty() || req.get_header_value("Transfer-Encoding").find("chunked") != std::string::npos;
      const bool ok = too_big || !has_body || read([&](const char* data, size_t n) {
        if (body.size() + n > opts_.max_body) {
          too_big = true;
          return false;
        }
        body.append(data, n);
        return true;
      });
      if (too_big) {
        res.set_header("Connection", "close");
        set_error(res, 413, failure(too_big_message()).error);
        return;
      }
      if (!ok) {
        res.set_header("Connection", "close");
        set_error(res, 400, failure("cannot read the request body").error);
        return;
      }
      handle(req, res, body);
    };
    svr_.Get(".*", route);
    svr_.Post(".*", route_body);
    svr_.Put(".*", route_body);
    svr_.Patch(".*", route_body);
    svr_.Delete(".*", route_body);
    svr_.Options(".*", route);
    // Responses httplib makes itself (413 for a body over --max-body, 400 for bad HTTP) get the
    // JSON error body too.
    svr_.set_error_handler(httplib::Server::HandlerWithResponse([this](const httplib::Request&, httplib::Response& res) {
      if (res.body.empty()) {
        std::string msg = res.status == 413 ? too_big_message()
                                            : std::string("bad request (HTTP status ") + std::to_string(res.status) + ")";
        set_error(res, res.status, failure(msg).error);
      }
      return httplib::Server::HandlerResponse::Handled;
    }));
    svr_.set_logger([this](const httplib::Request& req, const httplib::Response& res) {
      metrics_.response(path_label(req.path), res.status);
    });

    // SIGTERM and SIGINT go to a thread of their own: blocked here, before any other thread
    // starts, so that every thread inherits the mask.
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    pthread_sigmask(SIG_BLOCK, &set, nullptr);
    signal(SIGPIPE, SIG_IGN);

    int port = opts_.port;
    if (port == 0) {
      port = svr_.bind_to_any_port(opts_.host);
      if (port < 0) port = -1;
    } else if (!svr_.bind_to_port(opts_.host, port)) {
      port = -1;
    }
    if (port <= 0) {
      std::fprintf(stderr, "error: cannot listen on %s port %d: %s\n", opts_.host.c_str(), opts_.port,
                   errno ? std::strerror(errno) : "bind failed");
      return kExitFailure;
    }
    Shutdown* shutdown = new Shutdown();
    std::thread([this, set, shutdown] {
      int sig = 0;
      while (sigwait(&set, &sig) != 0) {
      }
      stopping_ = true;
      svr_.stop();
      std::unique_lock<std::mutex> lock(shutdown->mu);
      if (!shutdown->cv.wait_for(lock, std::chrono::seconds(kStopSeconds), [shutdown] { return shutdown->finished; })) {
        std::fputs("stopping: requests still running after 30 s; exiting\n", stderr);
        std::fflush(stderr);
        std::_Exit(kExitOk);
      }
    }).detach();

    const std::string host = opts_.host.find(':') != std::string::npos ? "[" + opts_.host + "]" : opts_.host;
    std::fprintf(stderr, "serving %s on http://%s:%d\n", name.c_str(), host.c_str(), port);
    std::fflush(stderr);
    const bool ok = svr_.listen_after_bind();
    {
      std::lock_guard<std::mutex> lock(shutdown->mu);
      shutdown->finished = true;
    }
    shutdown->cv.notify_all();
    if (stopping_) {
      std::fputs("stopped\n", stderr);
      return kExitOk;
    }
    if (!ok) std::fputs("error: the server stopped\n", stderr);
    return ok ? kExitOk : kExitFailure;
  }

 private:
  std::string too_big_message() const {
    return "the request body is larger than the limit of " + std::to_string(opts_.max_body) + " bytes (--max-body)";
  }

  static std::string path_label(const std::string& path) {
    for (const char* p : kPaths)
      if (path == p) return path;
    return "other";
  }

  static void set_json(httplib::Response& res, int status, const std::string& body) {
    res.status = status;
    res.set_content(body, "application/json");
  }
  static void set_error(httplib::Response& res, int status, const InputError& e) {
    set_json(res, status, dump(error_object(e)));
  }

  void handle(const httplib::Request& req, httplib::Response& res, const std::string& body) {
    try {
      const std::string& path = req.path;
      const bool get = req.method == "GET" || req.method == "HEAD";
      std::string allowed;
      if (path == "/predict") allowed = "POST";
      else if (path == "/schema" || path == "/health" || path == "/ready" || path == "/metrics") allowed = "GET";
      if (allowed.empty()) {
        set_error(res, 404, failure("no such path: \"" + path +
                                    "\" (the server answers POST /predict, GET /schema, /health, /ready and /metrics)")
                                .error);
        return;
      }
      if ((allowed == "GET") != get || (allowed == "POST" && req.method != "POST")) {
        res.set_header("Allow", allowed == "GET" ? "GET, HEAD" : "POST");
        set_error(res, 405, failure("method " + req.method + " is not allowed on " + path + " (use " + allowed + ")").error);
        return;
      }
      if (path == "/predict") predict(req, res, body);
      else if (path == "/schema") set_json(res, 200, schema_);
      else if (path == "/health") set_json(res, 200, "{\"status\":\"ok\"}");
      else if (path == "/ready")
        set_json(res, stopping_ ? 503 : 200, stopping_ ? "{\"status\":\"stopping\"}" : "{\"status\":\"ready\"}");
      else res.set_content(metrics_.text(), "text/plain; version=0.0.4; charset=utf-8");
    } catch (const std::bad_alloc&) {
      set_error(res, 500, failure("out of memory").error);
    } catch (const std::exception& e) {
      set_error(res, 500, failure(std::string("internal error: ") + e.what()).error);
    } catch (...) {
      set_error(res, 500, failure("internal error").error);
    }
  }

  void predict(const httplib::Request& req, httplib::Response& res, const std::string& body) {
    const auto t0 = std::chrono::steady_clock::now();
    const bool logged = log_.sample();
    Outcome out;
    const std::string type = media_type(req.get_header_value("Content-Type"));
    try {
      if (type == "application/json") {
        predict_json(model_, body, logged, out);
      } else if (type == "text/csv") {
        predict_csv(model_, body, logged, out);
      } else {
        throw failure("unsupported content type \"" + req.get_header_value("Content-Type") +
                          "\" (send application/json or text/csv)",
                      0, std::string(), 415);
      }
    } catch (const Failure& f) {
      out.status = f.status;
      out.error = error_object(f.error);
      out.body = dump(out.error);
      out.content_type = "application/json";
      out.rows = 0;
    } catch (const std::bad_alloc&) {
      out.status = 500;
      out.error = error_object(failure("out of memory").error);
      out.body = dump(out.error);
      out.content_type = "application/json";
      out.rows = 0;
    } catch (const std::exception& e) {
      // The model threw: the CSV program's "model evaluation failed" (exit 1) is a 500 here.
      out.status = 500;
      out.error = error_object(failure(std::string("model evaluation failed: ") + e.what()).error);
      out.body = dump(out.error);
      out.content_type = "application/json";
      out.rows = 0;
    }
    res.status = out.status;
    res.set_content(out.body, out.content_type.c_str());
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    metrics_.predicted(seconds, out.rows);
    if (logged) {
      // {"time", "rows", "inputs", "outputs", "error", "ms"}, in that order.
      const size_t rows = out.status == 200 ? static_cast<size_t>(out.rows) : out.inputs.is_array() ? out.inputs.size() : 0;
      std::string line = "{\"time\":\"" + utc_now() + "\",\"rows\":" + std::to_string(rows) + ",\"inputs\":" +
                         dump(out.inputs.is_null() ? json::array() : out.inputs) + ",\"outputs\":" +
                         (out.status == 200 ? dump(out.outputs) : std::string("null")) + ",\"error\":" +
                         dump(out.error) + ",\"ms\":" + dump(ojson(seconds * 1000.0)) + "}";
      log_.write(line);
    }
  }

  std::string schema_json() const {
    const ModelSpec& spec = model_.spec();
    ojson j = ojson::object();
    j["name"] = spec.model_name ? spec.model_name : "model";
    ojson ins = ojson::array();
    for (int k = 0; k < spec.num_input_columns; ++k) {
      const ColumnSpec& c = spec.input_columns[k];
      ojson col = {{"name", c.name}, {"type", dtype_name(spec.inputs[c.tensor].dtype)},
                   {"tensor", spec.inputs[c.tensor].name}, {"index", c.offset}};
      if (c.num_levels > 0) {
        ojson levels = ojson::array();
        for (int l = 0; l < c.num_levels; ++l) levels.push_back(c.levels[l]);
        col["levels"] = std::move(levels);
        col["closed"] = true;
      }
      ins.push_back(std::move(col));
    }
    ojson outs = ojson::array();
    for (int k = 0; k < spec.num_output_columns; ++k) {
      const ColumnSpec& c = spec.output_columns[k];
      outs.push_back({{"name", c.name}, {"type", dtype_name(spec.outputs[c.tensor].dtype)},
                      {"tensor", spec.outputs[c.tensor].name}, {"index", c.offset}});
    }
    j["inputs"] = std::move(ins);
    j["outputs"] = std::move(outs);
    j["description"] = spec.description ? spec.description : "";
    return dump(j);
  }

  Model model_;
  Options opts_;
  httplib::Server svr_;
  Metrics metrics_;
  RequestLog log_;
  std::string schema_;
  std::atomic<bool> stopping_{false};
};

std::string prog_name(const ModelSpec& spec, int argc, char** argv) {
  if (argc > 0 && argv && argv[0] && argv[0][0]) {
    const char* base = std::strrchr(argv[0], '/');
    return base ? base + 1 : argv[0];
  }
  return spec.model_name ? spec.model_name : "model";
}

}  // namespace
}  // namespace serve
}  // namespace modelport

extern "C" __attribute__((visibility("default"))) int modelport_serve_main(int abi, const modelport::ModelSpec* spec,
                                                                          int argc, char** argv) {
  using namespace modelport;
  if (abi != kServeAbi || spec == nullptr) {
    std::fprintf(stderr, "error: the HTTP server plugin does not match this program (interface %d, program %d): "
                         "rebuild them together\n", kServeAbi, abi);
    return kExitFailure;
  }
  try {
    RowBlock check(*spec, 1);  // validates the spec
  } catch (const std::exception& e) {
    std::fprintf(stderr, "internal error: %s\n", e.what());
    return kExitInvalidSpec;
  }
  const std::string prog = serve::prog_name(*spec, argc, argv);
  serve::Options o;
  const int code = serve::parse_options(argc, argv, prog, o);
  if (code >= 0) return code;
  try {
    serve::Server server(*spec, o);
    return server.run(spec->model_name ? spec->model_name : prog);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return kExitFailure;
  }
}
