// Prefix schedule of a group (emx/rollout_prefix.hpp).
#include "emx/rollout_prefix.hpp"

#include <algorithm>
#include <numeric>

#include "emx/worker_protocol.hpp"

namespace emx {
namespace {

uint32_t common_prefix(const std::vector<Action>& a, const std::vector<Action>& b) {
  size_t n = std::min(a.size(), b.size());
  size_t i = 0;
  while (i < n && wire::compare_actions(a[i], b[i]) == 0) ++i;
  return static_cast<uint32_t>(i);
}

bool plan_less(const std::vector<Action>& a, const std::vector<Action>& b) {
  size_t n = std::min(a.size(), b.size());
  for (size_t i = 0; i < n; ++i) {
    int c = wire::compare_actions(a[i], b[i]);
    if (c != 0) return c < 0;
  }
  return a.size() < b.size();
}

}  // namespace

std::vector<PrefixStep> prefix_schedule(const std::vector<const std::vector<Action>*>& plans, bool share) {
  const size_t n = plans.size();
  std::vector<PrefixStep> out(n);
  std::vector<uint32_t> order(n);
  std::iota(order.begin(), order.end(), 0u);
  if (!share) {
    for (size_t k = 0; k < n; ++k) out[k].plan = order[k];
    return out;
  }
  // Stable: identical plans keep their input order, so a schedule is a pure
  // function of the group.
  std::stable_sort(order.begin(), order.end(),
                   [&](uint32_t a, uint32_t b) { return plan_less(*plans[a], *plans[b]); });
  std::vector<uint32_t> lcp(n, 0);
  for (size_t k = 1; k < n; ++k) lcp[k] = common_prefix(*plans[order[k - 1]], *plans[order[k]]);
  for (size_t k = 0; k < n; ++k) {
    PrefixStep& s = out[k];
    s.plan = order[k];
    s.resume_depth = lcp[k];
    // Plan j > k branches off this plan's path at depth lcp[j] when no plan in
    // between shares less with its predecessor (the running minimum). Depths at
    // or below resume_depth were saved by an earlier plan already.
    uint32_t running_min = UINT32_MAX;
    for (size_t j = k + 1; j < n; ++j) {
      if (lcp[j] > running_min) continue;
      running_min = lcp[j];
      if (running_min <= s.resume_depth) break;
      s.save_depths.push_back(running_min);
    }
    std::sort(s.save_depths.begin(), s.save_depths.end());
    s.save_depths.erase(std::unique(s.save_depths.begin(), s.save_depths.end()), s.save_depths.end());
  }
  return out;
}

uint64_t scheduled_actions(const std::vector<const std::vector<Action>*>& plans,
                           const std::vector<PrefixStep>& schedule) {
  uint64_t total = 0;
  for (const PrefixStep& s : schedule) total += plans[s.plan]->size() - s.resume_depth;
  return total;
}

}  // namespace emx
