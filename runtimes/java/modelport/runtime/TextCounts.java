package modelport.runtime;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Word counts of documents over a vocabulary, as scikit-learn's CountVectorizer counts them
 * with its default analyzer (lowercase, then the maximal runs of two or more word characters,
 * stop words dropped, n-grams joined by one space): the modelport.text:TokenCounts op. The
 * same algorithm as modelport_text.hpp. Word characters and lowercase mappings come from the
 * model's table (made from the compiling Python; layout in compiler/ops/_text_unicode.py).
 */
public final class TextCounts {
    private static final int WORD = 1;
    private static final int CASED = 2;
    private static final int IGNORABLE = 4;
    private static final int MULTI = 8;
    private static final Map<List<Object>, TextCounts> MADE = new ConcurrentHashMap<>();

    private final boolean lowercase;
    private final int ngramMin;
    private final int ngramMax;
    private final boolean binary;
    private final int[][] word;
    private final int[][] cased;
    private final int[][] ignorable;
    private final Map<Integer, int[]> lower = new HashMap<>();
    private final byte[] bmpFlags = new byte[0x10000];
    private final int[] bmpLower = new int[0x10000];
    private final Map<String, Integer> vocab = new HashMap<>();
    private final HashSet<String> stop = new HashSet<>();

    private TextCounts(int[] unicode, String[] vocabulary, String[] stopWords, long[] opts) {
        lowercase = opts[0] != 0;
        ngramMin = (int) opts[1];
        ngramMax = (int) opts[2];
        binary = opts[3] != 0;
        int p = 0;
        int[][][] parts = new int[3][][];
        for (int k = 0; k < 3; k++) {
            int n = unicode[p++];
            parts[k] = new int[n][];
            for (int i = 0; i < n; i++, p += 2) parts[k][i] = new int[] {unicode[p], unicode[p + 1]};
        }
        word = parts[0];
        cased = parts[1];
        ignorable = parts[2];
        int nLower = unicode[p++];
        for (int i = 0; i < nLower; i++, p += 4) {
            lower.put(unicode[p], new int[] {unicode[p + 1], unicode[p + 2], unicode[p + 3]});
        }
        for (int cp = 0; cp < 0x10000; cp++) {
            int f = rangeFlags(cp);
            int[] to = lower.get(cp);
            boolean single = to != null && to[1] < 0;
            bmpLower[cp] = single ? to[0] : cp;
            if (to != null && !single) f |= MULTI;
            bmpFlags[cp] = (byte) f;
        }
        for (int j = 0; j < opts[4]; j++) vocab.putIfAbsent(vocabulary[j], j);
        for (int j = 0; j < opts[5]; j++) stop.add(stopWords[j]);
    }

    /**
     * The op on {@code rows} rows: document r is in[inOff + r * inStride], its counts
     * out[outOff + r * outStride ...] (opts[4] of them).
     */
    public static void run(int[] unicode, String[] vocabulary, String[] stopWords, long[] opts, String[] in,
                           int inOff, int inStride, int rows, double[] out, int outOff, int outStride) {
        TextCounts a = MADE.computeIfAbsent(Arrays.asList(unicode, vocabulary, stopWords, opts),
                k -> new TextCounts(unicode, vocabulary, stopWords, opts));
        int width = (int) opts[4];
        for (int r = 0; r < rows; r++) a.count(in[inOff + r * inStride], out, outOff + r * outStride, width);
    }

    private static boolean inRanges(int[][] r, int cp) {
        int lo = 0;
        int hi = r.length;
        while (lo < hi) {
            int mid = (lo + hi) >>> 1;
            if (r[mid][1] < cp) lo = mid + 1; else hi = mid;
        }
        return lo < r.length && r[lo][0] <= cp;
    }

    private int rangeFlags(int cp) {
        return (inRanges(word, cp) ? WORD : 0) | (inRanges(cased, cp) ? CASED : 0)
                | (inRanges(ignorable, cp) ? IGNORABLE : 0);
    }

    private int flags(int cp) {
        return cp < 0x10000 ? bmpFlags[cp] : rangeFlags(cp);
    }

    private int[] codePoints(String doc) {
        return doc == null ? new int[0] : doc.codePoints().toArray();
    }

    /** Python's str.lower: character by character, capital sigma by its context. */
    private int[] lowered(int[] in) {
        int[] out = new int[in.length * 3];
        int m = 0;
        for (int i = 0; i < in.length; i++) {
            int cp = in[i];
            if (cp == 0x3A3) {
                int j = i;
                while (j > 0 && (flags(in[j - 1]) & IGNORABLE) != 0) j--;
                boolean finalSigma = j > 0 && (flags(in[j - 1]) & CASED) != 0;
                if (finalSigma) {
                    int k = i + 1;
                    while (k < in.length && (flags(in[k]) & IGNORABLE) != 0) k++;
                    finalSigma = k == in.length || (flags(in[k]) & CASED) == 0;
                }
                out[m++] = finalSigma ? 0x3C2 : 0x3C3;
            } else if (cp < 0x10000 && (bmpFlags[cp] & MULTI) == 0) {
                out[m++] = bmpLower[cp];
            } else {
                int[] to = lower.get(cp);
                if (to == null) {
                    out[m++] = cp;
                } else {
                    for (int c : to) if (c >= 0) out[m++] = c;
                }
            }
        }
        return Arrays.copyOf(out, m);
    }

    private void count(String doc, double[] out, int at, int width) {
        Arrays.fill(out, at, at + width, 0.0);
        int[] cps = codePoints(doc);
        if (lowercase) cps = lowered(cps);
        List<String> tokens = new ArrayList<>();
        StringBuilder cur = new StringBuilder();
        int run = 0;
        for (int i = 0; i <= cps.length; i++) {
            if (i < cps.length && (flags(cps[i]) & WORD) != 0) {
                cur.appendCodePoint(cps[i]);
                run++;
                continue;
            }
            if (run >= 2) {
                String t = cur.toString();
                if (!stop.contains(t)) tokens.add(t);
            }
            cur.setLength(0);
            run = 0;
        }
        if (ngramMin == 1) {
            for (String t : tokens) add(t, out, at);
        }
        StringBuilder gram = new StringBuilder();
        for (int n = Math.max(ngramMin, 2); n <= ngramMax && n <= tokens.size(); n++) {
            for (int i = 0; i + n <= tokens.size(); i++) {
                gram.setLength(0);
                gram.append(tokens.get(i));
                for (int j = 1; j < n; j++) gram.append(' ').append(tokens.get(i + j));
                add(gram.toString(), out, at);
            }
        }
    }

    private void add(String term, double[] out, int at) {
        Integer j = vocab.get(term);
        if (j == null) return;
        out[at + j] = binary ? 1.0 : out[at + j] + 1.0;
    }
}
