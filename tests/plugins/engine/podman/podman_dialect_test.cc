// EngineBackend with podmanDialect() against the real Podman service (libpod API): what only
// Podman does (short names, init, settings, the gVisor service). The shared suite runs in
// engine_backend_test.cc.
#include "podman_dialect.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "dialect_hooks.h"
#include "engine_backend.h"
#include "engine_backend_suite.h"
#include "engine_guard.h"
#include "grid/engine/engine_client.h"
#include "spec_generator.h"

namespace grid::podman {
namespace {

using engine::EngineBackend;

Result<engine::EngineBackendSettings> parseSettings(
    const std::map<std::string, std::string>& settings) {
  return engine::parseSettings(podmanDialect(), settings);
}

// The dialect's paths and hooks, without a service.
TEST(PodmanDialectTest, LibpodPaths) {
  const engine::EngineDialect& dialect = podmanDialect();
  EXPECT_EQ(dialect.name, "podman");
  EXPECT_EQ(dialect.create_path("grid-i-a"), "/libpod/containers/create");
  EXPECT_EQ(dialect.start_path("grid-i-a"), "/libpod/containers/grid-i-a/start");
  EXPECT_EQ(dialect.remove_path("grid-i-a"), "/libpod/containers/grid-i-a?force=true&timeout=0");
  EXPECT_EQ(dialect.list_path("{\"label\":[]}"),
            "/libpod/containers/json?all=true&filters=%7B%22label%22%3A%5B%5D%7D");
  EXPECT_EQ(dialect.image_present_path("grid-test/debian:bookworm"),
            "/libpod/images/grid-test/debian:bookworm/exists");
  EXPECT_EQ(dialect.pull_path("debian:12"), "/libpod/images/pull?reference=debian%3A12&quiet=true");
}

TEST(PodmanDialectTest, SeccompProfileIsAFileAndGvisorASecondService) {
  const engine::EngineDialect& dialect = podmanDialect();
  ASSERT_TRUE(dialect.seccomp_profile_file);
  if (geteuid() == 0) {
    EXPECT_EQ(dialect.seccomp_profile_file("{}").rfind("/run/grid/seccomp-", 0), 0u);
  }
  ASSERT_TRUE(dialect.gvisor_service.has_value());
  EXPECT_EQ(dialect.gvisor_service->display_name, "gVisor Podman service");
  EXPECT_NE(dialect.gvisor_service->leftover_filter("inst").find(kIsolationLabel),
            std::string::npos);
}

// The shared fixture, for the tests only Podman has.
class PodmanBackendTest : public testing::EngineBackendFixture {
 protected:
  PodmanBackendTest() : EngineBackendFixture(testing::podmanHooks()) {}
};

TEST_F(PodmanBackendTest, ShortImageNameResolves) {
  SandboxSpec short_name = spec("short");
  short_name.image = "grid-test/debian:bookworm";  // resolves to localhost/... as in `podman run`
  create(short_name);
  EXPECT_EQ(run("short", {"true"}).exit_code, 0);
}

TEST(PodmanBackendInitTest, UnreachableSocketIsUnavailable) {
  EngineBackend backend(podmanDialect());
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
  EngineBackend backend(podmanDialect());
  EXPECT_EQ(backend.init(BackendConfig{"bad/instance", {}}).error().code,
            ErrorCode::kInvalidArgument);
}

TEST(PodmanBackendInitTest, DockerSocketIsNotPodman) {
  auto docker = std::make_shared<engine::EngineClient>(
      engine::EngineEndpoint{"/var/run/docker.sock", "docker", "Docker Engine"});
  auto ping = docker->request("GET", "/_ping");
  if (!ping.ok() || !ping.value().ok()) GTEST_SKIP() << "no Docker Engine to point at";
  EngineBackend backend(podmanDialect());
  auto init = backend.init(BackendConfig{"inst", {{"socket", "/var/run/docker.sock"}}});
  ASSERT_FALSE(init.ok());
  EXPECT_EQ(init.error().code, ErrorCode::kUnavailable);
  EXPECT_NE(init.error().message.find("libpod"), std::string::npos) << init.error().message;
}

bool gvisorServiceUp() {
  engine::EngineClient client(
      engine::EngineEndpoint{"/run/podman/podman-gvisor.sock", "podman", "gVisor Podman service"});
  auto ping = client.request("GET", "/_ping");
  return ping.ok() && ping.value().ok();
}

TEST(PodmanBackendInitTest, GvisorSocketSetting) {
  auto defaults = parseSettings({});
  ASSERT_TRUE(defaults.ok());
  if (geteuid() == 0) {
    EXPECT_EQ(defaults.value().gvisor_socket, "/run/podman/podman-gvisor.sock");
  }
  auto parsed = parseSettings({{"gvisor_socket", "unix:///run/g.sock"}});
  ASSERT_TRUE(parsed.ok()) << parsed.error().message;
  EXPECT_EQ(parsed.value().gvisor_socket, "/run/g.sock");
  EXPECT_EQ(parseSettings({{"gvisor_socket", "g.sock"}}).error().code, ErrorCode::kInvalidArgument);
  auto same = parseSettings({{"socket", "/run/p.sock"}, {"gvisor_socket", "unix:///run/p.sock"}});
  ASSERT_FALSE(same.ok());
  EXPECT_EQ(same.error().code, ErrorCode::kInvalidArgument);
  EXPECT_NE(same.error().message.find("gvisor_socket"), std::string::npos) << same.error().message;
}

// Without the gVisor service init succeeds (the service is optional) and only a gvisor sandbox
// is refused, naming the socket and how to start the service, before anything is made.
TEST(PodmanBackendGvisorTest, MissingGvisorServiceIsUnsupportedBeforeAnythingIsMade) {
  EngineBackend backend(podmanDialect());
  const std::string instance = "grid-gvisor-test-" + std::to_string(::getpid());
  auto init =
      backend.init(BackendConfig{instance, {{"gvisor_socket", "/nonexistent/podman-gvisor.sock"}}});
  GRID_REQUIRE_ENGINE(init.ok(), "podman: " + (init.ok() ? "" : init.error().message));
  SandboxSpec spec;
  spec.id = "gvisor-missing";
  spec.image = "localhost/grid-test/debian:bookworm";
  EXPECT_TRUE(backend.checkSpec(spec).ok()) << "isolation default needs no gVisor service";
  spec.isolation = Isolation::kGvisor;
  auto checked = backend.checkSpec(spec);
  ASSERT_FALSE(checked.ok());
  EXPECT_EQ(checked.error().code, ErrorCode::kUnsupported);
  EXPECT_NE(checked.error().message.find("unix:///nonexistent/podman-gvisor.sock"),
            std::string::npos)
      << checked.error().message;
  EXPECT_NE(checked.error().message.find("containers-gvisor.conf podman system service"),
            std::string::npos)
      << checked.error().message;
  EXPECT_NE(checked.error().message.find("[backend.podman] gvisor_socket"), std::string::npos)
      << checked.error().message;
  auto created = backend.createSandbox(spec);
  ASSERT_FALSE(created.ok());
  EXPECT_EQ(created.error().code, ErrorCode::kUnsupported);
  auto leftovers = backend.removeLeftovers();
  ASSERT_TRUE(leftovers.ok()) << leftovers.error().message;
  EXPECT_TRUE(leftovers.value().empty()) << "a refused sandbox left a container";
}

// A gVisor service whose default runtime is not the configured one would run "gvisor"
// sandboxes on another runtime: refused, naming both.
TEST(PodmanBackendGvisorTest, GvisorServiceOnAnotherRuntimeIsUnsupported) {
  EngineBackend backend(podmanDialect());
  const std::string instance = "grid-gvisor-test-" + std::to_string(::getpid());
  auto init = backend.init(BackendConfig{instance, {{"gvisor_runtime", "grid-no-such-runtime"}}});
  GRID_REQUIRE_ENGINE(init.ok(), "podman: " + (init.ok() ? "" : init.error().message));
  GRID_REQUIRE_ENGINE(gvisorServiceUp(), "gVisor podman service at /run/podman/podman-gvisor.sock");
  SandboxSpec spec;
  spec.id = "gvisor-wrong-runtime";
  spec.image = "localhost/grid-test/debian:bookworm";
  spec.isolation = Isolation::kGvisor;
  auto checked = backend.checkSpec(spec);
  ASSERT_FALSE(checked.ok());
  EXPECT_EQ(checked.error().code, ErrorCode::kUnsupported);
  EXPECT_NE(checked.error().message.find("not 'grid-no-such-runtime'"), std::string::npos)
      << checked.error().message;
}

std::string runOutput(EngineBackend& backend, const std::string& id,
                      const std::vector<std::string>& argv) {
  ProcessSpec process;
  process.argv = argv;
  auto channel = backend.startProcess(id, process);
  if (!channel.ok()) return "startProcess: " + channel.error().message;
  return testing::drain(*channel.value()).out;
}

// gVisor and runc sandboxes of one instance side by side: each runs on its own runtime, and a
// later run of the instance removes both as leftovers, each exactly once.
TEST(PodmanBackendGvisorTest, GvisorAndDefaultSandboxesRunAndAreRemovedAsLeftovers) {
  const std::string instance = testing::uniqueInstance();
  auto first = std::make_unique<EngineBackend>(podmanDialect());
  auto init = first->init(BackendConfig{instance, {}});
  GRID_REQUIRE_ENGINE(init.ok(), "podman: " + (init.ok() ? "" : init.error().message));
  GRID_REQUIRE_ENGINE(gvisorServiceUp(), "gVisor podman service at /run/podman/podman-gvisor.sock");
  SandboxSpec on_runc;
  on_runc.id = "on-runc";
  on_runc.image = "localhost/grid-test/debian:bookworm";
  SandboxSpec on_gvisor = on_runc;
  on_gvisor.id = "on-gvisor";
  on_gvisor.isolation = Isolation::kGvisor;
  ASSERT_TRUE(first->checkSpec(on_gvisor).ok()) << first->checkSpec(on_gvisor).error().message;
  auto created = first->createSandbox(on_runc);
  ASSERT_TRUE(created.ok()) << created.error().message;
  created = first->createSandbox(on_gvisor);
  ASSERT_TRUE(created.ok()) << created.error().message;
  const std::vector<std::string> probe = {"sh", "-c", "uname -r | grep -qx 4.4.0 && echo gvisor"};
  EXPECT_EQ(runOutput(*first, "on-gvisor", probe), "gvisor\n");
  EXPECT_EQ(runOutput(*first, "on-runc", probe), "");

  EngineBackend second(podmanDialect());  // as after a crash of the first
  ASSERT_TRUE(second.init(BackendConfig{instance, {}}).ok());
  auto leftovers = second.removeLeftovers();
  ASSERT_TRUE(leftovers.ok()) << leftovers.error().message;
  std::vector<std::string> removed = leftovers.value();
  std::sort(removed.begin(), removed.end());
  EXPECT_EQ(removed, (std::vector<std::string>{"on-gvisor", "on-runc"}));
  auto again = second.removeLeftovers();
  ASSERT_TRUE(again.ok()) << again.error().message;
  EXPECT_TRUE(again.value().empty());
  // The first backend's destroy of what is gone already counts as removed.
  EXPECT_TRUE(first->destroySandbox("on-gvisor").ok());
  EXPECT_TRUE(first->destroySandbox("on-runc").ok());
}

// With the gVisor service unreachable, the main service removes a running gVisor leftover
// (both share the storage, and ci/containers.conf registers runsc).
TEST(PodmanBackendGvisorTest, MainServiceRemovesGvisorLeftoversWhenTheGvisorServiceIsDown) {
  const std::string instance = testing::uniqueInstance();
  EngineBackend first(podmanDialect());
  auto init = first.init(BackendConfig{instance, {}});
  GRID_REQUIRE_ENGINE(init.ok(), "podman: " + (init.ok() ? "" : init.error().message));
  GRID_REQUIRE_ENGINE(gvisorServiceUp(), "gVisor podman service at /run/podman/podman-gvisor.sock");
  SandboxSpec on_gvisor;
  on_gvisor.id = "left-on-gvisor";
  on_gvisor.image = "localhost/grid-test/debian:bookworm";
  on_gvisor.isolation = Isolation::kGvisor;
  auto created = first.createSandbox(on_gvisor);
  ASSERT_TRUE(created.ok()) << created.error().message;

  EngineBackend without_gvisor(podmanDialect());
  ASSERT_TRUE(
      without_gvisor.init(BackendConfig{instance, {{"gvisor_socket", "/nonexistent/gvisor.sock"}}})
          .ok());
  auto leftovers = without_gvisor.removeLeftovers();
  ASSERT_TRUE(leftovers.ok()) << leftovers.error().message;
  EXPECT_EQ(leftovers.value(), (std::vector<std::string>{"left-on-gvisor"}));
  auto again = without_gvisor.removeLeftovers();
  ASSERT_TRUE(again.ok()) << again.error().message;
  EXPECT_TRUE(again.value().empty()) << "the gVisor container survived its removal";
}

}  // namespace
}  // namespace grid::podman
