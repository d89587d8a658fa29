// Relations from geometry: each predicate at and around its thresholds, then
// relations_from_geometry on a small compiled task (support tree, held
// objects, floors, joints, slice parts, sizes) and on 150 objects.
#include <cmath>
#include <limits>
#include <random>
#include <stdexcept>
#include <string>

#include "emx/geometry.hpp"
#include "fixtures.hpp"

using namespace emx;
using fixtures::holds;
using fixtures::obj;
using P = Predicate;

namespace {

Box box(float x0, float y0, float z0, float x1, float y1, float z1) {
  Box b;
  b.min[0] = x0; b.min[1] = y0; b.min[2] = z0;
  b.max[0] = x1; b.max[1] = y1; b.max[2] = z1;
  return b;
}

// Well inside each threshold and just past it.
constexpr float kIn = 0.001f;

// ------------------------------------------------------------------ single predicates

TEST(ontop_contact_gap) {
  const Box table = box(0, 0, 0, 1, 1, 1);
  auto cube_at = [](float z) { return box(0.2f, 0.2f, z, 0.4f, 0.4f, z + 0.2f); };
  CHECK(ontop(cube_at(1.0f), table));
  CHECK(ontop(cube_at(1.0f + kContactGap - kIn), table));   // hovering within the gap
  CHECK(!ontop(cube_at(1.0f + kContactGap + kIn), table));  // hovering above it
  CHECK(ontop(cube_at(1.0f - kContactGap + kIn), table));   // sunk in (physics penetration)
  CHECK(!ontop(cube_at(1.0f - kContactGap - kIn), table));
  CHECK(!ontop(table, cube_at(1.0f)));                      // not the other way round
}

TEST(ontop_support_overlap) {
  const Box table = box(0, 0, 0, 1, 1, 1);
  // A 1 x 0.2 footprint sliding off the table's x = 1 edge.
  auto plank = [](float x0) { return box(x0, 0.4f, 1.0f, x0 + 1.0f, 0.6f, 1.1f); };
  CHECK(ontop(plank(0.49f), table));   // 51% over the table
  CHECK(ontop(plank(0.5f), table));    // exactly half counts
  CHECK(!ontop(plank(0.51f), table));  // 49%
  CHECK(!ontop(plank(1.0f), table));   // edge to edge: no overlap
  // The fraction is of a's footprint: a big tray on a small stool is not on it.
  const Box stool = box(0, 0, 0, 0.3f, 0.3f, 0.5f);
  CHECK(!ontop(box(-0.5f, -0.5f, 0.5f, 1.0f, 1.0f, 0.55f), stool));
  CHECK(ontop(box(0.05f, 0.05f, 0.5f, 0.25f, 0.25f, 0.6f), stool));
  // A footprint of no area needs its centre over the top.
  CHECK(ontop(box(0.5f, 0.5f, 1.0f, 0.5f, 0.5f, 1.2f), table));
  CHECK(!ontop(box(1.5f, 0.5f, 1.0f, 1.5f, 0.5f, 1.2f), table));
}

TEST(inside_tolerance) {
  const Box interior = box(0, 0, 0, 1, 1, 1);
  CHECK(inside(box(0.2f, 0.2f, 0.0f, 0.4f, 0.4f, 0.2f), interior));
  CHECK(inside(interior, interior));
  for (int k = 0; k < 3; ++k) {
    Box a = box(0.2f, 0.2f, 0.2f, 0.4f, 0.4f, 0.4f);
    Box lo = a, hi = a;
    lo.min[k] = -kInsideTolerance + kIn;
    hi.max[k] = 1.0f + kInsideTolerance - kIn;
    CHECK(inside(lo, interior));
    CHECK(inside(hi, interior));
    lo.min[k] = -kInsideTolerance - kIn;
    hi.max[k] = 1.0f + kInsideTolerance + kIn;
    CHECK(!inside(lo, interior));
    CHECK(!inside(hi, interior));
  }
  CHECK(!inside(box(2, 2, 2, 3, 3, 3), interior));
}

TEST(nextto_gap_and_stacking) {
  const Box a = box(0, 0, 0, 1, 1, 1);
  auto right_of = [](float gap) { return box(1.0f + gap, 0.0f, 0.0f, 1.5f + gap, 1.0f, 0.5f); };
  CHECK(nextto(a, right_of(0.0f)));                 // touching
  CHECK(nextto(a, right_of(kNextToGap - kIn)));
  CHECK(!nextto(a, right_of(kNextToGap + kIn)));
  CHECK(nextto(right_of(0.1f), a));                 // symmetric
  CHECK(nextto(a, right_of(-kContactGap + kIn)));   // interpenetrating a little
  CHECK(!nextto(a, right_of(-kContactGap - kIn)));  // overlapping: one is in the other
  // The gap is the Euclidean distance between the xy rectangles: 0.25 along
  // both axes is 0.354 apart.
  CHECK(!nextto(a, box(1.25f, 1.25f, 0.0f, 2.0f, 2.0f, 1.0f)));
  CHECK(nextto(a, box(1.2f, 1.2f, 0.0f, 2.0f, 2.0f, 1.0f)));  // 0.283
  // Stacked: z ranges that only touch, or are apart, are not side by side.
  CHECK(!nextto(a, box(0.0f, 0.0f, 1.0f, 1.0f, 1.0f, 2.0f)));
  CHECK(!nextto(a, box(1.1f, 0.0f, 1.0f, 2.0f, 1.0f, 2.0f)));   // beside, but on a higher shelf
  CHECK(nextto(a, box(1.1f, 0.0f, 0.99f, 2.0f, 1.0f, 2.0f)));   // z ranges overlap by 1 cm
}

TEST(under_table_top) {
  const Box top = box(0, 0, 0.7f, 1, 1, 0.8f);  // the part of a table that covers
  CHECK(under(box(0.2f, 0.2f, 0.0f, 0.4f, 0.4f, 0.3f), top));
  CHECK(under(box(0.2f, 0.2f, 0.0f, 0.4f, 0.4f, 0.7f + kContactGap - kIn), top));
  CHECK(!under(box(0.2f, 0.2f, 0.0f, 0.4f, 0.4f, 0.7f + kContactGap + kIn), top));
  CHECK(under(box(0.9f, 0.9f, 0.0f, 1.5f, 1.5f, 0.3f), top));   // partly under
  CHECK(!under(box(1.0f, 0.2f, 0.0f, 1.5f, 0.4f, 0.3f), top));  // edges touch: not under
  CHECK(!under(top, box(0.2f, 0.2f, 0.0f, 0.4f, 0.4f, 0.3f)));
}

TEST(onfloor_gap_and_centre) {
  const Box floor = box(0, 0, -0.01f, 4, 4, 0);
  CHECK(onfloor(box(1, 1, 0, 2, 2, 1), floor));
  CHECK(onfloor(box(1, 1, kContactGap - kIn, 2, 2, 1), floor));
  CHECK(!onfloor(box(1, 1, kContactGap + kIn, 2, 2, 1), floor));
  CHECK(onfloor(box(3.5f, 1, 0, 4.5f, 2, 1), floor));   // centre on the edge
  CHECK(!onfloor(box(3.6f, 1, 0, 4.6f, 2, 1), floor));  // centre in the next room
}

// ------------------------------------------------------------------ relations_from_geometry

const char* kRoom = R"(
(define (problem geometry-0)
  (:domain omnigibson)
  (:objects
    breakfast_table.n.01_1 - breakfast_table.n.01
    electric_refrigerator.n.01_1 - electric_refrigerator.n.01
    bowl.n.01_1 bowl.n.01_2 - bowl.n.01
    apple.n.01_1 apple.n.01_2 - apple.n.01
    carton.n.02_1 - carton.n.02
    floor.n.01_1 floor.n.01_2 - floor.n.01
    agent.n.01_1 - agent.n.01
  )
  (:init
    (inside apple.n.01_1 electric_refrigerator.n.01_1)
    (ontop bowl.n.01_1 breakfast_table.n.01_1)
    (open carton.n.02_1)
    (ontop agent.n.01_1 floor.n.01_1)
    (inroom breakfast_table.n.01_1 kitchen)
    (inroom floor.n.01_1 kitchen)
    (inroom floor.n.01_2 pantry)
  )
  (:goal (and (inside ?apple.n.01_1 ?bowl.n.01_1) (not (open ?electric_refrigerator.n.01_1))))
)
)";

const std::string kTable = "breakfast_table.n.01_1", kFridge = "electric_refrigerator.n.01_1",
                  kBowl1 = "bowl.n.01_1", kBowl2 = "bowl.n.01_2", kApple1 = "apple.n.01_1",
                  kApple2 = "apple.n.01_2", kCarton = "carton.n.02_1", kFloor1 = "floor.n.01_1",
                  kFloor2 = "floor.n.01_2";

TaskPtr room() {
  static TaskPtr t = fixtures::compile(kRoom);
  return t;
}

// Every object absent (no relations, no joint) until a test places it.
struct Scene {
  const Task& task;
  Geometry geo;
  explicit Scene(const Task& t) : task(t) {
    const size_t n = static_cast<size_t>(t.num_objects());
    geo.box.resize(n);
    geo.interior.resize(n);
    geo.has_interior.assign(n, 0);
    geo.joint_fraction.assign(n, -1.0f);
    geo.present.assign(n, 0);
  }
  Scene& put(const std::string& name, const Box& b) {
    int32_t i = obj(task, name);
    geo.box[i] = b;
    geo.present[i] = 1;
    return *this;
  }
  Scene& interior(const std::string& name, const Box& b) {
    int32_t i = obj(task, name);
    geo.interior[i] = b;
    geo.has_interior[i] = 1;
    return *this;
  }
  Scene& joint(const std::string& name, float fraction) {
    geo.joint_fraction[obj(task, name)] = fraction;
    return *this;
  }
  Scene& held(const std::string& name) {
    geo.present[obj(task, name)] = 0;
    return *this;
  }
  WorldState relations(WorldState s) const {
    relations_from_geometry(task, geo, s);
    return s;
  }
  WorldState relations() const { return relations(task.initial); }
};

// Kitchen floor, pantry floor beside it, a table standing on the kitchen floor.
Scene kitchen_scene(const Task& t) {
  Scene sc(t);
  sc.put(kFloor1, box(0, 0, -0.05f, 5, 5, 0))
      .put(kFloor2, box(5, 0, -0.05f, 8, 5, 0))
      .put(kTable, box(1, 1, 0, 2, 2, 0.8f));
  return sc;
}

int32_t parent_of(const Task& t, const WorldState& s, const std::string& name) { return s.parent[obj(t, name)]; }
Support support_of(const Task& t, const WorldState& s, const std::string& name) { return s.support[obj(t, name)]; }

// The number of stored geometric relations that hold with `name` on either side.
int relations_of(const Task& t, const WorldState& s, const std::string& name) {
  int count = 0;
  const int32_t i = obj(t, name);
  for (P p : {P::kOnTop, P::kInside, P::kNextTo, P::kUnder, P::kOnFloor})
    for (int32_t x = 0; x < t.num_objects(); ++x) count += s.get(t.layout, p, i, x) + s.get(t.layout, p, x, i);
  return count;
}

TEST(box_on_table_in_room_is_ontop_not_onfloor) {
  const Task& t = *room();
  Scene sc = kitchen_scene(t);
  sc.put(kBowl1, box(1.2f, 1.2f, 0.8f, 1.4f, 1.4f, 0.9f));
  WorldState s = sc.relations();
  CHECK(holds(t, s, P::kOnTop, kBowl1, kTable));
  CHECK(!holds(t, s, P::kOnFloor, kBowl1, kFloor1));
  CHECK(!holds(t, s, P::kOnTop, kBowl1, kFloor1));
  CHECK_EQ(parent_of(t, s, kBowl1), obj(t, kTable));
  CHECK_EQ(support_of(t, s, kBowl1), Support::kOnTop);
  // The table stands on the kitchen floor: onfloor and (ontop table floor),
  // but a floor is never a parent.
  CHECK(holds(t, s, P::kOnFloor, kTable, kFloor1));
  CHECK(holds(t, s, P::kOnTop, kTable, kFloor1));
  CHECK(!holds(t, s, P::kOnFloor, kTable, kFloor2));
  CHECK_EQ(parent_of(t, s, kTable), -1);
  // Floors are no one's subject, and nothing is next to or under them.
  CHECK(!holds(t, s, P::kNextTo, kFloor1, kFloor2));
  CHECK(!holds(t, s, P::kNextTo, kTable, kFloor1));
  CHECK(!holds(t, s, P::kUnder, kFloor1, kTable));
}

TEST(relations_are_overwritten) {
  const Task& t = *room();
  // The initial state has apple 1 inside the fridge; geometry puts it on the floor.
  CHECK(holds(t, t.initial, P::kInside, kApple1, kFridge));
  Scene sc = kitchen_scene(t);
  sc.put(kApple1, box(3, 3, 0, 3.1f, 3.1f, 0.1f));
  sc.put(kFridge, box(4, 4, 0, 5, 5, 2)).interior(kFridge, box(4.05f, 4.05f, 0.05f, 4.95f, 4.95f, 1.95f));
  WorldState s = sc.relations();
  CHECK(!holds(t, s, P::kInside, kApple1, kFridge));
  CHECK(holds(t, s, P::kOnFloor, kApple1, kFloor1));
  CHECK_EQ(parent_of(t, s, kApple1), -1);
  // An object with no box in the scene gets nothing, whatever the state said.
  CHECK(!holds(t, s, P::kOnTop, kBowl1, kTable));
  CHECK_EQ(parent_of(t, s, kBowl1), -1);
  // Unary states physics does not model are left alone.
  WorldState before = t.initial;
  before.set(t.layout, P::kCooked, obj(t, kApple1), true);
  CHECK(holds(t, sc.relations(before), P::kCooked, kApple1));
}

TEST(nested_containers_give_the_innermost_parent) {
  const Task& t = *room();
  Scene sc = kitchen_scene(t);
  sc.put(kFridge, box(3, 1, 0, 4, 2, 2)).interior(kFridge, box(3.05f, 1.05f, 0.05f, 3.95f, 1.95f, 1.95f));
  sc.put(kBowl1, box(3.2f, 1.2f, 0.05f, 3.6f, 1.6f, 0.25f)).interior(kBowl1, box(3.22f, 1.22f, 0.07f, 3.58f, 1.58f, 0.25f));
  sc.put(kApple1, box(3.3f, 1.3f, 0.07f, 3.4f, 1.4f, 0.17f));
  WorldState s = sc.relations();
  CHECK(holds(t, s, P::kInside, kApple1, kBowl1));
  CHECK(holds(t, s, P::kInside, kApple1, kFridge));  // geometrically in both
  CHECK(holds(t, s, P::kInside, kBowl1, kFridge));
  CHECK(!holds(t, s, P::kInside, kBowl1, kApple1));  // the apple has no interior
  CHECK_EQ(parent_of(t, s, kApple1), obj(t, kBowl1));
  CHECK_EQ(support_of(t, s, kApple1), Support::kInside);
  CHECK_EQ(parent_of(t, s, kBowl1), obj(t, kFridge));
  CHECK_EQ(support_of(t, s, kBowl1), Support::kInside);
  CHECK(holds(t, s, P::kOnFloor, kFridge, kFloor1));
  // The goal (inside apple bowl) holds on the derived state.
  CHECK(check_goal(t.goal, t.layout, s).condition_truth[0]);
  // Inside beats resting on: a bowl on a shelf of the fridge is inside it.
  sc.put(kBowl2, box(3.5f, 1.5f, 1.0f, 3.7f, 1.7f, 1.1f)).put(kCarton, box(3.1f, 1.1f, 0.5f, 3.9f, 1.9f, 1.0f));
  s = sc.relations();
  CHECK(holds(t, s, P::kOnTop, kBowl2, kCarton));
  CHECK_EQ(parent_of(t, s, kBowl2), obj(t, kFridge));
  CHECK_EQ(support_of(t, s, kBowl2), Support::kInside);
}

TEST(parent_is_the_highest_top) {
  const Task& t = *room();
  Scene sc = kitchen_scene(t);
  // A plank across the table (top 0.8) and a carton beside it, top 0.81.
  sc.put(kCarton, box(2, 1, 0, 2.5f, 2, 0.81f));
  sc.put(kBowl2, box(1.5f, 1.4f, 0.8f, 2.5f, 1.6f, 0.9f));
  WorldState s = sc.relations();
  CHECK(holds(t, s, P::kOnTop, kBowl2, kTable));
  CHECK(holds(t, s, P::kOnTop, kBowl2, kCarton));
  CHECK_EQ(parent_of(t, s, kBowl2), obj(t, kCarton));
}

TEST(stacked_boxes_are_not_nextto) {
  const Task& t = *room();
  Scene sc = kitchen_scene(t);
  sc.put(kBowl1, box(3, 3, 0, 3.4f, 3.4f, 0.2f)).put(kBowl2, box(3, 3, 0.2f, 3.4f, 3.4f, 0.4f));
  WorldState s = sc.relations();
  CHECK(holds(t, s, P::kOnTop, kBowl2, kBowl1));
  CHECK_EQ(parent_of(t, s, kBowl2), obj(t, kBowl1));
  CHECK(!holds(t, s, P::kNextTo, kBowl1, kBowl2));
  CHECK(!holds(t, s, P::kNextTo, kBowl2, kBowl1));
  CHECK(holds(t, s, P::kUnder, kBowl1, kBowl2));  // the lower one is under the upper one
  // Side by side they are, both ways.
  sc.put(kBowl2, box(3.5f, 3, 0, 3.9f, 3.4f, 0.2f));
  s = sc.relations();
  CHECK(holds(t, s, P::kNextTo, kBowl1, kBowl2));
  CHECK(holds(t, s, P::kNextTo, kBowl2, kBowl1));
  CHECK(!holds(t, s, P::kOnTop, kBowl2, kBowl1));
  CHECK(holds(t, s, P::kOnFloor, kBowl2, kFloor1));
}

TEST(under_in_a_scene) {
  const Task& t = *room();
  Scene sc(t);
  sc.put(kFloor1, box(0, 0, -0.05f, 5, 5, 0));
  sc.put(kTable, box(1, 1, 0.7f, 2, 2, 0.8f));  // the table given as its top
  sc.put(kBowl1, box(1.2f, 1.2f, 0, 1.5f, 1.5f, 0.2f));
  WorldState s = sc.relations();
  CHECK(holds(t, s, P::kUnder, kBowl1, kTable));
  CHECK(!holds(t, s, P::kUnder, kTable, kBowl1));
  CHECK(holds(t, s, P::kOnFloor, kBowl1, kFloor1));
  CHECK_EQ(parent_of(t, s, kBowl1), -1);
}

TEST(held_object_gets_no_relations) {
  const Task& t = *room();
  Scene sc = kitchen_scene(t);
  // The carton's box rests on the table and the apple on the carton, but the
  // carton is in a hand: its box does not count.
  sc.put(kCarton, box(1.2f, 1.2f, 0.8f, 1.5f, 1.5f, 1.0f)).held(kCarton);
  sc.put(kApple2, box(1.3f, 1.3f, 1.0f, 1.4f, 1.4f, 1.1f));
  sc.put(kBowl2, box(1.6f, 1.2f, 0.8f, 1.8f, 1.4f, 0.9f));
  WorldState s = sc.relations();
  CHECK_EQ(relations_of(t, s, kCarton), 0);
  CHECK_EQ(parent_of(t, s, kCarton), -1);
  CHECK(!holds(t, s, P::kOnTop, kApple2, kCarton));
  CHECK_EQ(parent_of(t, s, kApple2), -1);
  CHECK(!holds(t, s, P::kNextTo, kBowl2, kCarton));
  // In the scene again, it has them.
  sc.put(kCarton, box(1.2f, 1.2f, 0.8f, 1.5f, 1.5f, 1.0f));
  s = sc.relations();
  CHECK(holds(t, s, P::kOnTop, kCarton, kTable));
  CHECK(holds(t, s, P::kOnTop, kApple2, kCarton));
  CHECK(holds(t, s, P::kNextTo, kBowl2, kCarton));
  CHECK_EQ(parent_of(t, s, kApple2), obj(t, kCarton));
}

TEST(open_from_joint_fraction) {
  const Task& t = *room();
  Scene sc = kitchen_scene(t);
  sc.put(kFridge, box(3, 1, 0, 4, 2, 2));
  CHECK(holds(t, sc.joint(kFridge, 0.5f).relations(), P::kOpen, kFridge));
  CHECK(holds(t, sc.joint(kFridge, kOpenFraction).relations(), P::kOpen, kFridge));
  CHECK(!holds(t, sc.joint(kFridge, kOpenFraction - 0.01f).relations(), P::kOpen, kFridge));
  CHECK(!holds(t, sc.joint(kFridge, 0.0f).relations(), P::kOpen, kFridge));
  // No joint (< 0): open stays what the state says (the carton starts open).
  CHECK(holds(t, t.initial, P::kOpen, kCarton));
  CHECK(holds(t, sc.relations(), P::kOpen, kCarton));
  // A joint still reads while its object is held.
  sc.put(kCarton, box(3, 3, 1, 3.2f, 3.2f, 1.2f)).held(kCarton).joint(kCarton, 0.0f);
  CHECK(!holds(t, sc.relations(), P::kOpen, kCarton));
}

TEST(slice_parts_follow_the_state) {
  const Task& t = *room();
  const std::string part0 = kApple2 + "_part_0", part1 = kApple2 + "_part_1";
  Scene sc = kitchen_scene(t);
  sc.put(kApple2, box(1.2f, 1.2f, 0.8f, 1.3f, 1.3f, 0.9f));
  sc.put(part0, box(1.5f, 1.5f, 0.8f, 1.55f, 1.6f, 0.85f)).put(part1, box(1.6f, 1.5f, 0.8f, 1.65f, 1.6f, 0.85f));
  // Before slicing, the parts are not in the state: no relations.
  WorldState s = sc.relations();
  CHECK_EQ(relations_of(t, s, part0), 0);
  CHECK(holds(t, s, P::kOnTop, kApple2, kTable));
  // Sliced: the whole's placement is what its parts share.
  WorldState sliced = t.initial;
  sliced.set(t.layout, P::kSliced, obj(t, kApple2), true);
  sliced.set_present(obj(t, part0), true);
  sliced.set_present(obj(t, part1), true);
  sc.held(kApple2);
  s = sc.relations(sliced);
  CHECK(holds(t, s, P::kOnTop, part0, kTable));
  CHECK(holds(t, s, P::kOnTop, part1, kTable));
  CHECK(holds(t, s, P::kNextTo, part0, part1));
  CHECK(holds(t, s, P::kOnTop, kApple2, kTable));
  CHECK(!holds(t, s, P::kNextTo, kApple2, kApple2));
  CHECK_EQ(parent_of(t, s, kApple2), -1);
  // One part moved to the floor: the parts no longer share the table.
  sc.put(part1, box(3, 3, 0, 3.05f, 3.1f, 0.05f));
  s = sc.relations(sliced);
  CHECK(!holds(t, s, P::kOnTop, kApple2, kTable));
  CHECK(!holds(t, s, P::kOnFloor, kApple2, kFloor1));
}

TEST(flat_boxes_make_no_support_cycle) {
  const Task& t = *room();
  Scene sc = kitchen_scene(t);
  // Two sheets at one height: each is "on top of" the other.
  sc.put(kBowl1, box(1.2f, 1.2f, 0.8f, 1.4f, 1.4f, 0.8f)).put(kBowl2, box(1.2f, 1.2f, 0.8f, 1.4f, 1.4f, 0.8f));
  WorldState s = sc.relations();
  for (int32_t i = 0; i < t.num_objects(); ++i) {
    int32_t node = i, steps = 0;
    while (node >= 0 && steps <= t.num_objects()) node = s.parent[node], ++steps;
    CHECK(node < 0);
  }
}

TEST(boxes_that_are_not_finite_are_left_out) {
  const Task& t = *room();
  Scene sc = kitchen_scene(t);
  sc.put(kBowl1, box(1.2f, 1.2f, 0.8f, 1.4f, 1.4f, 0.9f));
  sc.put(kBowl2, box(1.5f, 1.2f, 0.8f, 1.7f, 1.4f, 0.9f));
  CHECK(holds(t, sc.relations(), P::kNextTo, kBowl1, kBowl2));
  for (float bad : {std::numeric_limits<float>::quiet_NaN(), std::numeric_limits<float>::infinity()}) {
    for (int k = 0; k < 6; ++k) {
      Scene broken = sc;
      Box& b = broken.geo.box[obj(t, kBowl1)];
      (k < 3 ? b.min[k] : b.max[k - 3]) = bad;
      WorldState s = broken.relations();
      CHECK_EQ(relations_of(t, s, kBowl1), 0);
      CHECK_EQ(parent_of(t, s, kBowl1), -1);
      CHECK(holds(t, s, P::kOnTop, kBowl2, kTable));
    }
  }
  // A container whose interior is not finite holds nothing.
  sc.put(kFridge, box(3, 1, 0, 4, 2, 2)).interior(kFridge, box(3.05f, 1.05f, 0.05f, 3.95f, 1.95f, 1.95f));
  sc.put(kApple1, box(3.3f, 1.3f, 0.05f, 3.4f, 1.4f, 0.15f));
  CHECK(holds(t, sc.relations(), P::kInside, kApple1, kFridge));
  sc.geo.interior[obj(t, kFridge)].max[2] = std::numeric_limits<float>::quiet_NaN();
  CHECK(!holds(t, sc.relations(), P::kInside, kApple1, kFridge));
}

TEST(wrong_sizes_throw) {
  const Task& t = *room();
  Scene sc = kitchen_scene(t);
  sc.geo.present.pop_back();
  WorldState s = t.initial;
  CHECK_THROWS_AS(relations_from_geometry(t, sc.geo, s), std::invalid_argument,
                  CHECK(std::string(e.what()).find("present") != std::string::npos));
  Scene ok = kitchen_scene(t);
  WorldState other = WorldState::empty(WorldLayout::make(3, {}));
  CHECK_THROWS(relations_from_geometry(t, ok.geo, other), std::invalid_argument);
}

TEST(unstored_predicates_still_choose_parents) {
  // A hand-built task that stores only ontop: inside is not stored, yet the
  // container is the parent.
  Task t;
  for (const char* name : {"box", "crate", "floor"}) {
    Object o;
    o.name = name;
    o.category = name;
    t.index_of[name] = t.num_objects();
    t.objects.push_back(o);
  }
  t.objects[2].abilities = kFloor;
  t.layout = WorldLayout::make(3, {P::kOnTop});
  t.initial = WorldState::empty(t.layout);
  Scene sc(t);
  sc.put("floor", box(0, 0, -0.1f, 5, 5, 0));
  sc.put("crate", box(1, 1, 0, 2, 2, 1)).interior("crate", box(1.05f, 1.05f, 0.05f, 1.95f, 1.95f, 1.0f));
  sc.put("box", box(1.2f, 1.2f, 0.05f, 1.4f, 1.4f, 0.2f));
  WorldState s = sc.relations();
  CHECK_EQ(s.parent[0], 1);
  CHECK_EQ(s.support[0], Support::kInside);
  CHECK(!s.get(t.layout, P::kInside, 0, 1));
  CHECK(s.get(t.layout, P::kOnTop, 1, 2));  // (ontop crate floor) stored, onfloor not
  CHECK(!s.get(t.layout, P::kOnFloor, 1, 2));
}

TEST(scene_agrees_with_the_single_predicates) {
  // Random boxes on a 1 cm grid, so that many pairs sit exactly on a
  // threshold: the vectorized pair loop must give what the single-pair
  // functions give, for every pair.
  std::string text = "(define (problem random-0) (:domain omnigibson) (:objects ";
  for (int i = 1; i <= 90; ++i) text += "bowl.n.01_" + std::to_string(i) + " ";
  text += "- bowl.n.01 floor.n.01_1 floor.n.01_2 - floor.n.01) (:init (onfloor bowl.n.01_1 floor.n.01_1)) "
          "(:goal (and (under ?bowl.n.01_1 ?bowl.n.01_2))))";
  TaskPtr tp = fixtures::compile(text);
  const Task& t = *tp;
  const int32_t n = t.num_objects();
  std::mt19937 rng(7);
  auto grid = [&](int lo, int hi) { return 0.01f * std::uniform_int_distribution<int>(lo, hi)(rng); };
  for (int round = 0; round < 20; ++round) {
    Scene sc(t);
    for (int32_t i = 0; i < n; ++i) {
      const std::string& name = t.objects[i].name;
      if (t.has(i, kFloor)) {
        const float x0 = name == "floor.n.01_1" ? 0.0f : 1.0f;
        sc.put(name, box(x0, 0, -0.05f, x0 + 1.0f, 1, grid(-2, 2)));
        continue;
      }
      const float x = grid(0, 150), y = grid(0, 100), z = grid(0, 60);
      const Box b = box(x, y, z, x + grid(0, 40), y + grid(0, 40), z + grid(0, 30));
      sc.put(name, b);
      if (i % 3 == 0) sc.interior(name, box(b.min[0] + 0.01f, b.min[1] + 0.01f, b.min[2] + 0.01f, b.max[0], b.max[1], b.max[2]));
      if (i % 17 == 5) sc.held(name);
    }
    const WorldState s = sc.relations();
    const Geometry& g = sc.geo;
    int mismatches = 0, relations = 0;
    for (int32_t a = 0; a < n; ++a) {
      for (int32_t b = 0; b < n; ++b) {
        const bool active = a != b && g.present[a] && g.present[b] && !t.has(a, kFloor);
        const bool fb = t.has(b, kFloor);
        const bool on = active && (fb ? onfloor(g.box[a], g.box[b]) : ontop(g.box[a], g.box[b]));
        const bool in = active && !fb && g.has_interior[b] && inside(g.box[a], g.interior[b]);
        const bool next = active && !fb && nextto(g.box[a], g.box[b]);
        const bool below = active && !fb && under(g.box[a], g.box[b]);
        const bool floor = active && fb && onfloor(g.box[a], g.box[b]);
        mismatches += on != s.get(t.layout, P::kOnTop, a, b);
        mismatches += in != s.get(t.layout, P::kInside, a, b);
        mismatches += next != s.get(t.layout, P::kNextTo, a, b);
        mismatches += below != s.get(t.layout, P::kUnder, a, b);
        mismatches += floor != s.get(t.layout, P::kOnFloor, a, b);
        mismatches += next != nextto(g.box[b], g.box[a]) && active && !fb && g.present[b] && !t.has(b, kFloor);
        relations += on + in + next + below + floor;
      }
    }
    CHECK_EQ(mismatches, 0);
    CHECK(relations > 100);  // the scene is not empty
    // Parents are what the relations say.
    for (int32_t a = 0; a < n; ++a) {
      const int32_t p = s.parent[a];
      if (p < 0) continue;
      CHECK(!t.has(p, kFloor));
      CHECK(s.get(t.layout, s.support[a] == Support::kInside ? P::kInside : P::kOnTop, a, p));
    }
  }
}

TEST(many_objects_span_several_words) {
  // 150 bowls: a row of towers of two on one floor, with indices past 64 and 128.
  std::string text = "(define (problem many-0) (:domain omnigibson) (:objects ";
  for (int i = 1; i <= 150; ++i) text += "bowl.n.01_" + std::to_string(i) + " ";
  text += "- bowl.n.01 floor.n.01_1 - floor.n.01) (:init (onfloor bowl.n.01_1 floor.n.01_1)) "
          "(:goal (and (nextto ?bowl.n.01_149 ?bowl.n.01_147))))";
  TaskPtr tp = fixtures::compile(text);
  const Task& t = *tp;
  Scene sc(t);
  sc.put("floor.n.01_1", box(-1, -1, -0.1f, 100, 2, 0));
  for (int i = 0; i < 150; ++i) {
    const float x = 0.5f * (i / 2);
    const float z = (i % 2) * 0.2f;  // odd indices on top of the one before
    sc.put("bowl.n.01_" + std::to_string(i + 1), box(x, 0, z, x + 0.4f, 0.4f, z + 0.2f));
  }
  WorldState s = sc.relations();
  CHECK(holds(t, s, P::kOnTop, "bowl.n.01_150", "bowl.n.01_149"));
  CHECK_EQ(parent_of(t, s, "bowl.n.01_150"), obj(t, "bowl.n.01_149"));
  CHECK(holds(t, s, P::kOnFloor, "bowl.n.01_149", "floor.n.01_1"));
  CHECK(!holds(t, s, P::kOnFloor, "bowl.n.01_150", "floor.n.01_1"));
  CHECK(holds(t, s, P::kNextTo, "bowl.n.01_149", "bowl.n.01_147"));  // neighbouring towers, 0.1 apart
  CHECK(holds(t, s, P::kNextTo, "bowl.n.01_66", "bowl.n.01_64"));
  CHECK(!holds(t, s, P::kNextTo, "bowl.n.01_149", "bowl.n.01_145"));  // 0.6 apart
  CHECK(!holds(t, s, P::kNextTo, "bowl.n.01_149", "bowl.n.01_150"));  // stacked
  CHECK(check_goal(t.goal, t.layout, s).success);
}

}  // namespace

int main(int argc, char** argv) { return check::run_all(argc, argv); }
