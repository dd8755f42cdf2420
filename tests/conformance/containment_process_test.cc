// Containment of processes: nothing of the server (its environment, memory, fds) is
// reachable from inside a sandbox, and nothing inside can stall the server. Runs against
// every backend; checks that only make sense on local-namespace (its own PID 1, user
// namespace ids seen from the host) are guarded on the backend name.
//
// The "server" is this test process (the conformance suite runs the SandboxManager
// in-process). To make a leak of its environment detectable, the process re-executes itself
// once at start-up with a unique marker variable, so the marker sits in its initial
// environment block, which is what /proc/PID/environ shows of a process cloned or forked
// from it.
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <future>
#include <random>
#include <sstream>
#include <tuple>

#include "conformance_fixture.h"

namespace grid::testing {
namespace {

using namespace std::chrono_literals;
namespace fs = std::filesystem;

constexpr const char* kMarkerVar = "GRID_CONTAINMENT_MARKER";

std::string readFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// Before main(): re-exec with the marker in the initial environment (once).
struct MarkerInEnvironment {
  MarkerInEnvironment() {
    if (std::getenv(kMarkerVar) != nullptr) return;
    std::random_device device;
    char value[40];
    std::snprintf(value, sizeof(value), "leak-%08x%08x", device(), device());
    if (::setenv(kMarkerVar, value, 1) != 0) return;
    const std::string cmdline = readFile("/proc/self/cmdline");
    std::vector<std::string> args;
    for (size_t pos = 0; pos < cmdline.size();) {
      size_t end = cmdline.find('\0', pos);
      if (end == std::string::npos) end = cmdline.size();
      args.push_back(cmdline.substr(pos, end - pos));
      pos = end + 1;
    }
    std::vector<char*> argv;
    for (auto& arg : args) argv.push_back(arg.data());
    argv.push_back(nullptr);
    ::execv("/proc/self/exe", argv.data());  // on failure: run on without the re-exec
  }
} marker_in_environment;

std::string marker() {
  const char* value = std::getenv(kMarkerVar);
  return value != nullptr ? value : "";
}

// A grep pattern for the marker variable that does not match its own command line.
std::string selfExcludingPattern() {
  std::string name = kMarkerVar;
  return "'" + name.substr(0, name.size() - 1) + "[" + name.back() + "]='";
}

bool markerInInitialEnvironment() {
  return readFile("/proc/self/environ").find(marker()) != std::string::npos && !marker().empty();
}

/// Host pids whose command line is exactly `argv` (joined by NUL).
std::vector<int> hostPidsRunning(const std::vector<std::string>& argv) {
  std::string wanted;
  for (const auto& arg : argv) wanted += arg + '\0';
  std::vector<int> pids;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator("/proc", ec)) {
    const std::string name = entry.path().filename();
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    if (readFile(entry.path().string() + "/cmdline") == wanted) pids.push_back(std::stoi(name));
  }
  return pids;
}

/// The real uid of host process `pid` from /proc/PID/status; -1 if unknown.
long long hostUidOf(int pid) {
  std::istringstream status(readFile("/proc/" + std::to_string(pid) + "/status"));
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("Uid:", 0) == 0) return std::stoll(line.substr(4));
  }
  return -1;
}

/// The `grid` entry of /etc/subuid as {start, count}; {0, 0} if none.
std::pair<long long, long long> subuidRangeOfGrid() {
  std::istringstream lines(readFile("/etc/subuid"));
  std::string line;
  while (std::getline(lines, line)) {
    if (line.rfind("grid:", 0) != 0) continue;
    const size_t colon = line.find(':', 5);
    if (colon == std::string::npos) continue;
    return {std::stoll(line.substr(5, colon - 5)), std::stoll(line.substr(colon + 1))};
  }
  return {0, 0};
}

class ContainmentProcessTest : public ConformanceTest {
 protected:
  bool isLocalNamespace() const { return conformanceTarget().backend == "local-namespace"; }

  std::string setting(const std::string& key, const std::string& fallback) const {
    const auto& settings = conformanceTarget().config.settingsOf(conformanceTarget().backend);
    const auto it = settings.find(key);
    return it == settings.end() ? fallback : it->second;
  }
};

TEST_F(ContainmentProcessTest, ServerEnvironmentIsNeverVisibleInside) {
  ASSERT_TRUE(markerInInitialEnvironment()) << "the test could not plant its marker";
  CreateRequest request;
  if (isLocalNamespace()) {
    // A PATH of 10000 absent dirs before the real ones: a command looked up through it keeps
    // its process between fork and a successful execve for a while, a window the reader
    // below would see if anything of the server were readable in it.
    std::string path;
    for (int i = 0; i < 10000; ++i) path += "/absent/" + std::to_string(i) + ":";
    request.env["PATH"] = path + "/usr/local/bin:/usr/bin:/bin";
  }
  const std::string id = startSandbox(std::move(request));
  ASSERT_FALSE(id.empty());
  // PID 1's and every visible process's environment and command line.
  auto r = run(id,
               "for p in /proc/[0-9]*; do cat $p/environ $p/cmdline 2>/dev/null; done | "
               "tr '\\0' '\\n' | grep -c " +
                   selfExcludingPattern() + " || true");
  EXPECT_EQ(r.output, "0\n");
  // PID 1's memory: /proc/1/mem (a bash redirection opens it; reading fails on unmapped
  // offsets, so what matters is whether it opens at all).
  r = run(id, "exec 3</proc/1/mem && echo opened || echo denied; exec 3<&-");
  if (isLocalNamespace()) {
    EXPECT_EQ(r.output.find("opened"), std::string::npos) << r.output;
  }
  // ptrace(PTRACE_ATTACH, 1) through perl's syscall() (perl-base is in every Debian image).
  r = run(id,
          "command -v perl >/dev/null || { echo noperl; exit 0; }; "
          "perl -e '$r = syscall(101, 16, 1, 0, 0); print $r == 0 ? \"attached\" : \"denied\"'");
  if (isLocalNamespace()) {
    EXPECT_EQ(r.output, "denied") << r.output;
  }
  // Processes entering the sandbox: a background reader dumps every /proc/*/environ while
  // execs start; none may ever show the marker.
  r = runStandalone(id,
                    "rm -f /tmp/leak /tmp/stop /tmp/rounds; "
                    "(while [ ! -e /tmp/stop ]; do cat /proc/[0-9]*/environ 2>/dev/null | "
                    "tr '\\0' '\\n' | grep -a " +
                        selfExcludingPattern() +
                        " >> /tmp/leak; echo >> /tmp/rounds; done) "
                        ">/dev/null 2>&1 </dev/null & echo started");
  EXPECT_EQ(r.stdout_text, "started\n");
  for (int i = 0; i < 20; ++i) {
    EXPECT_EQ(runStandalone(id, "echo entered").stdout_text, "entered\n");
    EXPECT_EQ(run(id, "echo session").output, "session\n");
    if (!isLocalNamespace()) continue;
    // Straight through the backend: a command found only through the long PATH.
    auto channel = backend().startProcess(id, {{"grid-containment-absent"}, false});
    ASSERT_TRUE(channel.ok()) << channel.error().message;
    const auto deadline = Clock::now() + 30s;
    while (true) {
      auto chunk = channel.value()->read(deadline);
      if (!chunk.ok() || chunk.value().status != ReadResult::Status::kData) break;
    }
    EXPECT_EQ(channel.value()->exitCode(), 127);
  }
  r = run(id, "touch /tmp/stop; wc -l < /tmp/rounds; cat /tmp/leak | wc -c");
  std::istringstream counts(r.output);
  int rounds = 0, leaked = -1;
  counts >> rounds >> leaked;
  EXPECT_GT(rounds, 0) << "the reader never ran: " << r.output;
  EXPECT_EQ(leaked, 0) << run(id, "head -c 300 /tmp/leak").output;
  ASSERT_TRUE(manager_->stop(id, true).ok());
}

TEST_F(ContainmentProcessTest, HoldingEveryReachableFdCannotStallDelete) {
  const std::string id = startSandbox();
  ASSERT_FALSE(id.empty());
  // A background job opens every /proc/*/fd/* it can (pipes read-write, so a held write end
  // would keep a reader from EOF) and keeps them, reopening as new processes come and go.
  auto r = runStandalone(
      id,
      "rm -f /tmp/stop /tmp/held; (ulimit -n 4096; while [ ! -e /tmp/stop ]; do "
      "for f in /proc/[0-9]*/fd/*; do exec {x}<>\"$f\" 2>/dev/null && echo \"$f\" >> /tmp/held; "
      "done; done) >/dev/null 2>&1 </dev/null & echo started");
  EXPECT_EQ(r.stdout_text, "started\n");
  // Processes entering meanwhile: their starts must not fail or hang (their output may be
  // held open by the job, so they may run into their short timeout).
  for (int i = 0; i < 5; ++i) {
    const auto begun = std::chrono::steady_clock::now();
    auto entered = manager_->exec(id, "echo entered", true, 2s);
    EXPECT_TRUE(entered.ok()) << entered.error().message;
    EXPECT_LT(std::chrono::steady_clock::now() - begun, 30s);
  }
  r = runStandalone(id, "wc -l < /tmp/held", 5s);
  std::fprintf(stderr, "[ info ] fds opened by the holder: %s", r.stdout_text.c_str());
  // An exec whose process is being set up while the holder runs, then DELETE: both finish.
  auto exec_during_delete = std::async(std::launch::async, [&] {
    (void)manager_->exec(id, "sleep 1000", true, 60s);
    return true;
  });
  const auto started = std::chrono::steady_clock::now();
  auto stopped = std::async(std::launch::async, [&] { return manager_->stop(id, true); });
  if (stopped.wait_for(120s) != std::future_status::ready) {
    ADD_FAILURE() << "DELETE did not finish within 120 s";
    std::abort();  // a hung teardown cannot be recovered from in-process
  }
  EXPECT_TRUE(stopped.get().ok());
  if (exec_during_delete.wait_for(120s) != std::future_status::ready) {
    ADD_FAILURE() << "an exec did not return within 120 s of DELETE";
    std::abort();
  }
  std::fprintf(stderr, "[ info ] DELETE with fd holders: %.0f ms\n",
               std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - started)
                   .count());
}

TEST_F(ContainmentProcessTest, Pid1IsGridInit) {
  if (!isLocalNamespace()) GTEST_SKIP() << "PID 1 is the engine's keep-alive on this backend";
  const std::string id = startSandbox();
  ASSERT_FALSE(id.empty());
  auto r = run(id, "tr '\\0' ' ' < /proc/1/cmdline; echo; cat /proc/1/comm");
  EXPECT_EQ(r.output, "grid-init init \ngrid-init\n");
  // Its memory is no copy of the server's: tiny, and unreadable (non-dumpable) anyway.
  r = run(id, "cat /proc/1/environ >/dev/null 2>&1 && echo readable || echo denied");
  EXPECT_EQ(r.output, "denied\n");
  r = run(id,
          "for f in /proc/1/fd/*; do exec 3<\"$f\" && echo \"opened $f\"; done 2>/dev/null; "
          "exec 3<&-; echo done");
  EXPECT_EQ(r.output, "done\n");
  ASSERT_TRUE(manager_->stop(id, true).ok());
}

TEST_F(ContainmentProcessTest, RootOwnedImageFilesStayRootsInside) {
  const std::string id = startSandbox();
  ASSERT_FALSE(id.empty());
  // perl's stat, not coreutils': runsc 20221219 answers coreutils 9.1's statx() with EINVAL.
  auto r =
      run(id,
          "perl -e 'for (@ARGV) { my @s = stat or die \"$_: $!\\n\"; print \"$s[4] $s[5]\\n\" }' "
          "/bin/bash /etc/passwd; id -u");
  EXPECT_EQ(r.output, "0 0\n0 0\n0\n");
  ASSERT_TRUE(manager_->stop(id, true).ok());
}

TEST_F(ContainmentProcessTest, SandboxRootIsAnUnprivilegedHostUidOfItsOwn) {
  if (!isLocalNamespace() || ::geteuid() != 0) {
    GTEST_SKIP() << "host-side uid checks are specific to local-namespace (run as root)";
  }
  if (setting("userns", "true") == "false") GTEST_SKIP() << "userns = false in this config";
  long long range_start = 0, range_count = 0;
  const std::string configured = setting("subid_range", "");
  if (!configured.empty()) {
    range_start = std::stoll(configured.substr(0, configured.find(':')));
    range_count = std::stoll(configured.substr(configured.find(':') + 1));
  } else {
    std::tie(range_start, range_count) = subuidRangeOfGrid();
  }
  ASSERT_GT(range_count, 0) << "no subid range for grid (scripts/setup-subids.sh)";

  const std::string a = startSandbox();
  const std::string b = startSandbox();
  ASSERT_FALSE(a.empty());
  ASSERT_FALSE(b.empty());
  // A process per sandbox with a command line unique to this test, found from the host.
  std::random_device device;
  const std::string tag = std::to_string(1000000 + device() % 1000000);
  const std::vector<std::string> argv_a = {"sleep", tag + ".1"};
  const std::vector<std::string> argv_b = {"sleep", tag + ".2"};
  EXPECT_EQ(
      runStandalone(a, "sleep " + tag + ".1 >/dev/null 2>&1 </dev/null & echo ok").stdout_text,
      "ok\n");
  EXPECT_EQ(
      runStandalone(b, "sleep " + tag + ".2 >/dev/null 2>&1 </dev/null & echo ok").stdout_text,
      "ok\n");
  std::vector<int> pids_a, pids_b;
  ASSERT_TRUE(waitUntil([&] {
    pids_a = hostPidsRunning(argv_a);
    pids_b = hostPidsRunning(argv_b);
    return pids_a.size() == 1 && pids_b.size() == 1;
  })) << "the sandboxes' processes are not visible on the host";
  const long long uid_a = hostUidOf(pids_a[0]);
  const long long uid_b = hostUidOf(pids_b[0]);
  EXPECT_NE(uid_a, 0);
  EXPECT_GE(uid_a, range_start);
  EXPECT_LT(uid_a, range_start + range_count);
  EXPECT_GE(uid_b, range_start);
  EXPECT_LT(uid_b, range_start + range_count);
  EXPECT_NE(uid_a, uid_b) << "two sandboxes share a host uid";
  // Inside, the same process is root.
  EXPECT_EQ(run(a, "id -u").output, "0\n");

  // A file the sandbox's root writes lands in its upper dir owned by that host uid (images
  // on an overlay; the read-only `host` image has no upper dir).
  if (conformanceTarget().image != "host") {
    EXPECT_EQ(run(a, "echo x > /grid-owner-check && echo written").output, "written\n");
    const std::string upper_file =
        setting("state_dir", "/var/lib/grid/local-namespace") + "/" + a + "/upper/grid-owner-check";
    struct stat st {};
    ASSERT_EQ(::stat(upper_file.c_str(), &st), 0) << upper_file;
    EXPECT_EQ(static_cast<long long>(st.st_uid), uid_a);
  }
  ASSERT_TRUE(manager_->stop(a, true).ok());
  ASSERT_TRUE(manager_->stop(b, true).ok());
}

}  // namespace
}  // namespace grid::testing
