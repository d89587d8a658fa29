// Shared helpers for the C++ tests: the test data directory, a hand-built
// KnowledgeBase for the categories the data files use, and short ways to load
// tasks, make actions and read states by object name.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "check.hpp"
#include "emx/emx.hpp"

#ifndef EMX_TEST_DATA_DIR
#error "EMX_TEST_DATA_DIR must name cpp/tests/data (set by cpp/tests/CMakeLists.txt)"
#endif

namespace fixtures {

inline std::string data(const std::string& name) { return std::string(EMX_TEST_DATA_DIR) + "/" + name; }

/// Abilities of every category the data files use, except gizmo.n.01, which
/// is left unknown on purpose.
inline emx::KnowledgeBase kb() {
  using namespace emx;
  KnowledgeBase k;
  k.abilities = {
      {"apple.n.01", kCookable | kFreezable | kSliceable | kDustyable | kStainable | kHeatable},
      {"peach.n.03", kCookable | kSliceable},
      {"electric_refrigerator.n.01", kOpenable | kContainer | kFixed | kColdSource | kFreezable},
      {"countertop.n.01", kFixed | kDustyable | kStainable},
      {"breakfast_table.n.01", kFixed},
      {"carving_knife.n.01", kSlicer},
      {"sink.n.01", kToggleable | kContainer | kWaterSource | kFixed},
      {"rag.n.01", kSoakable | kCleaningTool},
      {"saucepan.n.01", kContainer | kCookingVessel},
      {"bowl.n.01", kContainer | kDustyable | kStainable | kFreezable},
      {"carton.n.02", kOpenable | kContainer},
      {"floor.n.01", kFixed},
      {"agent.n.01", 0},
  };
  return k;
}

inline emx::TaskPtr load(const std::string& file, const emx::CompileOptions& options = {}) {
  return emx::compile_task(emx::parse_problem_file(data(file)), kb(), options);
}

inline emx::TaskPtr compile(const std::string& text, const emx::CompileOptions& options = {}) {
  return emx::compile_task(emx::parse_problem(text, "t.bddl"), kb(), options);
}

/// Object index by name; a failed CHECK (and -1) when there is none.
inline int32_t obj(const emx::Task& t, const std::string& name) {
  int32_t i = t.find(name);
  if (i < 0) check::fail(__FILE__, __LINE__, "no object named " + name);
  return i;
}

inline emx::Action act(const emx::Task& t, const std::string& name, std::vector<std::string> objects) {
  return emx::make_eai_action(t, name, objects);
}

/// Applies one EAI step in place.
inline emx::StepResult step(const emx::Task& t, emx::WorldState& s, const std::string& name,
                            std::vector<std::string> objects) {
  return emx::apply(t, s, act(t, name, std::move(objects)));
}

inline bool holds(const emx::Task& t, const emx::WorldState& s, emx::Predicate p, const std::string& a,
                  const std::string& b = "") {
  return s.get(t.layout, p, obj(t, a), b.empty() ? -1 : obj(t, b));
}

inline void set(const emx::Task& t, emx::WorldState& s, emx::Predicate p, const std::string& a,
                const std::string& b = "", bool value = true) {
  s.set(t.layout, p, obj(t, a), b.empty() ? -1 : obj(t, b), value);
}

/// Runs fn, which must throw emx::ParseError at line:col with a message containing fragment.
inline void expect_parse_error(const char* file, int line_no, const std::function<void()>& fn, int line, int col,
                               const std::string& fragment, const std::string& filename = "t.bddl") {
  ++check::state().checks;
  try {
    fn();
    check::fail(file, line_no, "expected a ParseError (" + fragment + "), nothing was thrown");
  } catch (const emx::ParseError& e) {
    const std::string prefix = filename + ":" + std::to_string(line) + ":" + std::to_string(col) + ": ";
    const std::string what = e.what();
    if (e.where().line != line || e.where().column != col || e.where().file != filename ||
        what.rfind(prefix, 0) != 0 || what.find(fragment) == std::string::npos ||
        what != prefix + e.message())
      check::fail(file, line_no, "expected '" + prefix + "..." + fragment + "', got '" + what + "'");
  } catch (const std::exception& e) {
    check::fail(file, line_no, std::string("expected a ParseError, got another exception: ") + e.what());
  }
}

}  // namespace fixtures

#define EXPECT_PARSE_ERROR(fn, line, col, fragment) \
  ::fixtures::expect_parse_error(__FILE__, __LINE__, fn, line, col, fragment)
