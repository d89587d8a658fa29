// Evaluation: execute a plan, check the goal, score it. Single and batched.
#pragma once

#include <cstdint>
#include <vector>

#include "emx/executor.hpp"
#include "emx/goal.hpp"
#include "emx/reward.hpp"
#include "emx/task.hpp"

namespace emx {

struct PlanInput {
  TaskPtr task;
  std::vector<Action> actions;
  bool format_ok = true;        // false: the plan text did not parse (actions empty)
};

struct Evaluation {
  RewardComponents components;
  double reward = 0.0;
  GoalCheck goal;
  Execution execution;
};

Evaluation evaluate(const Task& task, const std::vector<Action>& plan, bool format_ok,
                    const RewardConfig& reward, bool keep_trace = true);

/// Scores an execution that ran elsewhere (physics mode): the goal is checked
/// on `execution.final_state` and the reward computed exactly as evaluate() does.
Evaluation score_execution(const Task& task, const std::vector<Action>& plan, bool format_ok,
                           const RewardConfig& reward, Execution execution);

/// Evaluates many plans on a pool of threads (num_threads <= 0: all cores).
/// Results are in input order and identical whatever the thread count.
std::vector<Evaluation> evaluate_batch(const std::vector<PlanInput>& inputs, const RewardConfig& reward,
                                       int num_threads = 0, bool keep_trace = false);

/// Goal checks for many (task, state) pairs: the hot loop of physics rollouts
/// and of the goal-check benchmark.
std::vector<GoalCheck> check_batch(const std::vector<const Task*>& tasks,
                                   const std::vector<const WorldState*>& states, int num_threads = 0);

/// Success and fraction only, for many (task, state) pairs: no per-check allocation.
std::vector<GoalSummary> summarize_batch(const std::vector<const Task*>& tasks,
                                         const std::vector<const WorldState*>& states, int num_threads = 0,
                                         bool with_fraction = true);

/// Objects the goal mentions (quantified categories included).
std::vector<int32_t> goal_objects(const Task& task);

}  // namespace emx
