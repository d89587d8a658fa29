#include "emx/vocabulary.hpp"

#include <array>

namespace emx {
namespace {
constexpr std::array<std::string_view, kNumPredicates> kPredicateNames = {
    "open", "toggled_on", "cooked", "frozen", "sliced", "soaked", "dusty", "stained",
    "hot", "on_fire", "broken", "folded", "unfolded", "future", "real",
    "ontop", "inside", "nextto", "under", "onfloor", "touching", "covered", "filled",
    "contains", "saturated", "overlaid", "attached", "draped", "insource", "grasped",
    "inroom",
};
}  // namespace

std::string_view predicate_name(Predicate p) { return kPredicateNames[static_cast<int>(p)]; }

std::optional<Predicate> predicate_from_name(std::string_view name) {
  for (int i = 0; i < kNumPredicates; ++i)
    if (kPredicateNames[i] == name) return static_cast<Predicate>(i);
  return std::nullopt;
}

uint32_t ability_for_predicate(Predicate p) {
  switch (p) {
    case Predicate::kOpen: return kOpenable;
    case Predicate::kToggledOn: return kToggleable;
    case Predicate::kCooked: return kCookable;
    case Predicate::kFrozen: return kFreezable;
    case Predicate::kSliced: return kSliceable;
    case Predicate::kSoaked: return kSoakable;
    case Predicate::kDusty: return kDustyable;
    case Predicate::kStained: return kStainable;
    default: return 0;
  }
}

}  // namespace emx
