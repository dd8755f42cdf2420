// Naming, labels, validation, limit conversions and settings shared by the engine backends.
#include "grid/engine/container_conventions.h"

#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

#include "grid/engine/engine_client.h"
#include "grid/engine/exec_channel.h"
#include "grid/engine/initial_process.h"

namespace grid::engine {
namespace {

TEST(ContainerConventionsTest, ContainerCommandRunsTheInitialProcessFirst) {
  SandboxSpec spec;
  spec.id = "abc";
  EXPECT_EQ(containerCommand(spec), keepAliveCommand());
  spec.initial_process = ProcessSpec{{"/bin/sh", "-c", "exec bash"}, true};
  const auto command = containerCommand(spec);
  ASSERT_EQ(command.size(), 8u);
  EXPECT_EQ(command[0], "/bin/sh");
  EXPECT_NE(command[2].find("setsid"), std::string::npos);
  EXPECT_EQ(command[4], initialProcessEndMarker("abc"));
  EXPECT_EQ(command[7], "exec bash");
  spec.isolation = Isolation::kGvisor;  // runsc: sessions stay execs
  EXPECT_EQ(containerCommand(spec), keepAliveCommand());
  spec.isolation = Isolation::kDefault;
  spec.initial_process->tty = TerminalSize{};
  EXPECT_FALSE(runsInitialProcess(spec));
}

TEST(EndMarkerScannerTest, FindsTheMarkerSplitAnywhere) {
  const std::string stream = "oops\nM:42\n";
  for (size_t cut = 0; cut <= stream.size(); ++cut) {
    EndMarkerScanner scanner("M");
    std::string passed = scanner.pass(stream.substr(0, cut));
    EXPECT_FALSE(scanner.status() && cut < stream.size()) << cut;
    passed += scanner.pass(stream.substr(cut));
    EXPECT_EQ(passed, "oops\n") << cut;
    ASSERT_TRUE(scanner.status()) << cut;
    EXPECT_EQ(*scanner.status(), 42);
  }
}

TEST(EndMarkerScannerTest, PassesWhatOnlyLooksLikeAMarker) {
  EndMarkerScanner scanner("M");
  EXPECT_EQ(scanner.pass("xM:x\nM:1234\nM:\n"), "xM:x\nM:1234\nM:\n");
  EXPECT_FALSE(scanner.status());
  EXPECT_EQ(scanner.pass("M"), "");  // may be a marker: held back
  EXPECT_EQ(scanner.pass("N"), "MN");
}

TEST(ContainerConventionsTest, NameJoinsInstanceAndId) {
  EXPECT_EQ(containerName("inst", "abc-123"), "grid-inst-abc-123");
}

TEST(ContainerConventionsTest, GridLabelsWinOverUserLabels) {
  SandboxSpec spec;
  spec.id = "abc-123";
  spec.labels = {{"team", "x"}, {"grid.instance", "spoofed"}, {"grid.managed-by", "me"}};
  auto labels = containerLabels("inst", spec);
  EXPECT_EQ(labels.at("team"), "x");
  EXPECT_EQ(labels.at("grid.instance"), "inst");
  EXPECT_EQ(labels.at("grid.managed-by"), "grid");
  EXPECT_EQ(labels.at("grid.sandbox-id"), "abc-123");
}

TEST(ContainerConventionsTest, LeftoverFilterSelectsInstance) {
  auto filter = parseJsonObject(leftoverFilter("inst"));
  ASSERT_TRUE(filter);
  auto labels = filter->getArray("label");
  ASSERT_EQ(labels->size(), 2u);
  EXPECT_EQ(labels->getElement<std::string>(0), "grid.managed-by=grid");
  EXPECT_EQ(labels->getElement<std::string>(1), "grid.instance=inst");
}

TEST(ContainerConventionsTest, StartHintOnlyForAnUnreachableEngine) {
  EXPECT_EQ(withStartHint(Error{ErrorCode::kUnavailable, "down"}, ": start it").message,
            "down: start it");
  EXPECT_EQ(withStartHint(Error{ErrorCode::kInternal, "broken"}, ": start it").message, "broken");
}

TEST(ContainerConventionsTest, NamePartValidation) {
  EXPECT_TRUE(isValidNamePart("default"));
  EXPECT_TRUE(isValidNamePart("a.b_c-1"));
  EXPECT_FALSE(isValidNamePart(""));
  EXPECT_FALSE(isValidNamePart("-x"));
  EXPECT_FALSE(isValidNamePart("a/b"));
}

TEST(ContainerConventionsTest, SandboxIdValidation) {
  EXPECT_TRUE(isValidSandboxId("abc-123"));
  EXPECT_FALSE(isValidSandboxId(""));
  EXPECT_FALSE(isValidSandboxId("ABC"));
  EXPECT_FALSE(isValidSandboxId("a/b"));
}

TEST(ContainerConventionsTest, ImageReferenceValidation) {
  EXPECT_TRUE(isPlausibleImageReference("localhost/grid-test/debian:bookworm"));
  EXPECT_TRUE(isPlausibleImageReference("registry:5000/x@sha256:ab12"));
  EXPECT_FALSE(isPlausibleImageReference(""));
  EXPECT_FALSE(isPlausibleImageReference("foo bar?x"));
}

TEST(ContainerConventionsTest, LimitConversions) {
  EXPECT_EQ(memoryLimitBytes(256), 256 * 1024 * 1024);
  EXPECT_EQ(nanoCpus(1.5), 1'500'000'000);
  EXPECT_EQ(cpuQuotaMicros(0.5), 50'000);
  EXPECT_EQ(cpuQuotaMicros(2), 2 * kCpuPeriodMicros);
}

TEST(ContainerConventionsTest, PullStreamErrorFindsFirstError) {
  EXPECT_EQ(pullStreamError("{\"status\":\"a\"}\n{\"error\":\"boom\"}\n{\"error\":\"late\"}"),
            "boom");
  EXPECT_EQ(pullStreamError("{\"status\":\"done\"}\n"), "");
  EXPECT_EQ(pullStreamError("not json"), "");
}

TEST(ContainerConventionsTest, ImageNotFoundNamesImage) {
  Error error = imageNotFound("x:y", "no registry");
  EXPECT_EQ(error.code, ErrorCode::kImageNotFound);
  EXPECT_EQ(error.message,
            "image 'x:y' is not present locally and could not be pulled: no registry");
}

TEST(ContainerConventionsTest, SocketSetting) {
  EXPECT_EQ(parseSocketSetting("[s]", "unix:///run/x.sock").value(), "/run/x.sock");
  EXPECT_EQ(parseSocketSetting("[s]", "/run/x.sock").value(), "/run/x.sock");
  EXPECT_EQ(parseSocketSetting("[s]", "relative").error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(parseSocketSetting("[s]", "unix://").error().code, ErrorCode::kInvalidArgument);
}

TEST(ContainerConventionsTest, SecondsSetting) {
  EXPECT_EQ(parseSecondsSetting("[s]", "k", "12").value(), std::chrono::seconds(12));
  EXPECT_EQ(parseSecondsSetting("[s]", "k", "0").error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(parseSecondsSetting("[s]", "k", "1s").error().code, ErrorCode::kInvalidArgument);
  EXPECT_NE(parseSecondsSetting("[s]", "k", "x").error().message.find("[s] k"), std::string::npos);
}

TEST(ContainerConventionsTest, RuntimeListedInInfoOrUnsupportedNamingIt) {
  const std::string info =
      R"({"Runtimes":{"runc":{"path":"runc"},"runsc":{"path":"/usr/bin/runsc"}},"x":1})";
  EXPECT_TRUE(checkRuntimeListed("docker", info, "runsc", "hint").ok());
  auto missing = checkRuntimeListed("docker", info, "kata", "register it so");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().code, ErrorCode::kUnsupported);
  EXPECT_NE(missing.error().message.find("'kata'"), std::string::npos) << missing.error().message;
  EXPECT_NE(missing.error().message.find("runc, runsc"), std::string::npos);
  EXPECT_NE(missing.error().message.find("register it so"), std::string::npos);
  for (const char* body : {"", "[]", "{}", R"({"Runtimes":[]})"}) {
    auto r = checkRuntimeListed("docker", body, "runsc", "hint");
    ASSERT_FALSE(r.ok()) << body;
    EXPECT_EQ(r.error().code, ErrorCode::kInternal) << body;
  }
}

TEST(ContainerConventionsTest, GvisorRuntimeSetting) {
  auto defaults = parseEngineSettings("docker", {}, "/s");
  ASSERT_TRUE(defaults.ok());
  EXPECT_EQ(defaults.value().gvisor_runtime, "runsc");
  auto named = parseEngineSettings("docker", {{"gvisor_runtime", "runsc-kvm"}}, "/s");
  ASSERT_TRUE(named.ok());
  EXPECT_EQ(named.value().gvisor_runtime, "runsc-kvm");
  for (const char* bad : {"", "run sc", "a\"b"}) {
    auto r = parseEngineSettings("docker", {{"gvisor_runtime", bad}}, "/s");
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_NE(r.error().message.find("gvisor_runtime"), std::string::npos);
  }
}

TEST(ExecRegistryTest, AbortAllEndsOnlyThatSandboxsOpenStreams) {
  int mine[2], other[2];
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, mine), 0);
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, other), 0);
  auto mine_handle = std::make_shared<ExecAbortHandle>(mine[0]);
  auto other_handle = std::make_shared<ExecAbortHandle>(other[0]);
  auto closed_handle = std::make_shared<ExecAbortHandle>(-1);
  ExecRegistry registry;
  registry.add("sandbox-a", mine_handle);
  registry.add("sandbox-b", other_handle);
  registry.add("sandbox-a", closed_handle);
  closed_handle.reset();  // a channel destroyed before the sandbox: skipped
  registry.abortAll("sandbox-a");
  char byte;
  EXPECT_EQ(::recv(mine[0], &byte, 1, MSG_DONTWAIT), 0) << "a shut-down stream reads EOF";
  EXPECT_EQ(::recv(other[0], &byte, 1, MSG_DONTWAIT), -1) << "another sandbox's stream is open";
  // A detached handle (its channel is being destroyed) no longer touches the descriptor.
  other_handle->detach();
  other_handle->abort();
  EXPECT_EQ(::recv(other[0], &byte, 1, MSG_DONTWAIT), -1);
  for (int fd : {mine[0], mine[1], other[0], other[1]}) ::close(fd);
}

TEST(ContainerStatsTest, ReadsCpuAndMemoryLessInactiveCache) {
  // cgroup v1 as Docker 20.10 answers it (trimmed).
  auto v1 = parseContainerStats("docker", R"({"read":"2026-01-01T00:00:00Z",
      "cpu_stats":{"cpu_usage":{"total_usage":1500000000}},
      "memory_stats":{"usage":10485760,"stats":{"total_inactive_file":2097152}}})");
  ASSERT_TRUE(v1.ok()) << v1.error().message;
  EXPECT_DOUBLE_EQ(*v1.value().cpu_seconds, 1.5);
  EXPECT_EQ(*v1.value().memory_bytes, 8388608u);
  // cgroup v2 names the cache inactive_file.
  auto v2 = parseContainerStats("podman", R"({"cpu_stats":{"cpu_usage":{"total_usage":2000}},
      "memory_stats":{"usage":4096,"stats":{"inactive_file":1024}}})");
  ASSERT_TRUE(v2.ok());
  EXPECT_EQ(*v2.value().memory_bytes, 3072u);
}

TEST(ContainerStatsTest, MissingOrZeroFieldsStayUnknown) {
  // A stopped container: Docker answers zeroes and empty objects.
  auto stopped = parseContainerStats("docker", R"({"cpu_stats":{"cpu_usage":{"total_usage":0}},
      "memory_stats":{}})");
  ASSERT_TRUE(stopped.ok());
  EXPECT_FALSE(stopped.value().cpu_seconds);
  EXPECT_FALSE(stopped.value().memory_bytes);
  auto odd = parseContainerStats("docker", R"({"cpu_stats":"nope","memory_stats":{"usage":"x"}})");
  ASSERT_TRUE(odd.ok());
  EXPECT_FALSE(odd.value().cpu_seconds);
  EXPECT_FALSE(odd.value().memory_bytes);
  auto bad = parseContainerStats("docker", "not json");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().message.find("docker"), std::string::npos);
}

}  // namespace
}  // namespace grid::engine
