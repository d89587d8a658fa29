// Device discovery for the CUDA backend. Any runtime error (no driver, an
// insufficient driver, no device) means "no usable device", never a crash:
// the CPU path takes over.
#include <cuda_runtime.h>

extern "C" int emx_cuda_device_count() {
  int n = 0;
  if (cudaGetDeviceCount(&n) != cudaSuccess) {
    cudaGetLastError();  // clear the sticky error so later calls start clean
    return 0;
  }
  return n;
}
