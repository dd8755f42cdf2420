// Fault injection against the backend under test: what a hostile or broken workload does
// inside a sandbox (fork bomb, memory hog, a flood of output, kill -9 -1, processes left
// behind, large writes) must stay inside it. The server (here: the SandboxManager in this very
// process) keeps answering, and stop leaves nothing of the sandbox behind.
//
// Where the engine runs on this host as root (the in-tree backends in CI), the tests also look
// at the host itself: the sandbox's processes in /proc, its files in the engine's storage, its
// cgroup and state dirs. They first check that the host does see the sandbox's processes or
// files while it runs, so "nothing found after stop" cannot pass vacuously.
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>

#include "conformance_fixture.h"

namespace grid::testing {
namespace {

using namespace std::chrono_literals;
namespace fs = std::filesystem;

constexpr int64_t kMiB = 1 << 20;

std::string randomDigits(size_t n) {
  std::random_device device;
  std::uniform_int_distribution<int> digit(0, 9);
  std::string out;
  for (size_t i = 0; i < n; ++i) out += static_cast<char>('0' + digit(device));
  return out;
}

/// Command lines of every process on this host (arguments joined by '\0', as in /proc).
std::vector<std::string> hostCommandLines() {
  std::vector<std::string> lines;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator("/proc", ec)) {
    const std::string name = entry.path().filename();
    if (name.empty() || name.find_first_not_of("0123456789") != std::string::npos) continue;
    std::ifstream in(entry.path() / "cmdline", std::ios::binary);
    std::stringstream text;
    text << in.rdbuf();
    if (!text.str().empty()) lines.push_back(text.str());  // zombies have no command line
  }
  return lines;
}

/// Host processes whose command line is exactly `argv`.
size_t hostProcessesExactly(const std::vector<std::string>& argv) {
  std::string wanted;
  for (const auto& arg : argv) wanted += arg + '\0';
  size_t n = 0;
  for (const auto& line : hostCommandLines()) n += line == wanted ? 1 : 0;
  return n;
}

/// Host processes whose command line contains `needle`.
size_t hostProcessesContaining(const std::string& needle) {
  size_t n = 0;
  for (const auto& line : hostCommandLines()) n += line.find(needle) != std::string::npos ? 1 : 0;
  return n;
}

class FaultTest : public ConformanceTest {
 protected:
  /// True where the sandbox's processes and files are visible from this process: an in-tree
  /// backend whose engine runs on this host, and we are root. Host-side checks that must see
  /// the sandbox first are only required then; the "nothing left" checks always run.
  // Under gVisor the sandbox's processes are tasks of its sentry (the user-space kernel):
  // the host sees the sentry, never a sandbox process by its command line.
  bool hostSeesSandboxes() const {
    const std::string& name = conformanceTarget().backend;
    return ::geteuid() == 0 && !onGvisor() &&
           (name == "docker" || name == "podman" || name == "local-namespace");
  }
  bool onGvisor() const {
    return conformanceTarget().config.default_isolation == Isolation::kGvisor;
  }
  bool isLocalNamespace() const { return conformanceTarget().backend == "local-namespace"; }

  std::string setting(const std::string& key, const std::string& fallback) const {
    const auto& settings = conformanceTarget().config.settingsOf(conformanceTarget().backend);
    const auto it = settings.find(key);
    return it == settings.end() ? fallback : it->second;
  }

  /// Writable layers where the engines here keep a container's files: Docker's and Podman's
  /// overlay `diff` dirs, local-namespace's `state_dir/<id>/upper`. Returns the host paths
  /// of `relative` (e.g. "var/tmp/f") found in any of them.
  std::vector<std::string> hostCopiesOf(const std::string& relative) const {
    std::vector<std::string> roots = {"/var/lib/docker/overlay2",
                                      "/var/lib/containers/storage/overlay"};
    if (isLocalNamespace()) roots.push_back(setting("state_dir", "/var/lib/grid/local-namespace"));
    std::vector<std::string> found;
    for (const auto& root : roots) {
      std::error_code ec;
      for (const auto& layer : fs::directory_iterator(root, ec)) {
        for (const char* writable : {"diff", "upper"}) {
          const fs::path candidate = layer.path() / writable / relative;
          std::error_code exists_ec;
          if (fs::exists(candidate, exists_ec)) found.push_back(candidate.string());
        }
      }
    }
    return found;
  }

  /// What local-namespace keeps per sandbox outside it: its state dir and cgroup dirs.
  std::vector<std::string> localNamespaceRemains(const std::string& id) const {
    std::vector<std::string> left;
    if (!isLocalNamespace()) return left;
    const std::string state = setting("state_dir", "/var/lib/grid/local-namespace") + "/" + id;
    if (fs::exists(state)) left.push_back(state);
    const std::string group = setting("cgroup_root", "grid");
    std::error_code ec;
    if (fs::exists("/sys/fs/cgroup/" + group + "/" + id)) left.push_back("/sys/fs/cgroup/" + group + "/" + id);
    for (const auto& controller : fs::directory_iterator("/sys/fs/cgroup", ec)) {
      const fs::path dir = controller.path() / group / id;
      std::error_code exists_ec;
      if (fs::exists(dir, exists_ec)) left.push_back(dir.string());
    }
    return left;
  }

  /// The fork bomb and `kill -9 -1` would hit the host itself through a backend without PID
  /// isolation (the skeleton example): refuse to run them where the sandbox sees this process.
  void requirePidIsolation(const std::string& id) {
    const std::string self = "/proc/" + std::to_string(::getpid()) + "/cmdline";
    auto probe = runStandalone(id, "test -e " + self + " && echo visible || echo hidden");
    ASSERT_EQ(probe.stdout_text, "hidden\n")
        << "the sandbox sees the test process: no PID isolation, so this fault test would hit "
           "the host; exclude FaultTest.* for this backend";
  }

  /// Stops (and forgets) the sandbox, then checks the backend cannot start a process in it and
  /// that no host process whose command line contains one of `needles` survives it.
  void stopAndExpectNothingLeft(const std::string& id, const std::vector<std::string>& needles = {}) {
    const size_t slots_before = manager_->runningSlotsInUse();
    auto stopped = manager_->stop(id, true);
    ASSERT_TRUE(stopped.ok()) << stopped.error().message;
    ProcessSpec probe;
    probe.argv = {"/bin/sh", "-c", "true"};
    auto started = backend().startProcess(id, probe);
    EXPECT_FALSE(started.ok()) << "a process could still be started in the stopped sandbox";
    for (const auto& needle : needles) {
      // Bounded: the engine may reap the last processes a moment after answering.
      EXPECT_TRUE(waitUntil([&] { return hostProcessesContaining(needle) == 0; }, 30s))
          << hostProcessesContaining(needle) << " host processes matching '" << needle
          << "' outlived the sandbox";
    }
    const auto remains = localNamespaceRemains(id);
    EXPECT_TRUE(remains.empty()) << "left behind: " << remains.front();
    EXPECT_EQ(manager_->runningSlotsInUse(), slots_before - 1) << "the slot was not freed";
  }
};

// A fork bomb hits the pids limit inside the sandbox: the exec returns, the host never sees
// more of its processes than the limit, and stop kills every one of them.
TEST_F(FaultTest, ForkBombIsContainedByThePidsLimit) {
  CreateRequest request;
  request.limits = ResourceLimits{0, 0, 64};
  // Under gVisor the engine's pids limit counts the sentry's host threads, not the tenant's
  // processes (tasks inside the sentry): 64 kills the sandbox at start. The bomb is bounded
  // by memory there instead, which ends the whole sandbox (see MemoryHog...).
  if (onGvisor()) request.limits = ResourceLimits{0, 256, 0};
  const std::string id = startSandbox(request);
  ASSERT_FALSE(id.empty());
  requirePidIsolation(id);
  // `bash -c BOMB NAME`: every fork of the bomb carries NAME in its command line, so the host
  // can count them. The classic bomb itself is unchanged.
  const std::string name = "grid-fork-bomb-" + randomDigits(12);
  auto bomb = manager_->exec(id, "bash -c ':(){ :|:& };:' " + name, false, 30s);
  ASSERT_TRUE(bomb.ok()) << bomb.error().message;
  if (hostSeesSandboxes()) {
    size_t most = 0;
    ASSERT_TRUE(waitUntil([&] { return (most = std::max(most, hostProcessesContaining(name))) >= 16; }, 60s))
        << "the fork bomb never ran: at most " << most << " of its processes seen; exec: exit "
        << bomb.value().exit_code << ", timed out " << bomb.value().timed_out << ", exited "
        << bomb.value().exited << ", output " << bomb.value().output.substr(0, 300);
    for (int sample = 0; sample < 20; ++sample) {
      const size_t n = hostProcessesContaining(name);
      ASSERT_LE(n, 64u) << "the pids limit did not hold";
    }
  }
  // The server still answers for this sandbox rather than hanging. If the bomb outran its
  // own exec (the shell's fork retried past the timeout, and no process could be started to
  // interrupt or replace the shell), that exec reported the session ended: later session
  // execs are then a 409, as for any ended session.
  auto next = manager_->exec(id, "echo alive", false, 5s);
  if (onGvisor()) {
    // The sandbox may have been OOM-killed whole: any answer will do, but an answer it is.
  } else if (bomb.value().exited) {
    ASSERT_FALSE(next.ok());
    EXPECT_EQ(next.error().code, ErrorCode::kConflict) << next.error().message;
  } else {
    EXPECT_TRUE(next.ok()) << next.error().message;
  }
  stopAndExpectNothingLeft(id, {name});
}

// A memory hog is OOM-killed inside the sandbox; this process (the server) and the sandbox
// survive it, and the sandbox stops cleanly.
TEST_F(FaultTest, MemoryHogIsKilledInsideTheSandbox) {
  CreateRequest request;
  request.limits = ResourceLimits{0, 64, 0};
  const std::string id = startSandbox(request);
  ASSERT_FALSE(id.empty());
  if (onGvisor()) {
    // The sentry holds all of the sandbox's memory, so the host's OOM killer takes the whole
    // sandbox, not the hog; runsc (20221219) then leaves the engine's exec streams open, so
    // the exec ends at its deadline. What must hold: the deadline is kept, the server lives,
    // later execs fail instead of hanging, and stop cleans up.
    auto hog = manager_->exec(id, "head -c 400m /dev/zero | tail", false, 20s);
    if (hog.ok()) {
      EXPECT_TRUE(hog.value().timed_out || hog.value().exited);
    }
    auto after = manager_->exec(id, "echo alive", true, 10s);
    EXPECT_FALSE(after.ok() && after.value().stdout_text == "alive\n")
        << "the sandbox outlived a 400 MiB hog within 64 MiB under gVisor";
    stopAndExpectNothingLeft(id);
    return;
  }
  // tail keeps the whole last "line" of /dev/zero (no newline ever comes): it grows to 400 MiB.
  auto hog = manager_->exec(id, "head -c 400m /dev/zero | tail", false, 120s);
  ASSERT_TRUE(hog.ok()) << hog.error().message;
  EXPECT_FALSE(hog.value().timed_out) << "the hog was never killed";
  EXPECT_NE(hog.value().exit_code, 0) << "a 400 MiB tail ran within 64 MiB";
  if (hog.value().exited) {
    // The OOM killer chose the session shell: reported as an ended session, standalone works.
    EXPECT_EQ(runStandalone(id, "echo alive").stdout_text, "alive\n");
  } else {
    EXPECT_EQ(run(id, "echo alive").output, "alive\n");
  }
  // The standalone path meets the same limit.
  auto standalone = runStandalone(id, "head -c 400m /dev/zero | tail", 120s);
  EXPECT_FALSE(standalone.timed_out);
  EXPECT_NE(standalone.exit_code, 0);
  stopAndExpectNothingLeft(id);
}

// 1 GiB of output: kept to the configured cap, the rest read and dropped, and this process's
// memory does not grow with it.
TEST_F(FaultTest, GigabyteOfOutputIsCappedWithBoundedServerMemory) {
  const std::string id = startSandbox();
  ASSERT_FALSE(id.empty());
  const size_t cap = managerOptions().max_output_bytes;
  constexpr size_t kNoticeSlack = 256;  // the "[... N bytes truncated ...]" line
  for (const bool standalone : {false, true}) {
    SCOPED_TRACE(standalone ? "standalone exec" : "session exec");
    const int64_t rss_before_kb = procStatusKb("VmRSS");
    ASSERT_GT(rss_before_kb, 0);
    const bool peak_tracked = resetPeakRss();
    auto flood = manager_->exec(id, "head -c 1G /dev/zero", standalone, 600s);
    ASSERT_TRUE(flood.ok()) << flood.error().message;
    const int64_t after_kb = procStatusKb(peak_tracked ? "VmHWM" : "VmRSS");
    const ExecResult& r = flood.value();
    EXPECT_FALSE(r.timed_out);
    EXPECT_EQ(r.exit_code, 0);
    EXPECT_TRUE(r.truncated);
    EXPECT_LE(r.output.size(), cap + kNoticeSlack);
    EXPECT_NE(r.output.find("bytes truncated"), std::string::npos);
    if (standalone) {
      EXPECT_LE(r.stdout_text.size(), cap + kNoticeSlack);
      EXPECT_EQ(r.stderr_text, "");
    }
    EXPECT_LT((after_kb - rss_before_kb) * 1024, 100 * kMiB)
        << (peak_tracked ? "peak" : "") << " RSS grew from " << rss_before_kb << " KiB to "
        << after_kb << " KiB";
  }
  // The session is still in step: the next exec sees only its own output.
  EXPECT_EQ(run(id, "echo after").output, "after\n");
  stopAndExpectNothingLeft(id);
}

// `kill -9 -1` kills every process the session can see but itself and the sandbox's PID 1.
// The exec returns, the session and the sandbox live on, another sandbox is untouched, and
// stop still works.
TEST_F(FaultTest, KillAllInsideTheSandboxLeavesSessionAndSandbox) {
  const std::string bystander = startSandbox();
  const std::string id = startSandbox();
  ASSERT_FALSE(bystander.empty());
  ASSERT_FALSE(id.empty());
  requirePidIsolation(id);
  EXPECT_EQ(run(bystander, "cd /tmp && export MARK=kept").exit_code, 0);
  EXPECT_EQ(run(id, "cd /tmp && export MARK=mine").exit_code, 0);
  auto killed = manager_->exec(id, "sleep 1000 & kill -9 -1", false, 30s);
  ASSERT_TRUE(killed.ok()) << killed.error().message;
  EXPECT_FALSE(killed.value().timed_out);
  EXPECT_FALSE(killed.value().exited) << "kill -1 spares the caller: the session shell";
  EXPECT_EQ(run(id, "echo $PWD $MARK").output, "/tmp mine\n");
  EXPECT_EQ(runStandalone(id, "echo alive").stdout_text, "alive\n");
  EXPECT_EQ(run(bystander, "echo $PWD $MARK").output, "/tmp kept\n");
  stopAndExpectNothingLeft(id);
  EXPECT_EQ(run(bystander, "echo $PWD $MARK").output, "/tmp kept\n");
  ASSERT_TRUE(manager_->stop(bystander, true).ok());
}

// Orphans (processes whose parent exited) are re-parented to the sandbox's PID 1, which must
// reap them: zombies would pile up against the pids limit over a long rollout.
TEST_F(FaultTest, OrphansAreReaped) {
  const std::string id = startSandbox();
  ASSERT_FALSE(id.empty());
  requirePidIsolation(id);
  // Each subshell exits at once, orphaning its `true`; standalone execs have no shell of the
  // session's to adopt them either.
  EXPECT_EQ(run(id, "for i in 1 2 3 4 5; do (true &); done").exit_code, 0);
  EXPECT_EQ(runStandalone(id, "for i in 1 2 3 4 5; do (true &); done").exit_code, 0);
  const std::string zombies =
      "for s in /proc/[0-9]*/stat; do read -r line < $s && case \"${line##*) }\" in Z*) "
      "echo \"$line\";; esac; done 2>/dev/null; true";
  std::string left;
  EXPECT_TRUE(waitUntil([&] { return (left = runStandalone(id, zombies).stdout_text).empty(); }, 30s))
      << "zombies: " << left;
  stopAndExpectNothingLeft(id);
}

// Processes detached from the session (nohup, setsid, from a standalone exec) do not outlive
// the sandbox; on local-namespace this is the cgroup kill.
TEST_F(FaultTest, DetachedProcessesDieWithTheSandbox) {
  const std::string id = startSandbox();
  ASSERT_FALSE(id.empty());
  // Unique durations make each sleep's command line unique on this host.
  const std::string stem = "1000." + randomDigits(9);
  const std::vector<std::string> durations = {stem + "1", stem + "2", stem + "3"};
  EXPECT_EQ(run(id, "nohup sleep " + durations[0] + " >/dev/null 2>&1 &").exit_code, 0);
  EXPECT_EQ(run(id, "setsid sleep " + durations[1] + " >/dev/null 2>&1 &").exit_code, 0);
  EXPECT_EQ(runStandalone(id, "setsid sleep " + durations[2] + " >/dev/null 2>&1 &").exit_code, 0);
  // Inside, all three run (and are not the session's children any more for two of them).
  const std::string count_inside =
      "for p in /proc/[0-9]*; do tr '\\0' ' ' < $p/cmdline 2>/dev/null; echo; done | "
      "grep -c '^sleep " + stem + "[123] $'";
  EXPECT_TRUE(waitUntil([&] { return runStandalone(id, count_inside).stdout_text == "3\n"; }, 30s));
  if (hostSeesSandboxes()) {
    for (const auto& duration : durations) {
      EXPECT_EQ(hostProcessesExactly({"sleep", duration}), 1u) << "sleep " << duration;
    }
  }
  stopAndExpectNothingLeft(id, {stem});
}

// 100 MiB written into the sandbox's /tmp (and /var/tmp, on disk for every backend here) are
// gone with it.
TEST_F(FaultTest, FilesWrittenInsideAreRemovedWithTheSandbox) {
  const std::string id = startSandbox();
  ASSERT_FALSE(id.empty());
  const std::string file = "grid-fault-fill-" + randomDigits(12);
  auto written = run(id,
                     "head -c 100M /dev/zero > /tmp/" + file + " && head -c 100M /dev/zero > "
                     "/var/tmp/" + file + " && sync && wc -c < /tmp/" + file + " && wc -c < /var/tmp/" + file,
                     120s);
  EXPECT_EQ(written.output, "104857600\n104857600\n");
  if (hostSeesSandboxes()) {
    // The writable layer is where the engine keeps it; /tmp is a tmpfs on local-namespace.
    EXPECT_EQ(hostCopiesOf("var/tmp/" + file).size(), 1u);
  }
  stopAndExpectNothingLeft(id);
  for (const auto& relative : {"tmp/" + file, "var/tmp/" + file}) {
    const auto copies = hostCopiesOf(relative);
    EXPECT_TRUE(copies.empty()) << "left behind: " << copies.front();
  }
}

}  // namespace
}  // namespace grid::testing
