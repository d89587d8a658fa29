// The seam between state_check.cpp (C++ compiler) and cuda/state_check.cu
// (nvcc). Defined in the .cu only when the library is built with CUDA
// (EMX_HAVE_CUDA); state_check.cpp calls them only then. Every function
// throws std::runtime_error naming the failing CUDA call.
#pragma once

#include <cstddef>
#include <memory>
#include <string>

#include "state_check_eval.hpp"

namespace emx {
struct StateCheckProgram;
}

namespace emx::detail {

/// The host ProgramView of a compiled program (state_check.cpp): what the
/// kernels get, with host pointers. For tests that run the kernels' code paths
/// on the host.
const sc::ProgramView& program_view(const StateCheckProgram& program);

/// The program's arrays on one device, with a ProgramView pointing at them.
struct CudaProgram;
std::shared_ptr<CudaProgram> cuda_upload_program(const sc::ProgramView& host, int device);

/// Launches the atom kernel and the program kernel on `stream`. Output
/// pointers may be null (atom truth then goes to scratch). Returns the
/// kernels' GPU seconds when `timed` (synchronising), else 0.
double cuda_state_check(const CudaProgram& program, const sc::WorldView& in, uint8_t* atom_truth, uint8_t* success,
                        double* fraction, double* reward, void* stream, bool timed);

void* cuda_malloc_bytes(size_t bytes);
void cuda_free_bytes(void* ptr);
void cuda_copy(void* dst, const void* src, size_t bytes, bool to_device);
void cuda_sync();
void cuda_stream_wait(void* waiting, void* producer);
int cuda_device_of(const void* ptr);  // -1: host memory or unknown
int cuda_current_device();
void cuda_set_device(int device);

struct CudaInfo {
  std::string name;
  int multiprocessors = 0, memory_clock_khz = 0, memory_bus_bits = 0;
  size_t global_memory = 0;
};
CudaInfo cuda_info(int device);

}  // namespace emx::detail
