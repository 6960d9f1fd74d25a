// In-process benchmark driver for a modelport Java jar (see benchmarks/run.py).
//
//   java -Dbench.class=CLASS -cp MODEL.jar:DRIVER_DIR Driver DATA N_ROWS N_FEATURES OUT_SPEC
//
// Calls the generated class CLASS through method handles (looked up by reflection, held in
// static finals so that the JIT inlines them like direct calls): predict(float[][]) and
// predictRow(float[]) (path "predict"), and run(Object[], Object[], int) over flat arrays
// (path "run"). OUT_SPEC lists the output tensors as dtype:size (f32, f64, i64), e.g.
// "f32:1" or "i64:1,f32:2"; "-" disables the run path. The command protocol on stdin and
// stdout is the one of benchmarks/driver.cpp, except that batch CPU times are the calling
// thread's.
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
            PREDICT = l.findStatic(c, "predict", MethodType.methodType(float[][].class, float[][].class));
            PREDICT_ROW = l.findStatic(c, "predictRow", MethodType.methodType(float[].class, float[].class));
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
    float[][] rows;       // one array per row: predict / predictRow
    float[] flat;         // all rows, row-major: run
    char[] outType;       // 'f', 'd', 'l' per output tensor; null: no run path
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
        return t == 'f' ? new float[n] : t == 'd' ? (Object) new double[n] : new long[n];
    }

    float runValue(Object[] outs, int tensor, int idx) {
        Object a = outs[tensor];
        if (a instanceof float[]) return ((float[]) a)[idx];
        if (a instanceof double[]) return (float) ((double[]) a)[idx];
        return (float) ((long[]) a)[idx];
    }

    void batch(boolean useRun) {
        if (useRun) {
            run(new Object[] {flat}, runOuts, nRows);
            sink = runValue(runOuts, 0, 0);
        } else {
            batchOut = predict(rows);
            sink = batchOut[0][0];
        }
    }

    /** One row through the chosen path: what a service does per request. */
    float single(boolean useRun, int r) {
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
            float[][] all = predict(rows);
            for (float[] r : all) res.add(r);
            for (int r = 0; r < nSingle; r++) res.add(predictRow(rows[r]));
            if (outType != null) {
                for (int pass = 0; pass < 2; pass++) {
                    int n = pass == 0 ? nRows : nSingle;
                    for (int r0 = 0; r0 < n; r0 += pass == 0 ? nRows : 1) {
                        Object[] outs = pass == 0 ? runOuts : oneOut;
                        if (pass == 0) {
                            run(new Object[] {flat}, outs, nRows);
                        } else {
                            System.arraycopy(flat, r0 * nFeat, oneRow, 0, nFeat);
                            run(new Object[] {oneRow}, outs, 1);
                        }
                        int count = pass == 0 ? nRows : 1;
                        for (int r = 0; r < count; r++) {
                            float[] v = new float[nOut];
                            int k = 0;
                            for (int t = 0; t < outType.length; t++)
                                for (int j = 0; j < outSize[t]; j++) v[k++] = runValue(outs, t, r * outSize[t] + j);
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
        }
    }

    public static void main(String[] args) throws Exception {
        if (args.length != 4) {
            System.err.println("usage: java -Dbench.class=CLASS Driver DATA N_ROWS N_FEATURES OUT_SPEC");
            System.exit(2);
        }
        Driver d = new Driver();
        d.nRows = Integer.parseInt(args[1]);
        d.nFeat = Integer.parseInt(args[2]);
        ByteBuffer buf = ByteBuffer.wrap(Files.readAllBytes(Paths.get(args[0]))).order(ByteOrder.LITTLE_ENDIAN);
        d.flat = new float[d.nRows * d.nFeat];
        buf.asFloatBuffer().get(d.flat);
        d.rows = new float[d.nRows][d.nFeat];
        for (int r = 0; r < d.nRows; r++) System.arraycopy(d.flat, r * d.nFeat, d.rows[r], 0, d.nFeat);
        d.oneRow = new float[d.nFeat];
        d.nOut = predictRow(d.rows[0]).length;
        if (!args[3].equals("-")) {
            String[] parts = args[3].split(",");
            d.outType = new char[parts.length];
            d.outSize = new int[parts.length];
            d.runOuts = new Object[parts.length];
            d.oneOut = new Object[parts.length];
            int total = 0;
            for (int i = 0; i < parts.length; i++) {
                String[] p = parts[i].split(":");
                d.outType[i] = p[0].equals("f32") ? 'f' : p[0].equals("f64") ? 'd' : 'l';
                d.outSize[i] = Integer.parseInt(p[1]);
                total += d.outSize[i];
                d.runOuts[i] = alloc(d.outType[i], d.nRows * d.outSize[i]);
                d.oneOut[i] = alloc(d.outType[i], d.outSize[i]);
            }
            if (total != d.nOut) d.outType = null;
        }
        System.out.println("ready " + d.nOut + " " + (d.outType != null ? "run" : "-"));
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
                        for (int p = 0; p < (d.outType != null ? 2 : 1); p++) {
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
