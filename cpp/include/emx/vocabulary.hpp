// The fixed vocabularies of emx: predicates (BDDL + EAI) and object abilities.
// One place, so the parser, the executor, the goal checker and the kernels
// agree on every id.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

namespace emx {

/// Predicates of BEHAVIOR-1K's omnigibson domain plus the iGibson/EAI ones
/// (onfloor, soaked, sliced, dusty, stained). Unary ones first.
enum class Predicate : uint8_t {
  // unary
  kOpen, kToggledOn, kCooked, kFrozen, kSliced, kSoaked, kDusty, kStained,
  kHot, kOnFire, kBroken, kFolded, kUnfolded, kFuture, kReal,
  // binary
  kOnTop, kInside, kNextTo, kUnder, kOnFloor, kTouching, kCovered, kFilled,
  kContains, kSaturated, kOverlaid, kAttached, kDraped, kInSource, kGrasped,
  kInRoom,  // init only: second argument is a room name, not an object
  kCount
};

inline constexpr int kNumPredicates = static_cast<int>(Predicate::kCount);
inline constexpr int kNumUnaryPredicates = static_cast<int>(Predicate::kReal) + 1;

inline constexpr bool is_unary(Predicate p) {
  return static_cast<int>(p) < kNumUnaryPredicates;
}
std::string_view predicate_name(Predicate p);
std::optional<Predicate> predicate_from_name(std::string_view name);

/// What an object category can do or be. Read from the bddl package's synset
/// annotations on the Python side (emx.tasks.knowledge) and handed to C++ as a
/// table of category -> bits.
enum Ability : uint32_t {
  kOpenable = 1u << 0,
  kToggleable = 1u << 1,
  kCookable = 1u << 2,
  kFreezable = 1u << 3,
  kSliceable = 1u << 4,
  kSoakable = 1u << 5,
  kDustyable = 1u << 6,
  kStainable = 1u << 7,
  kHeatSource = 1u << 8,
  kColdSource = 1u << 9,
  kSlicer = 1u << 10,        // a knife: SLICE needs one in hand
  kCleaningTool = 1u << 11,  // rag, brush, towel: CLEAN needs one in hand
  kContainer = 1u << 12,     // things can be placed inside it
  kWaterSource = 1u << 13,   // sink (needs toggled on) or teapot: soaks/cleans what is inside
  kFixed = 1u << 14,         // furniture and appliances: cannot be grasped
  kSubstance = 1u << 15,     // water, dust: not a graspable rigid object
  kHeatable = 1u << 16,
  kFlammable = 1u << 17,
  kCookingVessel = 1u << 18, // saucepan, pan: COOK needs the object in one
  kDishwasher = 1u << 19,    // toggling it on cleans everything inside
  kFloor = 1u << 20,
  kAgent = 1u << 21,
  kSoap = 1u << 22,          // detergent: cleans stains without being soaked
};

/// Ability needed for an object to carry a unary predicate at all. 0 when any
/// object may (hot, future, real ...).
uint32_t ability_for_predicate(Predicate p);

}  // namespace emx
