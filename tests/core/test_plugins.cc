// Plugins for the loader's tests: a minimal valid backend, and (with GRID_TEST_WRONG_SDK) one
// that claims another SDK version. With GRID_TEST_THROWING, a backend that breaks the SDK's
// rule and throws (see ThrowingBackend); with GRID_TEST_THROWING_CONSTRUCTOR, one whose
// constructor throws.
#include <Poco/Exception.h>

#include <stdexcept>

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

// Throws from createSandbox (what, by image: "throw/std" a std::runtime_error, "throw/poco" a
// Poco::IOException, "throw/other" an int), from destroySandbox and pauseSandbox always, and
// otherwise creates nothing but starts processes whose channel throws from read().
class ThrowingBackend : public NullBackend {
 public:
  std::string name() const override { return "throwing"; }
  grid::Result<void> createSandbox(const grid::SandboxSpec& spec) override {
    if (spec.image == "throw/std") throw std::runtime_error("createSandbox exploded");
    if (spec.image == "throw/poco") throw Poco::IOException("createSandbox exploded");
    if (spec.image == "throw/other") throw 42;
    return {};
  }
  grid::Result<std::unique_ptr<grid::ProcessChannel>> startProcess(
      const std::string&, const grid::ProcessSpec&) override {
    return std::unique_ptr<grid::ProcessChannel>(new ThrowingChannel);
  }
  grid::Result<void> destroySandbox(const std::string&) override {
    throw std::logic_error("destroySandbox exploded");
  }
  grid::Result<void> pauseSandbox(const std::string&) override {
    throw std::runtime_error("pauseSandbox exploded");
  }

 private:
  class ThrowingChannel : public grid::ProcessChannel {
   public:
    grid::Result<void> write(std::string_view) override { return {}; }
    void closeStdin() override { throw std::runtime_error("closeStdin exploded"); }
    grid::Result<grid::ReadResult> read(grid::Clock::time_point) override {
      throw std::runtime_error("read exploded");
    }
    std::optional<int> exitCode() override { throw std::runtime_error("exitCode exploded"); }
  };
};

class ThrowingConstructorBackend : public NullBackend {
 public:
  ThrowingConstructorBackend() { throw std::runtime_error("constructor exploded"); }
};

}  // namespace loader_test

#ifdef GRID_TEST_WRONG_SDK
extern "C" __attribute__((visibility("default"))) int gridPluginSdkVersion() {
  return GRID_SDK_VERSION + 1;
}
POCO_BEGIN_MANIFEST(grid::SandboxBackend)
POCO_EXPORT_CLASS(loader_test::NullBackend)
POCO_END_MANIFEST
#elif defined(GRID_TEST_THROWING)
GRID_REGISTER_BACKEND(loader_test::ThrowingBackend)
#elif defined(GRID_TEST_THROWING_CONSTRUCTOR)
GRID_REGISTER_BACKEND(loader_test::ThrowingConstructorBackend)
#else
GRID_REGISTER_BACKEND(loader_test::NullBackend)
#endif
