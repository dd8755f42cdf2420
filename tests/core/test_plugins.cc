// Plugins for the loader's tests: a minimal valid backend, and (with GRID_TEST_WRONG_SDK) one
// that claims another SDK version.
#include "grid/plugin.h"

namespace loader_test {

class NullBackend : public grid::SandboxBackend {
 public:
  std::string name() const override { return "null"; }
  grid::Result<void> init(const grid::BackendConfig&) override { return {}; }
  grid::Result<std::vector<std::string>> removeLeftovers() override {
    return std::vector<std::string>{};
  }
  grid::Result<void> createSandbox(const grid::SandboxSpec&) override {
    return grid::fail(grid::ErrorCode::kUnsupported, "null backend");
  }
  grid::Result<std::unique_ptr<grid::ProcessChannel>> startProcess(
      const std::string&, const grid::ProcessSpec&) override {
    return grid::fail(grid::ErrorCode::kUnsupported, "null backend");
  }
  grid::Result<void> destroySandbox(const std::string&) override { return {}; }
};

}  // namespace loader_test

#ifdef GRID_TEST_WRONG_SDK
extern "C" __attribute__((visibility("default"))) int gridPluginSdkVersion() {
  return GRID_SDK_VERSION + 1;
}
POCO_BEGIN_MANIFEST(grid::SandboxBackend)
POCO_EXPORT_CLASS(loader_test::NullBackend)
POCO_END_MANIFEST
#else
GRID_REGISTER_BACKEND(loader_test::NullBackend)
#endif
