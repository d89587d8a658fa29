// Action vocabulary table and resolution of plan steps to Actions.
#include "emx/actions.hpp"

#include <array>
#include <cctype>
#include <cmath>

#include "emx/task.hpp"

namespace emx {
namespace {

using V = Vocabulary;
using A = ActionType;

// name, objects, numbers, hand
const std::array<ActionInfo, kNumActionTypes> kActions = {{
    {A::kLeftGrasp, V::kEai, "LEFT_GRASP", 1, 0, 0},
    {A::kRightGrasp, V::kEai, "RIGHT_GRASP", 1, 0, 1},
    {A::kLeftPlaceOnTop, V::kEai, "LEFT_PLACE_ONTOP", 1, 0, 0},
    {A::kRightPlaceOnTop, V::kEai, "RIGHT_PLACE_ONTOP", 1, 0, 1},
    {A::kLeftPlaceInside, V::kEai, "LEFT_PLACE_INSIDE", 1, 0, 0},
    {A::kRightPlaceInside, V::kEai, "RIGHT_PLACE_INSIDE", 1, 0, 1},
    {A::kLeftPlaceNextTo, V::kEai, "LEFT_PLACE_NEXTTO", 1, 0, 0},
    {A::kRightPlaceNextTo, V::kEai, "RIGHT_PLACE_NEXTTO", 1, 0, 1},
    {A::kLeftPlaceUnder, V::kEai, "LEFT_PLACE_UNDER", 1, 0, 0},
    {A::kRightPlaceUnder, V::kEai, "RIGHT_PLACE_UNDER", 1, 0, 1},
    {A::kLeftPlaceNextToOnTop, V::kEai, "LEFT_PLACE_NEXTTO_ONTOP", 2, 0, 0},
    {A::kRightPlaceNextToOnTop, V::kEai, "RIGHT_PLACE_NEXTTO_ONTOP", 2, 0, 1},
    {A::kLeftRelease, V::kEai, "LEFT_RELEASE", 1, 0, 0},
    {A::kRightRelease, V::kEai, "RIGHT_RELEASE", 1, 0, 1},
    {A::kOpen, V::kEai, "OPEN", 1, 0, -1},
    {A::kClose, V::kEai, "CLOSE", 1, 0, -1},
    {A::kCook, V::kEai, "COOK", 1, 0, -1},
    {A::kClean, V::kEai, "CLEAN", 1, 0, -1},
    {A::kFreeze, V::kEai, "FREEZE", 1, 0, -1},
    {A::kUnfreeze, V::kEai, "UNFREEZE", 1, 0, -1},
    {A::kSlice, V::kEai, "SLICE", 1, 0, -1},
    {A::kSoak, V::kEai, "SOAK", 1, 0, -1},
    {A::kDry, V::kEai, "DRY", 1, 0, -1},
    {A::kToggleOn, V::kEai, "TOGGLE_ON", 1, 0, -1},
    {A::kToggleOff, V::kEai, "TOGGLE_OFF", 1, 0, -1},
    {A::kLeftTransferContentsInside, V::kEai, "LEFT_TRANSFER_CONTENTS_INSIDE", 1, 0, 0},
    {A::kRightTransferContentsInside, V::kEai, "RIGHT_TRANSFER_CONTENTS_INSIDE", 1, 0, 1},
    {A::kLeftTransferContentsOnTop, V::kEai, "LEFT_TRANSFER_CONTENTS_ONTOP", 1, 0, 0},
    {A::kRightTransferContentsOnTop, V::kEai, "RIGHT_TRANSFER_CONTENTS_ONTOP", 1, 0, 1},
    {A::kMove, V::kNative, "move", 1, 0, -1},
    {A::kTurn, V::kNative, "turn", 0, 1, -1},
    {A::kPickUp, V::kNative, "pick_up", 1, 0, -1},
    {A::kPlace, V::kNative, "place", 1, 0, -1},
    {A::kMoveForward, V::kNative, "move_forward", 0, 2, -1},
    {A::kNativeOpen, V::kNative, "open", 1, 0, -1},
    {A::kNativeClose, V::kNative, "close", 1, 0, -1},
    {A::kNativeToggleOn, V::kNative, "toggle_on", 1, 0, -1},
    {A::kNativeToggleOff, V::kNative, "toggle_off", 1, 0, -1},
    {A::kHeatObjectWithSource, V::kNative, "heat_object_with_source", 2, 0, -1},
    {A::kCookObjectWithTool, V::kNative, "cook_object_with_tool", 2, 0, -1},
    {A::kFrozeObjectWithSource, V::kNative, "froze_object_with_source", 2, 0, -1},
    {A::kGoToRoom, V::kNative, "go_to_room", 0, 0, -1},
}};

constexpr std::array<std::string_view, static_cast<int>(ErrorType::kCount)> kErrorNames = {
    "none", "format", "unknown_action", "unknown_object", "wrong_arity",
    "affordance", "missing_step", "wrong_order", "additional_step", "physics",
};

std::string clip(std::string_view s, size_t n = 80) {
  // Model text ends up in traces: keep it bounded.
  return s.size() <= n ? std::string(s) : std::string(s.substr(0, n)) + "...";
}

Action failed(ActionType t, ErrorType e, std::string detail) {
  Action a;
  a.type = t;
  a.error = e;
  a.detail = std::move(detail);
  return a;
}

}  // namespace

std::string_view error_name(ErrorType e) { return kErrorNames[static_cast<int>(e)]; }

const ActionInfo& action_info(ActionType t) { return kActions[static_cast<int>(t)]; }

std::optional<ActionType> action_from_name(Vocabulary v, std::string_view name) {
  for (const auto& info : kActions)
    if (info.vocabulary == v && info.name == name) return info.type;
  return std::nullopt;
}

Action make_eai_action(const Task& task, std::string_view name, const std::vector<std::string>& objects) {
  std::string upper;
  for (char c : name) upper.push_back(static_cast<char>(std::toupper(static_cast<unsigned char>(c))));
  auto type = action_from_name(Vocabulary::kEai, upper);
  if (!type) return failed(ActionType::kInvalid, ErrorType::kUnknownAction, "unknown action '" + clip(name) + "'");
  const ActionInfo& info = action_info(*type);
  if (static_cast<int>(objects.size()) != info.num_objects)
    return failed(*type, ErrorType::kWrongArity,
                  std::string(info.name) + " takes " + std::to_string(info.num_objects) + " object(s), got " +
                      std::to_string(objects.size()));
  Action a;
  a.type = *type;
  for (size_t i = 0; i < objects.size(); ++i) {
    int32_t idx = task.find(objects[i]);
    if (idx < 0) return failed(*type, ErrorType::kUnknownObject, "unknown object '" + clip(objects[i]) + "'");
    a.obj[i] = idx;
  }
  return a;
}

Action make_native_action(const Task& task, std::string_view name, const std::vector<int64_t>& objects,
                          const std::vector<double>& numbers, std::string_view relation, std::string_view room) {
  auto type = action_from_name(Vocabulary::kNative, name);
  if (!type) return failed(ActionType::kInvalid, ErrorType::kUnknownAction, "unknown action '" + clip(name) + "'");
  const ActionInfo& info = action_info(*type);
  if (static_cast<int>(objects.size()) != info.num_objects || static_cast<int>(numbers.size()) != info.num_numbers)
    return failed(*type, ErrorType::kWrongArity,
                  std::string(info.name) + " takes " + std::to_string(info.num_objects) + " object index(es) and " +
                      std::to_string(info.num_numbers) + " number(s)");
  Action a;
  a.type = *type;
  for (size_t i = 0; i < objects.size(); ++i) {
    if (objects[i] < 0 || objects[i] >= task.num_objects())
      return failed(*type, ErrorType::kUnknownObject, "object index " + std::to_string(objects[i]) + " is out of range");
    a.obj[i] = static_cast<int32_t>(objects[i]);
  }
  for (size_t i = 0; i < numbers.size(); ++i) {
    if (!std::isfinite(numbers[i]) || std::fabs(numbers[i]) > 1e4)
      return failed(*type, ErrorType::kWrongArity, "parameter " + std::to_string(i) + " is not a sensible number");
    a.num[i] = static_cast<float>(numbers[i]);
  }
  if (*type == ActionType::kPlace) {
    if (relation == "ontop") a.relation = 1;
    else if (relation == "inside") a.relation = 2;
    else return failed(*type, ErrorType::kWrongArity, "place relation must be 'ontop' or 'inside', got '" + clip(relation) + "'");
  }
  if (*type == ActionType::kGoToRoom) {
    for (size_t r = 0; r < task.rooms.size(); ++r)
      if (task.rooms[r] == room) a.room = static_cast<int32_t>(r);
    if (a.room < 0) return failed(*type, ErrorType::kUnknownObject, "unknown room '" + clip(room) + "'");
  }
  return a;
}

std::string describe(const Task& task, const Action& a) {
  if (a.type == ActionType::kInvalid) return "<invalid: " + a.detail + ">";
  const ActionInfo& info = action_info(a.type);
  std::string out(info.name);
  out += "(";
  bool first = true;
  auto sep = [&] { if (!first) out += ", "; first = false; };
  for (int i = 0; i < info.num_objects; ++i) {
    sep();
    out += a.obj[i] >= 0 && a.obj[i] < task.num_objects() ? task.objects[a.obj[i]].name : "?";
  }
  for (int i = 0; i < info.num_numbers; ++i) { sep(); out += std::to_string(a.num[i]); }
  if (a.type == ActionType::kPlace) { sep(); out += a.relation == 2 ? "inside" : "ontop"; }
  if (a.type == ActionType::kGoToRoom) { sep(); out += a.room >= 0 ? task.rooms[a.room] : "?"; }
  return out + ")";
}

}  // namespace emx
