// Shared state of the conformance suite: the backend under test, loaded through the real
// plugin loader exactly as `grid serve` loads it.
#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <functional>
#include <memory>
#include <string>

#include "grid/sandbox_backend.h"
#include "sandbox/sandbox_manager.h"
#include "config/server_config.h"

namespace grid::testing {

struct ConformanceTarget {
  std::string backend;
  std::string image;
  std::string config_file;
  ServerConfig config;
  std::unique_ptr<SandboxBackend> instance;  // null when unavailable
  std::string unavailable_reason;
};

ConformanceTarget& conformanceTarget();

/// Polls `condition` until true or `limit` passes (waiting on a state change, not a delay).
bool waitUntil(const std::function<bool()>& condition,
               std::chrono::milliseconds limit = std::chrono::seconds(60));

class ConformanceTest : public ::testing::Test {
 protected:
  void SetUp() override;
  void TearDown() override;

  ManagerOptions managerOptions() const;
  /// Creates and starts a sandbox of the target image; fails the test on error.
  std::string startSandbox(CreateRequest request = {});
  ExecResult run(const std::string& id, const std::string& command,
                 std::chrono::milliseconds timeout = std::chrono::seconds(30));
  ExecResult runStandalone(const std::string& id, const std::string& command,
                           std::chrono::milliseconds timeout = std::chrono::seconds(30));

  SandboxBackend& backend() { return *conformanceTarget().instance; }
  std::unique_ptr<SandboxManager> manager_;
};

/// A test with one running sandbox of the target image, started in SetUp.
class OneSandboxTest : public ConformanceTest {
 protected:
  void SetUp() override;
  /// Runs `command` in the sandbox's session.
  ExecResult run(const std::string& command,
                 std::chrono::milliseconds timeout = std::chrono::seconds(30));
  std::string id_;
};

/// A field of this process's /proc/self/status in KiB (VmRSS, VmHWM); -1 if absent. The
/// conformance suite runs the server (the SandboxManager) in this very process.
int64_t procStatusKb(const std::string& field);

/// Resets VmHWM to the current RSS (Linux >= 4.0), so VmHWM afterwards is the peak of what
/// follows; false where the kernel does not support it.
bool resetPeakRss();

}  // namespace grid::testing
