// Attacks through background processes, on every backend: output floods stay within the
// ring's budget, hostile bytes come out as valid JSON text, a process that ignores SIGTERM
// still dies by DELETE, descendants that fork away from the process die with the sandbox,
// and a sandbox cannot start more processes (reader threads) than its limit.
#include <dirent.h>

#include <fstream>
#include <random>

#include "process_test_support.h"
#include "util/utf8.h"

namespace grid::testing {
namespace {

using namespace std::chrono_literals;

class ContainmentBackgroundTest : public ProcessTestBase {};

// Host processes whose command line contains `needle` (every sandbox's processes are host
// processes, except under gVisor, where this finds none).
int hostProcessesMatching(const std::string& needle) {
  int count = 0;
  DIR* proc = ::opendir("/proc");
  if (proc == nullptr) return -1;
  while (dirent* entry = ::readdir(proc)) {
    if (entry->d_name[0] < '0' || entry->d_name[0] > '9') continue;
    std::ifstream in(std::string("/proc/") + entry->d_name + "/cmdline", std::ios::binary);
    std::string cmdline((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    for (char& c : cmdline) c = c == '\0' ? ' ' : c;
    if (cmdline.find(needle) != std::string::npos) ++count;
  }
  ::closedir(proc);
  return count;
}

TEST_F(ContainmentBackgroundTest, AnOutputFloodStaysWithinTheBudget) {
  constexpr size_t kBudget = 256 << 10;
  ProcessTableLimits limits;
  limits.max_output_bytes = kBudget;
  const ProcessEntry entry = spawn("yes 'flood flood flood flood flood flood'", "", {}, limits);
  ASSERT_TRUE(entry.process);
  const OutputRing& ring = entry.process->output();
  // 64 times the budget passes through the ring.
  ASSERT_TRUE(waitUntil([&] { return ring.totalBytes() > 64 * kBudget; }, 120s));
  EXPECT_GT(ring.droppedBytes(), 0u);
  EXPECT_LE(ring.totalBytes() - ring.droppedBytes(), kBudget);
  // A reader from 0 gets the head, then is told what it missed and resumes in the tail.
  auto head = readOutputWhole(ring, 0, kBudget);
  ASSERT_TRUE(head.ok());
  EXPECT_LE(head.value().data.size(), kBudget / 2);
  auto after = readOutputWhole(ring, head.value().next_offset, kBudget);
  ASSERT_TRUE(after.ok());
  EXPECT_GT(after.value().dropped, 0u);
  ASSERT_TRUE(entry.process->kill(Clock::now() + 30s).ok());
  EXPECT_EQ(entry.process->state().status, ProcessStatus::kKilled);
}

TEST_F(ContainmentBackgroundTest, HostileBytesComeOutAsValidJsonText) {
  startApi();
  auto started = http(
      "POST", processesPath(),
      R"({"command": "printf '\\377\\376\\000\\033[2J\\300\\257 \\355\\240\\200 ok\\n'; head -c 4096 /dev/urandom; printf '\\342\\202'"})");
  ASSERT_EQ(started.status, 201) << started.body;
  const std::string one =
      processesPath() + "/" + std::to_string(started.json()->getValue<Poco::UInt64>("pid"));
  auto process = table().find(started.json()->getValue<Poco::UInt64>("pid")).value();
  ASSERT_TRUE(process->waitEnded(Clock::now() + 60s));
  // Read in small steps: every answer parses, and its text is valid UTF-8.
  uint64_t offset = 0;
  std::string text;
  for (int i = 0; i < 10000; ++i) {
    auto answer = http("GET", one + "/output?offset=" + std::to_string(offset) + "&max_bytes=7");
    ASSERT_EQ(answer.status, 200) << answer.body;
    const auto o = answer.json();
    const std::string data = o->getValue<std::string>("data");
    EXPECT_EQ(sanitizeUtf8(data), data);
    text += data;
    offset = o->getValue<Poco::UInt64>("next_offset");
    if (o->getValue<bool>("eof")) break;
  }
  EXPECT_EQ(offset, process->output().totalBytes());
  EXPECT_NE(text.find(" ok\n"), std::string::npos);
  // The cut euro sign at the very end is kept (as U+FFFD), not withheld forever.
  EXPECT_EQ(text.substr(text.size() - 3), "\xEF\xBF\xBD");
}

TEST_F(ContainmentBackgroundTest, AProcessThatIgnoresTermDiesByDelete) {
  startApi();
  auto started = http("POST", processesPath(),
                      R"({"command": "trap '' TERM; echo armed; while :; do sleep 0.217; done"})");
  ASSERT_EQ(started.status, 201) << started.body;
  const auto handle = started.json()->getValue<Poco::UInt64>("pid");
  const std::string one = processesPath() + "/" + std::to_string(handle);
  auto process = table().find(handle).value();
  ASSERT_TRUE(waitForOutput(*process, "armed\n"));
  ASSERT_EQ(http("POST", one + "/signal", R"({"signal": "TERM"})").status, 200);
  auto deleted = http("DELETE", one);
  ASSERT_EQ(deleted.status, 200) << deleted.body;
  EXPECT_EQ(deleted.json()->getValue<std::string>("status"), "killed");
  EXPECT_TRUE(process->output().closed());
  // SIGKILL is delivered at once, but a dying process shows in /proc until it has exited.
  // (Matched by its sleep: PID 1 of docker and podman sandboxes is a `while :` loop too.)
  EXPECT_TRUE(waitUntil([&] {
    return run("for p in /proc/[0-9]*; do tr '\\0' ' ' <$p/cmdline 2>/dev/null; echo; done "
               "| grep -c 'slee[p] 0.217' || true")
               .output == "0\n";
  }));
}

TEST_F(ContainmentBackgroundTest, DescendantsThatForkAwayDieWithTheSandbox) {
  std::random_device device;
  const std::string tag =
      std::to_string(1000 + device() % 9000) + "." + std::to_string(device() % 100000);
  // Two double forks into new sessions: one keeps the process's output open, one does not.
  const ProcessEntry entry = spawn("(setsid sleep " + tag + "1 &); (setsid sleep " + tag +
                                   "2 >/dev/null 2>&1 </dev/null &); echo forked");
  ASSERT_TRUE(entry.process);
  ASSERT_TRUE(waitForOutput(*entry.process, "forked\n"));
  ASSERT_TRUE(waitUntil([&] {
    return run("for p in /proc/[0-9]*; do tr '\\0' ' ' <$p/cmdline 2>/dev/null; echo; done | "
               "grep -c 'slee[p] " +
               tag + "' || true")
               .output == "2\n";
  }));
  // The process itself ended. Where its output stays open (local-namespace) it counts as
  // running until killed; Docker and Podman may end the output with the wrapper, and then it
  // has exited. Either way the kill must leave nothing running.
  auto killed = entry.process->kill(Clock::now() + 30s);
  ASSERT_TRUE(killed.ok()) << killed.error().message;
  const ProcessStatus status = entry.process->state().status;
  EXPECT_TRUE(status == ProcessStatus::kKilled || status == ProcessStatus::kExited)
      << processStatusName(status);
  ASSERT_TRUE(manager_->stop(id_, true).ok());
  EXPECT_EQ(hostProcessesMatching("sleep " + tag), 0);
}

TEST_F(ContainmentBackgroundTest, TooManyProcessesAreRefused) {
  ProcessTableLimits limits;
  limits.max_processes = 3;
  std::vector<ProcessEntry> entries;
  for (int i = 0; i < 3; ++i) entries.push_back(spawn("sleep 300", "", {}, limits));
  BackgroundProcessSpec more{"sleep 300", "", {}};
  auto refused = table().start(backend(), id_, more, limits, Clock::now() + 30s);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().code, ErrorCode::kResourceExhausted);  // 429
  // An ended process makes room; its record goes.
  ASSERT_TRUE(entries[0].process->kill(Clock::now() + 30s).ok());
  auto admitted = table().start(backend(), id_, more, limits, Clock::now() + 30s);
  ASSERT_TRUE(admitted.ok()) << admitted.error().message;
  EXPECT_EQ(table().find(entries[0].handle).error().code, ErrorCode::kNotFound);
  EXPECT_EQ(table().list().size(), 3u);
}

}  // namespace
}  // namespace grid::testing
