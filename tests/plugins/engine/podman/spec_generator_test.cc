// The plan half of the Podman backend, without a Podman service.
#include "spec_generator.h"

#include <Poco/JSON/Array.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "grid/engine/container_conventions.h"
#include "grid/engine/engine_client.h"
#include "sample_sandbox_spec.h"

namespace grid::podman {
namespace {

SandboxSpec sampleSpec() {
  return testing::sampleSandboxSpec("localhost/grid-test/debian:bookworm");
}

TEST(SpecGeneratorTest, CarriesNameImageCommandEnvAndLabels) {
  auto body = buildSpecGenerator("inst", sampleSpec());
  EXPECT_EQ(body->getValue<std::string>("name"), "grid-inst-abc-123");
  EXPECT_EQ(body->getValue<std::string>("image"), "localhost/grid-test/debian:bookworm");
  auto entrypoint = body->getArray("entrypoint");
  ASSERT_EQ(entrypoint->size(), 3u);
  EXPECT_EQ(entrypoint->getElement<std::string>(0), "/bin/sh");
  EXPECT_EQ(entrypoint->getElement<std::string>(2), engine::keepAliveCommand()[2]);
  EXPECT_FALSE(body->has("command"));  // with an entrypoint given, not the image's either
  EXPECT_FALSE(body->has("init"));     // the keep-alive is the init
  auto env = body->getObject("env");
  EXPECT_EQ(env->size(), 2u);
  EXPECT_EQ(env->getValue<std::string>("FOO"), "bar");
  EXPECT_EQ(env->getValue<std::string>("EMPTY"), "");
  auto labels = body->getObject("labels");
  EXPECT_EQ(labels->getValue<std::string>("team"), "x");
  EXPECT_EQ(labels->getValue<std::string>("grid.instance"), "inst");
  EXPECT_EQ(labels->getValue<std::string>("grid.managed-by"), "grid");
  EXPECT_EQ(labels->getValue<std::string>("grid.sandbox-id"), "abc-123");
  EXPECT_TRUE(body->getValue<bool>("no_new_privileges"));
  EXPECT_FALSE(body->getValue<bool>("privileged"));
  EXPECT_FALSE(body->getValue<bool>("terminal"));
}

TEST(SpecGeneratorTest, LimitsBecomeResourceLimits) {
  auto limits = buildSpecGenerator("inst", sampleSpec())->getObject("resource_limits");
  ASSERT_TRUE(limits);
  EXPECT_EQ(limits->getObject("memory")->getValue<std::int64_t>("limit"), 256 * 1024 * 1024);
  EXPECT_EQ(limits->getObject("memory")->getValue<std::int64_t>("swap"), 256 * 1024 * 1024);
  EXPECT_EQ(limits->getObject("cpu")->getValue<std::int64_t>("quota"), 150'000);
  EXPECT_EQ(limits->getObject("cpu")->getValue<std::int64_t>("period"), 100'000);
  EXPECT_EQ(limits->getObject("pids")->getValue<std::int64_t>("limit"), 64);
}

TEST(SpecGeneratorTest, NoNetworkIsNetnsNone) {
  auto netns = buildSpecGenerator("inst", sampleSpec())->getObject("netns");
  ASSERT_TRUE(netns);
  EXPECT_EQ(netns->getValue<std::string>("nsmode"), "none");
}

TEST(SpecGeneratorTest, ZeroLimitsAndNetworkAreOmitted) {
  SandboxSpec spec;
  spec.id = "x";
  spec.image = "img";
  spec.network = true;
  auto body = buildSpecGenerator("inst", spec);
  EXPECT_FALSE(body->has("netns"));
  EXPECT_FALSE(body->has("resource_limits"));
}

TEST(SpecGeneratorTest, BodySerialisesToJson) {
  auto parsed = engine::parseJsonObject(engine::toJson(buildSpecGenerator("inst", sampleSpec())));
  ASSERT_TRUE(parsed);
  EXPECT_EQ(
      parsed->getObject("resource_limits")->getObject("pids")->getValue<std::int64_t>("limit"), 64);
}

TEST(SpecGeneratorTest, DefaultSocketPath) {
  EXPECT_EQ(defaultSocketPath(0, "/run/user/0"), "/run/podman/podman.sock");
  EXPECT_EQ(defaultSocketPath(1000, "/run/user/1000"), "/run/user/1000/podman/podman.sock");
  EXPECT_EQ(defaultSocketPath(1000, nullptr), "/run/user/1000/podman/podman.sock");
  EXPECT_EQ(defaultSocketPath(1000, ""), "/run/user/1000/podman/podman.sock");
}

TEST(SpecGeneratorTest, SeccompProfilePath) {
  auto body = buildSpecGenerator("inst", sampleSpec());
  EXPECT_FALSE(body->has("seccomp_profile_path"));
  EXPECT_FALSE(body->has("seccomp_policy"));
  applySeccomp(*body, seccomp::SeccompMode::kGrid, "/run/grid/seccomp-0123.json");
  EXPECT_EQ(body->getValue<std::string>("seccomp_profile_path"), "/run/grid/seccomp-0123.json");
  body = buildSpecGenerator("inst", sampleSpec());
  applySeccomp(*body, seccomp::SeccompMode::kUnconfined, "/x");
  EXPECT_EQ(body->getValue<std::string>("seccomp_profile_path"), "unconfined");
  body = buildSpecGenerator("inst", sampleSpec());
  applySeccomp(*body, seccomp::SeccompMode::kEngineDefault, "/x");
  EXPECT_FALSE(body->has("seccomp_profile_path"));
}

TEST(SpecGeneratorTest, SeccompProfileFileIsNamedByItsContent) {
  const std::string a = seccompProfilePath(0, nullptr, "{\"a\":1}");
  EXPECT_EQ(a.rfind("/run/grid/seccomp-", 0), 0u) << a;
  EXPECT_EQ(a.size(), std::string("/run/grid/seccomp-").size() + 16 + 5) << a;
  EXPECT_EQ(a, seccompProfilePath(0, "/ignored", "{\"a\":1}"));
  EXPECT_NE(a, seccompProfilePath(0, nullptr, "{\"a\":2}"));
  EXPECT_EQ(
      seccompProfilePath(1000, "/run/user/1000", "{}").rfind("/run/user/1000/grid/seccomp-", 0),
      0u);
  EXPECT_EQ(seccompProfilePath(1000, nullptr, "{}").rfind("/run/user/1000/grid/seccomp-", 0), 0u);
}

TEST(SpecGeneratorTest, GvisorSelectsTheConfiguredOciRuntime) {
  SandboxSpec spec = sampleSpec();
  EXPECT_FALSE(buildSpecGenerator("inst", spec, engine::engineRuntimeFor(spec, "runsc"))
                   ->has("oci_runtime"));
  spec.isolation = Isolation::kGvisor;
  auto body = buildSpecGenerator("inst", spec, engine::engineRuntimeFor(spec, "runsc"));
  EXPECT_EQ(body->getValue<std::string>("oci_runtime"), "runsc");
}

TEST(SpecGeneratorTest, GvisorSandboxesAreLabelled) {
  SandboxSpec spec = sampleSpec();
  EXPECT_FALSE(buildSpecGenerator("inst", spec)->getObject("labels")->has(kIsolationLabel));
  spec.isolation = Isolation::kGvisor;
  EXPECT_EQ(
      buildSpecGenerator("inst", spec)->getObject("labels")->getValue<std::string>(kIsolationLabel),
      "gvisor");
}

TEST(SpecGeneratorTest, DefaultGvisorSocketPath) {
  EXPECT_EQ(defaultGvisorSocketPath(0, "/run/user/0"), "/run/podman/podman-gvisor.sock");
  EXPECT_EQ(defaultGvisorSocketPath(1000, "/run/user/1000"),
            "/run/user/1000/podman/podman-gvisor.sock");
  EXPECT_EQ(defaultGvisorSocketPath(1000, nullptr), "/run/user/1000/podman/podman-gvisor.sock");
}

TEST(SpecGeneratorTest, GvisorLeftoverFilterAddsTheIsolationLabel) {
  auto filter = engine::parseJsonObject(gvisorLeftoverFilter("inst"));
  ASSERT_TRUE(filter);
  auto labels = filter->getArray("label");
  ASSERT_TRUE(labels);
  std::vector<std::string> values;
  for (std::size_t i = 0; i < labels->size(); ++i)
    values.push_back(labels->getElement<std::string>(i));
  EXPECT_EQ(values, (std::vector<std::string>{"grid.managed-by=grid", "grid.instance=inst",
                                              "grid.isolation=gvisor"}));
}

TEST(SpecGeneratorTest, GvisorServiceMustRunTheGvisorRuntime) {
  const std::string on_runsc = R"({"host": {"ociRuntime": {"name": "runsc", "path": "/x"}}})";
  const std::string on_runc = R"({"host": {"ociRuntime": {"name": "runc"}}})";
  EXPECT_TRUE(checkGvisorServiceRuntime(on_runsc, "runsc", "/run/g.sock").ok());
  auto wrong = checkGvisorServiceRuntime(on_runc, "runsc", "/run/g.sock");
  ASSERT_FALSE(wrong.ok());
  EXPECT_EQ(wrong.error().code, ErrorCode::kUnsupported);
  EXPECT_NE(wrong.error().message.find("unix:///run/g.sock runs containers on 'runc', not "
                                       "'runsc'"),
            std::string::npos)
      << wrong.error().message;
  EXPECT_EQ(checkGvisorServiceRuntime("{}", "runsc", "/run/g.sock").error().code,
            ErrorCode::kInternal);
  EXPECT_EQ(checkGvisorServiceRuntime("not json", "runsc", "/run/g.sock").error().code,
            ErrorCode::kInternal);
}

}  // namespace
}  // namespace grid::podman
