// Goal semantics on hand-built states: forall / exists / forn (exactly N) /
// forpairs / fornpairs / imply / not / or, cat_* wildcards, and the goal
// fraction of the best grounding.
#include <string>

#include "fixtures.hpp"

using namespace emx;
using fixtures::set;
using P = Predicate;

namespace {

std::vector<bool> truth(const Task& t, const WorldState& s) {
  GoalCheck g = check_goal(t.goal, t.layout, s);
  return std::vector<bool>(g.condition_truth.begin(), g.condition_truth.end());
}

bool cond(const Task& t, const WorldState& s, size_t i) { return truth(t, s).at(i); }

const char* kA1 = "apple.n.01_1";
const char* kA2 = "apple.n.01_2";
const char* kA3 = "apple.n.01_3";
const char* kB1 = "bowl.n.01_1";
const char* kB2 = "bowl.n.01_2";
const char* kCarton = "carton.n.02_1";

}  // namespace

TEST(initial_truth_of_every_construct) {
  TaskPtr t = fixtures::load("quantifiers.bddl");
  CHECK_EQ(t->goal.conditions.size(), 11u);
  // forall exists forn forpairs fornpairs imply not wildcard not-wildcard forall-exists or
  CHECK_EQ(truth(*t, t->initial),
           (std::vector<bool>{false, false, false, false, false, true, true, false, true, false, false}));
  CHECK(!check_goal(t->goal, t->layout, t->initial).success);
}

TEST(forall) {
  TaskPtr t = fixtures::load("quantifiers.bddl");
  WorldState s = t->initial;
  set(*t, s, P::kInside, kA1, kB1);
  set(*t, s, P::kInside, kA2, kB1);
  CHECK(!cond(*t, s, 0));
  set(*t, s, P::kInside, kA3, kB1);
  CHECK(cond(*t, s, 0));
  set(*t, s, P::kInside, kA3, kB1, false);
  set(*t, s, P::kInside, kA3, kB2);  // the wrong bowl
  CHECK(!cond(*t, s, 0));
}

TEST(exists_and_forn_exactly_n) {
  TaskPtr t = fixtures::load("quantifiers.bddl");
  WorldState s = t->initial;
  set(*t, s, P::kCooked, kA2);
  CHECK(cond(*t, s, 1));
  CHECK(!cond(*t, s, 2));  // 1 cooked
  set(*t, s, P::kCooked, kA3);
  CHECK(cond(*t, s, 2));   // exactly 2
  set(*t, s, P::kCooked, kA1);
  CHECK(cond(*t, s, 1));
  CHECK(!cond(*t, s, 2));  // 3 cooked: forn means exactly N, as in bddl
}

TEST(forpairs_needs_a_matching) {
  TaskPtr t = fixtures::load("quantifiers.bddl");
  WorldState s = t->initial;
  // 3 apples x 2 bowls: L = 2 rows and 2 columns must each have a true cell
  set(*t, s, P::kInside, kA1, kB1);
  set(*t, s, P::kInside, kA2, kB1);
  set(*t, s, P::kInside, kA3, kB1);
  CHECK(!cond(*t, s, 3));  // only one bowl used
  set(*t, s, P::kInside, kA3, kB1, false);
  set(*t, s, P::kInside, kA3, kB2);
  CHECK(cond(*t, s, 3));
}

TEST(fornpairs_skips_identical_pairs) {
  TaskPtr t = fixtures::load("quantifiers.bddl");
  WorldState s = t->initial;
  // (fornpairs (1) (?a - bowl) (?b - bowl) (ontop ?a ?b)): a bowl on itself does not count
  set(*t, s, P::kOnTop, kB1, kB1);
  CHECK(!cond(*t, s, 4));
  set(*t, s, P::kOnTop, kB1, kB2);
  CHECK(cond(*t, s, 4));
}

TEST(imply_and_not) {
  TaskPtr t = fixtures::load("quantifiers.bddl");
  WorldState s = t->initial;
  set(*t, s, P::kOpen, kCarton);
  CHECK(!cond(*t, s, 5));  // open -> frozen, not frozen
  set(*t, s, P::kFrozen, kA1);
  CHECK(cond(*t, s, 5));
  set(*t, s, P::kOpen, kCarton, "", false);
  CHECK(cond(*t, s, 5));
  set(*t, s, P::kSliced, kA2);
  CHECK(!cond(*t, s, 6));
}

TEST(wildcards_mean_any_instance) {
  TaskPtr t = fixtures::load("quantifiers.bddl");
  WorldState s = t->initial;
  set(*t, s, P::kInside, kA3, kCarton);
  CHECK(cond(*t, s, 7));   // (inside apple.n.01_* carton): some apple
  CHECK(cond(*t, s, 8));
  set(*t, s, P::kHot, kA2);
  CHECK(!cond(*t, s, 8));  // (not (hot apple.n.01_*)): no apple is hot
}

TEST(nested_quantifiers_and_or) {
  TaskPtr t = fixtures::load("quantifiers.bddl");
  WorldState s = t->initial;
  set(*t, s, P::kNextTo, kA1, kB1);
  set(*t, s, P::kNextTo, kA2, kB2);
  CHECK(!cond(*t, s, 9));
  set(*t, s, P::kNextTo, kA3, kB2);
  CHECK(cond(*t, s, 9));
  set(*t, s, P::kHot, kA2);
  CHECK(!cond(*t, s, 10));
  set(*t, s, P::kHot, kA3);
  CHECK(cond(*t, s, 10));
}

TEST(negated_quantifiers) {
  TaskPtr t = fixtures::compile(
      "(define (problem p) (:objects a1 a2 a3 - apple.n.01 b - bowl.n.01) (:init)\n"
      "(:goal (and (not (forall (?a - apple.n.01) (cooked ?a)))\n"
      "            (not (exists (?a - apple.n.01) (frozen ?a)))\n"
      "            (not (forn (1) (?a - apple.n.01) (hot ?a)))\n"
      "            (not (imply (cooked a1) (hot a1)))\n"
      "            (not (not (cooked a2))))))");
  WorldState s = t->initial;
  CHECK_EQ(truth(*t, s), (std::vector<bool>{true, true, true, false, false}));
  set(*t, s, P::kCooked, "a1");
  set(*t, s, P::kCooked, "a2");
  set(*t, s, P::kCooked, "a3");
  CHECK_EQ(truth(*t, s), (std::vector<bool>{false, true, true, true, true}));
  set(*t, s, P::kFrozen, "a3");
  set(*t, s, P::kHot, "a1");
  CHECK_EQ(truth(*t, s), (std::vector<bool>{false, false, false, false, true}));
  set(*t, s, P::kHot, "a2");
  CHECK(truth(*t, s)[2]);  // 2 hot: not exactly 1
}

TEST(success_needs_every_condition) {
  TaskPtr t = fixtures::load("quantifiers.bddl");
  WorldState s = t->initial;
  for (const char* a : {kA1, kA2, kA3}) set(*t, s, P::kInside, a, kB1);
  set(*t, s, P::kCooked, kA1);
  set(*t, s, P::kCooked, kA2);
  set(*t, s, P::kInside, kA2, kB2);
  set(*t, s, P::kOnTop, kB2, kB1);
  set(*t, s, P::kInside, kA1, kCarton);
  for (const char* a : {kA1, kA2, kA3}) set(*t, s, P::kNextTo, a, kB1);
  set(*t, s, P::kFrozen, kA1);
  GoalCheck g = check_goal(t->goal, t->layout, s);
  CHECK_EQ(truth(*t, s), std::vector<bool>(11, true));
  CHECK(g.success);
  CHECK_NEAR(g.fraction, 1.0, 1e-12);
}

// ---------------------------------------------------------------------------- goal fraction

TEST(fraction_picks_the_best_grounding_of_an_or) {
  TaskPtr t = fixtures::load("fraction.bddl");
  // (cooked a1) (cooked a2) (or (and (hot a1) (hot a2) (hot a3)) (frozen a3))
  WorldState s = t->initial;
  GoalCheck g = check_goal(t->goal, t->layout, s);
  CHECK_NEAR(g.fraction, 0.0, 1e-12);
  set(*t, s, P::kCooked, kA1);
  set(*t, s, P::kHot, kA1);
  set(*t, s, P::kHot, kA2);
  g = check_goal(t->goal, t->layout, s);
  CHECK_NEAR(g.fraction, 3.0 / 5.0, 1e-12);  // 1 + 0 + 2/3 of the and (its ratio beats frozen's 0/1)
  set(*t, s, P::kFrozen, kA3);
  g = check_goal(t->goal, t->layout, s);
  CHECK_NEAR(g.fraction, 2.0 / 3.0, 1e-12);  // 1 + 0 + 1/1 of frozen
  CHECK(!g.success);
  set(*t, s, P::kCooked, kA2);
  g = check_goal(t->goal, t->layout, s);
  CHECK(g.success);
  CHECK_NEAR(g.fraction, 1.0, 1e-12);
  CHECK_EQ(g.atom_truth.size(), t->goal.atoms.size());
}

TEST(fraction_of_forn_takes_the_best_n_children) {
  TaskPtr t = fixtures::load("forn.bddl");  // (forn (2) (?a - apple) (and (cooked ?a) (hot ?a))), 4 apples
  WorldState s = t->initial;
  CHECK_NEAR(check_goal(t->goal, t->layout, s).fraction, 0.0, 1e-12);
  set(*t, s, P::kCooked, kA1);
  set(*t, s, P::kHot, kA1);
  set(*t, s, P::kCooked, kA3);
  GoalCheck g = check_goal(t->goal, t->layout, s);
  CHECK(!g.success);
  CHECK_NEAR(g.fraction, 3.0 / 4.0, 1e-12);  // a1 2/2 and a3 1/2
  set(*t, s, P::kHot, kA3);
  g = check_goal(t->goal, t->layout, s);
  CHECK(g.success);
  CHECK_NEAR(g.fraction, 1.0, 1e-12);
}

TEST(fraction_of_forpairs_is_a_matching) {
  TaskPtr t = fixtures::load("forpairs.bddl");  // 3 apples x 2 bowls, (inside ?a ?b)
  WorldState s = t->initial;
  CHECK_NEAR(check_goal(t->goal, t->layout, s).fraction, 0.0, 1e-12);
  set(*t, s, P::kInside, kA1, kB1);
  set(*t, s, P::kInside, kA2, kB1);
  GoalCheck g = check_goal(t->goal, t->layout, s);
  CHECK(!g.success);
  CHECK_NEAR(g.fraction, 0.5, 1e-12);  // two pairs wanted, no two true cells share neither row nor column
  set(*t, s, P::kInside, kA3, kB2);
  g = check_goal(t->goal, t->layout, s);
  CHECK(g.success);
  CHECK_NEAR(g.fraction, 1.0, 1e-12);
}

TEST(check_goal_atoms_uses_the_given_truth) {
  TaskPtr t = fixtures::load("fraction.bddl");
  std::vector<uint8_t> all(t->goal.atoms.size(), 1);
  GoalCheck g = check_goal_atoms(t->goal, all);
  CHECK(g.success);
  CHECK_NEAR(g.fraction, 1.0, 1e-12);
  CHECK(evaluate_atoms(t->goal, t->layout, t->initial) == std::vector<uint8_t>(t->goal.atoms.size(), 0));
}

TEST(check_batch_matches_check_goal) {
  TaskPtr q = fixtures::load("quantifiers.bddl");
  TaskPtr f = fixtures::load("fraction.bddl");
  std::vector<WorldState> states;
  std::vector<const Task*> tasks;
  for (int i = 0; i < 64; ++i) {
    const Task& t = i % 2 ? *q : *f;
    WorldState s = t.initial;
    for (int k = 0; k < 3; ++k)
      if ((i >> k) & 1) s.set(t.layout, Predicate::kCooked, k, true);
    if (i & 8) s.set(t.layout, Predicate::kHot, 1, true);
    states.push_back(s);
    tasks.push_back(&t);
  }
  std::vector<const WorldState*> ptrs;
  for (const auto& s : states) ptrs.push_back(&s);
  for (int threads : {1, 4}) {
    std::vector<GoalCheck> out = check_batch(tasks, ptrs, threads);
    CHECK_EQ(out.size(), states.size());
    for (size_t i = 0; i < out.size(); ++i) {
      GoalCheck one = check_goal(tasks[i]->goal, tasks[i]->layout, states[i]);
      CHECK_EQ(out[i].success, one.success);
      CHECK_EQ(out[i].fraction, one.fraction);
      CHECK(out[i].condition_truth == one.condition_truth);
    }
  }
}

int main(int argc, char** argv) { return check::run_all(argc, argv); }
