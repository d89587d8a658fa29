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
  r.every_object_freezable = true;
  r.cartons_not_openable = true;
  r.grasp_fixed_is_affordance = false;
  r.grasp_max_volume = 1.5f;
  r.grasp_drops_children_ratio = 5.f;
  r.place_inside_needs_container = false;
  r.place_inside_volume_check = true;
  r.release_placed_by_support = false;
  r.nextto_from_shared_parent = true;
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
    {"release_unheld",
     "RELEASE with an empty hand: `missing_step` if the object is on/in/next to anything, else `additional_step`",
     "`missing_step` only if the object has a graph edge (nextto, onfloor, under, either way); ontop/inside live in the relation tree and do not count; else `additional_step`",
     "as emx",
     "EvolvingGraph.release / ReleasePrecond.release_precond"},
    {"carton_openness",
     "a carton is openable and starts closed unless the task says (open carton)",
     "a carton has no Open state: it never blocks PLACE_INSIDE and cannot be opened (`affordance`)",
     "as emx",
     "BasePrecond.interactivity_precond, PlaceInsidePrecond (`object_states.Open in state.graph.nodes[...]`)"},
    {"freezable",
     "only objects whose synset is freezable (bddl annotations) can be (un)frozen",
     "every object except floors can be (un)frozen",
     "as emx",
     "HighLevelActionPrecond.high_level_action_precond (`object_state not in state.graph.nodes[...]`)"},
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
     "same",
     "as emx",
     "EvolvingGraph.check_precondition (places call check_precond directly: no wrong order)"},
    {"nextto_derived",
     "nextto holds only where a PLACE_NEXTTO (or the initial state) put it",
     "also between two objects on or in the same parent (EAI's teleport placement puts them side by side and iGibson's NextTo is geometric)",
     "as emx",
     "ActionEnv.place_inside / place_ontop (PositionGeometry.set_inside / set_ontop), checked by iGibson's NextTo"},
};
const int kNumSemanticsRules = static_cast<int>(sizeof(kSemanticsTable) / sizeof(kSemanticsTable[0]));

}  // namespace emx
