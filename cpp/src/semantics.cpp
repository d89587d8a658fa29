// The semantics profiles' switches and their documentation table.
#include "emx/semantics.hpp"

namespace emx {

std::string_view semantics_name(Semantics s) {
  switch (s) {
    case Semantics::kEai: return "eai";
    case Semantics::kEmbomatrix: return "embomatrix";
    default: return "emx";
  }
}

std::optional<Semantics> semantics_from_name(std::string_view name) {
  if (name == "emx") return Semantics::kEmx;
  if (name == "eai") return Semantics::kEai;
  if (name == "embomatrix") return Semantics::kEmbomatrix;
  return std::nullopt;
}

namespace {

SemanticsRules emx_rules() { return {}; }

SemanticsRules eai_rules() {
  SemanticsRules r;
  r.abilities_from_names = true;
  r.room_objects_on_floor = true;
  r.slice_parts_from_start = true;
  r.grasp_fixed_is_affordance = false;
  r.grasp_max_volume = 1.5f;
  r.grasp_drops_children_ratio = 5.f;
  r.place_inside_needs_container = false;
  r.place_inside_volume_check = true;
  r.release_placed_by_support = false;
  r.affordance_can_be_wrong_order = false;
  r.plan_checked_before_running = true;
  r.transfer_as_eai = true;
  r.floor_by_room_or_agent = false;
  return r;
}

SemanticsRules embomatrix_rules() {
  SemanticsRules r;
  r.idempotent_state_change_ok = true;
  return r;
}

const SemanticsRules kRules[kNumSemantics] = {emx_rules(), eai_rules(), embomatrix_rules()};

}  // namespace

const SemanticsRules& semantics_rules(Semantics s) {
  int i = static_cast<int>(s);
  return kRules[i >= 0 && i < kNumSemantics ? i : 0];
}

// Keep in step with SemanticsRules above and docs/actions.md ("Semantics
// profiles"); tests/test_semantics.py compares the doc with this table.
const SemanticsRuleRow kSemanticsTable[] = {
    {"object_states",
     "unary-state abilities (openable, toggleable, freezable, cookable, sliceable, soakable, dustyable, stainable) from bddl's synset annotations",
     "EAI's own tasks: exactly the states each object has in EAI's scenes (eai-eval's `all_objects.json`, compiled in as `;@emx states` lines; e.g. cartons can be opened and start closed, a knife cannot be frozen); other tasks: as emx",
     "as emx",
     "EvolvingGraph.add_node_with_attr (`obj.states`), HighLevelActionPrecond (`object_state not in state.graph.nodes[...]` is an affordance error)"},
    {"name_abilities",
     "water source, dishwasher, cooking vessel (pan or saucepan) and soap from bddl's synset annotations",
     "by EAI's name tests: a water source has `sink` or `teapot` in its name, a dishwasher `dishwasher`, a cooking vessel `saucepan`, soap `detergent`; CLEAN counts a sink or dishwasher only when it is toggled on (a teapot only soaks)",
     "as emx",
     "soak_dry_precond, clean_dust_precond, clean_stain_precond, CookPrecond.cook_precond, toggle_on_off (dishwasher)"},
    {"room_floor",
     "an object's room is only a fallback for where things placed beside it land",
     "an object in a room (BEHAVIOR-100's `inroom`) that is on or in nothing and not wall-mounted (emx's size priors: windows, top cabinets) stands on that room's floor (an `onfloor` edge from the start, as iGibson's geometric OnFloor gives EAI's graph)",
     "as emx",
     "EvolvingGraph.build_graph (OnFloor edges from the scene)"},
    {"slice_parts",
     "a slice part (`X_part_0/1`) does not exist until its whole is sliced (`missing_step`); a part cannot be sliced again",
     "the parts are objects of the scene from the start, nowhere and with the whole's states, so they can be grasped before the whole is sliced; SLICE puts them where the whole was (iGibson keeps the hidden parts in EAI's object list)",
     "as emx",
     "EvalGraphEnv.get_relevant_objects (ObjectMultiplexer parts), EvolvingGraph.slice"},
    {"grasp_size",
     "furniture (`fixed`), substances and the agent cannot be grasped (`affordance`)",
     "bounding-box volume > 1.5 m^3 is too big (`affordance`), volume from emx's size priors; no furniture rule",
     "as emx",
     "EvolvingGraph.grasp / GraspPrecond.grasp_precond"},
    {"grasp_drops_children",
     "what is on/in the grasped object comes with it",
     "children whose volume is > 5x the grasped object's stay behind (leave the support tree)",
     "as emx",
     "EvolvingGraph.grasp (post-effect), ActionEnv.grasp"},
    {"place_inside_target",
     "the target must be a container or openable (`affordance`), then not closed (`missing_step`)",
     "held volume > target volume is `affordance`; then a target with an Open state that is closed is `missing_step`",
     "as emx",
     "EvolvingGraph.place_inside / PlaceInsidePrecond.place_inside_precond"},
    {"place_beside_floor",
     "PLACE_NEXTTO / PLACE_UNDER an object on nothing: the object lands on its floor, else its room's floor, else the robot's",
     "only on the reference object's own floor edge; without one it lands nowhere",
     "as emx",
     "EvolvingGraph.place_next_to / place_under (the reference's OnFloor successor)"},
    {"transfer_contents",
     "TRANSFER_CONTENTS_INSIDE / _ONTOP: a closed target (inside) is `missing_step`, a held object with nothing on/in it is `affordance`",
     "_INSIDE: a content bigger than the target is `affordance`, a closed target `missing_step`, nothing to pour is no error; _ONTOP: nothing to pour is `affordance`. (EAI itself raises RuntimeError once contents move: it edits the dict it iterates; emx moves them)",
     "as emx",
     "EvolvingGraph.pour_inside / PourInsidePrecond, pour_onto / PourPrecond"},
    {"release_unheld",
     "RELEASE with an empty hand: `missing_step` if the object is on/in/next to anything, else `additional_step`",
     "`missing_step` only if the object has a graph edge (nextto, onfloor, under, either way); ontop/inside live in the relation tree and do not count; else `additional_step`",
     "as emx",
     "EvolvingGraph.release / ReleasePrecond.release_precond"},
    {"state_change_no_op",
     "OPEN an open object (CLOSE, TOGGLE_ON/OFF likewise): `additional_step` (not fatal)",
     "`additional_step` (not fatal)",
     "success, no error",
     "HighLevelActionPrecond.high_level_action_precond"},
    {"both_hands_full",
     "OPEN, CLOSE, TOGGLE_*, SLICE, SOAK, DRY, FREEZE, UNFREEZE, COOK need a free hand (`missing_step`); CLEAN does not",
     "same",
     "as emx",
     "HighLevelActionPrecond (CLEAN: FullHandAllowedHighLevelPrecond)"},
    {"wrong_order",
     "a failed non-place step that would have worked before an earlier step is `wrong_order`",
     "same, except that an `affordance` error stays `affordance` (EAI ranks it first)",
     "as emx",
     "EvolvingGraph.check_precondition (places call check_precond directly: no wrong order); ActionSequenceEvaluator.evaluate_trajectory (error priority)"},
    {"plan_check",
     "the plan runs up to its first unknown action or object, or wrong arity, which fails that step",
     "an unknown action or object anywhere rejects the whole plan before any step runs (then a wrong arity anywhere); nothing executes",
     "as emx",
     "ActionSequenceEvaluator.evaluate_format (run before evaluate_trajectory)"},
    {"nextto_derived",
     "nextto holds only where a PLACE_NEXTTO (or the initial state) put it",
     "same: EAI's task success (`all_goal_satisfied_graph`) reads only the graph's edges and each object's relation-tree parent",
     "as emx",
     "GraphState.get_state_dict / check_success (evaluate_results.py: task_success_rate)"},
};
const int kNumSemanticsRules = static_cast<int>(sizeof(kSemanticsTable) / sizeof(kSemanticsTable[0]));

}  // namespace emx
