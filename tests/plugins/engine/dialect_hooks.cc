#include "dialect_hooks.h"

#include <Poco/JSON/Object.h>

#include <cstdint>
#include <memory>
#include <string>

#include "docker_dialect.h"
#include "engine_backend.h"
#include "podman_dialect.h"

namespace grid::testing {

EngineBackendHooks dockerHooks() {
  EngineBackendHooks hooks;
  hooks.endpoint = engine::EngineEndpoint{"/var/run/docker.sock", "docker", "Docker Engine"};
  hooks.api_version = docker::kMaxApiVersion;
  hooks.ping_path = "/_ping";
  hooks.image = "grid-test/debian:bookworm";
  hooks.make_backend = [] {
    return std::make_unique<engine::EngineBackend>(docker::dockerDialect());
  };
  hooks.inspect_path = [](const std::string& name) { return "/containers/" + name + "/json"; };
  hooks.stop_path = [](const std::string& name) { return "/containers/" + name + "/stop?t=0"; };
  return hooks;
}

EngineBackendHooks podmanHooks() {
  EngineBackendHooks hooks;
  hooks.endpoint = engine::EngineEndpoint{"/run/podman/podman.sock", "podman", "Podman service"};
  hooks.api_version = podman::kLibpodApiVersion;
  hooks.ping_path = "/libpod/_ping";
  // As Podman users write it; the short name resolves to it too (see ShortImageNameResolves).
  hooks.image = "localhost/grid-test/debian:bookworm";
  hooks.make_backend = [] {
    return std::make_unique<engine::EngineBackend>(podman::podmanDialect());
  };
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

}  // namespace grid::testing
