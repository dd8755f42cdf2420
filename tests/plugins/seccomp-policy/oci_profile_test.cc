// The policy rendered as the profile Docker and Podman take.
#include "grid/seccomp/oci_profile.h"

#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>
#include <gtest/gtest.h>

#include <cerrno>
#include <set>
#include <string>

namespace grid::seccomp {
namespace {

Poco::JSON::Object::Ptr renderedProfile() {
  Poco::JSON::Parser parser;
  return parser.parse(renderOciProfile(sandboxPolicy())).extract<Poco::JSON::Object::Ptr>();
}

bool hasName(const Poco::JSON::Object::Ptr& entry, const std::string& name) {
  auto names = entry->getArray("names");
  for (std::size_t i = 0; i < names->size(); ++i) {
    if (names->getElement<std::string>(i) == name) return true;
  }
  return false;
}

TEST(OciProfileTest, DefaultIsEnosysOnTheNativeArchitecture) {
  auto profile = renderedProfile();
  EXPECT_EQ(profile->getValue<std::string>("defaultAction"), "SCMP_ACT_ERRNO");
  EXPECT_EQ(profile->getValue<int>("defaultErrnoRet"), ENOSYS);
  auto architectures = profile->getArray("architectures");
  ASSERT_EQ(architectures->size(), 1u);
  EXPECT_EQ(architectures->getElement<std::string>(0), "SCMP_ARCH_X86_64");
}

TEST(OciProfileTest, EveryRuleIsAnEntry) {
  auto profile = renderedProfile();
  auto syscalls = profile->getArray("syscalls");
  ASSERT_EQ(syscalls->size(), sandboxPolicy().rules.size());
  bool io_uring_eperm = false;
  bool read_allowed = false;
  bool vsock_eperm = false;
  bool clone_allowed_without_namespaces = false;
  bool clone3_enosys = false;
  for (std::size_t i = 0; i < syscalls->size(); ++i) {
    auto entry = syscalls->getObject(i);
    const std::string action = entry->getValue<std::string>("action");
    ASSERT_TRUE(action == "SCMP_ACT_ALLOW" || action == "SCMP_ACT_ERRNO") << action;
    EXPECT_EQ(entry->has("errnoRet"), action == "SCMP_ACT_ERRNO");
    if (hasName(entry, "io_uring_setup")) {
      io_uring_eperm = action == "SCMP_ACT_ERRNO" && entry->getValue<int>("errnoRet") == EPERM &&
                       !entry->has("args");
    }
    // Explicit although it is the default: Docker 20.10 drops defaultErrnoRet.
    if (hasName(entry, "clone3")) {
      clone3_enosys = action == "SCMP_ACT_ERRNO" && entry->getValue<int>("errnoRet") == ENOSYS;
    }
    if (hasName(entry, "read")) read_allowed = action == "SCMP_ACT_ALLOW" && !entry->has("args");
    if (!entry->has("args")) continue;
    auto args = entry->getArray("args");
    ASSERT_EQ(args->size(), 1u);
    auto arg = args->getObject(0);
    if (hasName(entry, "socket") && arg->getValue<std::string>("op") == "SCMP_CMP_EQ" &&
        arg->getValue<Poco::UInt64>("value") == 40 /* AF_VSOCK */) {
      vsock_eperm = action == "SCMP_ACT_ERRNO" && entry->getValue<int>("errnoRet") == EPERM &&
                    arg->getValue<unsigned>("index") == 0;
    }
    // OCI's masked comparison: `value` is the mask, `valueTwo` what the masked bits must be.
    if (hasName(entry, "clone") && action == "SCMP_ACT_ALLOW") {
      clone_allowed_without_namespaces = arg->getValue<std::string>("op") == "SCMP_CMP_MASKED_EQ" &&
                                         arg->getValue<Poco::UInt64>("value") == 0x7E020000 &&
                                         arg->getValue<Poco::UInt64>("valueTwo") == 0;
    }
  }
  EXPECT_TRUE(io_uring_eperm);
  EXPECT_TRUE(read_allowed);
  EXPECT_TRUE(vsock_eperm);
  EXPECT_TRUE(clone_allowed_without_namespaces);
  EXPECT_TRUE(clone3_enosys);
}

TEST(OciProfileTest, FullWidthValuesSurviveJson) {
  // personality's query value and the tail of "any other family" are above 2^31.
  const std::string json = renderOciProfile(sandboxPolicy());
  EXPECT_NE(json.find("4294967295"), std::string::npos);
  EXPECT_EQ(json.find("-1"), std::string::npos) << "a mask rendered as a signed number";
  EXPECT_LT(json.size(), 64u * 1024) << "sent in every create request";
}

}  // namespace
}  // namespace grid::seccomp
