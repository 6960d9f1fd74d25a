package modelport.runtime;

import java.io.FileOutputStream;
import java.io.IOException;
import java.io.OutputStreamWriter;
import java.io.Writer;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.concurrent.ThreadLocalRandom;

/**
 * The server's request log: one JSON line per sampled /predict request, appended to a file and
 * flushed line by line.
 */
final class RequestLog {
  private static final DateTimeFormatter TIME =
      DateTimeFormatter.ofPattern("yyyy-MM-dd'T'HH:mm:ss.SSS'Z'").withZone(ZoneOffset.UTC);

  private final Writer out;
  private final double sample;
  private boolean failed;

  RequestLog(String path, double sample) throws IOException {
    this.out = new OutputStreamWriter(new FileOutputStream(path, true), StandardCharsets.UTF_8);
    this.sample = sample;
  }

  /** Whether to log the next request (true with probability {@code sample}). */
  boolean sampled() {
    return sample >= 1.0 || (sample > 0 && ThreadLocalRandom.current().nextDouble() < sample);
  }

  /**
   * Appends one line. {@code inputs} and {@code outputs} are JSON texts (row form) or null,
   * {@code error} the error object's JSON text or null; {@code shadow} the "shadow" entry's JSON
   * text (serve --shadow), or null for none.
   */
  void write(Instant start, long rows, String inputs, String outputs, String error, double ms,
      String shadow) {
    StringBuilder s = new StringBuilder(64 + (inputs == null ? 0 : inputs.length())
        + (outputs == null ? 0 : outputs.length()));
    s.append("{\"time\": \"").append(TIME.format(start)).append("\", \"rows\": ").append(rows)
        .append(", \"inputs\": ").append(inputs == null ? "null" : inputs)
        .append(", \"outputs\": ").append(outputs == null ? "null" : outputs)
        .append(", \"error\": ").append(error == null ? "null" : error)
        .append(", \"ms\": ").append(Math.round(ms * 1000) / 1000.0);
    if (shadow != null) {
      s.append(", \"shadow\": ").append(shadow);
    }
    s.append("}\n");
    synchronized (this) {
      if (failed) {
        return;
      }
      try {
        out.write(s.toString());
        out.flush();
      } catch (IOException e) {
        // A full disk must not take the server down: say so once and stop logging.
        failed = true;
        System.err.println("error: cannot write the request log: " + e.getMessage());
      }
    }
  }

  synchronized void close() {
    try {
      out.close();
    } catch (IOException e) {
      // nothing left to do at exit
    }
  }
}
