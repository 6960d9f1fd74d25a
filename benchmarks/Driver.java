// In-process benchmark driver for a modelport Java jar (see benchmarks/run.py).
//
//   java -Dbench.class=CLASS -cp MODEL.jar:DRIVER_DIR Driver DATA N_ROWS N_FEATURES OUT_SPEC [IN_SPEC TENSORS]
//
// Calls the generated class CLASS through method handles (looked up by reflection, held in
// static finals so that the JIT inlines them like direct calls): predict(float[][]) and
// predictRow(float[]) on the rows rounded to float32 (path "predict"), predict(double[][]) and
// predictRow(double[]) on the rows as given (path "predict64"), and run(Object[], Object[], int)
// over flat arrays (path "run"). DATA holds the N_ROWS x N_FEATURES rows as float64. OUT_SPEC lists the output tensors as dtype:size (f32, f64, i64, str), e.g.
// "f32:1" or "i64:1,f32:2"; "-" disables the run path. IN_SPEC and TENSORS give typed
// input tensors for the run path (String[] for str), and DATA may then be "-" (no
// predict path: models with string columns have none), as in benchmarks/driver.cpp. The
// command protocol on stdin and stdout is the one of benchmarks/driver.cpp ("ready N_OUT
// run|- predict|- predict64|-", outputs of "check" as float64), except that batch CPU times
// are the calling thread's.
import java.io.BufferedReader;
import java.io.DataOutputStream;
import java.io.FileOutputStream;
import java.io.BufferedOutputStream;
import java.io.IOException;
import java.io.InputStreamReader;
import java.lang.invoke.MethodHandle;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.MethodType;
import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.List;

public final class Driver {
    private static final MethodHandle PREDICT;
    private static final MethodHandle PREDICT_ROW;
    private static final MethodHandle PREDICT64;
    private static final MethodHandle PREDICT64_ROW;
    private static final MethodHandle RUN;

    static {
        try {
            Class<?> c = Class.forName(System.getProperty("bench.class"));
            MethodHandles.Lookup l = MethodHandles.publicLookup();
            MethodHandle predict = null, predictRow = null, predict64 = null, predict64Row = null;
            try {
                predict = l.findStatic(c, "predict", MethodType.methodType(float[][].class, float[][].class));
                predictRow = l.findStatic(c, "predictRow", MethodType.methodType(float[].class, float[].class));
                predict64 = l.findStatic(c, "predict", MethodType.methodType(double[][].class, double[][].class));
                predict64Row = l.findStatic(c, "predictRow", MethodType.methodType(double[].class, double[].class));
            } catch (NoSuchMethodException e) {
                // Models with string columns have only run(); DATA must then be "-".
            }
            PREDICT = predict;
            PREDICT_ROW = predictRow;
            PREDICT64 = predict64;
            PREDICT64_ROW = predict64Row;
            RUN = l.findStatic(c, "run", MethodType.methodType(void.class, Object[].class, Object[].class, int.class));
        } catch (ReflectiveOperationException e) {
            throw new ExceptionInInitializerError(e);
        }
    }

    // CPU time of the calling thread (ns resolution on Linux; the process's total from the
    // OperatingSystemMXBean counts in clock ticks). It leaves out the JIT and GC threads: after
    // the warm-up the JIT is idle, and the young collections a batch triggers are rare and short.
    private static final ThreadMXBean THREADS = ManagementFactory.getThreadMXBean();

    static volatile float sink;

    static final int PREDICT_PATH = 0, PREDICT64_PATH = 1, RUN_PATH = 2;

    int nRows, nFeat, nOut;
    boolean hasPredict;   // the predict paths (DATA given)
    float[][] rows;       // one array per row, rounded to float32: predict / predictRow
    double[][] rows64;    // one array per row, as given: predict(double[][]) / predictRow(double[])
    float[] flat;         // all rows, row-major: run
    Object[] typedIns;    // typed input tensors, all rows: run (null: flat)
    int[] inSize;
    Object[] oneIns;      // their one-row arrays
    char[] outType;       // 'f', 'd', 'l', 's' per output tensor; null: no run path
    int[] outSize;
    Object[] runOuts;     // full-size output arrays of the run path
    Object[] oneIn = new Object[1];
    Object[] oneOut;      // one-row output arrays of the run path
    float[] oneRow;
    float[][] batchOut;
    double[][] batchOut64;

    static float[][] predict(float[][] rows) {
        try {
            return (float[][]) PREDICT.invokeExact(rows);
        } catch (Throwable t) {
            throw new RuntimeException(t);
        }
    }

    static float[] predictRow(float[] row) {
        try {
            return (float[]) PREDICT_ROW.invokeExact(row);
        } catch (Throwable t) {
            throw new RuntimeException(t);
        }
    }

    static void run(Object[] in, Object[] out, int n) {
        try {
            RUN.invokeExact(in, out, n);
        } catch (Throwable t) {
            throw new RuntimeException(t);
        }
    }

    static double[][] predict64(double[][] rows) {
        try {
            return (double[][]) PREDICT64.invokeExact(rows);
        } catch (Throwable t) {
            throw new RuntimeException(t);
        }
    }

    static double[] predict64Row(double[] row) {
        try {
            return (double[]) PREDICT64_ROW.invokeExact(row);
        } catch (Throwable t) {
            throw new RuntimeException(t);
        }
    }

    static int path(String name) {
        switch (name) {
            case "predict": return PREDICT_PATH;
            case "predict64": return PREDICT64_PATH;
            case "run": return RUN_PATH;
            default: throw new IllegalArgumentException("unknown path " + name);
        }
    }

    /** The paths this class and these arguments have, in check order. */
    int[] paths() {
        List<Integer> out = new ArrayList<>();
        if (hasPredict) out.add(PREDICT_PATH);
        if (hasPredict && PREDICT64 != null) out.add(PREDICT64_PATH);
        if (outType != null) out.add(RUN_PATH);
        int[] a = new int[out.size()];
        for (int i = 0; i < a.length; i++) a[i] = out.get(i);
        return a;
    }

    static Object alloc(char t, int n) {
        return t == 'f' ? new float[n] : t == 'd' ? (Object) new double[n] : t == 's' ? (Object) new String[n]
            : new long[n];
    }

    static char dtype(String dt) {
        switch (dt) {
            case "f32": return 'f';
            case "f64": return 'd';
            case "i64": return 'l';
            case "str": return 's';
            default: throw new IllegalArgumentException("unknown dtype " + dt);
        }
    }

    double runValue(Object[] outs, int tensor, int idx) {
        Object a = outs[tensor];
        if (a instanceof float[]) return ((float[]) a)[idx];
        if (a instanceof double[]) return ((double[]) a)[idx];
        if (a instanceof String[]) return Double.NaN;
        return (double) ((long[]) a)[idx];
    }

    /** IN_SPEC's tensors from TENSORS (see benchmarks/driver.cpp), and their one-row arrays. */
    void readTensors(String spec, String file) throws IOException {
        ByteBuffer buf = ByteBuffer.wrap(Files.readAllBytes(Paths.get(file))).order(ByteOrder.LITTLE_ENDIAN);
        String[] parts = spec.split(",");
        typedIns = new Object[parts.length];
        oneIns = new Object[parts.length];
        inSize = new int[parts.length];
        for (int i = 0; i < parts.length; i++) {
            String[] p = parts[i].split(":");
            char t = dtype(p[0]);
            int size = Integer.parseInt(p[1]), n = nRows * size;
            inSize[i] = size;
            Object a = alloc(t, n);
            if (t == 'f') buf.asFloatBuffer().get((float[]) a);
            else if (t == 'd') buf.asDoubleBuffer().get((double[]) a);
            else if (t == 'l') buf.asLongBuffer().get((long[]) a);
            if (t != 's') buf.position(buf.position() + n * (t == 'f' ? 4 : 8));
            else {
                String[] sa = (String[]) a;
                for (int k = 0; k < n; k++) {
                    byte[] b = new byte[buf.getInt()];
                    buf.get(b);
                    sa[k] = new String(b, StandardCharsets.UTF_8);
                }
            }
            typedIns[i] = a;
            oneIns[i] = alloc(t, size);
        }
        if (buf.hasRemaining()) throw new IllegalArgumentException(file + " is longer than IN_SPEC says");
    }

    void batch(int path) {
        if (path == RUN_PATH) {
            run(typedIns != null ? typedIns : new Object[] {flat}, runOuts, nRows);
            sink = (float) runValue(runOuts, 0, 0);
        } else if (path == PREDICT64_PATH) {
            batchOut64 = predict64(rows64);
            sink = (float) batchOut64[0][0];
        } else {
            batchOut = predict(rows);
            sink = batchOut[0][0];
        }
    }

    /** One row through the chosen path: what a service does per request. */
    double single(int path, int r) {
        boolean useRun = path == RUN_PATH;
        if (useRun && typedIns != null) {
            // A service gets one row: one-row arrays of each tensor.
            for (int i = 0; i < typedIns.length; i++)
                System.arraycopy(typedIns[i], r * inSize[i], oneIns[i], 0, inSize[i]);
            run(oneIns, oneOut, 1);
            return runValue(oneOut, 0, 0);
        }
        if (useRun) {
            System.arraycopy(flat, r * nFeat, oneRow, 0, nFeat);
            oneIn[0] = oneRow;
            run(oneIn, oneOut, 1);
            return runValue(oneOut, 0, 0);
        }
        if (path == PREDICT64_PATH) return predict64Row(rows64[r])[0];
        return predictRow(rows[r])[0];
    }

    long singleGroup(int path, int[] row, int group) {
        double acc = 0;
        long t0 = System.nanoTime();
        for (int g = 0; g < group; g++) {
            acc += single(path, row[0]);
            if (++row[0] == nRows) row[0] = 0;
        }
        long t1 = System.nanoTime();
        sink = (float) acc;
        return t1 - t0;
    }

    void check(String file, int nSingle) throws IOException {
        try (DataOutputStream o = new DataOutputStream(new BufferedOutputStream(new FileOutputStream(file)))) {
            ByteBuffer bb = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN);
            List<double[]> res = new ArrayList<>();
            StringBuilder strs = new StringBuilder();
            if (hasPredict) {
                for (float[] r : predict(rows)) res.add(widen(r));
                for (int r = 0; r < nSingle; r++) res.add(widen(predictRow(rows[r])));
            }
            if (hasPredict && PREDICT64 != null) {
                for (double[] r : predict64(rows64)) res.add(r);
                for (int r = 0; r < nSingle; r++) res.add(predict64Row(rows64[r]));
            }
            if (outType != null) {
                for (int pass = 0; pass < 2; pass++) {
                    int n = pass == 0 ? nRows : nSingle;
                    for (int r0 = 0; r0 < n; r0 += pass == 0 ? nRows : 1) {
                        Object[] outs = pass == 0 ? runOuts : oneOut;
                        if (pass == 0) {
                            run(typedIns != null ? typedIns : new Object[] {flat}, outs, nRows);
                        } else if (typedIns != null) {
                            for (int i = 0; i < typedIns.length; i++)
                                System.arraycopy(typedIns[i], r0 * inSize[i], oneIns[i], 0, inSize[i]);
                            run(oneIns, outs, 1);
                        } else {
                            System.arraycopy(flat, r0 * nFeat, oneRow, 0, nFeat);
                            run(new Object[] {oneRow}, outs, 1);
                        }
                        int count = pass == 0 ? nRows : 1;
                        for (int r = 0; r < count; r++) {
                            double[] v = new double[nOut];
                            int k = 0;
                            for (int t = 0; t < outType.length; t++)
                                for (int j = 0; j < outSize[t]; j++) {
                                    v[k++] = runValue(outs, t, r * outSize[t] + j);
                                    if (outType[t] == 's')
                                        strs.append(((String[]) outs[t])[r * outSize[t] + j]).append('\n');
                                }
                            res.add(v);
                        }
                    }
                }
            }
            for (double[] r : res) {
                for (double v : r) {
                    bb.clear();
                    bb.putDouble(v);
                    o.write(bb.array());
                }
            }
            if (strs.length() > 0) Files.write(Paths.get(file + ".str"), strs.toString().getBytes(StandardCharsets.UTF_8));
        }
    }

    static double[] widen(float[] a) {
        double[] out = new double[a.length];
        for (int i = 0; i < a.length; i++) out[i] = a[i];
        return out;
    }

    public static void main(String[] args) throws Exception {
        if (args.length != 4 && args.length != 6) {
            System.err.println("usage: java -Dbench.class=CLASS Driver DATA N_ROWS N_FEATURES OUT_SPEC [IN_SPEC TENSORS]");
            System.exit(2);
        }
        Driver d = new Driver();
        d.nRows = Integer.parseInt(args[1]);
        d.nFeat = Integer.parseInt(args[2]);
        d.hasPredict = !args[0].equals("-");
        if (d.hasPredict && PREDICT == null) {
            System.err.println("driver: the class has no predict(float[][]); pass DATA \"-\"");
            System.exit(2);
        }
        if (!d.hasPredict && (args.length != 6 || args[3].equals("-"))) {
            System.err.println("driver: DATA \"-\" needs OUT_SPEC, IN_SPEC and TENSORS");
            System.exit(2);
        }
        if (d.hasPredict) {
            ByteBuffer buf = ByteBuffer.wrap(Files.readAllBytes(Paths.get(args[0]))).order(ByteOrder.LITTLE_ENDIAN);
            double[] flat64 = new double[d.nRows * d.nFeat];
            buf.asDoubleBuffer().get(flat64);
            d.flat = new float[flat64.length];
            for (int i = 0; i < flat64.length; i++) d.flat[i] = (float) flat64[i];
            d.rows = new float[d.nRows][d.nFeat];
            d.rows64 = new double[d.nRows][d.nFeat];
            for (int r = 0; r < d.nRows; r++) {
                System.arraycopy(d.flat, r * d.nFeat, d.rows[r], 0, d.nFeat);
                System.arraycopy(flat64, r * d.nFeat, d.rows64[r], 0, d.nFeat);
            }
            d.oneRow = new float[d.nFeat];
            d.nOut = predictRow(d.rows[0]).length;
        }
        if (args.length == 6) d.readTensors(args[4], args[5]);
        if (!args[3].equals("-")) {
            String[] parts = args[3].split(",");
            d.outType = new char[parts.length];
            d.outSize = new int[parts.length];
            d.runOuts = new Object[parts.length];
            d.oneOut = new Object[parts.length];
            int total = 0;
            for (int i = 0; i < parts.length; i++) {
                String[] p = parts[i].split(":");
                d.outType[i] = dtype(p[0]);
                d.outSize[i] = Integer.parseInt(p[1]);
                total += d.outSize[i];
                d.runOuts[i] = alloc(d.outType[i], d.nRows * d.outSize[i]);
                d.oneOut[i] = alloc(d.outType[i], d.outSize[i]);
            }
            if (!d.hasPredict) d.nOut = total;
            if (total != d.nOut) d.outType = null;
        }
        System.out.println("ready " + d.nOut + " " + (d.outType != null ? "run" : "-") + " "
            + (d.hasPredict ? "predict" : "-") + " " + (d.hasPredict && PREDICT64 != null ? "predict64" : "-"));
        int[] paths = d.paths();
        System.out.flush();

        BufferedReader in = new BufferedReader(new InputStreamReader(System.in));
        String line;
        while ((line = in.readLine()) != null) {
            String[] a = line.trim().split("\\s+");
            StringBuilder out = new StringBuilder();
            switch (a[0]) {
                case "quit":
                    return;
                case "check":
                    d.check(a[1], Integer.parseInt(a[2]));
                    out.append("ok");
                    break;
                case "warm": {
                    long end = System.nanoTime() + Long.parseLong(a[1]) * 1_000_000L;
                    int[] row = {0};
                    while (System.nanoTime() < end) {
                        for (int p : paths) {
                            d.batch(p);
                            d.singleGroup(p, row, 2000);
                        }
                    }
                    out.append("ok");
                    break;
                }
                case "batch": {
                    int p = path(a[1]);
                    int reps = Integer.parseInt(a[2]);
                    for (int i = 0; i < reps; i++) {
                        long c0 = THREADS.getCurrentThreadCpuTime(), t0 = System.nanoTime();
                        d.batch(p);
                        long t1 = System.nanoTime(), c1 = THREADS.getCurrentThreadCpuTime();
                        out.append(i > 0 ? " " : "").append(t1 - t0).append(',').append(c1 - c0);
                    }
                    break;
                }
                case "single": {
                    int p = path(a[1]);
                    int group = Integer.parseInt(a[2]);
                    int maxGroups = Integer.parseInt(a[3]);
                    long end = System.nanoTime() + Long.parseLong(a[4]) * 1_000_000L;
                    int[] row = {0};
                    for (int g = 0; g < maxGroups && (g < 3 || System.nanoTime() < end); g++)
                        out.append(g > 0 ? " " : "").append(d.singleGroup(p, row, group));
                    break;
                }
                default:
                    System.err.println("driver: unknown command: " + line);
                    System.exit(2);
            }
            System.out.println(out);
            System.out.flush();
        }
    }
}
