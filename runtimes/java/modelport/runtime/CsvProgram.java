package modelport.runtime;

import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.OutputStreamWriter;
import java.io.PrintStream;
import java.io.Reader;
import java.io.Writer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

import modelport.runtime.ModelSpec.ColumnSpec;
import modelport.runtime.ModelSpec.DType;
import modelport.runtime.ModelSpec.TensorSpec;

/**
 * The command-line program of a generated model: reads CSV on standard input, evaluates the
 * model in blocks of rows and writes CSV on standard output. Behaves like {@code
 * modelport::csv_main} of the C++ runtime; the contract is described in docs/csv-interface.md.
 */
public final class CsvProgram {

  /** Rows parsed and evaluated per call of the model's runner. */
  public static final int BLOCK_ROWS = 1024;
  static final long BLOCK_BYTES = 1L << 26; // 64 MiB

  /** Rows per block: BLOCK_ROWS, fewer where rows are wide (images), so that a block's arrays
   *  stay within about BLOCK_BYTES (8 bytes counted per element). */
  static int blockRows(ModelSpec spec) {
    long rowBytes = 0;
    for (ModelSpec.TensorSpec t : spec.inputs) {
      rowBytes += 8L * t.rowSize;
    }
    for (ModelSpec.TensorSpec t : spec.outputs) {
      rowBytes += 8L * t.rowSize;
    }
    long fit = rowBytes > 0 ? BLOCK_BYTES / rowBytes : BLOCK_ROWS;
    return (int) Math.max(1, Math.min(BLOCK_ROWS, fit));
  }

  public static final int EXIT_OK = 0;
  /** The model threw, or reading/writing failed. */
  public static final int EXIT_FAILURE = 1;
  /** Bad arguments, header, value or row. */
  public static final int EXIT_BAD_INPUT = 2;

  private static final int FLUSH_CHARS = 1 << 16;

  private CsvProgram() {}

  /** Runs the program on System.in / System.out and exits the JVM with its exit code. */
  public static void main(ModelSpec spec, String[] args) {
    int code = run(spec, args, System.in, System.out, System.err);
    System.out.flush();
    System.err.flush();
    System.exit(code);
  }

  /** Runs the program on the given streams and returns the exit code. */
  public static int run(
      ModelSpec spec, String[] args, InputStream in, PrintStream out, PrintStream err) {
    try {
      return runProgram(spec, args, in, out, err);
    } catch (IOException e) {
      message(err, "error: I/O error: " + e.getMessage());
    } catch (OutOfMemoryError e) {
      message(err, "error: out of memory");
    } catch (RuntimeException e) {
      message(err, "error: model evaluation failed: " + e);
    }
    out.flush();
    return EXIT_FAILURE;
  }

  // ---------------------------------------------------------------------------------------
  // Program
  // ---------------------------------------------------------------------------------------

  private static void message(PrintStream err, String text) {
    err.print(text);
    err.print('\n');
    err.flush();
  }

  static final String USAGE_LINES =
      "Usage: %1$s [--allow-extra-columns] [--stream] < input.csv > output.csv\n"
      + "       %1$s serve [--host HOST] [--port PORT] [--threads N] [--max-body BYTES]\n"
      + "              [--log FILE] [--log-sample RATE] [--allow-extra-columns] [--shadow DIR]\n";

  private static int runProgram(
      ModelSpec spec, String[] args, InputStream in, PrintStream out, PrintStream err)
      throws IOException {
    String prog = spec.modelName;
    if (args.length > 0 && args[0].equals("serve")) {
      return Server.run(spec, java.util.Arrays.copyOfRange(args, 1, args.length), err);
    }
    boolean help = false;
    boolean schema = false;
    boolean allowExtra = false;
    boolean stream = false;
    for (String a : args) {
      if (a.equals("--help") || a.equals("-h")) {
        help = true;
      } else if (a.equals("--schema")) {
        schema = true;
      } else if (a.equals("--allow-extra-columns")) {
        allowExtra = true;
      } else if (a.equals("--stream")) {
        stream = true;
      } else {
        if (a.startsWith("-")) {
          message(err, "error: unknown option \"" + a + "\"");
        } else {
          message(err, "error: unexpected argument \"" + a
              + "\" (the input is read from standard input)");
        }
        message(err, String.format(USAGE_LINES, prog) + "Run '" + prog + " --help' for details.");
        return EXIT_BAD_INPUT;
      }
    }
    if (help || schema) {
      out.print(help ? usageText(spec, prog) : schemaText(spec));
      out.flush();
      return out.checkError() ? EXIT_FAILURE : EXIT_OK;
    }
    Writer w = new OutputStreamWriter(out, StandardCharsets.UTF_8);
    StdoutSink sink = new StdoutSink(spec, w, out, err, stream);
    int code = scoreCsv(spec, new InputStreamReader(in, StandardCharsets.UTF_8), allowExtra,
        stream ? 1 : blockRows(spec), sink);
    if (!sink.finish() && code == EXIT_OK) {
      message(err, "error: cannot write standard output");
      return EXIT_FAILURE;
    }
    return code;
  }

  /**
   * Where {@link #scoreCsv} and {@link #scoreRows} send their results: the program's standard
   * output, the HTTP server's response.
   */
  interface Sink {
    /** Called once, before any rows: the output columns are {@code spec.outputColumns}. */
    void begin() throws IOException;

    /** Rows 0 .. block.n - 1 of the block are evaluated. */
    void rows(Block block) throws IOException;

    /**
     * A bad header or row. {@code message} is the program's message without its "error: "
     * prefix; {@code row} counts from 1 (0: the header); {@code column} names the column or is
     * null. Returns true to drop the row and go on (a bad header always stops).
     */
    boolean error(String message, long row, String column) throws IOException;

    /** The fields of a data row as read (before it is checked), under the header's names;
     *  for request logs. */
    default void input(String[] header, Record rec) {}
  }

  /** The CSV program's sink: CSV on standard output, messages on standard error. */
  private static final class StdoutSink implements Sink {
    private final ModelSpec spec;
    private final Writer w;
    private final PrintStream out;
    private final PrintStream err;
    private final boolean stream;
    private final StringBuilder sb = new StringBuilder(FLUSH_CHARS + 4096);

    StdoutSink(ModelSpec spec, Writer w, PrintStream out, PrintStream err, boolean stream) {
      this.spec = spec;
      this.w = w;
      this.out = out;
      this.err = err;
      this.stream = stream;
    }

    @Override
    public void begin() throws IOException {
      appendCsvHeader(sb, spec);
      if (stream) {
        finish();
      }
    }

    @Override
    public void rows(Block block) throws IOException {
      for (int r = 0; r < block.n; r++) {
        block.appendCsvRow(sb, r);
        if (sb.length() >= FLUSH_CHARS) {
          w.append(sb);
          sb.setLength(0);
        }
      }
      if (stream) {
        finish();
      }
    }

    @Override
    public boolean error(String text, long row, String column) throws IOException {
      // Complete blocks go out before the message, so that the output ends at a block edge.
      finish();
      message(err, "error: " + text);
      return stream;
    }

    boolean finish() throws IOException {
      w.append(sb);
      sb.setLength(0);
      w.flush();
      out.flush();
      return !out.checkError();
    }
  }

  /**
   * Binding of a header's names to the model's input columns. {@code colOfField[j]} is the input
   * column that field j feeds, -1 for an ignored field; {@code errors} holds the header's
   * messages (without location), {@code errorColumns} the first column each names.
   */
  static final class Binding {
    final int[] colOfField;
    final List<String> errors = new ArrayList<>();
    final List<String> errorColumns = new ArrayList<>();

    Binding(int fields) {
      colOfField = new int[fields];
    }
  }

  /** Matches header names to input columns by name; the messages of the CSV contract. */
  static Binding bind(ModelSpec spec, String[] header, boolean allowExtra) {
    ColumnSpec[] inCols = spec.inputColumns;
    Map<String, Integer> byName = new HashMap<>();
    for (int k = 0; k < inCols.length; k++) {
      byName.put(inCols[k].name, k);
    }
    Binding b = new Binding(header.length);
    boolean[] found = new boolean[inCols.length];
    Map<String, Integer> seen = new HashMap<>();
    List<String> dups = new ArrayList<>();
    List<String> unknown = new ArrayList<>();
    List<String> missing = new ArrayList<>();
    for (int j = 0; j < header.length; j++) {
      b.colOfField[j] = -1;
      Integer count = seen.get(header[j]);
      seen.put(header[j], count == null ? 1 : count + 1);
      if (count != null) {
        if (count == 1) {
          dups.add(header[j]);
        }
        continue;
      }
      Integer k = byName.get(header[j]);
      if (k == null) {
        unknown.add(header[j]);
      } else {
        b.colOfField[j] = k;
        found[k] = true;
      }
    }
    for (int k = 0; k < inCols.length; k++) {
      if (!found[k]) {
        missing.add(inCols[k].name);
      }
    }
    if (!dups.isEmpty()) {
      b.errors.add("duplicate column name" + (dups.size() > 1 ? "s " : " ") + quotedList(dups));
      b.errorColumns.add(dups.get(0));
    }
    if (!missing.isEmpty()) {
      List<String> all = new ArrayList<>();
      for (ColumnSpec c : inCols) {
        all.add(c.name);
      }
      b.errors.add("missing input column" + (missing.size() > 1 ? "s " : " ")
          + quotedList(missing) + " (the model needs " + quotedList(all) + ")");
      b.errorColumns.add(missing.get(0));
    }
    if (!unknown.isEmpty() && !allowExtra) {
      b.errors.add("unknown input column" + (unknown.size() > 1 ? "s " : " ")
          + quotedList(unknown) + " (pass --allow-extra-columns to ignore extra columns)");
      b.errorColumns.add(unknown.get(0));
    }
    return b;
  }

  /**
   * Reads CSV (header, then rows) from {@code in}, evaluates it in blocks of {@code blockRows}
   * rows and hands the results to {@code sink}. Returns EXIT_OK, or EXIT_BAD_INPUT after a bad
   * header or row (after the last row when the sink goes on past bad rows).
   */
  static int scoreCsv(ModelSpec spec, Reader in, boolean allowExtra, int blockRows, Sink sink)
      throws IOException {
    CsvReader reader = new CsvReader(in);
    Record rec = new Record();

    // ---- header
    int st = reader.next(rec);
    if (st == CsvReader.EOF) {
      sink.error("empty input: expected a header line naming the input columns", 0, null);
      return EXIT_BAD_INPUT;
    }
    if (st == CsvReader.ERROR) {
      sink.error("line " + rec.line + " (header): " + reader.error, 0, null);
      return EXIT_BAD_INPUT;
    }
    if (rec.size == 1 && rec.length(0) == 0) {
      sink.error("line " + rec.line + " (header): the header line is empty", 0, null);
      return EXIT_BAD_INPUT;
    }
    String[] header = new String[rec.size];
    for (int j = 0; j < rec.size; j++) {
      header[j] = rec.field(j);
    }
    if (header[0].startsWith("\uFEFF")) {
      header[0] = header[0].substring(1); // byte order mark
    }
    Binding binding = bind(spec, header, allowExtra);
    if (!binding.errors.isEmpty()) {
      for (int i = 0; i < binding.errors.size(); i++) {
        sink.error("line " + rec.line + " (header): " + binding.errors.get(i), 0,
            binding.errorColumns.get(i));
      }
      return EXIT_BAD_INPUT;
    }
    int[] colOfField = binding.colOfField;

    Block block = new Block(spec, blockRows);
    sink.begin();
    final int nfields = header.length;
    long row = 0;
    boolean bad = false;
    for (;;) {
      st = reader.next(rec);
      if (st == CsvReader.EOF) {
        break;
      }
      row++;
      if (st == CsvReader.ERROR) {
        // The line structure is lost after a quoting error: always stop.
        sink.error(rowPrefix(row, rec.line) + ": " + reader.error, row, null);
        return EXIT_BAD_INPUT;
      }
      sink.input(header, rec);
      String error = null;
      String column = null;
      if (rec.size != nfields) {
        error = rowPrefix(row, rec.line) + ": expected " + nfields
            + (nfields == 1 ? " field" : " fields") + ", found " + rec.size;
      } else {
        for (int j = 0; j < nfields && error == null; j++) {
          int k = colOfField[j];
          if (k >= 0) {
            error = block.set(k, rec.field(j));
            column = spec.inputColumns[k].name;
          }
        }
        if (error != null) {
          error = rowPrefix(row, rec.line) + ", " + error;
        }
      }
      if (error != null) {
        bad = true;
        if (!sink.error(error, row, column)) {
          return EXIT_BAD_INPUT;
        }
        continue;
      }
      if (++block.n == block.capacity) {
        flush(block, sink);
      }
    }
    if (block.n > 0) {
      flush(block, sink);
    }
    return bad ? EXIT_BAD_INPUT : EXIT_OK;
  }

  /** Evaluates the block's rows, hands them to the sink and empties the block. */
  private static void flush(Block block, Sink sink) throws IOException {
    block.run();
    sink.rows(block);
    block.n = 0;
  }

  /**
   * Evaluates rows of field texts (as CSV fields: "" is a missing value) under the column names
   * {@code header}, in blocks, with the CSV program's checks and messages; rows are located as
   * {@code row N} (no lines). Stops at the first bad row. Returns EXIT_OK or EXIT_BAD_INPUT.
   */
  static int scoreRows(ModelSpec spec, String[] header, List<String[]> rows, boolean allowExtra,
      Sink sink) throws IOException {
    Binding binding = bind(spec, header, allowExtra);
    if (!binding.errors.isEmpty()) {
      sink.error(binding.errors.get(0), 0, binding.errorColumns.get(0));
      return EXIT_BAD_INPUT;
    }
    Block block = new Block(spec, Math.max(1, Math.min(rows.size(), blockRows(spec))));
    sink.begin();
    long row = 0;
    for (String[] fields : rows) {
      row++;
      for (int j = 0; j < header.length; j++) {
        int k = binding.colOfField[j];
        if (k < 0) {
          continue;
        }
        String error = block.set(k, fields[j] == null ? "" : fields[j]);
        if (error != null) {
          sink.error("row " + row + ", " + error, row, spec.inputColumns[k].name);
          return EXIT_BAD_INPUT;
        }
      }
      if (++block.n == block.capacity) {
        flush(block, sink);
      }
    }
    if (block.n > 0) {
      flush(block, sink);
    }
    return EXIT_OK;
  }

  /** The output header line (with its line end). */
  static void appendCsvHeader(StringBuilder sb, ModelSpec spec) {
    ColumnSpec[] outCols = spec.outputColumns;
    for (int k = 0; k < outCols.length; k++) {
      if (k > 0) {
        sb.append(',');
      }
      appendField(sb, outCols[k].name, outCols.length == 1);
    }
    sb.append('\n');
  }

  /** Input and output arrays for up to {@code capacity} rows; {@code n} rows are filled. */
  static final class Block {
    final ModelSpec spec;
    final int capacity;
    final Object[] ins;
    final Object[] outs;
    int n;

    Block(ModelSpec spec, int capacity) {
      this.spec = spec;
      this.capacity = capacity;
      this.ins = allocate(spec.inputs, capacity);
      this.outs = allocate(spec.outputs, capacity);
    }

    /**
     * Parses the text of input column {@code k} into row {@code n}: null, or what is wrong
     * ({@code column "x": cannot parse "abc" as a number}, an unknown level).
     */
    String set(int k, String text) {
      ColumnSpec c = spec.inputColumns[k];
      TensorSpec t = spec.inputs[c.tensor];
      int idx = n * t.rowSize + c.offset;
      boolean ok;
      switch (t.dtype) {
        case F32:
          ok = parseReal(text, true, (float[]) ins[c.tensor], null, idx);
          break;
        case F64:
          ok = parseReal(text, false, null, (double[]) ins[c.tensor], idx);
          break;
        case I64:
          ok = parseInt64(text, (long[]) ins[c.tensor], idx);
          break;
        default:
          if (!c.allows(text)) {
            return c.unknownLevel(text);
          }
          ((String[]) ins[c.tensor])[idx] = text;
          return null;
      }
      return ok ? null : "column \"" + c.name + "\": cannot parse \"" + shown(text) + "\" as "
          + (t.dtype == DType.I64 ? "an integer" : "a number");
    }

    void run() {
      spec.runner.run(ins, outs, n);
    }

    /** Row r of the outputs as a CSV line (with its line end). */
    void appendCsvRow(StringBuilder sb, int r) {
      ColumnSpec[] outCols = spec.outputColumns;
      for (int k = 0; k < outCols.length; k++) {
        if (k > 0) {
          sb.append(',');
        }
        ColumnSpec c = outCols[k];
        TensorSpec t = spec.outputs[c.tensor];
        int idx = r * t.rowSize + c.offset;
        switch (t.dtype) {
          case F32:
            appendF32(sb, ((float[]) outs[c.tensor])[idx]);
            break;
          case F64:
            appendF64(sb, ((double[]) outs[c.tensor])[idx]);
            break;
          case I64:
            sb.append(((long[]) outs[c.tensor])[idx]);
            break;
          default:
            String s = ((String[]) outs[c.tensor])[idx];
            appendField(sb, s == null ? "" : s, outCols.length == 1);
            break;
        }
      }
      sb.append('\n');
    }

    /** Output column k of row r: a Double (a float32 output widened), a Long or a String. */
    Object value(int r, int k) {
      ColumnSpec c = spec.outputColumns[k];
      TensorSpec t = spec.outputs[c.tensor];
      int idx = r * t.rowSize + c.offset;
      switch (t.dtype) {
        case F32:
          return (double) ((float[]) outs[c.tensor])[idx];
        case F64:
          return ((double[]) outs[c.tensor])[idx];
        case I64:
          return ((long[]) outs[c.tensor])[idx];
        default:
          String s = ((String[]) outs[c.tensor])[idx];
          return s == null ? "" : s;
      }
    }

    /** Output column k of row r as a JSON value (null for NaN and infinities). */
    void appendJson(StringBuilder sb, int r, int k) {
      ColumnSpec c = spec.outputColumns[k];
      TensorSpec t = spec.outputs[c.tensor];
      int idx = r * t.rowSize + c.offset;
      switch (t.dtype) {
        case F32:
          Json.appendFloat(sb, ((float[]) outs[c.tensor])[idx]);
          break;
        case F64:
          Json.appendDouble(sb, ((double[]) outs[c.tensor])[idx]);
          break;
        case I64:
          sb.append(((long[]) outs[c.tensor])[idx]);
          break;
        default:
          String s = ((String[]) outs[c.tensor])[idx];
          Json.appendString(sb, s == null ? "" : s);
          break;
      }
    }
  }

  private static Object[] allocate(TensorSpec[] tensors, int rows) {
    Object[] arrays = new Object[tensors.length];
    for (int i = 0; i < tensors.length; i++) {
      arrays[i] = tensors[i].dtype.allocate(Math.multiplyExact(rows, tensors[i].rowSize));
    }
    return arrays;
  }

  private static String rowPrefix(long row, long line) {
    return "row " + row + " (line " + line + ")";
  }

  private static String shown(String s) {
    return ModelSpec.shown(s);
  }

  private static String quotedList(List<String> names) {
    StringBuilder s = new StringBuilder();
    for (int i = 0; i < names.size(); i++) {
      if (i > 0) {
        s.append(", ");
      }
      s.append('"').append(names.get(i)).append('"');
    }
    return s.toString();
  }

  private static String csvName(String name) {
    StringBuilder s = new StringBuilder();
    appendField(s, name, true);
    return s.toString();
  }

  private static void appendColumnList(StringBuilder s, ColumnSpec[] cols, TensorSpec[] tensors) {
    String[] names = new String[cols.length];
    int width = 0;
    for (int i = 0; i < cols.length; i++) {
      names[i] = csvName(cols[i].name);
      width = Math.max(width, names[i].length());
    }
    width = Math.min(width, 40);
    for (int i = 0; i < cols.length; i++) {
      TensorSpec t = tensors[cols[i].tensor];
      s.append("  ").append(names[i]);
      int pad = width + 2 > names[i].length() ? width + 2 - names[i].length() : 1;
      for (int p = 0; p < pad; p++) {
        s.append(' ');
      }
      String dt = t.dtype.displayName();
      s.append(dt);
      for (int p = dt.length(); p < 9; p++) {
        s.append(' ');
      }
      s.append('(').append(t.name).append('[').append(cols[i].offset).append("])\n");
    }
  }

  static String usageText(ModelSpec spec, String prog) {
    StringBuilder s = new StringBuilder();
    s.append(String.format(USAGE_LINES, prog));
    s.append("       ").append(prog).append(" --help | --schema\n\n");
    s.append("Runs the model \"").append(spec.modelName).append("\" on CSV data.\n");
    s.append("Reads CSV from standard input: a header line naming the input columns (in any\n"
        + "order), then one line per example. Writes CSV to standard output: a header line\n"
        + "with the output column names, then one line per input row, in input order.\n\n");
    s.append("Input columns (").append(spec.inputColumns.length).append("):\n");
    appendColumnList(s, spec.inputColumns, spec.inputs);
    s.append("Output columns (").append(spec.outputColumns.length).append("):\n");
    appendColumnList(s, spec.outputColumns, spec.outputs);
    s.append("\nAn empty field or NaN is a missing value in a float column; inf and -inf are"
        + " accepted.\n"
        + "Fields follow RFC 4180 quoting (\"a, b\" and \"say \"\"hi\"\"\").\n\n"
        + "Options:\n"
        + "  --allow-extra-columns  ignore input columns that the model does not use\n"
        + "  --stream               write each row's answer as soon as its line is read (a bad\n"
        + "                         row's message goes to stderr and the rows after it go on)\n"
        + "  --schema               print the model's schema and exit\n"
        + "  --help                 print this help and exit\n\n"
        + "serve: answers HTTP requests (POST /predict with JSON or CSV, GET /schema, /health,\n"
        + "/ready, /metrics) until SIGTERM or SIGINT. Defaults: --host 127.0.0.1 --port 8080\n"
        + "(0 picks a free port), --threads = cores, --max-body 16777216, no --log,\n"
        + "--log-sample 1.0. --shadow DIR also scores every request with the model of another\n"
        + "artifact directory and reports the differences (GET /shadow, /metrics, the log).\n\n"
        + "Exit status: 0 on success, 2 on bad arguments or bad input (message on stderr).\n");
    return s.toString();
  }

  static String schemaText(ModelSpec spec) {
    StringBuilder s = new StringBuilder();
    if (spec.description != null && !spec.description.isEmpty()) {
      s.append(spec.description);
    } else {
      s.append("Model: ").append(spec.modelName).append("\nInput columns:\n");
      appendColumnList(s, spec.inputColumns, spec.inputs);
      s.append("Output columns:\n");
      appendColumnList(s, spec.outputColumns, spec.outputs);
    }
    if (s.length() == 0 || s.charAt(s.length() - 1) != '\n') {
      s.append('\n');
    }
    return s.toString();
  }

  // ---------------------------------------------------------------------------------------
  // Values
  // ---------------------------------------------------------------------------------------

  private static boolean isBlank(char c) {
    return c == ' ' || c == '\t';
  }

  private static String trimBlanks(String s) {
    int b = 0;
    int e = s.length();
    while (b < e && isBlank(s.charAt(b))) {
      b++;
    }
    while (e > b && isBlank(s.charAt(e - 1))) {
      e--;
    }
    return (b == 0 && e == s.length()) ? s : s.substring(b, e);
  }

  private static boolean isDigit(char c) {
    return c >= '0' && c <= '9';
  }

  /** Decimal number syntax: [+-] (digits [. digits*] | . digits) [(e|E) [+-] digits]. */
  static boolean isDecimal(String s) {
    int p = 0;
    int e = s.length();
    if (p < e && (s.charAt(p) == '+' || s.charAt(p) == '-')) {
      p++;
    }
    boolean digits = false;
    while (p < e && isDigit(s.charAt(p))) {
      p++;
      digits = true;
    }
    if (p < e && s.charAt(p) == '.') {
      p++;
      while (p < e && isDigit(s.charAt(p))) {
        p++;
        digits = true;
      }
    }
    if (!digits) {
      return false;
    }
    if (p < e && (s.charAt(p) == 'e' || s.charAt(p) == 'E')) {
      p++;
      if (p < e && (s.charAt(p) == '+' || s.charAt(p) == '-')) {
        p++;
      }
      boolean expDigits = false;
      while (p < e && isDigit(s.charAt(p))) {
        p++;
        expDigits = true;
      }
      if (!expDigits) {
        return false;
      }
    }
    return p == e;
  }

  /** Whether {@code s} is {@code lower} in any ASCII case (not Unicode's: "ınf" is no number). */
  private static boolean asciiWord(String s, String lower) {
    if (s.length() != lower.length()) {
      return false;
    }
    for (int i = 0; i < s.length(); i++) {
      char c = s.charAt(i);
      if (c >= 'A' && c <= 'Z') {
        c = (char) (c + ('a' - 'A'));
      }
      if (c != lower.charAt(i)) {
        return false;
      }
    }
    return true;
  }

  /** Parses a float field into {@code f[idx]} (single) or {@code d[idx]}. */
  static boolean parseReal(String raw, boolean single, float[] f, double[] d, int idx) {
    String s = trimBlanks(raw);
    boolean neg = false;
    String word = s;
    if (!s.isEmpty() && (s.charAt(0) == '+' || s.charAt(0) == '-')) {
      neg = s.charAt(0) == '-';
      word = s.substring(1);
    }
    double special;
    if (s.isEmpty() || asciiWord(word, "nan")) {
      special = Double.NaN;
    } else if (asciiWord(word, "inf") || asciiWord(word, "infinity")) {
      special = neg ? Double.NEGATIVE_INFINITY : Double.POSITIVE_INFINITY;
    } else {
      if (!isDecimal(s)) {
        return false;
      }
      if (single) {
        // The double narrowed (round to nearest even), as numpy's float64 -> float32 and the C++
        // runtime: Float.parseFloat differs on decimal strings between a float32 midpoint and
        // the double nearest to it.
        f[idx] = (float) Double.parseDouble(s);
      } else {
        d[idx] = Double.parseDouble(s);
      }
      return true;
    }
    if (single) {
      f[idx] = (float) special;
    } else {
      d[idx] = special;
    }
    return true;
  }

  static boolean parseInt64(String raw, long[] out, int idx) {
    String s = trimBlanks(raw);
    int p = 0;
    if (s.startsWith("+")) {
      p = 1;
      if (s.startsWith("-", 1)) {
        return false;
      }
    } else if (s.startsWith("-")) {
      p = 1;
    }
    if (p == s.length()) {
      return false;
    }
    for (int i = p; i < s.length(); i++) {
      if (!isDigit(s.charAt(i))) {
        return false;
      }
    }
    try {
      out[idx] = Long.parseLong(s);
      return true;
    } catch (NumberFormatException e) {
      return false; // out of range
    }
  }

  /** Shortest text that reads back as the same float32; NaN, inf, -inf for special values. */
  static void appendF32(StringBuilder sb, float v) {
    if (v != v) {
      sb.append("NaN");
    } else if (Float.isInfinite(v)) {
      sb.append(v > 0 ? "inf" : "-inf");
    } else {
      String s = Float.toString(v);
      // Readers that parse to a double first (then round to float32) must get v back.
      if ((float) Double.parseDouble(s) != v) {
        s = Double.toString(v);
      }
      sb.append(s);
    }
  }

  /** Text that reads back as exactly the same double; NaN, inf, -inf for special values. */
  static void appendF64(StringBuilder sb, double v) {
    if (v != v) {
      sb.append("NaN");
    } else if (Double.isInfinite(v)) {
      sb.append(v > 0 ? "inf" : "-inf");
    } else {
      sb.append(Double.toString(v));
    }
  }

  private static boolean needsQuotes(String s) {
    int n = s.length();
    if (n == 0) {
      return false;
    }
    if (isBlank(s.charAt(0)) || isBlank(s.charAt(n - 1))) {
      return true;
    }
    for (int i = 0; i < n; i++) {
      char c = s.charAt(i);
      if (c == ',' || c == '"' || c == '\n' || c == '\r') {
        return true;
      }
    }
    return false;
  }

  /**
   * Appends one CSV field, quoted only when needed; {@code onlyField} quotes an empty value so
   * that a one-column row is not written as an empty line.
   */
  static void appendField(StringBuilder sb, String s, boolean onlyField) {
    if (!needsQuotes(s) && !(onlyField && s.isEmpty())) {
      sb.append(s);
      return;
    }
    sb.append('"');
    for (int i = 0; i < s.length(); i++) {
      char c = s.charAt(i);
      if (c == '"') {
        sb.append('"');
      }
      sb.append(c);
    }
    sb.append('"');
  }

  // ---------------------------------------------------------------------------------------
  // CSV input
  // ---------------------------------------------------------------------------------------

  /** One parsed CSV record; field i is data[starts[i], ends[i]). */
  static final class Record {
    final StringBuilder data = new StringBuilder();
    int[] starts = new int[16];
    int[] ends = new int[16];
    int size;
    long line;

    void clear() {
      data.setLength(0);
      size = 0;
    }

    void add(int start, int end) {
      if (size == starts.length) {
        starts = java.util.Arrays.copyOf(starts, size * 2);
        ends = java.util.Arrays.copyOf(ends, size * 2);
      }
      starts[size] = start;
      ends[size] = end;
      size++;
    }

    int length(int i) {
      return ends[i] - starts[i];
    }

    String field(int i) {
      return data.substring(starts[i], ends[i]);
    }
  }

  static final class CsvReader {
    static final int OK = 0;
    static final int EOF = 1;
    static final int ERROR = 2;

    private final Reader in;
    private final char[] buf = new char[1 << 16];
    private int pos;
    private int len;
    private boolean eof;
    private long line = 1;
    private long pendingBlank;
    private long blankLine;
    String error;

    CsvReader(Reader in) {
      this.in = in;
    }

    private boolean refill() throws IOException {
      if (eof) {
        return false;
      }
      int n;
      do {
        n = in.read(buf, 0, buf.length);
      } while (n == 0);
      if (n < 0) {
        eof = true;
        return false;
      }
      pos = 0;
      len = n;
      return true;
    }

    private int peek() throws IOException {
      if (pos == len && !refill()) {
        return -1;
      }
      return buf[pos];
    }

    private int get() throws IOException {
      if (pos == len && !refill()) {
        return -1;
      }
      return buf[pos++];
    }

    private void readUnquoted(StringBuilder dst) throws IOException {
      for (;;) {
        if (pos == len && !refill()) {
          return;
        }
        int s = pos;
        while (pos < len) {
          char c = buf[pos];
          if (c == ',' || c == '\n' || c == '\r') {
            break;
          }
          pos++;
        }
        dst.append(buf, s, pos - s);
        if (pos < len) {
          return;
        }
      }
    }

    /**
     * Reads the next record. Empty lines at the very end of the input are ignored; an empty
     * line elsewhere is a record with one empty field.
     */
    int next(Record rec) throws IOException {
      rec.clear();
      if (pendingBlank == 0) {
        blankLine = line;
        for (;;) {
          int c = peek();
          if (c == '\n') {
            get();
          } else if (c == '\r') {
            get();
            if (peek() == '\n') {
              get();
            }
          } else {
            break;
          }
          line++;
          pendingBlank++;
        }
        if (peek() == -1) {
          pendingBlank = 0;
          return EOF;
        }
      }
      if (pendingBlank > 0) {
        pendingBlank--;
        rec.line = blankLine++;
        rec.add(0, 0);
        return OK;
      }
      rec.line = line;
      StringBuilder data = rec.data;
      for (;;) {
        int start = data.length();
        if (peek() == '"') {
          get();
          for (;;) {
            int c = get();
            if (c == -1) {
              error = "unterminated quoted field";
              return ERROR;
            }
            if (c == '"') {
              if (peek() == '"') {
                get();
                data.append('"');
                continue;
              }
              break;
            }
            if (c == '\n' || (c == '\r' && peek() != '\n')) {
              line++;
            }
            data.append((char) c);
          }
          int c = peek();
          if (c != ',' && c != '\n' && c != '\r' && c != -1) {
            error = "unexpected character after a closing quote"
                + " (quotes inside a quoted field must be doubled)";
            return ERROR;
          }
        } else {
          readUnquoted(data);
        }
        rec.add(start, data.length());
        int c = get();
        if (c == ',') {
          continue;
        }
        if (c == '\r' && peek() == '\n') {
          get();
        }
        if (c != -1) {
          line++;
        }
        return OK;
      }
    }
  }

  // ---------------------------------------------------------------------------------------
  // In-process prediction
  // ---------------------------------------------------------------------------------------

  /**
   * Evaluates a model whose inputs and outputs are all numeric on rows of floats. Each row
   * holds one value per input column, in {@code spec.inputColumns} order; each result row holds
   * one value per output column, in {@code spec.outputColumns} order. Every value passes as a
   * float32: float64 outputs are rounded to float32, int64 outputs converted to float. For a
   * float64 model, {@link #predictDoubleRows} keeps the values exact.
   *
   * @throws IllegalArgumentException when rows is null, a row has the wrong length, the model
   *     has string tensors, or a value for an int64 input is not an integer
   */
  public static float[][] predictFloatRows(ModelSpec spec, float[][] rows) {
    if (rows == null) {
      throw new IllegalArgumentException("spec and rows must not be null");
    }
    return (float[][]) predictRows(spec, rows, null, rows.length);
  }

  /**
   * {@link #predictFloatRows} on rows of doubles: values reach float64 tensors exactly and
   * float32 tensors narrowed ({@code (float)}: round to nearest even, as numpy's float64 to
   * float32); outputs are widened (float32, int64) or exact (float64).
   *
   * @throws IllegalArgumentException as {@link #predictFloatRows}
   */
  public static double[][] predictDoubleRows(ModelSpec spec, double[][] rows) {
    if (rows == null) {
      throw new IllegalArgumentException("spec and rows must not be null");
    }
    return (double[][]) predictRows(spec, null, rows, rows.length);
  }

  /** Rows of floats ({@code f}) or of doubles ({@code d}) to rows of the same type. */
  private static Object predictRows(ModelSpec spec, float[][] f, double[][] d, int nrows) {
    if (spec == null) {
      throw new IllegalArgumentException("spec and rows must not be null");
    }
    for (TensorSpec t : spec.inputs) {
      if (t.dtype == DType.STR) {
        throw new IllegalArgumentException("input \"" + t.name + "\" is a string tensor");
      }
    }
    for (TensorSpec t : spec.outputs) {
      if (t.dtype == DType.STR) {
        throw new IllegalArgumentException("output \"" + t.name + "\" is a string tensor");
      }
    }
    final int nin = spec.inputColumns.length;
    final int nout = spec.outputColumns.length;
    for (int r = 0; r < nrows; r++) {
      Object row = f != null ? f[r] : d[r];
      int length = row == null ? -1 : f != null ? f[r].length : d[r].length;
      if (length != nin) {
        throw new IllegalArgumentException("row " + r + " has "
            + (row == null ? "no values" : length + " values") + ", expected " + nin);
      }
    }
    float[][] fres = f != null ? new float[nrows][nout] : null;
    double[][] dres = f != null ? null : new double[nrows][nout];
    if (nrows == 0) {
      return f != null ? fres : dres;
    }
    final int block = Math.min(nrows, blockRows(spec));
    Object[] ins = allocate(spec.inputs, block);
    Object[] outs = allocate(spec.outputs, block);
    for (int r0 = 0; r0 < nrows; r0 += block) {
      int n = Math.min(block, nrows - r0);
      for (int r = 0; r < n; r++) {
        float[] frow = f != null ? f[r0 + r] : null;
        double[] drow = f != null ? null : d[r0 + r];
        for (int k = 0; k < nin; k++) {
          ColumnSpec c = spec.inputColumns[k];
          TensorSpec t = spec.inputs[c.tensor];
          int idx = r * t.rowSize + c.offset;
          // A float widens exactly, so one double carries both kinds of rows.
          double v = frow != null ? frow[k] : drow[k];
          switch (t.dtype) {
            case F32:
              ((float[]) ins[c.tensor])[idx] = (float) v;
              break;
            case F64:
              ((double[]) ins[c.tensor])[idx] = v;
              break;
            default: // I64
              if (!(v >= -0x1p63 && v < 0x1p63) || v != Math.rint(v)) {
                throw new IllegalArgumentException("row " + (r0 + r) + ", column \"" + c.name
                    + "\": " + (frow != null ? Float.toString(frow[k]) : Double.toString(v))
                    + " is not an integer");
              }
              ((long[]) ins[c.tensor])[idx] = (long) v;
              break;
          }
        }
      }
      spec.runner.run(ins, outs, n);
      for (int r = 0; r < n; r++) {
        float[] fr = fres != null ? fres[r0 + r] : null;
        double[] dr = fres != null ? null : dres[r0 + r];
        for (int k = 0; k < nout; k++) {
          ColumnSpec c = spec.outputColumns[k];
          TensorSpec t = spec.outputs[c.tensor];
          int idx = r * t.rowSize + c.offset;
          switch (t.dtype) {
            case F32:
              float x = ((float[]) outs[c.tensor])[idx];
              if (fr != null) {
                fr[k] = x;
              } else {
                dr[k] = x;
              }
              break;
            case F64:
              double y = ((double[]) outs[c.tensor])[idx];
              if (fr != null) {
                fr[k] = (float) y;
              } else {
                dr[k] = y;
              }
              break;
            default: // I64
              long z = ((long[]) outs[c.tensor])[idx];
              if (fr != null) {
                fr[k] = (float) z;
              } else {
                dr[k] = (double) z;
              }
              break;
          }
        }
      }
    }
    return f != null ? fres : dres;
  }
}
