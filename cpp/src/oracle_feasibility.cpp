// Oracle, part 2: the static side. Which objects can serve as tools, sinks,
// pans and floors, and whether any sequence of EAI actions can make a ground
// literal hold at all, judged from the objects' abilities (the symbolic
// executor's preconditions, executor.cpp). The grounder prices literals with
// this; the planner (oracle_planner.cpp) then finds the actual steps.
#include "oracle_internal.hpp"

namespace emx::oracle_detail {

using P = Predicate;

// ---------------------------------------------------------------- literals and the catalog

std::string lit_text(const Task& t, const Lit& l) {
  std::string s = "(" + std::string(predicate_name(l.pred)) + " " + t.objects[l.a].name;
  if (l.b >= 0) s += " " + t.objects[l.b].name;
  s += ")";
  return l.value ? s : "(not " + s + ")";
}

Catalog::Catalog(const Task& t) : task(t) {
  const int32_t n = t.num_objects();
  parts.resize(n);
  goal_object.assign(n, 0);
  for (int32_t i = 0; i < n; ++i) {
    const Object& o = t.objects[i];
    if (o.whole >= 0) { parts[o.whole].push_back(i); continue; }
    if (t.has(i, kFloor)) floors.push_back(i);
    bool grasp = graspable(i);
    if (grasp && t.has(i, kSlicer)) slicers.push_back(i);
    if (grasp && t.has(i, kCleaningTool)) tools.push_back(i);
    if (grasp && is_abrasive(t, i)) abrasives.push_back(i);
    if (grasp && t.has(i, kSoap)) soaps.push_back(i);
    if (t.has(i, kWaterSource) && !t.has(i, kSubstance)) water_sources.push_back(i);
    if (t.has(i, kCookingVessel) && !t.has(i, kSubstance)) vessels.push_back(i);
    if (t.has(i, kDishwasher)) washers.push_back(i);
  }
  for (const GroundAtom& a : t.goal.atoms) {
    goal_object[a.a] = 1;
    if (a.b >= 0) goal_object[a.b] = 1;
  }
}

bool Catalog::graspable(int32_t o) const {
  return !task.has(o, kFloor | kFixed | kSubstance | kAgent);
}

// Slice parts share their whole's abilities, so a whole moves exactly when it can be grasped.
bool Catalog::movable(int32_t o) const { return graspable(o); }

namespace {

bool unchangeable(P p) {
  switch (p) {
    case P::kOpen: case P::kToggledOn: case P::kCooked: case P::kFrozen: case P::kSliced:
    case P::kSoaked: case P::kDusty: case P::kStained: case P::kCovered:
    case P::kOnTop: case P::kInside: case P::kNextTo: case P::kUnder: case P::kOnFloor:
      return false;
    default:
      return true;
  }
}

std::string quoted(P p) { return "'" + std::string(predicate_name(p)) + "'"; }

}  // namespace

bool lit_feasible(const Catalog& cat, const WorldState& init, const Lit& l, std::string* reason) {
  const Task& t = cat.task;
  const WorldLayout& L = t.layout;
  auto no = [&](const std::string& why) { if (reason) *reason = why; return false; };
  const std::string& an = t.objects[l.a].name;
  const bool now = init.get(L, l.pred, l.a, l.b);
  if (now == l.value && init.is_present(l.a)) return true;
  if (unchangeable(l.pred) || !L.stores(l.pred))
    return no("no action makes " + quoted(l.pred) + (l.value ? " true" : " false"));
  if (!is_unary(l.pred) && l.a == l.b) return no("a relation of " + an + " to itself");
  switch (l.pred) {
    case P::kOnTop: case P::kInside: case P::kUnder: case P::kOnFloor:
      if (!cat.movable(l.a)) return no(an + " cannot be grasped, so it cannot be moved");
      if (l.value && l.pred == P::kOnFloor && !cat.is_floor(l.b)) return no(t.objects[l.b].name + " is not a floor");
      if (l.value && l.pred == P::kInside && !t.has(l.b, kContainer | kOpenable | kFloor))
        return no(t.objects[l.b].name + " is not a container");
      return true;
    case P::kNextTo:
      if (!cat.movable(l.a) && !cat.movable(l.b))
        return no("neither " + an + " nor " + t.objects[l.b].name + " can be grasped");
      return true;
    case P::kOpen:
      if (!t.has(l.a, kOpenable)) return no(an + " is not openable");
      return true;
    case P::kToggledOn:
      if (!t.has(l.a, kToggleable)) return no(an + " is not toggleable");
      return true;
    case P::kFrozen:
      if (!t.has(l.a, kFreezable)) return no(an + " is not freezable");
      return true;
    case P::kCooked:
      if (!l.value) return no("no action makes 'cooked' false");
      if (!t.has(l.a, kCookable)) return no(an + " is not cookable");
      if (cat.vessels.empty()) return no("no cooking vessel (pan, pot) among the objects");
      if (!cat.movable(l.a)) return no(an + " cannot be grasped into a cooking vessel");
      return true;
    case P::kSliced:
      if (!l.value) return no("no action makes 'sliced' false");
      if (!t.has(l.a, kSliceable)) return no(an + " is not sliceable");
      if (cat.slicers.empty()) return no("no slicer (knife) among the objects");
      return true;
    case P::kSoaked:
      if (!t.has(l.a, kSoakable)) return no(an + " is not soakable");
      if (!l.value) return true;
      if (cat.water_sources.empty()) return no("no water source (sink) among the objects");
      if (!cat.movable(l.a)) {
        // Fixed: only if it already sits in a water source.
        for (int32_t p = init.parent[l.a], k = 0; p >= 0 && k < L.num_objects; p = init.parent[p], ++k)
          if (t.has(p, kWaterSource)) return true;
        return no(an + " cannot be grasped into a water source");
      }
      return true;
    case P::kDusty:
    case P::kStained:
    case P::kCovered: {
      // Dirt covering an object (covered x dust.n.01_1) comes off with CLEAN
      // as dust does (loose dirt) or as a stain does (stubborn dirt); an
      // abrasive takes off stains, paint, rust and scratches (executor.cpp,
      // dirt_kind). Nothing puts dirt on things.
      if (l.value) return no("no action makes " + quoted(l.pred) + " true");
      const bool covered = l.pred == P::kCovered;
      if (covered && !is_dirt(t, l.b)) return no("no action makes 'covered' false");
      if (!covered && !t.has(l.a, kDustyable | kStainable)) return no(an + " cannot be cleaned");
      const std::string dirt = covered ? t.objects[l.b].name + " off " + an : an;
      const bool sandable = covered && is_sandable_dirt(t, l.b);
      const bool stubborn = covered ? is_stubborn_dirt(t, l.b) : l.pred == P::kStained;
      if (sandable && !cat.abrasives.empty()) return true;
      if (sandable && !stubborn) return no("no abrasive (emery paper, steel wool) to sand " + dirt);
      // A running dishwasher cleans dust and stains (TOGGLE_ON), not covering dirt: that needs a sink.
      bool wash = cat.movable(l.a) && (!cat.water_sources.empty() || (!covered && !cat.washers.empty()));
      const std::string sink = covered ? "sink" : "sink or dishwasher";
      if (!stubborn) {
        if (cat.tools.empty() && !wash) return no("no cleaning tool, " + sink + " to clean " + dirt);
        return true;
      }
      bool soakable_tool = false;
      for (int32_t x : cat.tools) soakable_tool |= t.has(x, kSoakable);
      if (cat.soaps.empty() && !(soakable_tool && !cat.water_sources.empty()) && !wash)
        return no(covered ? "no soap, soakable cleaning tool with a water source, " + std::string(sandable ? "abrasive " : "") +
                                "or sink to clean " + dirt
                          : "no soap, soakable cleaning tool with a water source, sink or dishwasher to clean the stain off " + an);
      return true;
    }
    default:
      return no("no action makes " + quoted(l.pred) + (l.value ? " true" : " false"));
  }
}

}  // namespace emx::oracle_detail
