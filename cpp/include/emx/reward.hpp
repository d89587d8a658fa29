// Multi-level reward: format -> executability -> goal fraction -> success ->
// efficiency, plus object relevance. A reward is a plain function of the
// components and a weight config (verl's style: no classes to subclass).
#pragma once

#include <cstdint>
#include <string>

namespace emx {

struct RewardComponents {
  bool format_ok = false;
  double executability = 0.0;   // steps executed before the first failure / plan length
  double goal_fraction = 0.0;   // after executing up to the first failure
  bool success = false;
  int32_t plan_length = 0;
  int32_t objects_named = 0;    // distinct valid task objects the plan names
  int32_t relevant_named = 0;   // ... of which the goal mentions
  int32_t goal_objects = 0;     // objects the goal mentions
};

/// reward = format_fail            if the plan did not parse, else
///          format + w_exec*executability + w_goal*goal_fraction + w_success*success
///          + w_length*plan_length + w_objects*objects_named + w_relevance*relevance
/// where relevance = relevant_named / goal_objects (0 when the goal names none).
struct RewardConfig {
  std::string name = "default";
  double format_fail = -1.0;
  double format = 0.0;
  double executability = 0.0;
  double goal = 0.0;
  double success = 0.0;
  double length = 0.0;          // per action (negative: efficiency pressure)
  double objects = 0.0;         // per distinct valid object named
  double relevance = 0.0;
};

/// Presets:
///  embomatrix: the EmboMatrix release: -1 unparseable; else 0.5 - 0.01*len
///              + 0.1*objects_named + goal_fraction.
///  eai:        EAI's headline metrics: success 1, else goal fraction... the
///              reward is success + 0 (EAI reports, it does not shape); use the
///              components for its metrics.
///  default:    ours: -1 unparseable; 0.1 format + 0.2 executability
///              + 0.5 goal_fraction + 1.0 success - 0.005 per action
///              + 0.1 relevance.
RewardConfig reward_preset(const std::string& name);  // throws std::invalid_argument

double compute_reward(const RewardComponents& c, const RewardConfig& w);

}  // namespace emx
