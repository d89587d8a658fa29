// Symbolic executor: pure functions over (Task, WorldState, Action).
#pragma once

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "emx/actions.hpp"
#include "emx/task.hpp"

namespace emx {

struct StepResult {
  bool ok = true;                  // false: execution stops here
  ErrorType error = ErrorType::kNone;  // kAdditionalStep comes with ok == true
  std::string message;             // "fridge_97 is closed, open it first"
};

/// Applies one action in place. Thread-safe for distinct states; never throws.
StepResult apply(const Task& task, WorldState& state, const Action& action);

/// The state the goal is judged on: `state` plus the relations the task's
/// semantics derives rather than stores (SemanticsRules::nextto_from_shared_parent;
/// no profile derives any now: the identity).
WorldState judged_state(const Task& task, const WorldState& state);

/// EAI's wrong temporal order (EvolvingGraph.check_precondition), the one
/// place the rule lives: `r` is the failed result of `action`, run as step
/// `step` of a run that began in `start` with `prefix[0..step)`. A
/// missing_step or affordance failure of a non-place action becomes
/// kWrongOrder when the action would have worked cleanly in the state before
/// some earlier step. Replays the prefix: O(step), paid only on failure.
void classify_failure(const Task& task, const WorldState& start, const Action* prefix, size_t step,
                      const Action& action, StepResult& r);

/// The same rule over the states before each earlier step, given directly
/// (a physics run keeps them: they come from geometry, not from a replay).
void classify_failure(const Task& task, const std::vector<const WorldState*>& earlier, const Action& action,
                      StepResult& r);

/// eai (SemanticsRules::plan_checked_before_running): the step that makes
/// EAI reject the whole plan before any step runs (an unknown action or
/// object anywhere, else a wrong arity anywhere) and its result; nullopt when
/// the plan may run, and always under the other profiles.
std::optional<std::pair<size_t, StepResult>> plan_rejection(const Task& task, const Action* plan, size_t n);

struct TraceStep {
  Action action;
  StepResult result;
};

struct Execution {
  WorldState final_state;
  std::vector<TraceStep> trace;   // executed steps; the failing one last
  int32_t executed = 0;           // steps before the first failure
  int32_t plan_length = 0;
  bool completed = false;         // every step ran
  ErrorType first_error = ErrorType::kNone;  // first fatal error
};

/// Runs a plan from a state until the first failing step. A failure of a
/// precondition that held at an earlier step of this run is reported as
/// kWrongOrder (EAI's wrong temporal order); the extra replay this needs is
/// paid only on failure.
Execution execute(const Task& task, const WorldState& start, const std::vector<Action>& plan,
                  bool keep_trace = true);

}  // namespace emx
