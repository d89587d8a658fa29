// Worker processes (emx/rollout_process_pool.hpp).
#include "emx/rollout_process_pool.hpp"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>
#ifdef __linux__
#include <sys/prctl.h>
#endif

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <system_error>

extern char** environ;

namespace emx {
namespace {

[[noreturn]] void throw_errno(int err, const std::string& what) {
  throw std::system_error(err, std::generic_category(), what);
}

}  // namespace

SpawnedProcess ProcessPool::spawn(const std::vector<std::string>& argv, const std::vector<std::string>& env) {
  if (argv.empty()) throw std::invalid_argument("empty worker command");
  int sv[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) throw_errno(errno, "socketpair");
  // The child's end must not land on 0/1/2 (dup2 onto itself would keep close-on-exec).
  for (int& fd : sv) {
    if (fd <= 2) {
      int moved = ::fcntl(fd, F_DUPFD_CLOEXEC, 3);
      ::close(fd);
      fd = moved;
    }
  }
  const int parent_fd = sv[0], child_fd = sv[1];

  // Environment: ours, with env's entries replacing same-named ones.
  std::vector<std::string> envs;
  auto key_of = [](const std::string& kv) { return kv.substr(0, kv.find('=')); };
  std::vector<std::string> extra = env;
  extra.push_back("EMX_PARENT_PID=" + std::to_string(::getpid()));
  for (char** e = environ; e && *e; ++e) {
    std::string kv(*e);
    bool replaced = false;
    for (const auto& x : extra) replaced = replaced || key_of(x) == key_of(kv);
    if (!replaced) envs.push_back(std::move(kv));
  }
  for (const auto& x : extra) envs.push_back(x);
  std::vector<char*> cargv, cenv;
  for (const auto& a : argv) cargv.push_back(const_cast<char*>(a.c_str()));
  cargv.push_back(nullptr);
  for (const auto& e : envs) cenv.push_back(const_cast<char*>(e.c_str()));
  cenv.push_back(nullptr);

  posix_spawn_file_actions_t fa;
  posix_spawnattr_t attr;
  posix_spawn_file_actions_init(&fa);
  posix_spawnattr_init(&attr);
  posix_spawn_file_actions_adddup2(&fa, child_fd, 0);
  posix_spawn_file_actions_adddup2(&fa, child_fd, 1);
  // Own process group: Ctrl-C at a terminal reaches the parent only (which
  // shuts workers down in order), and killpg reaches a worker's own children.
  sigset_t empty, defaults;
  sigemptyset(&empty);
  sigemptyset(&defaults);
  for (int s : {SIGPIPE, SIGINT, SIGTERM, SIGHUP, SIGCHLD}) sigaddset(&defaults, s);
  posix_spawnattr_setpgroup(&attr, 0);
  posix_spawnattr_setsigmask(&attr, &empty);
  posix_spawnattr_setsigdefault(&attr, &defaults);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
  pid_t pid = -1;
  int rc = ::posix_spawnp(&pid, cargv[0], &fa, &attr, cargv.data(), cenv.data());
  posix_spawn_file_actions_destroy(&fa);
  posix_spawnattr_destroy(&attr);
  ::close(child_fd);
  if (rc != 0) {
    ::close(parent_fd);
    throw_errno(rc, "cannot start worker '" + argv[0] + "'");
  }
  int flags = ::fcntl(parent_fd, F_GETFL);
  ::fcntl(parent_fd, F_SETFL, flags | O_NONBLOCK);
  children_.insert(pid);
  return {pid, parent_fd};
}

bool ProcessPool::reap(pid_t pid, int* status) {
  int st = 0;
  pid_t r = ::waitpid(pid, &st, WNOHANG);
  if (r == pid || (r < 0 && errno == ECHILD)) {
    children_.erase(pid);
    if (status) *status = r == pid ? st : 0;
    return true;
  }
  return false;
}

void ProcessPool::kill(pid_t pid) {
  if (pid <= 0 || !children_.count(pid)) return;
  ::killpg(pid, SIGKILL);
  ::kill(pid, SIGKILL);
  int st;
  while (::waitpid(pid, &st, 0) < 0 && errno == EINTR) {
  }
  children_.erase(pid);
}

void ProcessPool::signal(pid_t pid, int sig) {
  if (children_.count(pid)) ::kill(pid, sig);
}

void ProcessPool::kill_all() {
  std::vector<pid_t> all(children_.begin(), children_.end());
  for (pid_t p : all) {
    ::killpg(p, SIGKILL);
    ::kill(p, SIGKILL);
  }
  for (pid_t p : all) {
    int st;
    while (::waitpid(p, &st, 0) < 0 && errno == EINTR) {
    }
  }
  children_.clear();
}

void prepare_worker_process(int* in_fd, int* out_fd) {
#ifdef __linux__
  ::prctl(PR_SET_PDEATHSIG, SIGKILL);
#endif
  if (const char* want = std::getenv("EMX_PARENT_PID")) {
    // The parent died between starting us and the prctl above: nobody would kill us.
    if (std::atoi(want) != static_cast<int>(::getppid())) ::_exit(0);
  }
  ::signal(SIGPIPE, SIG_DFL);
  *in_fd = 0;
  *out_fd = ::fcntl(1, F_DUPFD_CLOEXEC, 3);
  if (*out_fd < 0) *out_fd = 1;
  else ::dup2(2, 1);
}

std::string describe_exit(int status) {
  if (WIFEXITED(status)) return "exit status " + std::to_string(WEXITSTATUS(status));
  if (WIFSIGNALED(status)) {
    int s = WTERMSIG(status);
    const char* name = ::strsignal(s);
    return "killed by signal " + std::to_string(s) + (name ? std::string(" (") + name + ")" : "");
  }
  return "status " + std::to_string(status);
}

}  // namespace emx
