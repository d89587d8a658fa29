// Goal programs: a BDDL goal compiled to a flat array of nodes.
//
// Quantifiers are expanded at compile time over the task's objects, so
// checking a state is one linear pass with no recursion and no allocation
// beyond two scratch arrays — the shape the CUDA kernels evaluate too.
//
// Semantics follow the bddl package (bddl/condition_evaluation.py):
//   forall/and: all children; exists/or: any child; not; imply = (not a) or b;
//   forn N: exactly N children true;
//   forpairs over A x B (a != b): at least L=min(|A|,|B|) rows have a true cell
//     and at least L columns have a true cell;
//   fornpairs N: the same with N instead of L.
// Goal fraction ("potential", as BEHAVIOR's ground goal options): negations
// are pushed to the atoms; the fraction of satisfied ground literals of the
// best grounding, chosen node by node (an or/exists/forn/forpairs picks the
// children whose satisfied fraction is highest).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "emx/vocabulary.hpp"

namespace emx {

struct WorldLayout;
struct WorldState;

struct GroundAtom {
  Predicate pred;
  int32_t a = -1, b = -1;  // b = -1 for unary predicates
  bool operator==(const GroundAtom& o) const { return pred == o.pred && a == o.a && b == o.b; }
};

enum class GoalOp : uint8_t {
  kLiteral,   // atom, maybe negated
  kConst,     // constant true/false (empty quantifier domains, a==b cells of forpairs)
  kAnd, kOr, kNot,
  kForN,      // param = N
  kForPairs,  // param = number of columns; children row-major
  kForNPairs, // param = N, param2 = number of columns
};

struct GoalNode {
  GoalOp op = GoalOp::kConst;
  bool negated = false;       // kLiteral: not(atom); kConst: value is !negated
  int32_t atom = -1;          // kLiteral: index into GoalProgram::atoms
  int32_t first_child = 0;    // index into GoalProgram::children
  int32_t num_children = 0;
  int32_t param = 0, param2 = 0;
};

struct GoalProgram {
  std::vector<GroundAtom> atoms;     // distinct ground atoms the goal reads
  std::vector<GoalNode> nodes;       // children always precede their parent
  std::vector<int32_t> children;     // node indices, grouped per parent
  std::vector<int32_t> conditions;   // root node of each top-level goal condition
  std::vector<std::string> condition_text;  // each condition in BDDL, for people

  int32_t num_literals() const;      // literal leaves (ground literals counted with repeats)
};

struct GoalCheck {
  bool success = false;
  double fraction = 0.0;             // best-grounding fraction of satisfied literals
  std::vector<uint8_t> atom_truth;   // per GoalProgram::atoms
  std::vector<uint8_t> condition_truth;  // per top-level condition
};

/// Success and fraction only: no allocation, for batch checks. Without the
/// fraction (with_fraction = false) only truth is computed, as the bddl
/// package's evaluation does, and fraction is NaN.
struct GoalSummary {
  bool success = false;
  double fraction = 0.0;
};
GoalSummary summarize_goal(const GoalProgram& goal, const WorldLayout& layout, const WorldState& state,
                           bool with_fraction = true);

/// Evaluates the atoms against a state (physics mode may supply atom truth
/// computed from geometry instead, via check_goal_atoms).
std::vector<uint8_t> evaluate_atoms(const GoalProgram& goal, const WorldLayout& layout,
                                    const WorldState& state);
GoalCheck check_goal_atoms(const GoalProgram& goal, std::vector<uint8_t> atom_truth);
GoalCheck check_goal(const GoalProgram& goal, const WorldLayout& layout, const WorldState& state);

}  // namespace emx
