// Containment of a sandbox's resource accounting (SandboxBackend::sandboxStats, behind
// GET /sandboxes/{id}/stats, GET /metrics and the dashboard): the numbers come from the host
// side (the sandbox's cgroup, the engine), so nothing the tenant writes inside can forge them,
// and a busy tenant cannot make the call outlast its deadline. Runs against every backend; one
// that cannot tell (kUnsupported) is skipped.
#include <future>

#include "conformance_fixture.h"

namespace grid::testing {
namespace {

using namespace std::chrono_literals;

class ContainmentStatsTest : public OneSandboxTest {};

TEST_F(ContainmentStatsTest, TenantCannotForgeItsCpuOrMemory) {
  auto before = backend().sandboxStats(id_, Clock::now() + 10s);
  if (!before.ok() && before.error().code == ErrorCode::kUnsupported) {
    GTEST_SKIP() << before.error().message;
  }
  ASSERT_TRUE(before.ok()) << before.error().message;
  ASSERT_TRUE(before.value().cpu_seconds) << "no CPU time from " << conformanceTarget().backend;
  ASSERT_TRUE(before.value().memory_bytes) << "no memory from " << conformanceTarget().backend;

  // Files named like the accounting, wherever the tenant might write them; then real work.
  run("for d in /sys/fs/cgroup /sys/fs/cgroup/memory /sys/fs/cgroup/cpuacct /sys/fs/cgroup/cpu "
      "/tmp; do echo 1 > $d/memory.usage_in_bytes; echo 1 > $d/memory.current; "
      "echo 'usage_usec 1' > $d/cpu.stat; echo 1 > $d/cpuacct.usage; done 2>/dev/null; true");
  EXPECT_EQ(run("i=0; while [ $i -lt 200000 ]; do i=$((i+1)); done; echo burned").output,
            "burned\n");

  auto after = backend().sandboxStats(id_, Clock::now() + 10s);
  ASSERT_TRUE(after.ok()) << after.error().message;
  ASSERT_TRUE(after.value().cpu_seconds);
  EXPECT_GT(*after.value().cpu_seconds, *before.value().cpu_seconds)
      << "the CPU the tenant burned is not counted";
  ASSERT_TRUE(after.value().memory_bytes);
  EXPECT_GT(*after.value().memory_bytes, 4096u) << "memory reads as the tenant's forged value";
}

TEST_F(ContainmentStatsTest, BusyTenantCannotStallTheCall) {
  auto probe = backend().sandboxStats(id_, Clock::now() + 10s);
  if (!probe.ok() && probe.error().code == ErrorCode::kUnsupported) {
    GTEST_SKIP() << probe.error().message;
  }
  // The session is busy (its operation lock held) while the server asks: stats take no lock
  // of the session and answer by their deadline (generous: this detects a hang, not speed).
  auto busy = std::async(std::launch::async, [&] {
    return run(
        "(for n in 1 2 3 4; do (i=0; while [ $i -lt 100000 ]; do i=$((i+1)); done) & "
        "done; wait); echo idle");
  });
  const auto asked = Clock::now();
  auto stats = backend().sandboxStats(id_, asked + 10s);
  EXPECT_LT(Clock::now() - asked, 20s);
  EXPECT_TRUE(stats.ok()) << stats.error().message;
  EXPECT_EQ(busy.get().output, "idle\n");
  // A sandbox that is gone is an error, not a stale answer.
  ASSERT_TRUE(manager_->stop(id_, true).ok());
  EXPECT_FALSE(backend().sandboxStats(id_, Clock::now() + 10s).ok());
}

}  // namespace
}  // namespace grid::testing
