package modelport.runtime;

import java.util.HashSet;
import java.util.Set;

/**
 * Description of a generated model: its input and output tensors, how CSV columns map onto
 * tensor elements, and the function that evaluates a block of rows.
 *
 * <p>Mirrors {@code modelport::ModelSpec} of the C++ runtime. Each tensor holds {@code rowSize}
 * elements per example (CSV row); a block of {@code n} rows is a flat row-major array of
 * {@code n * rowSize} elements: {@code float[]}, {@code double[]}, {@code long[]} or
 * {@code String[]} by dtype.
 */
public final class ModelSpec {

  /** Element type of a tensor. The codes match the C++ {@code modelport::DType} values. */
  public enum DType {
    F32, F64, I64, STR;

    /** The numeric code: F32 = 0, F64 = 1, I64 = 2, STR = 3. */
    public int code() {
      return ordinal();
    }

    /** The dtype for a numeric code. */
    public static DType fromCode(int code) {
      DType[] all = values();
      if (code < 0 || code >= all.length) {
        throw new IllegalArgumentException("unknown dtype code " + code);
      }
      return all[code];
    }

    /** The name used in help texts: float32, float64, int64, string. */
    public String displayName() {
      switch (this) {
        case F32: return "float32";
        case F64: return "float64";
        case I64: return "int64";
        default: return "string";
      }
    }

    /** A zero-filled array of {@code length} elements of this dtype (strings are empty). */
    public Object allocate(int length) {
      switch (this) {
        case F32: return new float[length];
        case F64: return new double[length];
        case I64: return new long[length];
        default: {
          String[] s = new String[length];
          java.util.Arrays.fill(s, "");
          return s;
        }
      }
    }
  }

  /** One input or output tensor; {@code rowSize} is the number of elements per example. */
  public static final class TensorSpec {
    public final String name;
    public final DType dtype;
    public final int rowSize;

    public TensorSpec(String name, DType dtype, int rowSize) {
      if (name == null || dtype == null || rowSize < 0) {
        throw new IllegalArgumentException("bad tensor spec " + name);
      }
      this.name = name;
      this.dtype = dtype;
      this.rowSize = rowSize;
    }

    public TensorSpec(String name, int dtypeCode, int rowSize) {
      this(name, DType.fromCode(dtypeCode), rowSize);
    }
  }

  /** A CSV column bound to element {@code offset} of one row of tensor number {@code tensor}. */
  public static final class ColumnSpec {
    public final String name;
    public final int tensor;
    public final int offset;

    public ColumnSpec(String name, int tensor, int offset) {
      if (name == null) {
        throw new IllegalArgumentException("column without a name");
      }
      this.name = name;
      this.tensor = tensor;
      this.offset = offset;
    }
  }

  /**
   * Evaluates the model on {@code n} rows. {@code inputs[i]} holds {@code n * rowSize}
   * elements of input i; {@code outputs[i]} is preallocated with {@code n * rowSize} elements
   * (the arrays may be longer) and is written by the runner.
   */
  @FunctionalInterface
  public interface Runner {
    void run(Object[] inputs, Object[] outputs, int n);
  }

  public final String modelName;
  public final TensorSpec[] inputs;
  public final TensorSpec[] outputs;
  /** Every input element is covered by exactly one column. */
  public final ColumnSpec[] inputColumns;
  /** CSV output column order. */
  public final ColumnSpec[] outputColumns;
  /** Human-readable schema text, printed by --schema (may be null). */
  public final String description;
  public final Runner runner;

  /**
   * Creates a spec and checks that it is consistent.
   *
   * @throws IllegalArgumentException when a column refers to a missing tensor element, an
   *     input element has no column or more than one, or column names repeat
   */
  public ModelSpec(
      String modelName,
      TensorSpec[] inputs,
      TensorSpec[] outputs,
      ColumnSpec[] inputColumns,
      ColumnSpec[] outputColumns,
      String description,
      Runner runner) {
    if (inputs == null || outputs == null || inputColumns == null || outputColumns == null
        || runner == null) {
      throw new IllegalArgumentException("incomplete model spec");
    }
    this.modelName = modelName == null ? "model" : modelName;
    this.inputs = inputs.clone();
    this.outputs = outputs.clone();
    this.inputColumns = inputColumns.clone();
    this.outputColumns = outputColumns.clone();
    this.description = description;
    this.runner = runner;
    checkColumns(this.inputColumns, this.inputs, "input");
    checkColumns(this.outputColumns, this.outputs, "output");
    boolean[][] covered = new boolean[this.inputs.length][];
    for (int i = 0; i < this.inputs.length; i++) {
      covered[i] = new boolean[this.inputs[i].rowSize];
    }
    for (ColumnSpec c : this.inputColumns) {
      if (covered[c.tensor][c.offset]) {
        throw new IllegalArgumentException(
            "input column \"" + c.name + "\" maps to an element already covered");
      }
      covered[c.tensor][c.offset] = true;
    }
    for (int i = 0; i < covered.length; i++) {
      for (int j = 0; j < covered[i].length; j++) {
        if (!covered[i][j]) {
          throw new IllegalArgumentException(
              "element " + j + " of input \"" + this.inputs[i].name + "\" has no column");
        }
      }
    }
  }

  private static void checkColumns(ColumnSpec[] cols, TensorSpec[] tensors, String what) {
    Set<String> seen = new HashSet<>();
    for (ColumnSpec c : cols) {
      if (c == null) {
        throw new IllegalArgumentException("null " + what + " column");
      }
      if (c.tensor < 0 || c.tensor >= tensors.length || tensors[c.tensor] == null
          || c.offset < 0 || c.offset >= tensors[c.tensor].rowSize) {
        throw new IllegalArgumentException(
            what + " column \"" + c.name + "\" refers to a missing tensor element");
      }
      if (!seen.add(c.name)) {
        throw new IllegalArgumentException("duplicate " + what + " column name \"" + c.name + "\"");
      }
    }
  }
}
