package modelport.runtime;

import java.io.File;
import java.net.URISyntaxException;

/**
 * Loads the native library of a TVM-compiled model: the C++ stub next to the folder of the
 * jar (an artifact holds java/NAME.jar and libNAME.so side by side with its lib/ folder),
 * or in the folder the system property {@code modelport.tvm.dir} names.
 */
public final class NativeLibrary {
    private NativeLibrary() {}

    public static void load(Class<?> owner, String fileName) {
        File lib = new File(folder(owner), fileName);
        if (!lib.isFile()) {
            throw new UnsatisfiedLinkError("cannot find " + fileName + " in " + lib.getParent()
                    + ": keep the jar in the java/ folder of its artifact directory, or set the system property"
                    + " modelport.tvm.dir to the folder that holds " + fileName);
        }
        System.load(lib.getAbsolutePath());
    }

    private static File folder(Class<?> owner) {
        String dir = System.getProperty("modelport.tvm.dir");
        if (dir != null && !dir.isEmpty()) {
            return new File(dir);
        }
        try {
            File jar = new File(owner.getProtectionDomain().getCodeSource().getLocation().toURI());
            File javaDir = jar.isFile() ? jar.getParentFile() : jar;
            return javaDir.getParentFile();
        } catch (URISyntaxException | SecurityException | NullPointerException e) {
            throw new UnsatisfiedLinkError("cannot locate the jar of " + owner.getName()
                    + "; set the system property modelport.tvm.dir to the artifact folder");
        }
    }
}
