#include "emx/world_state.hpp"

#include <algorithm>

namespace emx {

WorldLayout::WorldLayout() { std::fill(std::begin(binary_slot), std::end(binary_slot), int8_t{-1}); }

WorldLayout WorldLayout::make(int32_t num_objects, const std::vector<Predicate>& binary_predicates) {
  WorldLayout L;
  L.num_objects = num_objects;
  L.words = (num_objects + 63) / 64;
  for (Predicate p : binary_predicates) {
    int i = static_cast<int>(p);
    if (is_unary(p) || L.binary_slot[i] >= 0) continue;
    L.binary_slot[i] = static_cast<int8_t>(L.num_binary_slots++);
  }
  return L;
}

WorldState WorldState::empty(const WorldLayout& L) {
  WorldState s;
  s.unary.assign(static_cast<size_t>(kNumUnaryPredicates) * L.words, 0);
  s.binary.assign(static_cast<size_t>(L.num_binary_slots) * L.num_objects * L.words, 0);
  s.present.assign(L.words, 0);
  for (int32_t i = 0; i < L.num_objects; ++i) s.present[i >> 6] |= uint64_t{1} << (i & 63);
  s.parent.assign(L.num_objects, -1);
  s.support.assign(L.num_objects, Support::kNone);
  return s;
}

bool WorldState::get(const WorldLayout& L, Predicate p, int32_t a, int32_t b) const {
  if (is_unary(p)) return (unary[static_cast<size_t>(p) * L.words + (a >> 6)] >> (a & 63)) & 1u;
  int slot = L.binary_slot[static_cast<int>(p)];
  if (slot < 0 || b < 0) return false;
  return (binary[(static_cast<size_t>(slot) * L.num_objects + a) * L.words + (b >> 6)] >> (b & 63)) & 1u;
}

void WorldState::set(const WorldLayout& L, Predicate p, int32_t a, int32_t b, bool value) {
  uint64_t* word;
  int bit;
  if (is_unary(p)) {
    word = &unary[static_cast<size_t>(p) * L.words + (a >> 6)];
    bit = a & 63;
  } else {
    int slot = L.binary_slot[static_cast<int>(p)];
    if (slot < 0 || b < 0) return;  // not stored: the task never reads it
    word = &binary[(static_cast<size_t>(slot) * L.num_objects + a) * L.words + (b >> 6)];
    bit = b & 63;
  }
  if (value) *word |= uint64_t{1} << bit;
  else *word &= ~(uint64_t{1} << bit);
}

void WorldState::set_present(int32_t obj, bool value) {
  if (value) present[obj >> 6] |= uint64_t{1} << (obj & 63);
  else present[obj >> 6] &= ~(uint64_t{1} << (obj & 63));
}

bool WorldState::operator==(const WorldState& o) const {
  return unary == o.unary && binary == o.binary && present == o.present && parent == o.parent &&
         support == o.support && hand[0] == o.hand[0] && hand[1] == o.hand[1] && room == o.room &&
         near == o.near;
}

size_t WorldState::bytes() const {
  return (unary.size() + binary.size() + present.size()) * sizeof(uint64_t) +
         parent.size() * sizeof(int32_t) + support.size() + sizeof(*this);
}

}  // namespace emx
