// Isolation levels: a sandbox runs on the kernel its isolation names, and a level the backend
// cannot offer is refused as unsupported when the sandbox is created, never silently weakened.
#include "conformance_fixture.h"

namespace grid::testing {
namespace {

using IsolationTest = ConformanceTest;

// "gvisor" when the sandbox's kernel is gVisor's sentry (its log starts with "Starting
// gVisor..."), else "host". On the host kernel dmesg is usually refused (dmesg_restrict, no
// CAP_SYSLOG), which also reads as "host".
constexpr char kKernelProbe[] =
    "dmesg 2>/dev/null | grep -q 'Starting gVisor' && echo gvisor || echo host";

std::string kernelFor(Isolation isolation) {
  return isolation == Isolation::kGvisor ? "gvisor\n" : "host\n";
}

TEST_F(IsolationTest, SandboxRunsOnTheKernelItsIsolationNames) {
  const std::string id = startSandbox();
  ASSERT_FALSE(id.empty());
  const Isolation isolation = manager_->find(id).value()->spec().isolation;
  EXPECT_EQ(isolation, conformanceTarget().config.default_isolation);
  EXPECT_EQ(run(id, kKernelProbe).output, kernelFor(isolation));
  // Standalone execs enter the same sandbox.
  EXPECT_EQ(runStandalone(id, kKernelProbe).stdout_text, kernelFor(isolation));
}

TEST_F(IsolationTest, GvisorIsHonouredOrRefusedAsUnsupportedAtCreate) {
  CreateRequest request;
  request.isolation = Isolation::kGvisor;
  auto created = manager_->create(request);
  if (!created.ok()) {
    EXPECT_EQ(created.error().code, ErrorCode::kUnsupported) << created.error().message;
    EXPECT_NE(created.error().message.find("gvisor"), std::string::npos) << created.error().message;
    EXPECT_TRUE(manager_->all().empty()) << "a refused create must not register a sandbox";
    return;
  }
  const std::string id = created.value()->spec().id;
  EXPECT_EQ(created.value()->spec().isolation, Isolation::kGvisor);
  auto started = manager_->start(id);
  ASSERT_TRUE(started.ok()) << started.error().message;
  EXPECT_EQ(run(id, kKernelProbe).output, "gvisor\n");
}

TEST_F(IsolationTest, DefaultIsolationRunsOnTheHostKernel) {
  CreateRequest request;
  request.isolation = Isolation::kDefault;
  const std::string id = startSandbox(request);
  ASSERT_FALSE(id.empty());
  EXPECT_EQ(run(id, kKernelProbe).output, "host\n");
}

}  // namespace
}  // namespace grid::testing
