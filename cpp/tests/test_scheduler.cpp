// The scheduler with real worker processes (the emx_worker executable):
// results equal in-process evaluation whatever the workers and the order,
// groups stay on one worker, the queue pushes back, and killed or hung
// workers are replaced with every episode reported exactly once.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <map>
#include <random>
#include <set>
#include <thread>

#include "emx/scheduler.hpp"
#include "fixtures.hpp"

#ifndef EMX_WORKER_PATH
#error "EMX_WORKER_PATH must name the emx_worker executable (set by cpp/tests/CMakeLists.txt)"
#endif

using namespace emx;

namespace {

using Clock = std::chrono::steady_clock;

const std::vector<std::string> kBase = {"OPEN:electric_refrigerator.n.01_1", "RIGHT_GRASP:apple.n.01_1",
                                        "RIGHT_PLACE_INSIDE:bowl.n.01_1",   "CLOSE:electric_refrigerator.n.01_1",
                                        "LEFT_GRASP:carving_knife.n.01_1",  "SLICE:peach.n.03_1"};
const std::vector<std::string> kNames = {"OPEN", "CLOSE", "RIGHT_GRASP", "LEFT_GRASP", "RIGHT_PLACE_INSIDE",
                                         "SLICE", "LEFT_RELEASE", "TOGGLE_ON", "SOAK", "FLY"};
const std::vector<std::string> kObjects = {"electric_refrigerator.n.01_1", "apple.n.01_1", "apple.n.01_2",
                                           "bowl.n.01_1", "peach.n.03_1", "carving_knife.n.01_1", "sink.n.01_1",
                                           "rag.n.01_1", "ghost_7"};

std::string read_text(const std::string& path) {
  FILE* f = std::fopen(path.c_str(), "rb");
  std::string s;
  if (!f) return s;
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) s.append(buf, n);
  std::fclose(f);
  return s;
}

std::vector<Action> sample_plan(const Task& t, std::mt19937& rng) {
  std::vector<Action> plan;
  int keep = std::uniform_int_distribution<int>(0, static_cast<int>(kBase.size()))(rng);
  for (int i = 0; i < keep; ++i) {
    size_t c = kBase[i].find(':');
    plan.push_back(make_eai_action(t, kBase[i].substr(0, c), {kBase[i].substr(c + 1)}));
  }
  int extra = std::uniform_int_distribution<int>(0, 3)(rng);
  for (int i = 0; i < extra; ++i)
    plan.push_back(make_eai_action(t, kNames[rng() % kNames.size()], {kObjects[rng() % kObjects.size()]}));
  return plan;
}

struct Fixture {
  TaskPtr task = fixtures::load("kitchen.bddl");
  std::string bddl = read_text(fixtures::data("kitchen.bddl"));
};

std::vector<WorkerSpec> workers(int n, std::vector<std::string> options = {}, const std::string& name = "symbolic") {
  std::vector<std::string> cmd = {EMX_WORKER_PATH};
  cmd.insert(cmd.end(), options.begin(), options.end());
  return {{cmd, n, name, {}}};
}

/// n episodes, in groups of group_size (0: no groups), plans sampled from seed.
std::vector<EpisodeRequest> batch(const Task& t, uint32_t task_id, int n, int group_size, unsigned seed) {
  std::mt19937 rng(seed);
  std::vector<EpisodeRequest> out;
  for (int i = 0; i < n; ++i) {
    EpisodeRequest r;
    r.task = task_id;
    r.plan = sample_plan(t, rng);
    r.group = group_size ? 1000 + i / group_size : 0;
    r.tag = static_cast<uint64_t>(i);
    r.keep_trace = i % 3 == 0;
    out.push_back(std::move(r));
  }
  return out;
}

void expect_matches_reference(const Task& t, const std::vector<EpisodeRequest>& reqs,
                              const std::vector<EpisodeResult>& got) {
  CHECK_EQ(got.size(), reqs.size());
  RewardConfig reward = reward_preset("default");
  for (size_t i = 0; i < reqs.size() && i < got.size(); ++i) {
    Evaluation ref = evaluate(t, reqs[i].plan, true, reward, true);
    const EpisodeResult& r = got[i];
    CHECK(r.status == EpisodeStatus::kOk);
    CHECK_EQ(r.tag, reqs[i].tag);
    CHECK_EQ(r.reward, ref.reward);
    CHECK_EQ(r.executed, ref.execution.executed);
    CHECK(r.first_error == ref.execution.first_error);
    CHECK(r.condition_truth == ref.goal.condition_truth);
    CHECK(r.atom_truth == ref.goal.atom_truth);
    CHECK(r.worker >= 0);
    CHECK(!r.worker_name.empty());
    CHECK(r.total_seconds >= r.queue_seconds);
    if (reqs[i].keep_trace) {
      CHECK_EQ(r.steps.size(), ref.execution.trace.size());
      for (size_t k = 0; k < r.steps.size() && k < ref.execution.trace.size(); ++k)
        CHECK_EQ(r.steps[k].message, ref.execution.trace[k].result.message);
    }
  }
}

/// Collects n results from poll(), failing after a deadline.
std::vector<EpisodeResult> collect(Scheduler& s, size_t n, double timeout_s,
                                   const std::function<void(size_t)>& on_progress = {}) {
  std::vector<EpisodeResult> out;
  auto deadline = Clock::now() + std::chrono::duration<double>(timeout_s);
  while (out.size() < n && Clock::now() < deadline) {
    for (auto& r : s.poll(n - out.size(), 0.1)) out.push_back(std::move(r));
    if (on_progress) on_progress(out.size());
  }
  return out;
}

bool process_alive(int pid) {
  if (pid <= 0) return false;
  if (::kill(pid, 0) != 0) return false;
  // A zombie (not yet reaped by someone) is dead for our purpose.
  std::string stat = read_text("/proc/" + std::to_string(pid) + "/stat");
  size_t close = stat.rfind(')');
  return !(close != std::string::npos && close + 2 < stat.size() && stat[close + 2] == 'Z');
}

}  // namespace

TEST(results_equal_in_process_evaluation) {
  Fixture f;
  Scheduler s(workers(2), fixtures::kb());
  CHECK_EQ(s.wait_ready(20), 2u);
  uint32_t task = s.add_task("kitchen", f.bddl, "kitchen.bddl");
  CHECK_EQ(s.add_task("kitchen", f.bddl, "kitchen.bddl"), task);
  CHECK_THROWS(s.add_task("kitchen", f.bddl + " ", "kitchen.bddl"), std::invalid_argument);
  auto reqs = batch(*f.task, task, 300, 6, 1);
  auto got = s.evaluate(reqs);
  expect_matches_reference(*f.task, reqs, got);
  SchedulerStats st = s.stats();
  CHECK_EQ(st.completed, 300u);
  CHECK_EQ(st.failed, 0u);
  CHECK_EQ(st.queue_depth, 0u);
  CHECK_EQ(st.inflight, 0u);
  CHECK_EQ(st.workers.size(), 2u);
  // Groups share prefixes: fewer actions simulated than the plans needed.
  CHECK(st.simulated_actions < st.plan_actions);
}

TEST(results_do_not_depend_on_workers_or_order) {
  Fixture f;
  std::vector<std::vector<double>> rewards;
  for (int n : {1, 3}) {
    for (bool reverse_priority : {false, true}) {
      Scheduler s(workers(n), fixtures::kb());
      uint32_t task = s.add_task("kitchen", f.bddl, "kitchen.bddl");
      auto reqs = batch(*f.task, task, 120, 4, 2);
      for (size_t i = 0; i < reqs.size(); ++i) reqs[i].priority = reverse_priority ? static_cast<int32_t>(i / 4) : 0;
      s.submit(reqs);
      auto got = collect(s, reqs.size(), 30);
      CHECK_EQ(got.size(), reqs.size());
      std::vector<double> r(reqs.size(), -99);
      for (const auto& x : got) r[x.tag] = x.reward;
      rewards.push_back(r);
      if (reverse_priority && n == 1) {
        // One worker, higher priority first: the last groups complete first.
        CHECK(got.front().tag >= 60);
      }
    }
  }
  for (size_t k = 1; k < rewards.size(); ++k) CHECK(rewards[k] == rewards[0]);
}

TEST(group_members_land_on_one_worker) {
  Fixture f;
  Scheduler s(workers(3, {"--slow-us", "200"}), fixtures::kb());
  CHECK_EQ(s.wait_ready(20), 3u);
  uint32_t task = s.add_task("kitchen", f.bddl, "kitchen.bddl");
  auto reqs = batch(*f.task, task, 240, 8, 3);
  // Half the groups arrive member by member in separate submits.
  std::vector<EpisodeRequest> together, apart;
  for (auto& r : reqs) ((r.group % 2) ? apart : together).push_back(r);
  s.submit(together);
  for (auto& r : apart) s.submit({r});
  auto got = collect(s, reqs.size(), 30);
  CHECK_EQ(got.size(), reqs.size());
  std::map<uint64_t, std::set<int32_t>> where;
  for (const auto& r : got) where[r.group].insert(r.worker);
  CHECK_EQ(where.size(), 30u);
  for (const auto& [g, ws] : where) CHECK_EQ(ws.size(), 1u);
  std::set<int32_t> used;
  for (const auto& [g, ws] : where) used.insert(*ws.begin());
  CHECK(used.size() >= 2);  // and groups still spread over the workers
}

TEST(scene_affinity_keeps_tasks_on_workers_that_have_them) {
  Fixture f;
  // Each worker caches one task, loading one costs 20 ms (an emulated scene
  // build), two tasks alternate in the queue. Routing by the mirrored LRU
  // should settle each task on one worker instead of reloading.
  Scheduler s(workers(2, {"--task-cache", "1", "--load-us", "20000"}), fixtures::kb());
  CHECK_EQ(s.wait_ready(20), 2u);
  uint32_t a = s.add_task("kitchen-a", f.bddl, "a.bddl");
  uint32_t b = s.add_task("kitchen-b", f.bddl, "b.bddl");
  std::vector<EpisodeRequest> reqs = batch(*f.task, a, 400, 0, 4);
  for (size_t i = 0; i < reqs.size(); ++i) reqs[i].task = i % 2 ? a : b;
  auto got = s.evaluate(reqs);
  int loads = 0;
  for (const auto& r : got) loads += r.load_seconds > 0;
  CHECK(loads <= 4);
  if (loads > 4) {
    std::string seq;
    for (const auto& r : got)
      if (r.load_seconds > 0) seq += std::to_string(r.tag) + "@" + std::to_string(r.worker) + " ";
    std::fprintf(stderr, "loads: %s\n", seq.c_str());
  }
  std::set<int32_t> used;
  for (const auto& r : got) used.insert(r.worker);
  CHECK_EQ(used.size(), 2u);
  expect_matches_reference(*f.task, reqs, got);
}

TEST(backpressure_when_the_queue_is_full) {
  Fixture f;
  SchedulerConfig cfg;
  cfg.queue_capacity = 16;
  Scheduler s(workers(1, {"--slow-us", "20000"}), fixtures::kb(), cfg);
  CHECK_EQ(s.wait_ready(20), 1u);
  uint32_t task = s.add_task("kitchen", f.bddl, "kitchen.bddl");
  auto reqs = batch(*f.task, task, 64, 0, 5);
  auto ids = s.submit(std::vector<EpisodeRequest>(reqs.begin(), reqs.begin() + 20), 0.05);
  size_t accepted = std::count_if(ids.begin(), ids.end(), [](uint64_t id) { return id != 0; });
  // The worker takes a job or two; the queue holds at most 16.
  CHECK(accepted >= 16 && accepted < 20);
  CHECK(s.stats().queue_depth <= 16u);
  CHECK_THROWS(s.try_submit(std::vector<EpisodeRequest>(reqs.begin() + 20, reqs.begin() + 40)), QueueFull);
  // A blocking submit waits for room and then goes through.
  std::thread t([&] { s.submit(std::vector<EpisodeRequest>(reqs.begin() + 40, reqs.begin() + 44)); });
  t.join();
  CHECK(s.stats().queue_depth <= 16u);
  s.shutdown();
  SchedulerStats st = s.stats();
  CHECK_EQ(st.completed, st.submitted);  // everything accepted got an answer (run or cancelled)
}

TEST(sigkill_mid_batch_loses_nothing_and_duplicates_nothing) {
  Fixture f;
  Scheduler s(workers(2, {"--slow-us", "2500"}), fixtures::kb());
  CHECK_EQ(s.wait_ready(20), 2u);
  uint32_t task = s.add_task("kitchen", f.bddl, "kitchen.bddl");
  auto reqs = batch(*f.task, task, 300, 4, 6);
  s.submit(reqs);
  // Mid-batch, from a thread of its own: at a moment unrelated to results
  // arriving, so the worker is almost surely in the middle of a job.
  std::atomic<int32_t> killed{0};
  std::thread chaos([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(400));
    killed = s.signal_worker(0, SIGKILL);
  });
  auto got = collect(s, reqs.size(), 50);
  chaos.join();
  CHECK(killed > 0);
  CHECK_EQ(got.size(), reqs.size());
  std::set<uint64_t> ids, tags;
  for (const auto& r : got) {
    ids.insert(r.id);
    tags.insert(r.tag);
  }
  CHECK_EQ(ids.size(), reqs.size());
  CHECK_EQ(tags.size(), reqs.size());
  std::sort(got.begin(), got.end(), [](const auto& a, const auto& b) { return a.tag < b.tag; });
  expect_matches_reference(*f.task, reqs, got);
  SchedulerStats st = s.stats();
  CHECK(st.restarts >= 1);
  CHECK(st.retried >= 1);
  CHECK(!process_alive(killed));
  CHECK(st.workers[0].pid != killed);
  CHECK(std::any_of(got.begin(), got.end(), [](const EpisodeResult& r) { return r.attempts > 1; }));
  // A few more after the replacement: nothing lost, nothing extra.
  CHECK(s.poll(10, 0.2).empty());
}

TEST(hung_worker_is_detected_and_replaced) {
  Fixture f;
  SchedulerConfig cfg;
  cfg.heartbeat_timeout_s = 1.0;
  Scheduler s(workers(2, {"--slow-us", "1000", "--heartbeat", "0.1"}), fixtures::kb(), cfg);
  CHECK_EQ(s.wait_ready(20), 2u);
  uint32_t task = s.add_task("kitchen", f.bddl, "kitchen.bddl");
  auto reqs = batch(*f.task, task, 200, 0, 7);
  s.submit(reqs);
  auto t0 = Clock::now();
  std::atomic<int32_t> stopped{0};
  std::thread chaos([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    stopped = s.signal_worker(1, SIGSTOP);
  });
  auto got = collect(s, reqs.size(), 50);
  chaos.join();
  CHECK(stopped > 0);
  CHECK_EQ(got.size(), reqs.size());
  std::sort(got.begin(), got.end(), [](const auto& a, const auto& b) { return a.tag < b.tag; });
  expect_matches_reference(*f.task, reqs, got);
  SchedulerStats st = s.stats();
  CHECK(st.restarts >= 1);
  CHECK(st.workers[1].last_exit.find("hung") != std::string::npos);
  CHECK(!process_alive(stopped));
  CHECK(std::chrono::duration<double>(Clock::now() - t0).count() < 40);
}

TEST(episode_timeout_fails_after_max_attempts) {
  Fixture f;
  SchedulerConfig cfg;
  cfg.max_attempts = 2;
  Scheduler s(workers(1, {"--slow-us", "200000"}), fixtures::kb(), cfg);
  CHECK_EQ(s.wait_ready(20), 1u);
  uint32_t task = s.add_task("kitchen", f.bddl, "kitchen.bddl");
  EpisodeRequest r;
  r.task = task;
  std::mt19937 rng(1);
  for (const auto& step : kBase) {
    size_t c = step.find(':');
    r.plan.push_back(make_eai_action(*f.task, step.substr(0, c), {step.substr(c + 1)}));
  }
  r.timeout_s = 0.3;  // 6 actions x 0.2 s do not fit
  EpisodeRequest quick;
  quick.task = task;
  auto got = s.evaluate({r, quick});
  CHECK(got[0].status == EpisodeStatus::kTimeout);
  CHECK_EQ(got[0].attempts, 2);
  CHECK(got[0].error.find("timeout") != std::string::npos);
  CHECK(got[1].status == EpisodeStatus::kOk);
  CHECK_EQ(s.stats().restarts, 2u);
}

TEST(faster_workers_take_proportionally_more) {
  Fixture f;
  std::vector<WorkerSpec> specs = workers(1, {}, "fast");
  auto slow = workers(1, {"--slow-us", "2000"}, "slow");
  specs.push_back(slow[0]);
  Scheduler s(specs, fixtures::kb());
  CHECK_EQ(s.wait_ready(20), 2u);
  uint32_t task = s.add_task("kitchen", f.bddl, "kitchen.bddl");
  auto reqs = batch(*f.task, task, 600, 0, 8);
  auto got = s.evaluate(reqs);
  int fast = 0, slow_n = 0;
  for (const auto& r : got) (r.worker == 0 ? fast : slow_n)++;
  CHECK(fast > 5 * std::max(1, slow_n));
  SchedulerStats st = s.stats();
  CHECK(st.workers[0].speed > 5 * st.workers[1].speed);
}

TEST(modes_without_a_capable_worker_fail_at_once) {
  Fixture f;
  Scheduler s(workers(1), fixtures::kb());
  uint32_t task = s.add_task("kitchen", f.bddl, "kitchen.bddl");
  CHECK_EQ(s.wait_ready(20), 1u);
  EpisodeRequest r;
  r.task = task;
  r.mode = RolloutMode::kPhysics;
  auto got = s.evaluate({r});
  CHECK(got[0].status == EpisodeStatus::kError);
  CHECK(got[0].error.find("physics") != std::string::npos);
  CHECK_THROWS(s.submit({EpisodeRequest{}}), std::invalid_argument);  // task 0 is not a task
}

TEST(tasks_that_do_not_compile_are_errors_not_retries) {
  Fixture f;
  Scheduler s(workers(1), fixtures::kb());
  uint32_t bad = s.add_task("bad", "(define (problem x) (:domain d) (:objects a - b) (:init (frob a)) (:goal (and)))",
                            "bad.bddl");
  EpisodeRequest r;
  r.task = bad;
  auto got = s.evaluate({r});
  CHECK(got[0].status == EpisodeStatus::kError);
  CHECK(got[0].error.find("does not compile") != std::string::npos);
  CHECK_EQ(got[0].attempts, 1);
}

TEST(a_worker_that_cannot_start_disables_its_slot) {
  std::vector<WorkerSpec> specs = {{{"/nonexistent/emx_worker"}, 1, "ghost", {}}};
  Fixture f;
  Scheduler s(specs, fixtures::kb());
  uint32_t task = s.add_task("kitchen", f.bddl, "kitchen.bddl");
  EpisodeRequest r;
  r.task = task;
  auto t0 = Clock::now();
  auto got = s.evaluate({r});
  CHECK(got[0].status == EpisodeStatus::kError);
  CHECK(std::chrono::duration<double>(Clock::now() - t0).count() < 10);
}

TEST(shutdown_answers_everything_and_leaves_no_process) {
  Fixture f;
  std::vector<int32_t> pids;
  uint64_t submitted = 0;
  std::vector<EpisodeResult> got;
  {
    Scheduler s(workers(2, {"--slow-us", "5000"}), fixtures::kb());
    CHECK_EQ(s.wait_ready(20), 2u);
    uint32_t task = s.add_task("kitchen", f.bddl, "kitchen.bddl");
    s.submit(batch(*f.task, task, 200, 0, 9));
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    for (const auto& w : s.stats().workers) pids.push_back(w.pid);
    s.shutdown();
    s.shutdown();  // idempotent
    for (auto& r : s.poll(1000, 0.5)) got.push_back(std::move(r));
    for (auto& r : s.poll(1000, 0.1)) got.push_back(std::move(r));
    submitted = s.stats().submitted;
    CHECK_THROWS(s.submit(batch(*f.task, task, 1, 0, 9)), std::runtime_error);
  }
  CHECK_EQ(got.size(), submitted);
  std::set<uint64_t> ids;
  for (const auto& r : got) ids.insert(r.id);
  CHECK_EQ(ids.size(), submitted);
  CHECK(std::any_of(got.begin(), got.end(), [](const auto& r) { return r.status == EpisodeStatus::kCancelled; }));
  for (int32_t pid : pids) CHECK(!process_alive(pid));
}

int main(int argc, char** argv) { return check::run_all(argc, argv); }
