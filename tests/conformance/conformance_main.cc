// grid-conformance-tests --backend NAME [--config grid.ini] [--image IMAGE]
//                        [--isolation default|gvisor] [gtest flags]
//
// Loads the backend plugin the way `grid serve` does (plugin_dir, or [backend.NAME] plugin),
// initialises it with its [backend.NAME] settings and runs the whole suite against it.
// --isolation (default: [sandbox] isolation of the config) is the isolation of every sandbox
// the suite makes; a backend that cannot offer it counts as unavailable.
#include <gtest/gtest.h>

#include <unistd.h>

#include <cstring>
#include <iostream>

#include "conformance_fixture.h"
#include "plugin/plugin_loader.h"

namespace {

std::string takeFlag(int& argc, char** argv, const char* name) {
  const size_t len = std::strlen(name);
  for (int i = 1; i < argc; ++i) {
    std::string value;
    int consumed = 0;
    if (std::strcmp(argv[i], name) == 0 && i + 1 < argc) {
      value = argv[i + 1];
      consumed = 2;
    } else if (std::strncmp(argv[i], name, len) == 0 && argv[i][len] == '=') {
      value = argv[i] + len + 1;
      consumed = 1;
    }
    if (consumed > 0) {
      for (int j = i; j + consumed < argc; ++j) argv[j] = argv[j + consumed];
      argc -= consumed;
      return value;
    }
  }
  return "";
}

}  // namespace

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  auto& target = grid::testing::conformanceTarget();
  target.backend = takeFlag(argc, argv, "--backend");
  target.config_file = takeFlag(argc, argv, "--config");
  target.image = takeFlag(argc, argv, "--image");
  const std::string isolation = takeFlag(argc, argv, "--isolation");
  if (target.backend.empty() && GTEST_FLAG_GET(list_tests)) return RUN_ALL_TESTS();  // ctest
  if (target.backend.empty()) {
    std::cerr << "usage: grid-conformance-tests --backend NAME [--config grid.ini] [--image IMAGE]"
                 " [--isolation default|gvisor]\n";
    return 2;
  }
  grid::ConfigSources sources;
  if (!target.config_file.empty()) sources.file = target.config_file;
  sources.environment = grid::processEnvironment();
  sources.flags["backend"] = target.backend;
  if (!isolation.empty()) sources.flags["sandbox.isolation"] = isolation;
  auto config = grid::loadServerConfig(sources);
  if (!config.ok()) {
    std::cerr << config.error().message << "\n";
    return 2;
  }
  target.config = config.value();
  // A run's own instance name: concurrent runs on one host must not remove each other's
  // sandboxes as "leftovers".
  target.config.instance += "-" + std::to_string(getpid());
  const auto& settings = target.config.settingsOf(target.backend);
  if (target.image.empty()) {
    const auto it = settings.find("test_image");
    target.image = it != settings.end() ? it->second : target.config.defaultImage();
  }
  auto loaded = grid::loadBackendPlugin(target.config.pluginPath(target.backend));
  if (!loaded.ok()) {
    std::cerr << "conformance: " << loaded.error().message << "\n";
    return 2;  // a plugin that does not load is a failure even outside CI
  }
  auto backend = std::move(loaded.value());
  if (auto ready = backend->init(grid::BackendConfig{target.config.instance, target.config.backendOwnSettings(target.backend)}); !ready.ok()) {
    target.unavailable_reason = ready.error().message;
  } else {
    if (auto leftovers = backend->removeLeftovers(); !leftovers.ok()) {
      std::cerr << "conformance: removing leftovers: " << leftovers.error().message << "\n";
    }
    target.instance = std::move(backend);
    // As `grid serve` does at start-up: an isolation the backend cannot offer fails every test
    // (in CI) with the backend's reason instead of failing each create on its own.
    grid::SandboxSpec probe;
    probe.image = target.image;
    probe.isolation = target.config.default_isolation;
    if (auto supported = target.instance->checkSpec(probe); !supported.ok()) {
      target.unavailable_reason = supported.error().message;
      target.instance.reset();
    }
  }
  std::cerr << "conformance: backend " << target.backend << ", image " << target.image
            << ", isolation " << grid::isolationName(target.config.default_isolation) << "\n";
  const int status = RUN_ALL_TESTS();
  target.instance.reset();
  return status;
}
