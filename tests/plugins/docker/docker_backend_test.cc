// DockerBackend against the real Docker Engine. Every test uses its own instance name and
// removes whatever that instance left, checked through the engine afterwards.
#include "docker_backend.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "engine_guard.h"
#include "grid/engine/container_conventions.h"
#include "grid/engine/engine_client.h"

namespace grid::docker {
namespace {

constexpr char kSocket[] = "/var/run/docker.sock";
constexpr char kImage[] = "grid-test/debian:bookworm";
// Generous bound for a step that should finish quickly; reaching it fails the test, it is not
// a timing assertion.
constexpr auto kPatience = std::chrono::seconds(60);

std::shared_ptr<engine::EngineClient> makeClient() {
  auto client = std::make_shared<engine::EngineClient>(
      engine::EngineEndpoint{kSocket, "docker", "Docker Engine"});
  client->setApiVersion(kMaxApiVersion);
  return client;
}

bool engineReachable() {
  auto ping = makeClient()->request("GET", "/_ping");
  return ping.ok() && ping.value().ok();
}

std::string uniqueInstance() {
  static std::atomic<int> counter{0};
  std::random_device random;
  return "test" + std::to_string(getpid()) + "x" + std::to_string(random() % 100000) + "n" +
         std::to_string(counter++);
}

struct Output {
  std::string out;
  std::string err;
  std::optional<int> exit_code;
};

// Reads until EOF; fails the test on an error or if EOF does not come within kPatience.
Output drain(ProcessChannel& channel) {
  Output output;
  const auto deadline = Clock::now() + kPatience;
  for (;;) {
    auto read = channel.read(deadline);
    if (!read.ok()) {
      ADD_FAILURE() << read.error().message;
      return output;
    }
    if (read.value().status == ReadResult::Status::kEof) break;
    if (read.value().status == ReadResult::Status::kTimeout) {
      ADD_FAILURE() << "no EOF within the patience bound";
      return output;
    }
    (read.value().stream == OutputStream::kStdout ? output.out : output.err) += read.value().data;
  }
  output.exit_code = channel.exitCode();
  return output;
}

class DockerBackendTest : public ::testing::Test {
 protected:
  void SetUp() override {
    GRID_REQUIRE_ENGINE(engineReachable(), std::string("docker at ") + kSocket);
    instance_ = uniqueInstance();
    client_ = makeClient();
    auto init = backend_.init(config());
    ASSERT_TRUE(init.ok()) << init.error().message;
  }

  void TearDown() override {
    if (instance_.empty()) return;
    auto removed = backend_.removeLeftovers();
    EXPECT_TRUE(removed.ok()) << removed.error().message;
    EXPECT_EQ(countContainers(instance_), 0);
  }

  BackendConfig config() const { return BackendConfig{instance_, {{"socket", kSocket}}}; }

  SandboxSpec spec(const std::string& id) const {
    SandboxSpec spec;
    spec.id = id;
    spec.image = kImage;
    return spec;
  }

  void create(const SandboxSpec& spec) {
    auto created = backend_.createSandbox(spec);
    ASSERT_TRUE(created.ok()) << created.error().message;
  }

  Output run(const std::string& id, std::vector<std::string> argv) {
    auto channel = backend_.startProcess(id, ProcessSpec{std::move(argv), false});
    if (!channel.ok()) {
      ADD_FAILURE() << channel.error().message;
      return {};
    }
    return drain(*channel.value());
  }

  Poco::JSON::Object::Ptr inspect(const std::string& id) {
    auto response =
        client_->request("GET", "/containers/" + engine::containerName(instance_, id) + "/json");
    if (!response.ok() || !response.value().ok()) return nullptr;
    return engine::parseJsonObject(response.value().body);
  }

  int countContainers(const std::string& instance) {
    auto response =
        client_->request("GET", "/containers/json?all=1&filters=" +
                                    engine::urlEncode(engine::leftoverFilter(instance)));
    if (!response.ok() || !response.value().ok()) return -1;
    auto list = engine::parseJsonArray(response.value().body);
    return list ? static_cast<int>(list->size()) : -1;
  }

  std::string instance_;
  std::shared_ptr<engine::EngineClient> client_;
  DockerBackend backend_;
};

TEST_F(DockerBackendTest, ExecDemuxesOutputAndReportsExitCode) {
  create(spec("exec"));
  Output output = run("exec", {"bash", "-c", "echo out; echo err >&2; exit 3"});
  EXPECT_EQ(output.out, "out\n");
  EXPECT_EQ(output.err, "err\n");
  EXPECT_EQ(output.exit_code, 3);
}

TEST_F(DockerBackendTest, ConcurrentExecsInOneSandbox) {
  create(spec("parallel"));
  constexpr int kThreads = 4;
  constexpr int kExecsPerThread = 5;
  std::vector<std::string> failures(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([this, t, &failures] {
      for (int i = 0; i < kExecsPerThread; ++i) {
        const std::string word = std::to_string(t) + "-" + std::to_string(i);
        auto channel = backend_.startProcess("parallel", ProcessSpec{{"echo", word}, false});
        if (!channel.ok()) {
          failures[t] = channel.error().message;
          return;
        }
        std::string out;
        for (;;) {
          auto read = channel.value()->read(Clock::now() + kPatience);
          if (!read.ok() || read.value().status == ReadResult::Status::kTimeout) {
            failures[t] = "read failed for " + word;
            return;
          }
          if (read.value().status == ReadResult::Status::kEof) break;
          out += read.value().data;
        }
        if (out != word + "\n" || channel.value()->exitCode() != 0) {
          failures[t] = "wrong result for " + word + ": '" + out + "'";
          return;
        }
      }
    });
  }
  for (auto& thread : threads) thread.join();
  for (const auto& failure : failures) EXPECT_EQ(failure, "");
}

TEST_F(DockerBackendTest, LargeOutputArrivesComplete) {
  create(spec("large"));
  Output output = run("large", {"bash", "-c", "head -c 1000000 /dev/zero | tr '\\0' x"});
  EXPECT_EQ(output.out.size(), 1000000u);
  EXPECT_EQ(output.out.find_first_not_of('x'), std::string::npos);
  EXPECT_EQ(output.exit_code, 0);
}

TEST_F(DockerBackendTest, StdinRoundTrip) {
  create(spec("stdin"));
  auto started = backend_.startProcess("stdin", ProcessSpec{{"cat"}, true});
  ASSERT_TRUE(started.ok()) << started.error().message;
  ProcessChannel& channel = *started.value();
  ASSERT_TRUE(channel.write("hello\n").ok());
  std::string echoed;
  const auto deadline = Clock::now() + kPatience;
  while (echoed.size() < 6) {
    auto read = channel.read(deadline);
    ASSERT_TRUE(read.ok()) << read.error().message;
    ASSERT_EQ(read.value().status, ReadResult::Status::kData);
    echoed += read.value().data;
  }
  EXPECT_EQ(echoed, "hello\n");
  channel.closeStdin();
  Output rest = drain(channel);
  EXPECT_EQ(rest.out, "");
  EXPECT_EQ(rest.exit_code, 0);
}

TEST_F(DockerBackendTest, ReadDeadlineGivesTimeout) {
  create(spec("deadline"));
  auto started = backend_.startProcess("deadline", ProcessSpec{{"cat"}, true});
  ASSERT_TRUE(started.ok()) << started.error().message;
  auto read = started.value()->read(Clock::now() + std::chrono::milliseconds(50));
  ASSERT_TRUE(read.ok()) << read.error().message;
  EXPECT_EQ(read.value().status, ReadResult::Status::kTimeout);
  started.value()->closeStdin();
  EXPECT_EQ(drain(*started.value()).exit_code, 0);
}

TEST_F(DockerBackendTest, DeathBySignalIs128PlusSignal) {
  create(spec("signal"));
  EXPECT_EQ(run("signal", {"bash", "-c", "kill -9 $$"}).exit_code, 137);
}

TEST_F(DockerBackendTest, StdinNotAttachedReadsEof) {
  create(spec("nostdin"));
  Output output = run("nostdin", {"bash", "-c", "cat; echo done"});
  EXPECT_EQ(output.out, "done\n");
  EXPECT_EQ(output.exit_code, 0);
}

TEST_F(DockerBackendTest, LimitsLabelsAndSecurityAppearInInspect) {
  SandboxSpec limited = spec("limits");
  limited.limits.memory_mb = 128;
  limited.limits.cpus = 0.5;
  limited.limits.pids = 100;
  limited.labels = {{"owner", "tests"}};
  limited.env = {{"GRID_TEST", "yes"}};
  create(limited);
  auto info = inspect("limits");
  ASSERT_TRUE(info);
  auto host = info->getObject("HostConfig");
  EXPECT_EQ(host->getValue<std::int64_t>("Memory"), 128 * 1024 * 1024);
  EXPECT_EQ(host->getValue<std::int64_t>("NanoCpus"), 500'000'000);
  EXPECT_EQ(host->getValue<std::int64_t>("PidsLimit"), 100);
  EXPECT_EQ(host->getValue<std::string>("NetworkMode"), "none");
  EXPECT_EQ(host->getArray("SecurityOpt")->getElement<std::string>(0), "no-new-privileges");
  EXPECT_FALSE(host->getValue<bool>("Privileged"));
  auto labels = info->getObject("Config")->getObject("Labels");
  EXPECT_EQ(labels->getValue<std::string>("owner"), "tests");
  EXPECT_EQ(labels->getValue<std::string>("grid.managed-by"), "grid");
  EXPECT_EQ(labels->getValue<std::string>("grid.instance"), instance_);
  EXPECT_EQ(labels->getValue<std::string>("grid.sandbox-id"), "limits");
  EXPECT_EQ(run("limits", {"bash", "-c", "echo $GRID_TEST"}).out, "yes\n");
}

TEST_F(DockerBackendTest, NetworkNoneLeavesOnlyLoopback) {
  create(spec("nonet"));
  EXPECT_EQ(run("nonet", {"ls", "/sys/class/net"}).out, "lo\n");
}

TEST_F(DockerBackendTest, NetworkEnabledHasAnInterface) {
  SandboxSpec networked = spec("net");
  networked.network = true;
  create(networked);
  EXPECT_NE(run("net", {"ls", "/sys/class/net"}).out, "lo\n");
}

TEST_F(DockerBackendTest, MissingImageIsImageNotFound) {
  SandboxSpec missing = spec("missing");
  missing.image = "grid-test/does-not-exist:nope";
  auto created = backend_.createSandbox(missing);
  ASSERT_FALSE(created.ok());
  EXPECT_EQ(created.error().code, ErrorCode::kImageNotFound);
  EXPECT_NE(created.error().message.find("grid-test/does-not-exist:nope"), std::string::npos)
      << created.error().message;
  EXPECT_EQ(countContainers(instance_), 0);
}

TEST_F(DockerBackendTest, MalformedImageIsInvalidArgument) {
  SandboxSpec bad = spec("badimage");
  bad.image = "foo bar?x";
  auto created = backend_.createSandbox(bad);
  ASSERT_FALSE(created.ok());
  EXPECT_EQ(created.error().code, ErrorCode::kInvalidArgument);
}

TEST_F(DockerBackendTest, FailedCreateLeavesNothing) {
  SandboxSpec bad = spec("bad");
  bad.limits.memory_mb = 1;  // below the engine's minimum
  auto created = backend_.createSandbox(bad);
  ASSERT_FALSE(created.ok());
  EXPECT_EQ(countContainers(instance_), 0);
}

TEST_F(DockerBackendTest, DuplicateSandboxIsConflict) {
  create(spec("dup"));
  auto again = backend_.createSandbox(spec("dup"));
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.error().code, ErrorCode::kConflict);
}

TEST_F(DockerBackendTest, UnknownSandboxIsNotFound) {
  auto started = backend_.startProcess("nosuch", ProcessSpec{{"true"}, false});
  ASSERT_FALSE(started.ok());
  EXPECT_EQ(started.error().code, ErrorCode::kNotFound);
}

TEST_F(DockerBackendTest, StoppedSandboxIsConflict) {
  create(spec("stopped"));
  auto stopped = client_->request(
      "POST", "/containers/" + engine::containerName(instance_, "stopped") + "/stop?t=0");
  ASSERT_TRUE(stopped.ok() && stopped.value().ok());
  auto started = backend_.startProcess("stopped", ProcessSpec{{"true"}, false});
  ASSERT_FALSE(started.ok());
  EXPECT_EQ(started.error().code, ErrorCode::kConflict) << started.error().message;
}

TEST_F(DockerBackendTest, DestroyTwiceSucceeds) {
  create(spec("twice"));
  auto first = backend_.destroySandbox("twice");
  EXPECT_TRUE(first.ok()) << first.error().message;
  auto second = backend_.destroySandbox("twice");
  EXPECT_TRUE(second.ok()) << second.error().message;
  EXPECT_FALSE(inspect("twice"));
  EXPECT_TRUE(backend_.destroySandbox("never-created").ok());
}

TEST_F(DockerBackendTest, RemoveLeftoversRemovesOnlyThisInstance) {
  create(spec("left"));
  DockerBackend other;
  const std::string other_instance = uniqueInstance();
  ASSERT_TRUE(other.init(BackendConfig{other_instance, {{"socket", kSocket}}}).ok());
  auto other_created = other.createSandbox(spec("keep"));
  ASSERT_TRUE(other_created.ok()) << other_created.error().message;

  // A restarted Grid: a fresh backend object of the same instance.
  DockerBackend restarted;
  ASSERT_TRUE(restarted.init(config()).ok());
  auto removed = restarted.removeLeftovers();
  ASSERT_TRUE(removed.ok()) << removed.error().message;
  EXPECT_EQ(removed.value(), std::vector<std::string>{"left"});
  EXPECT_EQ(countContainers(instance_), 0);
  EXPECT_EQ(countContainers(other_instance), 1);

  auto other_removed = other.removeLeftovers();
  ASSERT_TRUE(other_removed.ok());
  EXPECT_EQ(other_removed.value(), std::vector<std::string>{"keep"});
  EXPECT_EQ(countContainers(other_instance), 0);
}

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
  DockerBackend backend;
  EXPECT_EQ(backend.init(BackendConfig{"bad/instance", {}}).error().code,
            ErrorCode::kInvalidArgument);
}

TEST(DockerBackendInitTest, ExplicitApiVersionIsUsed) {
  GRID_REQUIRE_ENGINE(engineReachable(), std::string("docker at ") + kSocket);
  DockerBackend backend;
  auto init = backend.init(BackendConfig{"inst", {{"api_version", "1.40"}}});
  EXPECT_TRUE(init.ok()) << init.error().message;
}

}  // namespace
}  // namespace grid::docker
