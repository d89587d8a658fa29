// embed_eval: emx embedded in a C++ program, with no Python.
//
//   embed_eval PROBLEM.bddl [ACTION:object[,object2] ...]
//
// Loads a BDDL problem, builds a small KnowledgeBase by hand, runs the plan
// given as arguments ("RIGHT_GRASP:apple.n.01_1", "LEFT_PLACE_NEXTTO_ONTOP:a,b")
// -- or, with no plan, the oracle's plan -- and prints each step, the truth of
// every ground goal atom and condition, success and the EmboMatrix reward.
// It also names the state-check backend, so an embedder linking an installed
// emx sees that the CUDA part links too (or that the CPU path took over).
//
// Exit status: 0 when the evaluation ran (whatever its outcome), 1 for a
// problem that cannot be read or compiled, 2 for a usage error.
#include <cstdio>
#include <exception>
#include <string>
#include <vector>

#include "emx/backend.hpp"
#include "emx/emx.hpp"

namespace {

// What a host application would fill from its own object database. Categories
// not listed compile with no abilities (compile_task warns about them), and a
// task's own text adds what it implies (a goal (open x) makes x openable).
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
      {"cabinet.n.01", kOpenable | kContainer | kFixed},
      {"floor.n.01", kFixed},
      {"agent.n.01", 0},
  };
  return kb;
}

std::vector<std::string> split(const std::string& s, char sep) {
  std::vector<std::string> out;
  size_t start = 0;
  for (size_t i = 0; i <= s.size(); ++i) {
    if (i == s.size() || s[i] == sep) {
      out.push_back(s.substr(start, i - start));
      start = i + 1;
    }
  }
  return out;
}

// "RIGHT_GRASP:apple.n.01_1" -> Action; mistakes become errors at that step, as for a model.
emx::Action parse_step(const emx::Task& task, const std::string& token) {
  size_t colon = token.find(':');
  std::string name = token.substr(0, colon);
  std::vector<std::string> objects;
  if (colon != std::string::npos && colon + 1 < token.size()) objects = split(token.substr(colon + 1), ',');
  return emx::make_eai_action(task, name, objects);
}

std::string atom_text(const emx::Task& task, const emx::GroundAtom& a) {
  std::string s = "(" + std::string(emx::predicate_name(a.pred)) + " " + task.objects[a.a].name;
  if (a.b >= 0) s += " " + task.objects[a.b].name;
  return s + ")";
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s PROBLEM.bddl [ACTION:object[,object2] ...]\n", argv[0]);
    return 2;
  }
  emx::TaskPtr task;
  try {
    task = emx::compile_task(emx::parse_problem_file(argv[1]), make_knowledge_base());
  } catch (const emx::ParseError& e) {
    std::fprintf(stderr, "%s\n", e.what());  // "file:line:col: message"
    return 1;
  }
  const emx::Task& t = *task;
  std::printf("task: %s (%d objects, %zu goal conditions)\n", t.name.c_str(), t.num_objects(),
              t.goal.conditions.size());
  std::printf("backend: %s%s\n", emx::active_backend().c_str(), emx::built_with_cuda() ? " (CUDA compiled)" : "");
  for (const auto& w : t.warnings) std::printf("warning: %s\n", w.c_str());

  std::vector<emx::Action> plan;
  if (argc > 2) {
    for (int i = 2; i < argc; ++i) plan.push_back(parse_step(t, argv[i]));
  } else {
    emx::OraclePlan oracle = emx::plan_oracle(t);
    if (!oracle.solved) {
      std::printf("oracle: unsolved (%s); nothing to evaluate\n", oracle.reason.c_str());
      return 0;
    }
    std::printf("oracle: solved with %zu actions\n", oracle.actions.size());
    plan = oracle.actions;
  }

  const emx::RewardConfig reward = emx::reward_preset("embomatrix");
  emx::Evaluation ev = emx::evaluate(t, plan, /*format_ok=*/true, reward);

  for (size_t i = 0; i < ev.execution.trace.size(); ++i) {
    const emx::TraceStep& s = ev.execution.trace[i];
    std::printf("step %zu: %-45s %s%s%s\n", i + 1, emx::describe(t, s.action).c_str(),
                std::string(emx::error_name(s.result.error)).c_str(), s.result.message.empty() ? "" : ": ",
                s.result.message.c_str());
  }
  std::printf("executed: %d of %d\n", ev.execution.executed, ev.execution.plan_length);
  for (size_t i = 0; i < t.goal.atoms.size(); ++i)
    std::printf("atom %-60s %s\n", atom_text(t, t.goal.atoms[i]).c_str(), ev.goal.atom_truth[i] ? "true" : "false");
  for (size_t i = 0; i < t.goal.conditions.size(); ++i)
    std::printf("condition %-55s %s\n", t.goal.condition_text[i].c_str(),
                ev.goal.condition_truth[i] ? "true" : "false");
  std::printf("goal fraction: %.4f\n", ev.components.goal_fraction);
  std::printf("success: %s\n", ev.components.success ? "yes" : "no");
  std::printf("reward (%s): %.4f\n", reward.name.c_str(), ev.reward);
  return 0;
}
