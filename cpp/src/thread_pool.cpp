#include "thread_pool.hpp"

#include "emx/interrupt.hpp"

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <mutex>
#include <thread>
#include <vector>

namespace emx::detail {
namespace {

thread_local bool t_in_pool_job = false;

class Pool {
 public:
  explicit Pool(int workers) {
    for (int i = 0; i < workers; ++i) threads_.emplace_back([this] { loop(); });
  }
  ~Pool() {
    {
      std::lock_guard<std::mutex> lock(m_);
      stop_ = true;
    }
    wake_.notify_all();
    for (auto& t : threads_) t.join();
  }
  int size() const { return static_cast<int>(threads_.size()); }

  // Returns false when the caller's interrupt poller stopped the job early.
  bool run(size_t n, int helpers, const std::function<void(size_t)>& fn, InterruptPoller* poller) {
    std::lock_guard<std::mutex> job_lock(job_m_);  // one job at a time
    {
      std::lock_guard<std::mutex> lock(m_);
      fn_ = &fn;
      n_ = n;
      chunk_ = std::max<size_t>(1, n / (static_cast<size_t>(helpers + 1) * 8));
      next_.store(0);
      invited_ = helpers;
      busy_ = 0;
      ++generation_;
    }
    wake_.notify_all();
    bool finished = work(poller);
    std::unique_lock<std::mutex> lock(m_);
    // Late helpers may still join; closing the invitation first means none
    // starts on a finished job.
    invited_ = 0;
    done_.wait(lock, [this] { return busy_ == 0; });
    fn_ = nullptr;
    return finished;
  }

 private:
  // The caller passes its poller: between items it may stop the job, which
  // makes every thread's next claim come back empty.
  bool work(InterruptPoller* poller = nullptr) {
    t_in_pool_job = true;
    bool finished = true;
    for (;;) {
      size_t begin = next_.fetch_add(chunk_);
      if (begin >= n_) break;
      size_t end = std::min(n_, begin + chunk_);
      for (size_t i = begin; i < end; ++i) {
        if (poller && poller->poll()) {
          next_.store(n_);
          finished = false;
          break;
        }
        (*fn_)(i);
      }
      if (!finished) break;
    }
    t_in_pool_job = false;
    return finished;
  }

  void loop() {
    uint64_t seen = 0;
    std::unique_lock<std::mutex> lock(m_);
    for (;;) {
      wake_.wait(lock, [&] { return stop_ || (generation_ != seen && invited_ > 0); });
      if (stop_) return;
      seen = generation_;
      --invited_;
      ++busy_;
      lock.unlock();
      work();
      lock.lock();
      if (--busy_ == 0) done_.notify_all();
    }
  }

  std::vector<std::thread> threads_;
  std::mutex job_m_, m_;
  std::condition_variable wake_, done_;
  const std::function<void(size_t)>* fn_ = nullptr;
  size_t n_ = 0, chunk_ = 1;
  std::atomic<size_t> next_{0};
  int invited_ = 0, busy_ = 0;
  uint64_t generation_ = 0;
  bool stop_ = false;
};

int hardware_threads() { return static_cast<int>(std::max(1u, std::thread::hardware_concurrency())); }

Pool& pool() {
  static Pool p(hardware_threads() - 1);
  return p;
}

}  // namespace

void parallel_for(size_t n, int threads, const std::function<void(size_t)>& fn) {
  int want = threads > 0 ? threads : hardware_threads();
  want = static_cast<int>(std::min<size_t>(static_cast<size_t>(want), n));
  InterruptPoller poller;
  InterruptPoller* p_poll = poller.active() && !t_in_pool_job ? &poller : nullptr;
  if (want <= 1 || n < 2 || t_in_pool_job) {
    for (size_t i = 0; i < n; ++i) {
      if (p_poll && p_poll->poll()) throw Interrupted();
      fn(i);
    }
    return;
  }
  Pool& p = pool();
  if (!p.run(n, std::min(want - 1, p.size()), fn, p_poll)) throw Interrupted();
}

}  // namespace emx::detail
