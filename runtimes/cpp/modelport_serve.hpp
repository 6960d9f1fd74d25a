// modelport_serve.hpp: the main of a model's program: `<program> serve ...` runs the HTTP server,
// anything else the CSV program (csv_main, with --stream).
//
// The server (modelport_serve.cpp) is built apart, into lib/libmodelport_serve.so next to the
// program's bin/ folder, and loaded only when `serve` is asked for: it is compiled with the Boost
// headers (Beast, Asio), which only the machine that builds it needs; like the CSV program and
// the model's libraries, it needs nothing at run time but the C++ runtime. The HTTP API is
// documented in docs/serving.md; the Java runtime serves the same API.
#ifndef MODELPORT_SERVE_HPP
#define MODELPORT_SERVE_HPP

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "modelport_runtime.hpp"

#if !defined(_WIN32)
#include <dlfcn.h>
#include <unistd.h>
#endif

namespace modelport {

// Bumped when ModelSpec or the entry point below changes, so that a program and a server
// plugin built from different runtimes refuse each other instead of misreading the spec.
constexpr int kServeAbi = 1;
// The plugin's entry point: argv as the program got it (argv[1] == "serve"). Returns the
// program's exit status.
using ServeMainFn = int (*)(int abi, const ModelSpec* spec, int argc, char** argv);
constexpr const char* kServeLibrary = "libmodelport_serve.so";
constexpr const char* kServeSymbol = "modelport_serve_main";

// Loads the server plugin and runs it. Looks for it in $MODELPORT_SERVE_LIB (a path), then in
// <folder of the program>/../lib/, then where the dynamic loader looks (LD_LIBRARY_PATH, ...).
inline int serve_main(const ModelSpec& spec, int argc, char** argv) {
#if defined(_WIN32)
  (void)spec;
  (void)argc;
  (void)argv;
  std::fputs("error: `serve` is not available in Windows builds of the program\n", stderr);
  return kExitFailure;
#else
  std::vector<std::string> candidates;
  if (const char* env = std::getenv("MODELPORT_SERVE_LIB"))
    if (*env) candidates.emplace_back(env);
  char exe[4096];
  const ssize_t n = ::readlink("/proc/self/exe", exe, sizeof exe - 1);
  if (n > 0) {
    std::string dir(exe, static_cast<size_t>(n));
    dir.erase(dir.rfind('/') == std::string::npos ? 0 : dir.rfind('/'));
    candidates.push_back(dir + "/../lib/" + kServeLibrary);
  }
  candidates.emplace_back(kServeLibrary);
  std::string reason;
  for (const std::string& path : candidates) {
    const bool is_path = path.find('/') != std::string::npos;
    if (is_path && ::access(path.c_str(), F_OK) != 0) continue;
    void* lib = ::dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (lib == nullptr) {
      const char* e = ::dlerror();
      // The first plugin found that fails to load says why.
      if (reason.empty()) reason = e ? e : "cannot load it";
      continue;
    }
    auto fn = reinterpret_cast<ServeMainFn>(::dlsym(lib, kServeSymbol));
    if (fn == nullptr) {
      reason = path + ": no " + kServeSymbol;
      continue;
    }
    return fn(kServeAbi, &spec, argc, argv);
  }
  std::fprintf(stderr,
               "error: cannot load the HTTP server %s: %s\n"
               "It is built next to the program (lib/%s) when the Boost headers are installed where the\n"
               "model is built (Debian/Ubuntu: apt-get install libboost-dev); keep bin/ and lib/ together.\n"
               "The CSV program (standard input to standard output) does not need it.\n",
               kServeLibrary, reason.empty() ? "not found" : reason.c_str(), kServeLibrary);
  return kExitFailure;
#endif
}

// The program: `serve ...` runs the HTTP server, everything else is the CSV program.
inline int program_main(const ModelSpec& spec, int argc, char** argv) {
  if (argc > 1 && argv[1] != nullptr && std::strcmp(argv[1], "serve") == 0) return serve_main(spec, argc, argv);
  return csv_main(spec, argc, argv);
}

}  // namespace modelport

#endif  // MODELPORT_SERVE_HPP
