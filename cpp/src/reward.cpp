#include "emx/reward.hpp"

#include <stdexcept>

namespace emx {

RewardConfig reward_preset(const std::string& name) {
  RewardConfig w;
  w.name = name;
  if (name == "embomatrix") {
    // EmboMatrix release: -1 if unparseable; else 0.5 - 0.01*len + 0.1*objects + goal fraction.
    w.format_fail = -1.0;
    w.format = 0.5;
    w.length = -0.01;
    w.objects = 0.1;
    w.goal = 1.0;
  } else if (name == "eai") {
    // EAI reports success rate, goal fraction and executability; as a scalar
    // reward it is task success.
    w.format_fail = 0.0;
    w.success = 1.0;
  } else if (name == "default") {
    w.format_fail = -1.0;
    w.format = 0.1;
    w.executability = 0.2;
    w.goal = 0.5;
    w.success = 1.0;
    w.length = -0.005;
    w.relevance = 0.1;
  } else {
    throw std::invalid_argument("unknown reward preset '" + name + "' (expected embomatrix, eai or default)");
  }
  return w;
}

double compute_reward(const RewardComponents& c, const RewardConfig& w) {
  if (!c.format_ok) return w.format_fail;
  double relevance = c.goal_objects > 0 ? static_cast<double>(c.relevant_named) / c.goal_objects : 0.0;
  return w.format + w.executability * c.executability + w.goal * c.goal_fraction + w.success * (c.success ? 1.0 : 0.0) +
         w.length * c.plan_length + w.objects * c.objects_named + w.relevance * relevance;
}

}  // namespace emx
