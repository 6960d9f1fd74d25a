// modelport JNI helpers for the TVM targets' Java stub: Java primitive arrays as C++ buffers
// (released on scope exit, also when the model throws), Java strings from UTF-8, and Java
// exceptions from C++ ones.
#ifndef MODELPORT_JNI_HPP
#define MODELPORT_JNI_HPP

#include <dlfcn.h>
#include <jni.h>
#include <signal.h>

#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

namespace modelport_jni {

// Elements of a Java primitive array, pinned or copied by the JVM for the object's lifetime.
// `release_mode`: 0 copies changes back (outputs), JNI_ABORT does not (inputs).
#define MODELPORT_JNI_ELEMENTS(Kind, JArray, JType)                                            \
  class Kind##Elements {                                                                       \
   public:                                                                                     \
    Kind##Elements(JNIEnv* env, JArray array, jint release_mode)                               \
        : env_(env), array_(array), mode_(release_mode),                                       \
          data_(array ? env->Get##Kind##ArrayElements(array, nullptr) : nullptr) {             \
      if (data_ == nullptr) throw std::invalid_argument("a tensor array is null or too big");   \
    }                                                                                          \
    ~Kind##Elements() { env_->Release##Kind##ArrayElements(array_, data_, mode_); }             \
    Kind##Elements(const Kind##Elements&) = delete;                                            \
    Kind##Elements& operator=(const Kind##Elements&) = delete;                                 \
    JType* data() { return data_; }                                                            \
                                                                                               \
   private:                                                                                    \
    JNIEnv* env_;                                                                              \
    JArray array_;                                                                             \
    jint mode_;                                                                                \
    JType* data_;                                                                              \
  };

MODELPORT_JNI_ELEMENTS(Float, jfloatArray, jfloat)
MODELPORT_JNI_ELEMENTS(Double, jdoubleArray, jdouble)
MODELPORT_JNI_ELEMENTS(Long, jlongArray, jlong)
#undef MODELPORT_JNI_ELEMENTS

// UTF-8 (as labels are stored) to UTF-16 (what NewString takes). NewStringUTF would read
// "modified UTF-8" and mangle characters outside the Basic Multilingual Plane.
inline std::u16string utf16(const std::string& s) {
  std::u16string out;
  for (std::size_t i = 0; i < s.size();) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    char32_t cp;
    std::size_t len;
    if (c < 0x80) { cp = c; len = 1; }
    else if ((c >> 5) == 0x6) { cp = c & 0x1F; len = 2; }
    else if ((c >> 4) == 0xE) { cp = c & 0x0F; len = 3; }
    else { cp = c & 0x07; len = 4; }
    if (i + len > s.size()) break;
    for (std::size_t k = 1; k < len; ++k) cp = (cp << 6) | (static_cast<unsigned char>(s[i + k]) & 0x3F);
    i += len;
    if (cp >= 0x10000) {
      cp -= 0x10000;
      out.push_back(static_cast<char16_t>(0xD800 + (cp >> 10)));
      out.push_back(static_cast<char16_t>(0xDC00 + (cp & 0x3FF)));
    } else {
      out.push_back(static_cast<char16_t>(cp));
    }
  }
  return out;
}

// A Java String[] as UTF-8 strings (GetStringUTFChars would give "modified UTF-8": NUL and
// characters outside the Basic Multilingual Plane encoded otherwise). A null element is the
// empty string; an unpaired surrogate becomes '?', as String.getBytes(UTF_8) writes it.
inline std::vector<std::string> get_strings(JNIEnv* env, jobjectArray array, std::size_t n) {
  if (array == nullptr) throw std::invalid_argument("a tensor array is null");
  std::vector<std::string> out(n);
  for (std::size_t i = 0; i < n; ++i) {
    jstring s = static_cast<jstring>(env->GetObjectArrayElement(array, static_cast<jsize>(i)));
    if (s == nullptr) continue;
    const jsize len = env->GetStringLength(s);
    const jchar* u = env->GetStringChars(s, nullptr);
    std::string& o = out[i];
    for (jsize k = 0; k < len; ++k) {
      char32_t cp = u[k];
      if (cp >= 0xD800 && cp < 0xDC00 && k + 1 < len && u[k + 1] >= 0xDC00 && u[k + 1] < 0xE000) {
        cp = 0x10000 + ((cp - 0xD800) << 10) + (u[k + 1] - 0xDC00);
        ++k;
      } else if (cp >= 0xD800 && cp < 0xE000) {
        cp = '?';
      }
      if (cp < 0x80) {
        o += static_cast<char>(cp);
      } else if (cp < 0x800) {
        o += static_cast<char>(0xC0 | (cp >> 6));
        o += static_cast<char>(0x80 | (cp & 0x3F));
      } else if (cp < 0x10000) {
        o += static_cast<char>(0xE0 | (cp >> 12));
        o += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
        o += static_cast<char>(0x80 | (cp & 0x3F));
      } else {
        o += static_cast<char>(0xF0 | (cp >> 18));
        o += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
        o += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
        o += static_cast<char>(0x80 | (cp & 0x3F));
      }
    }
    env->ReleaseStringChars(s, u);
    env->DeleteLocalRef(s);
  }
  return out;
}

inline void set_strings(JNIEnv* env, jobjectArray array, const std::vector<std::string>& values) {
  for (std::size_t i = 0; i < values.size(); ++i) {
    const std::u16string u = utf16(values[i]);
    jstring s = env->NewString(reinterpret_cast<const jchar*>(u.data()), static_cast<jsize>(u.size()));
    if (s == nullptr) return;  // OutOfMemoryError is pending
    env->SetObjectArrayElement(array, static_cast<jsize>(i), s);
    env->DeleteLocalRef(s);
  }
}

// The model library's entry point: Model::run with errors as codes (see <name>_tensors.cpp).
using RunTensors = int (*)(const void* const* inputs, void* const* outputs, int64_t n, char* error,
                           size_t error_size);

inline std::string& load_error() {
  static std::string error;
  return error;
}

// Loads `file` (the C++ stub, which links the TVM runtime) from this library's folder and
// returns its `symbol`, or nullptr with load_error() set.
//
// The TVM runtime installs its own SIGSEGV/SIGBUS handlers when it loads (to print a
// backtrace). The JVM relies on its own handlers for those signals during normal operation
// (safepoints, implicit null checks), so TVM's would turn them into crashes: the JVM's
// handlers are saved before the load and put back after it.
inline RunTensors load_model(const char* file, const char* symbol) {
  const int signals[] = {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGTRAP, SIGABRT};
  struct sigaction saved[sizeof signals / sizeof signals[0]];
  for (std::size_t i = 0; i < sizeof signals / sizeof signals[0]; ++i) ::sigaction(signals[i], nullptr, &saved[i]);
  Dl_info info;
  std::string folder = ".";
  if (::dladdr(reinterpret_cast<void*>(&load_error), &info) != 0 && info.dli_fname != nullptr) {
    folder = info.dli_fname;
    const auto slash = folder.rfind('/');
    folder = slash == std::string::npos ? "." : folder.substr(0, slash);
  }
  const std::string path = folder + "/" + file;
  void* handle = ::dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
  for (std::size_t i = 0; i < sizeof signals / sizeof signals[0]; ++i) ::sigaction(signals[i], &saved[i], nullptr);
  if (handle == nullptr) {
    load_error() = std::string("cannot load ") + path + ": " + ::dlerror();
    return nullptr;
  }
  void* fn = ::dlsym(handle, symbol);
  if (fn == nullptr) load_error() = std::string("cannot find ") + symbol + " in " + path;
  return reinterpret_cast<RunTensors>(fn);
}

inline void throw_java(JNIEnv* env, const char* class_name, const char* message) {
  if (env->ExceptionCheck()) return;
  jclass cls = env->FindClass(class_name);
  if (cls != nullptr) env->ThrowNew(cls, message);
}

}  // namespace modelport_jni

#endif  // MODELPORT_JNI_HPP
