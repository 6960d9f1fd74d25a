// modelport_kernel.hpp: helpers that generated kernels call, with the same meaning as the
// Java ones in modelport/runtime/Kernel.java (NaN and signed zeros included).
#pragma once

namespace modelport {

// min/max as (b < a ? b : a): a NaN in `a` yields b... exactly as the Java side computes.
template <typename T>
inline T kmin(T a, T b) { return b < a ? b : a; }
template <typename T>
inline T kmax(T a, T b) { return b > a ? b : a; }

}  // namespace modelport
