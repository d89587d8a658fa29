// rollout_embed: the rollout scheduler and symbolic worker processes driven
// from C++ alone, as a robotics stack or a C++ trainer would embed them.
//
//   rollout_embed WORKER PROBLEM.bddl [WORKERS]
//
// WORKER is the emx_worker executable. Samples GRPO-style groups of plans
// (the oracle's plan, cut and varied), evaluates them on WORKERS worker
// processes (default 2) -- results as they complete, then a blocking batch --
// checks every result against in-process emx::evaluate(), and prints what
// plan-prefix sharing saved and the scheduler's dispatch rate with no-op workers.
//
// Exit status: 0 when every result matches, 1 otherwise, 2 for a usage error.
#include <chrono>
#include <cstdio>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "emx/emx.hpp"
#include "emx/scheduler.hpp"

namespace {

emx::KnowledgeBase make_knowledge_base() {
  using namespace emx;
  KnowledgeBase kb;
  kb.abilities = {
      {"apple.n.01", kCookable | kFreezable | kSliceable | kDustyable | kStainable | kHeatable},
      {"peach.n.03", kCookable | kSliceable},
      {"electric_refrigerator.n.01", kOpenable | kContainer | kFixed | kColdSource | kFreezable},
      {"countertop.n.01", kFixed | kDustyable | kStainable},
      {"carving_knife.n.01", kSlicer},
      {"sink.n.01", kToggleable | kContainer | kWaterSource | kFixed},
      {"rag.n.01", kSoakable | kCleaningTool},
      {"saucepan.n.01", kContainer | kCookingVessel},
      {"bowl.n.01", kContainer | kDustyable | kStainable},
      {"floor.n.01", kFixed},
      {"agent.n.01", 0},
  };
  return kb;
}

// A group of plans as a sampled policy writes them: mostly the same start,
// diverging later (a prefix of the oracle's plan, then a few other steps).
std::vector<std::vector<emx::Action>> sample_group(const emx::Task& task, const std::vector<emx::Action>& oracle,
                                                   std::mt19937& rng, int size) {
  std::vector<std::vector<emx::Action>> group;
  std::vector<std::string> names = {"OPEN", "CLOSE", "RIGHT_GRASP", "LEFT_GRASP", "RIGHT_PLACE_INSIDE", "SLICE"};
  for (int k = 0; k < size; ++k) {
    size_t keep = std::uniform_int_distribution<size_t>(oracle.size() / 2, oracle.size())(rng);
    std::vector<emx::Action> plan(oracle.begin(), oracle.begin() + keep);
    int extra = std::uniform_int_distribution<int>(0, 2)(rng);
    for (int i = 0; i < extra; ++i) {
      const std::string& obj = task.objects[rng() % task.objects.size()].name;
      plan.push_back(emx::make_eai_action(task, names[rng() % names.size()], {obj}));
    }
    group.push_back(std::move(plan));
  }
  return group;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: %s WORKER PROBLEM.bddl [WORKERS]\n", argv[0]);
    return 2;
  }
  const std::string worker = argv[1];
  const std::string problem_file = argv[2];
  const int num_workers = argc > 3 ? std::atoi(argv[3]) : 2;
  std::ifstream in(problem_file);
  if (!in) {
    std::fprintf(stderr, "%s: cannot read file\n", problem_file.c_str());
    return 1;
  }
  std::stringstream text;
  text << in.rdbuf();

  const emx::KnowledgeBase kb = make_knowledge_base();
  emx::TaskPtr task;
  try {
    task = emx::compile_task(emx::parse_problem(text.str(), problem_file), kb);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "%s\n", e.what());
    return 1;
  }
  emx::OraclePlan oracle = emx::plan_oracle(*task);
  std::printf("task: %s (%d objects), oracle plan: %zu actions\n", task->name.c_str(), task->num_objects(),
              oracle.actions.size());

  // The scheduler starts the worker processes; they compile the task from its text.
  emx::Scheduler scheduler({{{worker}, num_workers, "symbolic", {}}}, kb);
  const size_t ready = scheduler.wait_ready(30);
  std::printf("workers ready: %zu of %d\n", ready, num_workers);
  const uint32_t task_id = scheduler.add_task("kitchen", text.str(), problem_file);
  const emx::RewardConfig reward = emx::reward_preset("embomatrix");
  const uint32_t reward_id = scheduler.add_reward(reward);

  std::mt19937 rng(7);
  std::vector<emx::EpisodeRequest> batch;
  for (int g = 0; g < 16; ++g) {
    for (auto& plan : sample_group(*task, oracle.actions, rng, 8)) {
      emx::EpisodeRequest r;
      r.task = task_id;
      r.reward = reward_id;
      r.plan = std::move(plan);
      r.group = 1 + g;
      r.tag = batch.size();
      batch.push_back(std::move(r));
    }
  }

  // 1. Asynchronous: submit, then take results as they complete.
  scheduler.submit(batch);
  std::vector<emx::EpisodeResult> results(batch.size());
  size_t got = 0;
  while (got < batch.size()) {
    for (auto& r : scheduler.poll(64, 5.0)) {
      results[r.tag] = std::move(r);
      ++got;
    }
  }
  // 2. Blocking convenience: the same batch again, results in input order.
  std::vector<emx::EpisodeResult> again = scheduler.evaluate(batch);

  int mismatches = 0, successes = 0;
  for (size_t i = 0; i < batch.size(); ++i) {
    emx::Evaluation ref = emx::evaluate(*task, batch[i].plan, true, reward, false);
    if (results[i].status != emx::EpisodeStatus::kOk || results[i].reward != ref.reward ||
        again[i].reward != ref.reward || results[i].executed != ref.execution.executed)
      ++mismatches;
    successes += results[i].components.success;
  }
  emx::SchedulerStats st = scheduler.stats();
  std::printf("episodes: %zu in %zu groups, success: %d, workers used:", batch.size(), size_t{16}, successes);
  for (const auto& w : st.workers) std::printf(" %s=%llu", w.name.c_str(), static_cast<unsigned long long>(w.episodes));
  std::printf("\nprefix sharing: simulated %llu of %llu actions (saved %.0f%%)\n",
              static_cast<unsigned long long>(st.simulated_actions), static_cast<unsigned long long>(st.plan_actions),
              st.plan_actions ? 100.0 * (1.0 - double(st.simulated_actions) / st.plan_actions) : 0.0);
  std::printf("all results match in-process evaluation: %s\n", mismatches == 0 ? "yes" : "no");
  scheduler.shutdown();

  // Dispatch cost: the same path with workers that do no work.
  {
    emx::Scheduler noop({{{worker, "--noop"}, num_workers, "noop", {}}}, kb);
    noop.wait_ready(30);
    const uint32_t t = noop.add_task("kitchen", text.str(), problem_file);
    std::vector<emx::EpisodeRequest> tiny(20000);
    for (auto& r : tiny) r.task = t, r.plan = {oracle.actions.empty() ? emx::Action{} : oracle.actions[0]};
    noop.evaluate(std::vector<emx::EpisodeRequest>(tiny.begin(), tiny.begin() + 1000));  // warm up
    auto t0 = std::chrono::steady_clock::now();
    noop.evaluate(tiny);
    double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    std::printf("dispatch with no-op workers: %.2f us/episode\n", 1e6 * s / tiny.size());
  }
  return mismatches == 0 ? 0 : 1;
}
