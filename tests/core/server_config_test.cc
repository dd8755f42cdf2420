#include "config/server_config.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <fstream>

namespace grid {
namespace {

class ServerConfigTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char dir[] = "/tmp/grid-config-XXXXXX";
    ASSERT_NE(mkdtemp(dir), nullptr);
    dir_ = dir;
  }
  void TearDown() override {
    std::remove(file_.c_str());
    rmdir(dir_.c_str());
  }
  std::string write(const std::string& text) {
    file_ = dir_ + "/grid.ini";
    std::ofstream(file_) << text;
    return file_;
  }
  std::string dir_, file_;
};

TEST_F(ServerConfigTest, BuiltInDefaults) {
  ConfigSources sources;
  sources.file = write("");
  auto config = loadServerConfig(sources);
  ASSERT_TRUE(config.ok()) << config.error().message;
  EXPECT_EQ(config.value().bind, "127.0.0.1");
  EXPECT_EQ(config.value().port, 3000);
  EXPECT_EQ(config.value().max_running_sandboxes, 10u);
  EXPECT_EQ(config.value().max_output_bytes, 1u << 20);
}

TEST_F(ServerConfigTest, MaxSandboxRecordsUnderItsNewName) {
  ConfigSources sources;
  sources.file = write("[server]\nmax_sandbox_records = 20\n");
  auto config = loadServerConfig(sources);
  ASSERT_TRUE(config.ok()) << config.error().message;
  EXPECT_EQ(config.value().max_sandbox_records, 20u);
  EXPECT_EQ(config.value().max_running_sandboxes, 10u);  // a different limit, untouched
  EXPECT_TRUE(config.value().warnings.empty());

  sources.file = write("");
  sources.environment = {{"GRID_SERVER_MAX_SANDBOX_RECORDS", "30"}};
  auto from_env = loadServerConfig(sources);
  ASSERT_TRUE(from_env.ok()) << from_env.error().message;
  EXPECT_EQ(from_env.value().max_sandbox_records, 30u);
  EXPECT_TRUE(from_env.value().warnings.empty());
}

TEST_F(ServerConfigTest, DeprecatedMaxSandboxesStillLimitsRecordsWithOneWarning) {
  ConfigSources sources;
  sources.file = write("[server]\nmax_sandboxes = 40\n");
  auto from_file = loadServerConfig(sources);
  ASSERT_TRUE(from_file.ok()) << from_file.error().message;
  EXPECT_EQ(from_file.value().max_sandbox_records, 40u);
  EXPECT_EQ(from_file.value().max_running_sandboxes, 10u);
  ASSERT_EQ(from_file.value().warnings.size(), 1u);
  EXPECT_EQ(from_file.value().warnings[0],
            "server.max_sandboxes (GRID_SERVER_MAX_SANDBOXES) is deprecated and removed in "
            "0.3.0: use server.max_sandbox_records (GRID_SERVER_MAX_SANDBOX_RECORDS)");

  sources.file = write("");
  sources.environment = {{"GRID_SERVER_MAX_SANDBOXES", "50"}};
  auto from_env = loadServerConfig(sources);
  ASSERT_TRUE(from_env.ok()) << from_env.error().message;
  EXPECT_EQ(from_env.value().max_sandbox_records, 50u);
  EXPECT_EQ(from_env.value().warnings.size(), 1u);

  // A bad value is reported under the name that was written.
  sources.environment = {{"GRID_SERVER_MAX_SANDBOXES", "none"}};
  auto invalid = loadServerConfig(sources);
  ASSERT_FALSE(invalid.ok());
  EXPECT_NE(invalid.error().message.find("server.max_sandboxes = 'none'"), std::string::npos)
      << invalid.error().message;
}

TEST_F(ServerConfigTest, BothNamesGivenTheNewOneWinsWithAWarning) {
  ConfigSources sources;
  sources.file = write("[server]\nmax_sandboxes = 40\n");
  sources.environment = {{"GRID_SERVER_MAX_SANDBOX_RECORDS", "60"}};
  auto config = loadServerConfig(sources);
  ASSERT_TRUE(config.ok()) << config.error().message;
  EXPECT_EQ(config.value().max_sandbox_records, 60u);
  ASSERT_EQ(config.value().warnings.size(), 1u);
  EXPECT_NE(config.value().warnings[0].find("server.max_sandbox_records wins"), std::string::npos)
      << config.value().warnings[0];

  // Even when the old name sits in a source of higher precedence.
  sources.file = write("[server]\nmax_sandbox_records = 70\n");
  sources.environment = {{"GRID_SERVER_MAX_SANDBOXES", "80"}};
  auto reversed = loadServerConfig(sources);
  ASSERT_TRUE(reversed.ok()) << reversed.error().message;
  EXPECT_EQ(reversed.value().max_sandbox_records, 70u);
  EXPECT_EQ(reversed.value().warnings.size(), 1u);
}

TEST_F(ServerConfigTest, FileThenEnvironmentThenFlags) {
  ConfigSources sources;
  sources.file = write(
      "backend = podman\n[server]\nport = 4000\nbind = 0.0.0.0\nmax_running_sandboxes = 3\n"
      "[exec]\ndefault_timeout = 2.5\n[backend.podman]\nsocket = /x.sock\n");
  auto from_file = loadServerConfig(sources);
  ASSERT_TRUE(from_file.ok()) << from_file.error().message;
  EXPECT_EQ(from_file.value().backend, "podman");
  EXPECT_EQ(from_file.value().port, 4000);
  EXPECT_EQ(from_file.value().default_exec_timeout, std::chrono::milliseconds(2500));
  EXPECT_EQ(from_file.value().settingsOf("podman").at("socket"), "/x.sock");

  sources.environment = {{"GRID_SERVER_PORT", "5000"},
                         {"GRID_BACKEND_PODMAN_SOCKET", "/env.sock"},
                         {"GRID_SERVER_MAX_RUNNING_SANDBOXES", "7"}};
  auto from_env = loadServerConfig(sources);
  ASSERT_TRUE(from_env.ok());
  EXPECT_EQ(from_env.value().port, 5000);
  EXPECT_EQ(from_env.value().max_running_sandboxes, 7u);
  EXPECT_EQ(from_env.value().settingsOf("podman").at("socket"), "/env.sock");

  sources.flags = {{"server.port", "6000"}, {"backend", "podman"}};
  auto from_flags = loadServerConfig(sources);
  ASSERT_TRUE(from_flags.ok());
  EXPECT_EQ(from_flags.value().port, 6000);
  EXPECT_EQ(from_flags.value().max_running_sandboxes, 7u);
  EXPECT_EQ(from_flags.value().bind, "0.0.0.0");
}

TEST_F(ServerConfigTest, MetricsBindAndUiDirFromFileAndEnvironment) {
  ConfigSources sources;
  sources.file = write("[metrics]\nbind = 127.0.0.1:9100\n[ui]\ndir = /opt/grid/ui\n");
  auto from_file = loadServerConfig(sources);
  ASSERT_TRUE(from_file.ok()) << from_file.error().message;
  EXPECT_EQ(from_file.value().metrics_bind, "127.0.0.1:9100");
  EXPECT_EQ(from_file.value().ui_dir, "/opt/grid/ui");
  sources.environment = {{"GRID_METRICS_BIND", "[::1]:9200"}, {"GRID_UI_DIR", "/env/ui"}};
  auto from_env = loadServerConfig(sources);
  ASSERT_TRUE(from_env.ok());
  EXPECT_EQ(from_env.value().metrics_bind, "[::1]:9200");
  EXPECT_EQ(from_env.value().ui_dir, "/env/ui");
  ConfigSources none;
  none.file = write("");
  auto defaults = loadServerConfig(none);
  ASSERT_TRUE(defaults.ok());
  EXPECT_EQ(defaults.value().metrics_bind, "");  // no metrics-only listener unless asked
}

TEST_F(ServerConfigTest, InvalidValuesAreNamed) {
  ConfigSources sources;
  sources.file = write("[server]\nport = abc\nmax_running_sandboxes = 0\n");
  auto config = loadServerConfig(sources);
  ASSERT_FALSE(config.ok());
  EXPECT_NE(config.error().message.find("server.port = 'abc'"), std::string::npos);
  EXPECT_NE(config.error().message.find("server.max_running_sandboxes"), std::string::npos);
}

TEST_F(ServerConfigTest, MissingFileIsAClearError) {
  ConfigSources sources;
  sources.file = dir_ + "/absent.ini";
  auto config = loadServerConfig(sources);
  ASSERT_FALSE(config.ok());
  EXPECT_NE(config.error().message.find("absent.ini"), std::string::npos);
}

TEST_F(ServerConfigTest, BackendOwnSettingsExcludeCoreKeys) {
  ConfigSources sources;
  sources.file = write(
      "backend = docker\n[backend.docker]\nsocket = /s\nplugin = /p.so\ndefault_image = img\n");
  auto config = loadServerConfig(sources);
  ASSERT_TRUE(config.ok());
  const auto own = config.value().backendOwnSettings("docker");
  EXPECT_EQ(own.size(), 1u);
  EXPECT_EQ(config.value().pluginPath("docker"), "/p.so");
  EXPECT_EQ(config.value().defaultImage(), "img");
}

// Found by fuzz_server_config: a dotted key inside a backend section made an intermediate key
// without a value, and reading it threw.
TEST_F(ServerConfigTest, DottedKeysInBackendSectionsDoNotThrow) {
  ConfigSources sources;
  sources.file = write("[backend.docker]\na.b = 1\nsocket = /s\n[sr]\nv;ree x\n");
  auto config = loadServerConfig(sources);
  ASSERT_TRUE(config.ok()) << config.error().message;
  EXPECT_EQ(config.value().settingsOf("docker").at("socket"), "/s");
  EXPECT_EQ(config.value().settingsOf("docker").count("a"), 0u);
}

TEST(EnvironmentNameTest, MapsKeysToVariables) {
  EXPECT_EQ(environmentNameFor("server.port"), "GRID_SERVER_PORT");
  EXPECT_EQ(environmentNameFor("backend"), "GRID_BACKEND");
  EXPECT_EQ(environmentNameFor("backend.local-namespace.images_dir"),
            "GRID_BACKEND_LOCAL_NAMESPACE_IMAGES_DIR");
}

TEST_F(ServerConfigTest, SandboxIsolationDefaultsToDefaultAndRejectsUnknownNames) {
  ConfigSources sources;
  sources.file = write("");
  auto built_in = loadServerConfig(sources);
  ASSERT_TRUE(built_in.ok());
  EXPECT_EQ(built_in.value().default_isolation, Isolation::kDefault);
  sources.file = write("[sandbox]\nisolation = gvisor\n");
  auto gvisor = loadServerConfig(sources);
  ASSERT_TRUE(gvisor.ok()) << gvisor.error().message;
  EXPECT_EQ(gvisor.value().default_isolation, Isolation::kGvisor);
  sources.environment["GRID_SANDBOX_ISOLATION"] = "default";
  auto from_env = loadServerConfig(sources);
  ASSERT_TRUE(from_env.ok());
  EXPECT_EQ(from_env.value().default_isolation, Isolation::kDefault);
  sources.environment.clear();
  sources.file = write("[sandbox]\nisolation = vm\n");
  auto bad = loadServerConfig(sources);
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().message.find("sandbox.isolation = 'vm' is not one of default, gvisor"),
            std::string::npos)
      << bad.error().message;
}

TEST_F(ServerConfigTest, LifetimesDefaultToNoneAndAreRead) {
  ConfigSources sources;
  sources.file = write("");
  auto built_in = loadServerConfig(sources);
  ASSERT_TRUE(built_in.ok()) << built_in.error().message;
  EXPECT_EQ(built_in.value().default_ttl.count(), 0);
  EXPECT_EQ(built_in.value().default_idle_timeout.count(), 0);
  EXPECT_EQ(built_in.value().default_expiry_action, "stop");
  EXPECT_EQ(built_in.value().max_ttl.count(), 0);
  sources.file = write(
      "[lifetimes]\ndefault_ttl = 3600\ndefault_idle_timeout = 1.5\ndefault_action = pause\n"
      "max_ttl = 86400\n");
  auto set = loadServerConfig(sources);
  ASSERT_TRUE(set.ok()) << set.error().message;
  EXPECT_EQ(set.value().default_ttl, std::chrono::seconds(3600));
  EXPECT_EQ(set.value().default_idle_timeout, std::chrono::milliseconds(1500));
  EXPECT_EQ(set.value().default_expiry_action, "pause");
  EXPECT_EQ(set.value().max_ttl, std::chrono::seconds(86400));
  sources.environment["GRID_LIFETIMES_DEFAULT_IDLE_TIMEOUT"] = "0";  // none, over the file
  auto from_env = loadServerConfig(sources);
  ASSERT_TRUE(from_env.ok()) << from_env.error().message;
  EXPECT_EQ(from_env.value().default_idle_timeout.count(), 0);
}

TEST_F(ServerConfigTest, BadLifetimesAreNamed) {
  ConfigSources sources;
  sources.file = write(
      "[lifetimes]\ndefault_ttl = -5\ndefault_idle_timeout = soon\ndefault_action = delete\n");
  auto bad = loadServerConfig(sources);
  ASSERT_FALSE(bad.ok());
  const std::string& message = bad.error().message;
  EXPECT_NE(message.find("lifetimes.default_ttl = '-5'"), std::string::npos) << message;
  EXPECT_NE(message.find("lifetimes.default_idle_timeout = 'soon'"), std::string::npos) << message;
  EXPECT_NE(message.find("lifetimes.default_action = 'delete' is not one of stop, pause"),
            std::string::npos)
      << message;
  sources.file = write("[lifetimes]\ndefault_ttl = 7200\nmax_ttl = 3600\n");
  auto over = loadServerConfig(sources);
  ASSERT_FALSE(over.ok());
  EXPECT_NE(over.error().message.find("lifetimes.default_ttl exceeds lifetimes.max_ttl"),
            std::string::npos)
      << over.error().message;
}

}  // namespace
}  // namespace grid
