// DockerBackend against the real Docker Engine: the shared engine backend suite with Docker's
// hooks, and the Docker-only settings.
#include "docker_backend.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <memory>
#include <string>

#include "engine_backend_suite.h"
#include "engine_guard.h"

namespace grid::docker {
namespace {

using testing::EngineBackendHooks;
using testing::EngineBackendTest;

constexpr char kSocket[] = "/var/run/docker.sock";

EngineBackendHooks dockerHooks() {
  EngineBackendHooks hooks;
  hooks.endpoint = engine::EngineEndpoint{kSocket, "docker", "Docker Engine"};
  hooks.api_version = kMaxApiVersion;
  hooks.ping_path = "/_ping";
  hooks.image = "grid-test/debian:bookworm";
  hooks.make_backend = [] { return std::make_unique<DockerBackend>(); };
  hooks.inspect_path = [](const std::string& name) { return "/containers/" + name + "/json"; };
  hooks.stop_path = [](const std::string& name) { return "/containers/" + name + "/stop?t=0"; };
  return hooks;
}

INSTANTIATE_TEST_SUITE_P(Docker, EngineBackendTest, ::testing::Values(dockerHooks()),
                         testing::engineTestName);

TEST(DockerBackendInitTest, UnreachableSocketIsUnavailable) {
  DockerBackend backend;
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
  DockerBackend backend;
  EXPECT_EQ(backend.init(BackendConfig{"bad/instance", {}}).error().code,
            ErrorCode::kInvalidArgument);
}

TEST(DockerBackendInitTest, ExplicitApiVersionIsUsed) {
  GRID_REQUIRE_ENGINE(testing::engineReachable(dockerHooks()), std::string("docker at ") + kSocket);
  DockerBackend backend;
  auto init = backend.init(BackendConfig{"inst", {{"api_version", "1.40"}}});
  ASSERT_TRUE(init.ok()) << init.error().message;
  EXPECT_EQ(backend.apiVersion(), "1.40");
  // Without the setting the version is negotiated (this engine speaks kMaxApiVersion).
  DockerBackend negotiated;
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

}  // namespace
}  // namespace grid::docker
