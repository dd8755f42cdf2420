// Containment of fork and snapshot against a hostile tenant: the session state it crafts is
// replayed only in its own child and cannot reach the server or the host, a state too large is
// refused with nothing left, a symlink to a host path stays a path inside the child, and a
// fork leaves nothing behind when its source goes first.
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "fork_support.h"
#include "util/random_token.h"

namespace grid::testing {
namespace {

namespace fs = std::filesystem;

class ContainmentForkTest : public ForkTestBase {
 protected:
  void TearDown() override {
    for (const auto& path : host_files_) fs::remove(path);
    ForkTestBase::TearDown();
  }
  // A host file the tenant tries to reach; removed after the test.
  std::string hostFile(const std::string& content) {
    const std::string path = "/tmp/grid-fork-host-" + randomHex(8);
    std::ofstream(path) << content;
    host_files_.push_back(path);
    return path;
  }
  std::vector<std::string> host_files_;
};

TEST_F(ContainmentForkTest, HostileSessionStateRunsOnlyInTheChild) {
  const std::string source = startSandbox();
  // Were any of this run by the server, the marker would appear on the host.
  const std::string marker = "/tmp/grid-fork-marker-" + randomHex(8);
  host_files_.push_back(marker);
  const std::string touch = "touch " + marker;
  run(source, "cd() { " + touch + "; }; builtin() { " + touch + "; }; declare() { " + touch +
                  "; }; source() { " + touch + "; }; rm() { " + touch + "; }");
  run(source, "alias builtin='" + touch + ";'; alias umask='" + touch + ";'");
  run(source, "V1='$(" + touch + ")'; V2='`" + touch + "`'; V3=$'\\n" + touch +
                  "\\n'; "
                  "V4='\"; " +
                  touch + "; #'");
  const auto children = forkOf(source, 1);
  ASSERT_EQ(children.size(), 1u);
  const std::string& child = children[0];
  EXPECT_FALSE(fs::exists(marker)) << "the tenant's state ran on the host";
  // The values arrive as text, and the child's session still answers in step.
  EXPECT_EQ(run(child, "printf '%s' \"$V1\"").output, "$(" + touch + ")");
  EXPECT_EQ(run(child, "printf '%s' \"$V4\"").output, "\"; " + touch + "; #");
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(run(child, "echo step" + std::to_string(i)).output,
              "step" + std::to_string(i) + "\n");
  }
  EXPECT_FALSE(fs::exists(marker));
}

TEST_F(ContainmentForkTest, HugeSessionStateIsRefusedAndLeavesNothing) {
  const std::string source = startSandbox();
  // Past the 4 MiB state bound (session_state.h); built inside the sandbox.
  ASSERT_EQ(run(source, "BIG=$(head -c 5000000 /dev/zero | tr '\\0' x); echo ${#BIG}").output,
            "5000000\n");
  const size_t before = manager_->all().size();
  auto forked = manager_->fork(source, 2);
  ASSERT_FALSE(forked.ok());
  EXPECT_EQ(forked.error().code, ErrorCode::kInvalidArgument) << forked.error().message;
  EXPECT_EQ(manager_->all().size(), before);
  EXPECT_EQ(manager_->runningSlotsInUse(), 1u);
  EXPECT_EQ(run(source, "ls -a / | grep -c '^.grid-session' || true").output, "0\n");
  EXPECT_EQ(run(source, "echo ${#BIG}").output, "5000000\n");
}

TEST_F(ContainmentForkTest, SymlinkToAHostPathStaysInsideTheChild) {
  const std::string secret = "host-secret-" + randomHex(8);
  const std::string host_path = hostFile(secret + "\n");
  const std::string source = startSandbox();
  const std::string dir = dataDir();
  ASSERT_EQ(run(source, "mkdir -p " + dir + " && ln -s " + host_path + " " + dir + "/link && " +
                            "ln -s / " + dir + "/root-link")
                .exit_code,
            0);
  const auto children = forkOf(source, 1);
  ASSERT_EQ(children.size(), 1u);
  const std::string& child = children[0];
  EXPECT_EQ(run(child, "readlink " + dir + "/link").output, host_path + "\n");
  EXPECT_EQ(run(child, "cat " + dir + "/link 2>/dev/null").output.find(secret), std::string::npos);
  run(child, "echo pwned > " + dir + "/link; echo pwned > " + dir + "/root-link/tmp/" +
                 fs::path(host_path).filename().string());
  std::ifstream in(host_path);
  std::string line;
  std::getline(in, line);
  EXPECT_EQ(line, secret) << "a write in the child reached the host";
  if (!hostImage()) {
    ASSERT_TRUE(manager_->snapshot(source, "grid-conformance/fork-containment:latest", true).ok());
    CreateRequest request;
    request.image = "grid-conformance/fork-containment:latest";
    const std::string copy = startSandbox(request);
    EXPECT_EQ(run(copy, "cat " + dir + "/link 2>/dev/null").output.find(secret), std::string::npos);
  }
}

// After the source is removed its children go on; once they are gone too, nothing of the fork
// remains: no layer dir (local-namespace), no image (engines, checked by the leftover script
// of CI and here by the children still working without their source).
TEST_F(ContainmentForkTest, ForkLeavesNothingWhenTheSourceGoesFirst) {
  const std::string source = startSandbox();
  const std::string dir = dataDir();
  ASSERT_EQ(run(source, "mkdir -p " + dir + " && echo kept > " + dir + "/f").exit_code, 0);
  const auto children = forkOf(source, 2);
  ASSERT_EQ(children.size(), 2u);
  ASSERT_TRUE(manager_->stop(source, true).ok());
  const std::string expected = "kept\n";
  for (const auto& child : children) {
    EXPECT_EQ(run(child, "cat " + dir + "/f 2>/dev/null").output, expected);
  }
  ASSERT_TRUE(manager_->stop(children[0], true).ok());
  EXPECT_EQ(run(children[1], "cat " + dir + "/f 2>/dev/null").output, expected);
  ASSERT_TRUE(manager_->stop(children[1], true).ok());
  if (conformanceTarget().backend == "local-namespace") {
    const auto& settings = conformanceTarget().config.settingsOf("local-namespace");
    const auto state = settings.find("state_dir");
    const std::string state_dir =
        state == settings.end() ? "/var/lib/grid/local-namespace" : state->second;
    for (const auto& entry : fs::directory_iterator(state_dir)) {
      const std::string name = entry.path().filename().string();
      if (name.rfind("layer-", 0) != 0) continue;
      std::ifstream instance(entry.path() / "instance");
      std::string owner;
      std::getline(instance, owner);
      EXPECT_NE(owner, conformanceTarget().config.instance) << "left behind: " << entry.path();
    }
  }
}

// Where a backend cannot fork (gVisor on the engines, which cannot see the sandbox's file
// changes; local-namespace's host image, whose writable places are tmpfs), fork and snapshot
// answer a clear kUnsupported, make nothing, and leave the source as it was.
class ContainmentForkUnsupportedTest : public ConformanceTest {};

TEST_F(ContainmentForkUnsupportedTest, AnswersUnsupportedAndMakesNothing) {
  const bool gvisor = conformanceTarget().config.default_isolation == Isolation::kGvisor;
  if (!gvisor && conformanceTarget().image != "host") {
    GTEST_SKIP() << "only with --isolation gvisor or local-namespace's host image";
  }
  const std::string source = startSandbox();
  run(source, "X=kept");
  const size_t before = manager_->all().size();
  auto forked = manager_->fork(source, 1);
  ASSERT_FALSE(forked.ok());
  EXPECT_EQ(forked.error().code, ErrorCode::kUnsupported) << forked.error().message;
  auto saved = manager_->snapshot(source, "grid-conformance/unsupported:x", true);
  ASSERT_FALSE(saved.ok());
  EXPECT_EQ(saved.error().code, ErrorCode::kUnsupported) << saved.error().message;
  EXPECT_EQ(manager_->all().size(), before);
  EXPECT_EQ(manager_->runningSlotsInUse(), 1u);
  EXPECT_EQ(run(source, "echo $X").output, "kept\n");
}

}  // namespace
}  // namespace grid::testing
