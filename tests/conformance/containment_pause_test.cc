// Containment of pause against a hostile tenant: it cannot reach the freezer to thaw itself,
// and a process that keeps trying to leave its cgroup (to run on while the sandbox is paused)
// is frozen all the same. Backends that cannot pause skip the test.
#include <chrono>
#include <sstream>

#include "conformance_fixture.h"

namespace grid::testing {
namespace {

using namespace std::chrono_literals;
using WallClock = std::chrono::system_clock;

// Every freezer control and cgroup membership file the tenant can see, and a write of the
// value that would thaw it (freezer.state, cgroup.freeze) or move the writer there
// (cgroup.procs, tasks). Prints each file a write succeeded on.
constexpr char kEscapeAttempt[] =
    "for f in $(find /sys/fs/cgroup -maxdepth 6 \\( -name freezer.state -o -name cgroup.freeze "
    "-o -name cgroup.procs -o -name tasks \\) 2>/dev/null); do "
    "case $f in */freezer.state) v=THAWED;; */cgroup.freeze) v=0;; *) v=$BASHPID;; esac; "
    "if (echo $v > $f) 2>/dev/null; then echo \"$f\"; fi; done";

double epochSeconds(WallClock::time_point at) {
  return std::chrono::duration<double>(at.time_since_epoch()).count();
}

using ContainmentPauseTest = OneSandboxTest;

TEST_F(ContainmentPauseTest, TenantCannotThawItselfOrLeaveTheFreeze) {
  // No freezer control is writable from inside.
  const std::string thawed =
      run("for f in $(find /sys/fs/cgroup -maxdepth 6 \\( -name freezer.state -o -name "
          "cgroup.freeze \\) 2>/dev/null); do case $f in */freezer.state) v=THAWED;; *) v=0;; "
          "esac; if (echo $v > $f) 2>/dev/null; then echo \"$f\"; fi; done")
          .output;
  EXPECT_EQ(thawed, "") << "the tenant wrote these freezer controls";

  // A loop that tries every way out of its cgroup before each turn, then logs the turn.
  run(std::string("(while :; do ") + kEscapeAttempt +
      " >/dev/null; echo $EPOCHREALTIME >> /tmp/escape-ticks; sleep 0.01; done) "
      ">/dev/null 2>&1 </dev/null &");
  ASSERT_TRUE(
      waitUntil([&] { return run("wc -l < /tmp/escape-ticks 2>/dev/null").output > "0\n"; }));
  auto paused = manager_->pause(id_);
  if (!paused.ok() && paused.error().code == ErrorCode::kUnsupported) {
    GTEST_SKIP() << conformanceTarget().backend << " cannot pause: " << paused.error().message;
  }
  ASSERT_TRUE(paused.ok()) << paused.error().message;
  const auto paused_at = WallClock::now();
  // The window to watch (its length, not a synchronisation).
  ASSERT_TRUE(waitUntil([&] { return WallClock::now() - paused_at > 500ms; }));
  const auto resuming_at = WallClock::now();
  ASSERT_TRUE(manager_->resume(id_).ok());
  const std::string after = std::to_string(epochSeconds(resuming_at));
  ASSERT_TRUE(waitUntil([&] {
    return run("tail -n 1 /tmp/escape-ticks | awk '{ print ($1 > " + after + ") }'").output ==
           "1\n";
  }));
  std::ostringstream count;
  count << "awk '$1 > " << std::fixed << epochSeconds(paused_at) + 0.05 << " && $1 < "
        << epochSeconds(resuming_at) - 0.05 << " { n++ } END { print n + 0 }' /tmp/escape-ticks";
  EXPECT_EQ(run(count.str()).output, "0\n") << "the tenant ran while its sandbox was paused";
}

}  // namespace
}  // namespace grid::testing
