// The plan half of the Docker backend, without a daemon.
#include "container_spec.h"

#include <Poco/JSON/Array.h>
#include <gtest/gtest.h>

#include <cerrno>
#include <string>
#include <vector>

#include "grid/engine/container_conventions.h"
#include "grid/engine/engine_client.h"
#include "grid/seccomp/oci_profile.h"
#include "sample_sandbox_spec.h"

namespace grid::docker {
namespace {

SandboxSpec sampleSpec() { return testing::sampleSandboxSpec("grid-test/debian:bookworm"); }

TEST(ContainerSpecTest, CreateBodyCarriesSpec) {
  auto body = buildCreateBody("inst", sampleSpec());
  EXPECT_EQ(body->getValue<std::string>("Image"), "grid-test/debian:bookworm");
  auto entrypoint = body->getArray("Entrypoint");
  ASSERT_EQ(entrypoint->size(), 3u);
  EXPECT_EQ(entrypoint->getElement<std::string>(0), "/bin/sh");
  EXPECT_EQ(entrypoint->getElement<std::string>(2), engine::keepAliveCommand()[2]);
  EXPECT_EQ(body->getArray("Cmd")->size(), 0u);  // not the image's
  auto env = body->getArray("Env");
  ASSERT_EQ(env->size(), 2u);
  EXPECT_EQ(env->getElement<std::string>(0), "EMPTY=");
  EXPECT_EQ(env->getElement<std::string>(1), "FOO=bar");
  EXPECT_EQ(body->getObject("Labels")->getValue<std::string>("grid.instance"), "inst");

  auto host = body->getObject("HostConfig");
  EXPECT_EQ(host->getValue<std::string>("NetworkMode"), "none");
  EXPECT_EQ(host->getValue<std::int64_t>("Memory"), 256 * 1024 * 1024);
  EXPECT_EQ(host->getValue<std::int64_t>("MemorySwap"), 256 * 1024 * 1024);
  EXPECT_EQ(host->getValue<std::int64_t>("NanoCpus"), 1'500'000'000);
  EXPECT_EQ(host->getValue<std::int64_t>("PidsLimit"), 64);
  EXPECT_EQ(host->getArray("SecurityOpt")->getElement<std::string>(0), "no-new-privileges");
  EXPECT_FALSE(host->getValue<bool>("Privileged"));
  EXPECT_FALSE(host->has("Init"));  // the keep-alive is the init
}

TEST(ContainerSpecTest, ZeroLimitsAndNetworkAreOmitted) {
  SandboxSpec spec;
  spec.id = "x";
  spec.image = "img";
  spec.network = true;
  auto host = buildCreateBody("inst", spec)->getObject("HostConfig");
  EXPECT_FALSE(host->has("NetworkMode"));
  EXPECT_FALSE(host->has("Memory"));
  EXPECT_FALSE(host->has("NanoCpus"));
  EXPECT_FALSE(host->has("PidsLimit"));
}

TEST(ContainerSpecTest, BodySerialisesToJson) {
  std::string json = engine::toJson(buildCreateBody("inst", sampleSpec()));
  auto parsed = engine::parseJsonObject(json);
  ASSERT_TRUE(parsed);
  EXPECT_EQ(parsed->getObject("HostConfig")->getValue<std::int64_t>("PidsLimit"), 64);
}

TEST(ContainerSpecTest, PullTargetSplitsTag) {
  EXPECT_EQ(pullTarget("foo:bar").from_image, "foo");
  EXPECT_EQ(pullTarget("foo:bar").tag, "bar");
  EXPECT_EQ(pullTarget("foo").tag, "latest");
  EXPECT_EQ(pullTarget("registry:5000/foo").from_image, "registry:5000/foo");
  EXPECT_EQ(pullTarget("registry:5000/foo").tag, "latest");
  EXPECT_EQ(pullTarget("registry:5000/foo:1.2").tag, "1.2");
  EXPECT_EQ(pullTarget("foo@sha256:abcd").from_image, "foo@sha256:abcd");
  EXPECT_EQ(pullTarget("foo@sha256:abcd").tag, "");
}

std::vector<std::string> securityOpt(const Poco::JSON::Object::Ptr& body) {
  auto array = body->getObject("HostConfig")->getArray("SecurityOpt");
  std::vector<std::string> out;
  for (std::size_t i = 0; i < array->size(); ++i) out.push_back(array->getElement<std::string>(i));
  return out;
}

TEST(ContainerSpecTest, GridSeccompProfileGoesInlineIntoSecurityOpt) {
  const std::string profile = seccomp::renderOciProfile(seccomp::sandboxPolicy());
  auto body = buildCreateBody("inst", sampleSpec());
  applySeccomp(*body, seccomp::SeccompMode::kGrid, profile);
  auto options = securityOpt(body);
  ASSERT_EQ(options.size(), 2u);
  EXPECT_EQ(options[0], "no-new-privileges");
  EXPECT_EQ(options[1], "seccomp=" + profile);
  // It survives serialisation as one JSON string the engine parses back.
  auto parsed = engine::parseJsonObject(engine::toJson(body));
  ASSERT_TRUE(parsed);
  const std::string sent =
      parsed->getObject("HostConfig")->getArray("SecurityOpt")->getElement<std::string>(1);
  auto sent_profile = engine::parseJsonObject(sent.substr(sizeof "seccomp=" - 1));
  ASSERT_TRUE(sent_profile);
  EXPECT_EQ(sent_profile->getValue<int>("defaultErrnoRet"), ENOSYS);
}

TEST(ContainerSpecTest, EngineDefaultAndUnconfinedSeccomp) {
  auto body = buildCreateBody("inst", sampleSpec());
  applySeccomp(*body, seccomp::SeccompMode::kEngineDefault, "{}");
  EXPECT_EQ(securityOpt(body), std::vector<std::string>{"no-new-privileges"});
  body = buildCreateBody("inst", sampleSpec());
  applySeccomp(*body, seccomp::SeccompMode::kUnconfined, "{}");
  EXPECT_EQ(securityOpt(body),
            (std::vector<std::string>{"no-new-privileges", "seccomp=unconfined"}));
}

TEST(ContainerSpecTest, GvisorSelectsTheConfiguredRuntime) {
  SandboxSpec spec = sampleSpec();
  EXPECT_FALSE(buildCreateBody("inst", spec, engine::engineRuntimeFor(spec, "runsc"))
                   ->getObject("HostConfig")
                   ->has("Runtime"));  // the engine's default runtime
  spec.isolation = Isolation::kGvisor;
  auto body = buildCreateBody("inst", spec, engine::engineRuntimeFor(spec, "runsc-ptrace"));
  EXPECT_EQ(body->getObject("HostConfig")->getValue<std::string>("Runtime"), "runsc-ptrace");
}

}  // namespace
}  // namespace grid::docker
