// In-process benchmark driver for a modelport C++ library (see benchmarks/run.py).
//
//   driver LIB NAME DATA N_ROWS N_FEATURES OUT_SPEC [IN_SPEC TENSORS]
//
// Loads LIB with dlopen and calls NAME_predict (the generated float C ABI, on the rows rounded
// to float32), NAME_predict_f64 (the double C ABI, when the library has it) and, as a call-path
// diagnostic, NAME::Model::run (the type-erased kernel entry point, found by its mangled
// name) on the N_ROWS x N_FEATURES float64 rows in DATA. OUT_SPEC lists the model's output
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
// The answer to start-up is "ready N_OUT run|- abi|- abi64|-" (the paths there are). Commands
// come one per line on stdin, answers one line on stdout:
//
//   check FILE N_SINGLE      batch outputs of every row, then single-row outputs of the
//                            first N_SINGLE rows, as float64 to FILE (every path: abi and
//                            abi64 first when there, then run when enabled); values of str
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
// PATH is "abi", "abi64" or "run".
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
using Predict64Fn = int (*)(const double*, int64_t, double*);
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

enum Path { ABI, ABI64, RUN };

Path parse_path(const std::string& p) {
  if (p == "abi") return ABI;
  if (p == "abi64") return ABI64;
  if (p == "run") return RUN;
  die("unknown path " + p);
}

struct Bench {
  PredictFn predict = nullptr;
  Predict64Fn predict64 = nullptr;
  RunFn run = nullptr;
  int64_t n_rows = 0, n_feat = 0, n_out = 0;
  std::vector<double> x64;  // the rows as given
  std::vector<float> x;     // the rows rounded to float32 (abi path, and run without typed inputs)
  std::vector<float> y;     // n_rows * n_out (abi path)
  std::vector<double> y64;  // n_rows * n_out (abi64 path)
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
  bool has(Path p) const { return p == ABI ? predict != nullptr : p == ABI64 ? predict64 != nullptr : run != nullptr; }

  void call(Path path, int64_t r0, int64_t n) {
    const float* xr = x.data() + r0 * n_feat;
    if (path == RUN) {
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
    } else if (path == ABI64) {
      if (predict64(x64.data() + r0 * n_feat, n, y64.data() + r0 * n_out) != 0) die("predict_f64 returned an error");
    } else {
      if (predict(xr, n, y.data() + r0 * n_out) != 0) die("predict returned an error");
    }
  }

  // A path's outputs for rows [r0, r0 + n) as doubles in column (tensor) order; the run
  // path's strings go to `strs` (NaN in their place).
  void rows_as_doubles(Path path, int64_t r0, int64_t n, std::vector<double>& dst, std::string& strs) {
    if (path == ABI) dst.insert(dst.end(), y.begin() + r0 * n_out, y.begin() + (r0 + n) * n_out);
    if (path == ABI64) dst.insert(dst.end(), y64.begin() + r0 * n_out, y64.begin() + (r0 + n) * n_out);
    if (path != RUN) return;
    for (int64_t r = r0; r < r0 + n; ++r)
      for (size_t i = 0; i < outs.size(); ++i)
        for (int64_t k = 0; k < outs[i].size; ++k) {
          int64_t idx = r * outs[i].size + k;
          if (outs[i].dtype == F32) dst.push_back(f32[i][idx]);
          else if (outs[i].dtype == F64) dst.push_back(f64[i][idx]);
          else if (outs[i].dtype == I64) dst.push_back(static_cast<double>(i64[i][idx]));
          else dst.push_back(std::nan("")), strs += str[i][idx] + "\n";
        }
  }

  float first_output(Path path) const { return path == ABI ? y[0] : path == ABI64 ? static_cast<float>(y64[0]) : 0.0f; }
};

// GROUP single-row calls on consecutive rows (one row, one call, as a service makes them).
int64_t single_group(Bench& b, Path path, int64_t& row, int64_t group) {
  int64_t t0 = now_ns();
  for (int64_t g = 0; g < group; ++g) {
    b.call(path, row, 1);
    if (++row == b.n_rows) row = 0;
  }
  int64_t t1 = now_ns();
  g_sink = b.first_output(path);
  return t1 - t0;
}

// The path a command names, which the library must have.
Path command_path(const Bench& b, const std::string& name) {
  Path p = parse_path(name);
  if (!b.has(p)) die("no " + name + " path");
  return p;
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
    b.predict64 = reinterpret_cast<Predict64Fn>(dlsym(h, (name + "_predict_f64").c_str()));
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
    b.x64.resize(static_cast<size_t>(b.n_rows * b.n_feat));
    FILE* f = std::fopen(data.c_str(), "rb");
    if (!f || std::fread(b.x64.data(), sizeof(double), b.x64.size(), f) != b.x64.size()) die("cannot read " + data);
    std::fclose(f);
    b.x.assign(b.x64.begin(), b.x64.end());  // rounded to float32 as a C cast rounds
    b.y.resize(static_cast<size_t>(b.n_rows * b.n_out));
    if (b.predict64) b.y64.resize(b.y.size());
  } else {
    b.y.resize(1);
  }
  std::cout << "ready " << b.n_out << " " << (b.run ? "run" : "-") << " " << (abi ? "abi" : "-") << " "
            << (b.predict64 ? "abi64" : "-") << std::endl;
  std::vector<Path> paths;  // every path the library has, in check order
  for (Path p : {ABI, ABI64, RUN})
    if (b.has(p)) paths.push_back(p);

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
      std::vector<double> res;
      std::string strs;
      for (Path p : paths) {
        b.call(p, 0, b.n_rows);
        b.rows_as_doubles(p, 0, b.n_rows, res, strs);
        std::fill(b.y.begin(), b.y.end(), -12345.0f);
        std::fill(b.y64.begin(), b.y64.end(), -12345.0);
        for (int64_t r = 0; r < n_single; ++r) {
          b.call(p, r, 1);
          b.rows_as_doubles(p, r, 1, res, strs);
        }
      }
      FILE* o = std::fopen(file.c_str(), "wb");
      if (!o || std::fwrite(res.data(), sizeof(double), res.size(), o) != res.size()) die("cannot write " + file);
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
        for (Path p : paths) {
          b.call(p, 0, b.n_rows);
          single_group(b, p, row, 1000);
        }
      }
      std::cout << "ok" << std::endl;
    } else if (cmd == "batch") {
      std::string path;
      int64_t reps;
      in >> path >> reps;
      Path p = command_path(b, path);
      std::ostringstream os;
      for (int64_t i = 0; i < reps; ++i) {
        int64_t c0 = cpu_ns(), t0 = now_ns();
        b.call(p, 0, b.n_rows);
        int64_t t1 = now_ns(), c1 = cpu_ns();
        os << (t1 - t0) << "," << (c1 - c0) << (i + 1 < reps ? " " : "");
      }
      std::cout << os.str() << std::endl;
    } else if (cmd == "single") {
      std::string path;
      int64_t group, max_groups, budget_ms;
      in >> path >> group >> max_groups >> budget_ms;
      Path p = command_path(b, path);
      std::ostringstream os;
      int64_t end = now_ns() + budget_ms * 1000000, row = 0;
      for (int64_t g = 0; g < max_groups && (g < 3 || now_ns() < end); ++g)
        os << (g ? " " : "") << single_group(b, p, row, group);
      std::cout << os.str() << std::endl;
    } else if (cmd == "calls") {
      // Fixed-batch models (the TVM targets built with --batch) and calls too short to time one by one.
      std::string path;
      int64_t rows, k, reps;
      in >> path >> rows >> k >> reps;
      Path p = command_path(b, path);
      if (rows < 1 || rows > b.n_rows || k < 1) die("bad calls command: " + line);
      std::ostringstream os;
      for (int64_t i = 0; i < reps; ++i) {
        int64_t c0 = cpu_ns(), t0 = now_ns();
        for (int64_t j = 0; j < k; ++j) {
          if (calls_pos + rows > b.n_rows) calls_pos = 0;
          b.call(p, calls_pos, rows);
          calls_pos += rows;
        }
        int64_t t1 = now_ns(), c1 = cpu_ns();
        os << (t1 - t0) << "," << (c1 - c0) << (i + 1 < reps ? " " : "");
      }
      g_sink = b.first_output(p);
      std::cout << os.str() << std::endl;
    } else {
      die("unknown command: " + line);
    }
  }
  return 0;
}
