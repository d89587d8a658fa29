#include "emx/interrupt.hpp"

namespace emx {
namespace {
thread_local const ScopedInterruptCheck* t_current = nullptr;
}

ScopedInterruptCheck::ScopedInterruptCheck(std::function<bool()> check, std::chrono::milliseconds period)
    : check_(std::move(check)), period_(period), outer_(t_current) {
  t_current = this;
}

ScopedInterruptCheck::~ScopedInterruptCheck() { t_current = outer_; }

InterruptPoller::InterruptPoller() : guard_(t_current) {
  if (guard_) next_ = std::chrono::steady_clock::now() + guard_->period_;
}

bool InterruptPoller::poll() {
  if (stopped_) return true;
  if (!guard_) return false;
  // The clock is read every 16th item: goal checks take well under a microsecond.
  if ((++calls_ & 15u) != 0) return false;
  auto now = std::chrono::steady_clock::now();
  if (now < next_) return false;
  stopped_ = guard_->check_();
  next_ = std::chrono::steady_clock::now() + guard_->period_;
  return stopped_;
}

}  // namespace emx
