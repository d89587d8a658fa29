// The symbolic rollout worker: the loop behind the `emx_worker` executable
// (cpp/workers/), also runnable on any pair of file descriptors (a thread with
// a socketpair, or a Python process hosting it through emx._core).
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include "emx/evaluate.hpp"
#include "emx/worker_protocol.hpp"

namespace emx {

struct WorkerOptions {
  std::string name = "symbolic";
  uint32_t task_cache = 256;          // compiled tasks kept (LRU)
  double heartbeat_interval_s = 0.25; // sent while idle and between plans
  bool noop = false;                  // answer every plan with an empty result (dispatch benchmarks)
  uint32_t slow_us = 0;               // sleep per executed action: emulates a slower machine (tests)
  uint32_t load_us = 0;               // sleep per task load: emulates an expensive scene build (tests)
};

/// Serves the protocol (emx/worker_protocol.hpp) on in_fd/out_fd until
/// SHUTDOWN or end of input. Returns 0 on a clean end, 1 on a protocol error.
int run_worker(int in_fd, int out_fd, const WorkerOptions& options = {});

/// Runs one GROUP on a compiled task: every plan in schedule order, shared
/// prefixes once (the state after each action of the current path is kept,
/// so resuming is a copy). Results equal emx::evaluate()'s for every plan,
/// plan by plan. emit is called once per plan, in the group's order.
void run_symbolic_group(const Task& task, const RewardConfig& reward, const wire::GroupMsg& group,
                        const std::function<void(wire::ResultMsg&&)>& emit, uint32_t slow_us = 0);

/// The wire result of an evaluation (trace steps only with keep_trace).
wire::ResultMsg result_message(const Evaluation& ev, bool keep_trace);

}  // namespace emx
