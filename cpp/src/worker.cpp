// The symbolic worker loop (emx/rollout_worker.hpp).
//
// Frames are read in whatever chunks the pipe delivers and answered in one
// write per chunk, so a parent that pipelines many small episodes pays one
// system call per batch, not per episode.
#include <poll.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <algorithm>
#include <cstdio>
#include <cstring>
#include <thread>
#include <list>
#include <unordered_map>

#include "emx/rollout_worker.hpp"

namespace emx {
namespace {

using Clock = std::chrono::steady_clock;

double seconds(Clock::duration d) { return std::chrono::duration<double>(d).count(); }

// A small task for measuring this machine's speed at start (the scheduler
// refines the figure from the results it receives).
constexpr const char* kProbeTask = R"((define (problem speed_probe) (:domain omnigibson)
  (:objects apple_0 apple_1 - apple.n.01 bowl_0 - bowl.n.01 table_0 - table.n.02
            fridge_0 - electric_refrigerator.n.01 floor_0 - floor.n.01 agent_0 - agent.n.01)
  (:init (ontop apple_0 table_0) (ontop apple_1 table_0) (ontop bowl_0 table_0) (onfloor agent_0 floor_0)
         (onfloor fridge_0 floor_0) (inroom floor_0 kitchen))
  (:goal (and (inside apple_0 fridge_0) (inside apple_1 bowl_0) (open fridge_0)))))";

void measure_speed(wire::Hello& hello) {
  try {
    KnowledgeBase kb;
    kb.abilities = {{"electric_refrigerator.n.01", kOpenable | kContainer | kFixed},
                    {"bowl.n.01", kContainer},
                    {"table.n.02", kFixed},
                    {"floor.n.01", kFixed | kFloor},
                    {"agent.n.01", kAgent}};
    // Best of a few runs after a warm-up: a process's first milliseconds
    // (page faults, other workers starting beside it) say little.
    TaskPtr task = compile_task(parse_problem(kProbeTask, "<probe>"), kb);
    double compile_s = 1e9;
    auto start = Clock::now();
    for (int i = 0; i < 50 && seconds(Clock::now() - start) < 0.003; ++i) {
      auto t = Clock::now();
      task = compile_task(parse_problem(kProbeTask, "<probe>"), kb);
      compile_s = std::min(compile_s, seconds(Clock::now() - t));
    }
    std::vector<Action> plan = {make_eai_action(*task, "OPEN", {"fridge_0"}),
                                make_eai_action(*task, "RIGHT_GRASP", {"apple_0"}),
                                make_eai_action(*task, "RIGHT_PLACE_INSIDE", {"fridge_0"}),
                                make_eai_action(*task, "LEFT_GRASP", {"apple_1"}),
                                make_eai_action(*task, "LEFT_PLACE_INSIDE", {"bowl_0"})};
    RewardConfig reward = reward_preset("default");
    double per_plan = 1e9;
    start = Clock::now();
    for (int i = 0; i < 200 && seconds(Clock::now() - start) < 0.003; ++i) {
      auto t = Clock::now();
      evaluate(*task, plan, true, reward, false);
      per_plan = std::min(per_plan, seconds(Clock::now() - t));
    }
    hello.speed = plan.size() / std::max(per_plan, 1e-9);
    // Real tasks have 10-100x the probe's objects; a prior the scheduler
    // replaces with the first load it sees.
    hello.load_seconds = compile_s * 10;
  } catch (const std::exception&) {
    hello.speed = 1e5;
    hello.load_seconds = 1e-3;
  }
}

bool write_all(int fd, const std::string& data) {
  size_t off = 0;
  while (off < data.size()) {
    ssize_t n = ::write(fd, data.data() + off, data.size() - off);
    if (n < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    off += static_cast<size_t>(n);
  }
  return true;
}

class Worker {
 public:
  Worker(int in_fd, int out_fd, const WorkerOptions& o) : in_(in_fd), out_fd_(out_fd), o_(o) {}

  int run() {
    wire::Hello hello;
    hello.capabilities = wire::kCapSymbolic;
    hello.scene_cache = o_.task_cache;
    hello.pid = static_cast<int32_t>(::getpid());
    hello.name = o_.name;
    if (o_.noop) {
      hello.speed = 1e8;
      hello.load_seconds = 0;
    } else {
      measure_speed(hello);
      if (o_.slow_us) hello.speed = std::min(hello.speed, 1e6 / o_.slow_us);
      hello.load_seconds += o_.load_us * 1e-6;
    }
    wire::encode(out_, hello);
    if (!flush()) return 0;

    std::string in;
    std::vector<char> chunk(1 << 16);
    const int interval_ms = std::max(1, static_cast<int>(o_.heartbeat_interval_s * 1000));
    for (;;) {
      pollfd p{in_, POLLIN, 0};
      int rc = ::poll(&p, 1, interval_ms);
      if (rc < 0) {
        if (errno == EINTR) continue;
        return 1;
      }
      if (rc == 0) {
        heartbeat();
        if (!flush()) return 0;
        continue;
      }
      ssize_t n = ::read(in_, chunk.data(), chunk.size());
      if (n < 0) {
        if (errno == EINTR || errno == EAGAIN) continue;
        return 0;
      }
      if (n == 0) return 0;  // the parent is gone
      in.append(chunk.data(), static_cast<size_t>(n));
      size_t off = 0;
      try {
        wire::FrameView f;
        while (size_t used = wire::next_frame(in.data() + off, in.size() - off, &f)) {
          off += used;
          if (f.type == wire::MsgType::kShutdown) {
            flush();
            return 0;
          }
          handle(f);
          if (out_.size() > (1u << 18) && !flush()) return 0;
        }
      } catch (const wire::ProtocolError& e) {
        std::fprintf(stderr, "emx_worker %s: protocol error: %s\n", o_.name.c_str(), e.what());
        return 1;
      }
      in.erase(0, off);
      if (!flush()) return 0;
    }
  }

 private:
  void heartbeat() { wire::encode(out_, wire::Heartbeat{++beats_}); }

  bool flush() {
    if (out_.empty()) return true;
    bool ok = write_all(out_fd_, out_);
    out_.clear();
    last_write_ = Clock::now();
    return ok;
  }

  void handle(const wire::FrameView& f) {
    switch (f.type) {
      case wire::MsgType::kKnowledge:
        kb_ = wire::decode_knowledge(f);
        compiled_.clear();
        lru_.clear();
        break;
      case wire::MsgType::kTask: {
        wire::TaskMsg t = wire::decode_task(f);
        tasks_[t.id] = std::move(t);
        break;
      }
      case wire::MsgType::kReward: {
        wire::RewardMsg r = wire::decode_reward(f);
        rewards_[r.id] = r.config;
        break;
      }
      case wire::MsgType::kGroup:
        run_group(wire::decode_group(f));
        break;
      default:
        throw wire::ProtocolError("unexpected frame type " + std::to_string(static_cast<int>(f.type)));
    }
  }

  void fail_all(const wire::GroupMsg& g, const std::string& why) {
    for (const wire::PlanMsg& p : g.plans) {
      wire::ResultMsg m;
      m.job = g.job;
      m.index = p.index;
      m.status = wire::ResultStatus::kError;
      m.error = why;
      wire::encode(out_, m);
    }
  }

  // The compiled task, from the LRU cache or compiled now (seconds spent in *load).
  TaskPtr task(uint32_t id, double* load, std::string* error) {
    auto it = compiled_.find(id);
    if (it != compiled_.end()) {
      lru_.splice(lru_.begin(), lru_, it->second.second);
      return it->second.first;
    }
    auto t = tasks_.find(id);
    if (t == tasks_.end()) {
      *error = "unknown task id " + std::to_string(id);
      return nullptr;
    }
    auto t0 = Clock::now();
    TaskPtr compiled;
    try {
      compiled = compile_task(parse_problem(t->second.bddl, t->second.filename), kb_);
    } catch (const std::exception& e) {
      *error = std::string("task ") + t->second.key + " does not compile: " + e.what();
      return nullptr;
    }
    if (o_.load_us) std::this_thread::sleep_for(std::chrono::microseconds(o_.load_us));
    *load = seconds(Clock::now() - t0);
    lru_.push_front(id);
    compiled_[id] = {compiled, lru_.begin()};
    while (lru_.size() > std::max<uint32_t>(1, o_.task_cache)) {
      compiled_.erase(lru_.back());
      lru_.pop_back();
    }
    return compiled;
  }

  void run_group(const wire::GroupMsg& g) {
    if (g.mode != wire::Mode::kSymbolic) return fail_all(g, "this worker runs symbolic episodes only");
    if (o_.noop || (g.flags & wire::kNoop)) {
      for (const wire::PlanMsg& p : g.plans) {
        wire::ResultMsg m;
        m.job = g.job;
        m.index = p.index;
        m.components.format_ok = p.format_ok;
        wire::encode(out_, m);
      }
      return;
    }
    auto r = rewards_.find(g.reward);
    if (r == rewards_.end()) return fail_all(g, "unknown reward id " + std::to_string(g.reward));
    double load = 0;
    std::string error;
    TaskPtr t = task(g.task, &load, &error);
    if (!t) return fail_all(g, error);
    bool first = true;
    try {
      run_symbolic_group(*t, r->second, g, [&](wire::ResultMsg&& m) {
        if (first) m.load_seconds = load;
        first = false;
        wire::encode(out_, m);
        // Long groups (slow workers): let results and liveness out as they come.
        if (seconds(Clock::now() - last_write_) > 0.005) flush();
      }, o_.slow_us);
    } catch (const std::exception& e) {
      // Only a malformed schedule gets here; the plans already answered stay answered.
      throw wire::ProtocolError(std::string("group ") + std::to_string(g.job) + ": " + e.what());
    }
  }

  int in_;
  int out_fd_;
  WorkerOptions o_;
  std::string out_;
  uint64_t beats_ = 0;
  Clock::time_point last_write_ = Clock::now();
  KnowledgeBase kb_;
  std::unordered_map<uint32_t, wire::TaskMsg> tasks_;
  std::unordered_map<uint32_t, RewardConfig> rewards_;
  std::list<uint32_t> lru_;
  std::unordered_map<uint32_t, std::pair<TaskPtr, std::list<uint32_t>::iterator>> compiled_;
};

}  // namespace

int run_worker(int in_fd, int out_fd, const WorkerOptions& options) {
  Worker w(in_fd, out_fd, options);
  return w.run();
}

}  // namespace emx
