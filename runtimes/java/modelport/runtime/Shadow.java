package modelport.runtime;

import java.io.File;
import java.io.IOException;
import java.io.InputStream;
import java.lang.reflect.Field;
import java.net.URL;
import java.net.URLClassLoader;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.jar.JarFile;

import modelport.runtime.CsvProgram.Block;
import modelport.runtime.ModelSpec.ColumnSpec;
import modelport.runtime.ModelSpec.DType;

/**
 * {@code serve --shadow DIR}: a second compiled model (another artifact's jar) that scores
 * every request the server answers, compared output by output with the model that answers.
 * Holds the comparison's running totals and the most recent differing rows.
 */
final class Shadow {
  /** Differing rows kept for GET /shadow. */
  static final int SAMPLE_ROWS = 20;

  /** A shadow that cannot be used: the message follows "error: --shadow DIR: ". */
  static final class StartException extends Exception {
    private static final long serialVersionUID = 1L;

    StartException(String message) {
      super(message);
    }
  }

  final String dir;
  final ModelSpec spec;
  /** The common output columns: index in the primary's and in the shadow's output columns. */
  final int[] primaryColumns;
  final int[] shadowColumns;
  final boolean[] numeric;
  final String[] names;
  /** The shadow's input columns by name (for the sample's input values). */
  private final Map<String, ColumnSpec> inputByName = new HashMap<>();

  private long rows;
  private long rowsDiffering;
  private long errors;
  private final long[] differing;
  private final double[] maxAbs;
  private final ArrayDeque<String> sample = new ArrayDeque<>();

  private Shadow(String dir, ModelSpec primary, ModelSpec shadow) throws StartException {
    this.dir = dir;
    this.spec = shadow;
    for (ColumnSpec c : shadow.inputColumns) {
      inputByName.put(c.name, c);
    }
    String why = inputDifferences(primary, shadow);
    if (why != null) {
      throw new StartException("the shadow model's input columns differ from this model's: " + why);
    }
    Map<String, Integer> byName = new HashMap<>();
    for (int k = 0; k < shadow.outputColumns.length; k++) {
      byName.put(shadow.outputColumns[k].name, k);
    }
    List<int[]> pairs = new ArrayList<>();
    for (int k = 0; k < primary.outputColumns.length; k++) {
      Integer j = byName.get(primary.outputColumns[k].name);
      if (j != null) {
        pairs.add(new int[] {k, j});
      }
    }
    if (pairs.isEmpty()) {
      throw new StartException("the two models have no output column in common");
    }
    int n = pairs.size();
    primaryColumns = new int[n];
    shadowColumns = new int[n];
    numeric = new boolean[n];
    names = new String[n];
    for (int i = 0; i < n; i++) {
      primaryColumns[i] = pairs.get(i)[0];
      shadowColumns[i] = pairs.get(i)[1];
      names[i] = primary.outputColumns[primaryColumns[i]].name;
      numeric[i] = outputType(primary, primaryColumns[i]) != DType.STR
          && outputType(shadow, shadowColumns[i]) != DType.STR;
    }
    differing = new long[n];
    maxAbs = new double[n];
  }

  /** Loads DIR/java/&lt;name&gt;.jar and checks it against the primary model. */
  static Shadow load(String dir, ModelSpec primary) throws StartException {
    return new Shadow(dir, primary, loadSpec(dir));
  }

  private static DType outputType(ModelSpec spec, int k) {
    return spec.outputs[spec.outputColumns[k].tensor].dtype;
  }

  private static DType inputType(ModelSpec spec, ColumnSpec c) {
    return spec.inputs[c.tensor].dtype;
  }

  /** What differs between the two models' input columns, or null. */
  static String inputDifferences(ModelSpec a, ModelSpec b) {
    Map<String, ColumnSpec> inB = new HashMap<>();
    for (ColumnSpec c : b.inputColumns) {
      inB.put(c.name, c);
    }
    Map<String, ColumnSpec> inA = new HashMap<>();
    for (ColumnSpec c : a.inputColumns) {
      inA.put(c.name, c);
    }
    List<String> missing = new ArrayList<>();
    List<String> details = new ArrayList<>();
    for (ColumnSpec c : a.inputColumns) {
      ColumnSpec o = inB.get(c.name);
      if (o == null) {
        missing.add(Json.quote(c.name));
      } else if (inputType(a, c) != inputType(b, o)) {
        details.add(Json.quote(c.name) + " is " + inputType(a, c).displayName()
            + " here and " + inputType(b, o).displayName() + " in the shadow");
      } else if (c.isClosed() != o.isClosed()
          || (c.isClosed() && !Arrays.equals(c.levels(), o.levels()))) {
        details.add(Json.quote(c.name) + " has other levels");
      }
    }
    List<String> extra = new ArrayList<>();
    for (ColumnSpec c : b.inputColumns) {
      if (!inA.containsKey(c.name)) {
        extra.add(Json.quote(c.name));
      }
    }
    List<String> parts = new ArrayList<>();
    if (!missing.isEmpty()) {
      parts.add("missing " + String.join(", ", missing));
    }
    if (!extra.isEmpty()) {
      parts.add("extra " + String.join(", ", extra));
    }
    parts.addAll(details);
    return parts.isEmpty() ? null : String.join("; ", parts);
  }

  /** The ModelSpec of the model class that DIR/java/*.jar runs. */
  private static ModelSpec loadSpec(String dir) throws StartException {
    File java = new File(dir, "java");
    File[] jars = java.listFiles((d, n) -> n.endsWith(".jar"));
    if (jars == null || jars.length == 0) {
      throw new StartException("no Java model found (expected " + new File(java, "<name>.jar")
          + ", from modelport build with the java target)");
    }
    if (jars.length > 1) {
      Arrays.sort(jars);
      throw new StartException("several jars in " + java + " (" + Arrays.toString(jars)
          + "): point --shadow at one artifact directory");
    }
    String main;
    try (JarFile jar = new JarFile(jars[0])) {
      main = jar.getManifest() == null ? null
          : jar.getManifest().getMainAttributes().getValue("Main-Class");
    } catch (IOException e) {
      throw new StartException("cannot read " + jars[0] + ": " + e.getMessage());
    }
    if (main == null || !main.startsWith(MODELS)) {
      throw new StartException(jars[0] + " is not a modelport model jar (no model main class)");
    }
    try {
      ClassLoader loader = new ModelLoader(jars[0].toURI().toURL(), Shadow.class.getClassLoader());
      Class<?> cls = Class.forName(main, true, loader);
      Field f = cls.getField("SPEC");
      return (ModelSpec) f.get(null);
    } catch (ReflectiveOperationException | LinkageError | ClassCastException
        | IOException e) {
      throw new StartException("cannot load the model in " + jars[0] + " (" + e
          + "); a jar built by another version of modelport: rebuild both with this one");
    }
  }

  private static final String MODELS = "modelport.models.";

  /**
   * Loads the shadow jar's model classes and resources from that jar first (both models may
   * have the same class name), and the runtime (modelport.runtime) from this jar, so that the
   * two share ModelSpec.
   */
  private static final class ModelLoader extends URLClassLoader {
    ModelLoader(URL jar, ClassLoader parent) {
      super(new URL[] {jar}, parent);
    }

    @Override
    protected Class<?> loadClass(String name, boolean resolve) throws ClassNotFoundException {
      if (!name.startsWith(MODELS)) {
        return super.loadClass(name, resolve);
      }
      synchronized (getClassLoadingLock(name)) {
        Class<?> c = findLoadedClass(name);
        if (c == null) {
          c = findClass(name);
        }
        if (resolve) {
          resolveClass(c);
        }
        return c;
      }
    }

    @Override
    public URL getResource(String name) {
      URL u = name.startsWith("modelport/models/") ? findResource(name) : null;
      return u != null ? u : super.getResource(name);
    }

    @Override
    public InputStream getResourceAsStream(String name) {
      URL u = getResource(name);
      try {
        return u == null ? null : u.openStream();
      } catch (IOException e) {
        return null;
      }
    }
  }

  // ---------------------------------------------------------------------------------------
  // Scoring
  // ---------------------------------------------------------------------------------------

  /** What the shadow made of one request: its common outputs per row, each row's input
   *  fields under {@code header} (made into JSON only for the rows that differ), or the error
   *  object of its refusal or failure. */
  static final class Result {
    final List<Object[]> values = new ArrayList<>();
    String[] header;
    List<String[]> fields = new ArrayList<>();
    String error;
  }

  /** Scores a request that the primary answered: the CSV body {@code csv}, or else the JSON
   *  request's rows. Never throws for the model's sake: a failure is the result's error. */
  Result score(String csv, Server.JsonRequest request, boolean allowExtra) {
    Result result = new Result();
    CsvProgram.Sink sink = new CsvProgram.Sink() {
      @Override
      public void begin() {}

      @Override
      public void rows(Block block) {
        for (int r = 0; r < block.n; r++) {
          result.values.add(shadowRow(block, r));
        }
      }

      @Override
      public boolean error(String message, long row, String column) {
        if (result.error == null) {
          result.error = Server.errorJson(message, row, column);
        }
        return false;
      }

      @Override
      public void input(String[] header, CsvProgram.Record rec) {
        String[] fields = new String[Math.min(header.length, rec.size)];
        for (int j = 0; j < fields.length; j++) {
          fields[j] = rec.field(j);
        }
        result.header = header;
        result.fields.add(fields);
      }
    };
    try {
      if (csv != null) {
        CsvProgram.scoreCsv(spec, new java.io.StringReader(csv), allowExtra,
            CsvProgram.blockRows(spec), sink);
      } else {
        result.header = request.header;
        result.fields = request.rows;
        CsvProgram.scoreRows(spec, request.header, request.rows, allowExtra, sink);
      }
    } catch (IOException | RuntimeException | OutOfMemoryError | StackOverflowError e) {
      result.error = Server.errorJson(e instanceof OutOfMemoryError ? "out of memory"
          : "model evaluation failed: " + e, 0, null);
    }
    return result;
  }

  /** A row's input fields as the log's JSON object (numbers as numbers). */
  private String inputObject(String[] header, String[] fields) {
    StringBuilder s = new StringBuilder("{");
    for (int j = 0; j < fields.length; j++) {
      if (j > 0) {
        s.append(',');
      }
      Json.appendString(s, header[j]);
      s.append(':');
      Server.appendLoggedValue(s, spec, inputByName.get(header[j]), fields[j] == null ? "" : fields[j]);
    }
    return s.append('}').toString();
  }

  /** The log's "shadow" entry for a request. */
  String logJson(Result r, List<Integer> differing) {
    StringBuilder s = new StringBuilder("{\"outputs\":");
    if (r.error != null) {
      s.append("null");
    } else {
      s.append('[');
      for (int i = 0; i < r.values.size(); i++) {
        s.append(i > 0 ? "," : "").append(object(r.values.get(i)));
      }
      s.append(']');
    }
    s.append(",\"error\":").append(r.error == null ? "null" : r.error).append(",\"differing\":[");
    for (int i = 0; i < differing.size(); i++) {
      s.append(i > 0 ? "," : "").append(differing.get(i));
    }
    return s.append("]}").toString();
  }

  // ---------------------------------------------------------------------------------------
  // Comparison
  // ---------------------------------------------------------------------------------------

  /** The common outputs of one evaluated row of the primary (or the shadow). */
  Object[] primaryRow(Block block, int r) {
    return pick(block, r, primaryColumns);
  }

  Object[] shadowRow(Block block, int r) {
    return pick(block, r, shadowColumns);
  }

  private static Object[] pick(Block block, int r, int[] cols) {
    Object[] v = new Object[cols.length];
    for (int i = 0; i < cols.length; i++) {
      v[i] = block.value(r, cols[i]);
    }
    return v;
  }

  /** |a - b| for numbers (0 when equal, NaN equal to NaN, +Inf against NaN); NaN when they
   *  are not both numbers. */
  static double difference(Object a, Object b) {
    if (!(a instanceof Number) || !(b instanceof Number)) {
      return Double.NaN;
    }
    double x = ((Number) a).doubleValue();
    double y = ((Number) b).doubleValue();
    if (Double.isNaN(x) || Double.isNaN(y)) {
      return Double.isNaN(x) && Double.isNaN(y) ? 0 : Double.POSITIVE_INFINITY;
    }
    if (x == y) {
      return 0;
    }
    double d = Math.abs(x - y);
    return Double.isNaN(d) ? Double.POSITIVE_INFINITY : d;
  }

  static boolean same(Object a, Object b) {
    double d = difference(a, b);
    return Double.isNaN(d) ? String.valueOf(a).equals(String.valueOf(b)) : d == 0;
  }

  /**
   * Compares one request's rows, the primary's common outputs with the shadow's result, and
   * counts them. Returns the 0-based indices of the differing rows.
   */
  synchronized List<Integer> compare(List<Object[]> primary, Result result) {
    List<Integer> diff = new ArrayList<>();
    if (result.error != null) {
      errors++;
      return diff;
    }
    List<Object[]> shadow = result.values;

    int n = Math.min(primary.size(), shadow.size());
    for (int r = 0; r < n; r++) {
      Object[] a = primary.get(r);
      Object[] b = shadow.get(r);
      boolean rowDiffers = false;
      for (int i = 0; i < a.length; i++) {
        if (same(a[i], b[i])) {
          continue;
        }
        rowDiffers = true;
        differing[i]++;
        double d = difference(a[i], b[i]);
        if (numeric[i] && d > maxAbs[i]) {
          maxAbs[i] = d;
        }
      }
      rows++;
      if (rowDiffers) {
        rowsDiffering++;
        diff.add(r);
        if (sample.size() == SAMPLE_ROWS) {
          sample.removeFirst();
        }
        sample.addLast("{\"inputs\":" + inputObject(result.header, result.fields.get(r)) + ",\"outputs\":" + object(a)
            + ",\"shadow\":" + object(b) + "}");
      }
    }
    return diff;
  }

  /** A row's common outputs as a JSON object. */
  String object(Object[] v) {
    StringBuilder s = new StringBuilder("{");
    for (int i = 0; i < v.length; i++) {
      if (i > 0) {
        s.append(',');
      }
      Json.appendString(s, names[i]);
      s.append(':');
      appendValue(s, v[i]);
    }
    return s.append('}').toString();
  }

  static void appendValue(StringBuilder s, Object v) {
    if (v instanceof Double) {
      Json.appendDouble(s, (Double) v);
    } else if (v instanceof Long) {
      s.append((long) (Long) v);
    } else {
      Json.appendString(s, v == null ? "" : v.toString());
    }
  }

  /** GET /shadow. */
  synchronized String json() {
    StringBuilder s = new StringBuilder("{\"shadow\":");
    Json.appendString(s, spec.modelName);
    s.append(",\"rows\":").append(rows).append(",\"rows_differing\":").append(rowsDiffering)
        .append(",\"errors\":").append(errors).append(",\"outputs\":{");
    for (int i = 0; i < names.length; i++) {
      if (i > 0) {
        s.append(',');
      }
      Json.appendString(s, names[i]);
      s.append(":{\"differing\":").append(differing[i]);
      if (numeric[i]) {
        s.append(",\"max_abs_difference\":");
        Json.appendDouble(s, maxAbs[i]);
      }
      s.append('}');
    }
    s.append("},\"sample\":[").append(String.join(",", sample)).append("]}");
    return s.toString();
  }

  /** The shadow's lines of /metrics. */
  synchronized void appendMetrics(StringBuilder s) {
    s.append("# HELP modelport_shadow_rows_total Rows scored by both the model and its shadow.\n")
        .append("# TYPE modelport_shadow_rows_total counter\n")
        .append("modelport_shadow_rows_total ").append(rows).append('\n');
    s.append("# HELP modelport_shadow_rows_differing_total Rows where any output of the shadow"
        + " differs.\n")
        .append("# TYPE modelport_shadow_rows_differing_total counter\n")
        .append("modelport_shadow_rows_differing_total ").append(rowsDiffering).append('\n');
    s.append("# HELP modelport_shadow_differences_total Rows where this output differs (for a"
        + " label: label flips).\n")
        .append("# TYPE modelport_shadow_differences_total counter\n");
    for (int i = 0; i < names.length; i++) {
      s.append("modelport_shadow_differences_total{output=\"").append(Metrics.label(names[i]))
          .append("\"} ").append(differing[i]).append('\n');
    }
    s.append("# HELP modelport_shadow_max_abs_difference Largest absolute difference seen in"
        + " this numeric output.\n")
        .append("# TYPE modelport_shadow_max_abs_difference gauge\n");
    for (int i = 0; i < names.length; i++) {
      if (numeric[i]) {
        s.append("modelport_shadow_max_abs_difference{output=\"")
            .append(Metrics.label(names[i])).append("\"} ")
            .append(Double.isInfinite(maxAbs[i]) ? "+Inf" : Double.toString(maxAbs[i]))
            .append('\n');
      }
    }
    s.append("# HELP modelport_shadow_errors_total Requests the model answered and the shadow"
        + " could not.\n")
        .append("# TYPE modelport_shadow_errors_total counter\n")
        .append("modelport_shadow_errors_total ").append(errors).append('\n');
  }
}
