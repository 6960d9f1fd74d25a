// modelport_metrics.hpp: the HTTP server's counters, latency histogram (Prometheus text format
// 0.0.4) and request log (JSON lines), written as the Java runtime's Metrics.java and
// RequestLog.java write them.
#ifndef MODELPORT_METRICS_HPP
#define MODELPORT_METRICS_HPP

#include <array>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <functional>
#include <map>
#include <mutex>
#include <random>
#include <string>
#include <thread>

#include "modelport_json.hpp"

namespace modelport {
namespace serve {

class Metrics {
 public:
  // Upper bounds of the latency buckets in seconds (+Inf follows), and as written in `le`.
  static constexpr std::array<double, 12> kBuckets = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
                                                      0.05,   0.1,   0.25,   0.5,   1,     2.5};
  static constexpr std::array<const char*, 12> kLe = {"0.0005", "0.001", "0.0025", "0.005", "0.01", "0.025",
                                                      "0.05",   "0.1",   "0.25",   "0.5",   "1",    "2.5"};

  // One answered request; `path` is a known path or "other".
  void request(const std::string& path, int code) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      ++requests_[path][code];
    }
    if (code >= 400) ++errors_;
  }
  void rows_scored(int64_t n) { rows_ += n; }
  // The latency of one POST /predict.
  void latency(int64_t nanos) {
    const double s = static_cast<double>(nanos) / 1e9;
    size_t i = 0;
    while (i < kBuckets.size() && s > kBuckets[i]) ++i;
    ++buckets_[i];
    sum_nanos_ += nanos;
    ++count_;
  }

  std::string text() {
    std::string s;
    s += "# HELP modelport_requests_total HTTP requests answered, by path and status code.\n";
    s += "# TYPE modelport_requests_total counter\n";
    {
      std::lock_guard<std::mutex> lock(mu_);
      for (const auto& p : requests_)
        for (const auto& c : p.second)
          s += "modelport_requests_total{path=\"" + label(p.first) + "\",code=\"" + std::to_string(c.first) + "\"} " +
               std::to_string(c.second) + "\n";
    }
    s += "# HELP modelport_errors_total HTTP requests answered with a 4xx or 5xx status.\n";
    s += "# TYPE modelport_errors_total counter\n";
    s += "modelport_errors_total " + std::to_string(errors_.load()) + "\n";
    s += "# HELP modelport_rows_scored_total Rows evaluated by the model for /predict.\n";
    s += "# TYPE modelport_rows_scored_total counter\n";
    s += "modelport_rows_scored_total " + std::to_string(rows_.load()) + "\n";
    s += "# HELP modelport_request_duration_seconds Time to answer a /predict request.\n";
    s += "# TYPE modelport_request_duration_seconds histogram\n";
    // The total first: the buckets, read after, are then never below it in a snapshot.
    const int64_t total = count_.load();
    const int64_t sum = sum_nanos_.load();
    int64_t cumulative = 0;
    for (size_t i = 0; i <= kBuckets.size(); ++i) {
      cumulative += buckets_[i].load();
      s += std::string("modelport_request_duration_seconds_bucket{le=\"") + (i < kBuckets.size() ? kLe[i] : "+Inf") +
           "\"} " + std::to_string(i < kBuckets.size() ? std::min(cumulative, total) : total) + "\n";
    }
    s += "modelport_request_duration_seconds_sum " + json::java_double(static_cast<double>(sum) / 1e9) + "\n";
    s += "modelport_request_duration_seconds_count " + std::to_string(total) + "\n";
    return s;
  }

  // A label value escaped as the text format asks (backslash, quote, line feed).
  static std::string label(const std::string& v) {
    std::string s;
    for (char c : v) {
      if (c == '\\') s += "\\\\";
      else if (c == '"') s += "\\\"";
      else if (c == '\n') s += "\\n";
      else s += c;
    }
    return s;
  }

 private:
  std::mutex mu_;
  std::map<std::string, std::map<int, int64_t>> requests_;
  std::atomic<int64_t> errors_{0};
  std::atomic<int64_t> rows_{0};
  std::array<std::atomic<int64_t>, 13> buckets_{};
  std::atomic<int64_t> count_{0};
  std::atomic<int64_t> sum_nanos_{0};
};

// The request log: one JSON line per sampled /predict request, appended and flushed line by line.
class RequestLog {
 public:
  ~RequestLog() { close(); }
  bool open(const std::string& path, double sample) {
    sample_ = sample;
    f_ = std::fopen(path.c_str(), "a");
    return f_ != nullptr;
  }
  bool enabled() const { return f_ != nullptr; }
  // Whether to log the next request (true with probability `sample`).
  bool sampled() const {
    if (f_ == nullptr) return false;
    if (sample_ >= 1.0) return true;
    if (sample_ <= 0.0) return false;
    thread_local std::mt19937_64 rng(std::random_device{}() ^ std::hash<std::thread::id>()(std::this_thread::get_id()));
    return std::uniform_real_distribution<double>(0.0, 1.0)(rng) < sample_;
  }
  // Appends one line; inputs, outputs and error are JSON texts, "" for null; `shadow` the
  // "shadow" key's JSON value, "" for no such key (a server without --shadow).
  void write(std::chrono::system_clock::time_point start, int64_t rows, const std::string& inputs,
             const std::string& outputs, const std::string& error, double ms, const std::string& shadow) {
    std::string s;
    s.reserve(96 + inputs.size() + outputs.size() + error.size() + shadow.size());
    s += "{\"time\": \"" + utc(start) + "\", \"rows\": " + std::to_string(rows);
    s += ", \"inputs\": " + (inputs.empty() ? std::string("null") : inputs);
    s += ", \"outputs\": " + (outputs.empty() ? std::string("null") : outputs);
    s += ", \"error\": " + (error.empty() ? std::string("null") : error);
    s += ", \"ms\": " + json::java_double(static_cast<double>(std::llround(ms * 1000)) / 1000.0);
    if (!shadow.empty()) s += ", \"shadow\": " + shadow;  // only with --shadow
    s += "}\n";
    std::lock_guard<std::mutex> lock(mu_);
    if (failed_ || f_ == nullptr) return;
    if (std::fwrite(s.data(), 1, s.size(), f_) != s.size() || std::fflush(f_) != 0) {
      // A full disk must not take the server down: say so once and stop logging.
      failed_ = true;
      std::fprintf(stderr, "error: cannot write the request log: %s\n", std::strerror(errno));
    }
  }
  void close() {
    std::lock_guard<std::mutex> lock(mu_);
    if (f_) std::fclose(f_);
    f_ = nullptr;
  }

  // yyyy-MM-ddTHH:mm:ss.SSSZ
  static std::string utc(std::chrono::system_clock::time_point t) {
    const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
    const std::time_t secs = static_cast<std::time_t>(ms / 1000);
    std::tm tm{};
    gmtime_r(&secs, &tm);
    char buf[64];
    std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                  tm.tm_hour, tm.tm_min, tm.tm_sec, static_cast<int>(ms % 1000));
    return buf;
  }

 private:
  std::FILE* f_ = nullptr;
  double sample_ = 1.0;
  std::mutex mu_;
  bool failed_ = false;
};

}  // namespace serve
}  // namespace modelport

#endif  // MODELPORT_METRICS_HPP
