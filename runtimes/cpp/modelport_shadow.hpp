// modelport_shadow.hpp: `serve --shadow DIR`: another model (DIR/cpp/lib<name>.so, the output of
// `modelport build`) scores the rows of every answered /predict request too; its outputs are
// compared with the model's (per output column both have) and counted, never returned. The
// Java server does the same with DIR/java/<name>.jar; docs/serving.md describes both.
#ifndef MODELPORT_SHADOW_HPP
#define MODELPORT_SHADOW_HPP

#include <dirent.h>
#include <dlfcn.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdint>
#include <deque>
#include <mutex>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

#include "modelport_json.hpp"
#include "modelport_metrics.hpp"
#include "modelport_predict.hpp"
#include "modelport_runtime.hpp"
#include "modelport_serve.hpp"

namespace modelport {
namespace serve {

using Cell = OutputCell;

inline void append_cell(std::string& s, const Cell& c) {
  switch (c.type) {
    case DType::F32:
    case DType::F64: json::append_double(s, c.real); return;
    case DType::I64: s += std::to_string(c.integer); return;
    case DType::STR: json::append_string(s, c.text); return;
  }
}

// A row of cells as a JSON object under the output names (JSON strings).
inline std::string cells_row(const std::vector<std::string>& names, const std::vector<Cell>& cells, int64_t r) {
  std::string s = "{";
  const size_t w = names.size();
  for (size_t k = 0; k < w; ++k) {
    if (k) s += ',';
    s += names[k] + ":";
    append_cell(s, cells[static_cast<size_t>(r) * w + k]);
  }
  return s + "}";
}

inline std::string cells_rows(const std::vector<std::string>& names, const std::vector<Cell>& cells) {
  std::string s = "[";
  const int64_t n = names.empty() ? 0 : static_cast<int64_t>(cells.size() / names.size());
  for (int64_t r = 0; r < n; ++r) {
    if (r) s += ',';
    s += cells_row(names, cells, r);
  }
  return s + "]";
}

class Shadow {
 public:
  // Loads the shadow model of DIR for `spec`; returns "" or why it cannot be (the message
  // after "error: --shadow DIR: ").
  std::string load(const std::string& dir, const ModelSpec& spec, bool allow_extra) {
    primary_ = &spec;
    allow_extra_ = allow_extra;
    std::vector<std::string> candidates;
    for (const std::string& folder : {dir + "/cpp", dir + "/cpp/lib"}) {
      if (DIR* d = ::opendir(folder.c_str())) {
        std::vector<std::string> names;
        while (dirent* e = ::readdir(d)) {
          const std::string n = e->d_name;
          if (n.size() > 6 && n.compare(0, 3, "lib") == 0 && n.compare(n.size() - 3, 3, ".so") == 0 &&
              n != kServeLibrary)
            names.push_back(n);
        }
        ::closedir(d);
        std::sort(names.begin(), names.end());
        for (const std::string& n : names) candidates.push_back(folder + "/" + n);
      }
    }
    for (const std::string& path : candidates) {
      void* lib = ::dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
      if (lib == nullptr) continue;
      using SpecFn = const ModelSpec* (*)(int);
      auto fn = reinterpret_cast<SpecFn>(::dlsym(lib, "modelport_model_spec"));
      spec_ = fn ? fn(kServeAbi) : nullptr;
      if (spec_ != nullptr) break;
      ::dlclose(lib);
    }
    if (spec_ == nullptr) return "no C++ model library found (expected " + dir + "/cpp/lib<name>.so)";
    try {
      RowBlock check(*spec_, 1);
    } catch (const std::exception& e) {
      return std::string("the shadow model is not valid: ") + e.what();
    }
    const std::string columns = compare_inputs();
    if (!columns.empty()) return "the shadow model's input columns differ from this model's: " + columns;
    for (int k = 0; k < spec.num_output_columns; ++k) {
      names_.push_back(json::quote(spec.output_columns[k].name));
      for (int m = 0; m < spec_->num_output_columns; ++m)
        if (std::string(spec.output_columns[k].name) == spec_->output_columns[m].name) {
          Common c;
          c.primary = k;
          c.shadow = m;
          c.name = spec.output_columns[k].name;
          c.numeric = spec.outputs[spec.output_columns[k].tensor].dtype != DType::STR &&
                      spec_->outputs[spec_->output_columns[m].tensor].dtype != DType::STR;
          common_.push_back(c);
        }
    }
    for (int m = 0; m < spec_->num_output_columns; ++m) shadow_names_.push_back(json::quote(spec_->output_columns[m].name));
    if (common_.empty()) return "the two models have no output column in common";
    return "";
  }

  std::string name() const { return spec_ && spec_->model_name ? spec_->model_name : "model"; }

  // Scores the rows of `t` (which the model answered with `primary`) with the shadow and
  // compares; returns the log's "shadow" value. `inputs(r)`: row r of the request as the log
  // writes it (for the sample). Sets *differing when a row differs.
  template <class Inputs>
  std::string compare(const Table& t, const std::vector<Cell>& primary, Inputs&& inputs, bool* differing) {
    CellSink sink;
    sink.width = spec_->num_output_columns;
    Refusal error;
    bool ok = false;
    try {
      ok = score_rows(*spec_, t, allow_extra_, sink, error);
    } catch (const std::bad_alloc&) {
      error = Refusal::of(500, "out of memory");
    } catch (const std::exception& e) {
      error = Refusal::of(500, std::string("model evaluation failed: ") + e.what());
    } catch (...) {
      error = Refusal::of(500, "model evaluation failed");
    }
    *differing = false;
    if (!ok) {
      ++errors_;
      *differing = true;  // a shadow failure is logged whatever the sampling, as differences are
      return "{\"outputs\": null, \"error\": " + error.json() + ", \"differing\": []}";
    }
    const int64_t n = t.rows();
    const size_t pw = names_.size(), sw = shadow_names_.size();
    std::vector<int64_t> rows;
    std::lock_guard<std::mutex> lock(mu_);
    rows_ += n;
    for (int64_t r = 0; r < n; ++r) {
      bool row_differs = false;
      for (Common& c : common_) {
        const Cell& a = primary[static_cast<size_t>(r) * pw + static_cast<size_t>(c.primary)];
        const Cell& b = sink.cells[static_cast<size_t>(r) * sw + static_cast<size_t>(c.shadow)];
        bool differs;
        double diff = 0;
        if (c.numeric) {
          const bool na = std::isnan(a.real), nb = std::isnan(b.real);
          differs = na != nb || (!na && a.real != b.real);
          diff = !differs ? 0 : na || nb ? HUGE_VAL : std::fabs(a.real - b.real);
          c.max_abs = std::max(c.max_abs, diff);
        } else {
          differs = text(a) != text(b);
        }
        if (differs) {
          ++c.differing;
          row_differs = true;
        }
      }
      if (row_differs) {
        rows.push_back(r);
        ++rows_differing_;
        sample_.push_back("{\"inputs\":" + inputs(r) + ",\"outputs\":" + cells_row(names_, primary, r) +
                          ",\"shadow\":" + cells_row(shadow_names_, sink.cells, r) + "}");
        if (sample_.size() > 20) sample_.pop_front();
      }
    }
    *differing = !rows.empty();
    std::string s = "{\"outputs\": " + cells_rows(shadow_names_, sink.cells) + ", \"error\": null, \"differing\": [";
    for (size_t i = 0; i < rows.size(); ++i) s += (i ? "," : "") + std::to_string(rows[i]);
    return s + "]}";
  }

  // The shadow's lines of /metrics.
  std::string metrics_text() {
    std::lock_guard<std::mutex> lock(mu_);
    std::string s;
    s += "# HELP modelport_shadow_rows_total Rows scored by both the model and its shadow.\n";
    s += "# TYPE modelport_shadow_rows_total counter\n";
    s += "modelport_shadow_rows_total " + std::to_string(rows_) + "\n";
    s += "# HELP modelport_shadow_rows_differing_total Rows where any output of the shadow differs.\n";
    s += "# TYPE modelport_shadow_rows_differing_total counter\n";
    s += "modelport_shadow_rows_differing_total " + std::to_string(rows_differing_) + "\n";
    s += "# HELP modelport_shadow_differences_total Rows where this output differs (for a label: label flips).\n";
    s += "# TYPE modelport_shadow_differences_total counter\n";
    for (const Common& c : common_)
      s += "modelport_shadow_differences_total{output=\"" + Metrics::label(c.name) + "\"} " + std::to_string(c.differing) +
           "\n";
    s += "# HELP modelport_shadow_max_abs_difference Largest absolute difference seen in this numeric output.\n";
    s += "# TYPE modelport_shadow_max_abs_difference gauge\n";
    for (const Common& c : common_)
      if (c.numeric)
        s += "modelport_shadow_max_abs_difference{output=\"" + Metrics::label(c.name) + "\"} " +
             (std::isinf(c.max_abs) ? std::string("+Inf") : json::java_double(c.max_abs)) + "\n";
    s += "# HELP modelport_shadow_errors_total Requests the model answered and the shadow could not.\n";
    s += "# TYPE modelport_shadow_errors_total counter\n";
    s += "modelport_shadow_errors_total " + std::to_string(errors_.load()) + "\n";
    return s;
  }

  // GET /shadow
  std::string json_text() {
    std::lock_guard<std::mutex> lock(mu_);
    std::string s = "{\"shadow\":";
    json::append_string(s, name());
    s += ",\"rows\":" + std::to_string(rows_) + ",\"rows_differing\":" + std::to_string(rows_differing_) +
         ",\"errors\":" + std::to_string(errors_.load()) + ",\"outputs\":{";
    for (size_t i = 0; i < common_.size(); ++i) {
      const Common& c = common_[i];
      if (i) s += ',';
      json::append_string(s, c.name);
      s += ":{\"differing\":" + std::to_string(c.differing);
      if (c.numeric) {
        s += ",\"max_abs_difference\":";
        json::append_double(s, c.max_abs);
      }
      s += '}';
    }
    s += "},\"sample\":[";
    for (size_t i = 0; i < sample_.size(); ++i) s += (i ? "," : "") + sample_[i];
    return s + "]}";
  }

 private:
  struct Common {
    int primary = 0, shadow = 0;
    std::string name;
    bool numeric = false;
    int64_t differing = 0;
    double max_abs = 0;
  };

  static std::string text(const Cell& c) {
    if (c.type == DType::STR) return c.text;
    std::string s;
    append_cell(s, c);
    return s;
  }

  static std::set<std::string> levels(const ColumnSpec& c) {
    std::set<std::string> s;
    for (int l = 0; l < c.num_levels; ++l) s.insert(c.levels[l]);
    return s;
  }

  // The differences of the two input column sets: missing, extra, types, levels ("" if none).
  std::string compare_inputs() const {
    const ModelSpec& a = *primary_;
    const ModelSpec& b = *spec_;
    std::unordered_map<std::string, int> in_a, in_b;
    for (int k = 0; k < a.num_input_columns; ++k) in_a.emplace(a.input_columns[k].name, k);
    for (int k = 0; k < b.num_input_columns; ++k) in_b.emplace(b.input_columns[k].name, k);
    std::vector<std::string> parts;
    std::string missing, extra;
    for (int k = 0; k < a.num_input_columns; ++k)
      if (!in_b.count(a.input_columns[k].name))
        missing += (missing.empty() ? "missing \"" : ", \"") + std::string(a.input_columns[k].name) + "\"";
    for (int k = 0; k < b.num_input_columns; ++k)
      if (!in_a.count(b.input_columns[k].name))
        extra += (extra.empty() ? "extra \"" : ", \"") + std::string(b.input_columns[k].name) + "\"";
    if (!missing.empty()) parts.push_back(missing);
    if (!extra.empty()) parts.push_back(extra);
    std::vector<std::string> levels_differ;
    for (int k = 0; k < a.num_input_columns; ++k) {
      const auto it = in_b.find(a.input_columns[k].name);
      if (it == in_b.end()) continue;
      const ColumnSpec& ca = a.input_columns[k];
      const ColumnSpec& cb = b.input_columns[it->second];
      const DType ta = a.inputs[ca.tensor].dtype, tb = b.inputs[cb.tensor].dtype;
      if (ta != tb) {
        parts.push_back("\"" + std::string(ca.name) + "\" is " + dtype_name(ta) + " here and " + dtype_name(tb) +
                        " in the shadow");
      } else if (ta == DType::STR && (ca.num_levels > 0 || cb.num_levels > 0) && levels(ca) != levels(cb)) {
        levels_differ.push_back("\"" + std::string(ca.name) + "\" has other levels");
      }
    }
    parts.insert(parts.end(), levels_differ.begin(), levels_differ.end());
    std::string s;
    for (size_t i = 0; i < parts.size(); ++i) s += (i ? "; " : "") + parts[i];
    return s;
  }

  const ModelSpec* primary_ = nullptr;
  const ModelSpec* spec_ = nullptr;
  bool allow_extra_ = false;
  std::vector<std::string> names_, shadow_names_;  // output names (JSON strings)
  std::vector<Common> common_;
  std::mutex mu_;
  int64_t rows_ = 0, rows_differing_ = 0;
  std::atomic<int64_t> errors_{0};
  std::deque<std::string> sample_;
};

}  // namespace serve
}  // namespace modelport

#endif  // MODELPORT_SHADOW_HPP
