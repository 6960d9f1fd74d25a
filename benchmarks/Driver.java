// In-process benchmark driver for a modelport Java jar (see benchmarks/run.py).
//
//   java -Dbench.class=CLASS -cp MODEL.jar:DRIVER_DIR Driver DATA N_ROWS N_FEATURES OUT_SPEC [IN_SPEC TENSORS]
//
// Calls the generated class CLASS through method handles (looked up by reflection, held in
// static finals so that the JIT inlines them like direct calls): predict(float[][]) and
// predictRow(float[]) (path "predict"), and run(Object[], Object[], int) over flat arrays
// (path "run"). OUT_SPEC lists the output tensors as dtype:size (f32, f64, i64, str), e.g.
// "f32:1" or "i64:1,f32:2"; "-" disables the run path. IN_SPEC and TENSORS give typed
// input tensors for the run path (String[] for str), and DATA may then be "-" (no
// predict path: models with string columns have none), as in benchmarks/driver.cpp. The
// command protocol on stdin and stdout is the one of benchmarks/driver.cpp ("ready N_OUT
// run|- predict|-"), except that batch CPU times are the calling thread's.
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
    private static final MethodHandle RUN;

    static {
        try {
            Class<?> c = Class.forName(System.getProperty("bench.class"));
            MethodHandles.Lookup l = MethodHandles.publicLookup();
            MethodHandle predict = null, predictRow = null;
            try {
                predict = l.findStatic(c, "predict", MethodType.methodType(float[][].class, float[][].class));
                predictRow = l.findStatic(c, "predictRow", MethodType.methodType(float[].class, float[].class));
            } catch (NoSuchMethodException e) {
                // Models with string columns have only run(); DATA must then be "-".
            }
            PREDICT = predict;
            PREDICT_ROW = predictRow;
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

    int nRows, nFeat, nOut;
    boolean hasPredict;   // the predict path (DATA given)
    float[][] rows;       // one array per row: predict / predictRow
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

    float runValue(Object[] outs, int tensor, int idx) {
        Object a = outs[tensor];
        if (a instanceof float[]) return ((float[]) a)[idx];
        if (a instanceof double[]) return (float) ((double[]) a)[idx];
        if (a instanceof String[]) return Float.NaN;
        return (float) ((long[]) a)[idx];
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

    void batch(boolean useRun) {
        if (useRun) {
            run(typedIns != null ? typedIns : new Object[] {flat}, runOuts, nRows);
            sink = runValue(runOuts, 0, 0);
        } else {
            batchOut = predict(rows);
            sink = batchOut[0][0];
        }
    }

    /** One row through the chosen path: what a service does per request. */
    float single(boolean useRun, int r) {
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
        return predictRow(rows[r])[0];
    }

    long singleGroup(boolean useRun, int[] row, int group) {
        float acc = 0;
        long t0 = System.nanoTime();
        for (int g = 0; g < group; g++) {
            acc += single(useRun, row[0]);
            if (++row[0] == nRows) row[0] = 0;
        }
        long t1 = System.nanoTime();
        sink = acc;
        return t1 - t0;
    }

    void check(String file, int nSingle) throws IOException {
        try (DataOutputStream o = new DataOutputStream(new BufferedOutputStream(new FileOutputStream(file)))) {
            ByteBuffer bb = ByteBuffer.allocate(4).order(ByteOrder.LITTLE_ENDIAN);
            List<float[]> res = new ArrayList<>();
            StringBuilder strs = new StringBuilder();
            if (hasPredict) {
                float[][] all = predict(rows);
                for (float[] r : all) res.add(r);
                for (int r = 0; r < nSingle; r++) res.add(predictRow(rows[r]));
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
                            float[] v = new float[nOut];
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
            for (float[] r : res) {
                for (float v : r) {
                    bb.clear();
                    bb.putFloat(v);
                    o.write(bb.array());
                }
            }
            if (strs.length() > 0) Files.write(Paths.get(file + ".str"), strs.toString().getBytes(StandardCharsets.UTF_8));
        }
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
            d.flat = new float[d.nRows * d.nFeat];
            buf.asFloatBuffer().get(d.flat);
            d.rows = new float[d.nRows][d.nFeat];
            for (int r = 0; r < d.nRows; r++) System.arraycopy(d.flat, r * d.nFeat, d.rows[r], 0, d.nFeat);
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
            + (d.hasPredict ? "predict" : "-"));
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
                        for (int p = d.hasPredict ? 0 : 1; p < (d.outType != null ? 2 : 1); p++) {
                            d.batch(p == 1);
                            d.singleGroup(p == 1, row, 2000);
                        }
                    }
                    out.append("ok");
                    break;
                }
                case "batch": {
                    boolean useRun = a[1].equals("run");
                    int reps = Integer.parseInt(a[2]);
                    for (int i = 0; i < reps; i++) {
                        long c0 = THREADS.getCurrentThreadCpuTime(), t0 = System.nanoTime();
                        d.batch(useRun);
                        long t1 = System.nanoTime(), c1 = THREADS.getCurrentThreadCpuTime();
                        out.append(i > 0 ? " " : "").append(t1 - t0).append(',').append(c1 - c0);
                    }
                    break;
                }
                case "single": {
                    boolean useRun = a[1].equals("run");
                    int group = Integer.parseInt(a[2]);
                    int maxGroups = Integer.parseInt(a[3]);
                    long end = System.nanoTime() + Long.parseLong(a[4]) * 1_000_000L;
                    int[] row = {0};
                    for (int g = 0; g < maxGroups && (g < 3 || System.nanoTime() < end); g++)
                        out.append(g > 0 ? " " : "").append(d.singleGroup(useRun, row, group));
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
