// Oracle planner: an executable EAI plan from a task's initial state to its goal.
// Used as the reference policy, for SFT demonstrations and for feasibility
// checks in data generation.
#pragma once

#include <string>
#include <vector>

#include "emx/actions.hpp"
#include "emx/task.hpp"

namespace emx {

struct OracleOptions {
  int max_actions = 400;
  int max_expansions = 20000;  // search budget for picking groundings
};

struct OraclePlan {
  bool solved = false;
  std::vector<Action> actions;
  std::string reason;  // why not solved ("no action makes 'covered' true", ...)
};

OraclePlan plan_oracle(const Task& task, const OracleOptions& options = {});

}  // namespace emx
