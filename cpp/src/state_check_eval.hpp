// The per-world arithmetic of the batched state check, written once for both
// the threaded CPU path (cpp/src/state_check.cpp, compiled by the C++
// compiler) and the CUDA kernels (cuda/state_check.cu, compiled by nvcc).
// Sharing the source is what makes the two bit-exact: the parity tests that
// run here on the CPU check the very code the GPU runs.
//
// Plain data only (no std:: containers, no exceptions): a ProgramView and a
// WorldView are structs of raw pointers, host or device.
//
// Floating point. Every comparison is the one cpp/src/geometry.cpp makes, on
// the same float32 values, in the same order. nvcc contracts a*b + c into one
// FMA by default (--fmad=true), which rounds once instead of twice and could
// flip a threshold comparison (nextto's dx^2 + dy^2 <= gap^2) or move a
// reward by an ulp; the helpers below use the _rn intrinsics on the device,
// which are never contracted, so the kernels round exactly as the host does.
// (The host side matches geometry.cpp as long as both are compiled alike: on
// x86-64 without -mfma nothing is contracted.) Goal fractions are ratios of
// integer counts, compared and divided in float64 exactly as goal.cpp does.
#pragma once

#include <stdint.h>

#if defined(__CUDACC__)
#define EMX_SC_HD __host__ __device__ __forceinline__
#else
#include <cmath>
#if defined(__GNUC__)
#define EMX_SC_HD inline __attribute__((always_inline))
#else
#define EMX_SC_HD inline
#endif
#endif

namespace emx {
namespace sc {

// The thresholds of cpp/include/emx/geometry.hpp (state_check.cpp asserts equality).
constexpr float kContactGap = 0.02f;
constexpr float kSupportOverlap = 0.5f;
constexpr float kInsideTolerance = 0.01f;
constexpr float kNextToGap = 0.30f;
constexpr float kOpenFraction = 0.10f;

// ---- arithmetic that is never contracted -----------------------------------

EMX_SC_HD float fmul(float a, float b) {
#ifdef __CUDA_ARCH__
  return __fmul_rn(a, b);
#else
  return a * b;
#endif
}
EMX_SC_HD float fadd(float a, float b) {
#ifdef __CUDA_ARCH__
  return __fadd_rn(a, b);
#else
  return a + b;
#endif
}
EMX_SC_HD float fsub(float a, float b) {
#ifdef __CUDA_ARCH__
  return __fsub_rn(a, b);
#else
  return a - b;
#endif
}
EMX_SC_HD double dmul(double a, double b) {
#ifdef __CUDA_ARCH__
  return __dmul_rn(a, b);
#else
  return a * b;
#endif
}
EMX_SC_HD double dadd(double a, double b) {
#ifdef __CUDA_ARCH__
  return __dadd_rn(a, b);
#else
  return a + b;
#endif
}
EMX_SC_HD double ddiv(double a, double b) {
#ifdef __CUDA_ARCH__
  return __ddiv_rn(a, b);
#else
  return a / b;
#endif
}
EMX_SC_HD float fabs_(float x) {
#ifdef __CUDA_ARCH__
  return fabsf(x);
#else
  return std::fabs(x);
#endif
}

// ---- the program ---------------------------------------------------------------

// What an atom of the goal program is computed from.
enum AtomKind : uint8_t {
  kAtomFalse = 0,   // a predicate the task does not store: always false
  kAtomOnTop = 1,   // geometric, from the boxes (ontop of a floor is onfloor, as BEHAVIOR writes it)
  kAtomInside = 2,
  kAtomNextTo = 3,
  kAtomUnder = 4,
  kAtomOnFloor = 5,
  kAtomOpen = 6,      // from the joint fraction; the symbolic column when there is no joint
  kAtomSymbolic = 7,  // read from the caller's symbolic column
};

struct Atom {
  uint8_t kind = kAtomFalse;
  int32_t a = -1, b = -1;
  int32_t slot = -1;  // symbolic column (kAtomSymbolic, and kAtomOpen's fallback)
};

// GoalOp of goal.hpp, as numbers the device code can switch on.
enum NodeOp : uint8_t { kLiteral = 0, kConst, kAnd, kOr, kNot, kForN, kForPairs, kForNPairs };

struct Node {
  uint8_t op = kConst;
  uint8_t negated = 0;
  int32_t atom = -1;
  int32_t first_child = 0, num_children = 0;
  int32_t param = 0, param2 = 0;
};

// A sliceable object with hidden parts: its placement is what its parts share
// once it is sliced (geometry.hpp, "sliced whole").
struct Whole {
  int32_t first_part = 0, num_parts = 0;  // into ProgramView::parts, increasing object index
  int32_t sliced_slot = -1;               // symbolic column holding (sliced whole)
};

struct Weights {
  double format_fail = -1, format = 0, executability = 0, goal = 0, success = 0, length = 0, objects = 0,
         relevance = 0;
};

struct ProgramView {
  int32_t num_objects = 0, num_atoms = 0, num_symbolic = 0, num_nodes = 0, num_conditions = 0;
  int32_t max_grid = 0;      // largest rows + cols of a forpairs/fornpairs node (used-flag scratch)
  int32_t goal_objects = 0;
  const Atom* atoms = nullptr;
  const Node* nodes = nullptr;
  const int32_t* children = nullptr;
  const int32_t* conditions = nullptr;
  const uint8_t* is_floor = nullptr;  // [N]
  const int32_t* whole_of = nullptr;  // [N]: index into wholes, -1 for objects without parts
  const Whole* wholes = nullptr;
  const int32_t* parts = nullptr;
  Weights weights;
};

// Inputs for a batch of worlds of one task. Any pointer may be null (see state_check.hpp).
struct WorldView {
  int64_t worlds = 0;
  const float* boxes = nullptr;          // [B, N, 6]: min xyz, max xyz
  const float* interiors = nullptr;      // [B, N, 6]
  const uint8_t* has_interior = nullptr; // [N] (stride 0) or [B, N] (stride N)
  int64_t has_interior_stride = 0;
  const float* joint_fraction = nullptr; // [B, N]
  const uint8_t* present = nullptr;      // [B, N]
  const uint8_t* exists = nullptr;       // [B, N]
  const uint8_t* symbolic = nullptr;     // [B, S]
  const uint8_t* format_ok = nullptr;    // [B] rollout fields for the reward
  const int32_t* plan_length = nullptr;
  const int32_t* executed = nullptr;
  const int32_t* objects_named = nullptr;
  const int32_t* relevant_named = nullptr;
};

// ---- geometry: the predicates of geometry.cpp, operation for operation ---------------

struct B6 {
  float x0, y0, z0, x1, y1, z1;
};

EMX_SC_HD B6 load_box(const float* p) { return {p[0], p[1], p[2], p[3], p[4], p[5]}; }
EMX_SC_HD float min2(float a, float b) { return b < a ? b : a; }
EMX_SC_HD float max2(float a, float b) { return a < b ? b : a; }
EMX_SC_HD float overlap(float a0, float a1, float b0, float b1) { return fsub(min2(a1, b1), max2(a0, b0)); }

EMX_SC_HD bool centre_in_xy(const B6& a, const B6& b) {
  const float cx = fmul(0.5f, fadd(a.x0, a.x1)), cy = fmul(0.5f, fadd(a.y0, a.y1));
  return (cx >= b.x0) & (cx <= b.x1) & (cy >= b.y0) & (cy <= b.y1);
}

EMX_SC_HD bool ontop_of(const B6& a, const B6& b) {
  const float ox = overlap(a.x0, a.x1, b.x0, b.x1);
  const float oy = overlap(a.y0, a.y1, b.y0, b.y1);
  const float fx = fsub(a.x1, a.x0), fy = fsub(a.y1, a.y0);
  const bool contact = fabs_(fsub(a.z0, b.z1)) <= kContactGap;
  const bool supported = (ox > 0) & (oy > 0) & (fmul(ox, oy) >= fmul(kSupportOverlap, fmul(fx, fy)));
  const bool has_area = (fx > 0) & (fy > 0);
  return contact & ((has_area & supported) | (!has_area & centre_in_xy(a, b)));
}

EMX_SC_HD bool inside_of(const B6& a, const B6& in) {
  return (a.x0 >= fsub(in.x0, kInsideTolerance)) & (a.x1 <= fadd(in.x1, kInsideTolerance)) &
         (a.y0 >= fsub(in.y0, kInsideTolerance)) & (a.y1 <= fadd(in.y1, kInsideTolerance)) &
         (a.z0 >= fsub(in.z0, kInsideTolerance)) & (a.z1 <= fadd(in.z1, kInsideTolerance));
}

EMX_SC_HD bool nextto_of(const B6& a, const B6& b) {
  const bool side_by_side = overlap(a.z0, a.z1, b.z0, b.z1) > 0;
  const float ox = overlap(a.x0, a.x1, b.x0, b.x1);
  const float oy = overlap(a.y0, a.y1, b.y0, b.y1);
  const bool apart = min2(ox, oy) <= kContactGap;
  const float g2 = fmul(kNextToGap, kNextToGap);
  const bool x_in = ox >= 0, y_in = oy >= 0;
  const float xx = fmul(ox, ox), yy = fmul(oy, oy);
  const bool near = (x_in | (xx <= g2)) & (y_in | (yy <= g2)) & (x_in | y_in | (fadd(xx, yy) <= g2));
  return side_by_side & apart & near;
}

EMX_SC_HD bool under_of(const B6& a, const B6& b) {
  return (a.z1 <= fadd(b.z0, kContactGap)) & (overlap(a.x0, a.x1, b.x0, b.x1) > 0) &
         (overlap(a.y0, a.y1, b.y0, b.y1) > 0);
}

EMX_SC_HD bool onfloor_of(const B6& a, const B6& floor) {
  return (a.z0 <= fadd(floor.z1, kContactGap)) & centre_in_xy(a, floor);
}

// x - x is 0 for a finite x and NaN for inf or NaN (exact, no rounding): one
// comparison for six coordinates, where six isfinite calls cost a fifth of
// the CPU path's time.
EMX_SC_HD bool finite_box(const float* p) {
  const float z = fadd(fadd(fadd(fsub(p[0], p[0]), fsub(p[1], p[1])), fadd(fsub(p[2], p[2]), fsub(p[3], p[3]))),
                       fadd(fsub(p[4], p[4]), fsub(p[5], p[5])));
  return z == 0.0f;
}

// ---- one world ------------------------------------------------------------------

struct World {
  const ProgramView& p;
  const WorldView& in;
  int64_t w;
  // The CPU fills, once per world for the objects the atoms read, bit 0: in
  // the scene, bit 1: has a usable interior; the
  // kernels (one thread per atom) compute both where needed (null).
  const uint8_t* scene = nullptr;

  EMX_SC_HD int64_t at(int32_t i) const { return w * p.num_objects + i; }
  EMX_SC_HD const float* box(int32_t i) const { return in.boxes + at(i) * 6; }
  EMX_SC_HD bool exists(int32_t i) const { return !in.exists || in.exists[at(i)]; }
  EMX_SC_HD bool present_geo(int32_t i) const { return !in.present || in.present[at(i)]; }
  EMX_SC_HD bool symbolic(int32_t slot) const {
    return slot >= 0 && in.symbolic && in.symbolic[w * p.num_symbolic + slot];
  }
  // Takes part in relations: in the scene, existing, with a finite box.
  EMX_SC_HD bool compute_in_scene(int32_t i) const { return present_geo(i) && exists(i) && finite_box(box(i)); }
  // Things can be inside it: an interior that is given and finite.
  EMX_SC_HD bool compute_interior(int32_t i) const {
    return in.interiors && in.has_interior && in.has_interior[w * in.has_interior_stride + i] &&
           finite_box(in.interiors + at(i) * 6);
  }
  EMX_SC_HD uint8_t compute_flags(int32_t i) const {
    return static_cast<uint8_t>(compute_in_scene(i) | (compute_interior(i) << 1));
  }
  EMX_SC_HD bool in_scene(int32_t i) const { return scene ? (scene[i] & 1) != 0 : compute_in_scene(i); }
  EMX_SC_HD bool interior_usable(int32_t i) const { return scene ? (scene[i] & 2) != 0 : compute_interior(i); }

  // The relation relations_from_geometry computes for the ordered pair before
  // sliced wholes are synchronised.
  EMX_SC_HD bool base(uint8_t kind, int32_t a, int32_t b) const {
    if (a == b || !in_scene(a) || p.is_floor[a] || !in_scene(b)) return false;
    const B6 A = load_box(box(a));
    if (p.is_floor[b]) return (kind == kAtomOnTop || kind == kAtomOnFloor) && onfloor_of(A, load_box(box(b)));
    switch (kind) {
      case kAtomOnTop: return ontop_of(A, load_box(box(b)));
      case kAtomNextTo: return nextto_of(A, load_box(box(b)));
      case kAtomUnder: return under_of(A, load_box(box(b)));
      case kAtomInside: return interior_usable(b) && inside_of(A, load_box(in.interiors + at(b) * 6));
      default: return false;  // onfloor needs a floor
    }
  }

  // When whole `wi` is synchronised in this world: the index of its first
  // existing part (the order relations_from_geometry visits wholes in); -1 when not.
  EMX_SC_HD int32_t sync_key(int32_t wi) const {
    const Whole& W = p.wholes[wi];
    if (!symbolic(W.sliced_slot)) return -1;
    int32_t first = -1;
    bool any_in_scene = false;
    for (int32_t k = 0; k < W.num_parts; ++k) {
      const int32_t q = p.parts[W.first_part + k];
      if (!exists(q)) continue;
      if (first < 0) first = q;
      any_in_scene |= present_geo(q);
    }
    return any_in_scene ? first : -1;
  }

  // (nextto whole q) as whole `wi`'s synchronisation writes it for a part q
  // of another whole: what all of wi's existing parts share with q.
  EMX_SC_HD bool synced_nextto_part(int32_t wi, int32_t whole, int32_t q) const {
    if (q == whole) return false;
    const Whole& W = p.wholes[wi];
    for (int32_t k = 0; k < W.num_parts; ++k) {
      const int32_t part = p.parts[W.first_part + k];
      if (exists(part) && !base(kAtomNextTo, part, q)) return false;
    }
    return true;
  }

  // (kind whole b) after the whole's synchronisation: what all its existing
  // parts share. A nextto cell toward another whole synchronised earlier reads
  // that whole's symmetric write.
  EMX_SC_HD bool synced(int32_t wi, int32_t whole, uint8_t kind, int32_t b, int32_t key) const {
    if (b == whole) return false;
    int32_t wb = -1, kb = -1;
    if (kind == kAtomNextTo && p.whole_of[b] >= 0) {
      wb = p.whole_of[b];
      kb = sync_key(wb);
    }
    const Whole& W = p.wholes[wi];
    for (int32_t k = 0; k < W.num_parts; ++k) {
      const int32_t q = p.parts[W.first_part + k];
      if (!exists(q)) continue;
      const bool r = (kb >= 0 && kb < key) ? synced_nextto_part(wb, b, q) : base(kind, q, b);
      if (!r) return false;
    }
    return true;
  }

  EMX_SC_HD bool geometric(uint8_t kind, int32_t a, int32_t b) const {
    const int32_t wa = p.whole_of[a];
    const int32_t ka = wa >= 0 ? sync_key(wa) : -1;
    // nextto toward a synchronised whole: its symmetric write, unless a's own
    // synchronisation came later and rewrote a's row.
    if (kind == kAtomNextTo && p.whole_of[b] >= 0) {
      const int32_t wb = p.whole_of[b];
      const int32_t kb = sync_key(wb);
      if (kb >= 0 && ka < kb) return synced(wb, b, kAtomNextTo, a, kb);
    }
    if (ka >= 0) return synced(wa, a, kind, b, ka);
    return base(kind, a, b);
  }

  EMX_SC_HD bool atom(int32_t k) const {
    const Atom& A = p.atoms[k];
    switch (A.kind) {
      case kAtomSymbolic: return symbolic(A.slot);
      case kAtomOpen: {
        const float jf = in.joint_fraction ? in.joint_fraction[at(A.a)] : -1.0f;
        if (jf >= 0 && exists(A.a)) return jf >= kOpenFraction;
        return symbolic(A.slot);
      }
      case kAtomFalse: return false;
      default: return geometric(A.kind, A.a, A.b);
    }
  }
};

// ---- the goal program: goal.cpp's score_nodes / summarize ------------------------

// One node's score. sat and total are the integer counts goal.cpp keeps in
// doubles; the truth bit rides in total's lowest bit.
struct Score {
  int32_t sat;
  int32_t tt;  // total * 2 + truth
};

EMX_SC_HD bool truth_of(const Score& s) { return s.tt & 1; }
EMX_SC_HD int32_t total_of(const Score& s) { return s.tt >> 1; }
EMX_SC_HD Score make_score(int32_t sat, int32_t total, bool truth) { return {sat, total * 2 + (truth ? 1 : 0)}; }

// goal.cpp compares ratio() = total > 0 ? sat / total : (truth ? 1 : 0) as
// doubles. As fractions n/d with d < 2^20 (compile() guarantees it), two
// different fractions differ by at least 1/d1d2 > 2^-40, far more than the
// rounding of a division, so comparing the rounded doubles and comparing the
// fractions exactly (n1 * d2 vs n2 * d1) always decide alike -- without a
// division, and the same on every device.
struct Frac {
  int64_t n, d;
};
EMX_SC_HD Frac frac_of(const Score& s) {
  const int32_t total = total_of(s);
  return total > 0 ? Frac{s.sat, total} : Frac{truth_of(s) ? 1 : 0, 1};
}
EMX_SC_HD bool frac_gt(const Frac& a, const Frac& b) { return a.n * b.d > b.n * a.d; }
EMX_SC_HD bool frac_eq(const Frac& a, const Frac& b) { return a.n * b.d == b.n * a.d; }

// Scratch of one world, strided so that on the GPU consecutive worlds sit in
// consecutive words (coalesced); the CPU uses stride 1.
struct Scratch {
  Score* score;   // [num_nodes]
  uint8_t* used;  // [max_grid]
  int64_t stride;
  EMX_SC_HD Score& s(int32_t i) const { return score[i * stride]; }
  EMX_SC_HD uint8_t& u(int32_t i) const { return used[i * stride]; }
};

struct Summary {
  bool success;
  double fraction;
};

// `atom_truth` is this world's row of atom truths.
EMX_SC_HD Summary evaluate_program(const ProgramView& p, const uint8_t* atom_truth, const Scratch& x) {
  for (int32_t i = 0; i < p.num_nodes; ++i) {
    const Node node = p.nodes[i];
    const int32_t* kid = p.children + node.first_child;
    const int32_t n = node.num_children;
    int32_t sat = 0, total = 0;
    bool t = false;
    switch (node.op) {
      case kLiteral:
        t = (atom_truth[node.atom] != 0) != (node.negated != 0);
        sat = t;
        total = 1;
        break;
      case kConst:
        t = !node.negated;
        break;
      case kAnd:
        t = true;
        for (int32_t k = 0; k < n; ++k) {
          const Score c = x.s(kid[k]);
          t &= truth_of(c);
          sat += c.sat;
          total += total_of(c);
        }
        break;
      case kOr: {
        // The best child by ratio, then by satisfied count; the first of equals.
        int32_t best = -1;
        Score bs{0, 0};
        for (int32_t k = 0; k < n; ++k) {
          const Score c = x.s(kid[k]);
          t |= truth_of(c);
          if (best < 0) {
            best = k;
            bs = c;
            continue;
          }
          const Frac fc = frac_of(c), fb = frac_of(bs);
          if (frac_gt(fc, fb) || (frac_eq(fc, fb) && c.sat > bs.sat)) {
            best = k;
            bs = c;
          }
        }
        if (best >= 0) {
          sat = bs.sat;
          total = total_of(bs);
        }
        break;
      }
      case kNot:
        t = !truth_of(x.s(kid[0]));
        sat = t;
        total = 1;
        break;
      case kForN: {
        // Exactly N true; the fraction takes the N best children by ratio. goal.cpp
        // sorts them (std::sort: stable for the <= 16 children its insertion
        // sort handles); here child k is among the first `take` of the stable
        // descending order when fewer than `take` children precede it.
        int32_t count = 0;
        for (int32_t k = 0; k < n; ++k) count += truth_of(x.s(kid[k]));
        t = count == node.param;
        const int32_t take = node.param < n ? node.param : n;
        for (int32_t k = 0; k < n && take > 0; ++k) {
          const Score ck = x.s(kid[k]);
          const Frac fk = frac_of(ck);
          int32_t rank = 0;
          for (int32_t j = 0; j < n && rank < take; ++j) {
            if (j == k) continue;
            const Frac fj = frac_of(x.s(kid[j]));
            rank += frac_gt(fj, fk) || (j < k && frac_eq(fj, fk));
          }
          if (rank < take) {
            sat += ck.sat;
            total += total_of(ck);
          }
        }
        total += node.param - take;
        break;
      }
      case kForPairs:
      case kForNPairs: {
        const int32_t cols = node.op == kForPairs ? node.param : node.param2;
        const int32_t rows = cols > 0 ? n / cols : 0;
        const int32_t want = node.op == kForPairs ? (rows < cols ? rows : cols) : node.param;
        int32_t rows_any = 0, cols_any = 0;
        for (int32_t r = 0; r < rows; ++r) {
          bool any = false;
          for (int32_t c = 0; c < cols; ++c) any |= truth_of(x.s(kid[r * cols + c]));
          rows_any += any;
        }
        for (int32_t c = 0; c < cols; ++c) {
          bool any = false;
          for (int32_t r = 0; r < rows; ++r) any |= truth_of(x.s(kid[r * cols + c]));
          cols_any += any;
        }
        t = rows_any >= want && cols_any >= want;
        // goal.cpp's best_pairs walks the cells by ratio (descending, ties by
        // index) and takes a cell when its row and column are free, until
        // `want`. The cells it skips stay blocked, so each cell it takes is the
        // best free cell at that moment: `want` scans of the free cells pick
        // the same ones, without sorting.
        for (int32_t k = 0; k < rows + cols; ++k) x.u(k) = 0;
        int32_t picked = 0;
        while (picked < want) {
          int32_t best = -1, best_r = 0, best_c = 0;
          Frac best_f{0, 1};
          for (int32_t r = 0; r < rows; ++r) {
            if (x.u(r)) continue;
            for (int32_t c = 0; c < cols; ++c) {
              if (x.u(rows + c)) continue;
              const int32_t k = r * cols + c;
              const Frac fk = frac_of(x.s(kid[k]));
              if (best < 0 || frac_gt(fk, best_f)) {  // equal ratios: the lower index came first
                best = k, best_r = r, best_c = c;
                best_f = fk;
              }
            }
          }
          if (best < 0) break;
          x.u(best_r) = 1;
          x.u(rows + best_c) = 1;
          const Score cell = x.s(kid[best]);
          sat += cell.sat;
          total += total_of(cell);
          ++picked;
        }
        total += want - picked;
        break;
      }
    }
    x.s(i) = make_score(sat, total, t);
  }
  Summary out{true, 0.0};
  int64_t sat = 0, total = 0;
  for (int32_t k = 0; k < p.num_conditions; ++k) {
    const Score c = x.s(p.conditions[k]);
    out.success &= truth_of(c);
    sat += c.sat;
    total += total_of(c);
  }
  out.fraction = total > 0 ? ddiv(static_cast<double>(sat), static_cast<double>(total)) : (out.success ? 1.0 : 0.0);
  return out;
}

// reward.cpp's compute_reward, term by term in the same order.
EMX_SC_HD double reward_of(const ProgramView& p, const WorldView& in, int64_t w, const Summary& s) {
  const Weights& W = p.weights;
  const bool format_ok = !in.format_ok || in.format_ok[w];
  if (!format_ok) return W.format_fail;
  const int32_t plan_length = in.plan_length ? in.plan_length[w] : 0;
  const int32_t executed = in.executed ? in.executed[w] : plan_length;
  const int32_t objects = in.objects_named ? in.objects_named[w] : 0;
  const int32_t relevant = in.relevant_named ? in.relevant_named[w] : 0;
  const double executability =
      plan_length == 0 ? 0.0 : ddiv(static_cast<double>(executed), static_cast<double>(plan_length));
  const double relevance =
      p.goal_objects > 0 ? ddiv(static_cast<double>(relevant), static_cast<double>(p.goal_objects)) : 0.0;
  double r = dadd(W.format, dmul(W.executability, executability));
  r = dadd(r, dmul(W.goal, s.fraction));
  r = dadd(r, dmul(W.success, s.success ? 1.0 : 0.0));
  r = dadd(r, dmul(W.length, static_cast<double>(plan_length)));
  r = dadd(r, dmul(W.objects, static_cast<double>(objects)));
  r = dadd(r, dmul(W.relevance, relevance));
  return r;
}

}  // namespace sc
}  // namespace emx
