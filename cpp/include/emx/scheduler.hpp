// The rollout scheduler: episodes in, results out, over a pool of supervised
// worker processes (symbolic C++ workers, SAPIEN physics workers in Python).
//
//   emx::Scheduler s({{{"emx_worker"}, /*count=*/2, "symbolic"}}, kb);
//   uint32_t task = s.add_task("kitchen", bddl_text, "kitchen.bddl");
//   std::vector<emx::EpisodeRequest> batch = ...;      // task, plan, group, priority, ...
//   s.submit(batch);                                    // blocks while the queue is full
//   for (auto& r : s.poll(64, 1.0)) ...                 // results as they complete
//   auto results = s.evaluate(batch);                   // or: blocking, in input order
//
// Routing: a job (one episode, or all members of a GRPO group submitted
// together) goes to a worker that has the capability its mode needs; a group
// that has run on a worker stays there; otherwise the worker with the earliest
// expected finish: work already sent / its measured speed, plus the cost of
// loading the task's scene unless its LRU cache (mirrored here) holds it. Each
// worker gets only window_s of expected work ahead, so fast workers take
// proportionally more and nothing waits behind a slow one.
//
// Failure: a worker that exits, is killed, stops sending heartbeats or
// overruns an episode's timeout is killed and replaced; the episodes it had
// not answered run again elsewhere, each reported exactly once. Results do not
// depend on the number of workers or the order of scheduling: execution is
// deterministic, seeded per episode from the task (or the request's seed).
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "emx/actions.hpp"
#include "emx/reward.hpp"
#include "emx/task.hpp"
#include "emx/worker_protocol.hpp"

namespace emx {

using RolloutMode = wire::Mode;

/// A kind of worker process and how many of it to run.
struct WorkerSpec {
  std::vector<std::string> command;  // argv; argv[0] searched on PATH when it has no '/'
  int count = 1;
  std::string name;                  // label prefix: "symbolic-0", "physics-1"
  std::vector<std::string> env;      // extra KEY=VALUE for the process
};

struct SchedulerConfig {
  size_t queue_capacity = 4096;      // episodes accepted but not yet sent to a worker
  double episode_timeout_s = 120.0;  // per episode, from when its worker starts on it
  double heartbeat_timeout_s = 15.0; // a worker silent this long is hung
  double startup_timeout_s = 60.0;   // from start to HELLO
  int max_attempts = 3;              // runs of an episode cut short by its worker before it fails
  int max_restarts = 100;            // per worker slot; then the slot stays down
  double window_s = 0.02;            // expected seconds of work sent ahead to each worker
  int max_inflight_jobs = 256;       // per worker
  bool prefix_sharing = true;        // share group prefixes (needs snapshot_reuse)
  bool snapshot_reuse = true;        // false: physics workers rebuild the scene for every plan
  double shutdown_grace_s = 2.0;     // SHUTDOWN, then SIGKILL after this
};

struct EpisodeRequest {
  uint32_t task = 0;            // Scheduler::add_task
  uint32_t reward = 0;          // Scheduler::add_reward (0: preset "default")
  std::vector<Action> plan;     // resolved actions (empty when format_ok is false)
  bool format_ok = true;        // false: the model's text did not parse
  RolloutMode mode = RolloutMode::kSymbolic;
  uint64_t group = 0;           // GRPO group, 0: none. Members submitted in one call run as one job
  int32_t priority = 0;         // higher runs first; FIFO within a priority
  uint64_t seed = 0;            // 0: derived from the task key; a group runs with its first member's
  double timeout_s = 0.0;       // 0: SchedulerConfig::episode_timeout_s
  bool keep_trace = false;      // return every step's error and message
  uint64_t tag = 0;             // the caller's own id, returned untouched
};

enum class EpisodeStatus : uint8_t {
  kOk = 0,
  kError = 1,      // the worker could not run it (task does not compile, no capable worker); not retried
  kFailed = 2,     // its workers died max_attempts times while running it
  kTimeout = 3,    // ... the last of them because it overran the episode timeout or stopped answering
  kCancelled = 4,  // the scheduler shut down first
};
const char* status_name(EpisodeStatus s);

struct EpisodeResult {
  uint64_t id = 0;
  uint64_t tag = 0;
  uint64_t group = 0;
  uint32_t task = 0;
  EpisodeStatus status = EpisodeStatus::kOk;
  std::string error;
  // The evaluation (status kOk): as emx::evaluate() reports it.
  double reward = 0.0;
  RewardComponents components;
  int32_t executed = 0;
  bool completed = false;
  ErrorType first_error = ErrorType::kNone;
  std::vector<wire::StepRecord> steps;      // keep_trace
  std::vector<uint8_t> condition_truth;
  std::vector<uint8_t> atom_truth;
  // Where and how long.
  int32_t worker = -1;          // worker slot
  std::string worker_name;
  int32_t worker_pid = 0;
  int32_t attempts = 0;         // dispatches of this episode (> 1: it was re-run)
  double queue_seconds = 0.0;   // submit -> sent to the worker that answered
  double run_seconds = 0.0;     // the worker's own time on it
  double load_seconds = 0.0;    // loading the task/scene first (0 when cached)
  double total_seconds = 0.0;   // submit -> result
  uint32_t simulated_actions = 0;  // actions it simulated itself (shared prefixes count once per group)
  uint32_t plan_actions = 0;       // actions it needed on its own: executed, plus the failing one
};

struct WorkerStats {
  int32_t id = 0;
  std::string name;
  int32_t pid = 0;
  std::string state;            // "starting", "ready", "down", "disabled"
  uint32_t capabilities = 0;
  double speed = 0.0;           // actions/s (declared, then measured)
  double utilisation = 0.0;     // fraction of its ready time with work in hand
  uint64_t episodes = 0;
  uint64_t jobs = 0;
  int32_t restarts = 0;
  size_t inflight = 0;          // jobs sent, not finished
  std::string last_exit;        // why its last process ended
};

struct SchedulerStats {
  size_t queue_depth = 0;       // episodes waiting for a worker
  size_t inflight = 0;          // episodes at workers
  uint64_t submitted = 0;
  uint64_t completed = 0;       // results delivered, any status
  uint64_t failed = 0;          // results with a status other than kOk
  uint64_t retried = 0;         // episodes re-run after their worker died
  uint64_t restarts = 0;        // worker processes replaced
  double episodes_per_s = 0.0;  // over the last few seconds
  double uptime_s = 0.0;
  uint64_t simulated_actions = 0;
  uint64_t plan_actions = 0;    // 1 - simulated/plan: what prefix sharing saved
  std::vector<WorkerStats> workers;
};

class QueueFull : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

class Scheduler {
 public:
  /// Starts the workers (from the scheduler's own I/O thread) and returns at
  /// once; wait_ready() waits for their HELLO. kb is sent to every worker.
  Scheduler(std::vector<WorkerSpec> workers, KnowledgeBase kb, SchedulerConfig config = {});
  ~Scheduler();  // shutdown()
  Scheduler(const Scheduler&) = delete;
  Scheduler& operator=(const Scheduler&) = delete;

  /// Registers a task (BDDL text and, for physics, a scene) under a key; the
  /// same key and text give the same id. Sent to a worker once, when first needed.
  /// Throws std::invalid_argument when the key is registered with other text.
  uint32_t add_task(const std::string& key, const std::string& bddl, const std::string& filename = "",
                    const std::string& scene = "");
  /// Registers a reward configuration; equal configurations share an id.
  uint32_t add_reward(const RewardConfig& reward);

  /// Queues episodes, blocking while the queue is full (backpressure) until
  /// timeout_s (< 0: no limit). Returns one id per request in batch order; 0
  /// for requests not accepted before the timeout. Throws std::invalid_argument
  /// for unknown task/reward ids, std::runtime_error after shutdown().
  std::vector<uint64_t> submit(std::vector<EpisodeRequest> batch, double timeout_s = -1.0);
  /// submit() without waiting: throws QueueFull, accepting nothing, when the batch does not fit.
  std::vector<uint64_t> try_submit(std::vector<EpisodeRequest> batch);
  /// Results as they complete (EnvPool's "first batch ready"): waits up to
  /// timeout_s for at least one, returns at most max_results.
  std::vector<EpisodeResult> poll(size_t max_results, double timeout_s);
  /// Blocking convenience: runs a batch and returns its results in input
  /// order. Independent of poll(): its results are not seen there. While it
  /// waits, keep_waiting (if given) is called about every 0.1 s; when it
  /// returns false evaluate throws std::runtime_error("interrupted") and the
  /// batch's results are dropped as they arrive.
  std::vector<EpisodeResult> evaluate(std::vector<EpisodeRequest> batch,
                                      const std::function<bool()>& keep_waiting = {});

  /// Waits until every worker slot that is not disabled has said HELLO;
  /// returns how many workers are ready.
  size_t wait_ready(double timeout_s);
  SchedulerStats stats() const;
  const SchedulerConfig& config() const;
  /// Sends a signal to a worker slot's current process (chaos tests: SIGKILL,
  /// SIGSTOP for a hang). Returns its pid, 0 when it has none.
  int32_t signal_worker(int32_t worker, int sig);
  /// Stops accepting work, cancels what has not run, stops the workers
  /// (SHUTDOWN, then SIGKILL after grace_s; < 0: config().shutdown_grace_s)
  /// and reaps them. grace_s = 0 kills running episodes at once (Ctrl-C); a
  /// shorter grace given while an earlier shutdown waits takes over. Idempotent.
  /// While it waits, keep_waiting (if given) is called about every 0.1 s; when
  /// it returns false the grace ends at once (the workers are killed).
  void shutdown(double grace_s = -1.0, const std::function<bool()>& keep_waiting = {});

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace emx
