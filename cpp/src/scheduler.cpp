// The rollout scheduler (emx/scheduler.hpp).
//
// One I/O thread owns the worker processes: it starts them (so the parent
// thread their PR_SET_PDEATHSIG watches lives as long as they should), polls
// their sockets, routes jobs, enforces timeouts and heartbeats, and replaces
// the dead. Callers only touch the queue and the result sinks, under one
// mutex the I/O thread releases while it sleeps in poll().
//
// Exactly-once: an episode belongs to exactly one place at a time -- a
// pending job, or a job in a worker's in-flight list -- and is marked done
// when its result is delivered. A dead worker's unfinished jobs go back to the
// queue minus their done episodes; a late duplicate cannot arrive because the
// dead worker's socket is closed before its jobs move.
#include "emx/scheduler.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <functional>
#include <list>
#include <map>
#include <mutex>
#include <thread>
#include <unordered_map>
#include <unordered_set>

#include "emx/rollout_prefix.hpp"
#include "emx/rollout_process_pool.hpp"

namespace emx {

const char* status_name(EpisodeStatus s) {
  switch (s) {
    case EpisodeStatus::kOk: return "ok";
    case EpisodeStatus::kError: return "error";
    case EpisodeStatus::kFailed: return "failed";
    case EpisodeStatus::kTimeout: return "timeout";
    case EpisodeStatus::kCancelled: return "cancelled";
  }
  return "unknown";
}

namespace {

using Clock = std::chrono::steady_clock;
using TimePoint = Clock::time_point;

double secs(Clock::duration d) { return std::chrono::duration<double>(d).count(); }
Clock::duration dur(double s) { return std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(s)); }

uint64_t fnv1a(const std::string& s) {
  uint64_t h = 1469598103934665603ull;
  for (unsigned char c : s) h = (h ^ c) * 1099511628211ull;
  return h ? h : 1;
}

bool same_reward(const RewardConfig& a, const RewardConfig& b) {
  return a.name == b.name && a.format_fail == b.format_fail && a.format == b.format &&
         a.executability == b.executability && a.goal == b.goal && a.success == b.success && a.length == b.length &&
         a.objects == b.objects && a.relevance == b.relevance;
}

struct Sink {
  std::mutex mu;
  std::condition_variable cv;
  std::deque<EpisodeResult> q;
  bool closed = false;
};

struct Episode {
  uint64_t id = 0;
  EpisodeRequest req;
  std::shared_ptr<Sink> sink;
  TimePoint submitted, dispatched;
  int32_t dispatches = 0;
  bool done = false;
};

struct Job {
  uint64_t seq = 0;
  uint32_t task = 0, reward = 0;
  RolloutMode mode = RolloutMode::kSymbolic;
  int32_t priority = 0;
  uint64_t group = 0, seed = 0;
  double timeout_s = 0;
  bool keep_trace = false;
  std::vector<std::unique_ptr<Episode>> episodes;
  int attempts = 0;      // runs cut short by the worker while this job was running
  double actions = 0;    // sum of (plan length + 1): the routing cost
  TimePoint blocked_since{};  // when it first waited for a busy worker that suits it best
};

using PendingKey = std::pair<int64_t, uint64_t>;  // (-priority, seq)

struct Inflight {
  uint64_t wire_id = 0;
  std::unique_ptr<Job> job;
  size_t remaining = 0;
  double expected_s = 0;
};

enum class SlotState { kDown, kStarting, kReady, kStopping, kDisabled };

const char* state_name(SlotState s) {
  switch (s) {
    case SlotState::kDown: return "down";
    case SlotState::kStarting: return "starting";
    case SlotState::kReady: return "ready";
    case SlotState::kStopping: return "stopping";
    case SlotState::kDisabled: return "disabled";
  }
  return "?";
}

struct Slot {
  int32_t id = 0;
  const WorkerSpec* spec = nullptr;
  std::string name;
  SlotState state = SlotState::kDown;
  pid_t pid = 0;
  int fd = -1;
  TimePoint started, last_frame, busy_since, next_restart;
  bool ever_ready = false;   // this process said HELLO
  int32_t restarts = 0;
  int32_t consecutive_failures = 0;
  std::string last_exit;
  // From HELLO (kept across restarts: a replacement runs the same command).
  bool known = false;
  uint32_t caps = 0;
  double speed = 1.0;        // actions/s
  double load_s = 0.0;
  bool speed_measured = false, load_measured = false;
  size_t cache_cap = 1;
  // The worker's task LRU, mirrored: it touches a task when it runs a job,
  // in the order jobs are sent, so the mirror stays exact.
  std::list<uint32_t> lru;
  std::unordered_map<uint32_t, std::list<uint32_t>::iterator> lru_pos;
  std::unordered_set<uint32_t> tasks_sent, rewards_sent;
  std::deque<Inflight> inflight;
  double inflight_s = 0;
  std::string in, out;
  size_t out_off = 0;
  // Statistics.
  uint64_t episodes = 0, jobs = 0;
  double busy_total = 0;
  TimePoint busy_start;
  double ready_total = 0;
  TimePoint ready_start;

  bool cached(uint32_t task) const { return lru_pos.count(task) != 0; }
  void touch(uint32_t task) {
    auto it = lru_pos.find(task);
    if (it != lru_pos.end()) {
      lru.splice(lru.begin(), lru, it->second);
      return;
    }
    lru.push_front(task);
    lru_pos[task] = lru.begin();
    while (lru.size() > std::max<size_t>(1, cache_cap)) {
      lru_pos.erase(lru.back());
      lru.pop_back();
    }
  }
};

uint32_t capability_for(RolloutMode m) {
  return m == RolloutMode::kPhysics ? (wire::kCapCpuPhysics | wire::kCapGpuPhysics) : wire::kCapSymbolic;
}

}  // namespace

struct Scheduler::Impl {
  SchedulerConfig cfg;
  std::vector<WorkerSpec> specs;
  std::string kb_frame;
  const pid_t owner_pid = ::getpid();

  mutable std::mutex mu;
  std::condition_variable space_cv, ready_cv;
  std::thread io;
  std::mutex join_mu;           // shutdown() from two threads joins io once
  int wake_fd[2] = {-1, -1};
  std::atomic<bool> wake_pending{false};
  bool stopping = false;        // shutdown() asked
  double stop_grace_s = -1.0;   // the grace shutdown() asked for (< 0: cfg.shutdown_grace_s)
  bool shutdown_started = false;
  bool finished = false;        // the I/O thread is done
  TimePoint shutdown_deadline;

  ProcessPool pool;
  std::deque<Slot> slots;  // never relocated: a Slot is not copyable

  struct TaskEntry {
    std::string key, bddl, filename, scene;
    uint64_t seed = 0;
  };
  std::vector<TaskEntry> tasks{1};  // id 0 is never valid
  std::unordered_map<std::string, uint32_t> task_ids;
  std::vector<RewardConfig> rewards;

  std::map<PendingKey, std::unique_ptr<Job>> pending;
  size_t pending_episodes = 0, inflight_episodes = 0;
  uint64_t next_seq = 1, next_episode = 1, next_wire = 1;
  std::unordered_map<uint64_t, int32_t> group_owner;
  std::deque<uint64_t> group_order;

  std::shared_ptr<Sink> default_sink = std::make_shared<Sink>();
  std::vector<std::pair<std::shared_ptr<Sink>, EpisodeResult>> outbox;

  TimePoint start_time = Clock::now();
  uint64_t submitted = 0, completed = 0, failed = 0, retried = 0, total_restarts = 0;
  uint64_t simulated_total = 0, plan_total = 0;
  std::deque<std::pair<TimePoint, uint64_t>> rate_samples;
  TimePoint last_reap_check;

  Impl(std::vector<WorkerSpec> w, const KnowledgeBase& kb, SchedulerConfig c) : cfg(c), specs(std::move(w)) {
    wire::encode(kb_frame, kb);
    rewards.push_back(reward_preset("default"));
    int32_t id = 0;
    for (const WorkerSpec& s : specs) {
      if (s.command.empty()) throw std::invalid_argument("worker spec with an empty command");
      for (int k = 0; k < s.count; ++k) {
        Slot& slot = slots.emplace_back();
        slot.id = id++;
        slot.spec = &s;
        slot.name = (s.name.empty() ? std::string("worker") : s.name) + "-" + std::to_string(k);
      }
    }
    if (slots.empty()) throw std::invalid_argument("a scheduler needs at least one worker");
    if (::pipe(wake_fd) != 0) throw std::system_error(errno, std::generic_category(), "pipe");
    for (int fd : wake_fd) {
      ::fcntl(fd, F_SETFD, FD_CLOEXEC);
      ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK);
    }
    io = std::thread([this] { run(); });
  }

  ~Impl() {
    for (int fd : wake_fd)
      if (fd >= 0) ::close(fd);
  }

  void wake() {
    if (!wake_pending.exchange(true)) {
      char c = 1;
      ssize_t n = ::write(wake_fd[1], &c, 1);
      (void)n;
    }
  }

  // ------------------------------------------------------------ results

  void deliver(Episode& ep, EpisodeResult&& r) {
    ep.done = true;
    ++completed;
    if (r.status != EpisodeStatus::kOk) ++failed;
    outbox.emplace_back(ep.sink, std::move(r));
  }

  void flush_outbox() {
    if (outbox.empty()) return;
    // Grouped per sink: one lock and one wake-up per sink per round.
    std::stable_sort(outbox.begin(), outbox.end(),
                     [](const auto& a, const auto& b) { return a.first.get() < b.first.get(); });
    size_t i = 0;
    while (i < outbox.size()) {
      Sink* s = outbox[i].first.get();
      {
        std::lock_guard<std::mutex> lk(s->mu);
        for (; i < outbox.size() && outbox[i].first.get() == s; ++i) s->q.push_back(std::move(outbox[i].second));
      }
      s->cv.notify_all();
    }
    outbox.clear();
  }

  EpisodeResult bare_result(const Episode& ep, EpisodeStatus status, const std::string& error, TimePoint now) {
    EpisodeResult r;
    r.id = ep.id;
    r.tag = ep.req.tag;
    r.group = ep.req.group;
    r.task = ep.req.task;
    r.status = status;
    r.error = error;
    r.attempts = ep.dispatches;
    r.total_seconds = secs(now - ep.submitted);
    r.components.format_ok = ep.req.format_ok;
    r.components.plan_length = static_cast<int32_t>(ep.req.plan.size());
    return r;
  }

  void fail_job(Job& job, EpisodeStatus status, const std::string& error, TimePoint now) {
    for (auto& ep : job.episodes)
      if (!ep->done) deliver(*ep, bare_result(*ep, status, error, now));
  }

  // ------------------------------------------------------------ workers

  void start(Slot& s, TimePoint now) {
    s.in.clear();
    s.out.clear();
    s.out_off = 0;
    s.lru.clear();
    s.lru_pos.clear();
    s.tasks_sent.clear();
    s.rewards_sent.clear();
    s.ever_ready = false;
    try {
      SpawnedProcess p = pool.spawn(s.spec->command, s.spec->env);
      s.pid = p.pid;
      s.fd = p.fd;
      s.state = SlotState::kStarting;
      s.started = s.last_frame = now;
    } catch (const std::exception& e) {
      // The command cannot be started at all (no such program): retrying will not help.
      s.last_exit = e.what();
      s.state = SlotState::kDisabled;
      fail_unrunnable(now);
      ready_cv.notify_all();
    }
  }

  void schedule_restart(Slot& s, TimePoint now, bool failed_start) {
    if (stopping) {
      s.state = SlotState::kDisabled;
      return;
    }
    if (failed_start) ++s.consecutive_failures;
    if (s.restarts >= cfg.max_restarts || s.consecutive_failures > 4) {
      s.state = SlotState::kDisabled;
      fail_unrunnable(now);
      return;
    }
    double backoff = s.consecutive_failures == 0 ? 0.0 : std::min(5.0, 0.05 * std::pow(2.0, s.consecutive_failures - 1));
    s.next_restart = now + dur(backoff);
  }

  std::string end_process(Slot& s) {
    if (s.fd >= 0) ::close(s.fd);
    s.fd = -1;
    std::string how;
    if (s.pid > 0) {
      int st = 0;
      bool exited = false;
      // A process whose socket hit EOF is exiting; give it a moment to be reapable.
      for (int i = 0; i < 20 && !(exited = pool.reap(s.pid, &st)); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(1));
      if (exited) {
        how = describe_exit(st);
      } else {
        pool.kill(s.pid);
        how = "killed";
      }
    }
    s.pid = 0;
    return how;
  }

  /// A worker is gone (exit, kill, hang, protocol error): end its process,
  /// put its unanswered episodes back in the queue and plan its replacement.
  void worker_died(Slot& s, const std::string& reason, bool timed_out, TimePoint now) {
    const bool was_ready = s.ever_ready;
    std::string how = end_process(s);
    s.last_exit = reason + (how.empty() ? "" : " (" + how + ")");
    if (s.state == SlotState::kReady) {
      stop_busy(s, now);
      stop_ready(s, now);
    }
    s.state = SlotState::kDown;
    bool head = true;
    for (Inflight& f : s.inflight) {
      std::unique_ptr<Job> job = std::move(f.job);
      job->episodes.erase(std::remove_if(job->episodes.begin(), job->episodes.end(),
                                         [](const std::unique_ptr<Episode>& e) { return e->done; }),
                          job->episodes.end());
      if (job->episodes.empty()) continue;
      const size_t n = job->episodes.size();
      inflight_episodes -= n;
      if (stopping) {
        fail_job(*job, EpisodeStatus::kCancelled, "the scheduler shut down", now);
        continue;
      }
      if (head) ++job->attempts;
      const bool charged = head;
      head = false;
      if (charged && job->attempts >= cfg.max_attempts) {
        fail_job(*job, timed_out ? EpisodeStatus::kTimeout : EpisodeStatus::kFailed,
                 "worker " + s.name + ": " + s.last_exit + "; gave up after " + std::to_string(job->attempts) +
                     " attempts",
                 now);
        continue;
      }
      retried += n;
      pending_episodes += n;
      PendingKey key{-static_cast<int64_t>(job->priority), job->seq};
      pending.emplace(key, std::move(job));
    }
    s.inflight.clear();
    s.inflight_s = 0;
    if (stopping) {
      s.state = SlotState::kDisabled;
      return;
    }
    ++s.restarts;
    ++total_restarts;
    schedule_restart(s, now, !was_ready);
    ready_cv.notify_all();
  }

  void stop_busy(Slot& s, TimePoint now) {
    if (!s.inflight.empty()) s.busy_total += secs(now - s.busy_start);
  }
  void stop_ready(Slot& s, TimePoint now) { s.ready_total += secs(now - s.ready_start); }

  /// Jobs no worker could ever run fail now instead of waiting forever.
  void fail_unrunnable(TimePoint now) {
    for (auto it = pending.begin(); it != pending.end();) {
      if (runnable(it->second->mode)) {
        ++it;
        continue;
      }
      Job& job = *it->second;
      pending_episodes -= job.episodes.size();
      fail_job(job, EpisodeStatus::kError, no_worker_message(job.mode), now);
      it = pending.erase(it);
    }
    space_cv.notify_all();
  }

  std::string no_worker_message(RolloutMode m) {
    std::string why = std::string("no worker can run ") + (m == RolloutMode::kPhysics ? "physics" : "symbolic") +
                      " episodes";
    for (const Slot& s : slots)
      if (s.state == SlotState::kDisabled && !s.last_exit.empty()) {
        why += " (" + s.name + " stopped: " + s.last_exit + ")";
        break;
      }
    return why;
  }

  bool runnable(RolloutMode m) const {
    const uint32_t need = capability_for(m);
    for (const Slot& s : slots)
      if (s.state != SlotState::kDisabled && (!s.known || (s.caps & need))) return true;
    return false;
  }

  // ------------------------------------------------------------ I/O

  void send_frames(Slot& s) {
    while (s.fd >= 0 && s.out_off < s.out.size()) {
      ssize_t n = ::send(s.fd, s.out.data() + s.out_off, s.out.size() - s.out_off, MSG_NOSIGNAL);
      if (n > 0) {
        s.out_off += static_cast<size_t>(n);
        continue;
      }
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
      // EPIPE/ECONNRESET: the reader will see EOF and report the death.
      break;
    }
    if (s.out_off == s.out.size()) {
      s.out.clear();
      s.out_off = 0;
    } else if (s.out_off > (1u << 20)) {
      s.out.erase(0, s.out_off);
      s.out_off = 0;
    }
  }

  void receive(Slot& s, TimePoint now) {
    char buf[1 << 16];
    bool eof = false;
    std::string io_error;
    for (;;) {
      ssize_t n = ::recv(s.fd, buf, sizeof buf, 0);
      if (n > 0) {
        s.in.append(buf, static_cast<size_t>(n));
        s.last_frame = now;
        continue;
      }
      if (n == 0) {
        eof = true;
        break;
      }
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) break;
      eof = true;
      io_error = std::strerror(errno);
      break;
    }
    size_t off = 0;
    try {
      wire::FrameView f;
      while (s.fd >= 0) {
        size_t used = wire::next_frame(s.in.data() + off, s.in.size() - off, &f);
        if (!used) break;
        off += used;
        on_frame(s, f, now);
      }
    } catch (const wire::ProtocolError& e) {
      s.in.clear();
      worker_died(s, std::string("protocol error: ") + e.what(), false, now);
      return;
    }
    if (s.fd < 0) return;
    s.in.erase(0, off);
    if (eof) worker_died(s, io_error.empty() ? "worker exited" : "socket error: " + io_error, false, now);
  }

  void on_frame(Slot& s, const wire::FrameView& f, TimePoint now) {
    switch (f.type) {
      case wire::MsgType::kHello: {
        wire::Hello h = wire::decode_hello(f);
        if (h.version != wire::kProtocolVersion)
          throw wire::ProtocolError("worker speaks protocol " + std::to_string(h.version) + ", expected " +
                                    std::to_string(wire::kProtocolVersion));
        if (s.state != SlotState::kStarting) throw wire::ProtocolError("HELLO twice");
        s.known = true;
        s.caps = h.capabilities;
        s.speed = h.speed > 0 && std::isfinite(h.speed) ? h.speed : 1.0;
        s.load_s = h.load_seconds >= 0 && std::isfinite(h.load_seconds) ? h.load_seconds : 0.0;
        s.cache_cap = std::max<uint32_t>(1, h.scene_cache);
        // Workers started from one spec run the same program: one estimate for
        // all of them (a start-up guess varies with whatever else the machine is
        // doing; the first measurement of any of them is better than the guess).
        for (const Slot& o : slots) {
          if (&o == &s || o.spec != s.spec || !o.known) continue;
          if (!s.speed_measured) s.speed = o.speed;
          if (!s.load_measured) s.load_s = o.load_s;
          break;
        }
        if (!h.name.empty()) s.name = h.name + "-" + std::to_string(s.id);
        s.state = SlotState::kReady;
        s.ever_ready = true;
        s.consecutive_failures = 0;
        s.ready_start = now;
        s.out.append(kb_frame);
        ready_cv.notify_all();
        break;
      }
      case wire::MsgType::kResult:
        on_result(s, wire::decode_result(f), now);
        break;
      case wire::MsgType::kHeartbeat:
        wire::decode_heartbeat(f);
        break;
      default:
        throw wire::ProtocolError("unexpected frame type " + std::to_string(static_cast<int>(f.type)));
    }
  }

  void on_result(Slot& s, wire::ResultMsg&& m, TimePoint now) {
    auto it = std::find_if(s.inflight.begin(), s.inflight.end(), [&](const Inflight& f) { return f.wire_id == m.job; });
    if (it == s.inflight.end()) throw wire::ProtocolError("result for unknown job " + std::to_string(m.job));
    Job& job = *it->job;
    if (m.index >= job.episodes.size()) throw wire::ProtocolError("result index out of range");
    Episode& ep = *job.episodes[m.index];
    if (ep.done) throw wire::ProtocolError("second result for one episode");
    EpisodeResult r = bare_result(ep, m.status == wire::ResultStatus::kOk ? EpisodeStatus::kOk : EpisodeStatus::kError,
                                  m.error, now);
    if (m.status == wire::ResultStatus::kOk) {
      r.reward = m.reward;
      r.components = m.components;
      r.executed = m.executed;
      r.completed = m.completed;
      r.first_error = m.first_error;
      r.steps = std::move(m.steps);
      r.condition_truth = std::move(m.condition_truth);
      r.atom_truth = std::move(m.atom_truth);
      int32_t failing = (!m.completed && m.executed < m.components.plan_length) ? 1 : 0;
      r.plan_actions = static_cast<uint32_t>(m.executed + failing);
    }
    r.worker = s.id;
    r.worker_name = s.name;
    r.worker_pid = static_cast<int32_t>(s.pid);
    r.queue_seconds = secs(ep.dispatched - ep.submitted);
    r.run_seconds = m.run_seconds;
    r.load_seconds = m.load_seconds;
    r.simulated_actions = m.simulated_actions;
    simulated_total += r.simulated_actions;
    plan_total += r.plan_actions;
    // Measured speed: actions per second of the worker's own time.
    // The first measurement replaces the worker's own guess from HELLO.
    if (m.simulated_actions >= 3 && m.run_seconds > 0) {
      double rate = m.simulated_actions / m.run_seconds;
      s.speed = s.speed_measured ? 0.8 * s.speed + 0.2 * rate : rate;
      s.speed_measured = true;
      for (Slot& o : slots)
        if (o.spec == s.spec && !o.speed_measured) o.speed = s.speed;
    }
    if (m.load_seconds > 0) {
      s.load_s = s.load_measured ? 0.7 * s.load_s + 0.3 * m.load_seconds : m.load_seconds;
      s.load_measured = true;
      for (Slot& o : slots)
        if (o.spec == s.spec && !o.load_measured) o.load_s = s.load_s;
    }
    deliver(ep, std::move(r));
    ++s.episodes;
    --inflight_episodes;
    s.busy_since = now;  // the next episode starts now
    if (--it->remaining == 0) {
      s.inflight_s = std::max(0.0, s.inflight_s - it->expected_s);
      s.inflight.erase(it);
      ++s.jobs;
      if (s.inflight.empty()) {
        s.busy_total += secs(now - s.busy_start);
        s.inflight_s = 0;
      }
    }
  }

  // ------------------------------------------------------------ routing

  /// Expected seconds of work a worker has in hand: what was sent, less what
  /// the running job has had time for.
  double backlog(const Slot& s, TimePoint now) const {
    if (s.inflight.empty()) return 0.0;
    double done = std::min(secs(now - s.busy_since), s.inflight.front().expected_s);
    return std::max(0.0, s.inflight_s - done);
  }

  /// Room for another job: less than window_s of expected work left (a job
  /// running past its estimate counts as nearly done, so a worker that has a
  /// task's scene loaded is not passed over only because its estimate was low).
  bool has_window(const Slot& s, TimePoint now) const {
    if (s.inflight.empty()) return true;
    return static_cast<int>(s.inflight.size()) < cfg.max_inflight_jobs && backlog(s, now) < cfg.window_s;
  }

  Slot* choose(Job& job, TimePoint now) {
    const uint32_t need = capability_for(job.mode);
    if (job.group) {
      auto it = group_owner.find(job.group);
      if (it != group_owner.end()) {
        Slot& owner = slots[it->second];
        if (owner.state == SlotState::kReady && (owner.caps & need)) return has_window(owner, now) ? &owner : nullptr;
      }
    }
    // The earliest expected finish over all capable workers (a worker that
    // has the task's scene loaded saves its load time).
    Slot* best = nullptr;
    Slot* best_open = nullptr;
    double best_eta = 0, best_open_eta = 0;
    for (Slot& s : slots) {
      if (s.state != SlotState::kReady || !(s.caps & need)) continue;
      double eta = backlog(s, now) + job.actions / s.speed + (s.cached(job.task) ? 0.0 : s.load_s);
      if (!best || eta < best_eta) {
        best = &s;
        best_eta = eta;
      }
      if (has_window(s, now) && (!best_open || eta < best_open_eta)) {
        best_open = &s;
        best_open_eta = eta;
      }
    }
    if (!best_open) return nullptr;
    if (best_open == best || best_open_eta <= best_eta) return best_open;
    // The best worker is full. It has room again within about a window (that
    // is all it was sent); meanwhile jobs behind this one go elsewhere. Wait
    // that long, or what loading the scene elsewhere costs, before sending the
    // job where it is expected to finish later.
    if (job.blocked_since == TimePoint{}) job.blocked_since = now;
    double patience = std::min(1.0, std::max(cfg.window_s, best_open->load_s));
    return secs(now - job.blocked_since) >= patience ? best_open : nullptr;
  }

  void dispatch(TimePoint now) {
    if (pending.empty()) return;
    bool any = false;
    int skipped = 0;
    for (auto it = pending.begin(); it != pending.end();) {
      Job& job = *it->second;
      if (Slot* s = choose(job, now)) {
        std::unique_ptr<Job> j = std::move(it->second);
        it = pending.erase(it);
        send_job(*s, std::move(j), now);
        any = true;
        continue;
      }
      if (!runnable(job.mode)) {
        pending_episodes -= job.episodes.size();
        fail_job(job, EpisodeStatus::kError, no_worker_message(job.mode), now);
        it = pending.erase(it);
        any = true;
        continue;
      }
      bool room = false;
      for (const Slot& s : slots) room = room || (s.state == SlotState::kReady && has_window(s, now));
      if (!room || ++skipped >= 64) break;
      ++it;
    }
    if (any) space_cv.notify_all();
  }

  void send_job(Slot& s, std::unique_ptr<Job> job, TimePoint now) {
    const uint64_t wire_id = next_wire++;
    if (!s.tasks_sent.count(job->task)) {
      const TaskEntry& t = tasks[job->task];
      wire::encode(s.out, wire::TaskMsg{job->task, t.key, t.filename, t.bddl, t.scene});
      s.tasks_sent.insert(job->task);
    }
    if (!s.rewards_sent.count(job->reward)) {
      wire::encode(s.out, wire::RewardMsg{job->reward, rewards[job->reward]});
      s.rewards_sent.insert(job->reward);
    }
    const bool cached = s.cached(job->task);
    const size_t n = job->episodes.size();
    std::vector<PrefixStep> schedule;
    if (n > 1) {
      std::vector<const std::vector<Action>*> plans;
      plans.reserve(n);
      for (const auto& ep : job->episodes) plans.push_back(&ep->req.plan);
      schedule = prefix_schedule(plans, cfg.prefix_sharing && cfg.snapshot_reuse);
    } else {
      schedule.resize(1);
    }
    uint8_t flags = 0;
    if (job->keep_trace) flags |= wire::kKeepTrace;
    if (!cfg.snapshot_reuse) flags |= wire::kNoSnapshotReuse;
    wire::Writer w(s.out);
    size_t frame = w.begin_frame(wire::MsgType::kGroup);
    w.u64(wire_id);
    w.u32(job->task);
    w.u32(job->reward);
    w.u8(static_cast<uint8_t>(job->mode));
    w.u8(flags);
    w.u64(job->seed);
    w.u32(static_cast<uint32_t>(n));
    for (const PrefixStep& step : schedule) {
      const Episode& ep = *job->episodes[step.plan];
      w.u32(step.plan);
      w.u8(ep.req.format_ok ? 1 : 0);
      w.u32(step.resume_depth);
      w.u32(static_cast<uint32_t>(step.save_depths.size()));
      for (uint32_t d : step.save_depths) w.u32(d);
      const auto& plan = ep.req.plan;
      w.u32(static_cast<uint32_t>(plan.size() - step.resume_depth));
      for (size_t i = step.resume_depth; i < plan.size(); ++i) wire::encode_action(w, plan[i]);
    }
    w.end_frame(frame);
    s.touch(job->task);
    for (auto& ep : job->episodes) {
      ep->dispatched = now;
      ++ep->dispatches;
    }
    pending_episodes -= n;
    inflight_episodes += n;
    const double expected = job->actions / s.speed + (cached ? 0.0 : s.load_s);
    if (s.inflight.empty()) {
      s.busy_since = now;
      s.busy_start = now;
    }
    if (job->group) {
      if (group_owner.emplace(job->group, s.id).second) {
        group_order.push_back(job->group);
        while (group_order.size() > (1u << 16)) {
          group_owner.erase(group_order.front());
          group_order.pop_front();
        }
      } else {
        group_owner[job->group] = s.id;
      }
    }
    Inflight f;
    f.wire_id = wire_id;
    f.job = std::move(job);
    f.remaining = n;
    f.expected_s = expected;
    s.inflight.push_back(std::move(f));
    s.inflight_s += expected;
  }

  // ------------------------------------------------------------ timers

  void tick(TimePoint now) {
    const bool reap_check = secs(now - last_reap_check) > 0.1;
    if (reap_check) last_reap_check = now;
    for (Slot& s : slots) {
      switch (s.state) {
        case SlotState::kDown:
          if (!stopping && now >= s.next_restart) start(s, now);
          break;
        case SlotState::kStarting:
          if (secs(now - s.started) > cfg.startup_timeout_s)
            worker_died(s, "no HELLO within " + std::to_string(cfg.startup_timeout_s) + " s", true, now);
          break;
        case SlotState::kReady: {
          if (secs(now - s.last_frame) > cfg.heartbeat_timeout_s) {
            worker_died(s, "no heartbeat for " + std::to_string(cfg.heartbeat_timeout_s) + " s (hung)", true, now);
            break;
          }
          if (!s.inflight.empty()) {
            const Job& head = *s.inflight.front().job;
            if (secs(now - s.busy_since) > head.timeout_s) {
              worker_died(s, "episode timeout (" + std::to_string(head.timeout_s) + " s)", true, now);
              break;
            }
          }
          break;
        }
        default:
          break;
      }
      if (reap_check && s.pid > 0 && s.fd >= 0 && (s.state == SlotState::kReady || s.state == SlotState::kStarting)) {
        int st = 0;
        if (pool.reap(s.pid, &st)) {
          s.pid = 0;
          worker_died(s, "worker exited (" + describe_exit(st) + ")", false, now);
        }
      }
    }
    if (rate_samples.empty() || secs(now - rate_samples.back().first) > 0.25) {
      rate_samples.emplace_back(now, completed);
      while (rate_samples.size() > 2 && secs(now - rate_samples.front().first) > 5.0) rate_samples.pop_front();
    }
  }

  void begin_shutdown(TimePoint now) {
    shutdown_started = true;
    shutdown_deadline = now + dur(stop_grace_s >= 0 ? stop_grace_s : cfg.shutdown_grace_s);
    for (auto& [key, job] : pending) fail_job(*job, EpisodeStatus::kCancelled, "the scheduler shut down", now);
    pending.clear();
    pending_episodes = 0;
    for (Slot& s : slots) {
      if (s.fd >= 0) {
        wire::encode_shutdown(s.out);
        if (s.state == SlotState::kReady) {
          stop_ready(s, now);
          stop_busy(s, now);
        }
        s.state = SlotState::kStopping;
      } else {
        s.state = SlotState::kDisabled;
      }
    }
    space_cv.notify_all();
    ready_cv.notify_all();
  }

  void run() {
    std::unique_lock<std::mutex> lk(mu);
    TimePoint now = Clock::now();
    for (Slot& s : slots) start(s, now);
    std::vector<pollfd> fds;
    std::vector<int32_t> owner;
    for (;;) {
      now = Clock::now();
      if (stopping && !shutdown_started) begin_shutdown(now);
      if (shutdown_started) {
        // A later shutdown(0) (Ctrl-C while a graceful stop waits) cuts the grace short.
        if (stop_grace_s >= 0 && now + dur(stop_grace_s) < shutdown_deadline) shutdown_deadline = now + dur(stop_grace_s);
        bool open = false;
        for (const Slot& s : slots) open = open || s.fd >= 0;
        if (!open || now >= shutdown_deadline) break;
      } else {
        tick(now);
        dispatch(now);
      }
      flush_outbox();
      fds.clear();
      owner.clear();
      fds.push_back({wake_fd[0], POLLIN, 0});
      owner.push_back(-1);
      for (Slot& s : slots) {
        if (s.fd < 0) continue;
        send_frames(s);
        short ev = POLLIN;
        if (s.out_off < s.out.size()) ev |= POLLOUT;
        fds.push_back({s.fd, ev, 0});
        owner.push_back(s.id);
      }
      lk.unlock();
      int rc = ::poll(fds.data(), fds.size(), 20);
      lk.lock();
      now = Clock::now();
      if (rc < 0) continue;
      if (fds[0].revents) {
        char buf[256];
        while (::read(wake_fd[0], buf, sizeof buf) > 0) {
        }
        wake_pending.store(false);
      }
      for (size_t i = 1; i < fds.size(); ++i) {
        Slot& s = slots[owner[i]];
        if (s.fd != fds[i].fd || !fds[i].revents) continue;
        if (fds[i].revents & POLLOUT) send_frames(s);
        if (fds[i].revents & (POLLIN | POLLHUP | POLLERR)) receive(s, now);
      }
    }
    // Whatever is still running is cut off.
    now = Clock::now();
    for (Slot& s : slots) {
      if (s.fd >= 0) worker_died(s, "stopped at shutdown", false, now);
      s.state = SlotState::kDisabled;
    }
    pool.kill_all();
    flush_outbox();
    finished = true;
    lk.unlock();
    {
      std::lock_guard<std::mutex> g(default_sink->mu);
      default_sink->closed = true;
    }
    default_sink->cv.notify_all();
    space_cv.notify_all();
    ready_cv.notify_all();
  }

  // ------------------------------------------------------------ submission

  std::vector<std::unique_ptr<Job>> make_jobs(std::vector<EpisodeRequest>& batch, std::vector<size_t>& positions,
                                              const std::shared_ptr<Sink>& sink, TimePoint now) {
    std::vector<std::unique_ptr<Job>> jobs;
    std::map<std::tuple<uint64_t, uint32_t, uint8_t, uint32_t, bool>, size_t> groups;
    std::vector<std::vector<size_t>> members;
    for (size_t i = 0; i < batch.size(); ++i) {
      EpisodeRequest& r = batch[i];
      if (r.task == 0 || r.task >= tasks.size()) throw std::invalid_argument("unknown task id " + std::to_string(r.task));
      if (r.reward >= rewards.size()) throw std::invalid_argument("unknown reward id " + std::to_string(r.reward));
      if (!r.format_ok) r.plan.clear();
      if (r.seed == 0) r.seed = tasks[r.task].seed;
      if (r.timeout_s <= 0) r.timeout_s = cfg.episode_timeout_s;
      size_t j;
      auto key = std::make_tuple(r.group, r.task, static_cast<uint8_t>(r.mode), r.reward, r.keep_trace);
      auto g = r.group ? groups.find(key) : groups.end();
      if (g != groups.end()) {
        j = g->second;
      } else {
        j = jobs.size();
        auto job = std::make_unique<Job>();
        job->task = r.task;
        job->reward = r.reward;
        job->mode = r.mode;
        job->priority = r.priority;
        job->group = r.group;
        job->seed = r.seed;
        job->keep_trace = r.keep_trace;
        jobs.push_back(std::move(job));
        members.emplace_back();
        if (r.group) groups.emplace(key, j);
      }
      Job& job = *jobs[j];
      job.timeout_s = std::max(job.timeout_s, r.timeout_s);
      job.priority = std::max(job.priority, r.priority);
      job.actions += static_cast<double>(r.plan.size()) + 1.0;
      auto ep = std::make_unique<Episode>();
      ep->req = std::move(r);
      ep->sink = sink;
      ep->submitted = now;
      job.episodes.push_back(std::move(ep));
      members[j].push_back(i);
    }
    positions.clear();
    for (auto& m : members) positions.insert(positions.end(), m.begin(), m.end());
    return jobs;
  }

  std::vector<uint64_t> submit(std::vector<EpisodeRequest> batch, double timeout_s, bool all_or_nothing,
                               const std::shared_ptr<Sink>& sink) {
    std::vector<uint64_t> ids(batch.size(), 0);
    std::unique_lock<std::mutex> lk(mu);
    if (stopping) throw std::runtime_error("the scheduler is shut down");
    TimePoint now = Clock::now();
    std::vector<size_t> positions;
    std::vector<std::unique_ptr<Job>> jobs = make_jobs(batch, positions, sink, now);
    if (all_or_nothing && pending_episodes > 0 && pending_episodes + batch.size() > cfg.queue_capacity)
      throw QueueFull("the rollout queue is full (" + std::to_string(pending_episodes) + " of " +
                      std::to_string(cfg.queue_capacity) + " episodes waiting)");
    const bool forever = timeout_s < 0;
    const TimePoint deadline = forever ? TimePoint::max() : now + dur(timeout_s);
    size_t pos = 0;
    bool added = false;
    for (auto& job : jobs) {
      const size_t n = job->episodes.size();
      // A job larger than the whole queue is let in when the queue is empty.
      auto fits = [&] { return stopping || pending_episodes == 0 || pending_episodes + n <= cfg.queue_capacity; };
      if (!fits()) {
        if (added) wake();
        added = false;
        if (forever) space_cv.wait(lk, fits);
        else if (!space_cv.wait_until(lk, deadline, fits)) break;
        if (stopping) throw std::runtime_error("the scheduler shut down while submitting");
      }
      job->seq = next_seq++;
      for (auto& ep : job->episodes) {
        ep->id = next_episode++;
        ids[positions[pos++]] = ep->id;
      }
      submitted += n;
      pending_episodes += n;
      PendingKey key{-static_cast<int64_t>(job->priority), job->seq};
      pending.emplace(key, std::move(job));
      added = true;
    }
    lk.unlock();
    if (added) wake();
    return ids;
  }
};

// ---------------------------------------------------------------- public API

Scheduler::Scheduler(std::vector<WorkerSpec> workers, KnowledgeBase kb, SchedulerConfig config)
    : impl_(std::make_unique<Impl>(std::move(workers), kb, config)) {}

Scheduler::~Scheduler() {
  if (impl_ && impl_->owner_pid != ::getpid()) {
    // A forked copy of the process that owns the scheduler: its I/O thread and
    // workers belong to the parent. Touch nothing (joining a thread that does
    // not exist here would hang or abort); the memory goes with the process.
    (void)impl_.release();
    return;
  }
  shutdown();
}

uint32_t Scheduler::add_task(const std::string& key, const std::string& bddl, const std::string& filename,
                             const std::string& scene) {
  std::lock_guard<std::mutex> lk(impl_->mu);
  auto it = impl_->task_ids.find(key);
  if (it != impl_->task_ids.end()) {
    const auto& t = impl_->tasks[it->second];
    if (t.bddl != bddl || t.scene != scene || t.filename != filename)
      throw std::invalid_argument("task key '" + key + "' is already registered with other content");
    return it->second;
  }
  uint32_t id = static_cast<uint32_t>(impl_->tasks.size());
  impl_->tasks.push_back({key, bddl, filename, scene, fnv1a(key)});
  impl_->task_ids.emplace(key, id);
  return id;
}

uint32_t Scheduler::add_reward(const RewardConfig& reward) {
  std::lock_guard<std::mutex> lk(impl_->mu);
  for (size_t i = 0; i < impl_->rewards.size(); ++i)
    if (same_reward(impl_->rewards[i], reward)) return static_cast<uint32_t>(i);
  impl_->rewards.push_back(reward);
  return static_cast<uint32_t>(impl_->rewards.size() - 1);
}

std::vector<uint64_t> Scheduler::submit(std::vector<EpisodeRequest> batch, double timeout_s) {
  return impl_->submit(std::move(batch), timeout_s, false, impl_->default_sink);
}

std::vector<uint64_t> Scheduler::try_submit(std::vector<EpisodeRequest> batch) {
  return impl_->submit(std::move(batch), 0.0, true, impl_->default_sink);
}

namespace {

std::vector<EpisodeResult> take(Sink& sink, size_t max_results) {
  std::vector<EpisodeResult> out;
  size_t n = std::min(max_results, sink.q.size());
  out.reserve(n);
  for (size_t i = 0; i < n; ++i) {
    out.push_back(std::move(sink.q.front()));
    sink.q.pop_front();
  }
  return out;
}

}  // namespace

std::vector<EpisodeResult> Scheduler::poll(size_t max_results, double timeout_s) {
  Sink& sink = *impl_->default_sink;
  std::unique_lock<std::mutex> lk(sink.mu);
  auto ready = [&] { return !sink.q.empty() || sink.closed; };
  if (timeout_s < 0) sink.cv.wait(lk, ready);
  else sink.cv.wait_for(lk, dur(timeout_s), ready);
  return take(sink, std::max<size_t>(1, max_results));
}

std::vector<EpisodeResult> Scheduler::evaluate(std::vector<EpisodeRequest> batch,
                                               const std::function<bool()>& keep_waiting) {
  const size_t n = batch.size();
  auto sink = std::make_shared<Sink>();
  std::vector<uint64_t> ids = impl_->submit(std::move(batch), -1.0, false, sink);
  std::unordered_map<uint64_t, size_t> where;
  where.reserve(n);
  for (size_t i = 0; i < n; ++i) where[ids[i]] = i;
  std::vector<EpisodeResult> out(n);
  size_t got = 0;
  std::unique_lock<std::mutex> lk(sink->mu);
  // keep_waiting runs every 0.1 s by the clock, not only when no result came
  // for 0.1 s: a stream of short episodes would otherwise never let it run.
  const auto period = std::chrono::milliseconds(100);
  auto next_check = std::chrono::steady_clock::now() + period;
  while (got < n) {
    if (keep_waiting) {
      sink->cv.wait_until(lk, next_check, [&] { return !sink->q.empty(); });
      if (std::chrono::steady_clock::now() >= next_check) {
        lk.unlock();
        bool go_on = keep_waiting();
        lk.lock();
        if (!go_on) throw std::runtime_error("interrupted");
        next_check = std::chrono::steady_clock::now() + period;
      }
    } else {
      sink->cv.wait(lk, [&] { return !sink->q.empty(); });
    }
    while (!sink->q.empty()) {
      EpisodeResult r = std::move(sink->q.front());
      sink->q.pop_front();
      out[where.at(r.id)] = std::move(r);
      ++got;
    }
  }
  return out;
}

size_t Scheduler::wait_ready(double timeout_s) {
  std::unique_lock<std::mutex> lk(impl_->mu);
  auto count = [&] {
    size_t ready = 0;
    for (const Slot& s : impl_->slots) ready += s.state == SlotState::kReady;
    return ready;
  };
  auto all = [&] {
    if (impl_->finished || impl_->stopping) return true;
    for (const Slot& s : impl_->slots)
      if (s.state != SlotState::kReady && s.state != SlotState::kDisabled) return false;
    return true;
  };
  impl_->ready_cv.wait_for(lk, dur(std::max(0.0, timeout_s)), all);
  return count();
}

SchedulerStats Scheduler::stats() const {
  std::lock_guard<std::mutex> lk(impl_->mu);
  const Impl& m = *impl_;
  TimePoint now = Clock::now();
  SchedulerStats st;
  st.queue_depth = m.pending_episodes;
  st.inflight = m.inflight_episodes;
  st.submitted = m.submitted;
  st.completed = m.completed;
  st.failed = m.failed;
  st.retried = m.retried;
  st.restarts = m.total_restarts;
  st.uptime_s = secs(now - m.start_time);
  st.simulated_actions = m.simulated_total;
  st.plan_actions = m.plan_total;
  if (m.rate_samples.size() >= 2 || (!m.rate_samples.empty() && secs(now - m.rate_samples.front().first) > 0)) {
    const auto& first = m.rate_samples.front();
    double dt = secs(now - first.first);
    if (dt > 0) st.episodes_per_s = (m.completed - first.second) / dt;
  }
  for (const Slot& s : m.slots) {
    WorkerStats w;
    w.id = s.id;
    w.name = s.name;
    w.pid = static_cast<int32_t>(s.pid);
    w.state = state_name(s.state);
    w.capabilities = s.caps;
    w.speed = s.speed;
    double ready = s.ready_total + (s.state == SlotState::kReady ? secs(now - s.ready_start) : 0.0);
    double busy = s.busy_total + (s.state == SlotState::kReady && !s.inflight.empty() ? secs(now - s.busy_start) : 0.0);
    w.utilisation = ready > 0 ? std::min(1.0, busy / ready) : 0.0;
    w.episodes = s.episodes;
    w.jobs = s.jobs;
    w.restarts = s.restarts;
    w.inflight = s.inflight.size();
    w.last_exit = s.last_exit;
    st.workers.push_back(std::move(w));
  }
  return st;
}

const SchedulerConfig& Scheduler::config() const { return impl_->cfg; }

int32_t Scheduler::signal_worker(int32_t worker, int sig) {
  std::lock_guard<std::mutex> lk(impl_->mu);
  if (worker < 0 || static_cast<size_t>(worker) >= impl_->slots.size()) throw std::out_of_range("no such worker");
  Slot& s = impl_->slots[worker];
  if (s.pid <= 0) return 0;
  impl_->pool.signal(s.pid, sig);
  return static_cast<int32_t>(s.pid);
}

void Scheduler::shutdown(double grace_s, const std::function<bool()>& keep_waiting) {
  if (!impl_ || impl_->owner_pid != ::getpid()) return;
  Impl& m = *impl_;
  auto ask = [&m](double grace) {
    std::lock_guard<std::mutex> lk(m.mu);
    m.stopping = true;
    if (grace >= 0 && (m.stop_grace_s < 0 || grace < m.stop_grace_s)) m.stop_grace_s = grace;
  };
  ask(grace_s);
  m.space_cv.notify_all();
  m.wake();
  if (keep_waiting) {
    // Wait in short slices so the caller can cut the grace short (Ctrl-C).
    bool asked_stop = false;
    std::unique_lock<std::mutex> lk(m.mu);
    while (!m.finished) {
      if (m.ready_cv.wait_for(lk, std::chrono::milliseconds(100), [&m] { return m.finished; })) break;
      if (asked_stop) continue;
      lk.unlock();
      if (!keep_waiting()) {
        asked_stop = true;
        ask(0.0);
        m.wake();
      }
      lk.lock();
    }
  }
  std::lock_guard<std::mutex> j(m.join_mu);
  if (m.io.joinable()) m.io.join();
}

}  // namespace emx
