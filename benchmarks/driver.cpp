// In-process benchmark driver for a modelport C++ library (see benchmarks/run.py).
//
//   driver LIB NAME DATA N_ROWS N_FEATURES OUT_SPEC [IN_SPEC TENSORS]
//
// Loads LIB with dlopen and calls NAME_predict (the generated C ABI) and, as a call-path
// diagnostic, NAME::Model::run (the type-erased kernel entry point, found by its mangled
// name) on the N_ROWS x N_FEATURES float32 rows in DATA. OUT_SPEC lists the model's output
// tensors as dtype:size (f32, f64, i64, str), e.g. "f32:1" or "i64:1,f32:2"; "-" disables
// the Model::run path.
//
// Typed inputs (models with string or several input tensors, e.g. from the R frontend):
// IN_SPEC lists the input tensors as dtype:size (f32, f64, i64, str), in tensor order, and
// TENSORS holds their N_ROWS rows, tensor after tensor: numbers little-endian, strings as a
// uint32 byte length and the UTF-8 bytes. Model::run then reads these tensors (one pointer
// per tensor, at the call's first row; std::string for str) instead of DATA. DATA may be
// "-" when the model has no float-row C ABI (string inputs or outputs): only the run path.
//
// The answer to start-up is "ready N_OUT run|- abi|-" (the paths there are). Commands come
// one per line on stdin, answers one line on stdout:
//
//   check FILE N_SINGLE      batch outputs of every row, then single-row outputs of the
//                            first N_SINGLE rows, as float32 to FILE (both paths: abi
//                            first when there, then run when enabled); values of str
//                            outputs are NaN there and go, one per line in the same order,
//                            to FILE.str                              -> "ok"
//   warm MS                  batch and single-row calls for MS milliseconds -> "ok"
//   batch PATH REPS          REPS predictions of all rows  -> WALL_NS,CPU_NS per rep (CPU: the
//                            process's CPU time, which a busy machine's preemptions leave out)
//   single PATH GROUP MAX_GROUPS BUDGET_MS
//                            groups of GROUP one-row calls on consecutive rows, until
//                            MAX_GROUPS groups or BUDGET_MS          -> ns per group
//   calls PATH ROWS K REPS   REPS reps of K calls of ROWS rows each, on consecutive slices of
//                            the rows (wrapping to row 0 when a slice would run past the
//                            end; the position carries over between commands)
//                                                 -> WALL_NS,CPU_NS per rep (for all K calls)
//   quit
// PATH is "abi" or "run".
#include <dlfcn.h>
#include <time.h>

#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

namespace {

using PredictFn = int (*)(const float*, int64_t, float*);
using CountFn = int64_t (*)();
using RunFn = void (*)(const void* const*, void* const*, int64_t);

enum Dt { F32, F64, I64, STR };

struct OutTensor {
  Dt dtype;
  int64_t size;
};

// One typed input tensor, all rows (only one of the vectors is used).
struct InTensor {
  Dt dtype;
  int64_t size;
  std::vector<float> f32;
  std::vector<double> f64;
  std::vector<int64_t> i64;
  std::vector<std::string> str;
  const void* at(int64_t r0) const {
    size_t off = static_cast<size_t>(r0 * size);
    if (dtype == F32) return f32.data() + off;
    if (dtype == F64) return f64.data() + off;
    if (dtype == I64) return i64.data() + off;
    return str.data() + off;
  }
};

constexpr size_t kMaxTensors = 256;

int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

int64_t cpu_ns() {
  timespec ts;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}

[[noreturn]] void die(const std::string& msg) {
  std::cerr << "driver: " << msg << std::endl;
  std::exit(2);
}

Dt parse_dtype(const std::string& dt) {
  if (dt == "f32") return F32;
  if (dt == "f64") return F64;
  if (dt == "i64") return I64;
  if (dt == "str") return STR;
  die("unknown dtype " + dt);
}

// "dtype:size,..." as (dtype, size) pairs.
std::vector<std::pair<Dt, int64_t>> parse_spec(const std::string& spec) {
  std::vector<std::pair<Dt, int64_t>> out;
  std::stringstream ss(spec);
  std::string item;
  while (std::getline(ss, item, ',')) {
    auto colon = item.find(':');
    if (colon == std::string::npos) die("bad tensor spec " + item);
    out.emplace_back(parse_dtype(item.substr(0, colon)), std::stoll(item.substr(colon + 1)));
  }
  return out;
}

template <typename T>
void read_exact(FILE* f, T* dst, size_t n, const std::string& what) {
  if (n && std::fread(dst, sizeof(T), n, f) != n) die("cannot read " + what);
}

// A sink the optimizer cannot see through, so that no call is dropped.
volatile float g_sink;

struct Bench {
  PredictFn predict = nullptr;
  RunFn run = nullptr;
  int64_t n_rows = 0, n_feat = 0, n_out = 0;
  std::vector<float> x;
  std::vector<float> y;  // n_rows * n_out (abi path)
  std::vector<OutTensor> outs;
  std::vector<InTensor> ins;  // typed inputs of the run path; empty: the rows of x
  const void* in_buf[kMaxTensors];  // their pointers for one call
  // Buffers for the run path: one per output tensor, sized for n_rows.
  std::vector<std::vector<float>> f32;
  std::vector<std::vector<double>> f64;
  std::vector<std::vector<int64_t>> i64;
  std::vector<std::vector<std::string>> str;

  void setup_run_buffers() {
    f32.resize(outs.size());
    f64.resize(outs.size());
    i64.resize(outs.size());
    str.resize(outs.size());
    for (size_t i = 0; i < outs.size(); ++i) {
      size_t n = static_cast<size_t>(n_rows * outs[i].size);
      if (outs[i].dtype == F32) f32[i].resize(n);
      else if (outs[i].dtype == F64) f64[i].resize(n);
      else if (outs[i].dtype == I64) i64[i].resize(n);
      else str[i].resize(n);
    }
  }

  void read_tensors(const std::string& spec, const std::string& file) {
    FILE* f = std::fopen(file.c_str(), "rb");
    if (!f) die("cannot open " + file);
    for (auto [dtype, size] : parse_spec(spec)) {
      InTensor t{dtype, size, {}, {}, {}, {}};
      size_t n = static_cast<size_t>(n_rows * size);
      if (dtype == F32) t.f32.resize(n), read_exact(f, t.f32.data(), n, file);
      else if (dtype == F64) t.f64.resize(n), read_exact(f, t.f64.data(), n, file);
      else if (dtype == I64) t.i64.resize(n), read_exact(f, t.i64.data(), n, file);
      else {
        t.str.resize(n);
        for (auto& v : t.str) {
          uint32_t len;
          read_exact(f, &len, 1, file);
          v.resize(len);
          read_exact(f, v.data(), len, file);
        }
      }
      ins.push_back(std::move(t));
    }
    char extra;
    if (std::fread(&extra, 1, 1, f) != 0) die(file + " is longer than IN_SPEC says");
    std::fclose(f);
    if (ins.empty() || ins.size() > kMaxTensors) die("bad IN_SPEC " + spec);
  }

  // Rows [r0, r0 + n) through the chosen path; outputs of the run path stay in its buffers.
  void call(bool use_run, int64_t r0, int64_t n) {
    const float* xr = x.data() + r0 * n_feat;
    if (use_run) {
      const void* one[1] = {xr};
      const void* const* in_ptrs = one;
      if (!ins.empty()) {
        for (size_t i = 0; i < ins.size(); ++i) in_buf[i] = ins[i].at(r0);
        in_ptrs = in_buf;
      }
      // Each call writes its outputs at its rows' own offsets.
      void* shifted[8];
      for (size_t i = 0; i < outs.size(); ++i) {
        int64_t off = r0 * outs[i].size;
        if (outs[i].dtype == F32) shifted[i] = f32[i].data() + off;
        else if (outs[i].dtype == F64) shifted[i] = f64[i].data() + off;
        else if (outs[i].dtype == I64) shifted[i] = i64[i].data() + off;
        else shifted[i] = str[i].data() + off;
      }
      run(in_ptrs, shifted, n);
    } else {
      if (predict(xr, n, y.data() + r0 * n_out) != 0) die("predict returned an error");
    }
  }

  // The run path's outputs for rows [r0, r0 + n) as floats in column (tensor) order;
  // strings go to `strs` (NaN in their place).
  void run_rows_as_floats(int64_t r0, int64_t n, std::vector<float>& dst, std::string& strs) {
    for (int64_t r = r0; r < r0 + n; ++r)
      for (size_t i = 0; i < outs.size(); ++i)
        for (int64_t k = 0; k < outs[i].size; ++k) {
          int64_t idx = r * outs[i].size + k;
          if (outs[i].dtype == F32) dst.push_back(f32[i][idx]);
          else if (outs[i].dtype == F64) dst.push_back(static_cast<float>(f64[i][idx]));
          else if (outs[i].dtype == I64) dst.push_back(static_cast<float>(i64[i][idx]));
          else dst.push_back(std::nanf("")), strs += str[i][idx] + "\n";
        }
  }
};

// GROUP single-row calls on consecutive rows (one row, one call, as a service makes them).
int64_t single_group(Bench& b, bool use_run, int64_t& row, int64_t group) {
  int64_t t0 = now_ns();
  for (int64_t g = 0; g < group; ++g) {
    b.call(use_run, row, 1);
    if (++row == b.n_rows) row = 0;
  }
  int64_t t1 = now_ns();
  g_sink = use_run ? 0.0f : b.y[0];
  return t1 - t0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 7 && argc != 9) die("usage: driver LIB NAME DATA N_ROWS N_FEATURES OUT_SPEC [IN_SPEC TENSORS]");
  const std::string lib = argv[1], name = argv[2], data = argv[3], out_spec = argv[6];
  const bool typed = argc == 9, abi = data != "-";
  if (!abi && !typed) die("DATA \"-\" needs IN_SPEC and TENSORS");
  Bench b;
  b.n_rows = std::stoll(argv[4]);
  b.n_feat = std::stoll(argv[5]);

  void* h = dlopen(lib.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (!h) die(std::string("dlopen: ") + dlerror());
  int64_t total = 0;
  if (out_spec != "-")
    for (auto [dtype, size] : parse_spec(out_spec)) b.outs.push_back({dtype, size}), total += size;
  if (abi) {
    b.predict = reinterpret_cast<PredictFn>(dlsym(h, (name + "_predict").c_str()));
    auto nf = reinterpret_cast<CountFn>(dlsym(h, (name + "_num_features").c_str()));
    auto no = reinterpret_cast<CountFn>(dlsym(h, (name + "_num_outputs").c_str()));
    if (!b.predict || !nf || !no) die("the library lacks the " + name + "_predict C ABI");
    if (nf() != b.n_feat) die("the library expects " + std::to_string(nf()) + " features");
    b.n_out = no();
  } else {
    if (out_spec == "-") die("DATA \"-\" needs OUT_SPEC");
    b.n_out = total;
  }
  if (out_spec != "-") {
    const std::string mangled = "_ZN" + std::to_string(name.size()) + name + "5Model3runEPKPKvPKPvl";
    b.run = reinterpret_cast<RunFn>(dlsym(h, mangled.c_str()));
    if (b.outs.size() > 8 || total != b.n_out) b.run = nullptr;
    if (!abi && !b.run) die("no Model::run in the library, or OUT_SPEC does not match it");
    if (b.run) b.setup_run_buffers();
  }
  if (typed) b.read_tensors(argv[7], argv[8]);

  if (abi) {
    b.x.resize(static_cast<size_t>(b.n_rows * b.n_feat));
    b.y.resize(static_cast<size_t>(b.n_rows * b.n_out));
    FILE* f = std::fopen(data.c_str(), "rb");
    if (!f || std::fread(b.x.data(), sizeof(float), b.x.size(), f) != b.x.size()) die("cannot read " + data);
    std::fclose(f);
  } else {
    b.y.resize(1);
  }
  std::cout << "ready " << b.n_out << " " << (b.run ? "run" : "-") << " " << (abi ? "abi" : "-") << std::endl;

  std::string line;
  int64_t calls_pos = 0;  // where the next "calls" slice starts
  while (std::getline(std::cin, line)) {
    std::istringstream in(line);
    std::string cmd;
    in >> cmd;
    if (cmd == "quit") break;
    if (cmd == "check") {
      std::string file;
      int64_t n_single;
      in >> file >> n_single;
      std::vector<float> res;
      std::string strs;
      for (int p = abi ? 0 : 1; p < (b.run ? 2 : 1); ++p) {
        bool use_run = p == 1;
        b.call(use_run, 0, b.n_rows);
        if (use_run) b.run_rows_as_floats(0, b.n_rows, res, strs);
        else res.insert(res.end(), b.y.begin(), b.y.end());
        std::fill(b.y.begin(), b.y.end(), -12345.0f);
        for (int64_t r = 0; r < n_single; ++r) {
          b.call(use_run, r, 1);
          if (use_run) b.run_rows_as_floats(r, 1, res, strs);
          else res.insert(res.end(), b.y.begin() + r * b.n_out, b.y.begin() + (r + 1) * b.n_out);
        }
      }
      FILE* o = std::fopen(file.c_str(), "wb");
      if (!o || std::fwrite(res.data(), sizeof(float), res.size(), o) != res.size()) die("cannot write " + file);
      std::fclose(o);
      if (!strs.empty()) {
        FILE* so = std::fopen((file + ".str").c_str(), "wb");
        if (!so || std::fwrite(strs.data(), 1, strs.size(), so) != strs.size()) die("cannot write " + file + ".str");
        std::fclose(so);
      }
      std::cout << "ok" << std::endl;
    } else if (cmd == "warm") {
      int64_t ms;
      in >> ms;
      int64_t end = now_ns() + ms * 1000000, row = 0;
      while (now_ns() < end) {
        for (int p = abi ? 0 : 1; p < (b.run ? 2 : 1); ++p) {
          b.call(p == 1, 0, b.n_rows);
          single_group(b, p == 1, row, 1000);
        }
      }
      std::cout << "ok" << std::endl;
    } else if (cmd == "batch") {
      std::string path;
      int64_t reps;
      in >> path >> reps;
      bool use_run = path == "run";
      if (use_run && !b.run) die("no run path");
      if (!use_run && !abi) die("no abi path");
      std::ostringstream os;
      for (int64_t i = 0; i < reps; ++i) {
        int64_t c0 = cpu_ns(), t0 = now_ns();
        b.call(use_run, 0, b.n_rows);
        int64_t t1 = now_ns(), c1 = cpu_ns();
        os << (t1 - t0) << "," << (c1 - c0) << (i + 1 < reps ? " " : "");
      }
      std::cout << os.str() << std::endl;
    } else if (cmd == "single") {
      std::string path;
      int64_t group, max_groups, budget_ms;
      in >> path >> group >> max_groups >> budget_ms;
      bool use_run = path == "run";
      if (use_run && !b.run) die("no run path");
      if (!use_run && !abi) die("no abi path");
      std::ostringstream os;
      int64_t end = now_ns() + budget_ms * 1000000, row = 0;
      for (int64_t g = 0; g < max_groups && (g < 3 || now_ns() < end); ++g)
        os << (g ? " " : "") << single_group(b, use_run, row, group);
      std::cout << os.str() << std::endl;
    } else if (cmd == "calls") {
      // Fixed-batch models (the TVM targets built with --batch) and calls too short to time one by one.
      std::string path;
      int64_t rows, k, reps;
      in >> path >> rows >> k >> reps;
      bool use_run = path == "run";
      if (use_run && !b.run) die("no run path");
      if (!use_run && !abi) die("no abi path");
      if (rows < 1 || rows > b.n_rows || k < 1) die("bad calls command: " + line);
      std::ostringstream os;
      for (int64_t i = 0; i < reps; ++i) {
        int64_t c0 = cpu_ns(), t0 = now_ns();
        for (int64_t j = 0; j < k; ++j) {
          if (calls_pos + rows > b.n_rows) calls_pos = 0;
          b.call(use_run, calls_pos, rows);
          calls_pos += rows;
        }
        int64_t t1 = now_ns(), c1 = cpu_ns();
        os << (t1 - t0) << "," << (c1 - c0) << (i + 1 < reps ? " " : "");
      }
      g_sink = use_run ? 0.0f : b.y[0];
      std::cout << os.str() << std::endl;
    } else {
      die("unknown command: " + line);
    }
  }
  return 0;
}
