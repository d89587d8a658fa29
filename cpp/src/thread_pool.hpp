// A process-wide pool of worker threads for the batch APIs. Spawning threads
// per call costs ~50 us each, more than a whole batch of goal checks; the
// pool starts once and sleeps between jobs.
#pragma once

#include <cstddef>
#include <functional>

namespace emx::detail {

/// Runs fn(i) for i in [0, n) on up to `threads` threads (<= 0: all cores),
/// the caller included; returns when all are done. Each i must write only its
/// own output, so results do not depend on the thread count. Jobs from
/// several callers are serialised; a call from inside a job runs inline.
/// With an emx::ScopedInterruptCheck installed on the calling thread, the caller
/// polls it between items and throws emx::Interrupted when it says stop.
void parallel_for(size_t n, int threads, const std::function<void(size_t)>& fn);

}  // namespace emx::detail
