#include "conformance_fixture.h"

#include <fstream>
#include <thread>

#include "support/engine_guard.h"

namespace grid::testing {

ConformanceTarget& conformanceTarget() {
  static ConformanceTarget target;
  return target;
}

bool waitUntil(const std::function<bool()>& condition, std::chrono::milliseconds limit) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  auto pause = std::chrono::milliseconds(1);
  while (!condition()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(pause);
    pause = std::min(pause * 2, std::chrono::milliseconds(50));
  }
  return true;
}

void ConformanceTest::SetUp() {
  const auto& target = conformanceTarget();
  GRID_REQUIRE_ENGINE(target.instance != nullptr,
                      target.backend + ": " + target.unavailable_reason);
  manager_ = std::make_unique<SandboxManager>(*conformanceTarget().instance, managerOptions());
}

void ConformanceTest::TearDown() {
  if (manager_) manager_->shutdown();
}

ManagerOptions ConformanceTest::managerOptions() const {
  ManagerOptions options;
  options.backend_name = conformanceTarget().backend;
  options.default_image = conformanceTarget().image;
  options.default_isolation = conformanceTarget().config.default_isolation;
  options.max_running_sandboxes = 4;
  options.start_wait_timeout = std::chrono::seconds(120);
  options.max_output_bytes = 1 << 20;
  return options;
}

std::string ConformanceTest::startSandbox(CreateRequest request) {
  auto created = manager_->create(std::move(request));
  EXPECT_TRUE(created.ok()) << created.error().message;
  if (!created.ok()) return "";
  const std::string id = created.value()->spec().id;
  auto started = manager_->start(id);
  EXPECT_TRUE(started.ok()) << started.error().message;
  return id;
}

ExecResult ConformanceTest::run(const std::string& id, const std::string& command,
                                std::chrono::milliseconds timeout) {
  auto result = manager_->exec(id, command, false, timeout);
  EXPECT_TRUE(result.ok()) << command << ": " << result.error().message;
  return result.ok() ? result.value() : ExecResult{};
}

ExecResult ConformanceTest::runStandalone(const std::string& id, const std::string& command,
                                          std::chrono::milliseconds timeout) {
  auto result = manager_->exec(id, command, true, timeout);
  EXPECT_TRUE(result.ok()) << command << ": " << result.error().message;
  return result.ok() ? result.value() : ExecResult{};
}

void OneSandboxTest::SetUp() {
  ConformanceTest::SetUp();
  if (HasFatalFailure() || IsSkipped()) return;
  id_ = startSandbox();
  ASSERT_FALSE(id_.empty());
}

ExecResult OneSandboxTest::run(const std::string& command, std::chrono::milliseconds timeout) {
  return ConformanceTest::run(id_, command, timeout);
}

int64_t procStatusKb(const std::string& field) {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind(field + ":", 0) == 0) return std::stoll(line.substr(field.size() + 1));
  }
  return -1;
}

bool resetPeakRss() {
  std::ofstream clear("/proc/self/clear_refs");
  clear << "5";
  clear.flush();
  return static_cast<bool>(clear);
}

}  // namespace grid::testing
