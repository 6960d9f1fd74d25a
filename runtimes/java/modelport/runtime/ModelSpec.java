package modelport.runtime;

import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
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

  /**
   * A CSV column bound to element {@code offset} of one row of tensor number {@code tensor}.
   *
   * <p>A string input column with levels is <em>closed</em>: its levels are the only values it
   * accepts besides the empty string (a missing value). The CSV program and the generated
   * {@code run} reject any other value. A column without levels is open: it accepts any string.
   * Mirrors {@code modelport::ColumnSpec::levels} of the C++ runtime.
   */
  public static final class ColumnSpec {
    /** Levels listed in a message. */
    static final int SHOWN_LEVELS = 20;

    public final String name;
    public final int tensor;
    public final int offset;
    private final String[] levels;
    private final Set<String> levelSet;

    /** An open column. */
    public ColumnSpec(String name, int tensor, int offset) {
      this(name, tensor, offset, null);
    }

    /**
     * A column that, when {@code levels} is neither null nor empty, is closed: only those
     * values (and the empty string) are accepted.
     */
    public ColumnSpec(String name, int tensor, int offset, String[] levels) {
      if (name == null) {
        throw new IllegalArgumentException("column without a name");
      }
      this.name = name;
      this.tensor = tensor;
      this.offset = offset;
      if (levels == null || levels.length == 0) {
        this.levels = new String[0];
        this.levelSet = null;
      } else {
        this.levels = levels.clone();
        this.levelSet = new HashSet<>(this.levels.length * 2);
        for (String level : this.levels) {
          if (level == null) {
            throw new IllegalArgumentException("column \"" + name + "\" has a null level");
          }
          this.levelSet.add(level);
        }
      }
    }

    /** True when the column has levels: only those values and the empty string are accepted. */
    public boolean isClosed() {
      return levelSet != null;
    }

    /** The column's levels (a copy; empty for an open column). */
    public String[] levels() {
      return levels.clone();
    }

    /** True when the column is open, the value is empty (or null), or it is one of the levels. */
    public boolean allows(String value) {
      return levelSet == null || value == null || value.isEmpty() || levelSet.contains(value);
    }

    /**
     * {@code column "NAME": unknown level "VALUE" (known levels: "L1", "L2", ...)}: the same
     * text as the C++ runtime's.
     */
    String unknownLevel(String value) {
      StringBuilder s = new StringBuilder();
      s.append("column \"").append(name).append("\": unknown level \"").append(shown(value))
          .append("\" (known levels: ");
      int listed = Math.min(levels.length, SHOWN_LEVELS);
      for (int i = 0; i < listed; i++) {
        if (i > 0) {
          s.append(", ");
        }
        s.append('"').append(shown(levels[i])).append('"');
      }
      if (levels.length > listed) {
        s.append(", ... (").append(levels.length).append(" levels)");
      }
      return s.append(')').toString();
    }
  }

  /**
   * Levels packed by the code generator: the concatenated chunks hold {@code count} records
   * {@code <length>:<text>}, where the length counts UTF-16 chars. Long level lists travel this
   * way so that they take a few constants and little class-initializer code.
   *
   * @throws IllegalArgumentException when the chunks do not hold exactly {@code count} records
   */
  public static String[] unpackLevels(int count, String[] chunks) {
    StringBuilder all = new StringBuilder();
    for (String c : chunks) {
      all.append(c);
    }
    String packed = all.toString();
    String[] levels = new String[count];
    int p = 0;
    for (int i = 0; i < count; i++) {
      int colon = packed.indexOf(':', p);
      int len;
      try {
        len = Integer.parseInt(packed.substring(p, colon < 0 ? p : colon));
      } catch (NumberFormatException e) {
        len = -1;
      }
      if (len < 0 || colon + 1 + len > packed.length()) {
        throw new IllegalArgumentException("bad packed level list at level " + i);
      }
      levels[i] = packed.substring(colon + 1, colon + 1 + len);
      p = colon + 1 + len;
    }
    if (p != packed.length()) {
      throw new IllegalArgumentException("bad packed level list: more than " + count + " levels");
    }
    return levels;
  }

  /** For messages: the text, shortened when long (as CsvProgram shows a bad field). */
  static String shown(String s) {
    // Cut after 100 characters (code points, never inside a surrogate pair), as the C++ runtime.
    if (s.length() <= 100 || s.codePointCount(0, s.length()) <= 100) {
      return s;
    }
    return s.substring(0, s.offsetByCodePoints(0, 100)) + "...";
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

  /**
   * The columns {@code PREFIX0 .. PREFIX(count-1)} bound to elements {@code first ..} of one
   * tensor: how generated code lists a wide tensor's columns (an image has thousands) in a
   * loop, where one constructor call each would outgrow a class initializer's 64 KB.
   */
  public static ColumnSpec[] range(String prefix, int tensor, int first, int count) {
    ColumnSpec[] out = new ColumnSpec[count];
    for (int i = 0; i < count; i++) {
      out[i] = new ColumnSpec(prefix + i, tensor, first + i);
    }
    return out;
  }

  /** The parts one after another. */
  public static ColumnSpec[] concat(ColumnSpec[]... parts) {
    int n = 0;
    for (ColumnSpec[] p : parts) n += p.length;
    ColumnSpec[] out = new ColumnSpec[n];
    int k = 0;
    for (ColumnSpec[] p : parts) {
      System.arraycopy(p, 0, out, k, p.length);
      k += p.length;
    }
    return out;
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
  private final ColumnSpec[] closedInputColumns;

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
    List<ColumnSpec> closed = new ArrayList<>();
    for (ColumnSpec c : this.inputColumns) {
      if (c.isClosed()) {
        closed.add(c);
      }
    }
    this.closedInputColumns = closed.toArray(new ColumnSpec[0]);
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
      if (c.isClosed() && tensors[c.tensor].dtype != DType.STR) {
        throw new IllegalArgumentException(
            what + " column \"" + c.name + "\" has levels but is not a string column");
      }
    }
  }

  /**
   * Checks every closed string input column of {@code n} rows laid out as for {@link Runner}.
   *
   * @throws IllegalArgumentException for the first value that is not one of its column's levels
   *     (nor empty), with the message {@code column "NAME": unknown level "VALUE" (known levels:
   *     "L1", "L2", ...)}
   */
  public void checkLevels(Object[] inputs, int n) {
    for (ColumnSpec c : closedInputColumns) {
      String[] values = (String[]) inputs[c.tensor];
      int rowSize = this.inputs[c.tensor].rowSize;
      for (int r = 0; r < n; r++) {
        String v = values[r * rowSize + c.offset];
        if (!c.allows(v)) {
          throw new IllegalArgumentException(c.unknownLevel(v));
        }
      }
    }
  }
}
