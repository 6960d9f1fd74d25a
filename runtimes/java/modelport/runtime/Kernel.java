package modelport.runtime;

/** Helpers that generated kernels call, with the same meaning as modelport_kernel.hpp. */
public final class Kernel {
    private Kernel() {}

    public static float kmin(float a, float b) { return b < a ? b : a; }
    public static double kmin(double a, double b) { return b < a ? b : a; }
    public static long kmin(long a, long b) { return b < a ? b : a; }
    public static int kmin(int a, int b) { return b < a ? b : a; }
    public static float kmax(float a, float b) { return b > a ? b : a; }
    public static double kmax(double a, double b) { return b > a ? b : a; }
    public static long kmax(long a, long b) { return b > a ? b : a; }
    public static int kmax(int a, int b) { return b > a ? b : a; }

    /** erf(x), |error| < 1.2e-7 (Numerical Recipes' erfc with Chebyshev fit), in double. */
    public static double erf(double x) {
        double z = Math.abs(x);
        double t = 1.0 / (1.0 + 0.5 * z);
        double r = t * Math.exp(-z * z - 1.26551223 + t * (1.00002368 + t * (0.37409196 + t * (0.09678418
                + t * (-0.18628806 + t * (0.27886807 + t * (-1.13520398 + t * (1.48851587
                + t * (-0.82215223 + t * 0.17087277)))))))));
        return x >= 0 ? 1.0 - r : r - 1.0;
    }

    /** Reads the little-endian tables a generated model ships as a resource. */
    public static java.nio.ByteBuffer resource(Class<?> owner, String name) {
        try (java.io.InputStream in = owner.getResourceAsStream(name)) {
            if (in == null) {
                throw new IllegalStateException("missing resource " + name + " next to " + owner.getName());
            }
            byte[] data = in.readAllBytes();
            return java.nio.ByteBuffer.wrap(data).order(java.nio.ByteOrder.LITTLE_ENDIAN);
        } catch (java.io.IOException e) {
            throw new IllegalStateException("cannot read resource " + name, e);
        }
    }

    /** n strings, each an int32 byte length and its UTF-8 bytes. */
    public static String[] strings(java.nio.ByteBuffer b, int n) {
        String[] out = new String[n];
        for (int i = 0; i < n; i++) {
            byte[] data = new byte[b.getInt()];
            b.get(data);
            out[i] = new String(data, java.nio.charset.StandardCharsets.UTF_8);
        }
        return out;
    }

    public static float[] floats(java.nio.ByteBuffer b, int n) {
        float[] out = new float[n];
        b.asFloatBuffer().get(out);
        b.position(b.position() + 4 * n);
        return out;
    }

    public static double[] doubles(java.nio.ByteBuffer b, int n) {
        double[] out = new double[n];
        b.asDoubleBuffer().get(out);
        b.position(b.position() + 8 * n);
        return out;
    }

    public static long[] longs(java.nio.ByteBuffer b, int n) {
        long[] out = new long[n];
        b.asLongBuffer().get(out);
        b.position(b.position() + 8 * n);
        return out;
    }

    public static int[] ints(java.nio.ByteBuffer b, int n) {
        int[] out = new int[n];
        b.asIntBuffer().get(out);
        b.position(b.position() + 4 * n);
        return out;
    }

    public static boolean[] booleans(java.nio.ByteBuffer b, int n) {
        boolean[] out = new boolean[n];
        for (int i = 0; i < n; i++) {
            out[i] = b.get() != 0;
        }
        return out;
    }
}
