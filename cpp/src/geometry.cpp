// Relations from geometry (physics mode). The definitions and thresholds are
// the header's; cuda/ must implement the same ones, so every choice the header
// leaves open is written down there, not only here.
//
// relations_from_geometry holds the boxes as a structure of arrays and, for
// each first argument, computes every relation to every object in one
// branch-free loop the compiler vectorizes (about 2x the branching version;
// ~60 us for 150 objects on one core), then sets the few bits that hold.
// The public single-pair functions run the same predicate code, so the two
// cannot disagree; the tests check that on random boxes.
#include "emx/geometry.hpp"

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>
#include <vector>

namespace emx {
namespace {

using P = Predicate;

// std::min/max by value (as std::min/max choose), which the loop vectorizer
// takes; the reference-returning ones make it give up.
inline float min2(float a, float b) { return b < a ? b : a; }
inline float max2(float a, float b) { return a < b ? b : a; }

// Overlap length of [a0, a1] and [b0, b1]: negative when they are apart (minus
// the gap), zero when they touch.
inline float overlap(float a0, float a1, float b0, float b1) { return min2(a1, b1) - max2(a0, b0); }

// The second box as six scalars, so that the pair loop can read them from
// separate arrays (structure of arrays: the loop vectorizes) and the single-pair
// functions from a Box, through the same code.
struct B6 {
  float x0, y0, z0, x1, y1, z1;
};
inline B6 b6(const Box& b) { return {b.min[0], b.min[1], b.min[2], b.max[0], b.max[1], b.max[2]}; }

inline bool centre_in_xy(const Box& a, const B6& b) {
  const float cx = 0.5f * (a.min[0] + a.max[0]), cy = 0.5f * (a.min[1] + a.max[1]);
  return (cx >= b.x0) & (cx <= b.x1) & (cy >= b.y0) & (cy <= b.y1);
}

// Branch-free (bitwise &). Boxes are finite: relations_from_geometry leaves
// out any object whose box is not.
inline bool ontop_of(const Box& a, const B6& b) {
  const float ox = overlap(a.min[0], a.max[0], b.x0, b.x1);
  const float oy = overlap(a.min[1], a.max[1], b.y0, b.y1);
  const float fx = a.max[0] - a.min[0], fy = a.max[1] - a.min[1];
  const bool contact = std::fabs(a.min[2] - b.z1) <= kContactGap;
  const bool supported = (ox > 0) & (oy > 0) & (ox * oy >= kSupportOverlap * (fx * fy));
  // A footprint of no area (a point or a segment) rests on b when its centre
  // is over b's top.
  const bool has_area = (fx > 0) & (fy > 0);
  return contact & ((has_area & supported) | (!has_area & centre_in_xy(a, b)));
}

inline bool inside_of(const Box& a, const B6& in) {
  return (a.min[0] >= in.x0 - kInsideTolerance) & (a.max[0] <= in.x1 + kInsideTolerance) &
         (a.min[1] >= in.y0 - kInsideTolerance) & (a.max[1] <= in.y1 + kInsideTolerance) &
         (a.min[2] >= in.z0 - kInsideTolerance) & (a.max[2] <= in.z1 + kInsideTolerance);
}

inline bool nextto_of(const Box& a, const B6& b) {
  // Stacked: the z ranges only touch or are apart.
  const bool side_by_side = overlap(a.min[2], a.max[2], b.z0, b.z1) > 0;
  const float ox = overlap(a.min[0], a.max[0], b.x0, b.x1);
  const float oy = overlap(a.min[1], a.max[1], b.y0, b.y1);
  // Interpenetration depth in xy: how far one must move to separate them.
  const bool apart = min2(ox, oy) <= kContactGap;
  // The Euclidean gap between the xy rectangles, sqrt(dx^2 + dy^2) with
  // d = max(0, -o), written without selects (which the vectorizer refuses
  // under trapping math): an axis where they overlap adds nothing.
  constexpr float g2 = kNextToGap * kNextToGap;
  const bool x_in = ox >= 0, y_in = oy >= 0;
  const bool near = (x_in | (ox * ox <= g2)) & (y_in | (oy * oy <= g2)) & (x_in | y_in | (ox * ox + oy * oy <= g2));
  return side_by_side & apart & near;
}

inline bool under_of(const Box& a, const B6& b) {
  return (a.max[2] <= b.z0 + kContactGap) & (overlap(a.min[0], a.max[0], b.x0, b.x1) > 0) &
         (overlap(a.min[1], a.max[1], b.y0, b.y1) > 0);
}

inline bool onfloor_of(const Box& a, const B6& floor) {
  return (a.min[2] <= floor.z1 + kContactGap) & centre_in_xy(a, floor);
}

// Bits of the per-pair flags word.
enum : uint32_t { kOnTopBit = 1, kInsideBit = 2, kNextToBit = 4, kUnderBit = 8, kOnFloorBit = 16 };

// Structure of arrays of every box and interior: 12 floats per object.
struct Soa {
  const float* v[12];
  B6 box(int32_t i) const { return {v[0][i], v[1][i], v[2][i], v[3][i], v[4][i], v[5][i]}; }
  B6 interior(int32_t i) const { return {v[6][i], v[7][i], v[8][i], v[9][i], v[10][i], v[11][i]}; }
};

// Every relation of a to b at once.
inline uint32_t pair_flags(const Box& a, const B6& b, const B6& b_interior) {
  return static_cast<uint32_t>(ontop_of(a, b)) | static_cast<uint32_t>(inside_of(a, b_interior)) << 1 |
         static_cast<uint32_t>(nextto_of(a, b)) << 2 | static_cast<uint32_t>(under_of(a, b)) << 3 |
         static_cast<uint32_t>(onfloor_of(a, b)) << 4;
}
static_assert(kOnTopBit == 1 && kInsideBit == 2 && kNextToBit == 4 && kUnderBit == 8 && kOnFloorBit == 16, "pair_flags");

inline bool finite(const Box& b) {
  bool ok = true;
  for (int k = 0; k < 3; ++k) ok &= std::isfinite(b.min[k]) & std::isfinite(b.max[k]);
  return ok;
}

inline float volume(const Box& b) {
  return std::max(0.0f, b.max[0] - b.min[0]) * std::max(0.0f, b.max[1] - b.min[1]) *
         std::max(0.0f, b.max[2] - b.min[2]);
}

// The geometric relations this file owns.
constexpr P kGeometric[] = {P::kOnTop, P::kInside, P::kNextTo, P::kUnder, P::kOnFloor};

// Row of `a` in a binary predicate's bit matrix; null when not stored.
uint64_t* row_of(const WorldLayout& L, WorldState& s, P p, int32_t a) {
  const int slot = L.binary_slot[static_cast<int>(p)];
  return slot < 0 ? nullptr : &s.binary[(static_cast<size_t>(slot) * L.num_objects + a) * L.words];
}

void check_sizes(const Task& task, const Geometry& geo, const WorldState& state) {
  const size_t n = static_cast<size_t>(task.num_objects());
  auto need = [&](size_t got, const char* what) {
    if (got != n)
      throw std::invalid_argument(std::string("relations_from_geometry: Geometry::") + what + " has " +
                                  std::to_string(got) + " entries, the task has " + std::to_string(n) + " objects");
  };
  need(geo.box.size(), "box");
  need(geo.interior.size(), "interior");
  need(geo.has_interior.size(), "has_interior");
  need(geo.joint_fraction.size(), "joint_fraction");
  need(geo.present.size(), "present");
  const WorldLayout& L = task.layout;
  if (task.layout.num_objects != static_cast<int32_t>(n) || state.parent.size() != n || state.support.size() != n ||
      state.present.size() != static_cast<size_t>(L.words) ||
      state.binary.size() != static_cast<size_t>(L.num_binary_slots) * L.num_objects * L.words ||
      state.unary.size() != static_cast<size_t>(kNumUnaryPredicates) * L.words)
    throw std::invalid_argument("relations_from_geometry: the state does not belong to this task");
}

// Cuts the support tree's cycles, which only degenerate boxes can make (two
// flat boxes at one height are each on top of the other): the first object,
// in index order, found on a cycle loses its parent.
void break_cycles(WorldState& s) {
  const int32_t n = static_cast<int32_t>(s.parent.size());
  for (int32_t i = 0; i < n; ++i) {
    int32_t node = s.parent[i];
    for (int32_t steps = 0; node >= 0 && node != i && steps < n; ++steps) node = s.parent[node];
    if (node == i) {
      s.parent[i] = -1;
      s.support[i] = Support::kNone;
    }
  }
}

// A sliced whole's placement is what all its parts share, as the symbolic
// executor keeps it (EAI's get_state_dict). It applies once a part is in the
// scene; until then the whole's own box speaks for it.
void sync_sliced_wholes(const Task& task, const Geometry& geo, WorldState& state) {
  const WorldLayout& L = task.layout;
  const int32_t n = task.num_objects();
  for (int32_t part = 0; part < n; ++part) {
    const int32_t w = task.objects[part].whole;
    if (w < 0 || !state.is_present(part) || !state.get(L, P::kSliced, w)) continue;
    // Visit each whole once: at its first present part.
    bool first = true;
    for (int32_t q = 0; q < part && first; ++q) first = !(task.objects[q].whole == w && state.is_present(q));
    if (!first) continue;
    bool any_in_scene = false;
    for (int32_t q = part; q < n; ++q) any_in_scene |= task.objects[q].whole == w && state.is_present(q) && geo.present[q];
    if (!any_in_scene) continue;
    for (P p : kGeometric) {
      uint64_t* whole_row = row_of(L, state, p, w);
      if (!whole_row) continue;
      std::fill(whole_row, whole_row + L.words, ~uint64_t{0});
      for (int32_t q = part; q < n; ++q) {
        if (task.objects[q].whole != w || !state.is_present(q)) continue;
        const uint64_t* part_row = row_of(L, state, p, q);
        for (int32_t k = 0; k < L.words; ++k) whole_row[k] &= part_row[k];
      }
      whole_row[w >> 6] &= ~(uint64_t{1} << (w & 63));
    }
    // Keep nextto symmetric for the whole.
    if (uint64_t* row = row_of(L, state, P::kNextTo, w))
      for (int32_t x = 0; x < n; ++x) state.set(L, P::kNextTo, x, w, (row[x >> 6] >> (x & 63)) & 1u);
    state.parent[w] = -1;
    state.support[w] = Support::kNone;
  }
}

}  // namespace

bool ontop(const Box& a, const Box& b) { return ontop_of(a, b6(b)); }
bool inside(const Box& a, const Box& interior) { return inside_of(a, b6(interior)); }
bool nextto(const Box& a, const Box& b) { return nextto_of(a, b6(b)); }
bool under(const Box& a, const Box& b) { return under_of(a, b6(b)); }
bool onfloor(const Box& a, const Box& floor) { return onfloor_of(a, b6(floor)); }

void relations_from_geometry(const Task& task, const Geometry& geo, WorldState& state) {
  check_sizes(task, geo, state);
  const WorldLayout& L = task.layout;
  const int32_t n = task.num_objects();

  // Every stored pair is overwritten: clear, then set what holds.
  for (P p : kGeometric) {
    const int slot = L.binary_slot[static_cast<int>(p)];
    if (slot < 0) continue;
    const size_t rows = static_cast<size_t>(L.num_objects) * L.words;
    std::fill(state.binary.begin() + slot * rows, state.binary.begin() + (slot + 1) * rows, uint64_t{0});
  }
  for (int32_t i = 0; i < n; ++i) {
    state.parent[i] = -1;
    state.support[i] = Support::kNone;
    // A joint still reads true while its object is held.
    if (geo.joint_fraction[i] >= 0 && state.is_present(i)) state.set(L, P::kOpen, i, geo.joint_fraction[i] >= kOpenFraction);
  }

  // Scratch, on the stack for up to kStackObjects objects: the boxes and
  // interiors as a structure of arrays, and per object b the relations that
  // may hold with b as second argument (none when b is not in the scene; only
  // onfloor for a floor; inside only into an interior).
  constexpr int32_t kStackObjects = 256;
  float stack_floats[12 * kStackObjects];
  uint32_t stack_words[2 * kStackObjects];
  std::vector<float> heap_floats;
  std::vector<uint32_t> heap_words;
  float* floats = stack_floats;
  uint32_t* words = stack_words;
  if (n > kStackObjects) {
    heap_floats.resize(12 * static_cast<size_t>(n));
    heap_words.resize(2 * static_cast<size_t>(n));
    floats = heap_floats.data();
    words = heap_words.data();
  }
  Soa soa;
  for (int k = 0; k < 12; ++k) soa.v[k] = floats + static_cast<size_t>(k) * n;
  uint32_t* __restrict allowed = words;
  uint32_t* __restrict flags = words + n;
  for (int32_t i = 0; i < n; ++i) {
    const Box& b = geo.box[i];
    const Box& in = geo.interior[i];
    for (int k = 0; k < 3; ++k) {
      floats[k * n + i] = b.min[k];
      floats[(3 + k) * n + i] = b.max[k];
      floats[(6 + k) * n + i] = in.min[k];
      floats[(9 + k) * n + i] = in.max[k];
    }
    // A box that is not finite (a simulation that blew up) is not in the scene.
    const bool in_scene = geo.present[i] != 0 && state.is_present(i) && finite(b);
    const bool floor = (task.objects[i].abilities & kFloor) != 0;
    allowed[i] = !in_scene ? 0u
                 : floor   ? uint32_t{kOnFloorBit}
                           : kOnTopBit | kNextToBit | kUnderBit | (geo.has_interior[i] && finite(in) ? kInsideBit : 0u);
  }

  for (int32_t a = 0; a < n; ++a) {
    // A floor is the ground things stand on, never placed itself.
    if (allowed[a] == 0 || allowed[a] == kOnFloorBit) continue;
    const Box A = geo.box[a];
    for (int32_t b = 0; b < n; ++b) flags[b] = pair_flags(A, soa.box(b), soa.interior(b)) & allowed[b];
    flags[a] = 0;

    uint64_t* on_row = row_of(L, state, P::kOnTop, a);
    uint64_t* in_row = row_of(L, state, P::kInside, a);
    uint64_t* next_row = row_of(L, state, P::kNextTo, a);
    uint64_t* under_row = row_of(L, state, P::kUnder, a);
    uint64_t* floor_row = row_of(L, state, P::kOnFloor, a);
    int32_t container = -1, support = -1;
    float container_volume = 0, support_top = 0;
    for (int32_t b = 0; b < n; ++b) {
      const uint32_t f = flags[b];
      if (f == 0) continue;  // most pairs
      const uint64_t bit = uint64_t{1} << (b & 63);
      const int32_t w = b >> 6;
      // BEHAVIOR-1K writes (ontop x floor) for what stands on a floor.
      if ((f & (kOnTopBit | kOnFloorBit)) && on_row) on_row[w] |= bit;
      if ((f & kOnFloorBit) && floor_row) floor_row[w] |= bit;
      if ((f & kInsideBit) && in_row) in_row[w] |= bit;
      if ((f & kNextToBit) && next_row) next_row[w] |= bit;
      if ((f & kUnderBit) && under_row) under_row[w] |= bit;
      if (f & kInsideBit) {
        const float v = volume(geo.interior[b]);
        if (container < 0 || v < container_volume) { container = b; container_volume = v; }
      }
      if ((f & kOnTopBit) && (support < 0 || geo.box[b].max[2] > support_top)) {
        support = b;
        support_top = geo.box[b].max[2];
      }
    }
    if (container >= 0) {
      state.parent[a] = container;
      state.support[a] = Support::kInside;
    } else if (support >= 0) {
      state.parent[a] = support;
      state.support[a] = Support::kOnTop;
    }
  }

  sync_sliced_wholes(task, geo, state);
  break_cycles(state);
}

}  // namespace emx
