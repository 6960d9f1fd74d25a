// modelport TVM runtime glue; see modelport_tvm.hpp.
#include "modelport_tvm.hpp"

#include <dlfcn.h>
#include <tvm/ffi/container/array.h>
#include <tvm/ffi/container/tensor.h>
#include <tvm/ffi/extra/module.h>
#include <tvm/ffi/function.h>

#include <cstdlib>
#include <cstring>
#include <memory>
#include <mutex>
#include <new>
#include <stdexcept>
#include <string>
#include <sys/stat.h>
#include <vector>

namespace ffi = tvm::ffi;

namespace modelport_tvm {

namespace {

// The virtual machine's pooled allocator (tvm::runtime::memory::AllocatorType::kPooled).
constexpr int kPooledAllocator = 2;

DLDataType dl_type(ElemType t) {
  switch (t) {
    case ElemType::F32: return DLDataType{kDLFloat, 32, 1};
    case ElemType::F64: return DLDataType{kDLFloat, 64, 1};
    case ElemType::I64: return DLDataType{kDLInt, 64, 1};
    case ElemType::I32: return DLDataType{kDLInt, 32, 1};
    case ElemType::BOOL: return DLDataType{kDLBool, 8, 1};
  }
  return DLDataType{kDLFloat, 32, 1};
}

std::size_t elem_bytes(ElemType t) {
  switch (t) {
    case ElemType::F64: case ElemType::I64: return 8;
    case ElemType::F32: case ElemType::I32: return 4;
    case ElemType::BOOL: return 1;
  }
  return 4;
}

// Wraps caller memory as a tensor without copying: nothing to allocate or free.
struct Borrowed {
  void* data;
  void AllocData(DLTensor* t) { t->data = data; }
  void FreeData(DLTensor*) {}
};

// TVM-compiled kernels assume 64-byte aligned tensors (aligned vector loads): caller memory
// that is not aligned so is copied into memory that is.
constexpr std::uintptr_t kAlignment = 64;

struct AlignedCopy {
  const void* source;
  std::size_t bytes;
  void AllocData(DLTensor* t) {
    void* p = nullptr;
    if (::posix_memalign(&p, kAlignment, bytes == 0 ? kAlignment : bytes) != 0) throw std::bad_alloc();
    std::memcpy(p, source, bytes);
    t->data = p;
  }
  void FreeData(DLTensor* t) { std::free(t->data); }
};

ffi::Tensor host_tensor(const void* data, const std::vector<int64_t>& shape, ElemType type) {
  const ffi::ShapeView view(shape.data(), shape.size());
  const DLDevice cpu{kDLCPU, 0};
  if (reinterpret_cast<std::uintptr_t>(data) % kAlignment == 0) {
    return ffi::Tensor::FromNDAlloc(Borrowed{const_cast<void*>(data)}, view, dl_type(type), cpu);
  }
  std::size_t bytes = elem_bytes(type);
  for (int64_t d : shape) bytes *= static_cast<std::size_t>(d);
  return ffi::Tensor::FromNDAlloc(AlignedCopy{data, bytes}, view, dl_type(type), cpu);
}

bool is_file(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

// The folder of the shared object (or executable) that holds this function.
std::string own_folder() {
  Dl_info info;
  if (::dladdr(reinterpret_cast<void*>(&own_folder), &info) == 0 || info.dli_fname == nullptr) return ".";
  std::string path = info.dli_fname;
  auto slash = path.rfind('/');
  return slash == std::string::npos ? "." : path.substr(0, slash);
}

std::string find_module(const char* module_file) {
  if (const char* env = std::getenv("MODELPORT_TVM_MODULE")) {
    if (is_file(env)) return env;
    throw std::runtime_error(std::string("MODELPORT_TVM_MODULE=") + env + " is not a file");
  }
  const std::string here = own_folder();
  for (const std::string& candidate : {here + "/" + module_file, here + "/../" + module_file}) {
    if (is_file(candidate)) return candidate;
  }
  throw std::runtime_error(std::string("cannot find the compiled model ") + module_file + " next to " + here +
                           " or in its parent folder; keep the artifact folder together, or set "
                           "MODELPORT_TVM_MODULE to the file's path");
}

// TVM's CUDA plugin (device API and kernel loader) ships in the artifact's lib/ folder next to
// the CUDA runtime; it needs the NVIDIA driver (libcuda.so.1), so it is loaded only when a
// model runs on the GPU.
void load_cuda_plugin() {
  // Loaded already, by another tvm-cuda artifact in this process (a service with several
  // models): use that one; a second copy would register TVM's CUDA device API again, which
  // aborts. The registry lives in the TVM runtime, which every artifact's library shares (the
  // loader matches libtvm_runtime.so and libtvm_ffi.so by soname).
  if (ffi::Function::GetGlobal("device_api.cuda").has_value()) return;
  for (const std::string& candidate : {own_folder() + "/lib/libtvm_runtime_cuda.so",
                                       own_folder() + "/../lib/libtvm_runtime_cuda.so"}) {
    if (!is_file(candidate)) continue;
    if (::dlopen(candidate.c_str(), RTLD_NOW | RTLD_GLOBAL) != nullptr) return;
    throw std::runtime_error(std::string("cannot load TVM's CUDA runtime (") + candidate + "): " + ::dlerror() +
                             "; running on the GPU needs the NVIDIA driver (libcuda.so.1)");
  }
  throw std::runtime_error("cannot find lib/libtvm_runtime_cuda.so next to " + own_folder());
}

// The loaded executable and the runtime functions used, shared by all threads.
struct Loaded {
  explicit Loaded(const std::string& path)
      : executable(ffi::Module::LoadFromFile(path)),
        alloc(ffi::Function::GetGlobalRequired("runtime.TVMTensorAllocWithScope")),
        copy(ffi::Function::GetGlobalRequired("runtime.TVMTensorCopyFromTo")),
        sync(ffi::Function::GetGlobalRequired("runtime.Device_StreamSync")) {}
  ffi::Module executable;
  ffi::Function alloc, copy, sync;
};

const Loaded& load(const char* module_file, int device_type) {
  static std::once_flag once;
  static Loaded* loaded = nullptr;  // lives as long as the process: tensors may outlive callers
  static std::string error;
  std::call_once(once, [&] {
    try {
      if (device_type != kCPU) load_cuda_plugin();
      loaded = new Loaded(find_module(module_file));
    } catch (const std::exception& e) {
      error = e.what();
    }
  });
  if (loaded == nullptr) throw std::runtime_error("cannot load the TVM-compiled model: " + error);
  return *loaded;
}

// A virtual machine over the shared executable. It holds per-call state, so each thread
// has its own.
struct Vm {
  Vm(const Loaded& l, int device_type)
      : vm(l.executable->GetFunction("vm_load_executable").value()().cast<ffi::Module>()),
        main_fn(init(vm, device_type)) {}
  static ffi::Function init(const ffi::Module& vm, int device_type) {
    ffi::Function initialize = vm->GetFunction("vm_initialization").value();
    // The device, then the host (shape computations run there).
    if (device_type == kCPU) {
      initialize(kCPU, 0, kPooledAllocator);
    } else {
      initialize(device_type, 0, kPooledAllocator, kCPU, 0, kPooledAllocator);
    }
    return vm->GetFunction("main").value();
  }
  ffi::Module vm;
  ffi::Function main_fn;
};

ffi::Function& main_function(const Loaded& l, int device_type) {
  thread_local std::unique_ptr<Vm> vm;
  if (!vm) vm.reset(new Vm(l, device_type));
  return vm->main_fn;
}

// The staged path (inputs copied into tensors the runtime allocates on the device, outputs
// copied back, one stream synchronisation per call) is the GPU's. MODELPORT_TVM_STAGED=1 takes
// it on the CPU too, so that machines without a GPU run every call it makes.
bool staged(int device_type) {
  static const bool forced = [] {
    const char* v = std::getenv("MODELPORT_TVM_STAGED");
    return v != nullptr && std::string(v) == "1";
  }();
  return device_type != kCPU || forced;
}

std::vector<int64_t> full_shape(const TensorDesc& d, int64_t n) {
  std::vector<int64_t> shape{n};
  shape.insert(shape.end(), d.row_shape, d.row_shape + d.ndim);
  return shape;
}

}  // namespace

Model::Model(const char* module_file, int device_type, const TensorDesc* inputs, int num_inputs,
             const TensorDesc* outputs, int num_outputs, int64_t batch)
    : module_file_(module_file), device_type_(device_type), inputs_(inputs), num_inputs_(num_inputs),
      outputs_(outputs), num_outputs_(num_outputs), batch_(batch) {}

void Model::run(const void* const* inputs, void* const* outputs, int64_t n) const {
  if (n <= 0) return;
  if (batch_ <= 0) {
    run_batch(inputs, outputs, n);
    return;
  }
  // A model built for a fixed batch runs on chunks of that many rows; the last chunk is
  // padded with zero rows, whose outputs are dropped.
  std::vector<std::vector<unsigned char>> in_pad(num_inputs_), out_pad(num_outputs_);
  std::vector<const void*> in(num_inputs_);
  std::vector<void*> out(num_outputs_);
  for (int64_t r0 = 0; r0 < n; r0 += batch_) {
    const int64_t m = n - r0 < batch_ ? n - r0 : batch_;
    for (int i = 0; i < num_inputs_; ++i) {
      const std::size_t row = static_cast<std::size_t>(inputs_[i].row_size) * elem_bytes(inputs_[i].type);
      const unsigned char* src = static_cast<const unsigned char*>(inputs[i]) + r0 * row;
      if (m == batch_) {
        in[i] = src;
      } else {
        in_pad[i].assign(static_cast<std::size_t>(batch_) * row, 0);
        std::memcpy(in_pad[i].data(), src, static_cast<std::size_t>(m) * row);
        in[i] = in_pad[i].data();
      }
    }
    for (int i = 0; i < num_outputs_; ++i) {
      const std::size_t row = static_cast<std::size_t>(outputs_[i].row_size) * elem_bytes(outputs_[i].type);
      unsigned char* dst = static_cast<unsigned char*>(outputs[i]) + r0 * row;
      if (m == batch_) {
        out[i] = dst;
      } else {
        out_pad[i].assign(static_cast<std::size_t>(batch_) * row, 0);
        out[i] = out_pad[i].data();
      }
    }
    run_batch(in.data(), out.data(), batch_);
    if (m != batch_) {
      for (int i = 0; i < num_outputs_; ++i) {
        const std::size_t row = static_cast<std::size_t>(outputs_[i].row_size) * elem_bytes(outputs_[i].type);
        std::memcpy(static_cast<unsigned char*>(outputs[i]) + r0 * row, out_pad[i].data(),
                    static_cast<std::size_t>(m) * row);
      }
    }
  }
}

void Model::run_batch(const void* const* inputs, void* const* outputs, int64_t n) const {
  const Loaded& l = load(module_file_, device_type_);
  const DLDevice cpu{kDLCPU, 0};
  const DLDevice dev{static_cast<DLDeviceType>(device_type_), 0};
  const bool stage = staged(device_type_);
  try {
    std::vector<ffi::Any> args;
    std::vector<std::vector<int64_t>> shapes;
    shapes.reserve(num_inputs_ + num_outputs_);
    for (int i = 0; i < num_inputs_; ++i) {
      shapes.push_back(full_shape(inputs_[i], n));
      ffi::Tensor host = host_tensor(inputs[i], shapes.back(), inputs_[i].type);
      if (!stage) {
        args.emplace_back(host);
      } else {
        ffi::Shape shape(shapes.back().begin(), shapes.back().end());
        ffi::Tensor on_device = l.alloc(shape, dl_type(inputs_[i].type), dev, nullptr).cast<ffi::Tensor>();
        l.copy(host, on_device);
        args.emplace_back(on_device);
      }
    }
    std::vector<ffi::AnyView> views(args.begin(), args.end());
    ffi::Any result;
    main_function(l, device_type_).CallPacked(views.data(), static_cast<int32_t>(views.size()), &result);
    std::vector<ffi::Tensor> results;
    if (auto tensor = result.as<ffi::Tensor>()) {
      results.push_back(*tensor);
    } else {
      for (const ffi::Any& item : result.cast<ffi::Array<ffi::Any>>()) results.push_back(item.cast<ffi::Tensor>());
    }
    if (static_cast<int>(results.size()) != num_outputs_) {
      throw std::runtime_error("the compiled model returned " + std::to_string(results.size()) +
                               " outputs, expected " + std::to_string(num_outputs_));
    }
    for (int i = 0; i < num_outputs_; ++i) {
      const std::size_t bytes = static_cast<std::size_t>(n * outputs_[i].row_size) * elem_bytes(outputs_[i].type);
      const ffi::Tensor& r = results[i];
      if (r.numel() != n * outputs_[i].row_size) {
        throw std::runtime_error("output " + std::to_string(i) + " has " + std::to_string(r.numel()) +
                                 " elements, expected " + std::to_string(n * outputs_[i].row_size));
      }
      if (!stage) {
        std::memcpy(outputs[i], r.data_ptr(), bytes);
      } else {
        shapes.push_back(full_shape(outputs_[i], n));
        ffi::Tensor host = ffi::Tensor::FromNDAlloc(
            Borrowed{outputs[i]}, ffi::ShapeView(shapes.back().data(), shapes.back().size()),
            dl_type(outputs_[i].type), cpu);
        l.copy(r, host);
      }
    }
    // Device_StreamSync(Device, int stream): the default stream is the integer 0 (None is refused).
    if (stage) l.sync(dev, static_cast<int64_t>(0));
  } catch (const ffi::Error& e) {
    throw std::runtime_error(std::string("the TVM-compiled model failed: ") + e.what());
  }
}

}  // namespace modelport_tvm
