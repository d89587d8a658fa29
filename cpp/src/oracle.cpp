// Oracle planner, part 1: choosing a grounding of the goal, and the driver.
//
//  1. Grounding. The goal program is walked top-down from each top-level
//     condition, turning it into ground literals (atom, value) that together
//     make it true: and = all children, or = the cheapest child, forn = the N
//     cheapest children true and the rest false, forpairs/fornpairs = a
//     matching of rows to distinct columns (greedy by cost, completed with
//     augmenting paths), not = the child with the opposite value. A literal
//     costs 0 when it already holds, 1 otherwise, infinity when no action can
//     make it hold (static check on abilities: lit_feasible) or when it
//     contradicts a literal chosen earlier (same atom, or two different
//     supports for one object).
//  2. Achieving (oracle_planner.cpp): macro steps simulated with apply().
//  3. Verifying with check_goal; on failure the literals left unmet are
//     penalised and a new grounding is chosen, a few times.
#include "emx/oracle.hpp"

#include <algorithm>
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
    return ground(g_.conditions[index], true);
  }

  std::vector<Lit> lits;
  const std::string& reason() const { return reason_; }
  bool exhausted() const { return expansions_ > budget_; }

 private:
  double infeasible(const std::string& why) {
    if (reason_.empty()) reason_ = why;
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

  void push(const Lit& l) {
    const uint64_t key = atom_key(l.pred, l.a, l.b);
    if (atom_at_.count(key)) return;
    atom_at_[key] = static_cast<int32_t>(lits.size());
    if (is_placement(l) && !place_at_.count(l.a)) place_at_[l.a] = static_cast<int32_t>(lits.size());
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
  std::unordered_map<uint64_t, int32_t> atom_at_;   // atom -> index in lits
  std::unordered_map<int32_t, int32_t> place_at_;   // object -> index of its support literal
  std::unordered_map<uint64_t, double> static_cost_;
  std::unordered_map<uint64_t, std::string> reasons_;
};

std::string condition_label(const Task& t, int32_t c) {
  if (c < 0 || c >= static_cast<int32_t>(t.goal.condition_text.size())) return "";
  return "goal condition " + std::to_string(c + 1) + ": " + t.goal.condition_text[c];
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
    Grounder grounder(cat, banned, options.max_expansions);
    for (int32_t c = 0; c < static_cast<int32_t>(goal.conditions.size()); ++c) {
      if (grounder.condition(c) >= kInf) {
        out.reason = grounder.reason() + " (" + condition_label(task, c) + ")";
        if (attempt > 0) out.reason = best_reason;
        return out;
      }
    }
    budget_hit |= grounder.exhausted();
    Achievement run = achieve_literals(cat, grounder.lits, options);
    GoalCheck check = check_goal(goal, task.layout, run.final_state);
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
