// Oracle planner: an executable EAI plan from a task's initial state to its
// goal, or a specific reason why there is none. This file chooses what to
// make true and drives the search; oracle_feasibility.cpp says which literals
// any action can change at all; oracle_planner.cpp turns literals into steps.
//
//  1. Grounding. The goal program is walked top-down from each top-level
//     condition, turning it into ground literals (atom, value) that together
//     make it true: and = all children; or = the cheapest child; forn N = the
//     N children cheapest to make true (relative to keeping them false) true
//     and the rest false; forpairs / fornpairs = a matching of rows to
//     distinct columns (greedy by cost, completed with augmenting paths); not
//     = the child with the opposite value. A literal costs 0 when it already
//     holds, about 1 otherwise, and infinity when no action can make it hold
//     or when it cannot hold together with the literals chosen so far (the
//     same atom with the other value; two supports for one object; a ring of
//     supports; under / next-to a fixed object at odds with the object's
//     support; an appliance both open and on). A condition that cannot be
//     grounded after the earlier ones moves to the front and grounding
//     starts over.
//  2. Achieving: macro steps simulated with apply(), in phases (clean, cook,
//     freeze, soak, slice, place, un-place, next-to/under, open, close,
//     switch), repeated until nothing changes.
//  3. Verifying with check_goal (and replaying the plan with execute); on
//     failure the literals left unmet are penalised and a new grounding is
//     chosen, up to kMaxAttempts times.
//
// Set EMX_ORACLE_DEBUG=1 to print each attempt's literals and plan to stderr.
#include "emx/oracle.hpp"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <numeric>
#include <unordered_map>

#include "emx/executor.hpp"
#include "emx/goal.hpp"
#include "oracle_internal.hpp"

namespace emx {
namespace {

using namespace oracle_detail;
using P = Predicate;
constexpr double kInf = 1e18;
constexpr double kBanPenalty = 100.0;
constexpr int kMaxAttempts = 8;

uint64_t atom_key(P p, int32_t a, int32_t b) {
  return (static_cast<uint64_t>(p) << 48) | (static_cast<uint64_t>(static_cast<uint32_t>(a + 1)) << 24) |
         static_cast<uint64_t>(static_cast<uint32_t>(b + 1));
}
uint64_t lit_key(const Lit& l) { return atom_key(l.pred, l.a, l.b) * 2 + (l.value ? 1 : 0); }

bool is_placement(const Lit& l) {
  return l.value && (l.pred == P::kOnTop || l.pred == P::kInside || l.pred == P::kOnFloor);
}

class Grounder {
 public:
  Grounder(const Catalog& cat, const std::unordered_map<uint64_t, int>& banned, int budget)
      : cat_(cat), t_(cat.task), g_(cat.task.goal), banned_(banned), budget_(budget) {}

  /// Adds the literals of top-level condition `index`; returns their cost (kInf: impossible).
  double condition(int32_t index) {
    cond_ = index;
    reason_.clear();
    reason_weak_ = false;
    return ground(g_.conditions[index], true);
  }

  std::vector<Lit> lits;
  const std::string& reason() const { return reason_; }
  bool exhausted() const { return expansions_ > budget_; }

 private:
  // The first reason met explains the failure, except that a weak one (an
  // option that pairs an object with itself) gives way to the next.
  double infeasible(const std::string& why, bool weak = false) {
    if (reason_.empty() || (reason_weak_ && !weak)) {
      reason_ = why;
      reason_weak_ = weak;
    }
    return kInf;
  }

  double ground(int32_t node_index, bool value) {
    const GoalNode& n = g_.nodes[node_index];
    auto child = [&](int32_t k) { return g_.children[n.first_child + k]; };
    switch (n.op) {
      case GoalOp::kLiteral: {
        const GroundAtom& atom = g_.atoms[n.atom];
        Lit l{atom.pred, atom.a, atom.b, value != n.negated, cond_};
        double c = cost(l);
        if (c >= kInf) return kInf;
        push(l);
        return c;
      }
      case GoalOp::kConst:
        return (!n.negated) == value ? 0.0 : infeasible("the condition is false for every object (an empty or self-paired domain)");
      case GoalOp::kNot:
        return ground(child(0), !value);
      case GoalOp::kAnd:
      case GoalOp::kOr: {
        if ((n.op == GoalOp::kAnd) == value) return all(n, value);
        std::vector<std::pair<int32_t, bool>> options;
        for (int32_t k = 0; k < n.num_children; ++k) options.push_back({child(k), value});
        if (options.empty()) return infeasible("'exists'/'or' over nothing");
        return choose(options);
      }
      case GoalOp::kForN:
        return value ? forn(n) : forn_false(n);
      case GoalOp::kForPairs:
      case GoalOp::kForNPairs:
        return value ? forpairs(n) : all(n, false);
    }
    return kInf;
  }

  double all(const GoalNode& n, bool value) {
    double sum = 0;
    for (int32_t k = 0; k < n.num_children; ++k) {
      double c = ground(g_.children[n.first_child + k], value);
      if (c >= kInf) return kInf;
      sum += c;
    }
    return sum;
  }

  // Cost of making one node take a value, leaving the chosen literals unchanged.
  double probe(int32_t node, bool value) {
    size_t mark = lits.size();
    double c = ground(node, value);
    rollback(mark);
    return c;
  }

  double choose(const std::vector<std::pair<int32_t, bool>>& options) {
    size_t mark = lits.size();
    double best = kInf;
    std::vector<Lit> best_lits;
    for (auto [node, value] : options) {
      double c = ground(node, value);
      if (c < best) {
        best = c;
        best_lits.assign(lits.begin() + static_cast<std::ptrdiff_t>(mark), lits.end());
      }
      rollback(mark);
      if (best <= 0 || (exhausted() && best < kInf)) break;
    }
    if (best >= kInf) return kInf;
    for (const Lit& l : best_lits) push(l);
    return best;
  }

  // forn N: exactly N children true. The N with the lowest (true - false) cost.
  double forn(const GoalNode& n) {
    const int32_t k = n.num_children, want = n.param;
    if (want > k) return infeasible("forn asks for " + std::to_string(want) + " objects but the domain has " + std::to_string(k));
    std::vector<double> ct(k), cf(k);
    for (int32_t i = 0; i < k; ++i) {
      ct[i] = probe(g_.children[n.first_child + i], true);
      cf[i] = probe(g_.children[n.first_child + i], false);
    }
    std::vector<int32_t> idx(k);
    std::iota(idx.begin(), idx.end(), 0);
    auto delta = [&](int32_t i) { return ct[i] >= kInf ? kInf : cf[i] >= kInf ? -kInf : ct[i] - cf[i]; };
    std::stable_sort(idx.begin(), idx.end(), [&](int32_t x, int32_t y) { return delta(x) < delta(y); });
    double sum = 0;
    for (int32_t r = 0; r < k; ++r) {
      double c = ground(g_.children[n.first_child + idx[r]], r < want);
      if (c >= kInf) return kInf;
      sum += c;
    }
    return sum;
  }

  double forn_false(const GoalNode& n) {
    if (n.param > 0) return all(n, false);
    std::vector<std::pair<int32_t, bool>> options;
    for (int32_t k = 0; k < n.num_children; ++k) options.push_back({g_.children[n.first_child + k], true});
    if (options.empty()) return infeasible("'forn 0' over nothing is always true");
    return choose(options);
  }

  // forpairs: L = min(rows, cols) cells, no two in a row or a column (fornpairs: N).
  double forpairs(const GoalNode& n) {
    const int32_t cols = n.op == GoalOp::kForPairs ? n.param : n.param2;
    const int32_t rows = cols > 0 ? n.num_children / cols : 0;
    const int32_t want = n.op == GoalOp::kForPairs ? std::min(rows, cols) : n.param;
    if (want == 0) return 0.0;
    if (want > std::min(rows, cols)) return infeasible("fornpairs asks for more pairs than the domains allow");
    std::vector<double> cell(static_cast<size_t>(rows) * cols);
    for (int32_t i = 0; i < rows * cols; ++i) cell[i] = probe(g_.children[n.first_child + i], true);
    std::vector<int32_t> order(cell.size());
    std::iota(order.begin(), order.end(), 0);
    std::stable_sort(order.begin(), order.end(), [&](int32_t x, int32_t y) { return cell[x] < cell[y]; });
    std::vector<int32_t> row_of_col(cols, -1), col_of_row(rows, -1);
    int32_t matched = 0;
    for (int32_t i : order) {
      if (matched >= want || cell[i] >= kInf) break;
      int32_t r = i / cols, c = i % cols;
      if (col_of_row[r] >= 0 || row_of_col[c] >= 0) continue;
      col_of_row[r] = c;
      row_of_col[c] = r;
      ++matched;
    }
    // Augmenting paths (Kuhn) for the rows greedy left out.
    std::vector<uint8_t> seen;
    auto augment = [&](auto&& self, int32_t r) -> bool {
      for (int32_t c = 0; c < cols; ++c) {
        if (cell[static_cast<size_t>(r) * cols + c] >= kInf || seen[c]) continue;
        seen[c] = 1;
        if (row_of_col[c] < 0 || self(self, row_of_col[c])) {
          row_of_col[c] = r;
          col_of_row[r] = c;
          return true;
        }
      }
      return false;
    };
    for (int32_t r = 0; r < rows && matched < want; ++r) {
      if (col_of_row[r] >= 0) continue;
      seen.assign(cols, 0);
      if (augment(augment, r)) ++matched;
    }
    if (matched < want) {
      probe(g_.children[n.first_child + order[0]], true);  // for the reason
      return infeasible("no " + std::to_string(want) + " distinct pairs can be made true");
    }
    double sum = 0;
    for (int32_t r = 0; r < rows; ++r) {
      if (col_of_row[r] < 0) continue;
      double c = ground(g_.children[n.first_child + r * cols + col_of_row[r]], true);
      if (c >= kInf) return kInf;
      sum += c;
    }
    return sum;
  }

  double cost(const Lit& l) {
    ++expansions_;
    if (!is_unary(l.pred) && l.a == l.b && l.value != t_.initial.get(t_.layout, l.pred, l.a, l.b))
      return infeasible("a relation of " + t_.objects[l.a].name + " to itself (" + lit_text(t_, l) + ")", true);
    const uint64_t key = atom_key(l.pred, l.a, l.b);
    if (auto it = atom_at_.find(key); it != atom_at_.end()) {
      if (lits[it->second].value == l.value) return 0.0;
      return infeasible(lit_text(t_, l) + " contradicts " + lit_text(t_, lits[it->second]) + ", required by another part of the goal");
    }
    if (is_placement(l)) {
      if (auto it = place_at_.find(l.a); it != place_at_.end()) {
        const Lit& o = lits[it->second];
        bool same = o.b == l.b && ((o.pred == P::kInside) == (l.pred == P::kInside));
        if (!same) return infeasible(lit_text(t_, l) + " and " + lit_text(t_, o) + " cannot both hold");
      }
      // Supports must form a tree: a on b on ... on a cannot be.
      for (int32_t x = l.b, k = 0; x >= 0 && k <= t_.num_objects(); ++k) {
        if (x == l.a)
          return infeasible(lit_text(t_, l) + " would close a cycle of supports (objects on top of or inside each other in a ring)");
        auto it = place_at_.find(x);
        x = it == place_at_.end() ? -1 : lits[it->second].b;
      }
      if (auto it = anchor_at_.find(l.a); it != anchor_at_.end() && !settles_compatibly(lits[it->second], l))
        return infeasible(lit_text(t_, l) + " and " + lit_text(t_, lits[it->second]) + " cannot both hold: " +
                          t_.objects[l.a].name + " would have to be moved for each");
    }
    if (l.value && (l.pred == P::kOpen || l.pred == P::kToggledOn) && t_.has(l.a, kOpenable) && t_.has(l.a, kToggleable)) {
      // An appliance is switched on only when closed, and opened only when off.
      P other = l.pred == P::kOpen ? P::kToggledOn : P::kOpen;
      if (auto it = atom_at_.find(atom_key(other, l.a, -1)); it != atom_at_.end() && lits[it->second].value)
        return infeasible(lit_text(t_, l) + " and " + lit_text(t_, lits[it->second]) + " cannot both hold: " +
                          t_.objects[l.a].name + " must be closed to switch it on and off to open it");
    }
    if (int32_t mover = anchored_mover(l); mover >= 0) {
      if (auto it = place_at_.find(mover); it != place_at_.end() && !settles_compatibly(l, lits[it->second]))
        return infeasible(lit_text(t_, l) + " and " + lit_text(t_, lits[it->second]) + " cannot both hold: " +
                          t_.objects[mover].name + " would have to be moved for each");
      // Placing next to / under something fixed lifts the mover, which
      // breaks any other such relation of it: one per object.
      if (auto it = anchor_at_.find(mover); it != anchor_at_.end())
        return infeasible(lit_text(t_, l) + " and " + lit_text(t_, lits[it->second]) + " cannot both hold: placing " +
                          t_.objects[mover].name + " for one undoes the other");
    }
    const uint64_t lk = lit_key(l);
    auto sc = static_cost_.find(lk);
    if (sc == static_cost_.end()) {
      std::string why;
      double c;
      if (!lit_feasible(cat_, t_.initial, l, &why)) {
        c = kInf;
        reasons_[lk] = why + " (for " + lit_text(t_, l) + ")";
      } else if (t_.initial.get(t_.layout, l.pred, l.a, l.b) == l.value) {
        c = 0.0;
      } else {
        c = 1.0;
        if (!is_unary(l.pred) && l.value) {
          // Prefer targets that are already reachable and open.
          const WorldState& s0 = t_.initial;
          for (int32_t x = l.b, k = 0; s0.parent[x] >= 0 && k < t_.num_objects(); x = s0.parent[x], ++k)
            if (s0.support[x] == Support::kInside && t_.has(s0.parent[x], kOpenable) && !s0.get(t_.layout, P::kOpen, s0.parent[x]))
              c += 0.1;
          if (l.pred == P::kInside && t_.has(l.b, kOpenable) && !t_.initial.get(t_.layout, P::kOpen, l.b)) c += 0.05;
        }
      }
      sc = static_cost_.emplace(lk, c).first;
    }
    if (sc->second >= kInf) return infeasible(reasons_[lk]);
    double c = sc->second;
    if (l.pred == P::kNextTo && l.value && c > 0) {
      // nextto is symmetric when placed: a pair already asked for the other way round costs nothing more.
      auto it = atom_at_.find(atom_key(P::kNextTo, l.b, l.a));
      if (it != atom_at_.end() && lits[it->second].value) c = 0.05;
    }
    if (auto b = banned_.find(lk); b != banned_.end()) c += kBanPenalty * b->second;
    return c;
  }

  // Placing x under / next to a fixed object puts x where that object is
  // (its parent, or its floor); PLACE_NEXTTO_ONTOP also sets any ontop/onfloor.
  bool settles_compatibly(const Lit& anchored, const Lit& placement) const {
    const int32_t fixed = anchored.a == placement.a ? anchored.b : anchored.a;
    if (anchored.pred == P::kNextTo && placement.pred != P::kInside) return true;
    if (cat_.movable(fixed)) return true;
    const WorldState& s0 = t_.initial;
    const bool on_floor = placement.pred == P::kOnFloor || (placement.pred == P::kOnTop && cat_.is_floor(placement.b));
    if (cat_.is_floor(fixed)) return on_floor && placement.b == fixed;
    if (s0.parent[fixed] >= 0)
      return s0.parent[fixed] == placement.b && !on_floor &&
             (s0.support[fixed] == Support::kInside) == (placement.pred == P::kInside);
    return on_floor && s0.get(t_.layout, P::kOnFloor, fixed, placement.b);
  }

  // For under(a, b) and nextto with a fixed partner: the object that has to
  // be moved to make it hold, else -1.
  int32_t anchored_mover(const Lit& l) const {
    if (!l.value) return -1;
    if (l.pred == P::kUnder) return l.a;
    if (l.pred != P::kNextTo) return -1;
    if (!cat_.movable(l.b)) return l.a;
    if (!cat_.movable(l.a)) return l.b;
    return -1;
  }

  void push(const Lit& l) {
    const uint64_t key = atom_key(l.pred, l.a, l.b);
    if (atom_at_.count(key)) return;
    const int32_t at = static_cast<int32_t>(lits.size());
    atom_at_[key] = at;
    if (is_placement(l) && !place_at_.count(l.a)) place_at_[l.a] = at;
    if (int32_t m = anchored_mover(l); m >= 0 && !anchor_at_.count(m)) anchor_at_[m] = at;
    lits.push_back(l);
  }

  void rollback(size_t mark) {
    while (lits.size() > mark) {
      const Lit& l = lits.back();
      const int32_t at = static_cast<int32_t>(lits.size()) - 1;
      auto it = atom_at_.find(atom_key(l.pred, l.a, l.b));
      if (it != atom_at_.end() && it->second == at) atom_at_.erase(it);
      auto pt = place_at_.find(l.a);
      if (pt != place_at_.end() && pt->second == at) place_at_.erase(pt);
      if (int32_t m = anchored_mover(l); m >= 0) {
        auto an = anchor_at_.find(m);
        if (an != anchor_at_.end() && an->second == at) anchor_at_.erase(an);
      }
      lits.pop_back();
    }
  }

  const Catalog& cat_;
  const Task& t_;
  const GoalProgram& g_;
  const std::unordered_map<uint64_t, int>& banned_;
  const int budget_;
  int64_t expansions_ = 0;
  int32_t cond_ = -1;
  std::string reason_;
  bool reason_weak_ = false;
  std::unordered_map<uint64_t, int32_t> atom_at_;   // atom -> index in lits
  std::unordered_map<int32_t, int32_t> place_at_;   // object -> index of its support literal
  std::unordered_map<int32_t, int32_t> anchor_at_;  // object -> index of its under / fixed-nextto literal
  std::unordered_map<uint64_t, double> static_cost_;
  std::unordered_map<uint64_t, std::string> reasons_;
};

std::string condition_label(const Task& t, int32_t c) {
  if (c < 0 || c >= static_cast<int32_t>(t.goal.condition_text.size())) return "";
  return "goal condition " + std::to_string(c + 1) + ": " + t.goal.condition_text[c];
}

// Grounds every top-level condition. Conditions are taken in order; when one
// cannot be grounded after the choices made for earlier ones, it moves to the
// front and grounding starts over (a condition that fails on its own is
// reported with its reason).
bool ground_goal(const Catalog& cat, const std::unordered_map<uint64_t, int>& banned, const OracleOptions& options,
                 std::unique_ptr<Grounder>& out, std::string& why) {
  const Task& task = cat.task;
  const int32_t n = static_cast<int32_t>(task.goal.conditions.size());
  for (int32_t c = 0; c < n; ++c) {
    Grounder alone(cat, banned, options.max_expansions);
    if (alone.condition(c) >= kInf) {
      why = alone.reason() + " (" + condition_label(task, c) + ")";
      return false;
    }
  }
  std::vector<int32_t> order(n);
  std::iota(order.begin(), order.end(), 0);
  std::string first_reason;
  for (int32_t round = 0; round <= 2 * n; ++round) {
    auto g = std::make_unique<Grounder>(cat, banned, options.max_expansions);
    int32_t failed_at = -1;
    for (int32_t k = 0; k < n && failed_at < 0; ++k)
      if (g->condition(order[k]) >= kInf) failed_at = k;
    if (failed_at < 0) {
      out = std::move(g);
      return true;
    }
    if (first_reason.empty()) first_reason = g->reason() + " (" + condition_label(task, order[failed_at]) + ")";
    if (failed_at == 0) break;
    int32_t c = order[failed_at];
    order.erase(order.begin() + failed_at);
    order.insert(order.begin(), c);
  }
  why = first_reason;
  return false;
}

}  // namespace

OraclePlan plan_oracle(const Task& task, const OracleOptions& options) {
  OraclePlan out;
  const GoalProgram& goal = task.goal;
  if (check_goal(goal, task.layout, task.initial).success) {
    out.solved = true;
    return out;
  }
  Catalog cat(task);
  std::unordered_map<uint64_t, int> banned;
  double best_fraction = -1.0;
  std::string best_reason = "no grounding of the goal could be achieved";
  bool budget_hit = false;
  for (int attempt = 0; attempt < kMaxAttempts; ++attempt) {
    std::unique_ptr<Grounder> found;
    std::string why;
    if (!ground_goal(cat, banned, options, found, why)) {
      out.reason = attempt == 0 ? why : best_reason;
      return out;
    }
    Grounder& grounder = *found;
    budget_hit |= grounder.exhausted();
    Achievement run = achieve_literals(cat, grounder.lits, options);
    GoalCheck check = check_goal(goal, task.layout, run.final_state);
    if (std::getenv("EMX_ORACLE_DEBUG")) {
      std::fprintf(stderr, "[oracle] attempt %d: %zu literals, %zu actions, goal %s\n", attempt, grounder.lits.size(),
                   run.actions.size(), check.success ? "met" : "not met");
      for (size_t i = 0; i < grounder.lits.size(); ++i)
        std::fprintf(stderr, "  %s %s %s\n", std::find(run.unmet.begin(), run.unmet.end(), static_cast<int32_t>(i)) != run.unmet.end() ? "UNMET" : "ok   ",
                     lit_text(task, grounder.lits[i]).c_str(), run.messages[i].c_str());
      for (const Action& a : run.actions) std::fprintf(stderr, "    %s\n", describe(task, a).c_str());
    }
    if (check.success) {
      Execution ex = execute(task, task.initial, run.actions, false);
      if (ex.completed && check_goal(goal, task.layout, ex.final_state).success) {
        out.solved = true;
        out.actions = std::move(run.actions);
        out.reason.clear();
        return out;
      }
      best_reason = "internal error: the simulated plan does not replay";
      break;
    }
    if (check.fraction > best_fraction) {
      best_fraction = check.fraction;
      if (run.too_long) {
        best_reason = "the plan needs more than " + std::to_string(options.max_actions) + " actions";
      } else if (!run.unmet.empty()) {
        const Lit& l = grounder.lits[run.unmet[0]];
        const std::string& msg = run.messages[run.unmet[0]];
        best_reason = "could not make " + lit_text(task, l) + " hold: " +
                      (msg.empty() ? std::string("later steps undo it") : msg) + " (" + condition_label(task, l.condition) + ")";
      } else {
        best_reason = "internal error: every chosen literal holds but the goal does not";
      }
    }
    bool added = false;
    for (int32_t i : run.unmet)
      if (banned[lit_key(grounder.lits[i])]++ == 0) added = true;
    if (!added) break;
  }
  out.reason = budget_hit ? "search budget exhausted; " + best_reason : best_reason;
  return out;
}

}  // namespace emx
