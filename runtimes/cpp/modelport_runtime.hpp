// modelport runtime: the small support library that generated model code builds with.
//
// C++17, standard library only: the declarations; modelport_runtime.cpp implements them. It provides
//   * the model description types (ModelSpec, TensorSpec, ColumnSpec),
//   * csv_main(): the complete command-line program (CSV on stdin -> CSV on stdout),
//   * predict_float_rows(), predict_double_rows(): the helpers behind the generated C ABI entry
//     points of models with int64 inputs (<name>_predict, <name>_predict_f64),
//   * LevelIndex: the check of closed string columns (known levels) for the typed APIs,
//   * RowBlock, bind_columns, csv_text: the CSV program's reading and checking of values, shared
//     with the HTTP server (modelport_serve.cpp), so that both accept the same text and say the
//     same thing about bad input.
//
// The program contract is documented in docs/csv-interface.md; the Java runtime
// (runtimes/java/modelport/runtime) implements the same contract.
#ifndef MODELPORT_RUNTIME_HPP
#define MODELPORT_RUNTIME_HPP

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

namespace modelport {

enum class DType : int { F32 = 0, F64 = 1, I64 = 2, STR = 3 };

// The name of an element type in schemas: float32, float64, int64, string.
const char* dtype_name(DType t);

// Appends code point `cp` to `out` in UTF-8 (a lone surrogate as its three bytes, WTF-8).
inline void append_utf8(std::string& out, uint32_t cp) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {  // lone surrogates too (WTF-8)
    out += static_cast<char>(0xE0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

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

// A bad input: where it is and what is wrong. `message` is the CSV program's message without its
// "error: " and its place ("row 3 (line 4), ", "line 1 (header): "), for example
//   column "x": cannot parse "abc" as a number
struct InputError {
  int64_t row = 0;      // 1-based data row; 0 when the error is in no row (header, empty input)
  int64_t line = 0;     // input line (CSV), 0 when there is none
  bool header = false;  // an error of the header (the column set)
  std::string column;   // the input column it is about, or ""
  std::string message;
};

// The CSV program's message for an error (without a line end):
//   error: row 3 (line 4), column "x": cannot parse "abc" as a number
//   error: line 1 (header): missing input column "b" (the model needs "a", "b")
std::string error_text(const InputError& e);

// Checks a set of column names (a CSV header, the keys of a JSON request) against the model's
// input columns, as the CSV program checks its header: input_column[j] is the index in
// spec.input_columns of names[j], or -1 (an extra column, ignored with allow_extra, or a
// repeated one). Returns the errors (duplicate, missing and unknown columns, in that order),
// none when the names are fine.
std::vector<InputError> bind_columns(const ModelSpec& spec, const std::vector<std::string>& names, bool allow_extra,
                                     std::vector<int>& input_column);
// The message for names that are not input columns:
//   unknown input column "zz" (pass --allow-extra-columns to ignore extra columns)
std::string unknown_columns_message(const std::vector<std::string>& names);
// The CSV program's output header line ('\n' included).
std::string csv_output_header(const ModelSpec& spec);

// One block of rows in the model's typed tensors: values set from text as the CSV program reads
// fields, the model run on them, the outputs read back. Not thread-safe: one per thread.
class RowBlock {
 public:
  // Rows [0, capacity); capacity <= 0 gives max_rows(spec). Throws std::invalid_argument for
  // an invalid spec.
  RowBlock(const ModelSpec& spec, int64_t capacity);
  ~RowBlock();
  RowBlock(const RowBlock&) = delete;
  RowBlock& operator=(const RowBlock&) = delete;
  // The rows the CSV program puts in one block (1024, fewer for wide rows).
  static int64_t max_rows(const ModelSpec& spec);
  int64_t capacity() const;
  // Sets input column `column` (an index into spec.input_columns) of row r from a CSV field's
  // text (after unquoting; NUL-terminated at text[len]): "" and NaN are missing numbers, a
  // closed string column takes only its levels and "". On a bad value returns false and sets
  // *error to the CSV program's message for it (column "x": cannot parse "abc" as a number).
  bool set(int64_t r, int column, const char* text, std::size_t len, std::string* error);
  // Runs the model on rows [0, n) (exceptions of the model propagate).
  void run(int64_t n);
  // Output column k (an index into spec.output_columns) of row r.
  DType output_type(int k) const;
  double output_real(int64_t r, int k) const;  // F32 (widened), F64 and I64 columns
  int64_t output_int(int64_t r, int k) const;  // I64 columns
  const std::string& output_string(int64_t r, int k) const;  // STR columns
  // Output row r as the CSV program writes it (no line end).
  void append_csv_row(std::string& out, int64_t r) const;

 private:
  struct Impl;
  Impl* impl_;
};

// The CSV program on text in memory: the CSV output (header included) goes to `out`. Returns
// kExitOk, or kExitBadInput with the first error in `error` (and `out` left as it was). *rows:
// the rows answered. Exceptions of the model propagate.
int csv_text(const ModelSpec& spec, const char* data, std::size_t size, bool allow_extra, std::string& out,
             InputError& error, int64_t* rows);
// The records of CSV text (header first) as the CSV program reads them; false for bad CSV.
bool read_csv_records(const char* data, std::size_t size, std::vector<std::vector<std::string>>& records);

// The command-line program: CSV on `in` (standard input) to CSV on `out`; with --stream, each
// row is answered as soon as it is read. `<program> serve` is dispatched before, by
// program_main (modelport_serve.hpp).
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
