// Symbolic execution of a GROUP with plan-prefix sharing.
//
// The executor's semantics are those of emx::execute (executor.cpp), step for
// step, the task's semantics profile included; a failing step goes through
// the executor's own classify_failure (EAI's wrong temporal order), and a
// plan the profile rejects before running (plan_rejection) is rejected here
// too, so the rules live in one place.
#include <chrono>
#include <thread>

#include "emx/rollout_worker.hpp"

namespace emx {
namespace {

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

}  // namespace

wire::ResultMsg result_message(const Evaluation& ev, bool keep_trace) {
  wire::ResultMsg m;
  m.components = ev.components;
  m.reward = ev.reward;
  m.executed = ev.execution.executed;
  m.completed = ev.execution.completed;
  m.first_error = ev.execution.first_error;
  if (keep_trace) {
    m.steps.reserve(ev.execution.trace.size());
    for (const TraceStep& s : ev.execution.trace) m.steps.push_back({s.result.error, s.result.ok, s.result.message});
  }
  m.condition_truth = ev.goal.condition_truth;
  m.atom_truth = ev.goal.atom_truth;
  return m;
}

void run_symbolic_group(const Task& task, const RewardConfig& reward, const wire::GroupMsg& group,
                        const std::function<void(wire::ResultMsg&&)>& emit, uint32_t slow_us) {
  const bool keep_trace = (group.flags & wire::kKeepTrace) != 0;
  // The current path of the trie: states[d] is the state after d actions,
  // trace[d] the step record of action d, actions[d] the action itself.
  std::vector<WorldState> states(1, task.initial);
  std::vector<TraceStep> trace;
  std::vector<Action> actions;
  int64_t fail_depth = -1;   // the current path's failing step, if it has one
  WorldState fail_state;     // the state after that failing apply (execute's final state)

  for (const wire::PlanMsg& p : group.plans) {
    auto t0 = std::chrono::steady_clock::now();
    const uint32_t r = p.resume_depth;
    if (r > actions.size()) throw wire::ProtocolError("resume depth beyond the shared path");
    actions.resize(r);
    actions.insert(actions.end(), p.suffix.begin(), p.suffix.end());
    const size_t len = actions.size();
    uint32_t simulated = 0;

    Execution ex;
    ex.plan_length = static_cast<int32_t>(len);
    if (fail_depth >= 0 && fail_depth < static_cast<int64_t>(r)) {
      // The shared prefix already failed: so does this plan, at the same step.
      ex.executed = static_cast<int32_t>(fail_depth);
      ex.completed = false;
      ex.first_error = trace[fail_depth].result.error;
      ex.final_state = fail_state;
      ex.trace.assign(trace.begin(), trace.begin() + fail_depth + 1);
    } else {
      fail_depth = -1;
      trace.resize(r);
      if (states.size() < len + 1) states.resize(len + 1);
      size_t d = r;
      for (; d < len; ++d) {
        const Action& a = actions[d];
        states[d + 1] = states[d];
        StepResult res = apply(task, states[d + 1], a);
        ++simulated;
        if (slow_us) std::this_thread::sleep_for(std::chrono::microseconds(slow_us));
        if (!res.ok) classify_failure(task, states[0], actions.data(), d, a, res);
        trace.push_back({a, res});
        if (!res.ok) {
          fail_depth = static_cast<int64_t>(d);
          fail_state = states[d + 1];
          break;
        }
      }
      if (fail_depth >= 0) {
        ex.executed = static_cast<int32_t>(fail_depth);
        ex.completed = false;
        ex.first_error = trace[fail_depth].result.error;
        ex.final_state = fail_state;
        ex.trace.assign(trace.begin(), trace.begin() + fail_depth + 1);
      } else {
        ex.executed = static_cast<int32_t>(len);
        ex.completed = true;
        ex.final_state = states[len];
        ex.trace.assign(trace.begin(), trace.begin() + len);
      }
    }
    // eai: EAI rejects the whole plan before running it (the path above still ran, for the
    // plans that share its prefix).
    if (auto rejected = plan_rejection(task, actions.data(), len)) {
      ex.executed = 0;
      ex.completed = false;
      ex.first_error = rejected->second.error;
      ex.final_state = task.initial;
      ex.trace.assign(1, TraceStep{actions[0], rejected->second});  // as execute() records it
    }
    if (!keep_trace) ex.trace.clear();
    std::vector<Action> plan(actions.begin(), actions.end());
    if (!p.format_ok) {
      // An unparsed plan has no actions; score it as evaluate() would.
      plan.clear();
    }
    Evaluation ev = score_execution(task, plan, p.format_ok, reward, std::move(ex));
    wire::ResultMsg m = result_message(ev, keep_trace);
    m.job = group.job;
    m.index = p.index;
    m.simulated_actions = simulated;
    m.run_seconds = seconds_since(t0);
    emit(std::move(m));
  }
}

}  // namespace emx
