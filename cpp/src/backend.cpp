#include "emx/backend.hpp"

#include <cstdlib>
#include <string>

#ifdef EMX_HAVE_CUDA
extern "C" int emx_cuda_device_count();  // cuda/device.cu
#endif

namespace emx {

bool built_with_cuda() {
#ifdef EMX_HAVE_CUDA
  return true;
#else
  return false;
#endif
}

int cuda_device_count() {
#ifdef EMX_HAVE_CUDA
  static const int n = emx_cuda_device_count();
  return n;
#else
  return 0;
#endif
}

std::string active_backend() {
  const char* env = std::getenv("EMX_DEVICE");
  std::string want = env ? env : "auto";
  if (want == "cpu") return "cpu";
  return cuda_device_count() > 0 ? "cuda" : "cpu";
}

}  // namespace emx
