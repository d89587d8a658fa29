// Rollout pieces that need no process: the wire format, the prefix schedule,
// and the symbolic group runner, which must equal emx::evaluate() plan by plan
// whether prefixes are shared or not.
#include <algorithm>
#include <map>
#include <random>
#include <set>

#include "emx/rollout_prefix.hpp"
#include "emx/rollout_worker.hpp"
#include "emx/worker_protocol.hpp"
#include "fixtures.hpp"

using namespace emx;

namespace {

const std::vector<std::string> kBase = {"OPEN:electric_refrigerator.n.01_1", "RIGHT_GRASP:apple.n.01_1",
                                        "RIGHT_PLACE_INSIDE:bowl.n.01_1",   "CLOSE:electric_refrigerator.n.01_1",
                                        "LEFT_GRASP:carving_knife.n.01_1",  "SLICE:peach.n.03_1"};
const std::vector<std::string> kNames = {"OPEN",  "CLOSE",     "RIGHT_GRASP", "LEFT_GRASP",  "RIGHT_PLACE_INSIDE",
                                         "SLICE", "LEFT_RELEASE", "TOGGLE_ON", "RIGHT_PLACE_ONTOP", "SOAK", "FLY"};
const std::vector<std::string> kObjects = {"electric_refrigerator.n.01_1", "apple.n.01_1", "apple.n.01_2",
                                           "bowl.n.01_1", "peach.n.03_1", "carving_knife.n.01_1", "sink.n.01_1",
                                           "rag.n.01_1", "countertop.n.01_1", "ghost_7"};

Action step_of(const Task& t, const std::string& token) {
  size_t colon = token.find(':');
  return make_eai_action(t, token.substr(0, colon), {token.substr(colon + 1)});
}

/// GRPO-like groups: a shared good prefix of random length, then random steps.
std::vector<std::vector<Action>> sample_group(const Task& t, std::mt19937& rng, int size) {
  std::vector<std::vector<Action>> out;
  for (int k = 0; k < size; ++k) {
    std::vector<Action> plan;
    int keep = std::uniform_int_distribution<int>(0, static_cast<int>(kBase.size()))(rng);
    for (int i = 0; i < keep; ++i) plan.push_back(step_of(t, kBase[i]));
    int extra = std::uniform_int_distribution<int>(0, 3)(rng);
    for (int i = 0; i < extra; ++i) {
      const std::string& n = kNames[rng() % kNames.size()];
      const std::string& o = kObjects[rng() % kObjects.size()];
      plan.push_back(make_eai_action(t, n, {o}));
    }
    out.push_back(std::move(plan));
  }
  return out;
}

bool same_result(const wire::ResultMsg& a, const Evaluation& b, bool keep_trace) {
  bool ok = a.reward == b.reward && a.executed == b.execution.executed && a.completed == b.execution.completed &&
            a.first_error == b.execution.first_error && a.components.goal_fraction == b.components.goal_fraction &&
            a.components.success == b.components.success && a.components.executability == b.components.executability &&
            a.components.objects_named == b.components.objects_named && a.condition_truth == b.goal.condition_truth &&
            a.atom_truth == b.goal.atom_truth && a.components.plan_length == b.components.plan_length;
  if (keep_trace) {
    ok = ok && a.steps.size() == b.execution.trace.size();
    for (size_t i = 0; ok && i < a.steps.size(); ++i)
      ok = a.steps[i].error == b.execution.trace[i].result.error &&
           a.steps[i].message == b.execution.trace[i].result.message && a.steps[i].ok == b.execution.trace[i].result.ok;
  }
  return ok;
}

wire::GroupMsg group_message(const std::vector<std::vector<Action>>& plans, bool share, bool keep_trace) {
  std::vector<const std::vector<Action>*> ptrs;
  for (const auto& p : plans) ptrs.push_back(&p);
  wire::GroupMsg g;
  g.job = 7;
  g.flags = keep_trace ? wire::kKeepTrace : 0;
  for (const PrefixStep& s : prefix_schedule(ptrs, share)) {
    wire::PlanMsg m;
    m.index = s.plan;
    m.resume_depth = s.resume_depth;
    m.save_depths = s.save_depths;
    m.suffix.assign(plans[s.plan].begin() + s.resume_depth, plans[s.plan].end());
    g.plans.push_back(std::move(m));
  }
  return g;
}

}  // namespace

TEST(frames_round_trip) {
  TaskPtr t = fixtures::load("kitchen.bddl");
  std::string buf;
  wire::Hello h;
  h.capabilities = wire::kCapSymbolic | wire::kCapCpuPhysics;
  h.speed = 12345.5;
  h.load_seconds = 0.25;
  h.scene_cache = 8;
  h.pid = 42;
  h.name = "physics";
  wire::encode(buf, h);
  wire::encode(buf, fixtures::kb());
  wire::encode(buf, wire::TaskMsg{3, "kitchen", "kitchen.bddl", "(define ...)", "{\"scene\": 1}"});
  wire::encode(buf, wire::RewardMsg{2, reward_preset("embomatrix")});
  wire::GroupMsg g;
  g.job = 1ull << 40;
  g.task = 3;
  g.reward = 2;
  g.mode = wire::Mode::kPhysics;
  g.flags = wire::kKeepTrace;
  g.seed = 99;
  wire::PlanMsg p;
  p.index = 5;
  p.format_ok = true;
  p.resume_depth = 2;
  p.save_depths = {3, 4};
  p.suffix = {step_of(*t, "OPEN:electric_refrigerator.n.01_1"), make_eai_action(*t, "FLY", {"ghost_1"})};
  p.suffix[0].num[1] = -0.5f;
  g.plans.push_back(p);
  wire::encode(buf, g);
  wire::ResultMsg r;
  r.job = g.job;
  r.index = 5;
  r.reward = -0.25;
  r.components.format_ok = true;
  r.components.goal_fraction = 0.5;
  r.components.plan_length = 4;
  r.executed = 3;
  r.first_error = ErrorType::kWrongOrder;
  r.steps = {{ErrorType::kNone, true, ""}, {ErrorType::kWrongOrder, false, "it could have been done before"}};
  r.condition_truth = {1, 0, 1};
  r.atom_truth = {0, 1};
  r.simulated_actions = 2;
  wire::encode(buf, r);
  wire::encode(buf, wire::Heartbeat{77});
  wire::encode_shutdown(buf);

  // Fed one byte at a time, frames appear only when complete.
  std::vector<wire::FrameView> frames;
  size_t off = 0;
  for (size_t end = 1; end <= buf.size(); ++end) {
    wire::FrameView f;
    size_t used = wire::next_frame(buf.data() + off, end - off, &f);
    if (used) {
      frames.push_back(f);
      off += used;
    }
  }
  CHECK_EQ(off, buf.size());
  CHECK_EQ(frames.size(), 8u);
  wire::Hello h2 = wire::decode_hello(frames[0]);
  CHECK_EQ(h2.capabilities, h.capabilities);
  CHECK_EQ(h2.speed, h.speed);
  CHECK_EQ(h2.name, std::string("physics"));
  CHECK_EQ(h2.pid, 42);
  KnowledgeBase kb = wire::decode_knowledge(frames[1]);
  const KnowledgeBase want = fixtures::kb();
  CHECK_EQ(kb.abilities.size(), want.abilities.size());
  CHECK_EQ(kb.abilities.at("sink.n.01"), want.abilities.at("sink.n.01"));
  wire::TaskMsg tm = wire::decode_task(frames[2]);
  CHECK_EQ(tm.id, 3u);
  CHECK_EQ(tm.scene, std::string("{\"scene\": 1}"));
  wire::RewardMsg rm = wire::decode_reward(frames[3]);
  CHECK_EQ(rm.config.name, std::string("embomatrix"));
  CHECK_EQ(rm.config.length, reward_preset("embomatrix").length);
  wire::GroupMsg g2 = wire::decode_group(frames[4]);
  CHECK_EQ(g2.job, g.job);
  CHECK(g2.mode == wire::Mode::kPhysics);
  CHECK_EQ(g2.plans.size(), 1u);
  CHECK_EQ(g2.plans[0].resume_depth, 2u);
  CHECK(g2.plans[0].save_depths == p.save_depths);
  CHECK_EQ(g2.plans[0].suffix.size(), 2u);
  for (size_t i = 0; i < 2; ++i) CHECK_EQ(wire::compare_actions(g2.plans[0].suffix[i], p.suffix[i]), 0);
  CHECK(g2.plans[0].suffix[1].error == ErrorType::kUnknownAction);
  CHECK_EQ(g2.plans[0].suffix[1].detail, p.suffix[1].detail);
  wire::ResultMsg r2 = wire::decode_result(frames[5]);
  CHECK_EQ(r2.reward, r.reward);
  CHECK(r2.first_error == ErrorType::kWrongOrder);
  CHECK_EQ(r2.steps.size(), 2u);
  CHECK_EQ(r2.steps[1].message, r.steps[1].message);
  CHECK(r2.condition_truth == r.condition_truth);
  CHECK(r2.atom_truth == r.atom_truth);
  CHECK_EQ(wire::decode_heartbeat(frames[6]).seq, 77u);
  CHECK(frames[7].type == wire::MsgType::kShutdown);
}

TEST(malformed_frames_are_protocol_errors) {
  std::string buf;
  wire::encode(buf, wire::Heartbeat{1});
  wire::FrameView f;
  wire::next_frame(buf.data(), buf.size(), &f);
  CHECK_THROWS(wire::decode_hello(f), wire::ProtocolError);  // wrong type
  wire::FrameView cut = f;
  cut.size -= 1;
  CHECK_THROWS(wire::decode_heartbeat(cut), wire::ProtocolError);
  std::string huge = std::string("\xff\xff\xff\x7f", 4) + "x";
  CHECK_THROWS(wire::next_frame(huge.data(), huge.size(), &f), wire::ProtocolError);
  std::string counts;
  wire::Writer w(counts);
  w.u32(1000000);  // a count larger than the frame
  CHECK_THROWS(wire::decode_actions(counts), wire::ProtocolError);
}

TEST(actions_round_trip) {
  TaskPtr t = fixtures::load("kitchen.bddl");
  std::mt19937 rng(5);
  auto plans = sample_group(*t, rng, 40);
  for (const auto& plan : plans) {
    std::vector<Action> back = wire::decode_actions(wire::encode_actions(plan));
    CHECK_EQ(back.size(), plan.size());
    for (size_t i = 0; i < plan.size() && i < back.size(); ++i) CHECK_EQ(wire::compare_actions(back[i], plan[i]), 0);
  }
}

TEST(prefix_schedule_covers_every_plan_once_and_resumes_from_saved_states) {
  TaskPtr t = fixtures::load("kitchen.bddl");
  std::mt19937 rng(11);
  for (int trial = 0; trial < 200; ++trial) {
    auto plans = sample_group(*t, rng, 1 + static_cast<int>(rng() % 12));
    std::vector<const std::vector<Action>*> ptrs;
    for (const auto& p : plans) ptrs.push_back(&p);
    auto sched = prefix_schedule(ptrs, true);
    std::set<uint32_t> seen;
    // Emulate a worker: saved[d] holds the path (as plan index, depth) saved at depth d.
    std::map<uint32_t, std::vector<Action>> saved;
    saved[0] = {};
    uint64_t total = 0;
    for (const PrefixStep& s : sched) {
      seen.insert(s.plan);
      const auto& plan = plans[s.plan];
      total += plan.size();
      CHECK(s.resume_depth <= plan.size());
      auto it = saved.find(s.resume_depth);
      CHECK(it != saved.end());
      if (it != saved.end()) {
        std::vector<Action> prefix(plan.begin(), plan.begin() + s.resume_depth);
        bool same = prefix.size() == it->second.size();
        for (size_t i = 0; same && i < prefix.size(); ++i) same = wire::compare_actions(prefix[i], it->second[i]) == 0;
        CHECK(same);
      }
      for (uint32_t d : s.save_depths) {
        CHECK(d > s.resume_depth && d <= plan.size());
        saved[d] = std::vector<Action>(plan.begin(), plan.begin() + std::min<size_t>(d, plan.size()));
      }
    }
    CHECK_EQ(seen.size(), plans.size());
    CHECK(scheduled_actions(ptrs, sched) <= total);
    auto flat = prefix_schedule(ptrs, false);
    CHECK_EQ(scheduled_actions(ptrs, flat), total);
  }
}

TEST(symbolic_group_equals_evaluate_plan_by_plan) {
  TaskPtr t = fixtures::load("kitchen.bddl");
  std::mt19937 rng(3);
  uint64_t simulated_shared = 0, simulated_flat = 0;
  for (int trial = 0; trial < 150; ++trial) {
    auto plans = sample_group(*t, rng, 2 + static_cast<int>(rng() % 10));
    for (const char* preset : {"default", "embomatrix"}) {
      RewardConfig reward = reward_preset(preset);
      for (bool share : {true, false}) {
        bool keep_trace = trial % 2 == 0;
        wire::GroupMsg g = group_message(plans, share, keep_trace);
        std::vector<wire::ResultMsg> got(plans.size());
        std::vector<int> count(plans.size(), 0);
        run_symbolic_group(*t, reward, g, [&](wire::ResultMsg&& m) {
          count[m.index]++;
          got[m.index] = std::move(m);
        });
        for (size_t i = 0; i < plans.size(); ++i) {
          CHECK_EQ(count[i], 1);
          Evaluation ref = evaluate(*t, plans[i], true, reward, keep_trace);
          CHECK(same_result(got[i], ref, keep_trace));
          CHECK_EQ(got[i].job, 7u);
          if (std::string(preset) == "default") (share ? simulated_shared : simulated_flat) += got[i].simulated_actions;
        }
      }
    }
  }
  // Sharing simulates fewer actions on these groups (they share a good prefix).
  CHECK(simulated_shared < simulated_flat);
}

TEST(unparsed_plans_score_as_format_failures) {
  TaskPtr t = fixtures::load("kitchen.bddl");
  wire::GroupMsg g;
  wire::PlanMsg bad;
  bad.index = 0;
  bad.format_ok = false;
  g.plans.push_back(bad);
  wire::ResultMsg got;
  run_symbolic_group(*t, reward_preset("embomatrix"), g, [&](wire::ResultMsg&& m) { got = std::move(m); });
  Evaluation ref = evaluate(*t, {}, false, reward_preset("embomatrix"));
  CHECK_EQ(got.reward, ref.reward);
  CHECK_EQ(got.reward, -1.0);
  CHECK(!got.components.format_ok);
}

int main(int argc, char** argv) { return check::run_all(argc, argv); }
