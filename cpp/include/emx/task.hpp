// Task: the immutable, compiled form of a BDDL problem (MuJoCo's "model").
//
// A Task owns the object table, the initial WorldState and the compiled goal
// program. It never changes after compile_task returns, so one instance is
// shared read-only by every thread and every rollout (std::shared_ptr<const Task>).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "emx/bddl.hpp"
#include "emx/goal.hpp"
#include "emx/semantics.hpp"
#include "emx/vocabulary.hpp"
#include "emx/world_state.hpp"

namespace emx {

/// Category -> ability bits. Built by the Python layer from the bddl
/// package's annotations (emx.tasks.knowledge); C++ programs may fill it by hand.
struct KnowledgeBase {
  std::unordered_map<std::string, uint32_t> abilities;
  uint32_t lookup(const std::string& category, bool* found = nullptr) const;
};

struct Object {
  std::string name;      // as declared, lower-cased ("apple_0", "apple.n.01_1")
  std::string category;  // synset ("apple.n.01")
  uint32_t abilities = 0;
  int32_t whole = -1;    // for a slice part ("peach_0_part_1"): the object it was cut from
  int32_t room = -1;     // index into Task::rooms from (inroom obj room), -1 if unknown
  float volume = 0.f;    // bounding-box volume in m^3 (";@emx volume NAME M3"), 0 if unknown
};

struct CompileOptions {
  /// Give an object the abilities its own task implies: a goal (open x) makes
  /// x openable, (inside a b) makes b a container, (stained x) stainable, ...
  /// EAI tasks use BEHAVIOR-100 synsets whose annotations differ from
  /// BEHAVIOR-1K's; the task text is the better authority for its own objects.
  bool infer_abilities_from_task = true;
  /// Create two hidden parts ("<name>_part_0/1") for every sliceable object,
  /// as EAI's simulator does: after SLICE the plan acts on the parts.
  bool create_slice_parts = true;
  /// Semantics profile; a ";@emx semantics NAME" line in the BDDL text overrides it.
  Semantics semantics = Semantics::kEmx;
};

class Task {
 public:
  std::string name;      // problem name as written
  std::string filename;
  std::vector<Object> objects;
  std::vector<std::string> rooms;
  /// Objects per category, in declaration order (what quantifiers range over).
  std::unordered_map<std::string, std::vector<int32_t>> by_category;
  std::unordered_map<std::string, int32_t> index_of;  // name -> object index
  Semantics semantics = Semantics::kEmx;
  WorldLayout layout;
  WorldState initial;
  GoalProgram goal;
  /// Compile-time notes for people: unknown categories, inferred abilities.
  std::vector<std::string> warnings;

  int32_t num_objects() const { return static_cast<int32_t>(objects.size()); }
  /// -1 when there is no such object.
  int32_t find(const std::string& name) const;
  bool has(int32_t obj, uint32_t ability) const { return (objects[obj].abilities & ability) != 0; }
  const SemanticsRules& rules() const { return semantics_rules(semantics); }
};

using TaskPtr = std::shared_ptr<const Task>;

/// Resolves names, checks predicates and arities against the vocabulary,
/// builds the initial state from :init and compiles :goal. Throws ParseError
/// with file:line:col for unknown predicates, undeclared objects, wrong
/// arity, unknown quantifier types or malformed formulas.
TaskPtr compile_task(const Problem& problem, const KnowledgeBase& kb,
                     const CompileOptions& options = {});

}  // namespace emx
