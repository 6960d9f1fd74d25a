// modelport_serve.cpp: the HTTP server of a model's program (`<program> serve`), built into the
// plugin lib/libmodelport_serve.so that the program loads on `serve` (modelport_serve.hpp).
//
// HTTP: Boost.Beast and Boost.Asio (header-only: the plugin needs nothing at run time but the C++
// runtime). An io_context run by --threads threads, one strand per connection, keep-alive.
// The API, its messages and its metrics are the Java server's (modelport/runtime/Server.java),
// byte for byte where it matters; docs/serving.md describes them:
//   POST /predict   application/json {"rows": [{col: value}]} or {"columns": {col: [values]}},
//                   or text/csv (the CSV program's input and output)
//   GET /schema /health /ready /metrics (Prometheus text 0.0.4)
#include <boost/asio/bind_executor.hpp>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/buffers_range.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/string.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>

#include <sched.h>
#include <signal.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "modelport_json.hpp"
#include "modelport_metrics.hpp"
#include "modelport_predict.hpp"
#include "modelport_runtime.hpp"
#include "modelport_serve.hpp"
#include "modelport_shadow.hpp"

namespace modelport {
namespace serve {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;

constexpr uint64_t kDefaultMaxBody = uint64_t(16) << 20;   // 16 MiB
constexpr uint64_t kMaxMaxBody = 2147483647ULL - 16;       // the Java server's largest
constexpr int kGraceSeconds = 30;                          // for requests in flight after SIGTERM
// Bytes of a refused body read and dropped, so that the client, still sending, reads the
// answer rather than a reset connection.
constexpr uint64_t kDrainLimit = uint64_t(64) << 20;
constexpr auto kIdle = std::chrono::seconds(30);     // a keep-alive connection with no request
constexpr auto kLinger = std::chrono::seconds(10);   // draining after a 413
constexpr const char* kJson = "application/json";
constexpr const char* kCsv = "text/csv";
constexpr const char* kMetricsType = "text/plain; version=0.0.4; charset=utf-8";
const char* const kPaths[] = {"/predict", "/schema", "/health", "/ready", "/metrics"};

// ---------------------------------------------------------------------------------------------
// Options (the Java server's, with its messages)
// ---------------------------------------------------------------------------------------------

struct Options {
  std::string host = "127.0.0.1";
  int port = 8080;
  int threads = 0;  // 0: the number of cores
  uint64_t max_body = kDefaultMaxBody;
  std::string log;
  double log_sample = 1.0;
  bool allow_extra = false;
  std::string shadow;  // --shadow DIR
};

int cores() {
  cpu_set_t set;
  if (sched_getaffinity(0, sizeof set, &set) == 0) return std::max(1, CPU_COUNT(&set));
  return static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
}

std::string usage_lines(const std::string& prog) {
  return "Usage: " + prog + " [--allow-extra-columns] [--stream] < input.csv > output.csv\n       " + prog +
         " serve [--host HOST] [--port PORT] [--threads N] [--max-body BYTES]\n"
         "              [--log FILE] [--log-sample RATE] [--allow-extra-columns] [--shadow DIR]\n";
}

std::string help(const std::string& prog) {
  return "Usage: " + prog +
         " serve [--host HOST] [--port PORT] [--threads N] [--max-body BYTES]\n"
         "       [--log FILE] [--log-sample RATE] [--allow-extra-columns] [--shadow DIR]\n\n"
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
         "  --shadow DIR           also score every request with the model built in DIR (modelport build's\n"
         "                         output folder); compare, count the differences (GET /shadow, /metrics)\n"
         "  --help                 print this help and exit\n\n"
         "It prints \"serving NAME on http://HOST:PORT\" on standard error when it is listening,\n"
         "and stops on SIGTERM or SIGINT, after the requests in flight (up to 30 s): exit status 0.\n";
}

struct UsageError {
  std::string message;
};

// Long.parseLong: an optional sign and decimal digits, within int64.
bool parse_long(const std::string& s, long long& out) {
  size_t i = (!s.empty() && (s[0] == '+' || s[0] == '-')) ? 1 : 0;
  if (i == s.size()) return false;
  for (size_t j = i; j < s.size(); ++j)
    if (s[j] < '0' || s[j] > '9') return false;
  errno = 0;
  char* end = nullptr;
  out = std::strtoll(s.c_str(), &end, 10);
  return errno == 0 && end == s.c_str() + s.size();
}

long long integer(const std::string& name, const std::string& value, long long most, long long least) {
  long long v = 0;
  if (!parse_long(value, v) || v < least || v > most)
    throw UsageError{name + " needs an integer from " + std::to_string(least) + " to " + std::to_string(most) +
                     ", not \"" + value + "\""};
  return v;
}

// Returns -1 when the options are fine, else the exit status (--help: 0, a bad option: 2).
int parse_options(int argc, char** argv, const std::string& prog, Options& o) {
  try {
    for (int i = 2; i < argc; ++i) {
      const std::string a = argv[i] ? argv[i] : "";
      if (a == "--help" || a == "-h") {
        std::fputs(help(prog).c_str(), stdout);
        return kExitOk;
      }
      if (a == "--allow-extra-columns") {
        o.allow_extra = true;
        continue;
      }
      std::string name = a;
      std::optional<std::string> value;
      const size_t eq = a.find('=');
      if (a.compare(0, 2, "--") == 0 && eq != std::string::npos && eq > 0) {
        name = a.substr(0, eq);
        value = a.substr(eq + 1);
      }
      if (name != "--host" && name != "--port" && name != "--threads" && name != "--max-body" && name != "--log" &&
          name != "--log-sample" && name != "--shadow")
        throw UsageError{(!a.empty() && a[0] == '-' ? "unknown option \"" : "unexpected argument \"") + a + "\""};
      if (!value) {
        if (i + 1 >= argc || argv[i + 1] == nullptr) throw UsageError{"option " + name + " needs a value"};
        value = argv[++i];
      }
      const std::string& v = *value;
      if (name == "--host") {
        if (v.empty()) throw UsageError{"--host needs a host name or address"};
        o.host = v;
      } else if (name == "--port") {
        o.port = static_cast<int>(integer(name, v, 65535, 0));
      } else if (name == "--threads") {
        o.threads = static_cast<int>(integer(name, v, 4096, 1));
      } else if (name == "--max-body") {
        o.max_body = static_cast<uint64_t>(integer(name, v, static_cast<long long>(kMaxMaxBody), 0));
      } else if (name == "--log") {
        if (v.empty()) throw UsageError{"--log needs a file name"};
        o.log = v;
      } else if (name == "--shadow") {
        if (v.empty()) throw UsageError{"--shadow needs a folder (the output of modelport build)"};
        o.shadow = v;
      } else {
        const double r = is_decimal(v) ? std::strtod(v.c_str(), nullptr) : std::nan("");
        if (!(r >= 0 && r <= 1))
          throw UsageError{"--log-sample needs a number from 0 to 1, not \"" + v + "\""};
        o.log_sample = r;
      }
    }
  } catch (const UsageError& e) {
    std::fprintf(stderr, "error: %s\n%sRun '%s --help' for details.\n", e.message.c_str(), usage_lines(prog).c_str(),
                 prog.c_str());
    return kExitBadInput;
  }
  return -1;
}

// ---------------------------------------------------------------------------------------------
// GET /schema
// ---------------------------------------------------------------------------------------------

// A column name as the CSV header writes it (quoted when needed).
std::string csv_name(const char* name) {
  const std::string s = name;
  bool quote = s.empty() || s.front() == ' ' || s.front() == '\t' || s.back() == ' ' || s.back() == '\t' ||
               s.find_first_of(",\"\n\r") != std::string::npos;
  if (!quote) return s;
  std::string q = "\"";
  for (char c : s) q += c == '"' ? std::string("\"\"") : std::string(1, c);
  return q + "\"";
}

void append_column_list(std::string& s, const ColumnSpec* cols, int n, const TensorSpec* tensors) {
  std::vector<std::string> names;
  size_t width = 0;
  for (int i = 0; i < n; ++i) {
    names.push_back(csv_name(cols[i].name));
    width = std::max(width, json::utf16_length(names.back(), names.back().size()));
  }
  width = std::min<size_t>(width, 40);
  for (int i = 0; i < n; ++i) {
    const size_t len = json::utf16_length(names[static_cast<size_t>(i)], names[static_cast<size_t>(i)].size());
    const std::string dt = dtype_name(tensors[cols[i].tensor].dtype);
    s += "  " + names[static_cast<size_t>(i)] + std::string(width + 2 > len ? width + 2 - len : 1, ' ') + dt +
         std::string(dt.size() < 9 ? 9 - dt.size() : 0, ' ') + "(" + tensors[cols[i].tensor].name + "[" +
         std::to_string(cols[i].offset) + "])\n";
  }
}

// What --schema prints.
std::string schema_text(const ModelSpec& spec) {
  std::string s;
  if (spec.description && spec.description[0]) {
    s = spec.description;
  } else {
    s = std::string("Model: ") + (spec.model_name ? spec.model_name : "model") + "\nInput columns:\n";
    append_column_list(s, spec.input_columns, spec.num_input_columns, spec.inputs);
    s += "Output columns:\n";
    append_column_list(s, spec.output_columns, spec.num_output_columns, spec.outputs);
  }
  if (s.empty() || s.back() != '\n') s += '\n';
  return s;
}

void append_columns(std::string& s, const ColumnSpec* cols, int n, const TensorSpec* tensors) {
  s += '[';
  for (int i = 0; i < n; ++i) {
    const ColumnSpec& c = cols[i];
    if (i) s += ',';
    s += "{\"name\":";
    json::append_string(s, c.name);
    s += std::string(",\"type\":\"") + dtype_name(tensors[c.tensor].dtype) + "\",\"tensor\":";
    json::append_string(s, tensors[c.tensor].name);
    s += ",\"index\":" + std::to_string(c.offset);
    if (c.num_levels > 0) {
      s += ",\"levels\":[";
      for (int l = 0; l < c.num_levels; ++l) {
        if (l) s += ',';
        json::append_string(s, c.levels[l]);
      }
      s += ']';
    }
    s += '}';
  }
  s += ']';
}

std::string schema_json(const ModelSpec& spec) {
  std::string s = "{\"name\":";
  json::append_string(s, spec.model_name ? spec.model_name : "model");
  s += ",\"inputs\":";
  append_columns(s, spec.input_columns, spec.num_input_columns, spec.inputs);
  s += ",\"outputs\":";
  append_columns(s, spec.output_columns, spec.num_output_columns, spec.outputs);
  s += ",\"description\":";
  json::append_string(s, schema_text(spec));
  return s + "}";
}

// ---------------------------------------------------------------------------------------------
// HTTP details as the JDK's server gives them to the Java server
// ---------------------------------------------------------------------------------------------

// Header bytes are ISO-8859-1 characters to the JDK; as UTF-8 here.
std::string latin1(beast::string_view v) {
  std::string s;
  for (unsigned char c : v) json::put_utf8(s, c);
  return s;
}

// String.trim: characters up to U+0020 off both ends.
std::string trim(const std::string& s) {
  size_t b = 0, e = s.size();
  while (b < e && static_cast<unsigned char>(s[b]) <= 0x20) ++b;
  while (e > b && static_cast<unsigned char>(s[e - 1]) <= 0x20) --e;
  return s.substr(b, e - b);
}

// toLowerCase of ISO-8859-1 text (in UTF-8): A-Z and À-Þ (but ×).
std::string lower_latin1(beast::string_view v) {
  std::string s;
  for (unsigned char c : v) {
    unsigned u = c;
    if ((u >= 'A' && u <= 'Z') || (u >= 0xC0 && u <= 0xDE && u != 0xD7)) u += 0x20;
    json::put_utf8(s, u);
  }
  return s;
}

// URI.getPath of a request target: without query and fragment, %XX escapes decoded (as UTF-8).
std::string request_path(beast::string_view target) {
  std::string t(target);
  if (t.size() > 7 && (beast::iequals(t.substr(0, 7), "http://") || beast::iequals(t.substr(0, 8), "https://"))) {
    const size_t slash = t.find('/', t.find("//") + 2);
    t = slash == std::string::npos ? std::string() : t.substr(slash);
  }
  t = t.substr(0, t.find_first_of("?#"));
  std::string out, bytes;
  auto flush = [&] {
    if (bytes.empty()) return;
    std::string fixed;
    out += json::java_utf8(bytes.data(), bytes.size(), fixed) ? fixed : bytes;
    bytes.clear();
  };
  auto hex = [](char c) {
    return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
  };
  for (size_t i = 0; i < t.size(); ++i) {
    if (t[i] == '%' && i + 2 < t.size() && hex(t[i + 1]) >= 0 && hex(t[i + 2]) >= 0) {
      bytes += static_cast<char>(hex(t[i + 1]) * 16 + hex(t[i + 2]));
      i += 2;
      continue;
    }
    flush();
    json::put_utf8(out, static_cast<unsigned char>(t[i]));
  }
  flush();
  return out;
}

// The form that the Content-Type names; a 415 refusal for any other, or another charset than
// UTF-8 (Server.contentForm).
std::optional<Form> content_form(const http::fields& headers, Refusal& refusal) {
  const auto it = headers.find(http::field::content_type);
  std::optional<Form> form;
  std::string media;
  std::optional<std::string> charset;
  if (it != headers.end()) {
    const beast::string_view type = it->value();
    std::vector<beast::string_view> parts;
    size_t start = 0;
    for (;;) {
      const size_t semi = type.find(';', start);
      parts.push_back(type.substr(start, semi == beast::string_view::npos ? beast::string_view::npos : semi - start));
      if (semi == beast::string_view::npos) break;
      start = semi + 1;
    }
    media = trim(lower_latin1(parts[0]));
    for (size_t i = 1; i < parts.size(); ++i) {
      const std::string p = trim(latin1(parts[i]));
      const size_t eq = p.find('=');
      if (eq != std::string::npos && eq > 0 && beast::iequals(trim(p.substr(0, eq)), "charset")) {
        std::string c = trim(p.substr(eq + 1));
        c.erase(std::remove(c.begin(), c.end(), '"'), c.end());
        charset = c;
      }
    }
    if (media == kJson) form = Form::Rows;  // rows or columns: the body says
    else if (media == kCsv) form = Form::Csv;
  }
  if (!form) {
    refusal = Refusal::of(415, it == headers.end() ? "missing Content-Type (use application/json or text/csv)"
                                                   : "unsupported content type \"" + media +
                                                         "\" (use application/json or text/csv)");
  } else if (charset && !beast::iequals(*charset, "utf-8") && !beast::iequals(*charset, "utf8")) {
    refusal = Refusal::of(415, "unsupported charset \"" + *charset + "\" (the body must be UTF-8)");
    form.reset();
  }
  return form;
}

std::string too_large(uint64_t max) {
  return "request body larger than " + std::to_string(max) + " bytes (the server's --max-body)";
}

// A request body kept up to `keep` bytes; beyond `most` bytes, reading stops (body_limit).
struct CappedBody {
  struct value_type {
    std::string data;
    uint64_t keep = 0;
    uint64_t most = 0;
    uint64_t total = 0;
  };
  class reader {
   public:
    template <bool isRequest, class Fields>
    reader(http::header<isRequest, Fields>&, value_type& body) : body_(body) {}
    void init(const boost::optional<std::uint64_t>& length, beast::error_code& ec) {
      if (length && *length <= body_.keep) body_.data.reserve(static_cast<size_t>(*length));
      ec = {};
    }
    template <class ConstBufferSequence>
    std::size_t put(const ConstBufferSequence& buffers, beast::error_code& ec) {
      const size_t n = asio::buffer_size(buffers);
      body_.total += n;
      if (body_.total > body_.most) {
        ec = http::error::body_limit;
        return n;
      }
      if (body_.total <= body_.keep) {
        for (const auto b : beast::buffers_range_ref(buffers)) body_.data.append(static_cast<const char*>(b.data()), b.size());
      } else if (!body_.data.empty()) {
        std::string().swap(body_.data);
      }
      ec = {};
      return n;
    }
    void finish(beast::error_code& ec) { ec = {}; }

   private:
    value_type& body_;
  };
};

// An answer: status, content type, body, Allow header, whether the connection closes after.
struct Reply {
  int code = 200;
  std::string type = kJson;
  std::string body;
  std::string allow;
  bool close = false;

  static Reply refusal(const Refusal& r) {
    Reply x;
    x.code = r.code;
    x.body = r.json();
    return x;
  }
};

// ---------------------------------------------------------------------------------------------
// The server and its connections
// ---------------------------------------------------------------------------------------------

class Server;

class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(tcp::socket&& socket, Server& server)
      : stream_(std::move(socket)), idle_(stream_.get_executor()), server_(server) {}

  void start() {
    asio::dispatch(stream_.get_executor(), [self = shared_from_this()] { self->next(); });
  }

 private:
  enum class Stage { Predict, Drain };

  void next();
  void begin();
  void on_header(beast::error_code ec);
  void on_body(beast::error_code ec);
  void read_body(Stage stage, uint64_t keep, uint64_t most);
  void predict();
  void respond(Reply reply, bool linger = false);
  void on_write(beast::error_code ec, bool keep_alive, bool linger);
  void drain_raw();
  void close();
  void finished();

  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
  asio::steady_timer idle_;
  Server& server_;
  std::optional<http::request_parser<CappedBody>> parser_;
  std::shared_ptr<http::response<http::string_body>> res_;
  std::vector<char> scratch_;
  bool busy_ = false;
  // The request being answered.
  Clock::time_point t0_;
  std::chrono::system_clock::time_point start_;
  std::string path_, label_, method_;
  bool head_ = false;
  bool logged_ = false;
  Form form_ = Form::Rows;
  Stage stage_ = Stage::Predict;
  Reply pending_;  // the answer given once a refused body is drained
  uint64_t drained_ = 0;
};

class Server {
 public:
  Server(const ModelSpec& spec, const Options& o)
      : predictor_(spec, o.allow_extra), opts_(o), schema_(schema_json(spec)), ioc_(threads()), acceptor_(control_) {}

  int run(const std::string& name);

  const Options& options() const { return opts_; }
  const Predictor& predictor() const { return predictor_; }
  Metrics& metrics() { return metrics_; }
  RequestLog& log() { return log_; }
  const std::string& schema() const { return schema_; }
  bool stopping() const { return stopping_.load(); }
  void busy(int delta) { busy_ += delta; }
  Shadow* shadow() { return shadow_.get(); }
  // /metrics: the server's metrics, and the shadow's.
  std::string metrics_text() { return metrics_.text() + (shadow_ ? shadow_->metrics_text() : std::string()); }

 private:
  int threads() const { return opts_.threads > 0 ? opts_.threads : cores(); }
  void accept();
  void stop();
  void wait_for_requests(Clock::time_point deadline);

  Predictor predictor_;
  Options opts_;
  std::string schema_;
  Metrics metrics_;
  RequestLog log_;
  asio::io_context ioc_;      // connections, run by the worker threads
  asio::io_context control_;  // the listening socket, signals and shutdown, run by the main thread
  tcp::acceptor acceptor_;
  std::unique_ptr<Shadow> shadow_;
  std::unique_ptr<asio::signal_set> signals_;
  std::unique_ptr<asio::steady_timer> timer_;
  std::atomic<bool> stopping_{false};
  std::atomic<int> busy_{0};  // requests in flight: from their first byte to their answer sent
};

// ---- Session

void Session::next() {
  if (buffer_.size() > 0) {  // the next request has begun (pipelined)
    begin();
    return;
  }
  // Idle: wait for a request's first byte (an idle connection does not hold up a shutdown).
  idle_.expires_after(kIdle);
  idle_.async_wait([self = shared_from_this()](beast::error_code ec) {
    if (!ec) self->close();
  });
  stream_.socket().async_wait(tcp::socket::wait_read, [self = shared_from_this()](beast::error_code ec) {
    self->idle_.cancel();
    if (ec) return self->close();
    self->begin();
  });
}

void Session::begin() {
  busy_ = true;
  head_ = false;
  server_.busy(1);
  parser_.emplace();
  parser_->header_limit(64 * 1024);
  parser_->body_limit(std::numeric_limits<std::uint64_t>::max());
  http::async_read_header(stream_, buffer_, *parser_,
                          [self = shared_from_this()](beast::error_code ec, std::size_t) { self->on_header(ec); });
}

void Session::on_header(beast::error_code ec) {
  if (ec) {
    // A connection closed before or in a request's header is not answered; bad HTTP is.
    if (ec.category() != http::make_error_code(http::error::bad_target).category() || ec == http::error::end_of_stream ||
        ec == http::error::partial_message)
      return close();
    Reply r = Reply::refusal(Refusal::of(400, "bad HTTP request: " + ec.message()));
    r.close = true;
    label_ = "other";
    method_.clear();
    return respond(std::move(r));
  }
  t0_ = Clock::now();
  start_ = std::chrono::system_clock::now();
  const auto& req = parser_->get();
  path_ = request_path(req.target());
  label_ = "other";
  for (const char* p : kPaths)
    if (path_ == p) label_ = p;
  if (path_ == "/shadow" && server_.shadow()) label_ = path_;
  method_ = latin1(req.method_string());
  head_ = req.method() == http::verb::head;
  if (label_ == "other") {
    pending_ = Reply::refusal(Refusal::of(404, "no such path \"" + path_ +
                                                   "\" (paths: /predict, /schema, /health, /ready, /metrics)"));
    return read_body(Stage::Drain, 0, kDrainLimit);
  }
  const std::string allowed = label_ == "/predict" ? "POST" : "GET";
  if (method_ != allowed) {
    pending_ = Reply::refusal(
        Refusal::of(405, "method " + method_ + " is not allowed on " + path_ + " (use " + allowed + ")"));
    pending_.allow = allowed;
    return read_body(Stage::Drain, 0, kDrainLimit);
  }
  if (label_ != "/predict") {
    pending_ = Reply();
    pending_.code = 0;  // answered once the body (if any) is read
    return read_body(Stage::Drain, 0, kDrainLimit);
  }
  logged_ = server_.log().sampled();
  Refusal refusal;
  const std::optional<Form> form = content_form(req.base(), refusal);
  if (!form) {
    pending_ = Reply::refusal(refusal);
    return read_body(Stage::Drain, 0, kDrainLimit);
  }
  form_ = *form;
  const uint64_t max = server_.options().max_body;
  if (parser_->content_length() && *parser_->content_length() > max) {
    // Answered at once, without reading the body; drained after the answer.
    pending_ = Reply::refusal(Refusal::of(413, too_large(max)));
    stage_ = Stage::Predict;
    return predict();
  }
  read_body(Stage::Predict, max, max);
}

void Session::read_body(Stage stage, uint64_t keep, uint64_t most) {
  stage_ = stage;
  auto& body = parser_->get().body();
  body.keep = keep;
  body.most = most;
  const auto& req = parser_->get();
  const bool has_body = parser_->chunked() || (parser_->content_length() && *parser_->content_length() > 0);
  const auto expect = req.find(http::field::expect);
  auto read = [self = shared_from_this()] {
    http::async_read(self->stream_, self->buffer_, *self->parser_,
                     [self](beast::error_code ec, std::size_t) { self->on_body(ec); });
  };
  if (has_body && expect != req.end() && beast::iequals(expect->value(), "100-continue")) {
    static const char kContinue[] = "HTTP/1.1 100 Continue\r\n\r\n";
    asio::async_write(stream_, asio::buffer(kContinue, sizeof kContinue - 1),
                      [self = shared_from_this(), read](beast::error_code ec, std::size_t) {
                        if (ec) return self->close();
                        read();
                      });
    return;
  }
  read();
}

void Session::on_body(beast::error_code ec) {
  if (ec == http::error::body_limit) {
    if (stage_ == Stage::Predict) {
      pending_ = Reply::refusal(Refusal::of(413, too_large(server_.options().max_body)));
      return predict();  // answers the 413, then drains
    }
    pending_.close = true;  // more than the drain limit: answered, then closed
  } else if (ec) {
    if (ec.category() == http::make_error_code(http::error::bad_target).category() && ec != http::error::end_of_stream &&
        ec != http::error::partial_message) {
      Reply r = Reply::refusal(Refusal::of(400, "bad HTTP request: " + ec.message()));
      r.close = true;
      return respond(std::move(r));
    }
    // The client went away in the middle of its body: nothing to answer.
    server_.metrics().request(label_, stage_ == Stage::Predict ? 500 : pending_.code == 0 ? 500 : pending_.code);
    if (label_ == "/predict" && method_ == "POST")
      server_.metrics().latency(std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now() - t0_).count());
    return close();
  }
  if (stage_ == Stage::Predict || (label_ == "/predict" && pending_.code == 415)) return predict();
  if (pending_.code != 0) return respond(std::move(pending_));
  Reply r;
  if (label_ == "/schema") r.body = server_.schema();
  else if (label_ == "/health") r.body = "{\"status\":\"ok\"}";
  else if (label_ == "/ready") {
    r.code = server_.stopping() ? 503 : 200;
    r.body = server_.stopping() ? "{\"status\":\"stopping\"}" : "{\"status\":\"ready\"}";
  } else if (label_ == "/shadow") {
    r.body = server_.shadow()->json_text();
  } else {
    r.type = kMetricsType;
    r.body = server_.metrics_text();
  }
  respond(std::move(r));
}

// POST /predict once its body is read (or refused: pending_ holds a 413 or 415).
void Session::predict() {
  Outcome out;
  const bool refused = pending_.code == 413 || pending_.code == 415;
  bool linger = false;
  Shadow* shadow = server_.shadow();
  std::string shadow_log = shadow ? "null" : "";  // the log's "shadow" key: only with --shadow
  bool differing = false;
  if (refused) {
    out.code = pending_.code;
    out.body = pending_.body;
    out.error = pending_.body;
    linger = pending_.code == 413;
  } else {
    const std::string body = std::move(parser_->get().body().data);
    // With a shadow, every request may have to be logged (those with differences are).
    server_.predictor().predict(form_, body, logged_ || shadow, shadow != nullptr, out);
    if (shadow && out.code == 200) {
      const Predictor& p = server_.predictor();
      if (out.request) {
        const JsonRequest& request = *out.request;
        shadow_log = shadow->compare(request.table, out.cells, [&](int64_t r) { return request.row_json(r); },
                                     &differing);
      } else if (out.csv_rows) {
        const Table& t = *out.csv_rows;
        shadow_log = shadow->compare(t, out.cells, [&](int64_t r) { return p.csv_row_json(t, r); }, &differing);
      }
    }
  }
  if (out.code == 200) server_.metrics().rows_scored(out.scored);
  if (logged_ || differing) {
    const double ms = std::chrono::duration<double, std::milli>(Clock::now() - t0_).count();
    server_.log().write(start_, out.rows, out.inputs, out.outputs, out.error, ms, shadow_log);
  }
  Reply r;
  r.code = out.code;
  r.type = out.type;
  r.body = std::move(out.body);
  r.close = linger || pending_.close;
  pending_ = Reply();
  respond(std::move(r), linger);
}

void Session::respond(Reply reply, bool linger) {
  // Counted before the answer leaves: a client that has read it finds it on /metrics.
  server_.metrics().request(label_, reply.code);
  if (label_ == "/predict" && method_ == "POST")
    server_.metrics().latency(std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now() - t0_).count());
  res_ = std::make_shared<http::response<http::string_body>>(static_cast<http::status>(reply.code), 11);
  res_->set(http::field::content_type, reply.type);
  if (!reply.allow.empty()) res_->set(http::field::allow, reply.allow);
  const bool keep_alive = !reply.close && !server_.stopping() && parser_ && parser_->is_header_done() &&
                          parser_->get().keep_alive();
  res_->keep_alive(keep_alive);
  res_->body() = std::move(reply.body);
  res_->prepare_payload();
  if (head_) res_->body().clear();
  http::async_write(stream_, *res_, [self = shared_from_this(), keep_alive, linger](beast::error_code ec, std::size_t) {
    self->on_write(ec, keep_alive, linger);
  });
}

void Session::on_write(beast::error_code ec, bool keep_alive, bool linger) {
  res_.reset();
  finished();
  if (ec) return close();
  if (linger) return drain_raw();
  if (!keep_alive) {
    beast::error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
    return close();
  }
  parser_.reset();
  next();
}

// After a 413: the rest of the body read and dropped (up to the drain limit, for a while), so
// that the client, still sending, reads the answer rather than a reset connection.
void Session::drain_raw() {
  beast::error_code ignored;
  stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
  drained_ = buffer_.size();
  buffer_.consume(buffer_.size());
  scratch_.resize(64 * 1024);
  idle_.expires_after(kLinger);
  idle_.async_wait([self = shared_from_this()](beast::error_code ec) {
    if (!ec) self->close();
  });
  struct Loop {
    std::shared_ptr<Session> self;
    void operator()(beast::error_code ec, std::size_t n) const {
      self->drained_ += n;
      if (ec || self->drained_ >= kDrainLimit) return self->close();
      self->stream_.socket().async_read_some(asio::buffer(self->scratch_), *this);
    }
  };
  Loop{shared_from_this()}(beast::error_code(), 0);
}

void Session::finished() {
  if (busy_) server_.busy(-1);
  busy_ = false;
}

void Session::close() {
  finished();
  beast::error_code ignored;
  idle_.cancel();
  stream_.socket().close(ignored);
}

// ---- Server

int Server::run(const std::string& name) {
  if (!opts_.shadow.empty()) {
    shadow_ = std::make_unique<Shadow>();
    const std::string why = shadow_->load(opts_.shadow, predictor_.spec(), opts_.allow_extra);
    if (!why.empty()) {
      std::fprintf(stderr, "error: --shadow %s: %s\n", opts_.shadow.c_str(), why.c_str());
      return kExitBadInput;
    }
  }
  if (!opts_.log.empty() && !log_.open(opts_.log, opts_.log_sample)) {
    std::fprintf(stderr, "error: cannot open the log file \"%s\": %s\n", opts_.log.c_str(), std::strerror(errno));
    return kExitFailure;
  }
  const std::string host = opts_.host.find(':') != std::string::npos ? "[" + opts_.host + "]" : opts_.host;
  beast::error_code ec;
  tcp::endpoint endpoint;
  {
    tcp::resolver resolver(control_);
    const auto found = resolver.resolve(opts_.host, std::to_string(opts_.port), tcp::resolver::passive, ec);
    if (!ec && !found.empty()) endpoint = found.begin()->endpoint();
  }
  if (!ec) acceptor_.open(endpoint.protocol(), ec);
  if (!ec) acceptor_.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) acceptor_.bind(endpoint, ec);
  if (!ec) acceptor_.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    std::fprintf(stderr, "error: cannot listen on %s:%d: %s\n", host.c_str(), opts_.port, ec.message().c_str());
    return kExitFailure;
  }
  signals_ = std::make_unique<asio::signal_set>(control_, SIGTERM, SIGINT);
  signals_->async_wait([this](beast::error_code e, int) {
    if (!e) stop();
  });
  ::signal(SIGPIPE, SIG_IGN);
  accept();
  auto work = asio::make_work_guard(ioc_);
  std::vector<std::thread> pool;
  for (int i = 0; i < threads(); ++i) pool.emplace_back([this] { ioc_.run(); });
  std::fprintf(stderr, "serving %s on http://%s:%d%s\n", name.c_str(), host.c_str(), acceptor_.local_endpoint().port(),
               shadow_ ? (" (shadow: " + shadow_->name() + ")").c_str() : "");
  std::fflush(stderr);
  control_.run();
  if (busy_.load() > 0) {
    std::fputs("stopping: requests still running after 30 s; exiting\n", stderr);
    std::fflush(stderr);
    log_.close();
    std::_Exit(kExitOk);
  }
  work.reset();
  ioc_.stop();
  for (std::thread& t : pool) t.join();
  log_.close();
  std::fputs("stopped\n", stderr);
  std::fflush(stderr);
  return kExitOk;
}

void Server::accept() {
  acceptor_.async_accept(asio::make_strand(ioc_), [this](beast::error_code ec, tcp::socket socket) {
    if (!acceptor_.is_open()) return;
    if (ec) {
      // Out of descriptors and the like: try again in a moment.
      timer_ = std::make_unique<asio::steady_timer>(control_, std::chrono::milliseconds(50));
      timer_->async_wait([this](beast::error_code e) {
        if (!e && acceptor_.is_open()) accept();
      });
      return;
    }
    socket.set_option(tcp::no_delay(true), ec);
    std::make_shared<Session>(std::move(socket), *this)->start();
    accept();
  });
}

// SIGTERM / SIGINT: stop accepting at once, /ready answers 503, the requests in flight get up
// to 30 s, then the process ends.
void Server::stop() {
  stopping_ = true;
  beast::error_code ignored;
  acceptor_.close(ignored);
  wait_for_requests(Clock::now() + std::chrono::seconds(kGraceSeconds));
}

void Server::wait_for_requests(Clock::time_point deadline) {
  if (busy_.load() == 0 || Clock::now() >= deadline) {
    control_.stop();
    return;
  }
  timer_ = std::make_unique<asio::steady_timer>(control_, std::chrono::milliseconds(5));
  timer_->async_wait([this, deadline](beast::error_code) { wait_for_requests(deadline); });
}

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
