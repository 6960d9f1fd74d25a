package modelport.runtime;

import java.util.ArrayList;
import java.util.List;

/**
 * A small, strict JSON (RFC 8259) reader and the writer helpers of the HTTP server. Values read
 * are {@link #NULL}, {@link Boolean}, {@link Num} (the number's exact text), {@link String},
 * {@code List<Object>} and {@link Obj} (members in order, repeated names kept, so that the
 * caller can name them).
 */
public final class Json {
  private Json() {}

  /** Deepest nesting of arrays and objects accepted (the reader recurses). */
  static final int MAX_DEPTH = 256;

  /** JSON's null (Java's null means "absent"). */
  public static final Object NULL = new Object() {
    @Override
    public String toString() {
      return "null";
    }
  };

  /** A number, kept as its text exactly as written (the caller parses it). */
  public static final class Num {
    public final String text;

    Num(String text) {
      this.text = text;
    }

    @Override
    public String toString() {
      return text;
    }
  }

  /** An object: member names and values in document order, repeated names included. */
  public static final class Obj {
    public final List<String> names = new ArrayList<>();
    public final List<Object> values = new ArrayList<>();

    public int size() {
      return names.size();
    }
  }

  /** Malformed JSON; the message says what and where (1-based character offset). */
  public static final class ParseException extends Exception {
    private static final long serialVersionUID = 1L;

    ParseException(String message) {
      super(message);
    }
  }

  /** Reads one JSON value filling all of {@code text} (blanks around it allowed). */
  public static Object parse(String text) throws ParseException {
    Reader r = new Reader(text);
    r.blanks();
    Object v = r.value(0);
    r.blanks();
    if (r.pos < text.length()) {
      throw r.error("unexpected text after the JSON value");
    }
    return v;
  }

  private static final class Reader {
    final String s;
    int pos;

    Reader(String s) {
      this.s = s;
    }

    ParseException error(String what) {
      return new ParseException("invalid JSON at character " + (pos + 1) + ": " + what);
    }

    void blanks() {
      while (pos < s.length()) {
        char c = s.charAt(pos);
        if (c != ' ' && c != '\t' && c != '\n' && c != '\r') {
          return;
        }
        pos++;
      }
    }

    Object value(int depth) throws ParseException {
      if (pos >= s.length()) {
        throw error("unexpected end of input");
      }
      char c = s.charAt(pos);
      switch (c) {
        case '{':
          return object(depth + 1);
        case '[':
          return array(depth + 1);
        case '"':
          return string();
        case 't':
          word("true");
          return Boolean.TRUE;
        case 'f':
          word("false");
          return Boolean.FALSE;
        case 'n':
          word("null");
          return NULL;
        default:
          if (c == '-' || (c >= '0' && c <= '9')) {
            return number();
          }
          throw error("unexpected character " + shownChar(c));
      }
    }

    void word(String w) throws ParseException {
      if (!s.startsWith(w, pos)) {
        throw error("unexpected character " + shownChar(s.charAt(pos)));
      }
      pos += w.length();
    }

    Obj object(int depth) throws ParseException {
      if (depth > MAX_DEPTH) {
        throw error("nested deeper than " + MAX_DEPTH + " levels");
      }
      pos++; // {
      Obj o = new Obj();
      blanks();
      if (pos < s.length() && s.charAt(pos) == '}') {
        pos++;
        return o;
      }
      for (;;) {
        blanks();
        if (pos >= s.length() || s.charAt(pos) != '"') {
          throw error(pos >= s.length() ? "unexpected end of input" : "expected a member name");
        }
        String name = string();
        blanks();
        if (pos >= s.length() || s.charAt(pos) != ':') {
          throw error(pos >= s.length() ? "unexpected end of input" : "expected ':'");
        }
        pos++;
        blanks();
        Object v = value(depth);
        o.names.add(name);
        o.values.add(v);
        blanks();
        if (pos >= s.length()) {
          throw error("unexpected end of input");
        }
        char c = s.charAt(pos++);
        if (c == '}') {
          return o;
        }
        if (c != ',') {
          pos--;
          throw error("expected ',' or '}'");
        }
      }
    }

    List<Object> array(int depth) throws ParseException {
      if (depth > MAX_DEPTH) {
        throw error("nested deeper than " + MAX_DEPTH + " levels");
      }
      pos++; // [
      List<Object> a = new ArrayList<>();
      blanks();
      if (pos < s.length() && s.charAt(pos) == ']') {
        pos++;
        return a;
      }
      for (;;) {
        blanks();
        a.add(value(depth));
        blanks();
        if (pos >= s.length()) {
          throw error("unexpected end of input");
        }
        char c = s.charAt(pos++);
        if (c == ']') {
          return a;
        }
        if (c != ',') {
          pos--;
          throw error("expected ',' or ']'");
        }
      }
    }

    private boolean digit() {
      return pos < s.length() && s.charAt(pos) >= '0' && s.charAt(pos) <= '9';
    }

    /** -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)? */
    Num number() throws ParseException {
      int start = pos;
      if (s.charAt(pos) == '-') {
        pos++;
      }
      if (!digit()) {
        throw error("expected a digit");
      }
      if (s.charAt(pos) == '0') {
        pos++;
        if (digit()) {
          throw error("leading zero in a number");
        }
      } else {
        while (digit()) {
          pos++;
        }
      }
      if (pos < s.length() && s.charAt(pos) == '.') {
        pos++;
        if (!digit()) {
          throw error("expected a digit after '.'");
        }
        while (digit()) {
          pos++;
        }
      }
      if (pos < s.length() && (s.charAt(pos) == 'e' || s.charAt(pos) == 'E')) {
        pos++;
        if (pos < s.length() && (s.charAt(pos) == '+' || s.charAt(pos) == '-')) {
          pos++;
        }
        if (!digit()) {
          throw error("expected a digit in the exponent");
        }
        while (digit()) {
          pos++;
        }
      }
      return new Num(s.substring(start, pos));
    }

    String string() throws ParseException {
      pos++; // "
      StringBuilder b = null;
      int run = pos;
      for (;;) {
        if (pos >= s.length()) {
          throw error("unterminated string");
        }
        char c = s.charAt(pos);
        if (c == '"') {
          String out = b == null ? s.substring(run, pos) : b.append(s, run, pos).toString();
          pos++;
          return out;
        }
        if (c < 0x20) {
          throw error("unescaped control character in a string");
        }
        if (c != '\\') {
          pos++;
          continue;
        }
        if (b == null) {
          b = new StringBuilder();
        }
        b.append(s, run, pos);
        pos++;
        if (pos >= s.length()) {
          throw error("unterminated string");
        }
        char e = s.charAt(pos++);
        switch (e) {
          case '"': b.append('"'); break;
          case '\\': b.append('\\'); break;
          case '/': b.append('/'); break;
          case 'b': b.append('\b'); break;
          case 'f': b.append('\f'); break;
          case 'n': b.append('\n'); break;
          case 'r': b.append('\r'); break;
          case 't': b.append('\t'); break;
          case 'u': {
            int v = 0;
            for (int i = 0; i < 4; i++) {
              int d = pos < s.length() ? Character.digit(s.charAt(pos), 16) : -1;
              if (d < 0) {
                throw error("bad \\u escape");
              }
              v = v * 16 + d;
              pos++;
            }
            b.append((char) v);
            break;
          }
          default:
            pos--;
            throw error("bad escape \\" + e);
        }
        run = pos;
      }
    }
  }

  private static String shownChar(char c) {
    return c < 0x20 || c > 0x7e ? String.format("U+%04X", (int) c) : "'" + c + "'";
  }

  // ---------------------------------------------------------------------------------------
  // Writing
  // ---------------------------------------------------------------------------------------

  /** Appends {@code s} as a JSON string; lone surrogates are written as \\u escapes. */
  public static void appendString(StringBuilder sb, String s) {
    sb.append('"');
    int n = s.length();
    for (int i = 0; i < n; i++) {
      char c = s.charAt(i);
      switch (c) {
        case '"': sb.append("\\\""); break;
        case '\\': sb.append("\\\\"); break;
        case '\n': sb.append("\\n"); break;
        case '\r': sb.append("\\r"); break;
        case '\t': sb.append("\\t"); break;
        case '\b': sb.append("\\b"); break;
        case '\f': sb.append("\\f"); break;
        default:
          boolean paired = Character.isHighSurrogate(c)
              ? i + 1 < n && Character.isLowSurrogate(s.charAt(i + 1))
              : i > 0 && Character.isHighSurrogate(s.charAt(i - 1));
          boolean lone = Character.isSurrogate(c) && !paired;
          if (c < 0x20 || lone || c == '\u2028' || c == '\u2029') {
            sb.append(String.format("\\u%04x", (int) c));
          } else {
            sb.append(c);
          }
      }
    }
    sb.append('"');
  }

  /** {@code s} as a JSON string, or null. */
  public static String quote(String s) {
    if (s == null) {
      return "null";
    }
    StringBuilder sb = new StringBuilder(s.length() + 2);
    appendString(sb, s);
    return sb.toString();
  }

  /** A double that reads back exactly; null for NaN and infinities (JSON has none). */
  public static void appendDouble(StringBuilder sb, double v) {
    if (Double.isNaN(v) || Double.isInfinite(v)) {
      sb.append("null");
    } else {
      CsvProgram.appendF64(sb, v);
    }
  }

  /**
   * A float32 as the double it widens to, exactly (JSON readers read doubles: they get the very
   * value, as from a float64 output); null for NaN and infinities.
   */
  public static void appendFloat(StringBuilder sb, float v) {
    appendDouble(sb, v);
  }

  /** Writes a value read by {@link #parse} back as JSON. */
  public static void append(StringBuilder sb, Object v) {
    if (v == null || v == NULL) {
      sb.append("null");
    } else if (v instanceof String) {
      appendString(sb, (String) v);
    } else if (v instanceof Num || v instanceof Boolean) {
      sb.append(v.toString());
    } else if (v instanceof List) {
      sb.append('[');
      boolean first = true;
      for (Object x : (List<?>) v) {
        if (!first) {
          sb.append(',');
        }
        first = false;
        append(sb, x);
      }
      sb.append(']');
    } else if (v instanceof Obj) {
      Obj o = (Obj) v;
      sb.append('{');
      for (int i = 0; i < o.size(); i++) {
        if (i > 0) {
          sb.append(',');
        }
        appendString(sb, o.names.get(i));
        sb.append(':');
        append(sb, o.values.get(i));
      }
      sb.append('}');
    } else {
      throw new IllegalArgumentException("not a JSON value: " + v.getClass().getName());
    }
  }
}
