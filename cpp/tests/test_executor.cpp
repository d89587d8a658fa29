// Symbolic executor on the kitchen: grasp / place / open / close, closed
// containers, carrying, slice parts, clean, soak, cook, wrong order,
// additional steps, resolution errors.
#include <string>

#include "fixtures.hpp"

using namespace emx;
using fixtures::holds;
using fixtures::obj;
using fixtures::step;
using P = Predicate;
using E = ErrorType;

namespace {

const std::string kApple1 = "apple.n.01_1";  // inside the closed fridge
const std::string kApple2 = "apple.n.01_2";  // on the countertop
const std::string kFridge = "electric_refrigerator.n.01_1";
const std::string kCounter = "countertop.n.01_1";
const std::string kKnife = "carving_knife.n.01_1";
const std::string kPeach = "peach.n.03_1";
const std::string kSink = "sink.n.01_1";
const std::string kRag = "rag.n.01_1";
const std::string kPan = "saucepan.n.01_1";
const std::string kBowl1 = "bowl.n.01_1";  // dusty
const std::string kBowl2 = "bowl.n.01_2";  // stained
const std::string kFloorName = "floor.n.01_1";

TaskPtr kitchen() {
  static TaskPtr t = fixtures::load("kitchen.bddl");
  return t;
}

// One step that must succeed with no error.
#define STEP_OK(t, s, name, ...)                                                    \
  do {                                                                              \
    StepResult r_ = step(t, s, name, {__VA_ARGS__});                                \
    if (!r_.ok || r_.error != E::kNone)                                             \
      check::fail(__FILE__, __LINE__, std::string(name) + " failed: " + r_.message); \
  } while (0)

// One step that must fail with `err` and leave the state as it was.
#define STEP_FAILS(t, s, err, name, ...)                                                                    \
  do {                                                                                                      \
    WorldState before_ = s;                                                                                 \
    StepResult r_ = step(t, s, name, {__VA_ARGS__});                                                        \
    ++check::state().checks;                                                                                \
    if (r_.ok || r_.error != err)                                                                           \
      check::fail(__FILE__, __LINE__, std::string(name) + ": expected error " + std::string(error_name(err)) + \
                                          ", got " + std::string(error_name(r_.error)) + " (" + r_.message + ")"); \
    CHECK(s == before_);                                                                                    \
  } while (0)

}  // namespace

TEST(grasp_and_place) {
  const Task& t = *kitchen();
  WorldState s = t.initial;
  STEP_OK(t, s, "RIGHT_GRASP", kApple2);
  CHECK_EQ(s.hand[1], obj(t, kApple2));
  CHECK_EQ(s.hand[0], -1);
  CHECK(!holds(t, s, P::kOnTop, kApple2, kCounter));
  CHECK_EQ(s.parent[obj(t, kApple2)], -1);
  // the right hand is full; the left is free
  STEP_FAILS(t, s, E::kMissingStep, "RIGHT_GRASP", kPeach);
  STEP_OK(t, s, "LEFT_GRASP", kPeach);
  CHECK_EQ(s.hand[0], obj(t, kPeach));
  STEP_OK(t, s, "RIGHT_PLACE_INSIDE", kBowl1);
  CHECK(holds(t, s, P::kInside, kApple2, kBowl1));
  CHECK_EQ(s.parent[obj(t, kApple2)], obj(t, kBowl1));
  CHECK(s.support[obj(t, kApple2)] == Support::kInside);
  CHECK_EQ(s.hand[1], -1);
  STEP_FAILS(t, s, E::kMissingStep, "RIGHT_PLACE_ONTOP", kCounter);  // nothing in the right hand
  STEP_OK(t, s, "LEFT_PLACE_ONTOP", kCounter);
  CHECK(holds(t, s, P::kOnTop, kPeach, kCounter));
  CHECK_EQ(s.hand[0], -1);
}

TEST(grasp_additional_steps_do_not_change_the_state) {
  const Task& t = *kitchen();
  WorldState s = t.initial;
  STEP_OK(t, s, "LEFT_GRASP", kApple2);
  WorldState before = s;
  StepResult r = step(t, s, "LEFT_GRASP", {kApple2});
  CHECK(r.ok);
  CHECK(r.error == E::kAdditionalStep);
  r = step(t, s, "RIGHT_GRASP", {kApple2});  // already in the other hand
  CHECK(r.ok);
  CHECK(r.error == E::kAdditionalStep);
  CHECK(s == before);
  CHECK_EQ(s.hand[1], -1);
}

TEST(things_that_cannot_be_grasped) {
  const Task& t = *kitchen();
  WorldState s = t.initial;
  STEP_FAILS(t, s, E::kAffordance, "RIGHT_GRASP", kCounter);  // furniture
  STEP_FAILS(t, s, E::kAffordance, "RIGHT_GRASP", kFloorName);
  STEP_FAILS(t, s, E::kAffordance, "RIGHT_GRASP", "agent.n.01_1");
  STEP_FAILS(t, s, E::kAffordance, "RIGHT_GRASP", kFridge);
}

TEST(open_and_close) {
  const Task& t = *kitchen();
  WorldState s = t.initial;
  STEP_OK(t, s, "OPEN", kFridge);
  CHECK(holds(t, s, P::kOpen, kFridge));
  StepResult again = step(t, s, "OPEN", {kFridge});
  CHECK(again.ok);
  CHECK(again.error == E::kAdditionalStep);
  STEP_OK(t, s, "CLOSE", kFridge);
  CHECK(!holds(t, s, P::kOpen, kFridge));
  STEP_FAILS(t, s, E::kAffordance, "OPEN", kBowl1);  // not openable
  STEP_FAILS(t, s, E::kAffordance, "TOGGLE_ON", kFridge);
}

TEST(closed_container_hides_its_contents) {
  const Task& t = *kitchen();
  WorldState s = t.initial;
  StepResult r = step(t, s, "RIGHT_GRASP", {kApple1});
  CHECK(!r.ok);
  CHECK(r.error == E::kMissingStep);
  CHECK(r.message.find(kFridge) != std::string::npos);
  STEP_OK(t, s, "OPEN", kFridge);
  STEP_OK(t, s, "RIGHT_GRASP", kApple1);
  CHECK(!holds(t, s, P::kInside, kApple1, kFridge));
  STEP_OK(t, s, "CLOSE", kFridge);
  STEP_FAILS(t, s, E::kMissingStep, "RIGHT_PLACE_INSIDE", kFridge);  // closed
  STEP_FAILS(t, s, E::kAffordance, "RIGHT_PLACE_INSIDE", kCounter);  // not a container
}

TEST(carried_things_move_with_their_container_and_hide_inside_it) {
  const Task& t = *kitchen();
  WorldState s = t.initial;
  STEP_OK(t, s, "RIGHT_GRASP", kApple2);
  STEP_OK(t, s, "RIGHT_PLACE_INSIDE", kBowl1);
  STEP_OK(t, s, "LEFT_GRASP", kBowl1);
  CHECK(holds(t, s, P::kInside, kApple2, kBowl1));  // carried along
  CHECK_EQ(s.parent[obj(t, kApple2)], obj(t, kBowl1));
  STEP_FAILS(t, s, E::kMissingStep, "LEFT_PLACE_ONTOP", kApple2);  // on something it carries
  STEP_OK(t, s, "OPEN", kFridge);
  STEP_OK(t, s, "LEFT_PLACE_INSIDE", kFridge);
  STEP_OK(t, s, "CLOSE", kFridge);
  CHECK(holds(t, s, P::kInside, kApple2, kBowl1));
  CHECK(holds(t, s, P::kInside, kBowl1, kFridge));
  // the apple is two levels down in a closed fridge
  STEP_FAILS(t, s, E::kMissingStep, "RIGHT_GRASP", kApple2);
  STEP_FAILS(t, s, E::kMissingStep, "RIGHT_GRASP", kBowl1);
  STEP_FAILS(t, s, E::kMissingStep, "CLEAN", kBowl1);
}

TEST(place_next_to_and_under) {
  const Task& t = *kitchen();
  WorldState s = t.initial;
  STEP_OK(t, s, "RIGHT_GRASP", kApple2);
  STEP_OK(t, s, "RIGHT_PLACE_NEXTTO", kBowl2);
  CHECK(holds(t, s, P::kNextTo, kApple2, kBowl2));
  CHECK(holds(t, s, P::kNextTo, kBowl2, kApple2));
  CHECK_EQ(s.parent[obj(t, kApple2)], obj(t, kCounter));  // where the bowl is
  CHECK(holds(t, s, P::kOnTop, kApple2, kCounter));
  STEP_OK(t, s, "RIGHT_GRASP", kApple2);
  CHECK(!holds(t, s, P::kNextTo, kBowl2, kApple2));  // picking it up breaks both directions
  STEP_OK(t, s, "RIGHT_PLACE_UNDER", kCounter);
  CHECK(holds(t, s, P::kUnder, kApple2, kCounter));
  CHECK(holds(t, s, P::kOnFloor, kApple2, kFloorName));  // the countertop stands on the floor
  STEP_OK(t, s, "LEFT_GRASP", kPeach);
  STEP_OK(t, s, "LEFT_PLACE_NEXTTO_ONTOP", kApple2, kCounter);
  CHECK(holds(t, s, P::kNextTo, kPeach, kApple2));
  CHECK(holds(t, s, P::kOnTop, kPeach, kCounter));
}

TEST(release) {
  const Task& t = *kitchen();
  WorldState s = t.initial;
  STEP_OK(t, s, "RIGHT_GRASP", kApple2);
  STEP_FAILS(t, s, E::kMissingStep, "RIGHT_RELEASE", kPeach);  // holding something else
  STEP_OK(t, s, "RIGHT_RELEASE", kApple2);
  CHECK_EQ(s.hand[1], -1);
  // releasing what sits on the countertop with an empty hand: grasp it first
  STEP_FAILS(t, s, E::kMissingStep, "LEFT_RELEASE", kPeach);
}

TEST(slice_makes_parts) {
  const Task& t = *kitchen();
  WorldState s = t.initial;
  const std::string part0 = kPeach + "_part_0", part1 = kPeach + "_part_1";
  STEP_FAILS(t, s, E::kMissingStep, "SLICE", kPeach);           // no knife
  STEP_FAILS(t, s, E::kMissingStep, "RIGHT_GRASP", part0);      // parts do not exist yet
  STEP_OK(t, s, "LEFT_GRASP", kKnife);
  STEP_FAILS(t, s, E::kAffordance, "SLICE", kBowl1);            // not sliceable
  STEP_OK(t, s, "SLICE", kPeach);
  CHECK(holds(t, s, P::kSliced, kPeach));
  CHECK(s.is_present(obj(t, part0)));
  CHECK(s.is_present(obj(t, part1)));
  CHECK(holds(t, s, P::kSliced, part0));
  CHECK(holds(t, s, P::kOnTop, part0, kCounter));  // where the whole was
  CHECK(holds(t, s, P::kOnTop, part1, kCounter));
  CHECK_EQ(s.parent[obj(t, part1)], obj(t, kCounter));
  StepResult again = step(t, s, "SLICE", {kPeach});
  CHECK(again.ok);
  CHECK(again.error == E::kAdditionalStep);
  STEP_FAILS(t, s, E::kAffordance, "RIGHT_GRASP", kPeach);  // act on the parts
  STEP_OK(t, s, "RIGHT_GRASP", part1);
  CHECK_EQ(s.hand[1], obj(t, part1));
  STEP_FAILS(t, s, E::kMissingStep, "SLICE", kApple2);  // both hands full
}

TEST(sliced_whole_reads_as_what_its_parts_share) {
  const Task& t = *kitchen();
  WorldState s = t.initial;
  STEP_OK(t, s, "LEFT_GRASP", kKnife);
  STEP_OK(t, s, "SLICE", kPeach);
  STEP_OK(t, s, "RIGHT_GRASP", kPan);
  STEP_OK(t, s, "RIGHT_PLACE_ONTOP", kCounter);
  STEP_OK(t, s, "RIGHT_GRASP", kPeach + "_part_0");
  STEP_OK(t, s, "RIGHT_PLACE_INSIDE", kPan);
  STEP_OK(t, s, "COOK", kPeach + "_part_0");
  CHECK(holds(t, s, P::kCooked, kPeach + "_part_0"));
  CHECK(!holds(t, s, P::kCooked, kPeach));  // one part cooked: the whole is not
  STEP_OK(t, s, "RIGHT_GRASP", kPeach + "_part_1");
  STEP_OK(t, s, "RIGHT_PLACE_INSIDE", kPan);
  STEP_OK(t, s, "COOK", kPeach + "_part_1");
  CHECK(holds(t, s, P::kCooked, kPeach));
  CHECK(holds(t, s, P::kInside, kPeach, kPan));
}

TEST(clean_dust_with_a_tool_and_stains_with_a_soaked_one) {
  const Task& t = *kitchen();
  WorldState s = t.initial;
  STEP_FAILS(t, s, E::kMissingStep, "CLEAN", kBowl1);  // no tool
  STEP_OK(t, s, "RIGHT_GRASP", kRag);
  STEP_OK(t, s, "CLEAN", kBowl1);
  CHECK(!holds(t, s, P::kDusty, kBowl1));
  StepResult noop = step(t, s, "CLEAN", {kBowl1});
  CHECK(noop.ok);
  CHECK(noop.error == E::kAdditionalStep);
  STEP_FAILS(t, s, E::kMissingStep, "CLEAN", kBowl2);  // stained: the rag is dry
  // soak the rag in the running sink
  STEP_OK(t, s, "RIGHT_PLACE_INSIDE", kSink);
  STEP_FAILS(t, s, E::kMissingStep, "SOAK", kRag);     // the sink is off
  STEP_OK(t, s, "TOGGLE_ON", kSink);
  CHECK(holds(t, s, P::kToggledOn, kSink));
  STEP_OK(t, s, "SOAK", kRag);
  CHECK(holds(t, s, P::kSoaked, kRag));
  STEP_FAILS(t, s, E::kAffordance, "SOAK", kBowl2);   // not soakable
  STEP_OK(t, s, "RIGHT_GRASP", kRag);
  CHECK(holds(t, s, P::kSoaked, kRag));
  STEP_OK(t, s, "CLEAN", kBowl2);
  CHECK(!holds(t, s, P::kStained, kBowl2));
  STEP_FAILS(t, s, E::kAffordance, "CLEAN", "gizmo.n.01_1");  // unknown category: no abilities
}

TEST(cook_needs_a_pan) {
  const Task& t = *kitchen();
  WorldState s = t.initial;
  STEP_FAILS(t, s, E::kMissingStep, "COOK", kApple2);
  STEP_FAILS(t, s, E::kAffordance, "COOK", kBowl1);
  STEP_OK(t, s, "RIGHT_GRASP", kApple2);
  STEP_OK(t, s, "RIGHT_PLACE_INSIDE", kPan);
  STEP_OK(t, s, "COOK", kApple2);
  CHECK(holds(t, s, P::kCooked, kApple2));
  StepResult again = step(t, s, "COOK", {kApple2});
  CHECK(again.ok);
  CHECK(again.error == E::kAdditionalStep);
}

TEST(execute_reports_wrong_order) {
  const Task& t = *kitchen();
  std::vector<Action> plan = {fixtures::act(t, "OPEN", {kFridge}), fixtures::act(t, "CLOSE", {kFridge}),
                              fixtures::act(t, "RIGHT_GRASP", {kApple1}), fixtures::act(t, "OPEN", {kFridge})};
  Execution ex = execute(t, t.initial, plan);
  CHECK_EQ(ex.executed, 2);
  CHECK_EQ(ex.plan_length, 4);
  CHECK(!ex.completed);
  CHECK(ex.first_error == E::kWrongOrder);
  CHECK_EQ(ex.trace.size(), 3u);
  CHECK(!ex.trace.back().result.ok);
  CHECK(ex.trace.back().result.message.find("step 2") != std::string::npos);
  // the same step first, with no earlier chance: a plain missing step
  Execution first = execute(t, t.initial, {fixtures::act(t, "RIGHT_GRASP", {kApple1})});
  CHECK(first.first_error == E::kMissingStep);
  CHECK_EQ(first.executed, 0);
}

TEST(execute_goes_on_after_additional_steps) {
  const Task& t = *kitchen();
  std::vector<Action> plan = {fixtures::act(t, "OPEN", {kFridge}), fixtures::act(t, "OPEN", {kFridge}),
                              fixtures::act(t, "RIGHT_GRASP", {kApple1})};
  Execution ex = execute(t, t.initial, plan);
  CHECK(ex.completed);
  CHECK_EQ(ex.executed, 3);
  CHECK(ex.first_error == E::kNone);
  CHECK(ex.trace[1].result.error == E::kAdditionalStep);
  CHECK_EQ(ex.final_state.hand[1], obj(t, kApple1));
  Execution quiet = execute(t, t.initial, plan, false);
  CHECK(quiet.trace.empty());
  CHECK(quiet.final_state == ex.final_state);
}

TEST(resolution_errors_are_reported_at_their_step) {
  const Task& t = *kitchen();
  Action unknown_action = fixtures::act(t, "JUMP", {kApple2});
  CHECK(unknown_action.error == E::kUnknownAction);
  Action unknown_object = fixtures::act(t, "RIGHT_GRASP", {"apple_999"});
  CHECK(unknown_object.error == E::kUnknownObject);
  Action arity = fixtures::act(t, "RIGHT_GRASP", {kApple2, kPeach});
  CHECK(arity.error == E::kWrongArity);
  Action lower = fixtures::act(t, "right_grasp", {kApple2});  // names are case-insensitive
  CHECK(lower.error == E::kNone);
  CHECK(lower.type == ActionType::kRightGrasp);
  CHECK_EQ(describe(t, lower), std::string("RIGHT_GRASP(apple.n.01_2)"));
  Execution ex = execute(t, t.initial, {lower, unknown_object, lower});
  CHECK_EQ(ex.executed, 1);
  CHECK(ex.first_error == E::kUnknownObject);
  ex = execute(t, t.initial, {arity});
  CHECK(ex.first_error == E::kWrongArity);
  ex = execute(t, t.initial, {unknown_action});
  CHECK(ex.first_error == E::kUnknownAction);
}

TEST(eai_checks_the_whole_plan_before_running_it) {
  CompileOptions eai;
  eai.semantics = Semantics::kEai;
  TaskPtr tp = fixtures::load("kitchen.bddl", eai);
  const Task& t = *tp;
  Action ok = fixtures::act(t, "RIGHT_GRASP", {kApple2});
  Action arity = fixtures::act(t, "RIGHT_GRASP", {kApple2, kPeach});
  Action unknown = fixtures::act(t, "RIGHT_GRASP", {"apple_999"});
  // EAI's evaluate_format: an unknown object anywhere first, then arity; nothing runs
  Execution ex = execute(t, t.initial, {ok, arity, ok, unknown});
  CHECK_EQ(ex.executed, 0);
  CHECK(ex.first_error == E::kUnknownObject);
  CHECK_EQ(ex.trace.size(), 1u);
  CHECK(ex.trace[0].result.message.find("step 4") != std::string::npos);
  CHECK(ex.final_state == t.initial);
  CHECK(execute(t, t.initial, {ok, arity}).first_error == E::kWrongArity);
  CHECK(!plan_rejection(t, &ok, 1).has_value());
  // emx runs up to the bad step
  CHECK_EQ(execute(*kitchen(), kitchen()->initial, {fixtures::act(*kitchen(), "RIGHT_GRASP", {kApple2}),
                                                     fixtures::act(*kitchen(), "RIGHT_GRASP", {"apple_999"})}).executed, 1);
}

TEST(wrong_order_over_given_earlier_states) {
  const Task& t = *kitchen();
  WorldState s0 = t.initial, s1 = t.initial;
  STEP_OK(t, s1, "OPEN", kFridge);
  WorldState s2 = s1;
  STEP_OK(t, s2, "CLOSE", kFridge);
  Action grasp = fixtures::act(t, "RIGHT_GRASP", {kApple1});
  WorldState now = s2;
  StepResult r = apply(t, now, grasp);
  CHECK(r.error == E::kMissingStep);
  StepResult by_states = r, by_replay = r;
  classify_failure(t, std::vector<const WorldState*>{&s0, &s1}, grasp, by_states);
  std::vector<Action> prefix = {fixtures::act(t, "OPEN", {kFridge}), fixtures::act(t, "CLOSE", {kFridge})};
  classify_failure(t, t.initial, prefix.data(), prefix.size(), grasp, by_replay);
  CHECK(by_states.error == E::kWrongOrder);
  CHECK_EQ(by_states.message, by_replay.message);
  StepResult none = r;
  classify_failure(t, std::vector<const WorldState*>{&s0}, grasp, none);  // never reachable before
  CHECK(none.error == E::kMissingStep);
}

TEST(apply_never_throws_on_bad_actions) {
  const Task& t = *kitchen();
  WorldState s = t.initial;
  Action a;
  a.type = ActionType::kRightGrasp;
  a.obj[0] = 999;
  StepResult r = apply(t, s, a);
  CHECK(!r.ok);
  CHECK(r.error == E::kUnknownObject);
  a.obj[0] = -5;
  CHECK(apply(t, s, a).error == E::kUnknownObject);
  Action invalid;  // kInvalid
  CHECK(apply(t, s, invalid).error == E::kUnknownAction);
  Action place2;
  place2.type = ActionType::kLeftPlaceNextToOnTop;
  place2.obj[0] = obj(t, kBowl1);  // second object missing
  CHECK(apply(t, s, place2).error == E::kUnknownObject);
  CHECK(s == t.initial);
}

TEST(apply_is_pure_on_copies) {
  const Task& t = *kitchen();
  WorldState a = t.initial;
  WorldState b = a;
  STEP_OK(t, b, "RIGHT_GRASP", kApple2);
  CHECK(a == t.initial);
  CHECK(!(a == b));
  WorldState c = t.initial;
  STEP_OK(t, c, "RIGHT_GRASP", kApple2);
  CHECK(b == c);  // deterministic
}

int main(int argc, char** argv) { return check::run_all(argc, argv); }
