// Batched state check (emx/state_check.hpp) against the per-world reference
// (relations_from_geometry + check_goal + compute_reward) on randomised
// worlds: identical atom truth, success, fraction and reward, whatever the
// thread count; its predicates against geometry.hpp's single-pair ones; and,
// where a CUDA device exists, the kernels against the CPU path.
#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "../src/state_check_cuda.hpp"
#include "../src/state_check_eval.hpp"
#include "emx/state_check.hpp"
#include "fixtures.hpp"

using namespace emx;
using P = Predicate;

namespace {

KnowledgeBase kb() {
  KnowledgeBase k;
  k.abilities = {
      {"apple.n.01", kCookable | kSliceable},
      {"bowl.n.01", kContainer},
      {"carton.n.02", kOpenable | kContainer},
      {"electric_refrigerator.n.01", kOpenable | kContainer | kFixed},
      {"breakfast_table.n.01", kFixed},
      {"countertop.n.01", kFixed},
      {"floor.n.01", kFixed | kFloor},
  };
  return k;
}

// Every construct, every geometric predicate, sliced wholes (apples have
// parts) as first and second argument of nextto, floors, joints.
const char* kTask = R"((define (problem state_check-0)
  (:domain omnigibson)
  (:objects
    apple.n.01_1 apple.n.01_2 apple.n.01_3 - apple.n.01
    bowl.n.01_1 bowl.n.01_2 - bowl.n.01
    carton.n.02_1 - carton.n.02
    electric_refrigerator.n.01_1 - electric_refrigerator.n.01
    breakfast_table.n.01_1 - breakfast_table.n.01
    countertop.n.01_1 - countertop.n.01
    floor.n.01_1 floor.n.01_2 - floor.n.01
  )
  (:init
    (ontop apple.n.01_1 breakfast_table.n.01_1)
    (onfloor breakfast_table.n.01_1 floor.n.01_1)
    (inroom floor.n.01_1 kitchen)
  )
  (:goal
    (and
      (forall (?a - apple.n.01) (or (inside ?a ?bowl.n.01_1) (ontop ?a ?breakfast_table.n.01_1)))
      (exists (?a - apple.n.01) (nextto ?a ?apple.n.01_2))
      (forn (2) (?a - apple.n.01) (and (ontop ?a ?countertop.n.01_1) (cooked ?a)))
      (forpairs (?a - apple.n.01) (?b - bowl.n.01) (inside ?a ?b))
      (fornpairs (1) (?a - bowl.n.01) (?b - bowl.n.01) (ontop ?a ?b))
      (imply (open ?carton.n.02_1) (under ?apple.n.01_1 ?breakfast_table.n.01_1))
      (not (open ?electric_refrigerator.n.01_1))
      (onfloor ?carton.n.02_1 ?floor.n.01_1)
      (forall (?a - apple.n.01) (exists (?b - bowl.n.01) (nextto ?a ?b)))
      (nextto ?apple.n.01_1 ?apple.n.01_3)
      (nextto ?apple.n.01_3 ?apple.n.01_1)
      (inside ?bowl.n.01_2 ?electric_refrigerator.n.01_1)
      (ontop ?apple.n.01_2 ?floor.n.01_2)
      (or (sliced ?apple.n.01_3) (cooked ?apple.n.01_3))
    )
  )
))";

TaskPtr task() {
  static TaskPtr t = compile_task(parse_problem(kTask, "state_check.bddl"), kb());
  return t;
}

struct Rng {
  std::mt19937 g;
  explicit Rng(uint32_t seed) : g(seed) {}
  float uniform(float lo, float hi) { return std::uniform_real_distribution<float>(lo, hi)(g); }
  bool chance(double p) { return std::uniform_real_distribution<double>(0, 1)(g) < p; }
  int below(int n) { return std::uniform_int_distribution<int>(0, n - 1)(g); }
  float pick(std::initializer_list<float> v) { return *(v.begin() + below(static_cast<int>(v.size()))); }
};

// A batch of worlds with the WorldStates the reference completes.
struct Batch {
  int64_t B = 0;
  int32_t N = 0;
  std::vector<float> boxes, interiors, joint;
  std::vector<uint8_t> has_interior, present, exists, symbolic, format_ok;
  std::vector<int32_t> plan_length, executed, objects_named, relevant_named;
  std::vector<WorldState> states;

  StateCheckInputs inputs(bool per_world_interior = true) const {
    StateCheckInputs in;
    in.worlds = B;
    in.boxes = boxes.data();
    in.interiors = interiors.data();
    in.has_interior = has_interior.data();
    in.has_interior_per_world = per_world_interior;
    in.joint_fraction = joint.data();
    in.present = present.data();
    in.exists = exists.data();
    in.symbolic = symbolic.empty() ? nullptr : symbolic.data();
    in.format_ok = format_ok.data();
    in.plan_length = plan_length.data();
    in.executed = executed.data();
    in.objects_named = objects_named.data();
    in.relevant_named = relevant_named.data();
    return in;
  }
};

// Boxes placed on, in and beside each other with offsets at and around every
// threshold, plus held objects, missing objects, sliced wholes, NaN boxes.
Batch random_batch(const Task& t, const StateCheckProgram& prog, int64_t B, uint32_t seed) {
  Rng r(seed);
  Batch b;
  b.B = B;
  b.N = t.num_objects();
  const int32_t N = b.N;
  b.boxes.assign(B * N * 6, 0.f);
  b.interiors.assign(B * N * 6, 0.f);
  b.joint.assign(B * N, -1.f);
  b.has_interior.assign(B * N, 0);
  b.present.assign(B * N, 1);
  b.exists.assign(B * N, 1);
  b.symbolic.assign(B * prog.symbolic.size(), 0);
  const float nan = std::numeric_limits<float>::quiet_NaN();
  for (int64_t w = 0; w < B; ++w) {
    WorldState s = t.initial;
    float* box = &b.boxes[w * N * 6];
    float* in = &b.interiors[w * N * 6];
    auto set_box = [&](int32_t i, float x0, float y0, float z0, float sx, float sy, float sz) {
      float* p = box + i * 6;
      p[0] = x0, p[1] = y0, p[2] = z0, p[3] = x0 + sx, p[4] = y0 + sy, p[5] = z0 + sz;
    };
    std::vector<int32_t> placed;
    for (int32_t i = 0; i < N; ++i) {
      const Object& o = t.objects[i];
      if (o.abilities & kFloor) {
        set_box(i, 3.f * (i % 2), 0, -0.05f, 3, 3, 0.05f);
      } else if (placed.empty() || (o.abilities & kFixed) || r.chance(0.15)) {
        set_box(i, r.pick({0.f, 0.5f, 1.f, 1.5f, 2.9f, 3.f, 4.f}), r.pick({0.f, 0.5f, 1.f, 2.f}),
                r.pick({0.f, 0.01f, 0.02f, 0.03f, 0.5f}), r.pick({0.5f, 1.f}), r.pick({0.5f, 1.f}),
                r.pick({0.4f, 0.8f, 1.f}));
      } else {
        const int32_t j = placed[r.below(static_cast<int>(placed.size()))];
        const float* q = box + j * 6;
        const float sx = r.pick({0.f, 0.1f, 0.2f, 0.3f}), sy = r.pick({0.1f, 0.2f}), sz = r.pick({0.f, 0.1f, 0.2f});
        switch (r.below(4)) {
          case 0:  // on top, at and around the contact gap and half the footprint
            set_box(i, q[0] + r.pick({-0.15f, -0.1f, 0.f, 0.05f, 0.2f}), q[1] + r.pick({-0.1f, 0.f, 0.1f}),
                    q[5] + r.pick({-0.021f, -0.02f, 0.f, 0.005f, 0.02f, 0.0201f, 0.05f}), sx, sy, sz);
            break;
          case 1: {  // inside the interior, around the tolerance
            const float* ii = in + j * 6;
            const float d = r.pick({-0.02f, -0.011f, -0.01f, 0.f, 0.01f});
            set_box(i, ii[0] + d, ii[1] + 0.01f, ii[2] + d, std::max(0.f, sx - 0.1f), 0.05f, 0.05f);
            break;
          }
          case 2:  // beside, around the next-to gap and the contact gap
            set_box(i, q[3] + r.pick({-0.03f, -0.02f, -0.01f, 0.f, 0.1f, 0.29f, 0.3f, 0.31f}),
                    q[1] + r.pick({-0.5f, -0.3f, 0.f, 0.2f, 0.4f}), q[2] + r.pick({-0.2f, 0.f, 0.1f}), sx, sy, sz);
            break;
          default:  // under
            set_box(i, q[0] + 0.05f, q[1] + 0.05f, q[2] - sz - r.pick({0.f, 0.01f, 0.02f, 0.03f}), sx, sy, sz);
        }
      }
      if (o.abilities & kContainer) {
        const float* p = box + i * 6;
        const float m = r.pick({0.f, 0.02f, 0.05f});
        for (int k = 0; k < 3; ++k) {
          in[i * 6 + k] = p[k] + m;
          in[i * 6 + 3 + k] = p[3 + k] - m;
        }
        b.has_interior[w * N + i] = r.chance(0.9);
        if (r.chance(0.03)) in[i * 6 + r.below(6)] = nan;
      }
      if (o.abilities & kOpenable) b.joint[w * N + i] = r.pick({-1.f, 0.f, 0.05f, 0.0999f, 0.1f, 0.5f, nan});
      if (r.chance(0.03)) box[i * 6 + r.below(6)] = r.chance(0.5) ? nan : std::numeric_limits<float>::infinity();
      b.present[w * N + i] = !r.chance(0.08);
      placed.push_back(i);
    }
    // Symbolic state: cooked, open (for objects whose joint is missing),
    // sliced wholes whose parts appear, objects missing from the state.
    for (int32_t i = 0; i < N; ++i) {
      const Object& o = t.objects[i];
      if (o.abilities & kCookable) s.set(t.layout, P::kCooked, i, r.chance(0.5));
      if (o.abilities & kOpenable) s.set(t.layout, P::kOpen, i, r.chance(0.5));
      if ((o.abilities & kSliceable) && r.chance(0.5)) {
        s.set(t.layout, P::kSliced, i, true);
        for (int32_t q = 0; q < N; ++q)
          if (t.objects[q].whole == i) s.set_present(q, r.chance(0.8));
        if (r.chance(0.5)) s.set_present(i, false);
      }
      if (o.whole < 0 && r.chance(0.03)) s.set_present(i, false);
    }
    for (int32_t i = 0; i < N; ++i) b.exists[w * N + i] = s.is_present(i);
    if (!prog.symbolic.empty()) prog.symbolic_row(t, s, &b.symbolic[w * prog.symbolic.size()]);
    b.states.push_back(std::move(s));
    b.format_ok.push_back(!r.chance(0.1));
    const int32_t len = r.below(12);
    b.plan_length.push_back(len);
    b.executed.push_back(len ? r.below(len + 1) : 0);
    b.objects_named.push_back(r.below(6));
    b.relevant_named.push_back(r.below(4));
  }
  return b;
}

struct Out {
  std::vector<uint8_t> atoms, success;
  std::vector<double> fraction, reward;
  Out(int64_t B, int32_t A) : atoms(B * A, 7), success(B, 7), fraction(B, -7), reward(B, -7) {}
  StateCheckOutputs view() { return {atoms.data(), success.data(), fraction.data(), reward.data()}; }
};

bool same_bits(double a, double b) { return std::memcmp(&a, &b, sizeof a) == 0; }

}  // namespace

TEST(program_compiles_only_what_the_goal_reads) {
  const Task& t = *task();
  StateCheck check(task(), reward_preset("default"));
  const StateCheckProgram& p = check.program();
  CHECK_EQ(p.num_atoms, static_cast<int32_t>(t.goal.atoms.size()));
  CHECK_EQ(p.atom_source.size(), t.goal.atoms.size());
  int geometry = 0, joint = 0, symbolic = 0;
  for (auto s : p.atom_source) {
    geometry += s == StateCheckProgram::Source::kGeometry;
    joint += s == StateCheckProgram::Source::kJoint;
    symbolic += s == StateCheckProgram::Source::kSymbolic;
  }
  CHECK(geometry > 20);
  CHECK_EQ(joint, 2);     // open carton, open fridge
  CHECK(symbolic >= 4);   // cooked apples, sliced apple 3
  // Symbolic columns: cooked x3 + sliced x3 (sliced wholes) + open x2 fallbacks.
  CHECK_EQ(p.symbolic.size(), 8u);
  CHECK(p.pairs.size() < static_cast<size_t>(t.num_objects() * t.num_objects()));
  CHECK(p.bytes_per_world > 0);
}

TEST(predicates_match_geometry_cpp) {
  Rng r(7);
  int64_t differ = 0, held[5] = {0, 0, 0, 0, 0};
  for (int i = 0; i < 200000; ++i) {
    Box a, b;
    for (int k = 0; k < 3; ++k) {
      b.min[k] = r.pick({0.f, 0.1f, 0.3f});
      b.max[k] = b.min[k] + r.pick({0.f, 0.1f, 0.5f, 1.f});
      a.min[k] = b.min[k] + r.pick({-0.41f, -0.31f, -0.3f, -0.02f, -0.01f, 0.f, 0.01f, 0.02f, 0.021f, 0.3f}) +
                 (k == 2 ? r.pick({0.f, b.max[2] - b.min[2]}) : 0.f);
      a.max[k] = a.min[k] + r.pick({0.f, 0.05f, 0.1f, 0.5f, 1.f});
    }
    const float pa[6] = {a.min[0], a.min[1], a.min[2], a.max[0], a.max[1], a.max[2]};
    const float pb[6] = {b.min[0], b.min[1], b.min[2], b.max[0], b.max[1], b.max[2]};
    const sc::B6 A = sc::load_box(pa), Bx = sc::load_box(pb);
    const bool got[5] = {sc::ontop_of(A, Bx), sc::inside_of(A, Bx), sc::nextto_of(A, Bx), sc::under_of(A, Bx),
                         sc::onfloor_of(A, Bx)};
    const bool want[5] = {ontop(a, b), inside(a, b), nextto(a, b), under(a, b), onfloor(a, b)};
    for (int k = 0; k < 5; ++k) {
      differ += got[k] != want[k];
      held[k] += want[k];
    }
  }
  CHECK_EQ(differ, 0);
  for (int k = 0; k < 5; ++k) CHECK(held[k] > 100);  // every predicate holds often enough to be tested
}

TEST(cpu_equals_the_per_world_reference) {
  const Task& t = *task();
  for (const char* preset : {"default", "embomatrix", "eai"}) {
    const RewardConfig reward = reward_preset(preset);
    StateCheck check(task(), reward);
    const int32_t A = check.program().num_atoms;
    const int64_t B = 4000;
    Batch b = random_batch(t, check.program(), B, 11);
    Out out(B, A);
    check.run_cpu(b.inputs(), out.view(), 0);
    int64_t atom_diff = 0, success_diff = 0, fraction_diff = 0, reward_diff = 0, successes = 0, synced = 0;
    for (int64_t w = 0; w < B; ++w) {
      StateCheckReference ref = state_check_reference(t, reward, b.inputs(), w, b.states[w]);
      for (int32_t k = 0; k < A; ++k) atom_diff += out.atoms[w * A + k] != ref.atom_truth[k];
      success_diff += out.success[w] != static_cast<uint8_t>(ref.success);
      fraction_diff += !same_bits(out.fraction[w], ref.fraction);
      reward_diff += !same_bits(out.reward[w], ref.reward);
      successes += ref.success;
      for (int32_t i = 0; i < 3; ++i) synced += b.states[w].get(t.layout, P::kSliced, i);
    }
    CHECK_EQ(atom_diff, 0);
    CHECK_EQ(success_diff, 0);
    CHECK_EQ(fraction_diff, 0);
    CHECK_EQ(reward_diff, 0);
    CHECK(synced > 1000);
    // The worlds cover both outcomes of the atoms.
    int64_t true_atoms = 0;
    for (uint8_t v : out.atoms) true_atoms += v;
    CHECK(true_atoms > B);
    CHECK(true_atoms < B * A);
    (void)successes;
  }
}

TEST(thread_count_and_optional_outputs_do_not_change_results) {
  const Task& t = *task();
  StateCheck check(task(), reward_preset("default"));
  const int32_t A = check.program().num_atoms;
  const int64_t B = 3000;
  Batch b = random_batch(t, check.program(), B, 3);
  Out one(B, A), all(B, A), no_atoms(B, A);
  check.run_cpu(b.inputs(), one.view(), 1);
  check.run_cpu(b.inputs(), all.view(), 0);
  StateCheckOutputs o = no_atoms.view();
  o.atom_truth = nullptr;
  check.run_cpu(b.inputs(), o, 0);
  CHECK(one.atoms == all.atoms);
  CHECK(one.success == all.success);
  CHECK(one.success == no_atoms.success);
  CHECK(std::memcmp(one.fraction.data(), all.fraction.data(), B * sizeof(double)) == 0);
  CHECK(std::memcmp(one.reward.data(), no_atoms.reward.data(), B * sizeof(double)) == 0);
}

TEST(shared_has_interior_and_missing_optional_inputs) {
  const Task& t = *task();
  const RewardConfig reward = reward_preset("embomatrix");
  StateCheck check(task(), reward);
  const int32_t A = check.program().num_atoms, N = t.num_objects();
  const int64_t B = 500;
  Batch b = random_batch(t, check.program(), B, 5);
  // One has_interior row for every world; no exists (all exist), no rollout fields.
  for (int64_t w = 0; w < B; ++w) {
    std::memcpy(&b.has_interior[w * N], &b.has_interior[0], N);
    for (int32_t i = 0; i < N; ++i) b.states[w].set_present(i, true);
  }
  StateCheckInputs in = b.inputs(false);
  in.exists = nullptr;
  // The symbolic rows still come from the states (sliced wholes now keep every part).
  for (int64_t w = 0; w < B; ++w) check.program().symbolic_row(t, b.states[w], &b.symbolic[w * check.program().symbolic.size()]);
  in.format_ok = nullptr;
  in.plan_length = in.executed = in.objects_named = in.relevant_named = nullptr;
  Out out(B, A);
  check.run_cpu(in, out.view(), 0);
  int64_t diff = 0;
  for (int64_t w = 0; w < B; ++w) {
    StateCheckReference ref = state_check_reference(t, reward, in, w, b.states[w]);
    for (int32_t k = 0; k < A; ++k) diff += out.atoms[w * A + k] != ref.atom_truth[k];
    diff += out.success[w] != static_cast<uint8_t>(ref.success) || !same_bits(out.fraction[w], ref.fraction) ||
            !same_bits(out.reward[w], ref.reward);
    // embomatrix with format ok, an empty plan, nothing named: 0.5 + goal fraction
    diff += !same_bits(out.reward[w], 0.5 + out.fraction[w]);
  }
  CHECK_EQ(diff, 0);
}

TEST(goal_programs_of_the_test_data) {
  // Every fixture task: random geometry, the batch equals the reference.
  for (const char* file : {"quantifiers.bddl", "forpairs.bddl", "forn.bddl", "fraction.bddl", "kitchen.bddl"}) {
    TaskPtr t = fixtures::load(file);
    const RewardConfig reward = reward_preset("default");
    StateCheck check(t, reward);
    const int32_t A = check.program().num_atoms;
    const int64_t B = 800;
    Batch b = random_batch(*t, check.program(), B, 17);
    Out out(B, A);
    check.run_cpu(b.inputs(), out.view(), 0);
    int64_t diff = 0;
    for (int64_t w = 0; w < B; ++w) {
      StateCheckReference ref = state_check_reference(*t, reward, b.inputs(), w, b.states[w]);
      for (int32_t k = 0; k < A; ++k) diff += out.atoms[w * A + k] != ref.atom_truth[k];
      diff += out.success[w] != static_cast<uint8_t>(ref.success) || !same_bits(out.fraction[w], ref.fraction) ||
              !same_bits(out.reward[w], ref.reward);
    }
    if (diff) std::fprintf(stderr, "%s: %lld differences\n", file, static_cast<long long>(diff));
    CHECK_EQ(diff, 0);
  }
}

// The CUDA kernels' decomposition, run on the host: atoms one (world, atom)
// at a time with no per-world scene cache (as atoms_kernel does), programs
// with scratch strided [node][world] (program_kernel) and [node][thread] in
// blocks of 32 (program_kernel_shared). The same functions as the kernels, so
// this covers the GPU-only paths where no GPU is available.
TEST(kernel_decomposition_emulated_on_the_host) {
  for (const char* preset : {"default", "embomatrix"}) {
    StateCheck check(task(), reward_preset(preset));
    const Task& t = *task();
    const int32_t A = check.program().num_atoms;
    const int64_t B = 1500;
    Batch b = random_batch(t, check.program(), B, 29);
    Out cpu(B, A);
    check.run_cpu(b.inputs(), cpu.view(), 0);
    const sc::ProgramView& p = detail::program_view(check.program());
    StateCheckInputs in = b.inputs();
    sc::WorldView v;
    v.worlds = B;
    v.boxes = in.boxes, v.interiors = in.interiors, v.has_interior = in.has_interior;
    v.has_interior_stride = t.num_objects();
    v.joint_fraction = in.joint_fraction, v.present = in.present, v.exists = in.exists, v.symbolic = in.symbolic;
    v.format_ok = in.format_ok, v.plan_length = in.plan_length, v.executed = in.executed;
    v.objects_named = in.objects_named, v.relevant_named = in.relevant_named;
    // atoms_kernel: thread i -> (world i / A, atom i % A)
    std::vector<uint8_t> atoms(B * A);
    for (int64_t i = 0; i < B * A; ++i) {
      const sc::World world{p, v, i / A};
      atoms[i] = world.atom(static_cast<int32_t>(i % A));
    }
    CHECK(atoms == cpu.atoms);
    // program_kernel (global scratch, stride B) and program_kernel_shared (stride 32 per block)
    for (int64_t stride : {B, int64_t{32}}) {
      std::vector<sc::Score> score(static_cast<size_t>(stride) * p.num_nodes);
      std::vector<uint8_t> used(static_cast<size_t>(stride) * std::max(1, p.max_grid));
      int64_t diff = 0;
      for (int64_t w = 0; w < B; ++w) {
        const int64_t slot = stride == B ? w : w % stride;
        const sc::Scratch x{score.data() + slot, used.data() + slot, stride};
        const sc::Summary s = sc::evaluate_program(p, atoms.data() + w * A, x);
        diff += s.success != (cpu.success[w] != 0) || !same_bits(s.fraction, cpu.fraction[w]) ||
                !same_bits(sc::reward_of(p, v, w, s), cpu.reward[w]);
      }
      CHECK_EQ(diff, 0);
    }
  }
}

TEST(invalid_inputs) {
  StateCheck check(task(), reward_preset("default"));
  StateCheckInputs in;
  in.worlds = 2;  // no boxes, but the goal has geometric atoms
  Out out(2, check.program().num_atoms);
  CHECK_THROWS_AS(check.run_cpu(in, out.view()), std::invalid_argument, (void)e);
  in.worlds = 0;
  check.run_cpu(in, out.view());  // an empty batch is fine
}

TEST(cuda_matches_cpu_or_reports_no_device) {
  StateCheck check(task(), reward_preset("default"));
  const Task& t = *task();
  if (cuda_device_count() == 0) {
    // No usable device (or no CUDA build): the CUDA path says so, clearly.
    Batch b = random_batch(t, check.program(), 4, 1);
    Out out(4, check.program().num_atoms);
    CHECK_THROWS_AS(check.run_cuda(b.inputs(), out.view()), std::runtime_error,
                    CHECK(std::string(e.what()).find("CUDA") != std::string::npos));
    CHECK_EQ(cuda_pointer_device(b.boxes.data()), -1);
    std::fprintf(stderr, "(no usable CUDA device: GPU parity not run here)\n");
    return;
  }
  const int32_t A = check.program().num_atoms, N = t.num_objects();
  for (int64_t B : {1, 7, 4096, 70001}) {
    Batch b = random_batch(t, check.program(), B, 23 + static_cast<uint32_t>(B));
    Out cpu(B, A), gpu(B, A);
    check.run_cpu(b.inputs(), cpu.view(), 0);
    // Device copies of every input.
    auto up = [](const void* p, size_t bytes) {
      std::shared_ptr<void> d = cuda_allocate(bytes);
      cuda_copy_to_device(d.get(), p, bytes);
      return d;
    };
    const size_t S = check.program().symbolic.size();
    auto boxes = up(b.boxes.data(), B * N * 24), interiors = up(b.interiors.data(), B * N * 24);
    auto has_interior = up(b.has_interior.data(), B * N), joint = up(b.joint.data(), B * N * 4);
    auto present = up(b.present.data(), B * N), exists = up(b.exists.data(), B * N);
    auto symbolic = up(b.symbolic.data(), B * S), format_ok = up(b.format_ok.data(), B);
    auto plan_length = up(b.plan_length.data(), B * 4), executed = up(b.executed.data(), B * 4);
    auto objects = up(b.objects_named.data(), B * 4), relevant = up(b.relevant_named.data(), B * 4);
    StateCheckInputs in = b.inputs();
    in.boxes = static_cast<const float*>(boxes.get());
    in.interiors = static_cast<const float*>(interiors.get());
    in.has_interior = static_cast<const uint8_t*>(has_interior.get());
    in.joint_fraction = static_cast<const float*>(joint.get());
    in.present = static_cast<const uint8_t*>(present.get());
    in.exists = static_cast<const uint8_t*>(exists.get());
    in.symbolic = static_cast<const uint8_t*>(symbolic.get());
    in.format_ok = static_cast<const uint8_t*>(format_ok.get());
    in.plan_length = static_cast<const int32_t*>(plan_length.get());
    in.executed = static_cast<const int32_t*>(executed.get());
    in.objects_named = static_cast<const int32_t*>(objects.get());
    in.relevant_named = static_cast<const int32_t*>(relevant.get());
    auto d_atoms = cuda_allocate(B * A), d_success = cuda_allocate(B);
    auto d_fraction = cuda_allocate(B * 8), d_reward = cuda_allocate(B * 8);
    StateCheckOutputs o{static_cast<uint8_t*>(d_atoms.get()), static_cast<uint8_t*>(d_success.get()),
                        static_cast<double*>(d_fraction.get()), static_cast<double*>(d_reward.get())};
    check.run_cuda(in, o);
    cuda_synchronize();
    cuda_copy_to_host(gpu.atoms.data(), o.atom_truth, B * A);
    cuda_copy_to_host(gpu.success.data(), o.success, B);
    cuda_copy_to_host(gpu.fraction.data(), o.fraction, B * 8);
    cuda_copy_to_host(gpu.reward.data(), o.reward, B * 8);
    CHECK(gpu.atoms == cpu.atoms);
    CHECK(gpu.success == cpu.success);
    CHECK(std::memcmp(gpu.fraction.data(), cpu.fraction.data(), B * 8) == 0);
    CHECK(std::memcmp(gpu.reward.data(), cpu.reward.data(), B * 8) == 0);
  }
}

int main(int argc, char** argv) { return check::run_all(argc, argv); }
