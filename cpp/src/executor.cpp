// Symbolic executor. Preconditions and effects follow EAI's BEHAVIOR simulator
// (behavior_eval/evolving_graph/evolving_graph.py); docs/actions.md has the
// table. Conventions kept from it:
//  * a support tree (ontop/inside parents): moving a parent carries its
//    children, and anything inside a closed container (at any depth) is
//    unreachable;
//  * precondition checks run in EAI's order so the same mistake gets the same
//    error type;
//  * "additional step" (already open, already holding it) is recorded but does
//    not stop the plan;
//  * a sliced object is replaced by its two parts; the whole's state is the
//    intersection of its parts' states.
// Deliberate differences (physically grounded, documented): placing inside
// needs a container; furniture cannot be grasped; EmboMatrix-native actions
// need the robot near the object.
#include "emx/executor.hpp"

#include "dirt.hpp"

#include <algorithm>

namespace emx {
namespace {

using P = Predicate;

struct Ctx {
  const Task& task;
  WorldState& s;
  const WorldLayout& L;
  const SemanticsRules& R = task.rules();

  const std::string& name(int32_t o) const { return task.objects[o].name; }
  bool has(int32_t o, uint32_t ability) const { return task.has(o, ability); }
  bool get(P p, int32_t a, int32_t b = -1) const { return s.get(L, p, a, b); }
  void set(P p, int32_t a, bool v) { s.set(L, p, a, -1, v); }
  void set(P p, int32_t a, int32_t b, bool v) { s.set(L, p, a, b, v); }
  bool closed(int32_t o) const { return has(o, kOpenable) && !get(P::kOpen, o); }
  bool is_floor(int32_t o) const { return has(o, kFloor); }
};

StepResult ok() { return {}; }
StepResult fail(ErrorType e, std::string msg) { return {false, e, std::move(msg)}; }
StepResult additional(std::string msg) { return {true, ErrorType::kAdditionalStep, std::move(msg)}; }

// Ancestors in the support tree, nearest first. Bounded: the tree has no
// cycles by construction, the bound only guards against a corrupted state.
template <class F>
bool any_ancestor(const Ctx& c, int32_t o, F&& pred) {
  int32_t steps = 0;
  for (int32_t node = o; c.s.parent[node] >= 0 && steps < c.L.num_objects; node = c.s.parent[node], ++steps)
    if (pred(node, c.s.parent[node])) return true;
  return false;
}

bool in_subtree(const Ctx& c, int32_t o, int32_t root) {
  return o == root || any_ancestor(c, o, [&](int32_t, int32_t p) { return p == root; });
}

// EAI's interactivity precondition: present, not enclosed by a closed
// container, and not a sliced whole (act on its parts instead).
StepResult interactive(const Ctx& c, int32_t o) {
  if (!c.s.is_present(o)) {
    int32_t w = c.task.objects[o].whole;
    return fail(ErrorType::kMissingStep, c.name(o) + " does not exist until " + (w >= 0 ? c.name(w) : std::string("its whole")) + " is sliced");
  }
  if (c.is_floor(o)) return ok();
  // A sliced whole has left the support tree; where it "is" is where its parts are.
  int32_t probe = o;
  if (c.has(o, kSliceable) && c.get(P::kSliced, o) && c.task.objects[o].whole < 0)
    for (int32_t i = 0; i < c.L.num_objects; ++i)
      if (c.task.objects[i].whole == o && c.s.is_present(i)) { probe = i; break; }
  int32_t blocker = -1;
  any_ancestor(c, probe, [&](int32_t node, int32_t parent) {
    if (c.s.support[node] == Support::kInside && c.closed(parent)) { blocker = parent; return true; }
    return false;
  });
  if (blocker >= 0) return fail(ErrorType::kMissingStep, c.name(blocker) + " is closed, open it first");
  if (c.has(o, kSliceable) && c.get(P::kSliced, o) && c.task.objects[o].whole < 0)
    return fail(ErrorType::kAffordance, c.name(o) + " is sliced: act on its parts (" + c.name(o) + "_part_0, " + c.name(o) + "_part_1)");
  return ok();
}

void detach(Ctx& c, int32_t o) {
  int32_t p = c.s.parent[o];
  if (p >= 0) c.set(c.s.support[o] == Support::kOnTop ? P::kOnTop : P::kInside, o, p, false);
  c.s.parent[o] = -1;
  c.s.support[o] = Support::kNone;
}

void attach(Ctx& c, int32_t o, int32_t parent, Support how) {
  detach(c, o);
  if (parent < 0 || how == Support::kNone) return;
  c.s.parent[o] = parent;
  c.s.support[o] = how;
  c.set(how == Support::kOnTop ? P::kOnTop : P::kInside, o, parent, true);
}

// Removes every placement relation of `o` as the subject, and the symmetric /
// "x under o" relations pointing at it: what picking it up breaks.
void lift(Ctx& c, int32_t o) {
  detach(c, o);
  for (int32_t x = 0; x < c.L.num_objects; ++x) {
    for (P p : {P::kOnTop, P::kInside, P::kOnFloor, P::kUnder, P::kNextTo}) c.set(p, o, x, false);
    c.set(P::kNextTo, x, o, false);
    c.set(P::kUnder, x, o, false);
  }
}

void put_on_floor(Ctx& c, int32_t o, int32_t floor) {
  c.set(P::kOnFloor, o, floor, true);
  c.set(P::kOnTop, o, floor, true);  // BEHAVIOR-1K writes (ontop x floor)
}

// The floor an unplaced object stands on: its own onfloor relation, else the
// floor of its room, else the floor the robot stands on, else the only floor.
int32_t floor_of(const Ctx& c, int32_t ref) {
  int32_t only = -1, floors = 0, agent_floor = -1;
  for (int32_t f = 0; f < c.L.num_objects; ++f) {
    if (!c.is_floor(f)) continue;
    if (c.get(P::kOnFloor, ref, f) || c.get(P::kOnTop, ref, f)) return f;
    ++floors;
    only = f;
    for (int32_t a = 0; a < c.L.num_objects; ++a)
      if (c.has(a, kAgent) && (c.get(P::kOnFloor, a, f) || c.get(P::kOnTop, a, f))) agent_floor = f;
  }
  if (!c.R.floor_by_room_or_agent) return -1;  // eai: only the object's own floor edge
  const int32_t room = c.task.objects[ref].room;
  if (room >= 0)
    for (int32_t f = 0; f < c.L.num_objects; ++f)
      if (c.is_floor(f) && c.task.objects[f].room == room) return f;
  if (agent_floor >= 0) return agent_floor;
  return floors == 1 ? only : -1;
}

// The placed object ends up where the reference object is: same parent, or on
// the same floor (EAI's place_next_to / place_under).
void settle_beside(Ctx& c, int32_t o, int32_t ref) {
  if (c.is_floor(ref)) { put_on_floor(c, o, ref); return; }
  if (c.s.parent[ref] >= 0) { attach(c, o, c.s.parent[ref], c.s.support[ref]); return; }
  if (int32_t f = floor_of(c, ref); f >= 0) put_on_floor(c, o, f);
}

int32_t* hand_of(Ctx& c, ActionType t) {
  int8_t h = action_info(t).hand;
  return h >= 0 ? &c.s.hand[h] : nullptr;
}
const char* hand_name(ActionType t) { return action_info(t).hand == 0 ? "left" : "right"; }

// ---------------------------------------------------------------- grasp / release
StepResult grasp(Ctx& c, int32_t& hand, const char* hname, int32_t o) {
  if (c.is_floor(o)) return fail(ErrorType::kAffordance, "cannot grasp the floor " + c.name(o));
  if (c.R.grasp_fixed_is_affordance) {
    if (c.has(o, kFixed)) return fail(ErrorType::kAffordance, c.name(o) + " is too big to grasp");
    if (c.has(o, kSubstance)) return fail(ErrorType::kAffordance, c.name(o) + " is a substance and cannot be grasped");
  }
  if (c.R.grasp_max_volume > 0.f && c.task.objects[o].volume > c.R.grasp_max_volume)
    return fail(ErrorType::kAffordance, c.name(o) + " is too big to grasp (volume > " + std::to_string(c.R.grasp_max_volume).substr(0, 3) + " m^3)");
  if (c.has(o, kAgent)) return fail(ErrorType::kAffordance, "the robot cannot grasp itself");
  if (hand == o) return additional(c.name(o) + " is already in the " + hname + " hand");
  if (c.s.holding(o)) return additional(c.name(o) + " is already in the other hand");
  if (hand >= 0) return fail(ErrorType::kMissingStep, std::string("the ") + hname + " hand is full (" + c.name(hand) + "): place or release it first");
  if (auto r = interactive(c, o); !r.ok) return r;
  lift(c, o);
  hand = o;
  // EAI: what is much bigger than the grasped object does not come with it.
  if (const float ratio = c.R.grasp_drops_children_ratio; ratio > 0.f && c.task.objects[o].volume > 0.f)
    for (int32_t x = 0; x < c.L.num_objects; ++x)
      if (c.s.parent[x] == o && c.task.objects[x].volume > ratio * c.task.objects[o].volume) detach(c, x);
  return ok();
}

StepResult release(Ctx& c, int32_t& hand, const char* hname, int32_t o) {
  if (hand < 0) {
    // EAI: releasing something that sits somewhere is a missing step (grasp it
    // first); releasing with an empty hand and nothing placed is a no-op.
    // eai: only graph edges (nextto, onfloor, under, either way) count;
    // ontop/inside live in EAI's relation tree, which its check does not see.
    bool placed = c.R.release_placed_by_support && c.s.parent[o] >= 0;
    for (int32_t x = 0; x < c.L.num_objects && !placed; ++x)
      placed = c.R.release_placed_by_support
                   ? c.get(P::kOnFloor, o, x) || c.get(P::kNextTo, o, x) || c.get(P::kOnTop, o, x)
                   : c.get(P::kOnFloor, o, x) || c.get(P::kNextTo, o, x) || c.get(P::kUnder, o, x) ||
                         c.get(P::kOnFloor, x, o) || c.get(P::kNextTo, x, o) || c.get(P::kUnder, x, o);
    if (placed) return fail(ErrorType::kMissingStep, c.name(o) + " is not in the " + hname + " hand");
    return additional(std::string("the ") + hname + " hand is empty");
  }
  if (hand != o) return fail(ErrorType::kMissingStep, std::string("the ") + hname + " hand holds " + c.name(hand) + ", not " + c.name(o));
  hand = -1;
  return ok();
}

// ---------------------------------------------------------------- placing
StepResult place_precondition(Ctx& c, int32_t hand, const char* hname, int32_t target) {
  if (hand < 0) return fail(ErrorType::kMissingStep, std::string("the robot holds nothing in its ") + hname + " hand");
  if (target == hand) return fail(ErrorType::kMissingStep, "cannot place " + c.name(hand) + " relative to itself");
  if (in_subtree(c, target, hand)) return fail(ErrorType::kMissingStep, c.name(target) + " is carried with " + c.name(hand) + ": release it first");
  return interactive(c, target);
}

enum class Place { kOnTop, kInside, kNextTo, kUnder };

StepResult place(Ctx& c, int32_t& hand, const char* hname, int32_t target, Place how) {
  if (how == Place::kInside && hand >= 0 && target != hand) {
    if (c.R.place_inside_needs_container && !c.has(target, kContainer) && !c.has(target, kOpenable) && !c.is_floor(target))
      return fail(ErrorType::kAffordance, c.name(target) + " is not a container: nothing can be placed inside it");
    if (c.R.place_inside_volume_check && c.task.objects[hand].volume > c.task.objects[target].volume && c.task.objects[target].volume > 0.f)
      return fail(ErrorType::kAffordance, c.name(hand) + " is too big to place inside " + c.name(target));
    if (c.closed(target)) return fail(ErrorType::kMissingStep, c.name(target) + " is closed, open it first");
  }
  if (auto r = place_precondition(c, hand, hname, target); !r.ok) return r;
  int32_t o = hand;
  switch (how) {
    case Place::kOnTop:
      if (c.is_floor(target)) {
        put_on_floor(c, o, target);
      } else {
        attach(c, o, target, Support::kOnTop);
      }
      break;
    case Place::kInside:
      attach(c, o, target, Support::kInside);
      break;
    case Place::kNextTo:
      c.set(P::kNextTo, o, target, true);
      c.set(P::kNextTo, target, o, true);
      settle_beside(c, o, target);
      break;
    case Place::kUnder:
      c.set(P::kUnder, o, target, true);
      settle_beside(c, o, target);
      break;
  }
  hand = -1;
  return ok();
}

StepResult place_nextto_ontop(Ctx& c, int32_t& hand, const char* hname, int32_t beside, int32_t support) {
  if (auto r = place_precondition(c, hand, hname, beside); !r.ok) return r;
  if (auto r = place_precondition(c, hand, hname, support); !r.ok) return r;
  int32_t o = hand;
  c.set(P::kNextTo, o, beside, true);
  c.set(P::kNextTo, beside, o, true);
  if (c.is_floor(support)) put_on_floor(c, o, support);
  else attach(c, o, support, Support::kOnTop);
  hand = -1;
  return ok();
}

StepResult transfer_contents(Ctx& c, int32_t& hand, const char* hname, int32_t target, Support how) {
  if (c.R.transfer_as_eai) {
    // EAI's pour_inside checks each content's size and a closed target, and is happy to
    // pour nothing; pour_onto needs something on/in the held object. Then place_precond.
    if (hand >= 0 && how == Support::kInside) {
      for (int32_t x = 0; x < c.L.num_objects; ++x)
        if (c.s.parent[x] == hand && c.task.objects[x].volume > c.task.objects[target].volume && c.task.objects[target].volume > 0.f)
          return fail(ErrorType::kAffordance, c.name(x) + " is too big to pour inside " + c.name(target));
      if (c.closed(target)) return fail(ErrorType::kMissingStep, c.name(target) + " is closed, open it first");
    }
    if (hand >= 0 && how == Support::kOnTop) {
      bool any = false;
      for (int32_t x = 0; x < c.L.num_objects && !any; ++x) any = c.s.parent[x] == hand;
      if (!any) return fail(ErrorType::kAffordance, "only holding " + c.name(hand) + " in the " + hname + " hand: nothing to pour");
    }
    if (auto r = place_precondition(c, hand, hname, target); !r.ok) return r;
    for (int32_t x = 0; x < c.L.num_objects; ++x)
      if (c.s.parent[x] == hand) attach(c, x, target, how);
    return ok();
  }
  if (how == Support::kInside && hand >= 0 && c.closed(target))
    return fail(ErrorType::kMissingStep, c.name(target) + " is closed, open it first");
  if (hand >= 0) {
    bool any = false;
    for (int32_t x = 0; x < c.L.num_objects && !any; ++x) any = c.s.parent[x] == hand;
    if (!any) return fail(ErrorType::kAffordance, "only holding " + c.name(hand) + " in the " + hname + " hand: nothing to pour");
  }
  if (auto r = place_precondition(c, hand, hname, target); !r.ok) return r;
  for (int32_t x = 0; x < c.L.num_objects; ++x)
    if (c.s.parent[x] == hand) attach(c, x, target, how);
  return ok();
}

// ---------------------------------------------------------------- state changes
// EAI's HighLevelActionPrecond: a free hand, the ability, not already so.
StepResult high_level(const Ctx& c, int32_t o, uint32_t ability, P pred, bool value, const char* what, bool needs_free_hand = true) {
  if (needs_free_hand && c.s.hand[0] >= 0 && c.s.hand[1] >= 0)
    return fail(ErrorType::kMissingStep, std::string("both hands are full: free one to ") + what);
  if (!c.has(o, ability)) return fail(ErrorType::kAffordance, c.name(o) + " cannot be " + what);
  if (c.get(pred, o) == value) return additional(c.name(o) + " is already " + (value ? "" : "not ") + std::string(predicate_name(pred)));
  return ok();
}

bool holding_with(const Ctx& c, uint32_t ability) {
  for (int32_t h : c.s.hand)
    if (h >= 0 && c.has(h, ability)) return true;
  return false;
}

bool inside_active(const Ctx& c, int32_t o, uint32_t ability) {
  // An ancestor with the ability that is on (or needs no switch: a teapot).
  return any_ancestor(c, o, [&](int32_t, int32_t p) {
    return c.has(p, ability) && (!c.has(p, kToggleable) || c.get(P::kToggledOn, p));
  });
}

// embomatrix: opening what is open (closing, toggling likewise) succeeds and does nothing.
bool idempotent_noop(const Ctx& c, int32_t o, uint32_t ability, P pred, bool value) {
  return c.R.idempotent_state_change_ok && c.has(o, ability) && c.get(pred, o) == value;
}

StepResult open_close(Ctx& c, int32_t o, bool open) {
  if (idempotent_noop(c, o, kOpenable, P::kOpen, open)) return ok();
  if (auto r = high_level(c, o, kOpenable, P::kOpen, open, open ? "opened" : "closed"); !r.ok || r.error != ErrorType::kNone) return r;
  if (auto r = interactive(c, o); !r.ok) return r;
  if (open && c.has(o, kToggleable) && c.get(P::kToggledOn, o))
    return fail(ErrorType::kMissingStep, c.name(o) + " is toggled on: toggle it off before opening it");
  c.set(P::kOpen, o, open);
  return ok();
}

StepResult toggle(Ctx& c, int32_t o, bool on) {
  if (idempotent_noop(c, o, kToggleable, P::kToggledOn, on)) return ok();
  if (auto r = high_level(c, o, kToggleable, P::kToggledOn, on, on ? "toggled on" : "toggled off"); !r.ok || r.error != ErrorType::kNone) return r;
  if (auto r = interactive(c, o); !r.ok) return r;
  if (on && c.has(o, kOpenable) && c.get(P::kOpen, o))
    return fail(ErrorType::kMissingStep, c.name(o) + " is open: close it before toggling it on");
  c.set(P::kToggledOn, o, on);
  if (on && c.has(o, kDishwasher))
    for (int32_t x = 0; x < c.L.num_objects; ++x)
      if (c.s.parent[x] == o) { c.set(P::kDusty, x, false); c.set(P::kStained, x, false); }
  return ok();
}

StepResult slice(Ctx& c, int32_t o) {
  if (!holding_with(c, kSlicer)) return fail(ErrorType::kMissingStep, "no knife in hand: grasp a slicer before slicing");
  if (auto r = high_level(c, o, kSliceable, P::kSliced, true, "sliced"); !r.ok || r.error != ErrorType::kNone) return r;
  if (auto r = interactive(c, o); !r.ok) return r;
  c.set(P::kSliced, o, true);
  // The parts replace the whole: same unary states, same place, same neighbours.
  for (int32_t part = 0; part < c.L.num_objects; ++part) {
    if (c.task.objects[part].whole != o) continue;
    c.s.set_present(part, true);
    for (int p = 0; p < kNumUnaryPredicates; ++p) c.set(static_cast<P>(p), part, c.get(static_cast<P>(p), o));
    attach(c, part, c.s.parent[o], c.s.support[o]);
    for (int32_t x = 0; x < c.L.num_objects; ++x)
      for (P p : {P::kNextTo, P::kOnFloor, P::kUnder})
        if (c.get(p, o, x)) c.set(p, part, x, true);
  }
  for (int h = 0; h < 2; ++h)
    if (c.s.hand[h] == o) c.s.hand[h] = -1;
  lift(c, o);
  return ok();
}

// Dirt that BEHAVIOR-1K writes as a substance covering the object,
// (covered o dust.n.01_1), and what CLEAN needs to take it off. Classed by the
// synset's head word, after B1K's particle-remover tables for cloths, brushes
// and abrasives (emery paper, steel wool):
//  * loose: any substance not named below (dust, dirt, debris, crumbs, sand,
//    lint, hair, water, spills ...). Like `dusty`: a cleaning tool in hand, or
//    o in a running sink or dishwasher.
//  * stubborn: what a cloth removes only when saturated. Like `stained`: a
//    soaked cleaning tool or soap in hand, or o in a running sink. Stains (any
//    head containing "stain"), ink, alga, paint, rust and tarnish also come
//    off with an abrasive in hand (soaked or not); oil, grease, mud, mold and
//    mildew do not.
//  * scratches (incision): only an abrasive in hand (sanding).
//  * not dirt: objects that are not substances, and wrinkles (ironing, not
//    cleaning): CLEAN leaves them.
struct Dirt {
  bool dirt = false, stubborn = false, sandable = false;
  bool loose() const { return dirt && !stubborn && !sandable; }
};

std::vector<std::string> head_words(const std::string& category) {  // "cooked__cooking_oil.n.01" -> cooked, cooking, oil
  const std::string head = category.substr(0, category.find('.'));
  std::vector<std::string> out;
  for (size_t i = 0; i <= head.size();) {
    size_t j = head.find('_', i);
    if (j == std::string::npos) j = head.size();
    if (j > i) out.push_back(head.substr(i, j - i));
    i = j + 1;
  }
  return out;
}

Dirt dirt_kind(const Task& t, int32_t s) {
  Dirt d;
  if (!t.has(s, kSubstance)) return d;
  const std::string& cat = t.objects[s].category;
  d.dirt = true;
  if (cat.substr(0, cat.find('.')).find("stain") != std::string::npos) d.stubborn = d.sandable = true;
  for (const std::string& w : head_words(cat)) {
    if (w == "wrinkle") return Dirt{};
    if (w == "incision") d.sandable = true;
    for (const char* k : {"ink", "alga", "paint", "rust", "tarnish"})
      if (w == k) d.stubborn = d.sandable = true;
    for (const char* k : {"oil", "grease", "mud", "mold", "mildew"})
      if (w == k) d.stubborn = true;
  }
  return d;
}

}  // namespace

// Declared in src/oracle_internal.hpp: the oracle plans with the same rule.
bool is_dirt(const Task& t, int32_t s) { return dirt_kind(t, s).dirt; }
bool is_stubborn_dirt(const Task& t, int32_t s) { return dirt_kind(t, s).stubborn; }
bool is_sandable_dirt(const Task& t, int32_t s) { return dirt_kind(t, s).sandable; }
bool is_abrasive(const Task& t, int32_t tool) {
  if (!t.has(tool, kCleaningTool)) return false;
  const std::vector<std::string> w = head_words(t.objects[tool].category);
  const size_t n = w.size();
  return (n >= 1 && (w[n - 1] == "sandpaper" || w[n - 1] == "abrasive")) ||
         (n >= 2 && ((w[n - 2] == "emery" && w[n - 1] == "paper") || (w[n - 2] == "steel" && w[n - 1] == "wool")));
}

namespace {

StepResult clean(Ctx& c, int32_t o) {
  bool dusty = c.get(P::kDusty, o), stained = c.get(P::kStained, o);
  bool loose = false, stubborn = false, scratched = false;  // what covers o
  if (c.L.stores(P::kCovered))
    for (int32_t s = 0; s < c.L.num_objects; ++s)
      if (s != o && c.get(P::kCovered, o, s)) {
        Dirt d = dirt_kind(c.task, s);
        loose |= d.loose();
        stubborn |= d.stubborn;
        scratched |= d.sandable && !d.stubborn;
      }
  const bool covered = loose || stubborn || scratched;
  // Dirt covering o implies it can be cleaned.
  if (!c.has(o, kDustyable) && !c.has(o, kStainable) && !covered)
    return fail(ErrorType::kAffordance, c.name(o) + " cannot be cleaned");
  if (!dusty && !stained && !covered)
    return additional(c.name(o) + " is not dirty (neither dusty nor stained, and no dirt covers it)");
  if (auto r = interactive(c, o); !r.ok) return r;
  // eai: CLEAN counts only a sink or dishwasher that is on (a teapot only soaks).
  auto washes = [&](uint32_t ability) {
    return c.R.abilities_from_names ? any_ancestor(c, o, [&](int32_t, int32_t p) {
      return c.has(p, ability) && c.has(p, kToggleable) && c.get(P::kToggledOn, p);
    }) : inside_active(c, o, ability);
  };
  bool in_washer = !c.is_floor(o) && (washes(kDishwasher) || washes(kWaterSource));
  bool soaked_tool = false, abrasive = false;
  for (int32_t h : c.s.hand) {
    if (h >= 0 && ((c.has(h, kCleaningTool) && c.get(P::kSoaked, h)) || c.has(h, kSoap))) soaked_tool = true;
    if (h >= 0 && is_abrasive(c.task, h)) abrasive = true;
  }
  bool in_sink = !c.is_floor(o) && washes(kWaterSource);
  const bool wipes = in_washer || holding_with(c, kCleaningTool);  // dust, loose dirt
  const bool scrubs = in_sink || soaked_tool;                      // stains, stubborn dirt
  bool cleaned = false;
  if (dusty && wipes) { c.set(P::kDusty, o, false); cleaned = true; }
  if (stained && scrubs) { c.set(P::kStained, o, false); cleaned = true; }
  if (covered)
    for (int32_t s = 0; s < c.L.num_objects; ++s) {
      if (s == o || !c.get(P::kCovered, o, s)) continue;
      Dirt d = dirt_kind(c.task, s);
      if ((d.loose() && wipes) || (d.stubborn && scrubs) || (d.sandable && abrasive)) {
        c.set(P::kCovered, o, s, false);
        cleaned = true;
      }
    }
  if (cleaned) return ok();
  if (!dusty && !loose && !stained && !stubborn)
    return fail(ErrorType::kMissingStep, "no abrasive (emery paper, steel wool) in hand to sand " + c.name(o) + " smooth");
  if (!dusty && !loose)
    return fail(ErrorType::kMissingStep, "no soaked cleaning tool in hand, and " + c.name(o) + " is not in a running sink");
  return fail(ErrorType::kMissingStep, "no cleaning tool in hand, and " + c.name(o) + " is not in a running sink or dishwasher");
}

StepResult soak_dry(Ctx& c, int32_t o, bool soak) {
  if (auto r = high_level(c, o, kSoakable, P::kSoaked, soak, soak ? "soaked" : "dried"); !r.ok || r.error != ErrorType::kNone) return r;
  if (auto r = interactive(c, o); !r.ok) return r;
  if (soak && !inside_active(c, o, kWaterSource))
    return fail(ErrorType::kMissingStep, c.name(o) + " is not in a running sink (or a teapot)");
  c.set(P::kSoaked, o, soak);
  return ok();
}

StepResult freeze(Ctx& c, int32_t o, bool frozen) {
  if (auto r = high_level(c, o, kFreezable, P::kFrozen, frozen, frozen ? "frozen" : "unfrozen"); !r.ok || r.error != ErrorType::kNone) return r;
  if (auto r = interactive(c, o); !r.ok) return r;
  c.set(P::kFrozen, o, frozen);
  return ok();
}

StepResult cook(Ctx& c, int32_t o) {
  if (auto r = high_level(c, o, kCookable, P::kCooked, true, "cooked"); !r.ok || r.error != ErrorType::kNone) return r;
  if (auto r = interactive(c, o); !r.ok) return r;
  if (!any_ancestor(c, o, [&](int32_t, int32_t p) { return c.has(p, kCookingVessel); }))
    return fail(ErrorType::kMissingStep, c.name(o) + " is not in a pan or saucepan");
  c.set(P::kCooked, o, true);
  return ok();
}

// ---------------------------------------------------------------- EmboMatrix native
bool robot_at(const Ctx& c, int32_t o) {
  return c.s.near == o || any_ancestor(c, o, [&](int32_t, int32_t p) { return p == c.s.near; });
}

int32_t room_of(const Ctx& c, int32_t o) {
  int32_t root = o;
  any_ancestor(c, o, [&](int32_t, int32_t p) { root = p; return false; });
  return c.task.objects[root].room >= 0 ? c.task.objects[root].room : c.task.objects[o].room;
}

StepResult need_near(const Ctx& c, int32_t o) {
  if (!robot_at(c, o)) return fail(ErrorType::kMissingStep, "the robot is not at " + c.name(o) + ": move to it first");
  return ok();
}

StepResult apply_native(Ctx& c, const Action& a) {
  const int32_t o = a.obj[0];
  switch (a.type) {
    case ActionType::kMove:
      if (auto r = interactive(c, o); !r.ok) return r;
      c.s.near = o;
      if (int32_t r = room_of(c, o); r >= 0) c.s.room = r;
      return ok();
    case ActionType::kTurn:
      return ok();
    case ActionType::kMoveForward:
      if (a.num[0] < 0) return fail(ErrorType::kWrongArity, "move_forward distance must be >= 0");
      c.s.near = -1;
      return ok();
    case ActionType::kGoToRoom:
      c.s.room = a.room;
      c.s.near = -1;
      return ok();
    case ActionType::kPickUp: {
      if (auto r = need_near(c, o); !r.ok) return r;
      int32_t& hand = c.s.hand[1] < 0 || c.s.hand[0] >= 0 ? c.s.hand[1] : c.s.hand[0];
      return grasp(c, hand, "robot's", o);
    }
    case ActionType::kPlace: {
      int32_t& hand = c.s.hand[1] >= 0 ? c.s.hand[1] : c.s.hand[0];
      if (hand < 0) return fail(ErrorType::kMissingStep, "the robot holds nothing to place");
      if (auto r = need_near(c, o); !r.ok) return r;
      return place(c, hand, "robot's", o, a.relation == 2 ? Place::kInside : Place::kOnTop);
    }
    case ActionType::kNativeOpen:
    case ActionType::kNativeClose:
      if (auto r = need_near(c, o); !r.ok) return r;
      return open_close(c, o, a.type == ActionType::kNativeOpen);
    case ActionType::kNativeToggleOn:
    case ActionType::kNativeToggleOff:
      if (auto r = need_near(c, o); !r.ok) return r;
      return toggle(c, o, a.type == ActionType::kNativeToggleOn);
    case ActionType::kHeatObjectWithSource:
    case ActionType::kCookObjectWithTool:
    case ActionType::kFrozeObjectWithSource: {
      const int32_t src = a.obj[1];
      if (!c.s.holding(o)) { if (auto r = need_near(c, o); !r.ok) return r; }
      if (auto r = interactive(c, o); !r.ok) return r;
      if (auto r = need_near(c, src); !r.ok && !c.s.holding(src)) return r;
      bool cold = a.type == ActionType::kFrozeObjectWithSource;
      uint32_t src_ability = cold ? kColdSource : (a.type == ActionType::kCookObjectWithTool ? kHeatSource | kCookingVessel : kHeatSource);
      if (!c.has(src, src_ability))
        return fail(ErrorType::kAffordance, c.name(src) + (cold ? " is not a cold source" : " is not a heat source"));
      if (c.has(src, kToggleable) && !c.has(src, kCookingVessel) && !cold && !c.get(P::kToggledOn, src))
        return fail(ErrorType::kMissingStep, c.name(src) + " is off: toggle it on first");
      if (a.type == ActionType::kHeatObjectWithSource) { c.set(P::kHot, o, true); return ok(); }
      if (a.type == ActionType::kCookObjectWithTool) {
        if (!c.has(o, kCookable)) return fail(ErrorType::kAffordance, c.name(o) + " cannot be cooked");
        c.set(P::kCooked, o, true);
        c.set(P::kHot, o, true);
        return ok();
      }
      if (!c.has(o, kFreezable)) return fail(ErrorType::kAffordance, c.name(o) + " cannot be frozen");
      c.set(P::kFrozen, o, true);
      return ok();
    }
    default:
      return fail(ErrorType::kUnknownAction, "not a native action");
  }
}

StepResult apply_eai(Ctx& c, const Action& a) {
  const int32_t o = a.obj[0];
  switch (a.type) {
    case ActionType::kLeftGrasp:
    case ActionType::kRightGrasp:
      return grasp(c, *hand_of(c, a.type), hand_name(a.type), o);
    case ActionType::kLeftRelease:
    case ActionType::kRightRelease:
      return release(c, *hand_of(c, a.type), hand_name(a.type), o);
    case ActionType::kLeftPlaceOnTop:
    case ActionType::kRightPlaceOnTop:
      return place(c, *hand_of(c, a.type), hand_name(a.type), o, Place::kOnTop);
    case ActionType::kLeftPlaceInside:
    case ActionType::kRightPlaceInside:
      return place(c, *hand_of(c, a.type), hand_name(a.type), o, Place::kInside);
    case ActionType::kLeftPlaceNextTo:
    case ActionType::kRightPlaceNextTo:
      return place(c, *hand_of(c, a.type), hand_name(a.type), o, Place::kNextTo);
    case ActionType::kLeftPlaceUnder:
    case ActionType::kRightPlaceUnder:
      return place(c, *hand_of(c, a.type), hand_name(a.type), o, Place::kUnder);
    case ActionType::kLeftPlaceNextToOnTop:
    case ActionType::kRightPlaceNextToOnTop:
      return place_nextto_ontop(c, *hand_of(c, a.type), hand_name(a.type), o, a.obj[1]);
    case ActionType::kLeftTransferContentsInside:
    case ActionType::kRightTransferContentsInside:
      return transfer_contents(c, *hand_of(c, a.type), hand_name(a.type), o, Support::kInside);
    case ActionType::kLeftTransferContentsOnTop:
    case ActionType::kRightTransferContentsOnTop:
      return transfer_contents(c, *hand_of(c, a.type), hand_name(a.type), o, Support::kOnTop);
    case ActionType::kOpen: return open_close(c, o, true);
    case ActionType::kClose: return open_close(c, o, false);
    case ActionType::kToggleOn: return toggle(c, o, true);
    case ActionType::kToggleOff: return toggle(c, o, false);
    case ActionType::kSlice: return slice(c, o);
    case ActionType::kClean: return clean(c, o);
    case ActionType::kSoak: return soak_dry(c, o, true);
    case ActionType::kDry: return soak_dry(c, o, false);
    case ActionType::kFreeze: return freeze(c, o, true);
    case ActionType::kUnfreeze: return freeze(c, o, false);
    case ActionType::kCook: return cook(c, o);
    default: return apply_native(c, a);
  }
}

// A sliced whole's state is what all its parts share (EAI's get_state_dict).
void sync_sliced_wholes(Ctx& c) {
  const int32_t n = c.L.num_objects;
  for (int32_t w = 0; w < n; ++w) {
    if (c.task.objects[w].whole >= 0 || !c.has(w, kSliceable) || !c.get(P::kSliced, w)) continue;
    int32_t parts[2], k = 0;
    for (int32_t i = 0; i < n && k < 2; ++i)
      if (c.task.objects[i].whole == w) parts[k++] = i;
    if (k == 0) continue;
    for (int p = 0; p < kNumUnaryPredicates; ++p) {
      bool all = true;
      for (int j = 0; j < k; ++j) all &= c.get(static_cast<P>(p), parts[j]);
      c.set(static_cast<P>(p), w, all);
    }
    for (int p = kNumUnaryPredicates; p < kNumPredicates; ++p) {
      int slot = c.L.binary_slot[p];
      if (slot < 0) continue;
      for (int32_t wd = 0; wd < c.L.words; ++wd) {
        uint64_t bits = ~uint64_t{0};
        for (int j = 0; j < k; ++j) bits &= c.s.binary[(static_cast<size_t>(slot) * n + parts[j]) * c.L.words + wd];
        c.s.binary[(static_cast<size_t>(slot) * n + w) * c.L.words + wd] = bits;
      }
    }
  }
}

bool is_place(ActionType t) {
  switch (t) {
    case ActionType::kLeftPlaceOnTop: case ActionType::kRightPlaceOnTop:
    case ActionType::kLeftPlaceInside: case ActionType::kRightPlaceInside:
    case ActionType::kLeftPlaceNextTo: case ActionType::kRightPlaceNextTo:
    case ActionType::kLeftPlaceUnder: case ActionType::kRightPlaceUnder:
    case ActionType::kLeftPlaceNextToOnTop: case ActionType::kRightPlaceNextToOnTop:
    case ActionType::kLeftTransferContentsInside: case ActionType::kRightTransferContentsInside:
    case ActionType::kLeftTransferContentsOnTop: case ActionType::kRightTransferContentsOnTop:
      return true;
    default:
      return false;
  }
}

}  // namespace

WorldState judged_state(const Task& task, const WorldState& state) {
  WorldState out = state;
  const WorldLayout& L = task.layout;
  if (!task.rules().nextto_from_shared_parent || !L.stores(P::kNextTo)) return out;
  // eai: EAI teleports a placed object onto/into its parent beside what is
  // already there, and iGibson's NextTo is geometric: siblings are next to
  // each other. Floors are no such parent (a room is not "beside").
  for (int32_t a = 0; a < L.num_objects; ++a) {
    const int32_t p = state.parent[a];
    if (p < 0 || task.has(p, kFloor) || !state.is_present(a)) continue;
    for (int32_t b = 0; b < L.num_objects; ++b)
      if (b != a && state.parent[b] == p && state.support[b] == state.support[a] && state.is_present(b))
        out.set(L, P::kNextTo, a, b, true);
  }
  return out;
}

StepResult apply(const Task& task, WorldState& state, const Action& action) {
  if (action.error != ErrorType::kNone) return fail(action.error, action.detail);
  if (action.type == ActionType::kInvalid || static_cast<int>(action.type) >= kNumActionTypes)
    return fail(ErrorType::kUnknownAction, "invalid action");
  const ActionInfo& info = action_info(action.type);
  for (int i = 0; i < info.num_objects; ++i)
    if (action.obj[i] < 0 || action.obj[i] >= task.num_objects())
      return fail(ErrorType::kUnknownObject, "object index out of range");
  Ctx c{task, state, task.layout};
  StepResult r = apply_eai(c, action);
  if (r.ok) sync_sliced_wholes(c);
  return r;
}

namespace {

// Whether a failed step is one the wrong-order rule looks at: a missing step
// (or, unless the profile ranks it first, an affordance error) of a non-place action.
bool wrong_order_candidate(const Task& task, const Action& action, const StepResult& r) {
  if (r.ok || (r.error != ErrorType::kMissingStep && r.error != ErrorType::kAffordance) || is_place(action.type))
    return false;
  return r.error != ErrorType::kAffordance || task.rules().affordance_can_be_wrong_order;
}

bool works_cleanly_in(const Task& task, const WorldState& earlier, const Action& action) {
  WorldState probe = earlier;
  StepResult pr = apply(task, probe, action);
  return pr.ok && pr.error == ErrorType::kNone;
}

void mark_wrong_order(StepResult& r, size_t k) {
  r.error = ErrorType::kWrongOrder;
  r.message += " (it could have been done before step " + std::to_string(k + 1) + ")";
}

}  // namespace

void classify_failure(const Task& task, const WorldState& start, const Action* prefix, size_t step,
                      const Action& action, StepResult& r) {
  if (step == 0 || !wrong_order_candidate(task, action, r)) return;
  WorldState replay = start;
  for (size_t k = 0; k < step; ++k) {
    if (works_cleanly_in(task, replay, action)) return mark_wrong_order(r, k);
    apply(task, replay, prefix[k]);
  }
}

void classify_failure(const Task& task, const std::vector<const WorldState*>& earlier, const Action& action,
                      StepResult& r) {
  if (earlier.empty() || !wrong_order_candidate(task, action, r)) return;
  for (size_t k = 0; k < earlier.size(); ++k)
    if (works_cleanly_in(task, *earlier[k], action)) return mark_wrong_order(r, k);
}

std::optional<std::pair<size_t, StepResult>> plan_rejection(const Task& task, const Action* plan, size_t n) {
  if (!task.rules().plan_checked_before_running) return std::nullopt;
  // EAI's evaluate_format: an unknown action or object anywhere, then a wrong arity anywhere.
  size_t bad = n;
  for (size_t i = 0; i < n && bad == n; ++i)
    if (plan[i].error == ErrorType::kUnknownAction || plan[i].error == ErrorType::kUnknownObject) bad = i;
  for (size_t i = 0; i < n && bad == n; ++i)
    if (plan[i].error == ErrorType::kWrongArity) bad = i;
  if (bad == n) return std::nullopt;
  return std::make_pair(bad, fail(plan[bad].error, "step " + std::to_string(bad + 1) + ": " + plan[bad].detail +
                                                       " (the plan is checked as a whole before it runs)"));
}

Execution execute(const Task& task, const WorldState& start, const std::vector<Action>& plan, bool keep_trace) {
  Execution ex;
  ex.final_state = start;
  ex.plan_length = static_cast<int32_t>(plan.size());
  ex.completed = true;
  if (auto rejected = plan_rejection(task, plan.data(), plan.size())) {
    // Nothing runs: the plan fails at its first step, the message names the step at fault.
    if (keep_trace) ex.trace.push_back({plan[0], rejected->second});
    ex.completed = false;
    ex.first_error = rejected->second.error;
    return ex;
  }
  for (size_t i = 0; i < plan.size(); ++i) {
    StepResult r = apply(task, ex.final_state, plan[i]);
    if (!r.ok) classify_failure(task, start, plan.data(), i, plan[i], r);
    if (keep_trace) ex.trace.push_back({plan[i], r});
    if (!r.ok) {
      ex.completed = false;
      ex.first_error = r.error;
      break;
    }
    ++ex.executed;
  }
  return ex;
}

}  // namespace emx
