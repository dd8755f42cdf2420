// A plugin that throws, loaded the way `grid serve` loads one: every throw becomes a kInternal
// Error naming the backend and the call, and the manager goes on serving.
#include "plugin/guarded_backend.h"

#include <gtest/gtest.h>

#include "plugin/plugin_loader.h"
#include "sandbox/sandbox_manager.h"

namespace grid {
namespace {

std::unique_ptr<SandboxBackend> loadThrowing() {
  auto loaded = loadBackendPlugin(GRID_TEST_PLUGIN_DIR "/grid-backend-throwing.so");
  EXPECT_TRUE(loaded.ok()) << loaded.error().message;
  return loaded.ok() ? std::move(loaded.value()) : nullptr;
}

ManagerOptions throwingOptions() {
  ManagerOptions options;
  options.backend_name = "throwing";
  options.max_running_sandboxes = 2;
  options.start_wait_timeout = std::chrono::milliseconds(5000);
  return options;
}

std::string startError(SandboxManager& manager, const std::string& image) {
  CreateRequest request;
  request.image = image;
  auto created = manager.create(request);
  EXPECT_TRUE(created.ok()) << created.error().message;
  if (!created.ok()) return "";
  auto started = manager.start(created.value()->spec().id);
  EXPECT_FALSE(started.ok());
  if (started.ok()) return "";
  EXPECT_EQ(started.error().code, ErrorCode::kInternal);
  EXPECT_EQ(created.value()->snapshot().status, SandboxStatus::kFailed);
  return started.error().message;
}

TEST(GuardedBackendTest, EveryKindOfThrowFromCreateBecomesAnInternalError) {
  auto backend = loadThrowing();
  ASSERT_NE(backend, nullptr);
  SandboxManager manager(*backend, throwingOptions());
  EXPECT_EQ(startError(manager, "throw/std"),
            "backend throwing: createSandbox threw: createSandbox exploded");
  EXPECT_EQ(startError(manager, "throw/poco"),
            "backend throwing: createSandbox threw: I/O error: createSandbox exploded");
  EXPECT_EQ(startError(manager, "throw/other"),
            "backend throwing: createSandbox threw: an exception of unknown type");
}

TEST(GuardedBackendTest, ChannelThatThrowsFailsTheStartAndTheManagerServesOn) {
  auto backend = loadThrowing();
  ASSERT_NE(backend, nullptr);
  SandboxManager manager(*backend, throwingOptions());
  // createSandbox succeeds; the session's first read throws, then removing it throws too.
  EXPECT_EQ(startError(manager, "plain"),
            "backend throwing: ProcessChannel::read threw: read exploded");
  // Still serving: slots were given back, records are listed, stop and delete answer.
  EXPECT_EQ(manager.runningSlotsInUse(), 0u);
  EXPECT_EQ(startError(manager, "throw/std"),
            "backend throwing: createSandbox threw: createSandbox exploded");
  const auto sandboxes = manager.all();
  ASSERT_EQ(sandboxes.size(), 2u);
  for (const auto& sandbox : sandboxes) {
    EXPECT_TRUE(manager.stop(sandbox->spec().id, true).ok());
  }
  EXPECT_TRUE(manager.all().empty());
}

TEST(GuardedBackendTest, DirectCallsAreGuardedToo) {
  auto backend = loadThrowing();
  ASSERT_NE(backend, nullptr);
  EXPECT_EQ(backend->name(), "throwing");
  auto destroyed = backend->destroySandbox("x");
  ASSERT_FALSE(destroyed.ok());
  EXPECT_EQ(destroyed.error().code, ErrorCode::kInternal);
  EXPECT_EQ(destroyed.error().message,
            "backend throwing: destroySandbox threw: destroySandbox exploded");
  auto paused = backend->pauseSandbox("x");
  ASSERT_FALSE(paused.ok());
  EXPECT_EQ(paused.error().message, "backend throwing: pauseSandbox threw: pauseSandbox exploded");
  // Not overridden: the SDK's default, through the guard.
  auto resumed = backend->resumeSandbox("x");
  ASSERT_FALSE(resumed.ok());
  EXPECT_EQ(resumed.error().code, ErrorCode::kUnsupported);
  EXPECT_NE(resumed.error().message.find("throwing"), std::string::npos);
  auto channel = backend->startProcess("x", ProcessSpec{{"true"}, false});
  ASSERT_TRUE(channel.ok());
  channel.value()->closeStdin();  // logged, not thrown
  EXPECT_EQ(channel.value()->exitCode(), std::nullopt);
  EXPECT_TRUE(channel.value()->write("input").ok());
}

TEST(GuardedBackendTest, ConstructorThatThrowsIsALoadErrorNamingThePlugin) {
  auto loaded = loadBackendPlugin(GRID_TEST_PLUGIN_DIR "/grid-backend-throwingctor.so");
  ASSERT_FALSE(loaded.ok());
  EXPECT_EQ(loaded.error().code, ErrorCode::kInternal);
  EXPECT_NE(loaded.error().message.find("grid-backend-throwingctor.so"), std::string::npos)
      << loaded.error().message;
  EXPECT_NE(loaded.error().message.find("threw: constructor exploded"), std::string::npos)
      << loaded.error().message;
}

}  // namespace
}  // namespace grid
