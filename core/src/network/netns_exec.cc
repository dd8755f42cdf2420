#include "network/netns_exec.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <thread>

extern char** environ;

namespace grid {
namespace {

std::string errnoText(const std::string& what, int error) {
  return what + ": " + std::strerror(error);
}

struct Fd {
  int fd = -1;
  Fd() = default;
  explicit Fd(int f) : fd(f) {}
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd() { reset(); }
  void reset() {
    if (fd >= 0) ::close(fd);
    fd = -1;
  }
};

std::string cidrOf(int family, const void* address, const void* mask, bool hosts_only) {
  const size_t bytes = family == AF_INET ? 4 : 16;
  unsigned char network[16] = {};
  std::memcpy(network, address, bytes);
  int prefix = static_cast<int>(bytes * 8);
  if (!hosts_only && mask != nullptr) {
    const auto* m = static_cast<const unsigned char*>(mask);
    prefix = 0;
    for (size_t i = 0; i < bytes; ++i) {
      network[i] &= m[i];
      prefix += __builtin_popcount(m[i]);
    }
  }
  char text[INET6_ADDRSTRLEN] = {};
  inet_ntop(family, network, text, sizeof text);
  return std::string(text) + "/" + std::to_string(prefix);
}

}  // namespace

Result<void> runInNetworkNamespace(int netns_fd, const std::function<Result<void>()>& fn) {
  Result<void> result = fail(ErrorCode::kInternal, "the namespace thread did not run");
  std::thread worker([&] {
    if (netns_fd >= 0 && ::setns(netns_fd, CLONE_NEWNET) != 0) {
      result = fail(ErrorCode::kInternal, errnoText("setns(network namespace)", errno));
      return;
    }
    result = fn();
    // The thread ends here, and its namespace with it: nothing to undo.
  });
  worker.join();
  return result;
}

Result<std::string> runNft(int netns_fd, const std::string& nft_binary,
                           const std::vector<std::string>& args, std::string_view script,
                           std::chrono::milliseconds timeout) {
  std::string out, err;
  GRID_TRY(runInNetworkNamespace(netns_fd, [&]() -> Result<void> {
    int in_pipe[2], out_pipe[2], err_pipe[2];
    if (::pipe2(in_pipe, O_CLOEXEC) != 0)
      return fail(ErrorCode::kInternal, errnoText("pipe2", errno));
    Fd in_r(in_pipe[0]), in_w(in_pipe[1]);
    if (::pipe2(out_pipe, O_CLOEXEC) != 0)
      return fail(ErrorCode::kInternal, errnoText("pipe2", errno));
    Fd out_r(out_pipe[0]), out_w(out_pipe[1]);
    if (::pipe2(err_pipe, O_CLOEXEC) != 0)
      return fail(ErrorCode::kInternal, errnoText("pipe2", errno));
    Fd err_r(err_pipe[0]), err_w(err_pipe[1]);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, in_r.fd, 0);
    posix_spawn_file_actions_adddup2(&actions, out_w.fd, 1);
    posix_spawn_file_actions_adddup2(&actions, err_w.fd, 2);
    std::vector<std::string> argv_storage{nft_binary};
    argv_storage.insert(argv_storage.end(), args.begin(), args.end());
    std::vector<char*> argv;
    for (auto& arg : argv_storage) argv.push_back(arg.data());
    argv.push_back(nullptr);
    pid_t pid = -1;
    const int spawned =
        posix_spawn(&pid, nft_binary.c_str(), &actions, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    if (spawned != 0) {
      return fail(ErrorCode::kUnsupported, errnoText("spawn " + nft_binary, spawned));
    }
    in_r.reset();
    out_w.reset();
    err_w.reset();
    // Fed and drained together with poll, so neither side can block the other.
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    size_t written = 0;
    if (script.empty()) in_w.reset();
    bool timed_out = false;
    while (out_r.fd >= 0 || err_r.fd >= 0 || in_w.fd >= 0) {
      pollfd fds[3] = {{in_w.fd, POLLOUT, 0}, {out_r.fd, POLLIN, 0}, {err_r.fd, POLLIN, 0}};
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) {
        timed_out = true;
        break;
      }
      const int ready = ::poll(fds, 3, static_cast<int>(left.count()));
      if (ready < 0 && errno == EINTR) continue;
      if (ready < 0) break;
      if (in_w.fd >= 0 && (fds[0].revents & (POLLOUT | POLLERR | POLLHUP))) {
        const ssize_t n = ::write(in_w.fd, script.data() + written, script.size() - written);
        if (n > 0) written += static_cast<size_t>(n);
        if (n < 0 || written == script.size()) in_w.reset();
      }
      char buffer[4096];
      for (int i = 1; i < 3; ++i) {
        Fd& fd = i == 1 ? out_r : err_r;
        if (fd.fd < 0 || !(fds[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
        const ssize_t n = ::read(fd.fd, buffer, sizeof buffer);
        if (n <= 0) {
          fd.reset();
        } else if ((i == 1 ? out : err).size() < (1 << 20)) {
          (i == 1 ? out : err).append(buffer, static_cast<size_t>(n));
        }
      }
    }
    if (timed_out) ::kill(pid, SIGKILL);
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    if (timed_out) return fail(ErrorCode::kTimeout, nft_binary + " took longer than its deadline");
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
      while (!err.empty() && (err.back() == '\n')) err.pop_back();
      return fail(ErrorCode::kInternal, nft_binary + " failed: " + err.substr(0, 2000));
    }
    return {};
  }));
  return out;
}

Result<std::vector<std::string>> interfaceNetworks(int netns_fd, bool hosts_only) {
  std::vector<std::string> networks;
  GRID_TRY(runInNetworkNamespace(netns_fd, [&]() -> Result<void> {
    ifaddrs* list = nullptr;
    if (::getifaddrs(&list) != 0) return fail(ErrorCode::kInternal, errnoText("getifaddrs", errno));
    for (const ifaddrs* entry = list; entry != nullptr; entry = entry->ifa_next) {
      if (entry->ifa_addr == nullptr || (entry->ifa_flags & IFF_LOOPBACK)) continue;
      const int family = entry->ifa_addr->sa_family;
      if (family == AF_INET) {
        const auto* a = reinterpret_cast<const sockaddr_in*>(entry->ifa_addr);
        const auto* m = reinterpret_cast<const sockaddr_in*>(entry->ifa_netmask);
        networks.push_back(cidrOf(AF_INET, &a->sin_addr, m ? &m->sin_addr : nullptr, hosts_only));
      } else if (family == AF_INET6) {
        const auto* a = reinterpret_cast<const sockaddr_in6*>(entry->ifa_addr);
        if (IN6_IS_ADDR_LINKLOCAL(&a->sin6_addr)) continue;
        const auto* m = reinterpret_cast<const sockaddr_in6*>(entry->ifa_netmask);
        networks.push_back(
            cidrOf(AF_INET6, &a->sin6_addr, m ? &m->sin6_addr : nullptr, hosts_only));
      }
    }
    ::freeifaddrs(list);
    return {};
  }));
  return networks;
}

}  // namespace grid
