// Semantics profiles: which reference's rules the executor follows.
//
//   emx         emx's own rules (physically grounded: furniture cannot be
//               grasped, only containers take things inside, ...).
//   eai         a rule-for-rule port of eai-eval's BEHAVIOR evaluator
//               (behavior_eval/evolving_graph/evolving_graph.py decides
//               executability and error types; the iGibson transition model
//               decides where things end up).
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
  // --- vocabulary / abilities (applied when the task is compiled)
  bool every_object_freezable = false;   // eai: iGibson gives every object a Frozen state
  bool cartons_not_openable = false;     // eai: a carton never blocks (no Open state)
  // --- preconditions
  bool grasp_fixed_is_affordance = true;     // furniture, substances, the agent cannot be grasped
  float grasp_max_volume = 0.f;              // > 0: volume above this (m^3) is too big to grasp
  float grasp_drops_children_ratio = 0.f;    // > 0: children bigger than ratio x the grasped volume fall off
  bool place_inside_needs_container = true;  // target must be a container / openable
  bool place_inside_volume_check = false;    // held object's volume must not exceed the target's
  bool release_placed_by_support = true;     // RELEASE of an unheld object on/in something: missing_step
  bool idempotent_state_change_ok = false;   // already open/closed/on/off: success, not additional_step
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
