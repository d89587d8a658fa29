// WorldState: everything that changes during a rollout (MuJoCo's "data").
//
// Plain arrays, no pointers into the Task, so copying a state is a few
// memcpys: that is how snapshots, GRPO groups and plan-prefix sharing work.
#pragma once

#include <cstdint>
#include <vector>

#include "emx/vocabulary.hpp"

namespace emx {

/// Shape of the bit arrays for one task. Binary predicates only get storage
/// ("a slot") when the task mentions them or an action can change them, so a
/// state stays small for tasks with ~100 objects.
struct WorldLayout {
  int32_t num_objects = 0;
  int32_t words = 0;  // 64-bit words per object bitset: (num_objects + 63) / 64
  int8_t binary_slot[kNumPredicates];  // -1: predicate not stored (always false)
  int32_t num_binary_slots = 0;

  WorldLayout();
  static WorldLayout make(int32_t num_objects, const std::vector<Predicate>& binary_predicates);
  bool stores(Predicate p) const { return is_unary(p) || binary_slot[static_cast<int>(p)] >= 0; }
};

/// Relation of an object to its parent in the support tree (EAI's relation tree):
/// moving a parent carries its children; closing a parent hides what is inside.
enum class Support : uint8_t { kNone = 0, kOnTop = 1, kInside = 2 };

struct WorldState {
  // unary[p * words + w]: bit i set when predicate p holds for object i.
  std::vector<uint64_t> unary;
  // binary[(slot * num_objects + a) * words + w]: bit b set when pred(a, b) holds.
  std::vector<uint64_t> binary;
  // Objects that exist now. Slice parts appear when their whole is sliced.
  std::vector<uint64_t> present;
  std::vector<int32_t> parent;   // support parent, -1 for none
  std::vector<Support> support;  // relation to parent
  int32_t hand[2] = {-1, -1};    // object held: [0] left, [1] right
  int32_t room = -1;             // robot's room (EmboMatrix navigation)
  int32_t near = -1;             // object the robot stands at (EmboMatrix navigation)

  static WorldState empty(const WorldLayout& layout);

  bool get(const WorldLayout& L, Predicate p, int32_t a, int32_t b = -1) const;
  void set(const WorldLayout& L, Predicate p, int32_t a, int32_t b, bool value);
  void set(const WorldLayout& L, Predicate p, int32_t a, bool value) { set(L, p, a, -1, value); }
  bool is_present(int32_t obj) const { return (present[obj >> 6] >> (obj & 63)) & 1u; }
  void set_present(int32_t obj, bool value);
  bool holding(int32_t obj) const { return hand[0] == obj || hand[1] == obj; }

  bool operator==(const WorldState& other) const;
  size_t bytes() const;  // memory a copy costs
};

}  // namespace emx
