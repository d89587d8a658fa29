// CUDA kernels of the batched state check (cpp/include/emx/state_check.hpp).
//
// Two kernels on the caller's stream, no host synchronisation:
//   1. atoms:   one thread per (world, goal atom): the geometric relation of
//               the atom's object pair (or its joint / symbolic bit), written
//               to atom_truth [B, A] -- consecutive threads write consecutive
//               bytes, and read the boxes of one world, which stay in L1/L2.
//   2. program: one thread per world: the flat goal program (children before
//               parents) over that world's atom row -> success, fraction,
//               reward. Node scores live in shared memory laid out
//               [node][thread] (bank-conflict free), or, for programs too
//               large for it, in global scratch [node][world] (coalesced).
// The per-world arithmetic is cpp/src/state_check_eval.hpp, the same source
// the CPU path runs (its float math uses the _rn intrinsics on the device, so
// nvcc's FMA contraction cannot change a comparison or a reward).
#include <cuda_runtime.h>

#include <cstdio>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "../cpp/src/state_check_cuda.hpp"
#include "../cpp/src/state_check_eval.hpp"

namespace emx::detail {
namespace {

void check(cudaError_t e, const char* what) {
  if (e != cudaSuccess) {
    cudaGetLastError();  // clear a sticky launch error so later calls start clean
    throw std::runtime_error(std::string("emx CUDA: ") + what + ": " + cudaGetErrorString(e));
  }
}

// Makes `device` current for a scope, restoring the previous one.
struct DeviceGuard {
  int previous = -1;
  explicit DeviceGuard(int device) {
    check(cudaGetDevice(&previous), "cudaGetDevice");
    if (device >= 0 && device != previous) check(cudaSetDevice(device), "cudaSetDevice");
  }
  ~DeviceGuard() {
    int now = -1;
    if (previous >= 0 && cudaGetDevice(&now) == cudaSuccess && now != previous) cudaSetDevice(previous);
  }
};

__global__ void atoms_kernel(const __grid_constant__ sc::ProgramView p, const __grid_constant__ sc::WorldView in,
                             uint8_t* __restrict__ atom_truth) {
  const int64_t total = in.worlds * p.num_atoms;
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < total;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    const int64_t w = i / p.num_atoms;
    const int32_t k = static_cast<int32_t>(i - w * p.num_atoms);
    const sc::World world{p, in, w};
    atom_truth[i] = world.atom(k);
  }
}

// Scratch in global memory, [node][world]: for goal programs too large for
// shared memory.
__global__ void program_kernel(const __grid_constant__ sc::ProgramView p, const __grid_constant__ sc::WorldView in,
                               const uint8_t* __restrict__ atom_truth, sc::Score* score, uint8_t* used,
                               uint8_t* __restrict__ success, double* __restrict__ fraction,
                               double* __restrict__ reward) {
  for (int64_t w = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; w < in.worlds;
       w += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    const sc::Scratch x{score + w, used + w, in.worlds};
    const sc::Summary s = sc::evaluate_program(p, atom_truth + w * p.num_atoms, x);
    if (success) success[w] = s.success;
    if (fraction) fraction[w] = s.fraction;
    if (reward) reward[w] = sc::reward_of(p, in, w, s);
  }
}

// Scratch in shared memory, [node][thread]: node scores never leave the SM.
__global__ void program_kernel_shared(const __grid_constant__ sc::ProgramView p,
                                      const __grid_constant__ sc::WorldView in,
                                      const uint8_t* __restrict__ atom_truth, uint8_t* __restrict__ success,
                                      double* __restrict__ fraction, double* __restrict__ reward) {
  extern __shared__ __align__(8) unsigned char smem[];
  const int64_t w = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x;
  if (w >= in.worlds) return;  // no barriers below: an early exit is safe
  sc::Score* score = reinterpret_cast<sc::Score*>(smem);
  uint8_t* used = smem + static_cast<size_t>(blockDim.x) * p.num_nodes * sizeof(sc::Score);
  const sc::Scratch x{score + threadIdx.x, used + threadIdx.x, blockDim.x};
  const sc::Summary s = sc::evaluate_program(p, atom_truth + w * p.num_atoms, x);
  if (success) success[w] = s.success;
  if (fraction) fraction[w] = s.fraction;
  if (reward) reward[w] = sc::reward_of(p, in, w, s);
}

int grid_for(int64_t threads, int block) {
  // Enough blocks to fill the device several times over; the kernels loop
  // (grid-stride) beyond that.
  const int64_t blocks = (threads + block - 1) / block;
  return static_cast<int>(blocks < 65535 * 8 ? (blocks > 0 ? blocks : 1) : 65535 * 8);
}

template <class T>
T* upload(const T* host, int64_t count, std::vector<void*>& owned) {
  if (count <= 0 || !host) return nullptr;
  void* d = nullptr;
  check(cudaMalloc(&d, sizeof(T) * count), "cudaMalloc (program)");
  owned.push_back(d);
  check(cudaMemcpy(d, host, sizeof(T) * count, cudaMemcpyHostToDevice), "cudaMemcpy (program)");
  return static_cast<T*>(d);
}

}  // namespace

struct CudaProgram {
  sc::ProgramView view;  // device pointers
  int device = -1;
  int shared_threads = 0;       // threads per block of the shared-memory program kernel (0: global scratch)
  size_t shared_bytes = 0;      // its dynamic shared memory per block
  std::vector<void*> owned;
  ~CudaProgram() {
    // No throwing here: free on the owning device, restore the current one.
    int previous = -1;
    const bool switched = cudaGetDevice(&previous) == cudaSuccess && previous != device && device >= 0 &&
                          cudaSetDevice(device) == cudaSuccess;
    for (void* d : owned) cudaFree(d);
    if (switched) cudaSetDevice(previous);
    cudaGetLastError();
  }
};

std::shared_ptr<CudaProgram> cuda_upload_program(const sc::ProgramView& host, int device) {
  DeviceGuard guard(device);
  auto prog = std::make_shared<CudaProgram>();
  check(cudaGetDevice(&prog->device), "cudaGetDevice");
  sc::ProgramView& v = prog->view;
  v = host;
  int32_t parts = 0;
  for (int32_t i = 0; i < host.num_objects; ++i)
    if (host.whole_of[i] >= 0) {
      const sc::Whole& W = host.wholes[host.whole_of[i]];
      if (W.first_part + W.num_parts > parts) parts = W.first_part + W.num_parts;
    }
  int32_t wholes = 0;
  for (int32_t i = 0; i < host.num_objects; ++i)
    if (host.whole_of[i] + 1 > wholes) wholes = host.whole_of[i] + 1;
  int32_t children = 0;
  for (int32_t i = 0; i < host.num_nodes; ++i) {
    const int32_t end = host.nodes[i].first_child + host.nodes[i].num_children;
    if (end > children) children = end;
  }
  v.atoms = upload(host.atoms, host.num_atoms, prog->owned);
  v.nodes = upload(host.nodes, host.num_nodes, prog->owned);
  v.children = upload(host.children, children, prog->owned);
  v.conditions = upload(host.conditions, host.num_conditions, prog->owned);
  v.is_floor = upload(host.is_floor, host.num_objects, prog->owned);
  v.whole_of = upload(host.whole_of, host.num_objects, prog->owned);
  v.wholes = upload(host.wholes, wholes, prog->owned);
  v.parts = upload(host.parts, parts, prog->owned);

  // The program kernel keeps node scores in shared memory when a block of at
  // least 32 worlds fits (128 at most: enough warps to hide latency).
  int optin = 0;
  check(cudaDeviceGetAttribute(&optin, cudaDevAttrMaxSharedMemoryPerBlockOptin, prog->device),
        "cudaDeviceGetAttribute");
  const size_t per_thread = static_cast<size_t>(host.num_nodes) * sizeof(sc::Score) + host.max_grid;
  const size_t budget = static_cast<size_t>(optin) < (size_t{96} << 10) ? static_cast<size_t>(optin) : (size_t{96} << 10);
  for (int threads = 128; threads >= 32; threads /= 2) {
    const size_t bytes = ((per_thread * threads + 7) / 8) * 8;
    if (bytes <= budget) {
      prog->shared_threads = threads;
      prog->shared_bytes = bytes;
      break;
    }
  }
  if (prog->shared_bytes > (size_t{48} << 10))
    check(cudaFuncSetAttribute(program_kernel_shared, cudaFuncAttributeMaxDynamicSharedMemorySize,
                               static_cast<int>(prog->shared_bytes)),
          "cudaFuncSetAttribute");
  return prog;
}

double cuda_state_check(const CudaProgram& program, const sc::WorldView& in, uint8_t* atom_truth, uint8_t* success,
                        double* fraction, double* reward, void* stream_ptr, bool timed) {
  if (in.worlds <= 0) return 0.0;
  DeviceGuard guard(program.device);
  cudaStream_t stream = static_cast<cudaStream_t>(stream_ptr);
  const sc::ProgramView& p = program.view;
  const int64_t B = in.worlds;

  // Scratch, stream-ordered: atom rows when the caller wants none; node
  // scores and forpairs used flags only when they do not fit in shared memory.
  const bool shared = program.shared_threads > 0;
  const int64_t atom_bytes = atom_truth ? 0 : ((B * p.num_atoms + 7) / 8) * 8;
  const int64_t score_bytes = shared ? 0 : B * p.num_nodes * static_cast<int64_t>(sizeof(sc::Score));
  const int64_t used_bytes = shared ? 0 : ((B * p.max_grid + 7) / 8) * 8;
  const int64_t scratch_bytes = atom_bytes + score_bytes + used_bytes;
  char* scratch = nullptr;
  if (scratch_bytes > 0)
    check(cudaMallocAsync(reinterpret_cast<void**>(&scratch), scratch_bytes, stream), "cudaMallocAsync (scratch)");
  uint8_t* atoms = atom_truth ? atom_truth : reinterpret_cast<uint8_t*>(scratch);
  sc::Score* score = reinterpret_cast<sc::Score*>(scratch + atom_bytes);
  uint8_t* used = reinterpret_cast<uint8_t*>(scratch + atom_bytes + score_bytes);

  cudaEvent_t start = nullptr, stop = nullptr;
  if (timed) {
    check(cudaEventCreate(&start), "cudaEventCreate");
    check(cudaEventCreate(&stop), "cudaEventCreate");
    check(cudaEventRecord(start, stream), "cudaEventRecord");
  }
  constexpr int kBlock = 256;
  if (p.num_atoms > 0) {
    atoms_kernel<<<grid_for(B * p.num_atoms, kBlock), kBlock, 0, stream>>>(p, in, atoms);
    check(cudaGetLastError(), "atoms kernel launch");
  }
  if (shared) {
    const int threads = program.shared_threads;
    const int64_t blocks = (B + threads - 1) / threads;
    program_kernel_shared<<<static_cast<unsigned>(blocks), threads, program.shared_bytes, stream>>>(
        p, in, atoms, success, fraction, reward);
  } else {
    program_kernel<<<grid_for(B, kBlock), kBlock, 0, stream>>>(p, in, atoms, score, used, success, fraction,
                                                                reward);
  }
  check(cudaGetLastError(), "program kernel launch");
  double seconds = 0.0;
  if (timed) {
    check(cudaEventRecord(stop, stream), "cudaEventRecord");
    check(cudaEventSynchronize(stop), "cudaEventSynchronize");
    float ms = 0.f;
    check(cudaEventElapsedTime(&ms, start, stop), "cudaEventElapsedTime");
    seconds = ms * 1e-3;
    cudaEventDestroy(start);
    cudaEventDestroy(stop);
  }
  if (scratch) check(cudaFreeAsync(scratch, stream), "cudaFreeAsync (scratch)");
  return seconds;
}

void* cuda_malloc_bytes(size_t bytes) {
  void* p = nullptr;
  check(cudaMalloc(&p, bytes > 0 ? bytes : 1), "cudaMalloc");
  return p;
}

void cuda_free_bytes(void* ptr) {
  if (ptr) cudaFree(ptr);
}

void cuda_copy(void* dst, const void* src, size_t bytes, bool to_device) {
  if (bytes == 0) return;
  check(cudaMemcpy(dst, src, bytes, to_device ? cudaMemcpyHostToDevice : cudaMemcpyDeviceToHost), "cudaMemcpy");
}

void cuda_sync() { check(cudaDeviceSynchronize(), "cudaDeviceSynchronize"); }

void cuda_stream_wait(void* waiting, void* producer) {
  if (waiting == producer) return;
  cudaEvent_t ready = nullptr;
  check(cudaEventCreateWithFlags(&ready, cudaEventDisableTiming), "cudaEventCreateWithFlags");
  check(cudaEventRecord(ready, static_cast<cudaStream_t>(producer)), "cudaEventRecord");
  check(cudaStreamWaitEvent(static_cast<cudaStream_t>(waiting), ready, 0), "cudaStreamWaitEvent");
  cudaEventDestroy(ready);  // released once the wait is done
}

int cuda_device_of(const void* ptr) {
  if (!ptr) return -1;
  cudaPointerAttributes attr{};
  if (cudaPointerGetAttributes(&attr, ptr) != cudaSuccess) {
    cudaGetLastError();
    return -1;
  }
  return attr.type == cudaMemoryTypeDevice || attr.type == cudaMemoryTypeManaged ? attr.device : -1;
}

int cuda_current_device() {
  int d = 0;
  check(cudaGetDevice(&d), "cudaGetDevice");
  return d;
}

void cuda_set_device(int device) { check(cudaSetDevice(device), "cudaSetDevice"); }

CudaInfo cuda_info(int device) {
  CudaInfo info;
  cudaDeviceProp prop{};
  check(cudaGetDeviceProperties(&prop, device), "cudaGetDeviceProperties");
  info.name = prop.name;
  info.multiprocessors = prop.multiProcessorCount;
  info.global_memory = prop.totalGlobalMem;
  check(cudaDeviceGetAttribute(&info.memory_clock_khz, cudaDevAttrMemoryClockRate, device), "cudaDeviceGetAttribute");
  check(cudaDeviceGetAttribute(&info.memory_bus_bits, cudaDevAttrGlobalMemoryBusWidth, device),
        "cudaDeviceGetAttribute");
  return info;
}

}  // namespace emx::detail
