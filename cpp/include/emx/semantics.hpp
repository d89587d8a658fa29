// Semantics profiles: which reference's rules the executor follows.
//
//   emx         emx's own rules (physically grounded: furniture cannot be
//               grasped, only containers take things inside, ...).
//   eai         a rule-for-rule port of eai-eval's BEHAVIOR evaluator: its
//               evolving graph (behavior_eval/evolving_graph/evolving_graph.py)
//               decides executability, error types and task success
//               (all_goal_satisfied_graph); EAI's own tasks carry EAI's scene
//               data (which states each object has, rooms). tests/eai_oracle.py
//               runs EAI's code itself and tests/test_semantics.py compares.
//   embomatrix  EmboMatrix's planner (omnigibson/plannerdemo/planner_api*.py):
//               for now emx plus idempotent open/close/toggle.
//
// A profile is a row of switches (SemanticsRules). The executor, the goal
// check, the symbolic worker and the oracle read the switches; nothing else
// decides a precondition. kSemanticsTable lists every rule with its value per
// profile and, for eai, the EAI function it comes from; docs/actions.md holds
// the same table and tests/test_semantics.py keeps the two equal. A new
// profile is one more column: a SemanticsRules value and a column of text.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

namespace emx {

enum class Semantics : uint8_t { kEmx = 0, kEai = 1, kEmbomatrix = 2 };
inline constexpr int kNumSemantics = 3;

std::string_view semantics_name(Semantics s);  // "emx", "eai", "embomatrix"
std::optional<Semantics> semantics_from_name(std::string_view name);

struct SemanticsRules {
  // --- abilities and initial state (applied when the task is compiled)
  bool abilities_from_names = false;     // eai: water source, dishwasher, cooking vessel, soap by EAI's name tests
  bool room_objects_on_floor = false;    // eai: an object in a room, on/in nothing, stands on that room's floor
  bool slice_parts_from_start = false;   // eai: slice parts are scene objects (nowhere) before their whole is sliced
  // --- preconditions
  bool grasp_fixed_is_affordance = true;     // furniture, substances, the agent cannot be grasped
  float grasp_max_volume = 0.f;              // > 0: volume above this (m^3) is too big to grasp
  float grasp_drops_children_ratio = 0.f;    // > 0: children bigger than ratio x the grasped volume fall off
  bool place_inside_needs_container = true;  // target must be a container / openable
  bool place_inside_volume_check = false;    // held object's volume must not exceed the target's
  bool release_placed_by_support = true;     // RELEASE of an unheld object on/in something: missing_step
  bool idempotent_state_change_ok = false;   // already open/closed/on/off: success, not additional_step
  bool affordance_can_be_wrong_order = true; // an affordance failure that held earlier is wrong_order
  bool plan_checked_before_running = false;  // eai: an unknown action/object or wrong arity anywhere rejects the plan
  bool transfer_as_eai = false;              // eai: EAI's pour preconditions (and its failure once contents move)
  // --- effects
  bool floor_by_room_or_agent = true;        // beside an object on nothing: its floor, else its room's or the robot's
  // --- derived relations (goal check)
  bool nextto_from_shared_parent = false;    // objects on/in the same parent are next to each other
};

const SemanticsRules& semantics_rules(Semantics s);

/// One documented rule: its id, what each profile does, and where eai's
/// behaviour comes from in eai-eval.
struct SemanticsRuleRow {
  std::string_view id;
  std::string_view emx;
  std::string_view eai;
  std::string_view embomatrix;
  std::string_view eai_source;
};
extern const SemanticsRuleRow kSemanticsTable[];
extern const int kNumSemanticsRules;

}  // namespace emx
