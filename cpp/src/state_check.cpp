// Batched state check: compiling a task's goal for it, the threaded CPU path,
// dispatch to the CUDA kernels, and the per-world reference the tests hold
// both to. The per-world arithmetic lives in state_check_eval.hpp, shared with
// cuda/state_check.cu.
#include "emx/state_check.hpp"

#include <algorithm>
#include <map>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <tuple>
#include <utility>

#include "emx/backend.hpp"
#include "emx/evaluate.hpp"
#include "emx/geometry.hpp"
#include "state_check_cuda.hpp"
#include "state_check_eval.hpp"
#include "thread_pool.hpp"

namespace emx {

static_assert(sc::kContactGap == kContactGap && sc::kSupportOverlap == kSupportOverlap &&
                  sc::kInsideTolerance == kInsideTolerance && sc::kNextToGap == kNextToGap &&
                  sc::kOpenFraction == kOpenFraction,
              "state_check_eval.hpp must use geometry.hpp's thresholds");
static_assert(static_cast<int>(GoalOp::kLiteral) == sc::kLiteral && static_cast<int>(GoalOp::kConst) == sc::kConst &&
                  static_cast<int>(GoalOp::kAnd) == sc::kAnd && static_cast<int>(GoalOp::kOr) == sc::kOr &&
                  static_cast<int>(GoalOp::kNot) == sc::kNot && static_cast<int>(GoalOp::kForN) == sc::kForN &&
                  static_cast<int>(GoalOp::kForPairs) == sc::kForPairs &&
                  static_cast<int>(GoalOp::kForNPairs) == sc::kForNPairs,
              "sc::NodeOp mirrors GoalOp");

struct StateCheckProgram::Flat {
  std::vector<sc::Atom> atoms;
  std::vector<sc::Node> nodes;
  std::vector<int32_t> children, conditions;
  std::vector<uint8_t> is_floor;
  std::vector<int32_t> whole_of;
  std::vector<sc::Whole> wholes;
  std::vector<int32_t> parts;
  std::vector<int32_t> involved;  // objects whose boxes the atoms read
  sc::ProgramView view;  // points into the vectors above
};

namespace {

using P = Predicate;

uint8_t geometric_kind(P p) {
  switch (p) {
    case P::kOnTop: return sc::kAtomOnTop;
    case P::kInside: return sc::kAtomInside;
    case P::kNextTo: return sc::kAtomNextTo;
    case P::kUnder: return sc::kAtomUnder;
    case P::kOnFloor: return sc::kAtomOnFloor;
    default: return sc::kAtomFalse;
  }
}

sc::WorldView world_view(const StateCheckProgram& prog, const StateCheckInputs& in) {
  sc::WorldView v;
  v.worlds = in.worlds;
  v.boxes = in.boxes;
  v.interiors = in.interiors;
  v.has_interior = in.has_interior;
  v.has_interior_stride = in.has_interior_per_world ? prog.num_objects : 0;
  v.joint_fraction = in.joint_fraction;
  v.present = in.present;
  v.exists = in.exists;
  v.symbolic = in.symbolic;
  v.format_ok = in.format_ok;
  v.plan_length = in.plan_length;
  v.executed = in.executed;
  v.objects_named = in.objects_named;
  v.relevant_named = in.relevant_named;
  return v;
}

void validate(const StateCheckProgram& prog, const StateCheckInputs& in) {
  if (in.worlds < 0) throw std::invalid_argument("state check: worlds must be >= 0");
  if (in.worlds > 0 && !in.boxes && prog.num_objects > 0) {
    const bool geometric = std::any_of(prog.atom_source.begin(), prog.atom_source.end(),
                                       [](StateCheckProgram::Source s) { return s == StateCheckProgram::Source::kGeometry; });
    if (geometric) throw std::invalid_argument("state check: boxes are required (the goal has geometric atoms)");
  }
}

}  // namespace

StateCheckProgram StateCheckProgram::compile(const Task& task, const RewardConfig& reward) {
  StateCheckProgram prog;
  auto flat = std::make_shared<Flat>();
  const GoalProgram& goal = task.goal;
  const WorldLayout& L = task.layout;
  const int32_t n = task.num_objects();
  prog.num_objects = n;
  prog.num_atoms = static_cast<int32_t>(goal.atoms.size());
  prog.num_nodes = static_cast<int32_t>(goal.nodes.size());
  prog.goal_objects = static_cast<int32_t>(emx::goal_objects(task).size());
  prog.reward = reward;

  // Parts of every sliceable whole, in index order.
  std::vector<std::vector<int32_t>> parts_of(n);
  for (int32_t i = 0; i < n; ++i)
    if (task.objects[i].whole >= 0) parts_of[task.objects[i].whole].push_back(i);

  std::map<std::tuple<int, int32_t, int32_t>, int32_t> slot_of;
  auto slot = [&](P p, int32_t a, int32_t b) {
    auto key = std::make_tuple(static_cast<int>(p), a, b);
    auto it = slot_of.find(key);
    if (it != slot_of.end()) return it->second;
    const int32_t s = static_cast<int32_t>(prog.symbolic.size());
    prog.symbolic.push_back({p, a, b});
    slot_of.emplace(key, s);
    return s;
  };

  flat->whole_of.assign(n, -1);
  auto need_whole = [&](int32_t obj) {
    if (parts_of[obj].empty() || flat->whole_of[obj] >= 0) return;
    sc::Whole W;
    W.first_part = static_cast<int32_t>(flat->parts.size());
    W.num_parts = static_cast<int32_t>(parts_of[obj].size());
    W.sliced_slot = slot(P::kSliced, obj, -1);
    flat->parts.insert(flat->parts.end(), parts_of[obj].begin(), parts_of[obj].end());
    flat->whole_of[obj] = static_cast<int32_t>(flat->wholes.size());
    flat->wholes.push_back(W);
  };

  std::set<std::pair<int32_t, int32_t>> pairs;
  std::set<int32_t> box_objects, interior_objects, joint_objects;
  auto add_pair = [&](uint8_t kind, int32_t a, int32_t b) {
    pairs.insert({a, b});
    box_objects.insert(a);
    box_objects.insert(b);
    if (kind == sc::kAtomInside) interior_objects.insert(b);
  };

  for (const GroundAtom& ga : goal.atoms) {
    sc::Atom atom;
    atom.a = ga.a;
    atom.b = ga.b;
    const uint8_t kind = geometric_kind(ga.pred);
    if (kind != sc::kAtomFalse) {
      if (L.stores(ga.pred) && ga.b >= 0) {
        atom.kind = kind;
        prog.atom_source.push_back(Source::kGeometry);
        add_pair(kind, ga.a, ga.b);
        if (!parts_of[ga.a].empty()) {
          need_whole(ga.a);
          for (int32_t q : parts_of[ga.a]) add_pair(kind, q, ga.b);
        }
        if (kind == sc::kAtomNextTo && !parts_of[ga.b].empty()) {
          need_whole(ga.b);
          for (int32_t q : parts_of[ga.b]) {
            add_pair(kind, q, ga.a);
            for (int32_t r : parts_of[ga.a]) {
              add_pair(kind, q, r);
              add_pair(kind, r, q);
            }
          }
        }
      } else {
        prog.atom_source.push_back(Source::kFalse);
      }
    } else if (ga.pred == P::kOpen) {
      atom.kind = sc::kAtomOpen;
      atom.slot = slot(P::kOpen, ga.a, -1);
      prog.atom_source.push_back(Source::kJoint);
      joint_objects.insert(ga.a);
    } else if (!L.stores(ga.pred)) {
      prog.atom_source.push_back(Source::kFalse);
    } else {
      atom.kind = sc::kAtomSymbolic;
      atom.slot = slot(ga.pred, ga.a, ga.b);
      prog.atom_source.push_back(Source::kSymbolic);
    }
    flat->atoms.push_back(atom);
  }
  prog.pairs.assign(pairs.begin(), pairs.end());
  flat->involved.assign(box_objects.begin(), box_objects.end());

  int32_t max_grid = 0;
  // Largest total a node can reach, bottom-up: ratios are compared as exact
  // fractions (state_check_eval.hpp), which needs totals below 2^20.
  std::vector<int64_t> most(goal.nodes.size(), 0);
  constexpr int64_t kMostTotal = int64_t{1} << 20;
  for (size_t i = 0; i < goal.nodes.size(); ++i) {
    const GoalNode& g = goal.nodes[i];
    int64_t sum = 0, top = 0;
    for (int32_t k = 0; k < g.num_children; ++k) {
      const int64_t c = most[goal.children[g.first_child + k]];
      sum += c;
      top = std::max(top, c);
    }
    switch (g.op) {
      case GoalOp::kLiteral: case GoalOp::kNot: most[i] = 1; break;
      case GoalOp::kConst: most[i] = 0; break;
      case GoalOp::kAnd: most[i] = sum; break;
      case GoalOp::kOr: most[i] = top; break;
      default: most[i] = sum + std::max<int64_t>(0, std::max(g.param, g.param2)); break;
    }
    if (most[i] >= kMostTotal)
      throw std::invalid_argument("state check: the goal of '" + task.name + "' has too many ground literals (" +
                                  std::to_string(most[i]) + ") for the batched check");
  }
  for (const GoalNode& g : goal.nodes) {
    sc::Node node;
    node.op = static_cast<uint8_t>(g.op);
    node.negated = g.negated;
    node.atom = g.atom;
    node.first_child = g.first_child;
    node.num_children = g.num_children;
    node.param = g.param;
    node.param2 = g.param2;
    flat->nodes.push_back(node);
    if (g.op == GoalOp::kForPairs || g.op == GoalOp::kForNPairs) {
      const int32_t cols = g.op == GoalOp::kForPairs ? g.param : g.param2;
      const int32_t rows = cols > 0 ? g.num_children / cols : 0;
      max_grid = std::max(max_grid, rows + std::max(cols, 0));
    }
  }
  flat->children = goal.children;
  flat->conditions = goal.conditions;
  flat->is_floor.resize(n);
  for (int32_t i = 0; i < n; ++i) flat->is_floor[i] = (task.objects[i].abilities & kFloor) != 0;

  sc::ProgramView& v = flat->view;
  v.num_objects = n;
  v.num_atoms = prog.num_atoms;
  v.num_symbolic = static_cast<int32_t>(prog.symbolic.size());
  v.num_nodes = prog.num_nodes;
  v.num_conditions = static_cast<int32_t>(goal.conditions.size());
  v.max_grid = max_grid;
  v.goal_objects = prog.goal_objects;
  v.atoms = flat->atoms.data();
  v.nodes = flat->nodes.data();
  v.children = flat->children.data();
  v.conditions = flat->conditions.data();
  v.is_floor = flat->is_floor.data();
  v.whole_of = flat->whole_of.data();
  v.wholes = flat->wholes.data();
  v.parts = flat->parts.data();
  v.weights = {reward.format_fail, reward.format,  reward.executability, reward.goal,
               reward.success,     reward.length,  reward.objects,       reward.relevance};

  // Minimum traffic per world: a box (24 B) and present flag (1 B) per object
  // a relation reads, interiors (24 B) of inside targets, joint fractions
  // (4 B), the symbolic row, the rollout fields (1 + 4 x 4 B); out: atom
  // truth, success, fraction, reward.
  prog.bytes_per_world = static_cast<int64_t>(box_objects.size()) * 25 +
                         static_cast<int64_t>(interior_objects.size()) * 24 +
                         static_cast<int64_t>(joint_objects.size()) * 4 + v.num_symbolic + 17 + prog.num_atoms + 1 +
                         8 + 8;
  prog.flat = flat;
  return prog;
}

const sc::ProgramView& detail::program_view(const StateCheckProgram& program) { return program.flat->view; }

void StateCheckProgram::symbolic_row(const Task& task, const WorldState& state, uint8_t* row) const {
  for (size_t s = 0; s < symbolic.size(); ++s) row[s] = state.get(task.layout, symbolic[s].pred, symbolic[s].a, symbolic[s].b);
}

// ---- StateCheck -----------------------------------------------------------------

struct StateCheck::DeviceCopies {
  std::vector<std::shared_ptr<detail::CudaProgram>> per_device;
};

StateCheck::StateCheck(TaskPtr task, const RewardConfig& reward)
    : task_(std::move(task)), program_(StateCheckProgram::compile(*task_, reward)) {}

void StateCheck::run_cpu(const StateCheckInputs& in, const StateCheckOutputs& out, int threads) const {
  validate(program_, in);
  const sc::ProgramView& p = program_.flat->view;
  const sc::WorldView v = world_view(program_, in);
  const int64_t B = in.worlds;
  const int32_t A = p.num_atoms;
  // Blocks of worlds, so that the pool's per-index call is amortised and a
  // small batch runs inline on the caller.
  // hardware_concurrency() reads sysfs on every call (~10 us): once is enough.
  static const int kCores = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  const int workers = threads > 0 ? threads : kCores;
  const int64_t block = std::max<int64_t>(32, B / (static_cast<int64_t>(workers) * 8));
  const size_t blocks = static_cast<size_t>((B + block - 1) / block);
  detail::parallel_for(blocks, workers, [&](size_t blk) {
    thread_local std::vector<sc::Score> score;
    thread_local std::vector<uint8_t> used, row_buf, scene;
    score.resize(std::max(1, p.num_nodes));
    used.resize(std::max(1, p.max_grid));
    row_buf.resize(std::max(1, A));
    scene.assign(std::max(1, p.num_objects), 0);
    const sc::Scratch x{score.data(), used.data(), 1};
    const std::vector<int32_t>& involved = program_.flat->involved;
    const int64_t begin = static_cast<int64_t>(blk) * block, end = std::min(B, begin + block);
    for (int64_t w = begin; w < end; ++w) {
      uint8_t* row = out.atom_truth ? out.atom_truth + w * A : row_buf.data();
      sc::World world{p, v, w};
      for (int32_t i : involved) scene[i] = world.compute_flags(i);
      world.scene = scene.data();
      for (int32_t k = 0; k < A; ++k) row[k] = world.atom(k);
      const sc::Summary s = sc::evaluate_program(p, row, x);
      if (out.success) out.success[w] = s.success;
      if (out.fraction) out.fraction[w] = s.fraction;
      if (out.reward) out.reward[w] = sc::reward_of(p, v, w, s);
    }
  });
}

double StateCheck::run_cuda(const StateCheckInputs& in, const StateCheckOutputs& out, void* stream, bool timed) const {
  validate(program_, in);
#ifdef EMX_HAVE_CUDA
  if (cuda_device_count() == 0)
    throw std::runtime_error("state check: no usable CUDA device (the driver or the device is missing); "
                             "use the CPU path with host arrays");
  int device = cuda_pointer_device(in.boxes);
  if (device < 0) device = detail::cuda_current_device();
  std::shared_ptr<detail::CudaProgram> prog;
  {
    std::lock_guard<std::mutex> lock(device_mutex_);
    if (!device_) device_ = std::make_shared<DeviceCopies>();
    auto& slots = device_->per_device;
    if (slots.size() <= static_cast<size_t>(device)) slots.resize(device + 1);
    if (!slots[device]) slots[device] = detail::cuda_upload_program(program_.flat->view, device);
    prog = slots[device];
  }
  return detail::cuda_state_check(*prog, world_view(program_, in), out.atom_truth, out.success, out.fraction,
                                   out.reward, stream, timed);
#else
  (void)in;
  (void)out;
  (void)stream;
  (void)timed;
  throw std::runtime_error("state check: this emx was built without CUDA (no nvcc at build time)");
#endif
}

void StateCheck::run(const StateCheckInputs& in, const StateCheckOutputs& out, bool device_pointers, int threads) const {
  if (device_pointers) {
    run_cuda(in, out);
    return;
  }
  run_cpu(in, out, threads);
}

// ---- reference ------------------------------------------------------------------

StateCheckReference state_check_reference(const Task& task, const RewardConfig& reward, const StateCheckInputs& in,
                                          int64_t w, const WorldState& state) {
  const int32_t n = task.num_objects();
  Geometry geo;
  geo.box.resize(n);
  geo.interior.resize(n);
  geo.has_interior.assign(n, 0);
  geo.joint_fraction.assign(n, -1.0f);
  geo.present.assign(n, 1);
  for (int32_t i = 0; i < n; ++i) {
    const int64_t at = w * n + i;
    for (int k = 0; k < 3; ++k) {
      geo.box[i].min[k] = in.boxes[at * 6 + k];
      geo.box[i].max[k] = in.boxes[at * 6 + 3 + k];
      if (in.interiors) {
        geo.interior[i].min[k] = in.interiors[at * 6 + k];
        geo.interior[i].max[k] = in.interiors[at * 6 + 3 + k];
      }
    }
    if (in.interiors && in.has_interior) geo.has_interior[i] = in.has_interior[(in.has_interior_per_world ? w * n : 0) + i];
    if (in.joint_fraction) geo.joint_fraction[i] = in.joint_fraction[at];
    if (in.present) geo.present[i] = in.present[at];
  }
  WorldState s = state;
  relations_from_geometry(task, geo, s);
  GoalCheck g = check_goal(task.goal, task.layout, s);
  StateCheckReference ref;
  ref.atom_truth = g.atom_truth;
  ref.success = g.success;
  ref.fraction = g.fraction;
  RewardComponents c;
  c.format_ok = !in.format_ok || in.format_ok[w];
  c.plan_length = in.plan_length ? in.plan_length[w] : 0;
  const int32_t executed = in.executed ? in.executed[w] : c.plan_length;
  c.executability = c.plan_length == 0 ? 0.0 : static_cast<double>(executed) / c.plan_length;
  c.goal_fraction = g.fraction;
  c.success = c.format_ok && g.success;
  c.objects_named = in.objects_named ? in.objects_named[w] : 0;
  c.relevant_named = in.relevant_named ? in.relevant_named[w] : 0;
  c.goal_objects = static_cast<int32_t>(goal_objects(task).size());
  ref.reward = compute_reward(c, reward);
  return ref;
}

// ---- CUDA memory helpers --------------------------------------------------------

#ifdef EMX_HAVE_CUDA
namespace {
void need_device() {
  if (cuda_device_count() == 0) throw std::runtime_error("emx: no usable CUDA device");
}
}  // namespace

std::shared_ptr<void> cuda_allocate(size_t bytes) {
  need_device();
  return std::shared_ptr<void>(detail::cuda_malloc_bytes(bytes), [](void* p) { detail::cuda_free_bytes(p); });
}
void cuda_copy_to_device(void* dst, const void* src, size_t bytes) {
  need_device();
  detail::cuda_copy(dst, src, bytes, true);
}
void cuda_copy_to_host(void* dst, const void* src, size_t bytes) {
  need_device();
  detail::cuda_copy(dst, src, bytes, false);
}
void cuda_synchronize() {
  need_device();
  detail::cuda_sync();
}
void cuda_stream_wait(void* waiting, void* producer) {
  need_device();
  detail::cuda_stream_wait(waiting, producer);
}
int cuda_pointer_device(const void* ptr) { return cuda_device_count() > 0 ? detail::cuda_device_of(ptr) : -1; }
int cuda_current_device() { return cuda_device_count() > 0 ? detail::cuda_current_device() : -1; }
void cuda_set_device(int device) {
  need_device();
  detail::cuda_set_device(device);
}
CudaDeviceInfo cuda_device_info(int device) {
  need_device();
  detail::CudaInfo d = detail::cuda_info(device);
  CudaDeviceInfo info;
  info.device = device;
  info.name = d.name;
  info.multiprocessors = d.multiprocessors;
  info.memory_clock_khz = d.memory_clock_khz;
  info.memory_bus_bits = d.memory_bus_bits;
  info.peak_bandwidth = 2.0 * d.memory_clock_khz * 1e3 * (d.memory_bus_bits / 8.0);
  info.global_memory = d.global_memory;
  return info;
}
#else
namespace {
[[noreturn]] void no_cuda() { throw std::runtime_error("emx: built without CUDA (no nvcc at build time)"); }
}  // namespace
std::shared_ptr<void> cuda_allocate(size_t) { no_cuda(); }
void cuda_copy_to_device(void*, const void*, size_t) { no_cuda(); }
void cuda_copy_to_host(void*, const void*, size_t) { no_cuda(); }
void cuda_synchronize() { no_cuda(); }
void cuda_stream_wait(void*, void*) { no_cuda(); }
int cuda_pointer_device(const void*) { return -1; }
int cuda_current_device() { return -1; }
void cuda_set_device(int) { no_cuda(); }
CudaDeviceInfo cuda_device_info(int) { no_cuda(); }
#endif

}  // namespace emx
