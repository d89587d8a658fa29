// emx._core rollout bindings: the scheduler, the worker protocol helpers
// Python workers use, and the C++ symbolic worker loop for a Python host.
// Every call that can block releases the GIL; waits are sliced so Ctrl-C
// reaches Python within a tenth of a second.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "emx/rollout_prefix.hpp"
#include "emx/rollout_process_pool.hpp"
#include "emx/rollout_worker.hpp"
#include "emx/scheduler.hpp"
#include "py_task.hpp"
#include "rollout.hpp"

namespace py = pybind11;
using namespace emx;

namespace {

SchedulerConfig config_from(const py::dict& d) {
  SchedulerConfig c;
  for (auto item : d) {
    std::string k = py::cast<std::string>(item.first);
    py::handle v = item.second;
    if (k == "queue_capacity") c.queue_capacity = py::cast<size_t>(v);
    else if (k == "episode_timeout_s") c.episode_timeout_s = py::cast<double>(v);
    else if (k == "heartbeat_timeout_s") c.heartbeat_timeout_s = py::cast<double>(v);
    else if (k == "startup_timeout_s") c.startup_timeout_s = py::cast<double>(v);
    else if (k == "max_attempts") c.max_attempts = py::cast<int>(v);
    else if (k == "max_restarts") c.max_restarts = py::cast<int>(v);
    else if (k == "window_s") c.window_s = py::cast<double>(v);
    else if (k == "max_inflight_jobs") c.max_inflight_jobs = py::cast<int>(v);
    else if (k == "prefix_sharing") c.prefix_sharing = py::cast<bool>(v);
    else if (k == "snapshot_reuse") c.snapshot_reuse = py::cast<bool>(v);
    else if (k == "shutdown_grace_s") c.shutdown_grace_s = py::cast<double>(v);
    else throw py::value_error("unknown scheduler option '" + k + "'");
  }
  return c;
}

WorkerSpec spec_from(const py::dict& d) {
  WorkerSpec s;
  s.command = py::cast<std::vector<std::string>>(d["command"]);
  if (d.contains("count")) s.count = py::cast<int>(d["count"]);
  if (d.contains("name")) s.name = py::cast<std::string>(d["name"]);
  if (d.contains("env")) s.env = py::cast<std::vector<std::string>>(d["env"]);
  return s;
}

// (task, actions, format_ok, mode, group, priority, seed, timeout_s, keep_trace, tag, reward)
using RequestTuple = std::tuple<uint32_t, std::vector<Action>, bool, std::string, uint64_t, int32_t, uint64_t, double,
                                bool, uint64_t, uint32_t>;

std::vector<EpisodeRequest> requests_from(const std::vector<RequestTuple>& items) {
  std::vector<EpisodeRequest> out;
  out.reserve(items.size());
  for (const auto& t : items) {
    EpisodeRequest r;
    r.task = std::get<0>(t);
    r.plan = std::get<1>(t);
    r.format_ok = std::get<2>(t);
    const std::string& mode = std::get<3>(t);
    if (mode == "symbolic") r.mode = RolloutMode::kSymbolic;
    else if (mode == "physics") r.mode = RolloutMode::kPhysics;
    else throw py::value_error("mode must be 'symbolic' or 'physics', not '" + mode + "'");
    r.group = std::get<4>(t);
    r.priority = std::get<5>(t);
    r.seed = std::get<6>(t);
    r.timeout_s = std::get<7>(t);
    r.keep_trace = std::get<8>(t);
    r.tag = std::get<9>(t);
    r.reward = std::get<10>(t);
    out.push_back(std::move(r));
  }
  return out;
}

py::dict result_dict(const EpisodeResult& r) {
  py::dict d;
  d["id"] = r.id;
  d["tag"] = r.tag;
  d["group"] = r.group;
  d["task"] = r.task;
  d["status"] = status_name(r.status);
  d["error"] = r.error;
  d["reward"] = r.reward;
  d["format_ok"] = r.components.format_ok;
  d["executability"] = r.components.executability;
  d["goal_fraction"] = r.components.goal_fraction;
  d["success"] = r.components.success;
  d["plan_length"] = r.components.plan_length;
  d["executed"] = r.executed;
  d["completed"] = r.completed;
  d["objects_named"] = r.components.objects_named;
  d["relevant_named"] = r.components.relevant_named;
  d["goal_objects"] = r.components.goal_objects;
  d["first_error"] = std::string(error_name(r.first_error));
  py::list steps;
  for (const auto& s : r.steps) steps.append(py::make_tuple(std::string(error_name(s.error)), s.ok, s.message));
  d["steps"] = steps;
  d["condition_truth"] = std::vector<bool>(r.condition_truth.begin(), r.condition_truth.end());
  d["atom_truth"] = std::vector<bool>(r.atom_truth.begin(), r.atom_truth.end());
  d["worker"] = r.worker;
  d["worker_name"] = r.worker_name;
  d["worker_pid"] = r.worker_pid;
  d["attempts"] = r.attempts;
  d["queue_seconds"] = r.queue_seconds;
  d["run_seconds"] = r.run_seconds;
  d["load_seconds"] = r.load_seconds;
  d["total_seconds"] = r.total_seconds;
  d["simulated_actions"] = r.simulated_actions;
  d["plan_actions"] = r.plan_actions;
  return d;
}

py::list result_list(const std::vector<EpisodeResult>& rs) {
  py::list out;
  for (const auto& r : rs) out.append(result_dict(r));
  return out;
}

// Numbers only, as numpy arrays: what a trainer needs from a large batch.
py::dict result_arrays(const std::vector<EpisodeResult>& rs) {
  const size_t n = rs.size();
  py::array_t<uint64_t> id(n), tag(n);
  py::array_t<double> reward(n), goal(n), execut(n), total(n), run(n);
  py::array_t<bool> success(n), ok(n);
  py::array_t<int32_t> worker(n), attempts(n), executed(n), simulated(n), needed(n);
  auto a_id = id.mutable_unchecked<1>();
  auto a_tag = tag.mutable_unchecked<1>();
  auto a_reward = reward.mutable_unchecked<1>();
  auto a_goal = goal.mutable_unchecked<1>();
  auto a_exec = execut.mutable_unchecked<1>();
  auto a_total = total.mutable_unchecked<1>();
  auto a_run = run.mutable_unchecked<1>();
  auto a_success = success.mutable_unchecked<1>();
  auto a_ok = ok.mutable_unchecked<1>();
  auto a_worker = worker.mutable_unchecked<1>();
  auto a_attempts = attempts.mutable_unchecked<1>();
  auto a_executed = executed.mutable_unchecked<1>();
  auto a_sim = simulated.mutable_unchecked<1>();
  auto a_needed = needed.mutable_unchecked<1>();
  for (size_t i = 0; i < n; ++i) {
    const EpisodeResult& r = rs[i];
    a_id(i) = r.id;
    a_tag(i) = r.tag;
    a_reward(i) = r.reward;
    a_goal(i) = r.components.goal_fraction;
    a_exec(i) = r.components.executability;
    a_total(i) = r.total_seconds;
    a_run(i) = r.run_seconds;
    a_success(i) = r.components.success;
    a_ok(i) = r.status == EpisodeStatus::kOk;
    a_worker(i) = r.worker;
    a_attempts(i) = r.attempts;
    a_executed(i) = r.executed;
    a_sim(i) = static_cast<int32_t>(r.simulated_actions);
    a_needed(i) = static_cast<int32_t>(r.plan_actions);
  }
  py::dict d;
  d["id"] = id;
  d["tag"] = tag;
  d["reward"] = reward;
  d["goal_fraction"] = goal;
  d["executability"] = execut;
  d["success"] = success;
  d["ok"] = ok;
  d["worker"] = worker;
  d["attempts"] = attempts;
  d["executed"] = executed;
  d["simulated_actions"] = simulated;
  d["plan_actions"] = needed;
  d["total_seconds"] = total;
  d["run_seconds"] = run;
  return d;
}

py::dict stats_dict(const SchedulerStats& s) {
  py::dict d;
  d["queue_depth"] = s.queue_depth;
  d["inflight"] = s.inflight;
  d["submitted"] = s.submitted;
  d["completed"] = s.completed;
  d["failed"] = s.failed;
  d["retried"] = s.retried;
  d["restarts"] = s.restarts;
  d["episodes_per_s"] = s.episodes_per_s;
  d["uptime_s"] = s.uptime_s;
  d["simulated_actions"] = s.simulated_actions;
  d["plan_actions"] = s.plan_actions;
  py::list workers;
  for (const auto& w : s.workers) {
    py::dict x;
    x["id"] = w.id;
    x["name"] = w.name;
    x["pid"] = w.pid;
    x["state"] = w.state;
    py::list caps;
    if (w.capabilities & wire::kCapSymbolic) caps.append("symbolic");
    if (w.capabilities & wire::kCapCpuPhysics) caps.append("cpu_physics");
    if (w.capabilities & wire::kCapGpuPhysics) caps.append("gpu_physics");
    if (w.capabilities & wire::kCapRendering) caps.append("rendering");
    x["capabilities"] = caps;
    x["speed"] = w.speed;
    x["utilisation"] = w.utilisation;
    x["episodes"] = w.episodes;
    x["jobs"] = w.jobs;
    x["restarts"] = w.restarts;
    x["inflight"] = w.inflight;
    x["last_exit"] = w.last_exit;
    workers.append(x);
  }
  d["workers"] = workers;
  return d;
}

/// The scheduler as Python holds it: shut down before the object goes away.
struct PyScheduler {
  std::unique_ptr<Scheduler> s;
  Scheduler& get() {
    if (!s) throw std::runtime_error("the scheduler is closed");
    return *s;
  }
};

}  // namespace

namespace emx_py {

void bind_rollout(py::module_& m) {
  py::class_<PyScheduler>(m, "Scheduler", "The rollout scheduler over worker processes (emx/scheduler.hpp).")
      .def(py::init([](const std::vector<py::dict>& workers, std::shared_ptr<KnowledgeBase> kb, const py::dict& config) {
             std::vector<WorkerSpec> specs;
             for (const auto& w : workers) specs.push_back(spec_from(w));
             SchedulerConfig cfg = config_from(config);
             KnowledgeBase copy = kb ? *kb : KnowledgeBase{};
             PyScheduler p;
             {
               py::gil_scoped_release release;
               p.s = std::make_unique<Scheduler>(std::move(specs), std::move(copy), cfg);
             }
             return p;
           }),
           py::arg("workers"), py::arg("kb"), py::arg("config") = py::dict())
      .def("add_task", [](PyScheduler& p, const std::string& key, const std::string& bddl, const std::string& filename,
                          const std::string& scene) {
             try {
               return p.get().add_task(key, bddl, filename, scene);
             } catch (const std::invalid_argument& e) {
               throw py::value_error(e.what());
             }
           }, py::arg("key"), py::arg("bddl"), py::arg("filename") = "", py::arg("scene") = "")
      .def("add_reward", [](PyScheduler& p, const RewardConfig& r) { return p.get().add_reward(r); })
      .def("submit", [](PyScheduler& p, const std::vector<RequestTuple>& items, double timeout_s) {
             std::vector<EpisodeRequest> reqs = requests_from(items);
             Scheduler& s = p.get();
             py::gil_scoped_release release;
             try {
               return s.submit(std::move(reqs), timeout_s);
             } catch (const std::invalid_argument& e) {
               py::gil_scoped_acquire acquire;
               throw py::value_error(e.what());
             }
           }, py::arg("requests"), py::arg("timeout") = -1.0,
           "Queues requests; blocks up to timeout while the queue is full. Returns ids (0: not accepted).")
      .def("try_submit", [](PyScheduler& p, const std::vector<RequestTuple>& items) {
             std::vector<EpisodeRequest> reqs = requests_from(items);
             Scheduler& s = p.get();
             py::gil_scoped_release release;
             return s.try_submit(std::move(reqs));
           })
      .def("poll", [](PyScheduler& p, size_t max_results, double timeout_s) {
             Scheduler& s = p.get();
             std::vector<EpisodeResult> rs;
             {
               py::gil_scoped_release release;
               rs = s.poll(max_results, timeout_s);
             }
             return result_list(rs);
           }, py::arg("max_results") = 256, py::arg("timeout") = 0.1)
      .def("poll_arrays", [](PyScheduler& p, size_t max_results, double timeout_s) {
             Scheduler& s = p.get();
             std::vector<EpisodeResult> rs;
             {
               py::gil_scoped_release release;
               rs = s.poll(max_results, timeout_s);
             }
             return result_arrays(rs);
           }, py::arg("max_results") = 4096, py::arg("timeout") = 0.1)
      .def("evaluate", [](PyScheduler& p, const std::vector<RequestTuple>& items, bool arrays) -> py::object {
             std::vector<EpisodeRequest> reqs = requests_from(items);
             Scheduler& s = p.get();
             std::vector<EpisodeResult> rs;
             bool interrupted = false;
             {
               py::gil_scoped_release release;
               // Ctrl-C: checked every 0.1 s with the GIL held for an instant.
               auto keep_waiting = [&interrupted] {
                 py::gil_scoped_acquire acquire;
                 if (PyErr_CheckSignals() != 0) {
                   interrupted = true;
                   return false;
                 }
                 return true;
               };
               try {
                 rs = s.evaluate(std::move(reqs), keep_waiting);
               } catch (const std::invalid_argument& e) {
                 py::gil_scoped_acquire acquire;
                 throw py::value_error(e.what());
               } catch (const std::runtime_error&) {
                 if (!interrupted) throw;
               }
             }
             if (interrupted) throw py::error_already_set();
             if (arrays) return result_arrays(rs);
             return result_list(rs);
           }, py::arg("requests"), py::arg("arrays") = false,
           "Runs a batch, blocking; results in input order (dicts, or numpy arrays with arrays=True).")
      .def("wait_ready", [](PyScheduler& p, double timeout_s) {
             Scheduler& s = p.get();
             py::gil_scoped_release release;
             return s.wait_ready(timeout_s);
           }, py::arg("timeout") = 60.0)
      .def("stats", [](PyScheduler& p) { return stats_dict(p.get().stats()); })
      .def("signal_worker", [](PyScheduler& p, int32_t worker, int sig) { return p.get().signal_worker(worker, sig); })
      .def("shutdown", [](PyScheduler& p, double grace_s) {
             if (!p.s) return;
             bool interrupted = false;
             {
               py::gil_scoped_release release;
               // Ctrl-C while a graceful stop waits for running episodes kills them at once.
               p.s->shutdown(grace_s, [&interrupted] {
                 py::gil_scoped_acquire acquire;
                 interrupted = PyErr_CheckSignals() != 0;
                 return !interrupted;
               });
             }
             if (interrupted) throw py::error_already_set();
           }, py::arg("grace") = -1.0,
           "Stops the workers: SHUTDOWN, then SIGKILL after grace seconds (< 0: the config's; 0: at once).")
      .def("close", [](PyScheduler& p) {
             std::unique_ptr<Scheduler> s = std::move(p.s);
             py::gil_scoped_release release;
             s.reset();
           })
      .def_property_readonly("closed", [](const PyScheduler& p) { return !p.s; });

  py::register_exception<QueueFull>(m, "QueueFull", PyExc_RuntimeError);

  // ---- protocol helpers for Python workers (python/emx/rollout/protocol.py)
  m.attr("PROTOCOL_VERSION") = wire::kProtocolVersion;
  m.def("make_action", [](int type, int32_t obj0, int32_t obj1, float num0, float num1, int relation, int32_t room,
                          int error, const std::string& detail) {
          if ((type < 0 || type >= kNumActionTypes) && type != static_cast<int>(ActionType::kInvalid))
            throw py::value_error("bad action type " + std::to_string(type));
          if (error < 0 || error >= static_cast<int>(ErrorType::kCount)) throw py::value_error("bad error type");
          Action a;
          a.type = static_cast<ActionType>(type);
          a.obj[0] = obj0;
          a.obj[1] = obj1;
          a.num[0] = num0;
          a.num[1] = num1;
          a.relation = static_cast<int8_t>(relation);
          a.room = room;
          a.error = static_cast<ErrorType>(error);
          a.detail = detail;
          return a;
        }, "An Action from the fields of its wire record (worker_protocol.hpp).");
  m.def("action_fields", [](const Action& a) {
          return py::make_tuple(static_cast<int>(a.type), a.obj[0], a.obj[1], a.num[0], a.num[1],
                                static_cast<int>(a.relation), a.room, static_cast<int>(a.error), a.detail);
        });
  m.def("encode_actions", [](const std::vector<Action>& plan) { return py::bytes(wire::encode_actions(plan)); });
  m.def("decode_actions", [](const py::bytes& b) {
    try {
      return wire::decode_actions(std::string(b));
    } catch (const wire::ProtocolError& e) {
      throw py::value_error(e.what());
    }
  });
  m.def("knowledge_base_from_bits", [](const std::unordered_map<std::string, uint32_t>& table) {
    auto kb = std::make_shared<KnowledgeBase>();
    kb->abilities.insert(table.begin(), table.end());
    return kb;
  });
  m.def("knowledge_base_bits", [](const KnowledgeBase& kb) { return kb.abilities; });
  m.def("prefix_schedule", [](const std::vector<std::vector<Action>>& plans, bool share) {
    std::vector<const std::vector<Action>*> ptrs;
    for (const auto& p : plans) ptrs.push_back(&p);
    std::vector<std::tuple<uint32_t, uint32_t, std::vector<uint32_t>>> out;
    for (const PrefixStep& s : prefix_schedule(ptrs, share)) out.emplace_back(s.plan, s.resume_depth, s.save_depths);
    return out;
  }, py::arg("plans"), py::arg("share") = true,
     "The order, resume depths and save depths a worker runs a group in (emx/rollout_prefix.hpp).");
  m.def("prepare_worker_process", [] {
    int in_fd = 0, out_fd = 1;
    prepare_worker_process(&in_fd, &out_fd);
    return py::make_tuple(in_fd, out_fd);
  }, "Worker processes call this first: die with the parent, keep the protocol off stdout.");
  m.def("run_worker", [](int in_fd, int out_fd, const std::string& name, uint32_t task_cache, bool noop,
                         uint32_t slow_us, uint32_t load_us, double heartbeat_s) {
    WorkerOptions o;
    o.name = name;
    o.task_cache = task_cache;
    o.noop = noop;
    o.slow_us = slow_us;
    o.load_us = load_us;
    o.heartbeat_interval_s = heartbeat_s;
    py::gil_scoped_release release;
    return run_worker(in_fd, out_fd, o);
  }, py::arg("in_fd"), py::arg("out_fd"), py::arg("name") = "symbolic", py::arg("task_cache") = 256,
     py::arg("noop") = false, py::arg("slow_us") = 0, py::arg("load_us") = 0, py::arg("heartbeat") = 0.25,
     "Serves the symbolic worker protocol on two file descriptors (the C++ loop of emx_worker).");
}

}  // namespace emx_py
