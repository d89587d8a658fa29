// Worker processes: started with posix_spawn, each in its own process group,
// talking over one AF_UNIX stream socket that is the child's stdin and stdout.
//
// Nothing is orphaned: the pool kills each child's whole process group at
// shutdown, and children ask the kernel to kill them when the parent thread
// that started them dies (PR_SET_PDEATHSIG, set by the worker itself through
// prepare_worker_process(), which also exits at once when the parent is gone
// already -- EMX_PARENT_PID in its environment says who the parent was).
// Start workers from a thread that lives as long as they should.
#pragma once

#include <sys/types.h>

#include <string>
#include <unordered_set>
#include <vector>

namespace emx {

struct SpawnedProcess {
  pid_t pid = -1;
  int fd = -1;  // the parent's end of the socket (non-blocking, close-on-exec)
};

class ProcessPool {
 public:
  ProcessPool() = default;
  ProcessPool(const ProcessPool&) = delete;
  ProcessPool& operator=(const ProcessPool&) = delete;
  ~ProcessPool() { kill_all(); }

  /// Starts argv (argv[0] searched on PATH when it has no '/'); env entries
  /// "KEY=VALUE" are added to (or replace) this process's environment.
  /// Throws std::system_error when the program cannot be started.
  SpawnedProcess spawn(const std::vector<std::string>& argv, const std::vector<std::string>& env = {});
  /// Non-blocking: true when pid has exited and is reaped (*status: waitpid's status).
  bool reap(pid_t pid, int* status = nullptr);
  /// SIGKILL to the child's process group and the child, then reaps it (blocking: a
  /// SIGKILLed process exits at once).
  void kill(pid_t pid);
  /// Sends a signal to the child only (tests: SIGSTOP emulates a hung worker).
  void signal(pid_t pid, int sig);
  void kill_all();
  std::vector<pid_t> children() const { return {children_.begin(), children_.end()}; }

 private:
  std::unordered_set<pid_t> children_;
};

/// Called first thing by a worker process: dies with its parent
/// (PR_SET_PDEATHSIG on Linux), exits when the parent is already gone, and
/// moves the protocol off stdout (returned as *out_fd, stdin as *in_fd) so that
/// stray prints from libraries go to stderr instead of corrupting frames.
void prepare_worker_process(int* in_fd, int* out_fd);

/// A readable reason for a waitpid status ("exit status 3", "killed by signal 9").
std::string describe_exit(int status);

}  // namespace emx
