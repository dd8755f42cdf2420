// EngineBackend with dockerDialect() against the real Docker Engine: what only Docker does
// (settings, API version, gVisor as a registered runtime). The shared suite runs in
// engine_backend_test.cc.
#include "docker_dialect.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <map>
#include <string>

#include "dialect_hooks.h"
#include "engine_backend.h"
#include "engine_backend_suite.h"
#include "engine_guard.h"

namespace grid::docker {
namespace {

using engine::EngineBackend;

constexpr char kSocket[] = "/var/run/docker.sock";

Result<engine::EngineBackendSettings> parseSettings(
    const std::map<std::string, std::string>& settings) {
  return engine::parseSettings(dockerDialect(), settings);
}

// The dialect's paths and hooks, without an engine.
TEST(DockerDialectTest, EngineApiPaths) {
  const engine::EngineDialect& dialect = dockerDialect();
  EXPECT_EQ(dialect.name, "docker");
  EXPECT_EQ(dialect.default_socket(), "/var/run/docker.sock");
  EXPECT_EQ(dialect.create_path("grid-i-a"), "/containers/create?name=grid-i-a");
  EXPECT_EQ(dialect.start_path("grid-i-a"), "/containers/grid-i-a/start");
  EXPECT_EQ(dialect.remove_path("grid-i-a"), "/containers/grid-i-a?force=1&v=1");
  EXPECT_EQ(dialect.list_path("{\"label\":[]}"),
            "/containers/json?all=1&filters=%7B%22label%22%3A%5B%5D%7D");
  EXPECT_EQ(dialect.image_present_path("grid-test/debian:bookworm"),
            "/images/grid-test/debian:bookworm/json");
  EXPECT_EQ(dialect.pull_path("localhost:5000/img"),
            "/images/create?fromImage=localhost%3A5000%2Fimg&tag=latest");
  EXPECT_EQ(dialect.pull_path("img@sha256:ab"), "/images/create?fromImage=img%40sha256%3Aab");
}

TEST(DockerDialectTest, SeccompProfileIsInlineAndGvisorARuntime) {
  const engine::EngineDialect& dialect = dockerDialect();
  EXPECT_FALSE(dialect.seccomp_profile_file);
  EXPECT_FALSE(dialect.gvisor_service.has_value());
  EXPECT_NE(dialect.runtime_register_hint.find("daemon.json"), std::string::npos);
}

TEST(DockerBackendInitTest, UnreachableSocketIsUnavailable) {
  EngineBackend backend(dockerDialect());
  auto init = backend.init(BackendConfig{"inst", {{"socket", "/nonexistent/docker.sock"}}});
  ASSERT_FALSE(init.ok());
  EXPECT_EQ(init.error().code, ErrorCode::kUnavailable);
  EXPECT_NE(init.error().message.find("unix:///nonexistent/docker.sock"), std::string::npos)
      << init.error().message;
  EXPECT_NE(init.error().message.find("dockerd"), std::string::npos) << init.error().message;
}

TEST(DockerBackendInitTest, SettingsAreValidated) {
  EXPECT_EQ(parseSettings({{"pull_timeout", "abc"}}).error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(parseSettings({{"api_version", "latest"}}).error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(parseSettings({{"sokcet", "/x"}}).error().code, ErrorCode::kInvalidArgument);
  auto parsed = parseSettings({{"socket", "unix:///run/d.sock"}, {"pull_timeout", "12"}});
  ASSERT_TRUE(parsed.ok());
  EXPECT_EQ(parsed.value().socket, "/run/d.sock");
  EXPECT_EQ(parsed.value().pull_timeout, std::chrono::seconds(12));
  EXPECT_EQ(parsed.value().seccomp, seccomp::SeccompMode::kGrid);  // the default
  EXPECT_EQ(parseSettings({{"seccomp", "engine-default"}}).value().seccomp,
            seccomp::SeccompMode::kEngineDefault);
  EXPECT_EQ(parseSettings({{"seccomp", "unconfined"}}).value().seccomp,
            seccomp::SeccompMode::kUnconfined);
  auto bad_seccomp = parseSettings({{"seccomp", "off"}});
  ASSERT_FALSE(bad_seccomp.ok());
  EXPECT_NE(bad_seccomp.error().message.find("[backend.docker] seccomp"), std::string::npos)
      << bad_seccomp.error().message;
  EngineBackend backend(dockerDialect());
  EXPECT_EQ(backend.init(BackendConfig{"bad/instance", {}}).error().code,
            ErrorCode::kInvalidArgument);
}

TEST(DockerBackendInitTest, ExplicitApiVersionIsUsed) {
  GRID_REQUIRE_ENGINE(testing::engineReachable(testing::dockerHooks()),
                      std::string("docker at ") + kSocket);
  EngineBackend backend(dockerDialect());
  auto init = backend.init(BackendConfig{"inst", {{"api_version", "1.40"}}});
  ASSERT_TRUE(init.ok()) << init.error().message;
  EXPECT_EQ(backend.apiVersion(), "1.40");
  // Without the setting the version is negotiated (this engine speaks kMaxApiVersion).
  EngineBackend negotiated(dockerDialect());
  ASSERT_TRUE(negotiated.init(BackendConfig{"inst", {}}).ok());
  EXPECT_EQ(negotiated.apiVersion(), kMaxApiVersion);
  // The engine accepts a whole lifecycle under the explicit version, not only the ping.
  SandboxSpec spec;
  spec.id = "apiver-" + std::to_string(::getpid());
  spec.image = "grid-test/debian:bookworm";
  auto created = backend.createSandbox(spec);
  ASSERT_TRUE(created.ok()) << created.error().message;
  EXPECT_TRUE(backend.destroySandbox(spec.id).ok());
}

// A gvisor sandbox on an engine without the runtime: refused as unsupported, naming the runtime
// and how to register it, before anything is made.
TEST(DockerBackendGvisorTest, MissingRuntimeIsUnsupportedBeforeAnythingIsMade) {
  EngineBackend backend(dockerDialect());
  const std::string instance = "grid-gvisor-test-" + std::to_string(::getpid());
  auto init = backend.init(BackendConfig{instance, {{"gvisor_runtime", "grid-no-such-runtime"}}});
  GRID_REQUIRE_ENGINE(init.ok(), "docker: " + (init.ok() ? "" : init.error().message));
  SandboxSpec spec;
  spec.id = "gvisor-missing";
  spec.image = "grid-test/debian:bookworm";
  EXPECT_TRUE(backend.checkSpec(spec).ok()) << "isolation default needs no runtime";
  spec.isolation = Isolation::kGvisor;
  auto checked = backend.checkSpec(spec);
  ASSERT_FALSE(checked.ok());
  EXPECT_EQ(checked.error().code, ErrorCode::kUnsupported);
  EXPECT_NE(checked.error().message.find("'grid-no-such-runtime'"), std::string::npos)
      << checked.error().message;
  EXPECT_NE(checked.error().message.find("daemon.json"), std::string::npos)
      << checked.error().message;
  auto created = backend.createSandbox(spec);
  ASSERT_FALSE(created.ok());
  EXPECT_EQ(created.error().code, ErrorCode::kUnsupported);
  auto leftovers = backend.removeLeftovers();
  ASSERT_TRUE(leftovers.ok()) << leftovers.error().message;
  EXPECT_TRUE(leftovers.value().empty()) << "a refused sandbox left a container";
}

}  // namespace
}  // namespace grid::docker
