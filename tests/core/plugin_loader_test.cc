#include "plugin/plugin_loader.h"

#include <gtest/gtest.h>

namespace grid {
namespace {

TEST(PluginLoaderTest, LoadsAValidPlugin) {
  auto backend = loadBackendPlugin(GRID_TEST_PLUGIN_DIR "/grid-backend-loadertest.so");
  ASSERT_TRUE(backend.ok()) << backend.error().message;
  EXPECT_EQ(backend.value()->name(), "null");
  EXPECT_TRUE(backend.value()->init(BackendConfig{}).ok());
}

TEST(PluginLoaderTest, RefusesAnotherSdkVersion) {
  auto backend = loadBackendPlugin(GRID_TEST_PLUGIN_DIR "/grid-backend-wrongsdk.so");
  ASSERT_FALSE(backend.ok());
  EXPECT_NE(backend.error().message.find("SDK version"), std::string::npos)
      << backend.error().message;
  EXPECT_NE(backend.error().message.find("rebuild"), std::string::npos);
}

TEST(PluginLoaderTest, MissingPluginListsWhatIsThere) {
  auto backend = loadBackendPlugin(GRID_TEST_PLUGIN_DIR "/grid-backend-absent.so");
  ASSERT_FALSE(backend.ok());
  EXPECT_EQ(backend.error().code, ErrorCode::kNotFound);
  EXPECT_NE(backend.error().message.find("loadertest"), std::string::npos)
      << backend.error().message;
}

TEST(PluginLoaderTest, NonPluginIsRefused) {
  auto backend = loadBackendPlugin("/lib/x86_64-linux-gnu/libc.so.6");
  ASSERT_FALSE(backend.ok());
  EXPECT_NE(backend.error().message.find("not a Grid backend plugin"), std::string::npos)
      << backend.error().message;
}

TEST(PluginPathTest, ExplicitPathWinsThenDirectory) {
  EXPECT_EQ(pluginPathFor("docker", "/opt/p", "/x/y.so"), "/x/y.so");
  EXPECT_EQ(pluginPathFor("docker", "/opt/p", ""), "/opt/p/grid-backend-docker.so");
  EXPECT_NE(pluginPathFor("docker", "", "").find("lib/grid/plugins/grid-backend-docker.so"),
            std::string::npos);
}

}  // namespace
}  // namespace grid
