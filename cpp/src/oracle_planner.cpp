// Oracle, part 3: the macro-step planner that makes a grounding's literals
// true. Every step is simulated with the executor's own apply(), so whatever
// the planner emits executes as written; a step that fails is not taken and
// the macro reports why.
#include <algorithm>

#include "emx/executor.hpp"
#include "oracle_internal.hpp"

namespace emx::oracle_detail {

using P = Predicate;

// ---------------------------------------------------------------- the planner

namespace {

enum class How { kOnTop, kInside, kNextTo, kUnder };
constexpr int kLeft = 0, kRight = 1;

ActionType grasp_type(int h) { return h == kLeft ? ActionType::kLeftGrasp : ActionType::kRightGrasp; }
ActionType release_type(int h) { return h == kLeft ? ActionType::kLeftRelease : ActionType::kRightRelease; }
ActionType place_type(int h, How how) {
  switch (how) {
    case How::kOnTop: return h == kLeft ? ActionType::kLeftPlaceOnTop : ActionType::kRightPlaceOnTop;
    case How::kInside: return h == kLeft ? ActionType::kLeftPlaceInside : ActionType::kRightPlaceInside;
    case How::kNextTo: return h == kLeft ? ActionType::kLeftPlaceNextTo : ActionType::kRightPlaceNextTo;
    case How::kUnder: return h == kLeft ? ActionType::kLeftPlaceUnder : ActionType::kRightPlaceUnder;
  }
  return ActionType::kInvalid;
}

// Order in which literals are worked on: processing before placing, placing
// before the relations that break when things move, closing and switching last.
int phase(const Task& t, const Lit& l) {
  switch (l.pred) {
    case P::kStained: return 0;
    case P::kDusty: return 1;
    case P::kCovered: return l.value ? 13 : is_stubborn_dirt(t, l.b) || is_sandable_dirt(t, l.b) ? 0 : 1;  // like a stain, or like dust
    case P::kCooked: return 2;
    case P::kFrozen: return 3;
    case P::kSoaked: return l.value ? 4 : 5;
    case P::kSliced: return 6;
    case P::kOnTop: case P::kInside: case P::kOnFloor: return l.value ? 7 : 8;
    case P::kUnder: case P::kNextTo: return l.value ? 9 : 8;
    case P::kOpen: return l.value ? 10 : 11;
    case P::kToggledOn: return 12;
    default: return 13;
  }
}

class Planner {
 public:
  Planner(const Catalog& cat, const std::vector<Lit>& lits, const OracleOptions& options)
      : cat_(cat), t_(cat.task), L_(cat.task.layout), lits_(lits), opt_(options), s_(cat.task.initial) {
    const int32_t n = t_.num_objects();
    home_parent_.assign(n, -1);
    home_support_.assign(n, Support::kNone);
    home_floor_.assign(n, -1);
    support_of_.assign(n, -1);
    inside_of_.assign(n, -1);
    beside_of_.assign(n, -1);
    want_soaked_.assign(n, 0);
    for (const Lit& l : lits_) {
      if (!l.value && l.b >= 0) avoid_.push_back({l.a, l.b});
      if (l.value && (l.pred == P::kOnTop || l.pred == P::kOnFloor) && support_of_[l.a] < 0) support_of_[l.a] = l.b;
      if (l.value && l.pred == P::kInside && inside_of_[l.a] < 0) inside_of_[l.a] = l.b;
      if (l.value && l.pred == P::kSoaked) want_soaked_[l.a] = 1;
      if (l.value && l.pred == P::kNextTo && cat_.graspable(l.a) && beside_of_[l.a] < 0) beside_of_[l.a] = l.b;
    }
  }

  Achievement run() {
    Achievement out;
    out.messages.assign(lits_.size(), "");
    std::vector<size_t> order(lits_.size());
    for (size_t i = 0; i < order.size(); ++i) order[i] = i;
    std::stable_sort(order.begin(), order.end(), [&](size_t x, size_t y) { return phase(t_, lits_[x]) < phase(t_, lits_[y]); });
    order_nextto(order);
    std::vector<int32_t> prev_unmet;
    for (round_ = 0; round_ < 6 && !too_long_; ++round_) {
      for (size_t i : order) {
        if (holds(lits_[i])) continue;
        err_.clear();
        if (!achieve(lits_[i]) && out.messages[i].empty()) out.messages[i] = err_.empty() ? "no way found" : err_;
        if (too_long_) break;
      }
      std::vector<int32_t> unmet;
      for (size_t i = 0; i < lits_.size(); ++i)
        if (!holds(lits_[i])) unmet.push_back(static_cast<int32_t>(i));
      if (unmet.empty() || unmet == prev_unmet) { prev_unmet = unmet; break; }
      prev_unmet = unmet;
    }
    out.unmet.clear();
    for (size_t i = 0; i < lits_.size(); ++i)
      if (!holds(lits_[i])) out.unmet.push_back(static_cast<int32_t>(i));
    out.actions = std::move(plan_);
    out.final_state = std::move(s_);
    out.too_long = too_long_;
    return out;
  }

 private:
  // ------------------------------------------------------------ state queries
  bool get(P p, int32_t a, int32_t b = -1) const { return s_.get(L_, p, a, b); }
  bool closed(int32_t o) const { return t_.has(o, kOpenable) && !get(P::kOpen, o); }
  int hand_of(int32_t o) const { return s_.hand[kLeft] == o ? kLeft : s_.hand[kRight] == o ? kRight : -1; }
  const std::string& name(int32_t o) const { return t_.objects[o].name; }
  bool sliced_whole(int32_t o) const {
    return t_.objects[o].whole < 0 && t_.has(o, kSliceable) && get(P::kSliced, o) && !cat_.parts[o].empty();
  }
  // The objects to act on for `o`: its parts once it is sliced.
  std::vector<int32_t> sub(int32_t o) const { return sliced_whole(o) ? cat_.parts[o] : std::vector<int32_t>{o}; }

  bool in_subtree(int32_t o, int32_t root) const {
    for (int32_t x = o, k = 0; x >= 0 && k <= L_.num_objects; x = s_.parent[x], ++k)
      if (x == root) return true;
    return false;
  }
  // Closed containers around `o`, outermost first.
  std::vector<int32_t> blockers(int32_t o) const {
    std::vector<int32_t> out;
    for (int32_t x = o, k = 0; s_.parent[x] >= 0 && k < L_.num_objects; x = s_.parent[x], ++k)
      if (s_.support[x] == Support::kInside && closed(s_.parent[x])) out.push_back(s_.parent[x]);
    std::reverse(out.begin(), out.end());
    return out;
  }
  bool interactive(int32_t o) const {
    return s_.is_present(o) && (cat_.is_floor(o) || blockers(o).empty()) && !sliced_whole(o);
  }
  bool ancestor_with(int32_t o, uint32_t ability, bool active) const {
    for (int32_t p = s_.parent[o], k = 0; p >= 0 && k < L_.num_objects; p = s_.parent[p], ++k)
      if (t_.has(p, ability) && (!active || !t_.has(p, kToggleable) || get(P::kToggledOn, p))) return true;
    return false;
  }
  bool avoided(int32_t o, int32_t target) const {
    for (auto [a, b] : avoid_)
      if (a == o && b == target) return true;
    return false;
  }

  bool holds(const Lit& l) const { return get(l.pred, l.a, l.b) == l.value; }

  // ------------------------------------------------------------ primitive steps
  bool step(ActionType type, int32_t a, int32_t b = -1) {
    Action act;
    act.type = type;
    act.obj[0] = a;
    act.obj[1] = b;
    if (static_cast<int>(plan_.size()) >= opt_.max_actions) {
      too_long_ = true;
      err_ = "the plan needs more than " + std::to_string(opt_.max_actions) + " actions";
      return false;
    }
    WorldState next = s_;
    StepResult r = apply(t_, next, act);
    if (!r.ok) {
      err_ = describe(t_, act) + " fails: " + r.message;
      return false;
    }
    if (r.error == ErrorType::kAdditionalStep) return true;
    s_ = std::move(next);
    plan_.push_back(act);
    return true;
  }

  int32_t floor_for(int32_t o, int32_t avoid = -1) const {
    int32_t best = -1;
    auto ok = [&](int32_t f) { return f != avoid && !avoided(o, f); };
    if (home_floor_[o] >= 0 && ok(home_floor_[o])) return home_floor_[o];
    for (int32_t f : cat_.floors) {
      if (!ok(f)) continue;
      if (best < 0) best = f;
      if (t_.objects[o].room >= 0 && t_.objects[f].room == t_.objects[o].room) return f;
    }
    return best;
  }

  // Puts down what hand h holds: back where it was taken from, else on a floor, else releases it.
  bool stash(int h) {
    int32_t o = s_.hand[h];
    if (o < 0) return true;
    std::string saved = err_;
    int32_t p = home_parent_[o];
    if (p >= 0 && p != o && s_.is_present(p) && interactive(p) && !in_subtree(p, o) && !avoided(o, p) &&
        !(home_support_[o] == Support::kInside && closed(p)) &&
        step(place_type(h, home_support_[o] == Support::kInside ? How::kInside : How::kOnTop), p)) {
      err_ = saved;
      return true;
    }
    if (int32_t f = floor_for(o); f >= 0 && step(place_type(h, How::kOnTop), f)) { err_ = saved; return true; }
    bool ok = step(release_type(h), o);
    if (ok) err_ = saved;
    return ok;
  }

  bool free_hand(int32_t keep = -1) {
    if (s_.hand[kLeft] < 0 || s_.hand[kRight] < 0) return true;
    int h = s_.hand[kRight] != keep ? kRight : kLeft;
    return stash(h);
  }

  bool open_obj(int32_t x) {
    if (!closed(x)) return true;
    if (!make_reachable(x)) return false;
    if (t_.has(x, kToggleable) && get(P::kToggledOn, x) && !(free_hand() && step(ActionType::kToggleOff, x))) return false;
    return free_hand() && step(ActionType::kOpen, x);
  }

  bool close_obj(int32_t x) {
    if (!t_.has(x, kOpenable) || !get(P::kOpen, x)) return true;
    if (int h = hand_of(x); h >= 0 && !stash(h)) return false;
    return make_reachable(x) && free_hand() && step(ActionType::kClose, x);
  }

  bool make_reachable(int32_t o) {
    if (hand_of(o) >= 0 || cat_.is_floor(o)) return true;
    for (int32_t b : blockers(o))
      if (!open_obj(b)) return false;
    return true;
  }

  // Grasps o (if not held already) and returns the hand, or -1.
  int grasp(int32_t o, int pref, bool tool = false) {
    if (int h = hand_of(o); h >= 0) return h;
    if (!cat_.graspable(o)) { err_ = name(o) + " cannot be grasped"; return -1; }
    if (!make_reachable(o)) return -1;
    int h = pref;
    if (s_.hand[h] >= 0) {
      if (s_.hand[1 - h] < 0 && !tool) h = 1 - h;
      else if (!stash(h)) return -1;
    }
    home_parent_[o] = s_.parent[o];
    home_support_[o] = s_.support[o];
    home_floor_[o] = -1;
    if (s_.parent[o] < 0)
      for (int32_t f : cat_.floors)
        if (get(P::kOnFloor, o, f)) { home_floor_[o] = f; break; }
    if (!step(grasp_type(h), o)) return -1;
    return h;
  }

  // When `target` sits on or in `o` (at any depth), takes the part of that
  // stack above o off it, so o can be carried to the target.
  bool unstack(int32_t target, int32_t o) {
    if (target == o || !in_subtree(target, o)) return true;
    int32_t c = target;
    while (s_.parent[c] != o) c = s_.parent[c];
    return put_away(c, o);
  }

  bool place(int32_t o, How how, int32_t target) {
    if (!unstack(target, o)) return false;
    if (int h = hand_of(target); h >= 0 && !stash(h)) return false;
    if (how == How::kInside && closed(target) && !open_obj(target)) return false;
    if (!make_reachable(target)) return false;
    if (hand_of(o) < 0 && !interactive(o) && !make_reachable(o)) return false;
    int h = grasp(o, kRight);
    if (h < 0) return false;
    if (!make_reachable(target)) return false;
    return step(place_type(h, how), target);
  }

  // x must be inside C and next to y, and y must be inside C too: placing x
  // next to y later puts it inside C, so the first pass skips placing it now.
  bool settles_later(int32_t x) const {
    int32_t y = beside_of_[x];
    return y >= 0 && y != x && inside_of_[x] >= 0 && inside_of_[y] == inside_of_[x] && (beside_of_[y] != x || x < y) &&
           cat_.graspable(y);
  }

  // Next to `beside` and on top of `support` in one step (EAI's PLACE_NEXTTO_ONTOP).
  bool place_beside_on(int32_t o, int32_t beside, int32_t support) {
    for (int32_t x : {beside, support})
      if (!unstack(x, o)) return false;
    for (int32_t x : {beside, support})
      if (int h = hand_of(x); h >= 0 && !stash(h)) return false;
    if (!make_reachable(beside) || !make_reachable(support)) return false;
    int h = grasp(o, kRight);
    if (h < 0) return false;
    if (!make_reachable(beside) || !make_reachable(support)) return false;
    return step(h == kLeft ? ActionType::kLeftPlaceNextToOnTop : ActionType::kRightPlaceNextToOnTop, beside, support);
  }

  // Moves o somewhere that is not `avoid` (for negated relations).
  bool put_away(int32_t o, int32_t avoid) {
    int h = grasp(o, kRight);
    if (h < 0) return false;
    int32_t f = floor_for(o, avoid);
    if (f >= 0 && step(place_type(h, How::kOnTop), f)) return true;
    int32_t p = home_parent_[o];
    if (p >= 0 && p != avoid && interactive(p) && !in_subtree(p, o) &&
        step(place_type(h, home_support_[o] == Support::kInside ? How::kInside : How::kOnTop), p))
      return true;
    return step(release_type(h), o);
  }

  // ------------------------------------------------------------ choosing helpers
  static constexpr double kUnfit = 1e9;  // a score that rules a candidate out

  // The present candidate with the lowest score (ties: the first), or -1.
  template <class Score>
  int32_t pick(const std::vector<int32_t>& cands, Score&& score) const {
    int32_t best = -1;
    double best_s = kUnfit;
    for (int32_t c : cands) {
      if (!s_.is_present(c)) continue;
      double sc = score(c);
      if (sc < best_s) { best_s = sc; best = c; }
    }
    return best;
  }
  double reach_cost(int32_t o) const { return hand_of(o) >= 0 ? -2.0 : static_cast<double>(blockers(o).size()); }

  int32_t pick_tool(int32_t x, bool need_soakable) const {
    // Made for cleaning (by the synset's head word), rather than a sock or a sweater.
    static const char* kGood[] = {"rag", "towel", "dishtowel", "scrub_brush", "brush", "sponge", "cloth", "dishcloth",
                                  "washcloth", "wipe", "scrubber", "mop", "broom", "duster", "scraper", "vacuum", "steel_wool"};
    return pick(cat_.tools, [&](int32_t c) {
      if (need_soakable && !t_.has(c, kSoakable)) return kUnfit;
      double sc = reach_cost(c) + (c == x ? 50.0 : 0.0) + (in_subtree(x, c) ? 100.0 : 0.0);
      if (get(P::kSoaked, c)) sc -= 1.0;
      const std::string& cat = t_.objects[c].category;
      const std::string head = cat.substr(0, cat.find('.'));
      bool good = false;
      for (const char* g : kGood) {
        const std::string w(g);
        good |= head == w || (head.size() > w.size() && head.compare(head.size() - w.size() - 1, w.size() + 1, "_" + w) == 0);
      }
      if (!good) sc += 5.0;
      if (cat_.goal_object[c]) sc += want_soaked_[c] ? -0.5 : 0.2;
      return sc;
    });
  }

  int32_t pick_water(int32_t x) const {
    return pick(cat_.water_sources, [&](int32_t w) {
      if (w == x) return kUnfit;
      double sc = reach_cost(w) + (in_subtree(w, x) ? 10.0 : 0.0);  // on x: has to come off first
      if (!t_.has(w, kFixed)) sc += 3.0;
      if (!t_.has(w, kContainer | kOpenable)) sc += 1.0;
      if (t_.has(w, kOpenable) && t_.has(w, kToggleable)) sc += 2.0;
      return sc;
    });
  }

  bool activate_water(int32_t w) {
    if (!t_.has(w, kToggleable) || get(P::kToggledOn, w)) return true;
    return toggle(w, true);
  }

  bool into(int32_t o, int32_t container) {
    How how = t_.has(container, kContainer | kOpenable) ? How::kInside : How::kOnTop;
    return place(o, how, container);
  }

  // ------------------------------------------------------------ macros
  bool toggle(int32_t x, bool on) {
    if (get(P::kToggledOn, x) == on) return true;
    if (on && t_.has(x, kOpenable) && get(P::kOpen, x) && !close_obj(x)) return false;
    if (int h = hand_of(x); h < 0 && !make_reachable(x)) return false;
    return free_hand(x) && step(on ? ActionType::kToggleOn : ActionType::kToggleOff, x);
  }

  bool simple(int32_t x, ActionType type) {
    if (!make_reachable(x)) return false;
    return free_hand(x) && step(type, x);
  }

  bool cook(int32_t x) {
    if (get(P::kCooked, x)) return true;
    if (!ancestor_with(x, kCookingVessel, false)) {
      int32_t v = pick(cat_.vessels, [&](int32_t c) {
        if (c == x) return kUnfit;
        return reach_cost(c) + (in_subtree(c, x) ? 10.0 : 0.0) + (t_.has(c, kContainer) ? 0.0 : 1.0) + (t_.has(c, kWaterSource) ? 0.5 : 0.0);
      });
      if (v < 0) { err_ = "no cooking vessel for " + name(x); return false; }
      if (!into(x, v)) return false;
    }
    return simple(x, ActionType::kCook);
  }

  bool slice(int32_t x) {
    if (get(P::kSliced, x)) return true;
    int32_t k = pick(cat_.slicers, [&](int32_t c) { return reach_cost(c); });
    if (k < 0) { err_ = "no slicer"; return false; }
    if (int h = hand_of(x); h >= 0 && !stash(h)) return false;
    if (grasp(k, kLeft, true) < 0) return false;
    if (!make_reachable(x)) return false;
    if (!free_hand(k)) return false;
    return step(ActionType::kSlice, x);
  }

  bool soak(int32_t x) {
    if (get(P::kSoaked, x)) return true;
    if (!ancestor_with(x, kWaterSource, true)) {
      int32_t w = -1;
      for (int32_t p = s_.parent[x], k = 0; p >= 0 && k < L_.num_objects && w < 0; p = s_.parent[p], ++k)
        if (t_.has(p, kWaterSource)) w = p;
      if (w < 0) {
        w = pick_water(x);
        if (w < 0) { err_ = "no water source for " + name(x); return false; }
        if (!cat_.graspable(x)) { err_ = name(x) + " cannot be grasped into a water source"; return false; }
        if (!into(x, w)) return false;
      }
      if (!activate_water(w)) return false;
    }
    return simple(x, ActionType::kSoak);
  }

  // Makes pred(x, dirt) false: dusty(x), stained(x), or covered(x, dirt) for
  // a substance CLEAN removes (is_dirt). Dust and loose dirt need any
  // cleaning tool; stains and stubborn dirt a soaked cleaning tool or soap;
  // a running sink removes both; sandable dirt (stains, rust, scratches)
  // comes off with an abrasive, scratches only so.
  bool clean(int32_t x, P pred, int32_t dirt = -1) {
    auto dirty = [&] { return get(pred, x, dirt); };
    if (!dirty()) return true;
    const bool covered = pred == P::kCovered;
    const bool sandable = covered && is_sandable_dirt(t_, dirt);
    const bool stain = pred == P::kStained || (covered && is_stubborn_dirt(t_, dirt));
    const bool scratch = sandable && !stain;
    auto holding = [&](auto&& want) {
      for (int32_t h : s_.hand)
        if (h >= 0 && want(h)) return true;
      return false;
    };
    auto do_clean = [&] { return make_reachable(x) && step(ActionType::kClean, x) && !dirty(); };
    auto abrasive = [&](int32_t h) { return sandable && is_abrasive(t_, h); };
    auto use_abrasive = [&] {
      int32_t a = pick(cat_.abrasives, [&](int32_t c) { return reach_cost(c) + (c == x ? 50.0 : 0.0) + (in_subtree(x, c) ? 100.0 : 0.0); });
      return a >= 0 && grasp(a, kLeft, true) >= 0 && do_clean();
    };
    if (scratch) {
      if (holding(abrasive)) return do_clean();
      if (use_abrasive()) return true;
      if (err_.empty()) err_ = "no abrasive to sand " + name(dirt) + " off " + name(x);
      return false;
    }
    if (stain) {
      if (holding([&](int32_t h) { return t_.has(h, kSoap) || (t_.has(h, kCleaningTool) && get(P::kSoaked, h)) || abrasive(h); }))
        return do_clean();
      if (sandable && use_abrasive()) return true;
      int32_t tool = pick_tool(x, true);
      if (tool >= 0 && (get(P::kSoaked, tool) || !cat_.water_sources.empty())) {
        if (soak(tool) && grasp(tool, kLeft, true) >= 0 && do_clean()) return true;
      }
      int32_t soap = pick(cat_.soaps, [&](int32_t c) { return reach_cost(c) + (c == x ? 50.0 : 0.0); });
      if (soap >= 0 && grasp(soap, kLeft, true) >= 0 && do_clean()) return true;
    } else {
      if (holding([&](int32_t h) { return t_.has(h, kCleaningTool); })) return do_clean();
      int32_t tool = pick_tool(x, false);
      if (tool >= 0 && grasp(tool, kLeft, true) >= 0 && do_clean()) return true;
    }
    // Wash it in a running sink, or run a dishwasher with it inside (that
    // cleans dust and stains by itself, not covering dirt).
    if (cat_.graspable(x)) {
      int32_t w = pick_water(x);
      if (w >= 0 && into(x, w) && activate_water(w) && do_clean()) return true;
      int32_t d = covered ? -1 : pick(cat_.washers, [&](int32_t c) { return reach_cost(c); });
      if (d >= 0 && (!get(P::kToggledOn, d) || toggle(d, false)) && into(x, d) && toggle(d, true) && !get(P::kDusty, x) &&
          !get(P::kStained, x))
        return true;
    }
    if (err_.empty()) err_ = "no way to clean " + (covered ? name(dirt) + " off " : std::string()) + name(x);
    return false;
  }

  bool relation(const Lit& l) {
    bool ok = true;
    for (int32_t x : sub(l.a)) {
      if (get(l.pred, x, l.b) == l.value) continue;
      if (!l.value) {
        if (l.pred == P::kNextTo && !cat_.graspable(x)) ok &= put_away(l.b, -1);
        else ok &= put_away(x, l.b);
        continue;
      }
      switch (l.pred) {
        case P::kOnTop: case P::kOnFloor:
          if (x == l.a && beside_of_[x] >= 0 && beside_of_[x] != l.b && s_.is_present(beside_of_[x]) &&
              !sliced_whole(beside_of_[x]) && place_beside_on(x, beside_of_[x], l.b))
            break;
          ok &= place(x, How::kOnTop, l.b);
          break;
        case P::kInside:
          if (round_ == 0 && x == l.a && settles_later(x)) break;
          ok &= place(x, How::kInside, l.b);
          break;
        case P::kUnder: ok &= place(x, How::kUnder, l.b); break;
        case P::kNextTo:
          if (cat_.graspable(x) && x == l.a && support_of_[x] >= 0 && support_of_[x] != l.b && !sliced_whole(l.b) &&
              place_beside_on(x, l.b, support_of_[x]))
            break;
          if (cat_.graspable(x)) ok &= place(x, How::kNextTo, l.b);
          else if (cat_.graspable(l.b) && !sliced_whole(l.b)) ok &= place(l.b, How::kNextTo, x);
          else { err_ = "neither " + name(x) + " nor " + name(l.b) + " can be moved"; ok = false; }
          break;
        default: ok = false;
      }
    }
    return ok;
  }

  bool achieve(const Lit& l) {
    switch (l.pred) {
      case P::kOnTop: case P::kInside: case P::kOnFloor: case P::kUnder: case P::kNextTo:
        return relation(l);
      case P::kOpen: return l.value ? open_obj(l.a) : close_obj(l.a);
      case P::kToggledOn: return toggle(l.a, l.value);
      case P::kSliced: return l.value && slice(l.a);
      default: break;
    }
    bool ok = true;
    for (int32_t x : sub(l.a)) {
      if (get(l.pred, x, l.b) == l.value) continue;
      switch (l.pred) {
        case P::kFrozen: ok &= simple(x, l.value ? ActionType::kFreeze : ActionType::kUnfreeze); break;
        case P::kCooked: ok &= l.value && cook(x); break;
        case P::kSoaked: ok &= l.value ? soak(x) : simple(x, ActionType::kDry); break;
        case P::kDusty: case P::kStained: ok &= !l.value && clean(x, l.pred); break;
        case P::kCovered: ok &= !l.value && clean(x, P::kCovered, l.b); break;
        default:
          err_ = "no action makes '" + std::string(predicate_name(l.pred)) + "' " + (l.value ? "true" : "false");
          ok = false;
      }
    }
    return ok;
  }

  // Within the nextto/under phase: a literal that moves x next to y goes after
  // the literals that move y, so later moves do not break earlier ones.
  void order_nextto(std::vector<size_t>& order) const {
    auto first = std::find_if(order.begin(), order.end(), [&](size_t i) { return phase(t_, lits_[i]) == 9; });
    auto last = std::find_if(first, order.end(), [&](size_t i) { return phase(t_, lits_[i]) != 9; });
    std::vector<size_t> todo(first, last), done;
    auto mover = [&](const Lit& l) { return cat_.graspable(l.a) ? l.a : l.b; };
    auto anchor = [&](const Lit& l) { return cat_.graspable(l.a) ? l.b : l.a; };
    while (!todo.empty()) {
      size_t pick_at = 0;
      for (size_t k = 0; k < todo.size(); ++k) {
        int32_t anc = anchor(lits_[todo[k]]);
        bool anchor_moves = false;
        for (size_t j = 0; j < todo.size(); ++j)
          if (j != k && mover(lits_[todo[j]]) == anc) anchor_moves = true;
        if (!anchor_moves) { pick_at = k; break; }
      }
      done.push_back(todo[pick_at]);
      todo.erase(todo.begin() + static_cast<std::ptrdiff_t>(pick_at));
    }
    std::copy(done.begin(), done.end(), first);
  }

  const Catalog& cat_;
  const Task& t_;
  const WorldLayout& L_;
  const std::vector<Lit>& lits_;
  const OracleOptions& opt_;
  WorldState s_;
  std::vector<Action> plan_;
  std::string err_;
  bool too_long_ = false;
  std::vector<int32_t> home_parent_, home_floor_;
  std::vector<Support> home_support_;
  std::vector<std::pair<int32_t, int32_t>> avoid_;
  std::vector<int32_t> support_of_;  // required ontop/onfloor target of each object, -1
  std::vector<int32_t> inside_of_;   // required inside target of each object, -1
  std::vector<uint8_t> want_soaked_;  // a literal asks for soaked(x)
  int round_ = 0;
  std::vector<int32_t> beside_of_;   // required nextto partner of each object (as the mover), -1
};

}  // namespace

Achievement achieve_literals(const Catalog& cat, const std::vector<Lit>& lits, const OracleOptions& options) {
  return Planner(cat, lits, options).run();
}

}  // namespace emx::oracle_detail
