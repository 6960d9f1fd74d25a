// modelport TVM runtime glue: runs a TVM-compiled model (a Relax VM executable exported by
// modelport) on rows laid out as modelport's RunFn expects. The generated stub of the
// tvm-llvm and tvm-cuda targets calls it; everything else (the C++ API, the C ABI, the CSV
// program) is modelport's own runtime, shared with the cpp target.
//
// Built against the TVM runtime that ships in the apache-tvm wheel (libtvm_runtime.so and
// libtvm_ffi.so), through its tvm/ffi headers only.
#ifndef MODELPORT_TVM_HPP
#define MODELPORT_TVM_HPP

#include <cstdint>

namespace modelport_tvm {

// Element types of the compiled model's tensors.
enum class ElemType : int { F32 = 0, F64 = 1, I64 = 2, I32 = 3, BOOL = 4 };

// One tensor of the compiled model: `ndim` dimensions after the batch dimension.
struct TensorDesc {
  ElemType type;
  int ndim;
  const int64_t* row_shape;
  int64_t row_size;  // product of row_shape
};

// Where the model runs: kDLCPU (1) or kDLCUDA (2), device 0.
constexpr int kCPU = 1;
constexpr int kCUDA = 2;

// The compiled model, loaded once per process from `module_file`. The file is looked up
//   1. at the path in the environment variable MODELPORT_TVM_MODULE, when set;
//   2. next to the shared library or executable that holds this code;
//   3. in the folder above it (for bin/<name> next to lib/).
// Thread-safe: each thread gets its own virtual machine over the shared executable.
// `batch` > 0: the model was compiled for exactly that many rows per call (static shapes,
// as tuning needs); run() then feeds it chunks of `batch` rows.
class Model {
 public:
  Model(const char* module_file, int device_type, const TensorDesc* inputs, int num_inputs,
        const TensorDesc* outputs, int num_outputs, int64_t batch);
  // inputs[i]: n * row_size elements of input i; outputs[i] likewise, preallocated.
  // Throws std::runtime_error when the module cannot be loaded or the model fails.
  void run(const void* const* inputs, void* const* outputs, int64_t n) const;

 private:
  void run_batch(const void* const* inputs, void* const* outputs, int64_t n) const;
  const char* module_file_;
  int device_type_;
  const TensorDesc* inputs_;
  int num_inputs_;
  const TensorDesc* outputs_;
  int num_outputs_;
  int64_t batch_;
};

}  // namespace modelport_tvm

#endif  // MODELPORT_TVM_HPP
