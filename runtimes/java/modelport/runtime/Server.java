package modelport.runtime;

import com.sun.net.httpserver.Headers;
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.PrintStream;
import java.io.StringReader;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.atomic.AtomicInteger;

import modelport.runtime.CsvProgram.Block;
import modelport.runtime.CsvProgram.Record;
import modelport.runtime.ModelSpec.ColumnSpec;
import modelport.runtime.ModelSpec.DType;

/**
 * {@code java -jar model.jar serve}: the model behind an HTTP server (the JDK's
 * com.sun.net.httpserver). POST /predict takes JSON (rows or columns) or CSV and answers in the
 * same form, with the CSV program's checks and messages; GET /schema, /health, /ready and
 * /metrics describe and watch it. SIGTERM or SIGINT stops accepting connections, lets the
 * requests in flight finish (up to 30 s) and exits 0. The HTTP API is described in
 * docs/serving.md; both runtimes (C++ and Java) answer the same way.
 */
public final class Server {
  static final int DEFAULT_PORT = 8080;
  static final long DEFAULT_MAX_BODY = 16L << 20;
  /** The largest body a byte array can hold. */
  static final long MAX_MAX_BODY = Integer.MAX_VALUE - 16;
  /** Seconds that requests in flight get to finish after SIGTERM. */
  static final int GRACE_SECONDS = 30;
  /** Bytes of an oversized body read and dropped before answering 413, so that the client,
   *  still sending, reads the answer rather than a reset connection. */
  static final long DRAIN_LIMIT = 64L << 20;

  static final String JSON = "application/json";
  static final String CSV = "text/csv";
  static final String METRICS_TYPE = "text/plain; version=0.0.4; charset=utf-8";
  private static final String[] PATHS = {"/predict", "/schema", "/health", "/ready", "/metrics"};

  /** The form of a /predict request and of its answer. */
  enum Form { CSV, ROWS, COLUMNS }

  private final ModelSpec spec;
  private final Options options;
  private final Metrics metrics = new Metrics();
  private final RequestLog log;
  /** serve --shadow DIR: the model compared on every request, or null. */
  private final Shadow shadow;
  private final AtomicInteger inFlight = new AtomicInteger();
  private volatile boolean stopping;
  /** Output column names as JSON strings. */
  private final String[] outNames;
  /** The answer of GET /schema. */
  private final String schema;

  private Server(ModelSpec spec, Options options, RequestLog log, Shadow shadow) {
    this.spec = spec;
    this.options = options;
    this.log = log;
    this.shadow = shadow;
    outNames = new String[spec.outputColumns.length];
    for (int k = 0; k < outNames.length; k++) {
      outNames[k] = Json.quote(spec.outputColumns[k].name);
    }
    schema = schemaJson(spec);
  }

  // ---------------------------------------------------------------------------------------
  // Command line
  // ---------------------------------------------------------------------------------------

  static final class Options {
    String host = "127.0.0.1";
    int port = DEFAULT_PORT;
    int threads = Runtime.getRuntime().availableProcessors();
    long maxBody = DEFAULT_MAX_BODY;
    String log;
    double logSample = 1.0;
    boolean allowExtra;
    String shadow;
  }

  /** Thrown for a bad option; the message is printed after "error: ". */
  static final class UsageException extends Exception {
    private static final long serialVersionUID = 1L;

    UsageException(String message) {
      super(message);
    }
  }

  static Options parseOptions(String[] args) throws UsageException {
    Options o = new Options();
    for (int i = 0; i < args.length; i++) {
      String a = args[i];
      if (a.equals("--allow-extra-columns")) {
        o.allowExtra = true;
        continue;
      }
      String name = a;
      String value = null;
      int eq = a.indexOf('=');
      if (a.startsWith("--") && eq > 0) {
        name = a.substring(0, eq);
        value = a.substring(eq + 1);
      }
      switch (name) {
        case "--host": case "--port": case "--threads": case "--max-body": case "--log":
        case "--log-sample": case "--shadow":
          break;
        default:
          throw new UsageException(a.startsWith("-") ? "unknown option \"" + a + "\""
              : "unexpected argument \"" + a + "\"");
      }
      if (value == null) {
        if (i + 1 >= args.length) {
          throw new UsageException("option " + name + " needs a value");
        }
        value = args[++i];
      }
      switch (name) {
        case "--host":
          if (value.isEmpty()) {
            throw new UsageException("--host needs a host name or address");
          }
          o.host = value;
          break;
        case "--port":
          o.port = (int) integer(name, value, 0, 65535);
          break;
        case "--threads":
          o.threads = (int) integer(name, value, 1, 4096);
          break;
        case "--max-body":
          o.maxBody = integer(name, value, 0, MAX_MAX_BODY);
          break;
        case "--shadow":
          if (value.isEmpty()) {
            throw new UsageException("--shadow needs an artifact directory");
          }
          o.shadow = value;
          break;
        case "--log":
          if (value.isEmpty()) {
            throw new UsageException("--log needs a file name");
          }
          o.log = value;
          break;
        default: // --log-sample
          double r;
          try {
            r = CsvProgram.isDecimal(value) ? Double.parseDouble(value) : Double.NaN;
          } catch (NumberFormatException e) {
            r = Double.NaN;
          }
          if (!(r >= 0 && r <= 1)) {
            throw new UsageException(
                "--log-sample needs a number from 0 to 1, not \"" + value + "\"");
          }
          o.logSample = r;
          break;
      }
    }
    return o;
  }

  private static long integer(String name, String value, long min, long max)
      throws UsageException {
    long v;
    try {
      v = Long.parseLong(value);
    } catch (NumberFormatException e) {
      v = min - 1;
    }
    if (v < min || v > max) {
      throw new UsageException(name + " needs an integer from " + min + " to " + max
          + ", not \"" + value + "\"");
    }
    return v;
  }

  /**
   * Runs {@code serve ARGS}: returns an exit code only when it cannot start (2: bad options, 1:
   * cannot listen or open the log); once serving, the process ends in the shutdown hook.
   */
  static int run(ModelSpec spec, String[] args, PrintStream err) {
    Options o;
    try {
      o = parseOptions(args);
    } catch (UsageException e) {
      err.print("error: " + e.getMessage() + "\n" + String.format(CsvProgram.USAGE_LINES,
          spec.modelName) + "Run '" + spec.modelName + " --help' for details.\n");
      err.flush();
      return CsvProgram.EXIT_BAD_INPUT;
    }
    Shadow shadow = null;
    if (o.shadow != null) {
      try {
        shadow = Shadow.load(o.shadow, spec);
      } catch (Shadow.StartException e) {
        err.print("error: --shadow " + o.shadow + ": " + e.getMessage() + "\n");
        err.flush();
        return CsvProgram.EXIT_BAD_INPUT;
      }
    }
    RequestLog log = null;
    if (o.log != null) {
      try {
        log = new RequestLog(o.log, o.logSample);
      } catch (IOException e) {
        err.print("error: cannot open the log file \"" + o.log + "\": " + e.getMessage() + "\n");
        err.flush();
        return CsvProgram.EXIT_FAILURE;
      }
    }
    Server s = new Server(spec, o, log, shadow);
    try {
      s.start(err);
    } catch (IOException e) {
      err.print("error: cannot listen on " + hostPort(o.host, o.port) + ": " + e.getMessage()
          + "\n");
      err.flush();
      return CsvProgram.EXIT_FAILURE;
    }
    CountDownLatch never = new CountDownLatch(1);
    for (;;) {
      try {
        never.await(); // the shutdown hook ends the process
      } catch (InterruptedException e) {
        // keep waiting
      }
    }
  }

  private static String hostPort(String host, int port) {
    return (host.indexOf(':') >= 0 ? "[" + host + "]" : host) + ":" + port;
  }

  private void start(PrintStream err) throws IOException {
    InetSocketAddress address = new InetSocketAddress(InetAddress.getByName(options.host),
        options.port);
    // The JDK's server writes an answer's headers and body separately: without TCP_NODELAY,
    // Nagle's algorithm and the client's delayed ACK hold every answer about 40 ms. Read once,
    // when the first server of the process is made.
    if (System.getProperty("sun.net.httpserver.nodelay") == null) {
      System.setProperty("sun.net.httpserver.nodelay", "true");
    }
    HttpServer http = HttpServer.create(address, 0);
    AtomicInteger ids = new AtomicInteger();
    ExecutorService pool = Executors.newFixedThreadPool(options.threads, r -> {
      Thread t = new Thread(r, "modelport-http-" + ids.incrementAndGet());
      t.setDaemon(true);
      return t;
    });
    // Counted from the moment the dispatcher hands an exchange over (before its headers are
    // parsed), so that shutdown waits for requests queued for a thread too.
    http.setExecutor(r -> {
      inFlight.incrementAndGet();
      try {
        pool.execute(() -> {
          try {
            r.run();
          } finally {
            inFlight.decrementAndGet();
          }
        });
      } catch (RejectedExecutionException e) {
        inFlight.decrementAndGet();
        throw e;
      }
    });
    http.createContext("/", this::handle);
    Runtime.getRuntime().addShutdownHook(new Thread(() -> shutdown(http), "modelport-shutdown"));
    http.start();
    err.print("serving " + spec.modelName + " on http://"
        + hostPort(options.host, http.getAddress().getPort())
        + (shadow == null ? "" : " (shadow: " + shadow.spec.modelName + ")") + "\n");
    err.flush();
  }

  /** SIGTERM / SIGINT: stop accepting, answer /ready with 503, wait for requests, exit 0. */
  private void shutdown(HttpServer http) {
    stopping = true;
    // HttpServer.stop closes the listening socket at once, then waits for the exchanges; it
    // may wait its whole delay even when none is left (JDK-8304065), so it runs on its own
    // thread and the end comes from our own count.
    Thread stopper = new Thread(() -> http.stop(GRACE_SECONDS), "modelport-stop");
    stopper.setDaemon(true);
    stopper.start();
    long deadline = System.nanoTime() + GRACE_SECONDS * 1_000_000_000L;
    while (inFlight.get() > 0 && System.nanoTime() < deadline) {
      try {
        Thread.sleep(5);
      } catch (InterruptedException e) {
        break;
      }
    }
    if (log != null) {
      log.close();
    }
    System.err.flush();
    Runtime.getRuntime().halt(CsvProgram.EXIT_OK);
  }

  // ---------------------------------------------------------------------------------------
  // Requests
  // ---------------------------------------------------------------------------------------

  /** An answer: status, content type, body, extra headers. */
  static final class Reply {
    final int code;
    final String type;
    final byte[] body;
    final Map<String, String> headers = new HashMap<>();

    Reply(int code, String type, String body) {
      this.code = code;
      this.type = type;
      this.body = body.getBytes(StandardCharsets.UTF_8);
    }
  }

  /** A refused request: its status and the error object's fields. */
  static final class Refusal extends Exception {
    private static final long serialVersionUID = 1L;
    final int code;
    final long row;
    final String column;

    Refusal(int code, String message, long row, String column) {
      super(message);
      this.code = code;
      this.row = row;
      this.column = column;
    }

    Refusal(int code, String message) {
      this(code, message, 0, null);
    }

    /** {"error": ..., "row": ..., "column": ...} (row 0 is null). */
    String json() {
      return errorJson(getMessage(), row, column);
    }
  }

  static String errorJson(String message, long row, String column) {
    return "{\"error\":" + Json.quote(message)
        + ",\"row\":" + (row > 0 ? Long.toString(row) : "null")
        + ",\"column\":" + Json.quote(column) + "}";
  }

  private void handle(HttpExchange ex) {
    long t0 = System.nanoTime();
    String path = ex.getRequestURI().getPath();
    String label = "other";
    for (String p : PATHS) {
      if (p.equals(path)) {
        label = p;
      }
    }
    if (shadow != null && path.equals("/shadow")) {
      label = path;
    }
    Reply reply = null;
    try {
      try {
        reply = route(ex, path, label, t0);
      } catch (Refusal r) {
        reply = new Reply(r.code, JSON, r.json());
      } catch (Throwable e) { // a request must never take the server down
        reply = new Reply(500, JSON, errorJson(failure(e), 0, null));
      }
      // Counted before the answer leaves: a client that has read it finds it on /metrics.
      count(ex, label, reply.code, t0);
      send(ex, reply);
    } catch (IOException | RuntimeException e) {
      // The client went away; nothing to answer.
      if (reply == null) {
        count(ex, label, 500, t0);
      }
    } finally {
      ex.close();
    }
  }

  private void count(HttpExchange ex, String label, int code, long t0) {
    metrics.request(label, code);
    if (label.equals("/predict") && ex.getRequestMethod().equals("POST")) {
      metrics.latency(System.nanoTime() - t0);
    }
  }

  private static String failure(Throwable e) {
    return e instanceof OutOfMemoryError ? "out of memory" : "model evaluation failed: " + e;
  }

  private void send(HttpExchange ex, Reply reply) throws IOException {
    Headers h = ex.getResponseHeaders();
    h.set("Content-Type", reply.type);
    for (Map.Entry<String, String> e : reply.headers.entrySet()) {
      h.set(e.getKey(), e.getValue());
    }
    if (stopping) {
      h.set("Connection", "close");
    }
    ex.sendResponseHeaders(reply.code, reply.body.length == 0 ? -1 : reply.body.length);
    if (reply.body.length > 0) {
      try (OutputStream os = ex.getResponseBody()) {
        os.write(reply.body);
      }
    }
  }

  private Reply route(HttpExchange ex, String path, String label, long t0)
      throws IOException, Refusal {
    String method = ex.getRequestMethod();
    if (label.equals("other")) {
      drain(ex.getRequestBody(), DRAIN_LIMIT);
      throw new Refusal(404, "no such path \"" + path
          + "\" (paths: /predict, /schema, /health, /ready, /metrics)");
    }
    String allowed = label.equals("/predict") ? "POST" : "GET";
    if (!method.equals(allowed)) {
      drain(ex.getRequestBody(), DRAIN_LIMIT);
      Reply r = new Reply(405, JSON, errorJson("method " + method + " is not allowed on " + path
          + " (use " + allowed + ")", 0, null));
      r.headers.put("Allow", allowed);
      return r;
    }
    switch (label) {
      case "/predict":
        return predict(ex, t0);
      case "/schema":
        return new Reply(200, JSON, schema);
      case "/health":
        return new Reply(200, JSON, "{\"status\":\"ok\"}");
      case "/ready":
        return stopping ? new Reply(503, JSON, "{\"status\":\"stopping\"}")
            : new Reply(200, JSON, "{\"status\":\"ready\"}");
      default: // /metrics
        return new Reply(200, METRICS_TYPE, metrics.text(shadow));
      case "/shadow":
        return new Reply(200, JSON, shadow.json());
    }
  }

  /** The model's schema: name, input and output columns (type, tensor, index, levels), and
   *  the description the program's --schema prints. */
  static String schemaJson(ModelSpec spec) {
    StringBuilder s = new StringBuilder();
    s.append("{\"name\":");
    Json.appendString(s, spec.modelName);
    s.append(",\"inputs\":");
    appendColumns(s, spec.inputColumns, spec.inputs);
    s.append(",\"outputs\":");
    appendColumns(s, spec.outputColumns, spec.outputs);
    s.append(",\"description\":");
    Json.appendString(s, CsvProgram.schemaText(spec));
    return s.append('}').toString();
  }

  private static void appendColumns(StringBuilder s, ColumnSpec[] cols,
      ModelSpec.TensorSpec[] tensors) {
    s.append('[');
    for (int i = 0; i < cols.length; i++) {
      ColumnSpec c = cols[i];
      if (i > 0) {
        s.append(',');
      }
      s.append("{\"name\":");
      Json.appendString(s, c.name);
      s.append(",\"type\":\"").append(tensors[c.tensor].dtype.displayName()).append('"');
      s.append(",\"tensor\":");
      Json.appendString(s, tensors[c.tensor].name);
      s.append(",\"index\":").append(c.offset);
      if (c.isClosed()) {
        s.append(",\"levels\":[");
        String[] levels = c.levels();
        for (int j = 0; j < levels.length; j++) {
          if (j > 0) {
            s.append(',');
          }
          Json.appendString(s, levels[j]);
        }
        s.append(']');
      }
      s.append('}');
    }
    s.append(']');
  }

  // ---------------------------------------------------------------------------------------
  // POST /predict
  // ---------------------------------------------------------------------------------------

  private Reply predict(HttpExchange ex, long t0) throws IOException {
    Instant start = Instant.now();
    boolean sampled = log != null && log.sampled();
    // With a shadow, a request is logged also when the shadow differs or fails: keep its rows.
    boolean logged = sampled || (log != null && shadow != null);
    String noShadow = shadow == null ? null : "null";
    Answer answer = null;
    Reply reply;
    long rows = 0;
    String inputs = null;
    try {
      Form form = contentForm(ex);
      JsonRequest request = null;
      byte[] body = readBody(ex.getRequestBody(), ex.getRequestHeaders());
      String text = new String(body, StandardCharsets.UTF_8);
      if (form == Form.CSV) {
        answer = new Answer(Form.CSV, logged);
        CsvProgram.scoreCsv(spec, new StringReader(text), options.allowExtra,
            CsvProgram.blockRows(spec), answer);
        rows = answer.inputRows;
        inputs = logged ? answer.loggedInputs.append(']').toString() : null;
      } else {
        request = JsonRequest.read(text, spec);
        rows = request.rows.size();
        inputs = logged ? request.rowFormJson() : null;
        answer = new Answer(request.form, logged);
        CsvProgram.scoreRows(spec, request.header, request.rows, options.allowExtra, answer);
      }
      if (answer.error != null) {
        throw answer.error;
      }
      metrics.rowsScored(answer.rows);
      reply = new Reply(200, form == Form.CSV ? CSV : JSON, answer.body());
      String shadowed = noShadow;
      boolean differs = false;
      if (shadow != null) {
        Shadow.Result r = shadow.score(form == Form.CSV ? text : null, request, options.allowExtra);
        List<Integer> diff = shadow.compare(answer.shadowValues, r);
        shadowed = shadow.logJson(r, diff);
        differs = !diff.isEmpty() || r.error != null;
      }
      if (sampled || (logged && differs)) {
        write(start, t0, rows, inputs, answer.loggedOutputs.append(']').toString(), null,
            shadowed);
      }
    } catch (Refusal r) {
      reply = new Reply(r.code, JSON, r.json());
      if (r.code == 413) {
        reply.headers.put("Connection", "close");
      }
      if (sampled) {
        write(start, t0, rows, inputs, null, r.json(), noShadow);
      }
    } catch (RuntimeException | OutOfMemoryError | StackOverflowError e) {
      String error = errorJson(failure(e), 0, null);
      reply = new Reply(500, JSON, error);
      if (sampled) {
        write(start, t0, rows, inputs, null, error, noShadow);
      }
    }
    return reply;
  }

  private void write(Instant start, long t0, long rows, String inputs, String outputs,
      String error, String shadowed) {
    log.write(start, rows, inputs, outputs, error, (System.nanoTime() - t0) / 1e6, shadowed);
  }

  /** The form that the Content-Type names; 415 for any other, or another charset than UTF-8. */
  private static Form contentForm(HttpExchange ex) throws Refusal, IOException {
    String type = ex.getRequestHeaders().getFirst("Content-Type");
    Form form = null;
    String media = "";
    String charset = null;
    if (type != null) {
      String[] parts = type.split(";", -1);
      media = parts[0].trim().toLowerCase(Locale.ROOT);
      for (int i = 1; i < parts.length; i++) {
        String p = parts[i].trim();
        int eq = p.indexOf('=');
        if (eq > 0 && p.substring(0, eq).trim().equalsIgnoreCase("charset")) {
          charset = p.substring(eq + 1).trim().replace("\"", "");
        }
      }
      if (media.equals(JSON)) {
        form = Form.ROWS; // rows or columns: the body says
      } else if (media.equals(CSV)) {
        form = Form.CSV;
      }
    }
    String refusal = null;
    if (form == null) {
      refusal = type == null ? "missing Content-Type (use application/json or text/csv)"
          : "unsupported content type \"" + media + "\" (use application/json or text/csv)";
    } else if (charset != null && !charset.equalsIgnoreCase("utf-8")
        && !charset.equalsIgnoreCase("utf8")) {
      refusal = "unsupported charset \"" + charset + "\" (the body must be UTF-8)";
    }
    if (refusal != null) {
      drain(ex.getRequestBody(), DRAIN_LIMIT);
      throw new Refusal(415, refusal);
    }
    return form;
  }

  /** The whole body; 413 when it has more than --max-body bytes. */
  private byte[] readBody(InputStream in, Headers headers) throws IOException, Refusal {
    long declared = -1;
    String length = headers.getFirst("Content-Length");
    if (length != null) {
      try {
        declared = Long.parseLong(length.trim());
      } catch (NumberFormatException e) {
        declared = -1;
      }
    }
    long max = options.maxBody;
    if (declared > max) {
      drain(in, DRAIN_LIMIT);
      throw new Refusal(413, tooLarge(max));
    }
    ByteArrayOutputStream buf = new ByteArrayOutputStream(
        declared >= 0 ? (int) declared : 8192);
    byte[] chunk = new byte[1 << 16];
    long total = 0;
    int n;
    while ((n = in.read(chunk)) > 0) {
      total += n;
      if (total > max) {
        drain(in, DRAIN_LIMIT);
        throw new Refusal(413, tooLarge(max));
      }
      buf.write(chunk, 0, n);
    }
    return buf.toByteArray();
  }

  private static String tooLarge(long max) {
    return "request body larger than " + max + " bytes (the server's --max-body)";
  }

  private static void drain(InputStream in, long limit) {
    byte[] chunk = new byte[1 << 16];
    long total = 0;
    try {
      int n;
      while (total < limit && (n = in.read(chunk)) > 0) {
        total += n;
      }
    } catch (IOException e) {
      // the connection is closed after the answer anyway
    }
  }

  /** A CSV field in the log: a number for a number column when it reads as one (null when
   *  missing), else the text. */
  static void appendLoggedValue(StringBuilder s, ModelSpec spec, ColumnSpec c, String text) {
    if (c != null && spec.inputs[c.tensor].dtype != DType.STR) {
      double[] d = new double[1];
      if (CsvProgram.parseReal(text, false, null, d, 0)) {
        if (Double.isNaN(d[0])) {
          s.append("null");
          return;
        }
        if (!Double.isInfinite(d[0])) {
          Json.appendDouble(s, d[0]);
          return;
        }
      }
    }
    Json.appendString(s, text);
  }

  /** Collects the answer of /predict in the request's form, and the first error. */
  private final class Answer implements CsvProgram.Sink {
    final Form form;
    final StringBuilder sb = new StringBuilder();
    /** Columnar form: one array per output column. */
    StringBuilder[] columns;
    long rows;
    long inputRows;
    Refusal error;
    /** With a shadow: each row's outputs that the shadow also has. */
    final List<Object[]> shadowValues = shadow == null ? null : new ArrayList<>();
    final StringBuilder loggedInputs;
    final StringBuilder loggedOutputs;
    private ColumnSpec[] inputOfField;

    Answer(Form form, boolean logged) {
      this.form = form;
      loggedInputs = logged ? new StringBuilder("[") : null;
      loggedOutputs = logged ? new StringBuilder("[") : null;
    }

    @Override
    public void begin() {
      if (form == Form.CSV) {
        CsvProgram.appendCsvHeader(sb, spec);
      } else if (form == Form.ROWS) {
        sb.append("{\"rows\":[");
      } else {
        columns = new StringBuilder[outNames.length];
        for (int k = 0; k < columns.length; k++) {
          columns[k] = new StringBuilder();
        }
      }
    }

    private void appendRow(StringBuilder s, Block block, int r) {
      s.append('{');
      for (int k = 0; k < outNames.length; k++) {
        if (k > 0) {
          s.append(',');
        }
        s.append(outNames[k]).append(':');
        block.appendJson(s, r, k);
      }
      s.append('}');
    }

    @Override
    public void rows(Block block) {
      for (int r = 0; r < block.n; r++) {
        long i = rows + r;
        if (shadowValues != null) {
          shadowValues.add(shadow.primaryRow(block, r));
        }
        if (form == Form.CSV) {
          block.appendCsvRow(sb, r);
        } else if (form == Form.ROWS) {
          if (i > 0) {
            sb.append(',');
          }
          appendRow(sb, block, r);
        } else {
          for (int k = 0; k < columns.length; k++) {
            if (i > 0) {
              columns[k].append(',');
            }
            block.appendJson(columns[k], r, k);
          }
        }
        if (loggedOutputs != null) {
          if (i > 0) {
            loggedOutputs.append(',');
          }
          appendRow(loggedOutputs, block, r);
        }
      }
      rows += block.n;
    }

    @Override
    public boolean error(String message, long row, String column) {
      if (error == null) {
        error = new Refusal(400, message, row, column);
      }
      return false;
    }

    @Override
    public void input(String[] header, Record rec) {
      inputRows++;
      if (loggedInputs == null) {
        return;
      }
      if (inputOfField == null) {
        Map<String, ColumnSpec> byName = new HashMap<>();
        for (ColumnSpec c : spec.inputColumns) {
          byName.put(c.name, c);
        }
        inputOfField = new ColumnSpec[header.length];
        for (int j = 0; j < header.length; j++) {
          inputOfField[j] = byName.get(header[j]);
        }
      }
      if (inputRows > 1) {
        loggedInputs.append(',');
      }
      loggedInputs.append('{');
      for (int j = 0; j < Math.min(header.length, rec.size); j++) {
        if (j > 0) {
          loggedInputs.append(',');
        }
        Json.appendString(loggedInputs, header[j]);
        loggedInputs.append(':');
        appendLoggedValue(loggedInputs, spec, inputOfField[j], rec.field(j));
      }
      loggedInputs.append('}');
    }

    String body() {
      if (form == Form.CSV) {
        return sb.toString();
      }
      if (form == Form.ROWS) {
        return sb.append("]}").toString();
      }
      StringBuilder s = new StringBuilder("{\"columns\":{");
      for (int k = 0; k < outNames.length; k++) {
        if (k > 0) {
          s.append(',');
        }
        s.append(outNames[k]).append(":[").append(columns == null ? "" : columns[k]).append(']');
      }
      return s.append("}}").toString();
    }
  }

  /** A JSON /predict body read into a header and rows of field texts (as CSV fields). */
  static final class JsonRequest {
    Form form;
    String[] header;
    final List<String[]> rows = new ArrayList<>();
    /** The parsed rows (row form) or columns (columnar form), for the log. */
    Object source;

    static final String SHAPE =
        "the request must be a JSON object with \"rows\" (an array of objects) or \"columns\""
        + " (an object of arrays)";

    /** Reads a body; {@code spec} names the input columns a row may leave out. */
    static JsonRequest read(String text, ModelSpec spec) throws Refusal {
      Object doc;
      try {
        doc = Json.parse(text);
      } catch (Json.ParseException e) {
        throw new Refusal(400, e.getMessage());
      }
      if (!(doc instanceof Json.Obj)) {
        throw new Refusal(400, SHAPE);
      }
      Json.Obj top = (Json.Obj) doc;
      Object rows = null;
      Object columns = null;
      for (int i = 0; i < top.size(); i++) {
        String key = top.names.get(i);
        if (!key.equals("rows") && !key.equals("columns")) {
          throw new Refusal(400, "unknown key " + Json.quote(key)
              + " in the request (expected \"rows\" or \"columns\")");
        }
        if (top.names.indexOf(key) != i) {
          throw new Refusal(400, "duplicate key " + Json.quote(key) + " in the request");
        }
        if (key.equals("rows")) {
          rows = top.values.get(i);
        } else {
          columns = top.values.get(i);
        }
      }
      if ((rows == null) == (columns == null)) {
        throw new Refusal(400, SHAPE);
      }
      JsonRequest r = new JsonRequest();
      if (rows != null) {
        r.readRows(rows, spec);
      } else {
        r.readColumns(columns);
      }
      return r;
    }

    /** Row form: a name that a row leaves out is a missing value in that row, and so is, in
     *  every row, an input column that no row names. */
    private void readRows(Object value, ModelSpec spec) throws Refusal {
      form = Form.ROWS;
      source = value;
      if (!(value instanceof List)) {
        throw new Refusal(400, "\"rows\" must be an array of objects");
      }
      List<?> list = (List<?>) value;
      // The model's columns, then the other names in order of first appearance.
      Map<String, Integer> index = new HashMap<>();
      List<String> names = new ArrayList<>();
      for (ColumnSpec c : spec.inputColumns) {
        index.put(c.name, names.size());
        names.add(c.name);
      }
      for (int i = 0; i < list.size(); i++) {
        if (!(list.get(i) instanceof Json.Obj)) {
          throw new Refusal(400, "row " + (i + 1) + ": expected an object", i + 1, null);
        }
        for (String name : ((Json.Obj) list.get(i)).names) {
          if (!index.containsKey(name)) {
            index.put(name, names.size());
            names.add(name);
          }
        }
      }
      header = names.toArray(new String[0]);
      for (int i = 0; i < list.size(); i++) {
        Json.Obj o = (Json.Obj) list.get(i);
        String[] fields = new String[header.length];
        java.util.Arrays.fill(fields, "");
        boolean[] set = new boolean[header.length];
        for (int m = 0; m < o.size(); m++) {
          String name = o.names.get(m);
          int j = index.get(name);
          if (set[j]) {
            throw new Refusal(400, "row " + (i + 1) + ": duplicate column name \"" + name + "\"",
                i + 1, name);
          }
          set[j] = true;
          fields[j] = text(o.values.get(m), i + 1, name);
        }
        rows.add(fields);
      }
    }

    private void readColumns(Object value) throws Refusal {
      form = Form.COLUMNS;
      source = value;
      if (!(value instanceof Json.Obj)) {
        throw new Refusal(400, "\"columns\" must be an object of arrays");
      }
      Json.Obj o = (Json.Obj) value;
      header = o.names.toArray(new String[0]);
      int n = -1;
      for (int j = 0; j < o.size(); j++) {
        Object v = o.values.get(j);
        if (!(v instanceof List)) {
          throw new Refusal(400, "column \"" + header[j] + "\": expected an array of values", 0,
              header[j]);
        }
        int size = ((List<?>) v).size();
        if (n < 0) {
          n = size;
        } else if (size != n) {
          throw new Refusal(400, "column \"" + header[j] + "\" has " + size + " values, column \""
              + header[0] + "\" has " + n, 0, header[j]);
        }
      }
      for (int i = 0; i < Math.max(n, 0); i++) {
        String[] fields = new String[header.length];
        for (int j = 0; j < header.length; j++) {
          fields[j] = text(((List<?>) o.values.get(j)).get(i), i + 1, header[j]);
        }
        rows.add(fields);
      }
    }

    /** A JSON value as the CSV field it stands for: a number's text as written, a string's
     *  text, "" for null; true and false as words (which no number column reads). */
    private static String text(Object v, long row, String column) throws Refusal {
      if (v == Json.NULL) {
        return "";
      }
      if (v instanceof String) {
        return (String) v;
      }
      if (v instanceof Json.Num || v instanceof Boolean) {
        return v.toString();
      }
      throw new Refusal(400, "row " + row + ", column \"" + column
          + "\": expected a number, a string or null", row, column);
    }

    /** The request's rows as a JSON array of objects. */
    String rowFormJson() {
      StringBuilder s = new StringBuilder();
      if (form == Form.ROWS) {
        Json.append(s, source);
        return s.toString();
      }
      Json.Obj o = (Json.Obj) source;
      s.append('[');
      for (int i = 0; i < rows.size(); i++) {
        if (i > 0) {
          s.append(',');
        }
        s.append('{');
        for (int j = 0; j < o.size(); j++) {
          if (j > 0) {
            s.append(',');
          }
          Json.appendString(s, o.names.get(j));
          s.append(':');
          Json.append(s, ((List<?>) o.values.get(j)).get(i));
        }
        s.append('}');
      }
      return s.append(']').toString();
    }
  }
}
