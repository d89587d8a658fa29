// Goal checking: one linear pass over the flat program (children precede parents).
#include "emx/goal.hpp"

#include <algorithm>
#include <limits>
#include <numeric>

#include "emx/world_state.hpp"

namespace emx {

int32_t GoalProgram::num_literals() const {
  int32_t n = 0;
  for (const auto& node : nodes) n += node.op == GoalOp::kLiteral;
  return n;
}

std::vector<uint8_t> evaluate_atoms(const GoalProgram& goal, const WorldLayout& layout, const WorldState& state) {
  std::vector<uint8_t> truth(goal.atoms.size());
  for (size_t i = 0; i < goal.atoms.size(); ++i) {
    const GroundAtom& a = goal.atoms[i];
    truth[i] = state.get(layout, a.pred, a.a, a.b);
  }
  return truth;
}

namespace {

struct Score {
  double sat = 0, total = 0;
  bool truth = false;
  double ratio() const { return total > 0 ? sat / total : (truth ? 1.0 : 0.0); }
};

// Picks `want` cells of a rows x cols grid, no two in one row or column,
// greedily by satisfied fraction: the best grounding of forpairs/fornpairs.
Score best_pairs(const std::vector<Score>& cells, int32_t rows, int32_t cols, int32_t want) {
  thread_local std::vector<int32_t> order;
  thread_local std::vector<uint8_t> row_used, col_used;
  order.resize(cells.size());
  std::iota(order.begin(), order.end(), 0);
  // Ties broken by index: deterministic without stable_sort's buffer allocation.
  std::sort(order.begin(), order.end(), [&](int32_t x, int32_t y) {
    double rx = cells[x].ratio(), ry = cells[y].ratio();
    return rx > ry || (rx == ry && x < y);
  });
  row_used.assign(rows, 0);
  col_used.assign(cols, 0);
  Score s;
  int32_t picked = 0;
  for (int32_t idx : order) {
    if (picked >= want) break;
    int32_t r = idx / cols, c = idx % cols;
    if (row_used[r] || col_used[c]) continue;
    row_used[r] = col_used[c] = 1;
    s.sat += cells[idx].sat;
    s.total += cells[idx].total;
    ++picked;
  }
  s.total += want - picked;  // pairs that cannot exist count as unsatisfied
  return s;
}

// One pass over the nodes (children precede parents). `atom(i)` answers the
// truth of ground atom i. Scores live in a reused thread-local buffer: the
// batch paths check millions of goals and must not allocate per check.
template <class AtomFn>
const std::vector<Score>& score_nodes(const GoalProgram& goal, AtomFn&& atom) {
  thread_local std::vector<Score> score;
  thread_local std::vector<Score> sorted;
  const size_t n = goal.nodes.size();
  score.assign(n, Score{});
  for (size_t i = 0; i < n; ++i) {
    const GoalNode& node = goal.nodes[i];
    const int32_t* kid = goal.children.data() + node.first_child;
    Score& s = score[i];
    switch (node.op) {
      case GoalOp::kLiteral:
        s.truth = atom(node.atom) != node.negated;
        s.sat = s.truth;
        s.total = 1;
        break;
      case GoalOp::kConst:
        s.truth = !node.negated;
        break;
      case GoalOp::kAnd:
        s.truth = true;
        for (int32_t k = 0; k < node.num_children; ++k) {
          const Score& c = score[kid[k]];
          s.truth &= c.truth;
          s.sat += c.sat;
          s.total += c.total;
        }
        break;
      case GoalOp::kOr: {
        s.truth = false;
        const Score* best = nullptr;
        for (int32_t k = 0; k < node.num_children; ++k) {
          const Score& c = score[kid[k]];
          s.truth |= c.truth;
          if (!best || c.ratio() > best->ratio() || (c.ratio() == best->ratio() && c.sat > best->sat)) best = &c;
        }
        if (best) { s.sat = best->sat; s.total = best->total; }
        break;
      }
      case GoalOp::kNot:
        s.truth = !score[kid[0]].truth;
        s.sat = s.truth;
        s.total = 1;
        break;
      case GoalOp::kForN: {
        int32_t count = 0;
        sorted.clear();
        for (int32_t k = 0; k < node.num_children; ++k) {
          count += score[kid[k]].truth;
          sorted.push_back(score[kid[k]]);
        }
        s.truth = count == node.param;
        // Only the N best ratios matter; their order among equals does not change the sums.
        std::sort(sorted.begin(), sorted.end(), [](const Score& x, const Score& y) { return x.ratio() > y.ratio(); });
        int32_t take = std::min<int32_t>(node.param, static_cast<int32_t>(sorted.size()));
        for (int32_t k = 0; k < take; ++k) { s.sat += sorted[k].sat; s.total += sorted[k].total; }
        s.total += node.param - take;
        break;
      }
      case GoalOp::kForPairs:
      case GoalOp::kForNPairs: {
        int32_t cols = node.op == GoalOp::kForPairs ? node.param : node.param2;
        int32_t rows = cols > 0 ? node.num_children / cols : 0;
        int32_t want = node.op == GoalOp::kForPairs ? std::min(rows, cols) : node.param;
        int32_t rows_any = 0, cols_any = 0;
        for (int32_t r = 0; r < rows; ++r) {
          bool any = false;
          for (int32_t c = 0; c < cols; ++c) any |= score[kid[r * cols + c]].truth;
          rows_any += any;
        }
        for (int32_t c = 0; c < cols; ++c) {
          bool any = false;
          for (int32_t r = 0; r < rows; ++r) any |= score[kid[r * cols + c]].truth;
          cols_any += any;
        }
        s.truth = rows_any >= want && cols_any >= want;
        sorted.clear();
        for (int32_t k = 0; k < node.num_children; ++k) sorted.push_back(score[kid[k]]);
        Score best = best_pairs(sorted, rows, cols, want);
        s.sat = best.sat;
        s.total = best.total;
        break;
      }
    }
  }
  return score;
}

template <class AtomFn>
GoalSummary summarize(const GoalProgram& goal, AtomFn&& atom, std::vector<uint8_t>* condition_truth) {
  const std::vector<Score>& score = score_nodes(goal, atom);
  GoalSummary out;
  out.success = true;
  double sat = 0, total = 0;
  for (int32_t root : goal.conditions) {
    if (condition_truth) condition_truth->push_back(score[root].truth);
    out.success &= score[root].truth;
    sat += score[root].sat;
    total += score[root].total;
  }
  out.fraction = total > 0 ? sat / total : (out.success ? 1.0 : 0.0);
  return out;
}

}  // namespace

GoalCheck check_goal_atoms(const GoalProgram& goal, std::vector<uint8_t> atom_truth) {
  GoalCheck out;
  GoalSummary sum = summarize(goal, [&](int32_t i) { return atom_truth[i] != 0; }, &out.condition_truth);
  out.success = sum.success;
  out.fraction = sum.fraction;
  out.atom_truth = std::move(atom_truth);
  return out;
}

namespace {

// Truth of node i, top-down with short-circuits. Goal trees are shallow (quantifier nesting).
template <class Atom>
bool truth_of(const GoalProgram& goal, int32_t i, const Atom& atom) {
  const GoalNode& node = goal.nodes[i];
  const int32_t* kid = goal.children.data() + node.first_child;
  switch (node.op) {
    case GoalOp::kLiteral: return atom(node.atom) != node.negated;
    case GoalOp::kConst: return !node.negated;
    case GoalOp::kAnd:
      for (int32_t k = 0; k < node.num_children; ++k)
        if (!truth_of(goal, kid[k], atom)) return false;
      return true;
    case GoalOp::kOr:
      for (int32_t k = 0; k < node.num_children; ++k)
        if (truth_of(goal, kid[k], atom)) return true;
      return false;
    case GoalOp::kNot: return !truth_of(goal, kid[0], atom);
    case GoalOp::kForN: {
      int32_t count = 0;
      for (int32_t k = 0; k < node.num_children; ++k)
        if (truth_of(goal, kid[k], atom) && ++count > node.param) return false;  // "exactly N" is lost
      return count == node.param;
    }
    case GoalOp::kForPairs:
    case GoalOp::kForNPairs: {
      const int32_t cols = node.op == GoalOp::kForPairs ? node.param : node.param2;
      const int32_t rows = cols > 0 ? node.num_children / cols : 0;
      const int32_t want = node.op == GoalOp::kForPairs ? std::min(rows, cols) : node.param;
      std::vector<uint8_t> cell(static_cast<size_t>(node.num_children));
      for (int32_t k = 0; k < node.num_children; ++k) cell[k] = truth_of(goal, kid[k], atom);
      int32_t rows_any = 0, cols_any = 0;
      for (int32_t r = 0; r < rows; ++r) {
        bool any = false;
        for (int32_t c = 0; c < cols && !any; ++c) any = cell[r * cols + c];
        rows_any += any;
      }
      for (int32_t c = 0; c < cols; ++c) {
        bool any = false;
        for (int32_t r = 0; r < rows && !any; ++r) any = cell[r * cols + c];
        cols_any += any;
      }
      return rows_any >= want && cols_any >= want;
    }
  }
  return false;
}

}  // namespace

GoalSummary summarize_goal(const GoalProgram& goal, const WorldLayout& layout, const WorldState& state,
                           bool with_fraction) {
  auto atom = [&](int32_t i) {
    const GroundAtom& a = goal.atoms[i];
    return state.get(layout, a.pred, a.a, a.b);
  };
  if (with_fraction) return summarize(goal, atom, nullptr);
  // Truth only (what the bddl package computes): every top-level condition is evaluated, as
  // bddl reports each; inside a condition, evaluation goes top-down and stops as soon as the
  // answer is known (an and with a false child, an or with a true one), as bddl's recursive
  // evaluation does.
  GoalSummary out;
  out.success = true;
  for (int32_t root : goal.conditions) out.success &= truth_of(goal, root, atom);
  out.fraction = std::numeric_limits<double>::quiet_NaN();
  return out;
}

GoalCheck check_goal(const GoalProgram& goal, const WorldLayout& layout, const WorldState& state) {
  return check_goal_atoms(goal, evaluate_atoms(goal, layout, state));
}

}  // namespace emx
