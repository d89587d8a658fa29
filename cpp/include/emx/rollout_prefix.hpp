// Plan-prefix sharing: a GRPO group's plans as a trie, walked depth first.
//
// Plans sorted lexicographically (by action) put every set of plans that share
// a prefix next to each other, so the trie is the sorted order plus, for each
// plan, the length of the prefix it shares with the plan before it. A worker
// walks that order: plan k restores the state saved at depth resume_depth (its
// branch point), runs its remaining actions, and on the way saves the states
// later plans branch from. Each shared prefix is simulated once; symbolic
// workers save a WorldState copy, physics workers the sim's snapshot.
#pragma once

#include <cstdint>
#include <vector>

#include "emx/actions.hpp"

namespace emx {

struct PrefixStep {
  uint32_t plan = 0;                  // index into the input plans
  uint32_t resume_depth = 0;          // actions shared with what ran before (0: the initial state)
  std::vector<uint32_t> save_depths;  // depths in (resume_depth, plan length] to save, ascending
};

/// The order in which a worker runs a group, and where it resumes and saves.
/// With share == false every plan resumes from the initial state and nothing is
/// saved (input order kept). Plans are pointers so callers need not copy them.
std::vector<PrefixStep> prefix_schedule(const std::vector<const std::vector<Action>*>& plans, bool share = true);

/// Actions a worker simulates for the schedule if no plan fails early:
/// sum of (length - resume_depth). Compare with the sum of the lengths.
uint64_t scheduled_actions(const std::vector<const std::vector<Action>*>& plans,
                           const std::vector<PrefixStep>& schedule);

}  // namespace emx
