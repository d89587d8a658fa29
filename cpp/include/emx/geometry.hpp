// State from geometry: object boxes, container interiors and joint positions
// -> the WorldState relations that the goal program reads.
//
// Physics mode derives relations with these functions, so the same compiled
// goal program serves symbolic and physics rollouts. The CUDA kernels (cuda/)
// implement the same definitions and thresholds; parity tests keep them equal.
//
// Definitions (all lengths in metres, boxes axis-aligned in the world frame;
// "overlap" of two ranges is min(max) - max(min): > 0 overlapping, 0 touching):
//   ontop(a, b)  : a rests on b's top: |a.min.z - b.max.z| <= kContactGap and
//                  the xy overlap area of a and b is >= kSupportOverlap times
//                  a's footprint area (exactly half counts). A footprint of no
//                  area (point, segment) needs its xy centre within b's xy box.
//                  For a floor b, see onfloor.
//   inside(a, b) : a's box lies within b's interior box, each face allowed
//                  kInsideTolerance of overshoot (b must have an interior).
//   nextto(a, b) : not stacked (z ranges overlap by > 0: faces that only touch
//                  are stacked), xy boxes do not overlap more than kContactGap
//                  (min of the x and y overlaps, the depth to separate them),
//                  and the xy gap between them, the Euclidean distance between
//                  the two xy rectangles, is <= kNextToGap. Symmetric.
//   under(a, b)  : a.max.z <= b.min.z + kContactGap and the xy boxes overlap
//                  with positive area (touching edges do not count). With
//                  whole-object boxes, b must be given as the part that covers
//                  (a table top), since a table's full box reaches the floor.
//   onfloor(a, f): a.min.z <= f.max.z + kContactGap and a's xy centre lies
//                  inside the floor's xy box, edges included (floors are thin
//                  boxes per room).
//   open(o)      : joint position >= kOpenFraction of its range.
//
// relations_from_geometry, decisions the definitions leave open:
//   * An object takes part (as either argument) when geo.present[i] != 0,
//     state.is_present(i) and its box is finite (no NaN or inf: a simulation
//     that blew up); every stored pair involving any other object is cleared,
//     so a held object has no relations, and nothing is inside or on a held
//     object while it is held. An interior that is not finite holds nothing.
//     The single-pair functions expect finite boxes.
//   * Floors (kFloor) are never the first argument, and as the second only of
//     onfloor and ontop: (ontop x f) is set exactly when (onfloor x f) holds,
//     as BEHAVIOR-1K writes it. inside/nextto/under with a floor are false.
//   * inside holds for every container whose interior holds a (nested: the
//     bowl and the fridge), not only the innermost one.
//   * open is set from every joint (joint_fraction >= 0) of an object that
//     exists in the state, held or not: the joint still reads true in a hand.
//   * Support parent: among containers a is inside, the one with the smallest
//     interior volume (the innermost); else among non-floor objects a is on
//     top of, the one with the highest top; ties go to the lower index. Cycles
//     (only degenerate flat boxes make them) are cut at the lowest index found
//     on one.
//   * A sliced whole whose parts exist in the state, at least one of them
//     present in geo, gets as its placement (ontop, inside, nextto, under,
//     onfloor as first argument) what all its parts share, and no parent, as
//     the symbolic executor keeps it; before that its own box speaks for it.
#pragma once

#include <cstdint>
#include <vector>

#include "emx/task.hpp"
#include "emx/world_state.hpp"

namespace emx {

inline constexpr float kContactGap = 0.02f;
inline constexpr float kSupportOverlap = 0.5f;
inline constexpr float kInsideTolerance = 0.01f;
inline constexpr float kNextToGap = 0.30f;
inline constexpr float kOpenFraction = 0.10f;

struct Box {
  float min[3] = {0, 0, 0};
  float max[3] = {0, 0, 0};
};

/// Geometry of every object of a task at one instant (index = task object index).
struct Geometry {
  std::vector<Box> box;             // world AABB; ignored for objects not present
  std::vector<Box> interior;        // container interior (world); has_interior says which
  std::vector<uint8_t> has_interior;
  std::vector<float> joint_fraction;  // 0 closed .. 1 fully open; < 0: no joint
  std::vector<uint8_t> present;       // 0: held in a hand or not in the scene
};

bool ontop(const Box& a, const Box& b);
bool inside(const Box& a, const Box& interior);
bool nextto(const Box& a, const Box& b);
bool under(const Box& a, const Box& b);
bool onfloor(const Box& a, const Box& floor);

/// Overwrites the geometric relations (ontop, inside, nextto, under, onfloor,
/// open) of `state` from `geo`, for the object pairs the task stores. Unary
/// states physics does not model (cooked, soaked, ...) are left as they are.
/// Objects that are not present (held) get no relations. Also rebuilds the
/// support tree the executor uses (reachability, carrying): an object's parent
/// is the innermost container it is inside, else what it rests on (the highest
/// top if several), else none; floors are never parents. O(N^2) in a
/// vectorized loop, no allocation up to 256 objects; pure (thread-safe on
/// distinct states). Throws
/// std::invalid_argument when geo's arrays or the state do not fit the task.
void relations_from_geometry(const Task& task, const Geometry& geo, WorldState& state);

}  // namespace emx
