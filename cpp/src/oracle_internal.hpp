// Private to the oracle planner (oracle.cpp: grounding and driver;
// oracle_feasibility.cpp: what can change at all; oracle_planner.cpp: macro
// steps): the ground literals a grounding asks for, their static
// feasibility, and the planner that makes them true by simulating EAI actions.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "emx/actions.hpp"
#include "emx/oracle.hpp"
#include "emx/task.hpp"
#include "emx/world_state.hpp"
#include "dirt.hpp"


namespace emx::oracle_detail {

/// A ground literal a grounding requires: pred(a, b) == value.
struct Lit {
  Predicate pred = Predicate::kOpen;
  int32_t a = -1, b = -1;
  bool value = true;
  int32_t condition = -1;  // top-level goal condition it serves
};

std::string lit_text(const Task& task, const Lit& l);  // "(not (inside apple_0 fridge_0))"

/// Static knowledge about a task's objects, computed once per plan_oracle call.
struct Catalog {
  explicit Catalog(const Task& task);
  const Task& task;
  std::vector<std::vector<int32_t>> parts;  // slice parts of each whole
  std::vector<int32_t> floors, slicers, tools, soaps, water_sources, vessels, washers;
  std::vector<int32_t> abrasives;          // cleaning tools that sand (a subset of tools)
  std::vector<uint8_t> goal_object;         // mentioned by a goal atom

  bool graspable(int32_t o) const;
  /// Can be carried: graspable, or a sliceable whole whose parts can be.
  bool movable(int32_t o) const;
  bool is_floor(int32_t o) const { return task.has(o, kFloor); }
};

/// Whether any sequence of EAI actions can make the literal hold, judged from
/// the object abilities alone (the planner still has to find the steps).
/// On false, *reason says why ("no action makes 'covered' true").
bool lit_feasible(const Catalog& cat, const WorldState& init, const Lit& l, std::string* reason);

struct Achievement {
  std::vector<Action> actions;
  WorldState final_state;
  std::vector<int32_t> unmet;          // indices of literals that do not hold at the end
  std::vector<std::string> messages;   // per literal (same order as the input): why it failed, if it did
  bool too_long = false;               // the plan hit OracleOptions::max_actions
};

/// Achieves the literals from task.initial with macro steps; every action is
/// simulated with apply(), so the returned plan always executes.
Achievement achieve_literals(const Catalog& cat, const std::vector<Lit>& lits, const OracleOptions& options);

}  // namespace emx::oracle_detail
