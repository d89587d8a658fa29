// compile_task: object table, categories, abilities, initial state bits,
// support tree, slice parts, ability inference, compile errors.
#include <algorithm>
#include <string>

#include "fixtures.hpp"

using namespace emx;
using fixtures::holds;
using fixtures::obj;

namespace {

bool has_warning(const Task& t, const std::string& fragment) {
  return std::any_of(t.warnings.begin(), t.warnings.end(),
                     [&](const std::string& w) { return w.find(fragment) != std::string::npos; });
}

const char* kHeader = "(define (problem p) (:domain omnigibson)\n";

}  // namespace

TEST(objects_are_declared_in_order_then_slice_parts) {
  TaskPtr t = fixtures::load("kitchen.bddl");
  // 14 declared + 2 parts for each sliceable object (2 apples, 1 peach)
  CHECK_EQ(t->num_objects(), 14 + 6);
  CHECK_EQ(t->objects[0].name, std::string("apple.n.01_1"));
  CHECK_EQ(t->objects[2].name, std::string("electric_refrigerator.n.01_1"));  // lower-cased
  CHECK_EQ(t->objects[2].category, std::string("electric_refrigerator.n.01"));
  CHECK_EQ(t->objects[14].name, std::string("apple.n.01_1_part_0"));
  CHECK_EQ(t->objects[15].name, std::string("apple.n.01_1_part_1"));
  CHECK_EQ(t->objects[19].name, std::string("peach.n.03_1_part_1"));
  for (int32_t i = 0; i < 14; ++i) CHECK_EQ(t->objects[i].whole, -1);
  CHECK_EQ(t->objects[14].whole, 0);
  CHECK_EQ(t->objects[19].whole, obj(*t, "peach.n.03_1"));
  for (int32_t i = 0; i < t->num_objects(); ++i) CHECK_EQ(t->find(t->objects[i].name), i);
  CHECK_EQ(t->find("nothing"), -1);
  CHECK_EQ(t->name, std::string("Stow_The_Apple-0"));
}

TEST(by_category_lists_declared_objects_in_order) {
  TaskPtr t = fixtures::load("kitchen.bddl");
  CHECK_EQ(t->by_category.at("apple.n.01"), (std::vector<int32_t>{0, 1}));
  CHECK_EQ(t->by_category.at("bowl.n.01"),
           (std::vector<int32_t>{obj(*t, "bowl.n.01_1"), obj(*t, "bowl.n.01_2")}));
  CHECK_EQ(t->by_category.at("floor.n.01").size(), 1u);
  CHECK_EQ(t->by_category.count("apple.n.01_1"), 0u);
}

TEST(abilities_come_from_the_knowledge_base) {
  TaskPtr t = fixtures::load("kitchen.bddl");
  const Task& k = *t;
  CHECK_EQ(k.objects[obj(k, "electric_refrigerator.n.01_1")].abilities,
           uint32_t(kOpenable | kContainer | kFixed | kColdSource | kFreezable));
  CHECK(k.has(obj(k, "carving_knife.n.01_1"), kSlicer));
  CHECK(k.has(obj(k, "floor.n.01_1"), kFloor));   // floors are marked whatever the table says
  CHECK(k.has(obj(k, "floor.n.01_1"), kFixed));
  CHECK(k.has(obj(k, "agent.n.01_1"), kAgent));
  // a part can do what its whole can, except be sliced again
  CHECK(k.has(obj(k, "apple.n.01_1_part_0"), kCookable));
  CHECK(!k.has(obj(k, "apple.n.01_1_part_0"), kSliceable));
}

TEST(unknown_category_gets_no_abilities_and_a_warning) {
  TaskPtr t = fixtures::load("kitchen.bddl");
  CHECK_EQ(t->objects[obj(*t, "gizmo.n.01_1")].abilities, 0u);
  CHECK(has_warning(*t, "unknown category 'gizmo.n.01'"));
  CHECK(!has_warning(*t, "unknown category 'apple.n.01'"));
}

TEST(rooms_from_inroom) {
  TaskPtr t = fixtures::load("kitchen.bddl");
  CHECK_EQ(t->rooms, (std::vector<std::string>{"kitchen"}));
  CHECK_EQ(t->objects[obj(*t, "countertop.n.01_1")].room, 0);
  CHECK_EQ(t->objects[obj(*t, "sink.n.01_1")].room, 0);
  CHECK_EQ(t->objects[obj(*t, "apple.n.01_1")].room, -1);
}

TEST(initial_state_bits) {
  TaskPtr t = fixtures::load("kitchen.bddl");
  const Task& k = *t;
  const WorldState& s = k.initial;
  CHECK(holds(k, s, Predicate::kInside, "apple.n.01_1", "electric_refrigerator.n.01_1"));
  CHECK(holds(k, s, Predicate::kOnTop, "apple.n.01_2", "countertop.n.01_1"));
  CHECK(!holds(k, s, Predicate::kOnTop, "apple.n.01_1", "countertop.n.01_1"));
  CHECK(!holds(k, s, Predicate::kOpen, "electric_refrigerator.n.01_1"));
  CHECK(holds(k, s, Predicate::kDusty, "bowl.n.01_1"));
  CHECK(!holds(k, s, Predicate::kDusty, "bowl.n.01_2"));
  CHECK(holds(k, s, Predicate::kStained, "bowl.n.01_2"));
  // nextto is symmetric
  CHECK(holds(k, s, Predicate::kNextTo, "bowl.n.01_2", "saucepan.n.01_1"));
  CHECK(holds(k, s, Predicate::kNextTo, "saucepan.n.01_1", "bowl.n.01_2"));
  CHECK(holds(k, s, Predicate::kOnFloor, "countertop.n.01_1", "floor.n.01_1"));
  CHECK(holds(k, s, Predicate::kOnTop, "agent.n.01_1", "floor.n.01_1"));  // ONTOP lower-cased
  CHECK_EQ(s.hand[0], -1);
  CHECK_EQ(s.hand[1], -1);
  // declared objects exist; parts appear when their whole is sliced
  CHECK(s.is_present(obj(k, "peach.n.03_1")));
  CHECK(!s.is_present(obj(k, "peach.n.03_1_part_0")));
  // the layout stores what the executor changes and what the task reads
  for (Predicate p : {Predicate::kOnTop, Predicate::kInside, Predicate::kNextTo, Predicate::kUnder, Predicate::kOnFloor})
    CHECK(k.layout.stores(p));
  CHECK(!k.layout.stores(Predicate::kCovered));
  CHECK(!s.get(k.layout, Predicate::kCovered, 0, 1));  // not stored: always false
  CHECK_EQ(k.layout.num_objects, k.num_objects());
  CHECK_EQ(k.layout.words, 1);
}

TEST(support_tree) {
  TaskPtr t = fixtures::load("kitchen.bddl");
  const Task& k = *t;
  const WorldState& s = k.initial;
  CHECK_EQ(s.parent[obj(k, "apple.n.01_1")], obj(k, "electric_refrigerator.n.01_1"));
  CHECK(s.support[obj(k, "apple.n.01_1")] == Support::kInside);
  CHECK_EQ(s.parent[obj(k, "apple.n.01_2")], obj(k, "countertop.n.01_1"));
  CHECK(s.support[obj(k, "apple.n.01_2")] == Support::kOnTop);
  // a floor is not a support parent
  CHECK_EQ(s.parent[obj(k, "gizmo.n.01_1")], -1);
  CHECK(s.support[obj(k, "gizmo.n.01_1")] == Support::kNone);
  CHECK_EQ(s.parent[obj(k, "countertop.n.01_1")], -1);
  // parts start where their whole is
  CHECK_EQ(s.parent[obj(k, "peach.n.03_1_part_0")], obj(k, "countertop.n.01_1"));
  CHECK_EQ(s.parent[obj(k, "apple.n.01_1_part_1")], obj(k, "electric_refrigerator.n.01_1"));
}

TEST(support_cycles_in_init_are_broken) {
  TaskPtr t = fixtures::compile(std::string(kHeader) +
                                "(:objects a b - bowl.n.01) (:init (ontop a b) (ontop b a)) (:goal (open a)))");
  const WorldState& s = t->initial;
  CHECK_EQ(s.parent[0], 1);
  CHECK_EQ(s.parent[1], -1);  // b on a would close a loop: not a parent
  CHECK(s.get(t->layout, Predicate::kOnTop, 1, 0));  // the relation itself is kept
}

TEST(goal_program_of_the_kitchen) {
  TaskPtr t = fixtures::load("kitchen.bddl");
  const GoalProgram& g = t->goal;
  CHECK_EQ(g.conditions.size(), 3u);
  CHECK_EQ(g.condition_text[0], std::string("(inside ?apple.n.01_1 ?bowl.n.01_1)"));
  CHECK_EQ(g.condition_text[1], std::string("(not (open ?electric_refrigerator.n.01_1))"));
  CHECK_EQ(g.atoms.size(), 3u);
  CHECK_EQ(g.num_literals(), 3);
  CHECK(g.atoms[0] == (GroundAtom{Predicate::kInside, obj(*t, "apple.n.01_1"), obj(*t, "bowl.n.01_1")}));
  CHECK(g.atoms[1] == (GroundAtom{Predicate::kOpen, obj(*t, "electric_refrigerator.n.01_1"), -1}));
  // children always precede their parent
  for (size_t i = 0; i < g.nodes.size(); ++i)
    for (int32_t k = 0; k < g.nodes[i].num_children; ++k) CHECK(g.children[g.nodes[i].first_child + k] < int32_t(i));
  CHECK_EQ(goal_objects(*t),
           (std::vector<int32_t>{obj(*t, "apple.n.01_1"), obj(*t, "electric_refrigerator.n.01_1"),
                                 obj(*t, "peach.n.03_1"), obj(*t, "bowl.n.01_1")}));
}

TEST(repeated_atoms_are_stored_once) {
  TaskPtr t = fixtures::compile(std::string(kHeader) +
                                "(:objects a - apple.n.01) (:init) (:goal (and (cooked a) (or (cooked a) (not (cooked a))))))");
  CHECK_EQ(t->goal.atoms.size(), 1u);
  CHECK_EQ(t->goal.num_literals(), 3);
}

TEST(abilities_implied_by_the_task) {
  const std::string text = std::string(kHeader) +
                           "(:objects g h - gizmo.n.01 a - apple.n.01)\n"
                           "(:init (inside a g) (stained h)) (:goal (and (open h) (toggled_on g))))";
  TaskPtr t = fixtures::compile(text);
  CHECK(t->has(0, kContainer));   // (inside a g)
  CHECK(t->has(0, kToggleable));  // (toggled_on g)
  CHECK(t->has(1, kOpenable));    // (open h)
  CHECK(t->has(1, kStainable));   // (stained h)
  CHECK(has_warning(*t, "2 object(s) got abilities implied by the task"));
  CompileOptions off;
  off.infer_abilities_from_task = false;
  TaskPtr u = fixtures::compile(text, off);
  CHECK_EQ(u->objects[0].abilities, 0u);
  CHECK_EQ(u->objects[1].abilities, 0u);
  CHECK(!has_warning(*u, "implied"));
}

TEST(slice_parts_can_be_turned_off) {
  CompileOptions o;
  o.create_slice_parts = false;
  TaskPtr t = fixtures::load("kitchen.bddl", o);
  CHECK_EQ(t->num_objects(), 14);
  CHECK_EQ(t->find("peach.n.03_1_part_0"), -1);
}

TEST(duplicate_declarations) {
  TaskPtr t = fixtures::compile(std::string(kHeader) + "(:objects a a - apple.n.01) (:init) (:goal (cooked a)))");
  CHECK_EQ(t->by_category.at("apple.n.01").size(), 1u);
  CHECK(has_warning(*t, "t.bddl:2:13: object 'a' is declared twice"));
  EXPECT_PARSE_ERROR([] { fixtures::compile(std::string(kHeader) + "(:objects a - apple.n.01 a - bowl.n.01) (:init) (:goal (cooked a)))"); },
                     2, 26, "declared twice with different types");
}

TEST(compile_errors_name_the_token) {
  auto with = [](const std::string& init, const std::string& goal) {
    return [=] {
      fixtures::compile(std::string(kHeader) + "(:objects a b - apple.n.01)\n(:init " + init + ")\n(:goal " + goal + "))");
    };
  };
  EXPECT_PARSE_ERROR(with("(frobbed a)", "(cooked a)"), 3, 9, "unknown predicate 'frobbed'");
  EXPECT_PARSE_ERROR(with("(cooked c)", "(cooked a)"), 3, 16, "undeclared object 'c'");
  EXPECT_PARSE_ERROR(with("(cooked a b)", "(cooked a)"), 3, 8, "'cooked' takes 1 argument(s), got 2");
  EXPECT_PARSE_ERROR(with("(ontop a)", "(cooked a)"), 3, 8, "'ontop' takes 2 argument(s), got 1");
  EXPECT_PARSE_ERROR(with("", "(frobbed a)"), 4, 9, "unknown predicate 'frobbed'");
  EXPECT_PARSE_ERROR(with("", "(cooked ?c)"), 4, 16, "unbound variable '?c'");
  EXPECT_PARSE_ERROR(with("", "(inroom a kitchen)"), 4, 9, "'inroom' is only allowed in :init");
  EXPECT_PARSE_ERROR(with("", "(forall (?x apple.n.01) (cooked ?x))"), 4, 16, "expected a typed variable");
  EXPECT_PARSE_ERROR(with("", "(forn (?x - apple.n.01) (cooked ?x))"), 4, 8, "'forn' takes (N)");
  EXPECT_PARSE_ERROR(with("", "(forn (x) (?x - apple.n.01) (cooked ?x))"), 4, 15, "expected a non-negative count");
  EXPECT_PARSE_ERROR(with("", "(imply (cooked a))"), 4, 8, "'imply' takes two formulas");
  EXPECT_PARSE_ERROR(with("", "(cooked pear.n.01_*)"), 4, 16, "no object of category 'pear.n.01'");
  EXPECT_PARSE_ERROR(with("", "((cooked) a)"), 4, 9, "expected a predicate or operator name");
}

TEST(quantifier_over_a_type_with_no_objects_warns) {
  TaskPtr t = fixtures::compile(std::string(kHeader) +
                                "(:objects a - apple.n.01) (:init)\n(:goal (forall (?x - pear.n.01) (cooked ?x))))");
  CHECK(has_warning(*t, "t.bddl:3:16: quantifier over type 'pear.n.01'"));
  GoalCheck g = check_goal(t->goal, t->layout, t->initial);
  CHECK(g.success);  // forall over nothing holds
}

TEST(compiling_twice_gives_equal_tasks) {
  TaskPtr a = fixtures::load("kitchen.bddl");
  TaskPtr b = fixtures::load("kitchen.bddl");
  CHECK(a->initial == b->initial);
  CHECK_EQ(a->goal.atoms.size(), b->goal.atoms.size());
  CHECK_EQ(a->goal.nodes.size(), b->goal.nodes.size());
  CHECK(a->initial.bytes() > 0);
}

int main(int argc, char** argv) { return check::run_all(argc, argv); }
