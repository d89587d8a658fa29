// Actions of both plan vocabularies, and the typed errors a step can end in.
//
// EAI BEHAVIOR (30 actions, objects by name) and EmboMatrix native (13
// actions, objects by index). Preconditions and effects live in one table in
// executor.cpp (kActionTable) and are documented in docs/actions.md.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace emx {

class Task;

enum class Vocabulary : uint8_t { kEai, kNative };

enum class ActionType : uint8_t {
  // EAI BEHAVIOR
  kLeftGrasp, kRightGrasp,
  kLeftPlaceOnTop, kRightPlaceOnTop, kLeftPlaceInside, kRightPlaceInside,
  kLeftPlaceNextTo, kRightPlaceNextTo, kLeftPlaceUnder, kRightPlaceUnder,
  kLeftPlaceNextToOnTop, kRightPlaceNextToOnTop,
  kLeftRelease, kRightRelease,
  kOpen, kClose, kCook, kClean, kFreeze, kUnfreeze, kSlice, kSoak, kDry,
  kToggleOn, kToggleOff,
  kLeftTransferContentsInside, kRightTransferContentsInside,
  kLeftTransferContentsOnTop, kRightTransferContentsOnTop,
  // EmboMatrix native
  kMove, kTurn, kPickUp, kPlace, kMoveForward,
  kNativeOpen, kNativeClose, kNativeToggleOn, kNativeToggleOff,
  kHeatObjectWithSource, kCookObjectWithTool, kFrozeObjectWithSource, kGoToRoom,
  kCount,
  kInvalid = 255,
};

inline constexpr int kNumActionTypes = static_cast<int>(ActionType::kCount);

/// Errors a step can end in. EAI's categories are kept so EAI-style error
/// breakdowns can be reported: parsing (kFormat), hallucination
/// (kUnknownAction, kUnknownObject), arguments (kWrongArity), and the runtime
/// ones: affordance, missing step (a precondition does not hold), wrong
/// temporal order (it held earlier in this episode), additional step.
enum class ErrorType : uint8_t {
  kNone,
  kFormat,           // the plan text could not be parsed
  kUnknownAction,    // not in the vocabulary
  kUnknownObject,    // hallucinated object (or index out of range)
  kWrongArity,       // wrong number/type of arguments
  kAffordance,       // the object cannot do that (OPEN a non-openable)
  kMissingStep,      // precondition violated: hand full/empty, container closed ...
  kWrongOrder,       // precondition violated now, but it held at an earlier step
  kAdditionalStep,   // no-op (already open, already holding): not fatal
  kPhysics,          // symbolically fine, physically impossible: no room, does not fit, fell off
  kCount
};
std::string_view error_name(ErrorType e);  // "affordance", "missing_step", ...

struct ActionInfo {
  ActionType type;
  Vocabulary vocabulary;
  std::string_view name;   // "RIGHT_GRASP" / "pick_up"
  int8_t num_objects;      // object arguments
  int8_t num_numbers;      // numeric arguments (turn, move_forward)
  int8_t hand;             // 0 left, 1 right, -1 none
};
const ActionInfo& action_info(ActionType t);
std::optional<ActionType> action_from_name(Vocabulary v, std::string_view name);

/// One resolved plan step. Resolution problems (unknown action/object, wrong
/// arity) are kept on the action and reported by the executor at this step,
/// so executability counts the steps before it.
struct Action {
  ActionType type = ActionType::kInvalid;
  int32_t obj[2] = {-1, -1};
  float num[2] = {0.f, 0.f};
  int8_t relation = 0;      // place: 1 ontop, 2 inside
  int32_t room = -1;        // go_to_room
  ErrorType error = ErrorType::kNone;  // resolution error, reported when executed
  std::string detail;       // what was wrong, for the trace
};

/// EAI step: name as written and its object names. Never throws.
Action make_eai_action(const Task& task, std::string_view name,
                       const std::vector<std::string>& objects);
/// Native step with explicit arguments; object ids are task object indices.
/// Never throws; validates ranges and finiteness.
Action make_native_action(const Task& task, std::string_view name, const std::vector<int64_t>& objects,
                          const std::vector<double>& numbers, std::string_view relation = {},
                          std::string_view room = {});

std::string describe(const Task& task, const Action& a);  // "RIGHT_GRASP(apple_0)"

}  // namespace emx
