package modelport.runtime;

import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicLongArray;

/** The HTTP server's counters and latency histogram, written in Prometheus text format 0.0.4. */
final class Metrics {
  /** Upper bounds of the latency buckets, in seconds (+Inf follows). */
  static final double[] BUCKETS = {
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5
  };
  /** The same bounds as written in the {@code le} label. */
  private static final String[] LE = {
    "0.0005", "0.001", "0.0025", "0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1", "2.5"
  };

  /** Keyed by path label, then status code. */
  private final Map<String, Map<Integer, AtomicLong>> requests = new TreeMap<>();
  private final AtomicLong errors = new AtomicLong();
  private final AtomicLong rows = new AtomicLong();
  private final AtomicLongArray buckets = new AtomicLongArray(BUCKETS.length + 1);
  private final AtomicLong count = new AtomicLong();
  /** Sum of the latencies, in nanoseconds. */
  private final AtomicLong sumNanos = new AtomicLong();

  /** One answered request; {@code path} is a known path or "other". */
  void request(String path, int code) {
    AtomicLong c;
    synchronized (requests) {
      c = requests.computeIfAbsent(path, p -> new TreeMap<>())
          .computeIfAbsent(code, k -> new AtomicLong());
    }
    c.incrementAndGet();
    if (code >= 400) {
      errors.incrementAndGet();
    }
  }

  void rowsScored(long n) {
    rows.addAndGet(n);
  }

  /** The latency of one /predict request. */
  void latency(long nanos) {
    double s = nanos / 1e9;
    int i = 0;
    while (i < BUCKETS.length && s > BUCKETS[i]) {
      i++;
    }
    buckets.incrementAndGet(i);
    sumNanos.addAndGet(nanos);
    count.incrementAndGet();
  }

  /** The metrics, with the shadow's when there is one (else null). */
  String text(Shadow shadow) {
    StringBuilder s = new StringBuilder();
    s.append("# HELP modelport_requests_total HTTP requests answered, by path and status code.\n");
    s.append("# TYPE modelport_requests_total counter\n");
    synchronized (requests) {
      for (Map.Entry<String, Map<Integer, AtomicLong>> p : requests.entrySet()) {
        for (Map.Entry<Integer, AtomicLong> c : p.getValue().entrySet()) {
          s.append("modelport_requests_total{path=\"").append(label(p.getKey()))
              .append("\",code=\"").append(c.getKey()).append("\"} ")
              .append(c.getValue().get()).append('\n');
        }
      }
    }
    s.append("# HELP modelport_errors_total HTTP requests answered with a 4xx or 5xx status.\n");
    s.append("# TYPE modelport_errors_total counter\n");
    s.append("modelport_errors_total ").append(errors.get()).append('\n');
    s.append("# HELP modelport_rows_scored_total Rows evaluated by the model for /predict.\n");
    s.append("# TYPE modelport_rows_scored_total counter\n");
    s.append("modelport_rows_scored_total ").append(rows.get()).append('\n');
    s.append("# HELP modelport_request_duration_seconds Time to answer a /predict request.\n");
    s.append("# TYPE modelport_request_duration_seconds histogram\n");
    // Read the total first: the buckets, read after, are then never below it in a snapshot.
    long total = count.get();
    long sum = sumNanos.get();
    long cumulative = 0;
    for (int i = 0; i <= BUCKETS.length; i++) {
      cumulative += buckets.get(i);
      String le = i < BUCKETS.length ? LE[i] : "+Inf";
      s.append("modelport_request_duration_seconds_bucket{le=\"").append(le).append("\"} ")
          .append(i < BUCKETS.length ? Math.min(cumulative, total) : total).append('\n');
    }
    s.append("modelport_request_duration_seconds_sum ").append(sum / 1e9).append('\n');
    s.append("modelport_request_duration_seconds_count ").append(total).append('\n');
    if (shadow != null) {
      shadow.appendMetrics(s);
    }
    return s.toString();
  }

  /** A label value escaped as the text format asks (backslash, quote, line feed). */
  static String label(String v) {
    return v.replace("\\", "\\\\").replace("\"", "\\\"").replace("\n", "\\n");
  }
}
