// Interrupting long batch calls from the host application.
//
// Every batch API (evaluate_batch, check_batch, summarize_batch, the CPU state
// check) runs its items on a shared thread pool with the calling thread taking
// part. While an InterruptCheck is installed on the calling thread, that thread
// calls it between items, at most every `period` (and at least that often as
// long as 16 items take less than the period). When it returns true, the
// items not yet started are skipped, the helpers finish the items in hand, and
// the batch call throws emx::Interrupted: no partial results are returned.
//
//   emx::ScopedInterruptCheck guard([] { return ctrl_c_pressed.load(); });
//   try { auto evs = emx::evaluate_batch(inputs, reward); }
//   catch (const emx::Interrupted&) { /* stop cleanly */ }
//
// The Python bindings install one that re-acquires the GIL for an instant and
// calls PyErr_CheckSignals, so Ctrl-C stops a batch within ~0.1 s with the
// interpreter's own KeyboardInterrupt. Without a check installed nothing is
// polled and no time is read.
#pragma once

#include <chrono>
#include <functional>
#include <stdexcept>

namespace emx {

/// Thrown by a batch call whose InterruptCheck returned true.
class Interrupted : public std::runtime_error {
 public:
  Interrupted() : std::runtime_error("interrupted") {}
};

/// Installs `check` on the calling thread for the guard's lifetime (guards
/// nest; the innermost one is used). `check` runs on the calling thread only.
class ScopedInterruptCheck {
 public:
  explicit ScopedInterruptCheck(std::function<bool()> check,
                                std::chrono::milliseconds period = std::chrono::milliseconds(100));
  ~ScopedInterruptCheck();
  ScopedInterruptCheck(const ScopedInterruptCheck&) = delete;
  ScopedInterruptCheck& operator=(const ScopedInterruptCheck&) = delete;

 private:
  std::function<bool()> check_;
  std::chrono::milliseconds period_;
  const ScopedInterruptCheck* outer_;
  friend class InterruptPoller;
};

/// Used by the batch loops: polls the calling thread's check at most every
/// period. `poll()` returns true once the check has said stop (and then always).
class InterruptPoller {
 public:
  InterruptPoller();
  bool active() const { return guard_ != nullptr; }
  bool poll();

 private:
  const ScopedInterruptCheck* guard_;
  std::chrono::steady_clock::time_point next_;
  unsigned calls_ = 0;
  bool stopped_ = false;
};

}  // namespace emx
