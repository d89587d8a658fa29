// Which compute backend the state-check path uses. CUDA code is compiled
// whenever nvcc exists; at run time the CPU path takes over when no device is
// usable (no GPU, no driver, EMX_DEVICE=cpu).
#pragma once

#include <string>

namespace emx {

/// Usable CUDA devices (0 without a CUDA build or without a working driver).
int cuda_device_count();
/// "cuda" or "cpu", honouring EMX_DEVICE=cpu|cuda|auto (default auto).
std::string active_backend();
/// True when this library was built with the CUDA kernels.
bool built_with_cuda();

}  // namespace emx
