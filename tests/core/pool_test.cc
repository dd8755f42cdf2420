// Warm pools' pure parts: [pool.NAME] parsing, spec matching, refill planning and back-off.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>

#include "config/server_config.h"
#include "sandbox/pool_plan.h"

namespace grid {
namespace {

class PoolConfigTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char dir[] = "/tmp/grid-pool-config-XXXXXX";
    ASSERT_NE(mkdtemp(dir), nullptr);
    dir_ = dir;
  }
  void TearDown() override {
    std::remove(file_.c_str());
    rmdir(dir_.c_str());
  }
  Result<ServerConfig> load(const std::string& text) {
    file_ = dir_ + "/grid.ini";
    std::ofstream(file_) << text;
    ConfigSources sources;
    sources.file = file_;
    return loadServerConfig(sources);
  }
  std::string dir_, file_;
};

TEST_F(PoolConfigTest, ReadsEveryKey) {
  auto config = load(
      "[pool.py]\nimage = python:3.12\nsize = 3\ncpus = 1.5\nmemory_mb = 512\npids = 100\n"
      "network = true\nisolation = default\nenv.LANG = C.UTF-8\n"
      "[pool.plain]\nsize = 0\n");
  ASSERT_TRUE(config.ok()) << config.error().message;
  ASSERT_EQ(config.value().pools.size(), 2u);
  const PoolConfig& plain = config.value().pools[0];  // name order
  EXPECT_EQ(plain.name, "plain");
  EXPECT_EQ(plain.size, 0u);
  EXPECT_FALSE(plain.image);
  const PoolConfig& py = config.value().pools[1];
  EXPECT_EQ(py.name, "py");
  EXPECT_EQ(py.image, "python:3.12");
  EXPECT_EQ(py.size, 3u);
  EXPECT_DOUBLE_EQ(py.limits.cpus, 1.5);
  EXPECT_EQ(py.limits.memory_mb, 512);
  EXPECT_EQ(py.limits.pids, 100);
  EXPECT_TRUE(py.network);
  EXPECT_EQ(py.isolation, Isolation::kDefault);
  EXPECT_EQ(py.env, (std::map<std::string, std::string>{{"LANG", "C.UTF-8"}}));
}

TEST_F(PoolConfigTest, BadSectionsAreErrorsNamingThePool) {
  const struct {
    const char* ini;
    const char* expected;
  } cases[] = {
      {"[pool.a]\nsize = -1\n", "[pool.a] size = '-1' is not a whole number"},
      {"[pool.b]\nsize = 1\nimag = x\n", "[pool.b] unknown key 'imag'"},
      {"[pool.c]\nimage = x\n", "[pool.c] needs size"},
      {"[pool.d]\nsize = 1\ncpus = -2\n", "[pool.d] cpus = '-2'"},
      {"[pool.e]\nsize = 1\nmemory_mb = lots\n", "[pool.e] memory_mb = 'lots'"},
      {"[pool.f]\nsize = 1\nisolation = vm\n", "[pool.f] isolation = 'vm'"},
      {"[pool.g]\nsize = 1\nnetwork = maybe\n", "[pool.g] network = 'maybe'"},
      {"[pool.h]\nsize = 1\nimage =\n", "[pool.h] image is empty"},
      {"[server]\nmax_running_sandboxes = 2\n[pool.i]\nsize = 2\n[pool.j]\nsize = 1\n",
       "sizes add up to 3, more than server.max_running_sandboxes = 2"},
  };
  for (const auto& c : cases) {
    auto config = load(c.ini);
    ASSERT_FALSE(config.ok()) << c.ini;
    EXPECT_NE(config.error().message.find(c.expected), std::string::npos)
        << c.ini << " -> " << config.error().message;
  }
}

SandboxSpec poolSpec() {
  CreateRequest request;
  request.image = "debian:bookworm";
  request.limits = ResourceLimits{0, 512, 0};
  request.env = {{"A", "1"}};
  return resolvePoolSpec(request, "default:img", ResourceLimits{2, 4096, 2048},
                         Isolation::kDefault);
}

TEST(PoolPlanTest, ResolvesDefaultsLikeCreate) {
  const SandboxSpec spec = poolSpec();
  EXPECT_EQ(spec.image, "debian:bookworm");
  EXPECT_DOUBLE_EQ(spec.limits.cpus, 2);  // default
  EXPECT_EQ(spec.limits.memory_mb, 512);  // named
  EXPECT_EQ(spec.limits.pids, 2048);      // default
  EXPECT_EQ(resolvePoolSpec({}, "default:img", {}, Isolation::kGvisor).image, "default:img");
  EXPECT_EQ(resolvePoolSpec({}, "default:img", {}, Isolation::kGvisor).isolation,
            Isolation::kGvisor);
}

TEST(PoolPlanTest, MatchesOnlyTheSameResolvedSpec) {
  const SandboxSpec pool = poolSpec();
  SandboxSpec wanted = pool;
  wanted.id = "another-id";
  EXPECT_TRUE(specMatchesPool(wanted, pool));

  auto differs = [&](auto change) {
    SandboxSpec other = pool;
    change(other);
    return !specMatchesPool(other, pool);
  };
  EXPECT_TRUE(differs([](SandboxSpec& s) { s.image = "debian:trixie"; }));
  EXPECT_TRUE(differs([](SandboxSpec& s) { s.limits.cpus = 1; }));
  EXPECT_TRUE(differs([](SandboxSpec& s) { s.limits.memory_mb = 1024; }));
  EXPECT_TRUE(differs([](SandboxSpec& s) { s.limits.pids = 10; }));
  EXPECT_TRUE(differs([](SandboxSpec& s) { s.network = true; }));
  EXPECT_TRUE(differs([](SandboxSpec& s) { s.isolation = Isolation::kGvisor; }));
  EXPECT_TRUE(differs([](SandboxSpec& s) { s.env["B"] = "2"; }));  // env beyond the pool's
  EXPECT_TRUE(differs([](SandboxSpec& s) { s.env.clear(); }));     // less env than the pool's
  EXPECT_TRUE(differs([](SandboxSpec& s) { s.labels["team"] = "x"; }));
  EXPECT_TRUE(differs([](SandboxSpec& s) { s.nameservers = {"127.0.0.53"}; }));
}

TEST(PoolPlanTest, FirstMatchingPoolInOrder) {
  SandboxSpec a = poolSpec();
  SandboxSpec b = poolSpec();
  b.network = true;
  SandboxSpec wanted = b;
  EXPECT_EQ(matchingPool(wanted, {a, b, b}), 1u);
  wanted.image = "none";
  EXPECT_FALSE(matchingPool(wanted, {a, b}));
  EXPECT_FALSE(matchingPool(wanted, {}));
}

TEST(PoolPlanTest, RefillFillsWhatIsMissingWithinFreeSlots) {
  EXPECT_EQ(refillCount(2, 0, 0, 10, 0, false), 2u);
  EXPECT_EQ(refillCount(2, 1, 0, 10, 0, false), 1u);
  EXPECT_EQ(refillCount(2, 1, 1, 10, 0, false), 0u);  // one is being made
  EXPECT_EQ(refillCount(2, 2, 0, 10, 0, false), 0u);
  EXPECT_EQ(refillCount(5, 0, 0, 2, 0, false), 2u);  // only free slots
  EXPECT_EQ(refillCount(5, 0, 0, 0, 0, false), 0u);
}

TEST(PoolPlanTest, RefillNeverTakesASlotAStartWaitsFor) {
  EXPECT_EQ(refillCount(2, 0, 0, 1, 1, false), 0u);
}

TEST(PoolPlanTest, RefillWaitsOutItsBackoff) { EXPECT_EQ(refillCount(2, 0, 0, 10, 0, true), 0u); }

TEST(PoolPlanTest, BackoffDoublesUpToAMinute) {
  using std::chrono::milliseconds;
  EXPECT_EQ(refillBackoff(0), milliseconds(0));
  EXPECT_EQ(refillBackoff(1), milliseconds(1000));
  EXPECT_EQ(refillBackoff(2), milliseconds(2000));
  EXPECT_EQ(refillBackoff(3), milliseconds(4000));
  EXPECT_EQ(refillBackoff(7), milliseconds(60000));
  EXPECT_EQ(refillBackoff(1000), milliseconds(60000));
}

}  // namespace
}  // namespace grid
