#include "kernel/host_firewall.h"

#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <vector>

#include "util/fd.h"
#include "util/syscall_error.h"

extern char** environ;

namespace grid::localns {
namespace {

// nft and iptables answer in milliseconds; this only bounds one stuck on the xtables lock.
constexpr auto kToolTimeout = std::chrono::seconds(20);
constexpr size_t kMaxToolOutput = 4096;

struct ToolRun {
  int status = -1;     // exit status, -1 if killed or not run
  std::string output;  // stderr and stdout, bounded
};

std::string findTool(const std::string& name) {
  for (const char* dir : {"/usr/sbin/", "/sbin/", "/usr/bin/", "/bin/"}) {
    std::string path = dir + name;
    if (::access(path.c_str(), X_OK) == 0) return path;
  }
  return "";
}

// Runs `argv` (argv[0] an absolute path) with `input` on stdin; bounded output and time.
Result<ToolRun> runTool(const std::vector<std::string>& argv, const std::string& input) {
  Pipe in, out;
  if (!makePipe(&in) || !makePipe(&out))
    return sysFail(ErrorCode::kInternal, "pipe2", argv[0], errno);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, in.read.get(), 0);
  posix_spawn_file_actions_adddup2(&actions, out.write.get(), 1);
  posix_spawn_file_actions_adddup2(&actions, out.write.get(), 2);
  std::vector<char*> args;
  for (const auto& arg : argv) args.push_back(const_cast<char*>(arg.c_str()));
  args.push_back(nullptr);
  char* env[] = {const_cast<char*>("PATH=/usr/sbin:/usr/bin:/sbin:/bin"), nullptr};
  pid_t pid = -1;
  const int err = ::posix_spawn(&pid, argv[0].c_str(), &actions, nullptr, args.data(), env);
  posix_spawn_file_actions_destroy(&actions);
  if (err != 0) return sysFail(ErrorCode::kUnavailable, "posix_spawn", argv[0], err);
  in.read.reset();
  out.write.reset();
  // Rulesets are a few hundred bytes: the pipe buffer takes them without blocking.
  (void)!::write(in.write.get(), input.data(), input.size());
  in.write.reset();
  ToolRun run;
  const auto deadline = std::chrono::steady_clock::now() + kToolTimeout;
  char buffer[1024];
  bool timed_out = false;
  while (true) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      timed_out = true;
      break;
    }
    pollfd p{out.read.get(), POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) continue;
    ssize_t n = ::read(out.read.get(), buffer, sizeof(buffer));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    if (run.output.size() < kMaxToolOutput) run.output.append(buffer, static_cast<size_t>(n));
  }
  int status = 0;
  if (timed_out) {
    ::kill(pid, SIGKILL);
    ::waitpid(pid, &status, 0);
    return fail(ErrorCode::kTimeout, "local-namespace: " + argv[0] + " did not finish in " +
                                         std::to_string(kToolTimeout.count()) + " s");
  }
  // EOF: the tool closed its output, so it is exiting (or, having passed its stdout on,
  // exited); a blocking wait is short.
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  run.status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  while (!run.output.empty() && run.output.back() == '\n') run.output.pop_back();
  return run;
}

Result<void> runNft(const std::string& ruleset) {
  const std::string nft = findTool("nft");
  if (nft.empty()) {
    return fail(ErrorCode::kUnavailable,
                "local-namespace: network needs nftables (`nft` not found; apt-get install "
                "nftables, see scripts/install-deps.sh)");
  }
  GRID_ASSIGN_OR_RETURN(ToolRun run, runTool({nft, "-f", "-"}, ruleset));
  if (run.status != 0) {
    return fail(ErrorCode::kUnavailable, "local-namespace: nft -f - (host rules) exited " +
                                             std::to_string(run.status) + ": " + run.output);
  }
  return {};
}

}  // namespace

Result<void> installHostRules(const std::string& instance, const Ipv4Pool& pool) {
  GRID_TRY(runNft(planHostRules(instance, pool)));
  const std::string iptables = findTool("iptables");
  if (iptables.empty()) return {};
  const auto checks = planForwardAccepts(instance, "-C");
  const auto inserts = planForwardAccepts(instance, "-I");
  for (size_t i = 0; i < checks.size(); ++i) {
    std::vector<std::string> check = {iptables, "-w"};
    check.insert(check.end(), checks[i].begin(), checks[i].end());
    GRID_ASSIGN_OR_RETURN(ToolRun present, runTool(check, ""));
    if (present.status == 0) continue;
    std::vector<std::string> insert = {iptables, "-w"};
    insert.insert(insert.end(), inserts[i].begin(), inserts[i].end());
    GRID_ASSIGN_OR_RETURN(ToolRun added, runTool(insert, ""));
    if (added.status != 0) {
      return fail(ErrorCode::kUnavailable,
                  "local-namespace: iptables -I FORWARD (accept Grid's "
                  "veths) exited " +
                      std::to_string(added.status) + ": " + added.output);
    }
  }
  return {};
}

Result<void> removeHostRules(const std::string& instance) {
  Result<void> result = runNft(planHostRulesRemoval(instance));
  const std::string iptables = findTool("iptables");
  if (iptables.empty()) return result;
  for (const auto& rule : planForwardAccepts(instance, "-D")) {
    std::vector<std::string> remove = {iptables, "-w"};
    remove.insert(remove.end(), rule.begin(), rule.end());
    // Deleting repeats until none is left (-D removes one copy; absent exits 1).
    for (int i = 0; i < 8; ++i) {
      auto run = runTool(remove, "");
      if (!run || run.value().status != 0) break;
    }
  }
  return result;
}

}  // namespace grid::localns
