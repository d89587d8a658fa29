// State from geometry: object boxes, container interiors and joint positions
// -> the WorldState relations that the goal program reads.
//
// Physics mode derives relations with these functions, so the same compiled
// goal program serves symbolic and physics rollouts. The CUDA kernels (cuda/)
// implement the same definitions and thresholds; parity tests keep them equal.
//
// Definitions (all lengths in metres, boxes axis-aligned in the world frame):
//   ontop(a, b)  : a rests on b's top: |a.min.z - b.max.z| <= kContactGap and
//                  the xy overlap of a and b covers >= kSupportOverlap of a's
//                  footprint. For a floor b, see onfloor.
//   inside(a, b) : a's box lies within b's interior box, each face allowed
//                  kInsideTolerance of overshoot (b must have an interior).
//   nextto(a, b) : not stacked (z ranges overlap), xy boxes do not overlap
//                  more than kContactGap, and the xy gap between them is
//                  <= kNextToGap. Symmetric.
//   under(a, b)  : a.max.z <= b.min.z + kContactGap and the xy boxes overlap
//                  (a is in the space below b: under a table top).
//   onfloor(a, f): a.min.z <= f.max.z + kContactGap and a's xy centre lies
//                  inside the floor's xy box (floors are thin boxes per room).
//   open(o)      : joint position >= kOpenFraction of its range.
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
/// top if several), else none; floors are never parents.
void relations_from_geometry(const Task& task, const Geometry& geo, WorldState& state);

}  // namespace emx
