// Helpers shared by the fork conformance and containment tests.
#pragma once

#include <string>
#include <vector>

#include "conformance_fixture.h"

namespace grid::testing {

/// A test whose sandboxes fork, snapshot and reset. On gVisor, where the engines answer
/// kUnsupported (docs/fork-snapshot.md), it is skipped: ForkTest.GvisorAnswersUnsupported
/// checks that answer instead.
class ForkTestBase : public ConformanceTest {
 protected:
  void SetUp() override {
    ConformanceTest::SetUp();
    if (IsSkipped()) return;
    if (onGvisor()) GTEST_SKIP() << "fork and snapshot are unsupported on gVisor";
    if (hostImage()) GTEST_SKIP() << "a sandbox of the host image cannot be forked";
  }
  static bool onGvisor() {
    return conformanceTarget().config.default_isolation == Isolation::kGvisor;
  }
  static bool hostImage() { return conformanceTarget().image == "host"; }
  /// A directory whose writes the sandbox's own file system keeps.
  static std::string dataDir() { return "/srv/fork"; }

  /// Forks `id` into `count` children; their ids (empty, with a test failure, on error).
  std::vector<std::string> forkOf(const std::string& id, size_t count) {
    std::vector<std::string> ids;
    auto children = manager_->fork(id, count);
    EXPECT_TRUE(children.ok()) << children.error().message;
    if (!children.ok()) return ids;
    for (const auto& child : children.value()) ids.push_back(child->spec().id);
    return ids;
  }
};

}  // namespace grid::testing
