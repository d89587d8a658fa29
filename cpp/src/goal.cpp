// Goal checking: one linear pass over the flat program (children precede parents).
#include "emx/goal.hpp"

#include <algorithm>
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
  std::vector<int32_t> order(cells.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](int32_t x, int32_t y) { return cells[x].ratio() > cells[y].ratio(); });
  std::vector<uint8_t> row_used(rows, 0), col_used(cols, 0);
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

}  // namespace

GoalCheck check_goal_atoms(const GoalProgram& goal, std::vector<uint8_t> atom_truth) {
  const size_t n = goal.nodes.size();
  std::vector<Score> score(n);
  std::vector<Score> kids;
  for (size_t i = 0; i < n; ++i) {
    const GoalNode& node = goal.nodes[i];
    Score& s = score[i];
    kids.clear();
    for (int32_t k = 0; k < node.num_children; ++k) kids.push_back(score[goal.children[node.first_child + k]]);
    switch (node.op) {
      case GoalOp::kLiteral:
        s.truth = atom_truth[node.atom] != node.negated;
        s.sat = s.truth;
        s.total = 1;
        break;
      case GoalOp::kConst:
        s.truth = !node.negated;
        break;
      case GoalOp::kAnd:
        s.truth = true;
        for (const Score& k : kids) { s.truth &= k.truth; s.sat += k.sat; s.total += k.total; }
        break;
      case GoalOp::kOr: {
        s.truth = false;
        const Score* best = nullptr;
        for (const Score& k : kids) {
          s.truth |= k.truth;
          if (!best || k.ratio() > best->ratio() || (k.ratio() == best->ratio() && k.sat > best->sat)) best = &k;
        }
        if (best) { s.sat = best->sat; s.total = best->total; }
        break;
      }
      case GoalOp::kNot:
        s.truth = !kids[0].truth;
        s.sat = s.truth;
        s.total = 1;
        break;
      case GoalOp::kForN: {
        int32_t count = 0;
        for (const Score& k : kids) count += k.truth;
        s.truth = count == node.param;
        std::vector<Score> sorted = kids;
        std::stable_sort(sorted.begin(), sorted.end(), [](const Score& x, const Score& y) { return x.ratio() > y.ratio(); });
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
          for (int32_t c = 0; c < cols; ++c) any |= kids[r * cols + c].truth;
          rows_any += any;
        }
        for (int32_t c = 0; c < cols; ++c) {
          bool any = false;
          for (int32_t r = 0; r < rows; ++r) any |= kids[r * cols + c].truth;
          cols_any += any;
        }
        s.truth = rows_any >= want && cols_any >= want;
        Score best = best_pairs(kids, rows, cols, want);
        s.sat = best.sat;
        s.total = best.total;
        break;
      }
    }
  }
  GoalCheck out;
  out.success = true;
  double sat = 0, total = 0;
  for (int32_t root : goal.conditions) {
    out.condition_truth.push_back(score[root].truth);
    out.success &= score[root].truth;
    sat += score[root].sat;
    total += score[root].total;
  }
  out.fraction = total > 0 ? sat / total : (out.success ? 1.0 : 0.0);
  out.atom_truth = std::move(atom_truth);
  return out;
}

GoalCheck check_goal(const GoalProgram& goal, const WorldLayout& layout, const WorldState& state) {
  return check_goal_atoms(goal, evaluate_atoms(goal, layout, state));
}

}  // namespace emx
