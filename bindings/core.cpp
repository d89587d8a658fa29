// emx._core: binding code only. Every call that can take time releases the GIL.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <memory>
#include <string>
#include <vector>

#include "emx/backend.hpp"
#include "emx/emx.hpp"
#include "interrupt.hpp"
#include "py_task.hpp"
#include "rollout.hpp"

namespace py = pybind11;
using namespace emx;

namespace {

const std::vector<std::pair<std::string, uint32_t>>& ability_table() {
  static const std::vector<std::pair<std::string, uint32_t>> t = {
      {"openable", kOpenable}, {"toggleable", kToggleable}, {"cookable", kCookable}, {"freezable", kFreezable},
      {"sliceable", kSliceable}, {"soakable", kSoakable}, {"dustyable", kDustyable}, {"stainable", kStainable},
      {"heat_source", kHeatSource}, {"cold_source", kColdSource}, {"slicer", kSlicer},
      {"cleaning_tool", kCleaningTool}, {"container", kContainer}, {"water_source", kWaterSource},
      {"fixed", kFixed}, {"substance", kSubstance}, {"heatable", kHeatable}, {"flammable", kFlammable},
      {"cooking_vessel", kCookingVessel}, {"dishwasher", kDishwasher}, {"floor", kFloor}, {"agent", kAgent},
      {"soap", kSoap},
  };
  return t;
}

uint32_t ability_bits(const std::vector<std::string>& names) {
  uint32_t bits = 0;
  for (const auto& n : names) {
    bool found = false;
    for (const auto& [name, bit] : ability_table())
      if (name == n) { bits |= bit; found = true; }
    if (!found) throw std::invalid_argument("unknown ability '" + n + "'");
  }
  return bits;
}

std::vector<std::string> ability_names(uint32_t bits) {
  std::vector<std::string> out;
  for (const auto& [name, bit] : ability_table())
    if (bits & bit) out.push_back(name);
  return out;
}

using emx_py::PyTask;  // bindings/py_task.hpp: shared with the other binding files

py::dict step_to_dict(const Task& task, const TraceStep& s) {
  py::dict d;
  d["action"] = describe(task, s.action);
  d["ok"] = s.result.ok;
  d["error"] = std::string(error_name(s.result.error));
  d["message"] = s.result.message;
  return d;
}

py::dict evaluation_to_dict(const Task& task, const Evaluation& ev) {
  py::dict d;
  const RewardComponents& c = ev.components;
  d["reward"] = ev.reward;
  d["format_ok"] = c.format_ok;
  d["executability"] = c.executability;
  d["goal_fraction"] = c.goal_fraction;
  d["success"] = c.success;
  d["plan_length"] = c.plan_length;
  d["executed"] = ev.execution.executed;
  d["objects_named"] = c.objects_named;
  d["relevant_named"] = c.relevant_named;
  d["goal_objects"] = c.goal_objects;
  d["first_error"] = std::string(error_name(ev.execution.first_error));
  py::list trace;
  for (const auto& s : ev.execution.trace) trace.append(step_to_dict(task, s));
  d["trace"] = trace;
  py::list conds;
  for (auto v : ev.goal.condition_truth) conds.append(static_cast<bool>(v));
  d["condition_truth"] = conds;
  py::list atoms;
  for (size_t i = 0; i < task.goal.atoms.size(); ++i) {
    const GroundAtom& a = task.goal.atoms[i];
    std::string text = "(" + std::string(predicate_name(a.pred)) + " " + task.objects[a.a].name;
    if (a.b >= 0) text += " " + task.objects[a.b].name;
    atoms.append(py::make_tuple(text + ")", static_cast<bool>(ev.goal.atom_truth[i])));
  }
  d["atoms"] = atoms;
  return d;
}

// Runs goal checks with the GIL released and hands back numpy arrays.
py::tuple run_checks(const std::vector<const Task*>& tasks, const std::vector<const WorldState*>& states, int threads,
                     bool with_fraction = true) {
  std::vector<GoalSummary> checks =
      emx_py::run_interruptible([&] { return summarize_batch(tasks, states, threads, with_fraction); });
  py::array_t<bool> success(checks.size());
  py::array_t<double> fraction(checks.size());
  auto s = success.mutable_unchecked<1>();
  auto f = fraction.mutable_unchecked<1>();
  for (size_t i = 0; i < checks.size(); ++i) { s(i) = checks[i].success; f(i) = checks[i].fraction; }
  return py::make_tuple(success, fraction);
}

void translate(const ParseError& e) {
  static py::object cls = py::module_::import("emx.errors").attr("BddlError");
  py::object exc = cls(e.what(), e.where().file, e.where().line, e.where().column, e.message());
  PyErr_SetObject(cls.ptr(), exc.ptr());
}

}  // namespace

PYBIND11_MODULE(_core, m) {
  m.doc() = "emx C++ core: BDDL tasks, symbolic executor, goal checker, rewards";

  py::register_exception_translator([](std::exception_ptr p) {
    try {
      if (p) std::rethrow_exception(p);
    } catch (const ParseError& e) {
      translate(e);
    }
  });

  m.def("ability_names", [] {
    std::vector<std::string> out;
    for (const auto& [name, bit] : ability_table()) out.push_back(name);
    return out;
  });
  m.def("ability_bits", &ability_bits);
  m.def("predicate_names", [] {
    std::vector<std::string> out;
    for (int i = 0; i < kNumPredicates; ++i) out.emplace_back(predicate_name(static_cast<Predicate>(i)));
    return out;
  });
  m.def("action_names", [](const std::string& vocabulary) {
    Vocabulary v = vocabulary == "native" ? Vocabulary::kNative : Vocabulary::kEai;
    std::vector<std::pair<std::string, int>> out;
    for (int i = 0; i < kNumActionTypes; ++i) {
      const ActionInfo& info = action_info(static_cast<ActionType>(i));
      if (info.vocabulary == v) out.emplace_back(std::string(info.name), info.num_objects);
    }
    return out;
  });
  m.def("error_names", [] {
    std::vector<std::string> out;
    for (int i = 0; i < static_cast<int>(ErrorType::kCount); ++i) out.emplace_back(error_name(static_cast<ErrorType>(i)));
    return out;
  });
  m.def("backend", &active_backend);
  m.def("built_with_cuda", &built_with_cuda);
  m.def("cuda_device_count", &cuda_device_count);

  py::class_<KnowledgeBase, std::shared_ptr<KnowledgeBase>>(m, "KnowledgeBase")
      .def(py::init([](const std::unordered_map<std::string, std::vector<std::string>>& table) {
             auto kb = std::make_shared<KnowledgeBase>();
             for (const auto& [cat, names] : table) kb->abilities[cat] = ability_bits(names);
             return kb;
           }),
           py::arg("abilities"))
      .def("lookup", [](const KnowledgeBase& kb, const std::string& c) { return ability_names(kb.lookup(c)); })
      .def("__len__", [](const KnowledgeBase& kb) { return kb.abilities.size(); });

  py::class_<RewardConfig>(m, "RewardConfig")
      .def(py::init<>())
      .def_readwrite("name", &RewardConfig::name)
      .def_readwrite("format_fail", &RewardConfig::format_fail)
      .def_readwrite("format", &RewardConfig::format)
      .def_readwrite("executability", &RewardConfig::executability)
      .def_readwrite("goal", &RewardConfig::goal)
      .def_readwrite("success", &RewardConfig::success)
      .def_readwrite("length", &RewardConfig::length)
      .def_readwrite("objects", &RewardConfig::objects)
      .def_readwrite("relevance", &RewardConfig::relevance)
      .def("__repr__", [](const RewardConfig& w) {
        return "RewardConfig(name=" + w.name + ", format_fail=" + std::to_string(w.format_fail) + ", format=" +
               std::to_string(w.format) + ", executability=" + std::to_string(w.executability) + ", goal=" +
               std::to_string(w.goal) + ", success=" + std::to_string(w.success) + ", length=" +
               std::to_string(w.length) + ", objects=" + std::to_string(w.objects) + ", relevance=" +
               std::to_string(w.relevance) + ")";
      });
  m.def("reward_preset", [](const std::string& name) {
    try {
      return reward_preset(name);
    } catch (const std::invalid_argument& e) {
      throw py::value_error(e.what());
    }
  });

  m.def("compute_reward", [](const RewardConfig& w, bool format_ok, double executability, double goal_fraction,
                              bool success, int32_t plan_length, int32_t objects_named, int32_t relevant_named,
                              int32_t goal_objects) {
    // For executions scored outside the batch evaluator (closed-loop episodes): the same formula.
    RewardComponents c;
    c.format_ok = format_ok;
    c.executability = executability;
    c.goal_fraction = goal_fraction;
    c.success = success;
    c.plan_length = plan_length;
    c.objects_named = objects_named;
    c.relevant_named = relevant_named;
    c.goal_objects = goal_objects;
    return compute_reward(c, w);
  }, py::arg("config"), py::arg("format_ok"), py::arg("executability"), py::arg("goal_fraction"), py::arg("success"),
     py::arg("plan_length"), py::arg("objects_named"), py::arg("relevant_named"), py::arg("goal_objects"));

  py::class_<WorldState>(m, "WorldState")
      .def("copy", [](const WorldState& s) { return WorldState(s); })
      .def("__eq__", [](const WorldState& a, const WorldState& b) { return a == b; })
      .def_property_readonly("nbytes", &WorldState::bytes)
      .def_property_readonly("hands", [](const WorldState& s) { return py::make_tuple(s.hand[0], s.hand[1]); });

  py::class_<Action>(m, "Action")
      .def_property_readonly("error", [](const Action& a) { return std::string(error_name(a.error)); })
      .def_readonly("detail", &Action::detail)
      .def_property_readonly("name", [](const Action& a) {
        return a.type == ActionType::kInvalid ? std::string() : std::string(action_info(a.type).name);
      })
      .def_property_readonly("objects", [](const Action& a) {
        std::vector<int32_t> out;
        if (a.type != ActionType::kInvalid)
          for (int k = 0; k < action_info(a.type).num_objects; ++k) out.push_back(a.obj[k]);
        return out;
      });

  py::class_<PyTask>(m, "Task")
      .def_property_readonly("name", [](const PyTask& t) { return t.task->name; })
      .def_property_readonly("filename", [](const PyTask& t) { return t.task->filename; })
      .def_property_readonly("num_objects", [](const PyTask& t) { return t.task->num_objects(); })
      .def_property_readonly("objects", [](const PyTask& t) {
        py::list out;
        for (const auto& o : t.task->objects)
          out.append(py::make_tuple(o.name, o.category, ability_names(o.abilities), o.whole,
                                    o.room >= 0 ? py::object(py::str(t.task->rooms[o.room])) : py::object(py::none())));
        return out;
      })
      .def_property_readonly("rooms", [](const PyTask& t) { return t.task->rooms; })
      .def_property_readonly("warnings", [](const PyTask& t) { return t.task->warnings; })
      .def_property_readonly("goal_conditions", [](const PyTask& t) { return t.task->goal.condition_text; })
      .def_property_readonly("num_goal_atoms", [](const PyTask& t) { return t.task->goal.atoms.size(); })
      .def_property_readonly("num_goal_literals", [](const PyTask& t) { return t.task->goal.num_literals(); })
      .def_property_readonly("goal_objects", [](const PyTask& t) { return goal_objects(*t.task); })
      .def_property_readonly("initial_state", [](const PyTask& t) { return t.task->initial; })
      .def("holds", [](const PyTask& t, const WorldState& s, const std::string& pred, const std::string& a, const std::string& b) {
             auto p = predicate_from_name(pred);
             if (!p) throw py::value_error("unknown predicate '" + pred + "'");
             int32_t ia = t.task->find(a), ib = b.empty() ? -1 : t.task->find(b);
             if (ia < 0 || (!b.empty() && ib < 0)) throw py::value_error("unknown object");
             return s.get(t.task->layout, *p, ia, ib);
           }, py::arg("state"), py::arg("predicate"), py::arg("a"), py::arg("b") = "")
      .def("eai_action", [](const PyTask& t, const std::string& name, const std::vector<std::string>& objects) {
             return make_eai_action(*t.task, name, objects);
           })
      .def("native_action", [](const PyTask& t, const std::string& name, const std::vector<int64_t>& objects,
                               const std::vector<double>& numbers, const std::string& relation, const std::string& room) {
             return make_native_action(*t.task, name, objects, numbers, relation, room);
           }, py::arg("name"), py::arg("objects") = std::vector<int64_t>{}, py::arg("numbers") = std::vector<double>{},
           py::arg("relation") = "", py::arg("room") = "")
      .def("invalid_action", [](const PyTask&, const std::string& error, const std::string& detail) {
             Action a;
             for (int i = 0; i < static_cast<int>(ErrorType::kCount); ++i)
               if (error_name(static_cast<ErrorType>(i)) == error) a.error = static_cast<ErrorType>(i);
             if (a.error == ErrorType::kNone) a.error = ErrorType::kWrongArity;
             a.detail = detail;
             return a;
           })
      .def("describe", [](const PyTask& t, const Action& a) { return describe(*t.task, a); })
      .def("true_atoms", [](const PyTask& t, const WorldState& s) {
             // Every stored predicate that holds, by name: for people, and for
             // adapters that feed the same state to another checker (bench/).
             const Task& task = *t.task;
             std::vector<std::tuple<std::string, std::string, std::string>> out;
             for (int p = 0; p < kNumPredicates; ++p) {
               Predicate pred = static_cast<Predicate>(p);
               if (!task.layout.stores(pred) || pred == Predicate::kInRoom) continue;
               for (int32_t a = 0; a < task.num_objects(); ++a) {
                 if (is_unary(pred)) {
                   if (s.get(task.layout, pred, a)) out.emplace_back(std::string(predicate_name(pred)), task.objects[a].name, "");
                   continue;
                 }
                 for (int32_t b = 0; b < task.num_objects(); ++b)
                   if (s.get(task.layout, pred, a, b))
                     out.emplace_back(std::string(predicate_name(pred)), task.objects[a].name, task.objects[b].name);
               }
             }
             return out;
           })
      .def("apply", [](const PyTask& t, WorldState& s, const Action& a) {
             StepResult r = apply(*t.task, s, a);
             return py::make_tuple(r.ok, std::string(error_name(r.error)), r.message);
           })
      .def("step", [](const PyTask& t, WorldState& s, const WorldState& start, const std::vector<Action>& prefix,
                      const Action& a) {
             // One step of a run that began in `start` with `prefix`: the executor's
             // apply plus its wrong-order rule (classify_failure), for Python callers
             // (closed-loop episodes, the physics world's symbolic pre-check).
             StepResult r = apply(*t.task, s, a);
             if (!r.ok) classify_failure(*t.task, start, prefix.data(), prefix.size(), a, r);
             return py::make_tuple(r.ok, std::string(error_name(r.error)), r.message);
           }, py::arg("state"), py::arg("start"), py::arg("prefix"), py::arg("action"))
      .def("classify_failure", [](const PyTask& t, const WorldState& start, const std::vector<Action>& prefix,
                                  const Action& a, const std::string& error, const std::string& message) {
             // A step that failed elsewhere (physics pre-check) classified by the executor's rule.
             StepResult r{false, ErrorType::kMissingStep, message};
             for (int e = 0; e < static_cast<int>(ErrorType::kCount); ++e)
               if (error_name(static_cast<ErrorType>(e)) == error) r.error = static_cast<ErrorType>(e);
             classify_failure(*t.task, start, prefix.data(), prefix.size(), a, r);
             return py::make_tuple(std::string(error_name(r.error)), r.message);
           }, py::arg("start"), py::arg("prefix"), py::arg("action"), py::arg("error"), py::arg("message"))
      .def("classify_failure", [](const PyTask& t, const py::list& history, const Action& a, const std::string& error,
                                  const std::string& message) {
             // The same rule over given earlier states (a physics run's, from geometry).
             StepResult r{false, ErrorType::kMissingStep, message};
             for (int e = 0; e < static_cast<int>(ErrorType::kCount); ++e)
               if (error_name(static_cast<ErrorType>(e)) == error) r.error = static_cast<ErrorType>(e);
             std::vector<const WorldState*> earlier;
             for (const py::handle& h : history) earlier.push_back(&h.cast<const WorldState&>());
             classify_failure(*t.task, earlier, a, r);
             return py::make_tuple(std::string(error_name(r.error)), r.message);
           }, py::arg("history"), py::arg("action"), py::arg("error"), py::arg("message"))
      .def("plan_rejection", [](const PyTask& t, const std::vector<Action>& plan) -> py::object {
             // eai: (step, error, message) of what makes EAI reject the whole plan before it runs.
             auto r = plan_rejection(*t.task, plan.data(), plan.size());
             if (!r) return py::none();
             return py::make_tuple(r->first, std::string(error_name(r->second.error)), r->second.message);
           }, py::arg("plan"))
      .def_property_readonly("semantics", [](const PyTask& t) { return std::string(semantics_name(t.task->semantics)); })
      .def("check", [](const PyTask& t, const WorldState& s) {
             GoalCheck g = check_goal(t.task->goal, t.task->layout, judged_state(*t.task, s));
             return py::make_tuple(g.success, g.fraction, std::vector<bool>(g.condition_truth.begin(), g.condition_truth.end()));
           })
      .def("oracle", [](const PyTask& t, int max_actions) {
             OracleOptions o;
             o.max_actions = max_actions;
             OraclePlan plan;
             {
               py::gil_scoped_release release;
               plan = plan_oracle(*t.task, o);
             }
             return py::make_tuple(plan.solved, plan.actions, plan.reason);
           }, py::arg("max_actions") = 400);

  m.def("semantics_table", [] {
    py::list rows;
    for (int i = 0; i < kNumSemanticsRules; ++i) {
      const SemanticsRuleRow& r = kSemanticsTable[i];
      py::dict d;
      d["id"] = std::string(r.id);
      d["emx"] = std::string(r.emx);
      d["eai"] = std::string(r.eai);
      d["embomatrix"] = std::string(r.embomatrix);
      d["eai_source"] = std::string(r.eai_source);
      rows.append(d);
    }
    return rows;
  }, "Every semantics rule: id, what emx / eai / embomatrix do, and the eai-eval function eai follows.");

  m.def("compile_task", [](const std::string& text, const std::string& filename, const KnowledgeBase& kb) {
    TaskPtr task;
    {
      py::gil_scoped_release release;
      task = compile_task(parse_problem(text, filename), kb);
    }
    return PyTask{task};
  }, py::arg("text"), py::arg("filename"), py::arg("kb"));

  m.def("parse_problem", [](const std::string& text, const std::string& filename) {
    Problem p = parse_problem(text, filename);
    py::dict d;
    d["name"] = p.name;
    d["domain"] = p.domain;
    py::list objects;
    for (const auto& o : p.objects) objects.append(py::make_tuple(o.name, o.type));
    d["objects"] = objects;
    std::vector<std::string> init, goal;
    for (const auto& e : p.init) init.push_back(to_string(e));
    for (const auto& e : p.goal) goal.push_back(to_string(e));
    d["init"] = init;
    d["goal"] = goal;
    return d;
  }, py::arg("text"), py::arg("filename") = "<string>");

  m.def("evaluate", [](const PyTask& t, const std::vector<Action>& actions, bool format_ok, const RewardConfig& reward) {
    Evaluation ev;
    {
      py::gil_scoped_release release;
      ev = evaluate(*t.task, actions, format_ok, reward, true);
    }
    return evaluation_to_dict(*t.task, ev);
  });

  m.def("score_execution", [](const PyTask& t, const std::vector<Action>& actions, bool format_ok,
                              const RewardConfig& reward, const WorldState& final_state, int executed,
                              const std::vector<std::tuple<std::string, std::string>>& step_errors) {
    // For executions that ran elsewhere (physics): step_errors holds (error name, message) per executed
    // step, the failing one last; the goal is checked on final_state.
    Execution ex;
    ex.final_state = final_state;
    ex.plan_length = static_cast<int32_t>(actions.size());
    ex.executed = executed;
    for (size_t i = 0; i < step_errors.size() && i < actions.size(); ++i) {
      StepResult r;
      const auto& [name, msg] = step_errors[i];
      for (int e = 0; e < static_cast<int>(ErrorType::kCount); ++e)
        if (error_name(static_cast<ErrorType>(e)) == name) r.error = static_cast<ErrorType>(e);
      r.ok = r.error == ErrorType::kNone || r.error == ErrorType::kAdditionalStep;
      r.message = msg;
      if (!r.ok) ex.first_error = r.error;
      ex.trace.push_back({actions[i], r});
    }
    ex.completed = executed == static_cast<int>(actions.size());
    Evaluation ev = score_execution(*t.task, actions, format_ok, reward, std::move(ex));
    return evaluation_to_dict(*t.task, ev);
  });

  m.def("evaluate_batch", [](const std::vector<std::tuple<PyTask, std::vector<Action>, bool>>& items,
                             const RewardConfig& reward, int threads, bool keep_trace) {
    std::vector<PlanInput> inputs;
    inputs.reserve(items.size());
    for (const auto& [t, actions, ok] : items) inputs.push_back({t.task, actions, ok});
    std::vector<Evaluation> evs =
        emx_py::run_interruptible([&] { return evaluate_batch(inputs, reward, threads, keep_trace); });
    py::list out;
    for (size_t i = 0; i < evs.size(); ++i) out.append(evaluation_to_dict(*inputs[i].task, evs[i]));
    return out;
  }, py::arg("items"), py::arg("reward"), py::arg("threads") = 0, py::arg("keep_trace") = false);

  // A batch of (task, state) pairs held in C++, so timing check() measures the
  // goal checks and not the conversion of Python lists.
  struct StateBatch {
    std::vector<TaskPtr> tasks;
    std::vector<WorldState> states;
  };
  py::class_<StateBatch>(m, "StateBatch")
      .def(py::init<>())
      .def("add", [](StateBatch& b, const PyTask& t, const WorldState& s) {
        if (s.parent.size() != static_cast<size_t>(t.task->num_objects()))
          throw py::value_error("the state does not belong to this task");
        b.tasks.push_back(t.task);
        b.states.push_back(s);
      })
      .def("__len__", [](const StateBatch& b) { return b.tasks.size(); })
      .def("check", [](const StateBatch& b, int threads, bool fraction) {
        std::vector<const Task*> tp;
        std::vector<const WorldState*> sp;
        for (size_t i = 0; i < b.tasks.size(); ++i) { tp.push_back(b.tasks[i].get()); sp.push_back(&b.states[i]); }
        return run_checks(tp, sp, threads, fraction);
      }, py::arg("threads") = 0, py::arg("fraction") = true,
      "Goal checks of every pair: (success, fraction) arrays. fraction=False computes truth only "
      "(what the bddl package computes) and returns NaN fractions.");

  m.def("check_batch", [](const std::vector<PyTask>& tasks, const std::vector<WorldState>& states, int threads) {
    if (tasks.size() != states.size()) throw py::value_error("tasks and states differ in length");
    std::vector<const Task*> tp;
    std::vector<const WorldState*> sp;
    for (size_t i = 0; i < tasks.size(); ++i) {
      if (states[i].parent.size() != static_cast<size_t>(tasks[i].task->num_objects()))
        throw py::value_error("state " + std::to_string(i) + " does not belong to its task");
      tp.push_back(tasks[i].task.get());
      sp.push_back(&states[i]);
    }
    return run_checks(tp, sp, threads);
  }, py::arg("tasks"), py::arg("states"), py::arg("threads") = 0);

  emx_py::bind_geometry(m);
  emx_py::bind_rollout(m);
  emx_py::bind_state_check(m);
}
