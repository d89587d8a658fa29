// Batched state check: B worlds of one task -> per-atom truth, goal success,
// goal fraction and reward, from object geometry (physics mode) plus the
// symbolic bits physics does not model. The GRPO group / many-environments
// case: thousands of rollouts of one task scored per training step.
//
//   StateCheck check(task, reward_preset("default"));        // compile once per task
//   StateCheckInputs in;  in.worlds = B;  in.boxes = ...;      // host or device arrays
//   StateCheckOutputs out; out.success = ...;                  // caller-owned memory
//   check.run(in, out);                                        // CPU threads or CUDA
//
// It computes exactly what, per world, relations_from_geometry (geometry.hpp)
// followed by check_goal / summarize_goal (goal.hpp) and compute_reward
// (reward.hpp) compute, but only for the ground atoms the goal reads: no
// WorldState, no bitsets, no allocation per world. The CPU path (threads) and
// the CUDA kernels (cuda/state_check.cu) run one shared source
// (cpp/src/state_check_eval.hpp), bit-exact with each other and with the
// per-world reference: identical booleans, fractions and rewards. (One corner
// is pinned down here and not in goal.cpp: when a forn node has more than 16
// children and children of equal ratio but different size compete for its
// best grounding, goal.cpp's std::sort may pick either; this check picks the
// first by child order, as std::sort does for 16 children or fewer.)
//
// Inputs, for B worlds of a task with N objects (row-major, C-contiguous):
//   boxes          float32 [B, N, 2, 3]  world AABB [[min xyz], [max xyz]] of every task object
//   interiors      float32 [B, N, 2, 3]  container interiors (null: none)
//   has_interior   uint8   [N] or [B, N] (has_interior_per_world)
//   joint_fraction float32 [B, N]        0 closed .. 1 open; < 0 no joint (null: no joints)
//   present        uint8   [B, N]        in the physics scene (0: held, not spawned; null: all)
//   exists         uint8   [B, N]        exists in the symbolic state (slice parts appear when
//                                        their whole is sliced; null: all)
//   symbolic       uint8   [B, S]        truth of program().symbolic[s] in each world: the atoms
//                                        physics does not model (cooked, soaked, ...), open for
//                                        objects without a joint, sliced for sliceable wholes
//   format_ok      uint8   [B]           rollout fields for the reward (null: format ok, an empty
//   plan_length, executed, objects_named, relevant_named  int32 [B]   plan, nothing named;
//                                        executed null: the whole plan ran)
// An object takes part in relations when present, existing and its box is
// finite, as in relations_from_geometry. Outputs (any may be null):
//   atom_truth uint8 [B, A] (A = program().atoms), success uint8 [B],
//   fraction float64 [B], reward float64 [B].
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "emx/goal.hpp"
#include "emx/reward.hpp"
#include "emx/task.hpp"

namespace emx {

/// A task's goal compiled for batched checks (immutable; built once per task).
struct StateCheckProgram {
  /// How each goal atom (GoalProgram::atoms, same order) is computed.
  enum class Source : uint8_t { kFalse, kGeometry, kJoint, kSymbolic };
  std::vector<Source> atom_source;
  /// The caller's symbolic columns: atoms read from the symbolic state.
  std::vector<GroundAtom> symbolic;
  /// Distinct ordered object pairs the geometric atoms compare (sliced wholes
  /// add their parts): the only pairs computed.
  std::vector<std::pair<int32_t, int32_t>> pairs;
  int32_t num_objects = 0;
  int32_t num_atoms = 0;
  int32_t num_nodes = 0;
  int32_t goal_objects = 0;  // as evaluate.cpp's goal_objects(task)
  RewardConfig reward;
  /// Bytes a world's check must move at least: the inputs it reads (boxes of
  /// the objects the atoms involve, interiors and joint fractions where read,
  /// present flags, symbolic columns, rollout fields) and the outputs it
  /// writes (atom truth, success, fraction, reward). For bandwidth bounds.
  int64_t bytes_per_world = 0;

  struct Flat;  // the arrays the kernels read (state_check.cpp)
  std::shared_ptr<const Flat> flat;

  static StateCheckProgram compile(const Task& task, const RewardConfig& reward);
  /// Fills one world's symbolic row (num symbolic bytes) from a WorldState.
  void symbolic_row(const Task& task, const WorldState& state, uint8_t* row) const;
};

struct StateCheckInputs {
  int64_t worlds = 0;
  const float* boxes = nullptr;
  const float* interiors = nullptr;
  const uint8_t* has_interior = nullptr;
  bool has_interior_per_world = false;
  const float* joint_fraction = nullptr;
  const uint8_t* present = nullptr;
  const uint8_t* exists = nullptr;
  const uint8_t* symbolic = nullptr;
  const uint8_t* format_ok = nullptr;
  const int32_t* plan_length = nullptr;
  const int32_t* executed = nullptr;
  const int32_t* objects_named = nullptr;
  const int32_t* relevant_named = nullptr;
};

struct StateCheckOutputs {
  uint8_t* atom_truth = nullptr;
  uint8_t* success = nullptr;
  double* fraction = nullptr;
  double* reward = nullptr;
};

/// A compiled state check for one task. Thread-safe; the CUDA copy of the
/// program is uploaded on first use, once per device.
class StateCheck {
 public:
  StateCheck(TaskPtr task, const RewardConfig& reward);
  const Task& task() const { return *task_; }
  const StateCheckProgram& program() const { return program_; }

  /// CPU path on `threads` threads (<= 0: all cores). Host pointers.
  void run_cpu(const StateCheckInputs& in, const StateCheckOutputs& out, int threads = 0) const;
  /// CUDA path: device pointers (inputs and outputs), kernels launched on
  /// `stream` (a cudaStream_t; null: the legacy default stream) without
  /// synchronising. Returns the GPU time of the kernels in seconds when
  /// `timed` (then it synchronises), else 0. Throws std::runtime_error without
  /// a CUDA build or a usable device.
  double run_cuda(const StateCheckInputs& in, const StateCheckOutputs& out, void* stream = nullptr,
                  bool timed = false) const;
  /// run_cuda when active_backend() is "cuda" and `device_pointers`, else run_cpu.
  void run(const StateCheckInputs& in, const StateCheckOutputs& out, bool device_pointers = false,
           int threads = 0) const;

 private:
  TaskPtr task_;
  StateCheckProgram program_;
  struct DeviceCopies;
  mutable std::mutex device_mutex_;
  mutable std::shared_ptr<DeviceCopies> device_;
};

/// The per-world reference the batched check must equal: relations_from_geometry
/// on `state` then summarize. World `w` of `in` (host pointers); `state` is the
/// symbolic state the geometry completes. For tests and for people.
struct StateCheckReference {
  std::vector<uint8_t> atom_truth;
  bool success = false;
  double fraction = 0.0;
  double reward = 0.0;
};
StateCheckReference state_check_reference(const Task& task, const RewardConfig& reward, const StateCheckInputs& in,
                                          int64_t world, const WorldState& state);

// ---- CUDA memory helpers (for bindings and embedders). Without a CUDA build
// or a usable device they throw std::runtime_error, except
// cuda_pointer_device, which answers -1.

/// Device memory on the current device, freed when the last reference goes.
std::shared_ptr<void> cuda_allocate(size_t bytes);
void cuda_copy_to_device(void* device_dst, const void* host_src, size_t bytes);
void cuda_copy_to_host(void* host_dst, const void* device_src, size_t bytes);
void cuda_synchronize();
/// Makes stream `waiting` wait for the work queued so far on `producer`
/// (cudaStream_t handles; null is the legacy default stream).
void cuda_stream_wait(void* waiting, void* producer);
/// The device ordinal holding `ptr`, or -1 for host memory (or no CUDA).
int cuda_pointer_device(const void* ptr);
/// The current CUDA device of this thread (-1 without a usable device), and setting it.
int cuda_current_device();
void cuda_set_device(int device);

struct CudaDeviceInfo {
  int device = 0;
  std::string name;
  int multiprocessors = 0;
  int memory_clock_khz = 0;
  int memory_bus_bits = 0;
  double peak_bandwidth = 0.0;  // bytes/s: 2 (double data rate) x clock x bus width
  size_t global_memory = 0;
};
CudaDeviceInfo cuda_device_info(int device = 0);

}  // namespace emx
