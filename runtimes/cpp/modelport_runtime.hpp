// modelport runtime: the small support library that generated model code builds with.
//
// C++17, standard library only: the declarations; modelport_runtime.cpp implements them. It provides
//   * the model description types (ModelSpec, TensorSpec, ColumnSpec),
//   * csv_main(): the complete command-line program (CSV on stdin -> CSV on stdout),
//   * predict_float_rows(), predict_double_rows(): the helpers behind the generated C ABI entry
//     points of models with int64 inputs (<name>_predict, <name>_predict_f64),
//   * LevelIndex: the check of closed string columns (known levels) for the typed APIs.
//
// The program contract is documented in docs/csv-interface.md; the Java runtime
// (runtimes/java/modelport/runtime) implements the same contract.
#ifndef MODELPORT_RUNTIME_HPP
#define MODELPORT_RUNTIME_HPP

#include <cstddef>
#include <cstdint>
#include <cstdio>

namespace modelport {

enum class DType : int { F32 = 0, F64 = 1, I64 = 2, STR = 3 };

// One model input or output tensor. Each example (CSV row) holds `row_size` elements.
struct TensorSpec {
  const char* name;
  DType dtype;
  int64_t row_size;
};

// A CSV column bound to element `offset` of one row of tensor `tensor`
// (an index into ModelSpec::inputs or ModelSpec::outputs).
//
// A string input column with num_levels > 0 is *closed*: levels[0..num_levels) are the only
// values it accepts besides the empty string (a missing value); csv_main and LevelIndex::check
// reject any other value. num_levels == 0 (the default) leaves the column open. The two
// level fields come last and have defaults, so `{name, tensor, offset}` still initializes
// an open column.
struct ColumnSpec {
  const char* name;
  int tensor;
  int64_t offset;
  const char* const* levels = nullptr;
  int num_levels = 0;
};

// inputs[i] points to n * row_size elements of input i (float*, double*, int64_t* or
// std::string* by dtype), row-major. outputs[i] likewise, preallocated by the caller.
using RunFn = void (*)(const void* const* inputs, void* const* outputs, int64_t n);

struct ModelSpec {
  const char* model_name;
  const TensorSpec* inputs;
  int num_inputs;
  const TensorSpec* outputs;
  int num_outputs;
  const ColumnSpec* input_columns;  // every input element is covered by exactly one column
  int num_input_columns;
  const ColumnSpec* output_columns;  // CSV output column order
  int num_output_columns;
  const char* description;  // human-readable schema text, printed by --schema
  RunFn run;
};

// Exit codes of csv_main.
constexpr int kExitOk = 0;
constexpr int kExitFailure = 1;      // the model threw, or writing the output failed
constexpr int kExitBadInput = 2;     // bad arguments, bad header, bad value, bad row
constexpr int kExitInvalidSpec = 3;  // the ModelSpec itself is inconsistent (a code generation bug)

// Return codes of predict_float_rows and predict_double_rows.
constexpr int kPredictOk = 0;
constexpr int kPredictBadArguments = 1;  // null pointer or negative n_rows
constexpr int kPredictUnsupported = 2;   // the model has string tensors or an invalid spec
constexpr int kPredictBadValue = 3;      // a value for an int64 input is not an integer
constexpr int kPredictModelError = 4;    // the model threw (or memory ran out)

// The closed string input columns of a spec, indexed once (a hash set per column) for
// checking values against their levels. Immutable after construction, so one instance can
// be shared by threads (generated code keeps one in a function-local static).
class LevelIndex {
 public:
  explicit LevelIndex(const ModelSpec& spec);
  ~LevelIndex();
  LevelIndex(const LevelIndex&) = delete;
  LevelIndex& operator=(const LevelIndex&) = delete;

  // True when input column `column` (an index into spec.input_columns) accepts the value:
  // the column is open, the value is empty, or it is one of the column's levels.
  bool allows(int column, const char* value, std::size_t len) const noexcept;
  // Checks every closed string input column of n rows laid out as for RunFn. Throws
  // std::invalid_argument for the first unknown value, with the message
  //   column "NAME": unknown level "VALUE" (known levels: "L1", "L2", ...)
  void check(const void* const* inputs, int64_t n) const;

 private:
  struct Impl;
  Impl* impl_;
};

int csv_main(const ModelSpec& spec, int argc, char** argv);
int csv_main(const ModelSpec& spec, int argc, char** argv, std::FILE* in, std::FILE* out,
             std::FILE* err);
// Rows of numbers in input-column order (x: n_rows * num_input_columns values, row-major) to
// rows in output-column order (y: n_rows * num_output_columns values, preallocated). Returns a
// kPredict* code. predict_float_rows passes float32 values only: a float64 model gets its
// inputs as float32 values and its outputs rounded to float32. predict_double_rows narrows to
// float32 only where a tensor is float32 (static_cast: round to nearest even, as numpy's
// float64 -> float32) and keeps float64 tensors exact. A value for an int64 input must be an
// integer in [-2^63, 2^63) (else kPredictBadValue); int64 outputs are converted.
int predict_float_rows(const ModelSpec& spec, const float* x, int64_t n_rows, float* y) noexcept;
int predict_double_rows(const ModelSpec& spec, const double* x, int64_t n_rows, double* y) noexcept;
// What the last call of the generated C functions (<name>_predict, <name>_predict_f64) on this
// thread says: "" after a success, else what went wrong. Per thread: valid until this thread's
// next call. The C functions record it with predict_result; a model's exception leaves its
// message through set_last_error (predict_float_rows / predict_double_rows do that for them).
const char* last_error() noexcept;
void set_last_error(const char* message) noexcept;
// `code` (a kPredict* code), with this thread's last error set to what it means; a model
// error keeps the message its handler set.
int predict_result(int code) noexcept;

}  // namespace modelport

#endif  // MODELPORT_RUNTIME_HPP
