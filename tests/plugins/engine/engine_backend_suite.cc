#include "engine_backend_suite.h"

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <random>
#include <thread>
#include <utility>

#include "engine_guard.h"
#include "grid/engine/container_conventions.h"

namespace grid::testing {

void PrintTo(const EngineBackendHooks& hooks, std::ostream* os) { *os << hooks.endpoint.product; }

std::string engineTestName(const ::testing::TestParamInfo<EngineBackendHooks>& info) {
  return info.param.endpoint.product;
}

std::shared_ptr<engine::EngineClient> makeEngineClient(const EngineBackendHooks& hooks) {
  auto client = std::make_shared<engine::EngineClient>(hooks.endpoint);
  client->setApiVersion(hooks.api_version);
  return client;
}

bool engineReachable(const EngineBackendHooks& hooks) {
  auto ping = makeEngineClient(hooks)->request("GET", hooks.ping_path);
  return ping.ok() && ping.value().ok();
}

std::string uniqueInstance() {
  static std::atomic<int> counter{0};
  std::random_device random;
  return "test" + std::to_string(getpid()) + "x" + std::to_string(random() % 100000) + "n" +
         std::to_string(counter++);
}

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

EngineBackendFixture::EngineBackendFixture(EngineBackendHooks hooks) : hooks_(std::move(hooks)) {}

void EngineBackendFixture::SetUp() {
  GRID_REQUIRE_ENGINE(engineReachable(hooks_),
                      hooks_.endpoint.product + " at " + hooks_.endpoint.socket_path);
  instance_ = uniqueInstance();
  client_ = makeEngineClient(hooks_);
  backend_ = hooks_.make_backend();
  auto init = backend_->init(config());
  ASSERT_TRUE(init.ok()) << init.error().message;
}

void EngineBackendFixture::TearDown() {
  if (instance_.empty()) return;
  auto removed = backend_->removeLeftovers();
  EXPECT_TRUE(removed.ok()) << removed.error().message;
  EXPECT_EQ(countContainers(instance_), 0);
}

BackendConfig EngineBackendFixture::config() const { return config(instance_); }

BackendConfig EngineBackendFixture::config(const std::string& instance) const {
  return BackendConfig{instance, {{"socket", hooks_.endpoint.socket_path}}};
}

SandboxSpec EngineBackendFixture::spec(const std::string& id) const {
  SandboxSpec spec;
  spec.id = id;
  spec.image = hooks_.image;
  return spec;
}

void EngineBackendFixture::create(const SandboxSpec& spec) {
  auto created = backend_->createSandbox(spec);
  ASSERT_TRUE(created.ok()) << created.error().message;
}

Output EngineBackendFixture::run(const std::string& id, std::vector<std::string> argv) {
  auto channel = backend_->startProcess(id, ProcessSpec{std::move(argv), false});
  if (!channel.ok()) {
    ADD_FAILURE() << channel.error().message;
    return {};
  }
  return drain(*channel.value());
}

Poco::JSON::Object::Ptr EngineBackendFixture::inspect(const std::string& id) {
  auto response =
      client_->request("GET", hooks_.inspect_path(engine::containerName(instance_, id)));
  if (!response.ok() || !response.value().ok()) return nullptr;
  return engine::parseJsonObject(response.value().body);
}

int EngineBackendFixture::countContainers(const std::string& instance) {
  auto response = client_->request("GET", "/containers/json?all=1&filters=" +
                                              engine::urlEncode(engine::leftoverFilter(instance)));
  if (!response.ok() || !response.value().ok()) return -1;
  auto list = engine::parseJsonArray(response.value().body);
  return list ? static_cast<int>(list->size()) : -1;
}

TEST_P(EngineBackendTest, ExecDemuxesOutputAndReportsExitCode) {
  create(spec("exec"));
  Output output = run("exec", {"bash", "-c", "echo out; echo err >&2; exit 3"});
  EXPECT_EQ(output.out, "out\n");
  EXPECT_EQ(output.err, "err\n");
  EXPECT_EQ(output.exit_code, 3);
}

TEST_P(EngineBackendTest, ConcurrentExecsInOneSandbox) {
  create(spec("parallel"));
  constexpr int kThreads = 4;
  constexpr int kExecsPerThread = 5;
  std::vector<std::string> failures(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([this, t, &failures] {
      for (int i = 0; i < kExecsPerThread; ++i) {
        const std::string word = std::to_string(t) + "-" + std::to_string(i);
        auto channel = backend_->startProcess("parallel", ProcessSpec{{"echo", word}, false});
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

TEST_P(EngineBackendTest, LargeOutputArrivesComplete) {
  create(spec("large"));
  Output output = run("large", {"bash", "-c", "head -c 1000000 /dev/zero | tr '\\0' x"});
  EXPECT_EQ(output.out.size(), 1000000u);
  EXPECT_EQ(output.out.find_first_not_of('x'), std::string::npos);
  EXPECT_EQ(output.exit_code, 0);
}

TEST_P(EngineBackendTest, StdinRoundTrip) {
  create(spec("stdin"));
  auto started = backend_->startProcess("stdin", ProcessSpec{{"cat"}, true});
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

// The initial process runs as the container's own, attached: handed over once, with stdin,
// split streams and its exit status like an exec; the sandbox outlives it.
TEST_P(EngineBackendTest, InitialProcessIsAttachedAndOutlivedByTheSandbox) {
  SandboxSpec initial = spec("initial");
  initial.initial_process = ProcessSpec{
      {"/bin/sh", "-c", "read -r line; echo \"out $line\"; echo err >&2; exit 7"}, true};
  create(initial);
  auto taken = backend_->takeInitialProcess("initial");
  ASSERT_TRUE(taken.ok()) << taken.error().message;
  ASSERT_NE(taken.value(), nullptr);
  auto again = backend_->takeInitialProcess("initial");
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again.value(), nullptr);  // handed over once
  ASSERT_TRUE(taken.value()->write("hello\n").ok());
  Output output = drain(*taken.value());
  EXPECT_EQ(output.out, "out hello\n");
  EXPECT_EQ(output.err, "err\n");
  EXPECT_EQ(output.exit_code, 7);
  // The sandbox runs on: an exec still works, and the initial process's group was its own.
  EXPECT_EQ(run("initial", {"sh", "-c", "echo alive"}).out, "alive\n");
}

TEST_P(EngineBackendTest, InitialProcessKilledEndsItsStream) {
  SandboxSpec initial = spec("initial-kill");
  initial.initial_process = ProcessSpec{{"/bin/sh", "-c", "echo $$; exec sleep 600"}, true};
  create(initial);
  auto taken = backend_->takeInitialProcess("initial-kill");
  ASSERT_TRUE(taken.ok()) << taken.error().message;
  ASSERT_NE(taken.value(), nullptr);
  std::string pid;
  const auto deadline = Clock::now() + kPatience;
  while (pid.find('\n') == std::string::npos) {
    auto read = taken.value()->read(deadline);
    ASSERT_TRUE(read.ok()) << read.error().message;
    ASSERT_EQ(read.value().status, ReadResult::Status::kData);
    pid += read.value().data;
  }
  pid.pop_back();
  // It leads its own process group (setsid), so a group kill spares the container's PID 1.
  EXPECT_EQ(run("initial-kill", {"sh", "-c", "kill -KILL -" + pid + " && echo sent"}).out,
            "sent\n");
  Output rest = drain(*taken.value());
  EXPECT_EQ(rest.exit_code, 137);
  EXPECT_EQ(run("initial-kill", {"sh", "-c", "echo alive"}).out, "alive\n");
}

TEST_P(EngineBackendTest, NoInitialProcessWithoutOne) {
  create(spec("no-initial"));
  auto taken = backend_->takeInitialProcess("no-initial");
  ASSERT_TRUE(taken.ok()) << taken.error().message;
  EXPECT_EQ(taken.value(), nullptr);
}

TEST_P(EngineBackendTest, ReadDeadlineGivesTimeout) {
  create(spec("deadline"));
  auto started = backend_->startProcess("deadline", ProcessSpec{{"cat"}, true});
  ASSERT_TRUE(started.ok()) << started.error().message;
  auto read = started.value()->read(Clock::now() + std::chrono::milliseconds(50));
  ASSERT_TRUE(read.ok()) << read.error().message;
  EXPECT_EQ(read.value().status, ReadResult::Status::kTimeout);
  started.value()->closeStdin();
  EXPECT_EQ(drain(*started.value()).exit_code, 0);
}

TEST_P(EngineBackendTest, DeathBySignalIs128PlusSignal) {
  create(spec("signal"));
  EXPECT_EQ(run("signal", {"bash", "-c", "kill -9 $$"}).exit_code, 137);
}

TEST_P(EngineBackendTest, StdinNotAttachedReadsEof) {
  create(spec("nostdin"));
  Output output = run("nostdin", {"bash", "-c", "cat; echo done"});
  EXPECT_EQ(output.out, "done\n");
  EXPECT_EQ(output.exit_code, 0);
}

TEST_P(EngineBackendTest, LimitsLabelsAndSecurityAppearInInspect) {
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
  if (hooks_.expect_host_limits) hooks_.expect_host_limits(*host);
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

TEST_P(EngineBackendTest, NetworkNoneLeavesOnlyLoopback) {
  create(spec("nonet"));
  EXPECT_EQ(run("nonet", {"ls", "/sys/class/net"}).out, "lo\n");
}

TEST_P(EngineBackendTest, NetworkEnabledHasAnInterface) {
  SandboxSpec networked = spec("net");
  networked.network = true;
  create(networked);
  // Loopback plus at least one real interface (the engine's default network).
  const std::string interfaces = run("net", {"ls", "/sys/class/net"}).out;
  EXPECT_NE(interfaces.find("lo\n"), std::string::npos) << interfaces;
  EXPECT_GE(std::count(interfaces.begin(), interfaces.end(), '\n'), 2) << interfaces;
}

TEST_P(EngineBackendTest, MissingImageIsImageNotFound) {
  SandboxSpec missing = spec("missing");
  missing.image = "grid-test/does-not-exist:nope";
  auto created = backend_->createSandbox(missing);
  ASSERT_FALSE(created.ok());
  EXPECT_EQ(created.error().code, ErrorCode::kImageNotFound);
  EXPECT_NE(created.error().message.find("grid-test/does-not-exist:nope"), std::string::npos)
      << created.error().message;
  EXPECT_EQ(countContainers(instance_), 0);
}

TEST_P(EngineBackendTest, MalformedImageIsInvalidArgument) {
  SandboxSpec bad = spec("badimage");
  bad.image = "foo bar?x";
  auto created = backend_->createSandbox(bad);
  ASSERT_FALSE(created.ok());
  EXPECT_EQ(created.error().code, ErrorCode::kInvalidArgument);
}

TEST_P(EngineBackendTest, FailedCreateLeavesNothing) {
  SandboxSpec bad = spec("bad");
  bad.limits.memory_mb = 1;  // below the engine's minimum
  auto created = backend_->createSandbox(bad);
  ASSERT_FALSE(created.ok());
  EXPECT_EQ(countContainers(instance_), 0);
}

TEST_P(EngineBackendTest, DuplicateSandboxIsConflict) {
  create(spec("dup"));
  auto again = backend_->createSandbox(spec("dup"));
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.error().code, ErrorCode::kConflict);
}

TEST_P(EngineBackendTest, UnknownSandboxIsNotFound) {
  auto started = backend_->startProcess("nosuch", ProcessSpec{{"true"}, false});
  ASSERT_FALSE(started.ok());
  EXPECT_EQ(started.error().code, ErrorCode::kNotFound);
}

TEST_P(EngineBackendTest, StoppedSandboxIsConflict) {
  create(spec("stopped"));
  auto stopped =
      client_->request("POST", hooks_.stop_path(engine::containerName(instance_, "stopped")));
  ASSERT_TRUE(stopped.ok() && stopped.value().ok());
  auto started = backend_->startProcess("stopped", ProcessSpec{{"true"}, false});
  ASSERT_FALSE(started.ok());
  EXPECT_EQ(started.error().code, ErrorCode::kConflict) << started.error().message;
}

TEST_P(EngineBackendTest, DestroyTwiceSucceeds) {
  create(spec("twice"));
  auto first = backend_->destroySandbox("twice");
  EXPECT_TRUE(first.ok()) << first.error().message;
  auto second = backend_->destroySandbox("twice");
  EXPECT_TRUE(second.ok()) << second.error().message;
  EXPECT_FALSE(inspect("twice"));
  EXPECT_TRUE(backend_->destroySandbox("never-created").ok());
}

TEST_P(EngineBackendTest, RemoveLeftoversRemovesOnlyThisInstance) {
  create(spec("left"));
  auto other = hooks_.make_backend();
  const std::string other_instance = uniqueInstance();
  ASSERT_TRUE(other->init(config(other_instance)).ok());
  auto other_created = other->createSandbox(spec("keep"));
  ASSERT_TRUE(other_created.ok()) << other_created.error().message;

  // A restarted Grid: a fresh backend object of the same instance.
  auto restarted = hooks_.make_backend();
  ASSERT_TRUE(restarted->init(config()).ok());
  auto removed = restarted->removeLeftovers();
  ASSERT_TRUE(removed.ok()) << removed.error().message;
  EXPECT_EQ(removed.value(), std::vector<std::string>{"left"});
  EXPECT_EQ(countContainers(instance_), 0);
  EXPECT_EQ(countContainers(other_instance), 1);

  auto other_removed = other->removeLeftovers();
  ASSERT_TRUE(other_removed.ok());
  EXPECT_EQ(other_removed.value(), std::vector<std::string>{"keep"});
  EXPECT_EQ(countContainers(other_instance), 0);
}

}  // namespace grid::testing
