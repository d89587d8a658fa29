// Reward presets (the EmboMatrix formula exactly), evaluate(), and
// evaluate_batch giving identical results for 1 and 4 threads.
#include <random>
#include <stdexcept>
#include <string>

#include "fixtures.hpp"

using namespace emx;
using fixtures::act;

namespace {

const std::string kApple1 = "apple.n.01_1";
const std::string kFridge = "electric_refrigerator.n.01_1";
const std::string kBowl1 = "bowl.n.01_1";

TaskPtr kitchen() {
  static TaskPtr t = fixtures::load("kitchen.bddl");
  return t;
}

RewardComponents components(bool format_ok, int len, int objects, double fraction, bool success = false,
                            double executability = 1.0, int relevant = 0, int goal_objects = 0) {
  RewardComponents c;
  c.format_ok = format_ok;
  c.plan_length = len;
  c.objects_named = objects;
  c.goal_fraction = fraction;
  c.success = success;
  c.executability = executability;
  c.relevant_named = relevant;
  c.goal_objects = goal_objects;
  return c;
}

std::vector<Action> solution(const Task& t) {
  return {act(t, "OPEN", {kFridge}),         act(t, "RIGHT_GRASP", {kApple1}),
          act(t, "RIGHT_PLACE_INSIDE", {kBowl1}), act(t, "CLOSE", {kFridge}),
          act(t, "LEFT_GRASP", {"carving_knife.n.01_1"}), act(t, "SLICE", {"peach.n.03_1"})};
}

}  // namespace

TEST(presets) {
  RewardConfig e = reward_preset("embomatrix");
  CHECK_EQ(e.name, std::string("embomatrix"));
  CHECK_EQ(e.format_fail, -1.0);
  CHECK_EQ(e.format, 0.5);
  CHECK_EQ(e.length, -0.01);
  CHECK_EQ(e.objects, 0.1);
  CHECK_EQ(e.goal, 1.0);
  CHECK_EQ(e.success, 0.0);
  CHECK_EQ(e.executability, 0.0);
  CHECK_EQ(e.relevance, 0.0);
  CHECK_NOTHROW(reward_preset("eai"));
  CHECK_NOTHROW(reward_preset("default"));
  CHECK_THROWS(reward_preset("nope"), std::invalid_argument);
}

TEST(embomatrix_formula) {
  RewardConfig w = reward_preset("embomatrix");
  CHECK_EQ(compute_reward(components(false, 0, 0, 0.0), w), -1.0);
  CHECK_EQ(compute_reward(components(false, 7, 3, 1.0, true), w), -1.0);  // unparseable: nothing else counts
  // 0.5 - 0.01 * len + 0.1 * objects + fraction
  CHECK_NEAR(compute_reward(components(true, 4, 3, 0.25), w), 0.5 - 0.04 + 0.3 + 0.25, 1e-12);
  CHECK_NEAR(compute_reward(components(true, 0, 0, 0.0), w), 0.5, 1e-12);
  CHECK_NEAR(compute_reward(components(true, 100, 0, 0.0, false, 0.0), w), -0.5, 1e-12);
  // success and executability are not part of it
  CHECK_NEAR(compute_reward(components(true, 10, 5, 1.0, true, 0.3), w), 0.5 - 0.1 + 0.5 + 1.0, 1e-12);
}

TEST(default_and_eai_formulas) {
  RewardConfig d = reward_preset("default");
  CHECK_EQ(compute_reward(components(false, 3, 2, 0.5), d), -1.0);
  // 0.1 + 0.2 exec + 0.5 fraction + 1.0 success - 0.005 len + 0.1 relevance
  CHECK_NEAR(compute_reward(components(true, 4, 3, 0.5, false, 0.75, 1, 4), d),
             0.1 + 0.2 * 0.75 + 0.5 * 0.5 - 0.005 * 4 + 0.1 * 0.25, 1e-12);
  CHECK_NEAR(compute_reward(components(true, 2, 3, 1.0, true, 1.0, 2, 0), d),
             0.1 + 0.2 + 0.5 + 1.0 - 0.01 + 0.0, 1e-12);  // no goal objects: relevance 0
  RewardConfig e = reward_preset("eai");
  CHECK_EQ(compute_reward(components(true, 4, 3, 0.9, false), e), 0.0);
  CHECK_EQ(compute_reward(components(true, 4, 3, 1.0, true), e), 1.0);
  CHECK_EQ(compute_reward(components(false, 0, 0, 0.0), e), 0.0);
}

TEST(evaluate_a_partial_plan_with_the_embomatrix_reward) {
  const Task& t = *kitchen();
  std::vector<Action> plan = {act(t, "OPEN", {kFridge}), act(t, "RIGHT_GRASP", {kApple1}),
                              act(t, "RIGHT_PLACE_INSIDE", {kBowl1}), act(t, "RIGHT_GRASP", {"apple_999"}),
                              act(t, "OPEN", {kFridge})};
  Evaluation ev = evaluate(t, plan, true, reward_preset("embomatrix"));
  const RewardComponents& c = ev.components;
  CHECK_EQ(c.plan_length, 5);
  CHECK_EQ(ev.execution.executed, 3);
  CHECK(ev.execution.first_error == ErrorType::kUnknownObject);
  CHECK_NEAR(c.executability, 3.0 / 5.0, 1e-12);
  CHECK_EQ(c.objects_named, 3);  // fridge, apple, bowl; the hallucinated one does not count
  CHECK_EQ(c.goal_objects, 4);   // apple, fridge, peach, bowl
  CHECK_EQ(c.relevant_named, 3);
  // after step 3: apple in bowl (yes), fridge closed (no: open), peach sliced (no)
  CHECK_NEAR(c.goal_fraction, 1.0 / 3.0, 1e-12);
  CHECK(!c.success);
  CHECK_EQ(ev.goal.condition_truth, (std::vector<uint8_t>{1, 0, 0}));
  CHECK_NEAR(ev.reward, 0.5 - 0.01 * 5 + 0.1 * 3 + 1.0 / 3.0, 1e-12);
  CHECK_EQ(ev.execution.trace.size(), 4u);
}

TEST(evaluate_a_solution) {
  const Task& t = *kitchen();
  Evaluation ev = evaluate(t, solution(t), true, reward_preset("embomatrix"));
  CHECK(ev.components.success);
  CHECK(ev.goal.success);
  CHECK_EQ(ev.components.goal_fraction, 1.0);
  CHECK_EQ(ev.components.executability, 1.0);
  CHECK_EQ(ev.components.objects_named, 5);
  CHECK_NEAR(ev.reward, 0.5 - 0.06 + 0.5 + 1.0, 1e-12);
  CHECK_NEAR(evaluate(t, solution(t), true, reward_preset("eai")).reward, 1.0, 1e-12);
}

TEST(evaluate_unparseable_and_empty_plans) {
  const Task& t = *kitchen();
  Evaluation bad = evaluate(t, {}, false, reward_preset("embomatrix"));
  CHECK_EQ(bad.reward, -1.0);
  CHECK(!bad.components.success);
  CHECK_EQ(bad.components.executability, 0.0);
  // format failure with a plan that would succeed: still no success
  Evaluation bad2 = evaluate(t, solution(t), false, reward_preset("default"));
  CHECK(!bad2.components.success);
  CHECK_EQ(bad2.reward, -1.0);
  Evaluation empty = evaluate(t, {}, true, reward_preset("embomatrix"));
  CHECK_EQ(empty.components.executability, 0.0);
  CHECK_EQ(empty.execution.executed, 0);
  CHECK_NEAR(empty.reward, 0.5 + empty.components.goal_fraction, 1e-12);
}

TEST(evaluate_batch_is_identical_for_1_and_4_threads) {
  TaskPtr k = kitchen();
  TaskPtr q = fixtures::load("quantifiers.bddl");
  std::vector<std::string> names;
  for (int i = 0; i < kNumActionTypes; ++i)
    if (action_info(static_cast<ActionType>(i)).vocabulary == Vocabulary::kEai)
      names.emplace_back(action_info(static_cast<ActionType>(i)).name);
  names.push_back("JUMP");
  std::mt19937 rng(12345);
  std::vector<PlanInput> inputs;
  for (int i = 0; i < 300; ++i) {
    TaskPtr t = i % 3 ? k : q;
    PlanInput in{t, {}, i % 17 != 0};
    if (i % 5 == 0) {
      in.actions = solution(*k);
      in.task = k;
    } else {
      int len = static_cast<int>(rng() % 30);
      for (int s = 0; s < len; ++s) {
        const std::string& name = names[rng() % names.size()];
        std::vector<std::string> objs;
        int arity = name.find("NEXTTO_ONTOP") != std::string::npos ? 2 : 1;
        for (int o = 0; o < arity; ++o)
          objs.push_back(rng() % 20 == 0 ? "ghost_0" : t->objects[rng() % t->num_objects()].name);
        in.actions.push_back(act(*t, name, objs));
      }
    }
    inputs.push_back(std::move(in));
  }
  for (const char* preset : {"embomatrix", "default"}) {
    RewardConfig w = reward_preset(preset);
    std::vector<Evaluation> one = evaluate_batch(inputs, w, 1, true);
    std::vector<Evaluation> four = evaluate_batch(inputs, w, 4, true);
    std::vector<Evaluation> all = evaluate_batch(inputs, w, 0, false);
    CHECK_EQ(one.size(), inputs.size());
    CHECK_EQ(four.size(), inputs.size());
    CHECK_EQ(all.size(), inputs.size());
    int successes = 0;
    for (size_t i = 0; i < inputs.size() && i < one.size() && i < four.size(); ++i) {
      const Evaluation& a = one[i];
      const Evaluation& b = four[i];
      CHECK_EQ(a.reward, b.reward);
      CHECK_EQ(a.reward, all[i].reward);
      CHECK_EQ(a.components.goal_fraction, b.components.goal_fraction);
      CHECK_EQ(a.components.executability, b.components.executability);
      CHECK_EQ(a.components.objects_named, b.components.objects_named);
      CHECK_EQ(a.components.success, b.components.success);
      CHECK_EQ(a.execution.executed, b.execution.executed);
      CHECK(a.execution.first_error == b.execution.first_error);
      CHECK(a.execution.final_state == b.execution.final_state);
      CHECK(a.execution.final_state == all[i].execution.final_state);
      CHECK(a.goal.atom_truth == b.goal.atom_truth);
      CHECK(a.goal.condition_truth == b.goal.condition_truth);
      CHECK_EQ(a.execution.trace.size(), b.execution.trace.size());
      CHECK(all[i].execution.trace.empty());  // keep_trace = false
      // and equal to evaluating alone, in input order
      Evaluation alone = evaluate(*inputs[i].task, inputs[i].actions, inputs[i].format_ok, w, true);
      CHECK_EQ(alone.reward, a.reward);
      CHECK_EQ(alone.execution.trace.size(), a.execution.trace.size());
      successes += a.components.success;
    }
    CHECK(successes >= 50);  // the solution plans (those that parsed) succeed
  }
}

TEST(evaluate_batch_of_nothing) {
  CHECK(evaluate_batch({}, reward_preset("default"), 4).empty());
}

int main(int argc, char** argv) { return check::run_all(argc, argv); }
