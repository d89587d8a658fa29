// emx_worker: a symbolic rollout worker process. Started by emx::Scheduler
// (or emx.RolloutEngine) with a socket as its stdin and stdout; speaks the
// protocol of emx/worker_protocol.hpp until SHUTDOWN or end of input.
//
//   emx_worker [--name NAME] [--task-cache N] [--heartbeat SECONDS] [--noop] [--slow-us N] [--load-us N]
//
// --noop answers every plan with an empty result (dispatch benchmarks);
// --slow-us sleeps per executed action, emulating a slower machine, and
// --load-us per task load, emulating an expensive scene build (tests).
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "emx/rollout_process_pool.hpp"
#include "emx/rollout_worker.hpp"

int main(int argc, char** argv) {
  emx::WorkerOptions options;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto value = [&](const char* flag) -> const char* {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "emx_worker: %s needs a value\n", flag);
        std::exit(2);
      }
      return argv[++i];
    };
    if (a == "--noop") options.noop = true;
    else if (a == "--name") options.name = value("--name");
    else if (a == "--task-cache") options.task_cache = static_cast<uint32_t>(std::atoi(value("--task-cache")));
    else if (a == "--heartbeat") options.heartbeat_interval_s = std::atof(value("--heartbeat"));
    else if (a == "--slow-us") options.slow_us = static_cast<uint32_t>(std::atoi(value("--slow-us")));
    else if (a == "--load-us") options.load_us = static_cast<uint32_t>(std::atoi(value("--load-us")));
    else {
      std::fprintf(stderr,
                   "usage: emx_worker [--name NAME] [--task-cache N] [--heartbeat SECONDS] [--noop] [--slow-us N] [--load-us N]\n"
                   "  (started by emx::Scheduler; speaks the rollout protocol on stdin/stdout)\n");
      return 2;
    }
  }
  int in_fd = 0, out_fd = 1;
  emx::prepare_worker_process(&in_fd, &out_fd);
  return emx::run_worker(in_fd, out_fd, options);
}
