// Fork, snapshot and reset on every backend (docs/fork-snapshot.md): a child starts with the
// source's files and session state of one instant; the source, the children and each other
// stay apart afterwards; a snapshot is an image create accepts; reset returns to the state
// right after setup; bad requests get their 4xx.
#include "fork_support.h"
#include "util/random_token.h"

namespace grid::testing {
namespace {

class ForkTest : public ForkTestBase {};

// The error code of a call expected to fail (a success is a test failure).
template <typename R>
ErrorCode codeOf(const R& result) {
  if (result.ok()) {
    ADD_FAILURE() << "expected an error";
    return ErrorCode::kInternal;
  }
  return result.error().code;
}

TEST_F(ForkTest, ChildSeesTheSourceFilesOfTheInstant) {
  const std::string source = startSandbox();
  const std::string dir = dataDir();
  ASSERT_EQ(run(source, "mkdir -p " + dir + " && echo before > " + dir + "/a").exit_code, 0);
  const auto children = forkOf(source, 2);
  ASSERT_EQ(children.size(), 2u);
  ASSERT_EQ(run(source, "echo after > " + dir + "/b").exit_code, 0);
  for (const auto& child : children) {
    EXPECT_EQ(run(child, "cat " + dir + "/a").output, "before\n");
    EXPECT_NE(run(child, "test -e " + dir + "/b").exit_code, 0)
        << "a later write reached " << child;
    auto found = manager_->find(child);
    ASSERT_TRUE(found.ok());
    EXPECT_EQ(found.value()->lifecycle().status(), SandboxStatus::kRunning);
  }
}

TEST_F(ForkTest, ChildSessionStartsInTheSourceSessionState) {
  const std::string source = startSandbox();
  const std::string dir = dataDir();
  ASSERT_EQ(run(source, "mkdir -p " + dir + "/work && cd " + dir + "/work").exit_code, 0);
  run(source, "export EXPORTED='ex val'; UNEXPORTED=$'two\\nlines'; declare -a ARR=(x 'y z')");
  run(source, "greet() { echo \"hello $1\"; }; alias hi='echo aliased'");
  run(source, "shopt -s globstar; set -o noclobber; umask 0027");
  const auto children = forkOf(source, 1);
  ASSERT_EQ(children.size(), 1u);
  const std::string& child = children[0];
  EXPECT_EQ(run(child, "pwd").output, dir + "/work\n");
  EXPECT_EQ(run(child, "echo \"$EXPORTED\"; env | grep -c '^EXPORTED=ex val$'").output,
            "ex val\n1\n");
  EXPECT_EQ(run(child, "printf '%s|' \"$UNEXPORTED\"; env | grep -c '^UNEXPORTED=' || true").output,
            "two\nlines|0\n");
  EXPECT_EQ(run(child, "echo \"${ARR[1]}\"").output, "y z\n");
  EXPECT_EQ(run(child, "greet fork").output, "hello fork\n");
  EXPECT_EQ(run(child, "hi").output, "aliased\n");
  EXPECT_EQ(run(child, "shopt -q globstar && echo on").output, "on\n");
  EXPECT_EQ(run(child, "[[ $- == *C* ]] && echo on").output, "on\n");
  EXPECT_EQ(run(child, "umask").output, "0027\n");
  // The state file is gone from both, and the child's own name is its own.
  EXPECT_EQ(run(child, "ls -a / | grep -c '^.grid-session' || true").output, "0\n");
  EXPECT_EQ(run(source, "ls -a / | grep -c '^.grid-session' || true").output, "0\n");
  EXPECT_EQ(run(child, "echo $HOSTNAME").output.find(source), std::string::npos);
}

TEST_F(ForkTest, WritesStayInTheirOwnSandbox) {
  const std::string source = startSandbox();
  const std::string dir = dataDir();
  ASSERT_EQ(run(source, "mkdir -p " + dir + " && echo base > " + dir + "/f; V=source").exit_code,
            0);
  const auto children = forkOf(source, 2);
  ASSERT_EQ(children.size(), 2u);
  run(children[0], "echo one > " + dir + "/f; touch " + dir +
                       "/only-one; rm -f /etc/hostname; "
                       "V=child");
  EXPECT_EQ(run(source, "cat " + dir + "/f; ls " + dir + "; echo $V").output, "base\nf\nsource\n");
  EXPECT_EQ(run(children[1], "cat " + dir + "/f; ls " + dir + "; echo $V").output,
            "base\nf\nsource\n");
  EXPECT_EQ(run(source, "test -e /etc/hostname && echo kept").output, "kept\n");
  // The source goes on as before: its session is the same shell.
  EXPECT_EQ(run(source, "echo $V; pwd").exit_code, 0);
}

TEST_F(ForkTest, ForkOfAForkSeesEveryLayer) {
  const std::string source = startSandbox();
  const std::string dir = dataDir();
  ASSERT_EQ(run(source, "mkdir -p " + dir + " && echo 1 > " + dir + "/one").exit_code, 0);
  const auto children = forkOf(source, 1);
  ASSERT_EQ(children.size(), 1u);
  ASSERT_EQ(run(children[0], "echo 2 > " + dir + "/two && rm " + dir + "/one").exit_code, 0);
  const auto grandchildren = forkOf(children[0], 1);
  ASSERT_EQ(grandchildren.size(), 1u);
  EXPECT_EQ(
      run(grandchildren[0], "cat " + dir + "/two; test -e " + dir + "/one || echo gone").output,
      "2\ngone\n");
}

TEST_F(ForkTest, SnapshotMakesAnImageThatCreateAccepts) {
  const std::string source = startSandbox();
  const std::string token = randomHex(8);
  ASSERT_EQ(run(source, "mkdir -p /srv/snap && echo " + token + " > /srv/snap/token").exit_code, 0);
  // One image per backend, replaced on each run, so runs do not pile images up.
  const std::string image = "grid-conformance/fork-snapshot:latest";
  auto saved = manager_->snapshot(source, image, true);
  ASSERT_TRUE(saved.ok()) << saved.error().message;
  auto again = manager_->snapshot(source, image, false);
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.error().code, ErrorCode::kConflict) << again.error().message;

  CreateRequest request;
  request.image = image;
  const std::string copy = startSandbox(request);
  ASSERT_FALSE(copy.empty());
  EXPECT_EQ(run(copy, "cat /srv/snap/token").output, token + "\n");
  run(copy, "echo changed > /srv/snap/token");
  EXPECT_EQ(run(source, "cat /srv/snap/token").output, token + "\n");
}

TEST_F(ForkTest, ResetReturnsToTheStateAfterSetup) {
  CreateRequest request;
  request.setup_commands = {"mkdir -p /root/setup && echo ready > /root/setup/f"};
  const std::string id = startSandbox(request);
  ASSERT_EQ(
      run(id, "echo changed > /root/setup/f; touch /root/setup/extra; export X=1; cd /").exit_code,
      0);
  auto reset = manager_->reset(id);
  ASSERT_TRUE(reset.ok()) << reset.error().message;
  EXPECT_EQ(run(id, "cat /root/setup/f; ls /root/setup; echo \"x=$X\"").output, "ready\nf\nx=\n");
  auto found = manager_->find(id);
  ASSERT_TRUE(found.ok());
  EXPECT_EQ(found.value()->lifecycle().status(), SandboxStatus::kRunning);
  bool recorded = false;
  for (const auto& entry : found.value()->trajectory()) {
    recorded = recorded || entry.kind == TrajectoryKind::kReset;
  }
  EXPECT_TRUE(recorded);
}

TEST_F(ForkTest, BadRequestsGetClearErrorsAndLeaveNothing) {
  const std::string source = startSandbox();
  const size_t before = manager_->all().size();
  for (size_t count : {size_t{0}, size_t{100000}}) {
    auto r = manager_->fork(source, count);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().code, ErrorCode::kInvalidArgument) << r.error().message;
  }
  // The test manager runs 4 at most; the source holds one.
  auto over = manager_->fork(source, 4);
  ASSERT_FALSE(over.ok());
  EXPECT_EQ(over.error().code, ErrorCode::kResourceExhausted) << over.error().message;
  EXPECT_EQ(manager_->all().size(), before);
  EXPECT_EQ(manager_->runningSlotsInUse(), 1u);
  auto unknown = manager_->fork("no-such-sandbox", 1);
  ASSERT_FALSE(unknown.ok());
  EXPECT_EQ(unknown.error().code, ErrorCode::kNotFound);

  auto created = manager_->create({});
  ASSERT_TRUE(created.ok());
  const std::string idle = created.value()->spec().id;
  EXPECT_EQ(codeOf(manager_->fork(idle, 1)), ErrorCode::kConflict);
  ASSERT_TRUE(manager_->stop(source, false).ok());
  EXPECT_EQ(codeOf(manager_->fork(source, 1)), ErrorCode::kConflict);
  EXPECT_EQ(codeOf(manager_->snapshot(source, "grid-conformance/never:x", false)),
            ErrorCode::kConflict);
  EXPECT_EQ(codeOf(manager_->reset(source)), ErrorCode::kConflict);
}

TEST_F(ForkTest, TrajectoriesRecordTheFork) {
  const std::string source = startSandbox();
  const auto children = forkOf(source, 1);
  ASSERT_EQ(children.size(), 1u);
  const auto last = [&](const std::string& id) {
    auto entries = manager_->find(id).value()->trajectory();
    return entries.empty() ? TrajectoryEntry{} : entries.back();
  };
  EXPECT_EQ(last(source).kind, TrajectoryKind::kFork);
  EXPECT_NE(last(source).command.find(children[0]), std::string::npos);
  EXPECT_EQ(last(children[0]).kind, TrajectoryKind::kFork);
  EXPECT_NE(last(children[0]).command.find(source), std::string::npos);
}

}  // namespace
}  // namespace grid::testing
