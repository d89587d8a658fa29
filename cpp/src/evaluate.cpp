// Plan evaluation, single and batched over a thread pool.
#include "emx/evaluate.hpp"

#include <algorithm>
#include <atomic>
#include <thread>

#include "thread_pool.hpp"

namespace emx {

using detail::parallel_for;

std::vector<int32_t> goal_objects(const Task& task) {
  std::vector<uint8_t> seen(task.num_objects(), 0);
  for (const GroundAtom& a : task.goal.atoms) {
    seen[a.a] = 1;
    if (a.b >= 0) seen[a.b] = 1;
  }
  std::vector<int32_t> out;
  for (int32_t i = 0; i < task.num_objects(); ++i)
    if (seen[i]) out.push_back(i);
  return out;
}

Evaluation evaluate(const Task& task, const std::vector<Action>& plan, bool format_ok, const RewardConfig& reward,
                    bool keep_trace) {
  return score_execution(task, plan, format_ok, reward, execute(task, task.initial, plan, keep_trace));
}

Evaluation score_execution(const Task& task, const std::vector<Action>& plan, bool format_ok,
                           const RewardConfig& reward, Execution execution) {
  Evaluation ev;
  RewardComponents& c = ev.components;
  c.format_ok = format_ok;
  c.plan_length = static_cast<int32_t>(plan.size());
  ev.execution = std::move(execution);
  c.executability = plan.empty() ? 0.0 : static_cast<double>(ev.execution.executed) / plan.size();
  ev.goal = check_goal(task.goal, task.layout, judged_state(task, ev.execution.final_state));
  c.goal_fraction = ev.goal.fraction;
  c.success = format_ok && ev.goal.success;
  // Distinct valid objects named anywhere in the plan (the EmboMatrix term),
  // and how many of them the goal is about.
  std::vector<uint8_t> named(task.num_objects(), 0);
  for (const Action& a : plan) {
    if (a.type == ActionType::kInvalid || a.error == ErrorType::kUnknownObject) continue;
    for (int k = 0; k < action_info(a.type).num_objects; ++k)
      if (a.obj[k] >= 0 && a.obj[k] < task.num_objects()) named[a.obj[k]] = 1;
  }
  std::vector<int32_t> relevant = goal_objects(task);
  c.goal_objects = static_cast<int32_t>(relevant.size());
  for (int32_t i = 0; i < task.num_objects(); ++i) c.objects_named += named[i];
  for (int32_t i : relevant) c.relevant_named += named[i];
  ev.reward = compute_reward(c, reward);
  return ev;
}

std::vector<Evaluation> evaluate_batch(const std::vector<PlanInput>& inputs, const RewardConfig& reward, int num_threads,
                                       bool keep_trace) {
  std::vector<Evaluation> out(inputs.size());
  parallel_for(inputs.size(), num_threads, [&](size_t i) {
    out[i] = evaluate(*inputs[i].task, inputs[i].actions, inputs[i].format_ok, reward, keep_trace);
  });
  return out;
}

std::vector<GoalCheck> check_batch(const std::vector<const Task*>& tasks, const std::vector<const WorldState*>& states,
                                   int num_threads) {
  std::vector<GoalCheck> out(tasks.size());
  parallel_for(tasks.size(), num_threads, [&](size_t i) {
    out[i] = check_goal(tasks[i]->goal, tasks[i]->layout, *states[i]);
  });
  return out;
}

}  // namespace emx

namespace emx {

std::vector<GoalSummary> summarize_batch(const std::vector<const Task*>& tasks,
                                         const std::vector<const WorldState*>& states, int num_threads,
                                         bool with_fraction) {
  std::vector<GoalSummary> out(tasks.size());
  detail::parallel_for(tasks.size(), num_threads, [&](size_t i) {
    out[i] = summarize_goal(tasks[i]->goal, tasks[i]->layout, *states[i], with_fraction);
  });
  return out;
}

}  // namespace emx
