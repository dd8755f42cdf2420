// PodmanBackend against the real Podman service (libpod API): the shared engine backend suite
// with Podman's hooks, and the Podman-only behaviour (short names, init, settings).
#include "podman_backend.h"

#include <Poco/JSON/Object.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "engine_backend_suite.h"
#include "grid/engine/engine_client.h"

namespace grid::podman {
namespace {

using testing::EngineBackendHooks;
using testing::EngineBackendTest;

EngineBackendHooks podmanHooks() {
  EngineBackendHooks hooks;
  hooks.endpoint = engine::EngineEndpoint{"/run/podman/podman.sock", "podman", "Podman service"};
  hooks.api_version = kLibpodApiVersion;
  hooks.ping_path = "/libpod/_ping";
  // As Podman users write it; the short name resolves to it too (see ShortImageNameResolves).
  hooks.image = "localhost/grid-test/debian:bookworm";
  hooks.make_backend = [] { return std::make_unique<PodmanBackend>(); };
  hooks.inspect_path = [](const std::string& name) {
    return "/libpod/containers/" + name + "/json";
  };
  hooks.stop_path = [](const std::string& name) {
    return "/libpod/containers/" + name + "/stop?timeout=0";
  };
  // libpod also reports the CPU limit as CFS quota/period and sets swap to the memory limit.
  hooks.expect_host_limits = [](const Poco::JSON::Object& host) {
    EXPECT_EQ(host.getValue<std::int64_t>("CpuQuota"), 50'000);
    EXPECT_EQ(host.getValue<std::int64_t>("CpuPeriod"), 100'000);
    EXPECT_EQ(host.getValue<std::int64_t>("MemorySwap"), 128 * 1024 * 1024);
  };
  return hooks;
}

INSTANTIATE_TEST_SUITE_P(Podman, EngineBackendTest, ::testing::Values(podmanHooks()),
                         testing::engineTestName);

// The shared fixture, for the tests only Podman has.
class PodmanBackendTest : public testing::EngineBackendFixture {
 protected:
  PodmanBackendTest() : EngineBackendFixture(podmanHooks()) {}
};

TEST_F(PodmanBackendTest, ShortImageNameResolves) {
  SandboxSpec short_name = spec("short");
  short_name.image = "grid-test/debian:bookworm";  // resolves to localhost/... as in `podman run`
  create(short_name);
  EXPECT_EQ(run("short", {"true"}).exit_code, 0);
}

TEST(PodmanBackendInitTest, UnreachableSocketIsUnavailable) {
  PodmanBackend backend;
  auto init = backend.init(BackendConfig{"inst", {{"socket", "/nonexistent/podman.sock"}}});
  ASSERT_FALSE(init.ok());
  EXPECT_EQ(init.error().code, ErrorCode::kUnavailable);
  EXPECT_NE(
      init.error().message.find("cannot reach Podman service at unix:///nonexistent/podman.sock"),
      std::string::npos)
      << init.error().message;
  EXPECT_NE(init.error().message.find("podman system service --time=0"), std::string::npos)
      << init.error().message;
  EXPECT_NE(init.error().message.find("[backend.podman] socket"), std::string::npos)
      << init.error().message;
}

TEST(PodmanBackendInitTest, SettingsAreValidated) {
  EXPECT_EQ(parseSettings({{"pull_timeout", "abc"}}).error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(parseSettings({{"socket", "relative.sock"}}).error().code, ErrorCode::kInvalidArgument);
  // api_version is a Docker setting; Podman's is fixed.
  EXPECT_EQ(parseSettings({{"api_version", "1.41"}}).error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(parseSettings({{"sokcet", "/x"}}).error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(parseSettings({{"seccomp", "none"}}).error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(parseSettings({}).value().seccomp, seccomp::SeccompMode::kGrid);
  EXPECT_EQ(parseSettings({{"seccomp", "engine-default"}}).value().seccomp,
            seccomp::SeccompMode::kEngineDefault);
  auto parsed = parseSettings({{"socket", "unix:///run/p.sock"}, {"pull_timeout", "12"}});
  ASSERT_TRUE(parsed.ok());
  EXPECT_EQ(parsed.value().socket, "/run/p.sock");
  EXPECT_EQ(parsed.value().pull_timeout, std::chrono::seconds(12));
  auto defaults = parseSettings({});
  ASSERT_TRUE(defaults.ok());
  EXPECT_EQ(defaults.value().pull_timeout, std::chrono::seconds(300));
  if (geteuid() == 0) {
    EXPECT_EQ(defaults.value().socket, "/run/podman/podman.sock");
  }
  PodmanBackend backend;
  EXPECT_EQ(backend.init(BackendConfig{"bad/instance", {}}).error().code,
            ErrorCode::kInvalidArgument);
}

TEST(PodmanBackendInitTest, DockerSocketIsNotPodman) {
  auto docker = std::make_shared<engine::EngineClient>(
      engine::EngineEndpoint{"/var/run/docker.sock", "docker", "Docker Engine"});
  auto ping = docker->request("GET", "/_ping");
  if (!ping.ok() || !ping.value().ok()) GTEST_SKIP() << "no Docker Engine to point at";
  PodmanBackend backend;
  auto init = backend.init(BackendConfig{"inst", {{"socket", "/var/run/docker.sock"}}});
  ASSERT_FALSE(init.ok());
  EXPECT_EQ(init.error().code, ErrorCode::kUnavailable);
  EXPECT_NE(init.error().message.find("libpod"), std::string::npos) << init.error().message;
}

}  // namespace
}  // namespace grid::podman
