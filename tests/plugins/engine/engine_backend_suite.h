// The behaviour EngineBackend shares across its dialects (Docker, Podman), as one
// value-parameterised suite against the real engine: engine_backend_test.cc instantiates
// EngineBackendTest with each dialect's EngineBackendHooks (dialect_hooks.h). Every test uses its
// own instance name and removes whatever that instance left, checked through the engine afterwards.
// EngineBackendFixture also serves a dialect's own tests (TEST_F on a subclass that passes its
// hooks).
#pragma once

#include <Poco/JSON/Object.h>
#include <gtest/gtest.h>

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include "grid/engine/engine_client.h"
#include "grid/sandbox_backend.h"

namespace grid::testing {

/// Generous bound for a step that should finish quickly; reaching it fails the test, it is not
/// a timing assertion.
inline constexpr auto kPatience = std::chrono::seconds(60);

/// What the shared suite needs to know about one engine backend.
struct EngineBackendHooks {
  engine::EngineEndpoint endpoint;  // the engine's socket, product ("docker") and display name
  std::string api_version;          // for the suite's own EngineClient
  std::string ping_path;            // GET: 2xx while the engine is up
  std::string image;                // present in the engine before the tests run
  std::function<std::unique_ptr<SandboxBackend>()> make_backend;
  // The engine API paths for a container name: GET its inspect JSON, POST to stop it at once.
  std::function<std::string(const std::string& container)> inspect_path;
  std::function<std::string(const std::string& container)> stop_path;
  // Optional: the engine's own checks of the inspected HostConfig of a sandbox limited to
  // 128 MiB, 0.5 CPUs and 100 pids, beyond the ones every engine reports.
  std::function<void(const Poco::JSON::Object& host_config)> expect_host_limits;
};

/// Test names and failure messages show the product ("docker").
void PrintTo(const EngineBackendHooks& hooks, std::ostream* os);
std::string engineTestName(const ::testing::TestParamInfo<EngineBackendHooks>& info);

/// An EngineClient on the backend's engine, for checks through the engine API.
std::shared_ptr<engine::EngineClient> makeEngineClient(const EngineBackendHooks& hooks);

/// True if the engine answers its ping.
bool engineReachable(const EngineBackendHooks& hooks);

/// An instance name no other test (or test process) uses.
std::string uniqueInstance();

struct Output {
  std::string out;
  std::string err;
  std::optional<int> exit_code;
};

/// Reads until EOF; fails the test on an error or if EOF does not come within kPatience.
Output drain(ProcessChannel& channel);

class EngineBackendFixture : public ::testing::Test {
 protected:
  explicit EngineBackendFixture(EngineBackendHooks hooks);

  void SetUp() override;
  void TearDown() override;

  BackendConfig config() const;
  BackendConfig config(const std::string& instance) const;
  SandboxSpec spec(const std::string& id) const;
  void create(const SandboxSpec& spec);
  Output run(const std::string& id, std::vector<std::string> argv);
  // The engine's inspect JSON of the sandbox's container; null if it does not exist.
  Poco::JSON::Object::Ptr inspect(const std::string& id);
  // The containers of `instance` the engine lists; -1 if it could not be asked.
  int countContainers(const std::string& instance);

  const EngineBackendHooks hooks_;
  std::string instance_;
  std::shared_ptr<engine::EngineClient> client_;
  std::unique_ptr<SandboxBackend> backend_;
};

/// Instantiate once per dialect (engine_backend_test.cc):
///   INSTANTIATE_TEST_SUITE_P(Docker, EngineBackendTest, ::testing::Values(dockerHooks()),
///                            engineTestName);
class EngineBackendTest : public EngineBackendFixture,
                          public ::testing::WithParamInterface<EngineBackendHooks> {
 protected:
  EngineBackendTest() : EngineBackendFixture(GetParam()) {}
};

}  // namespace grid::testing
