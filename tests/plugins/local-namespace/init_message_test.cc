// The grid-init message: round trips, and every malformed input is refused with a reason
// (grid-init acts on nothing it has not fully validated).
#include "init/init_message.h"

#include <gtest/gtest.h>
#include <sys/mount.h>

#include <random>

namespace grid::localns {
namespace {

InitMessage sampleInit() {
  InitMessage m;
  m.role = InitMessage::Role::kInit;
  m.hostname = "sb-1";
  MountStep overlay;
  overlay.kind = MountStep::Kind::kMount;
  overlay.source = "overlay";
  overlay.target = "/state/sb-1/root";
  overlay.fstype = "overlay";
  overlay.flags = MS_NODEV;
  overlay.data = "lowerdir=/a,upperdir=/b,workdir=/c";
  MountStep attach;
  attach.kind = MountStep::Kind::kAttachMount;
  attach.source = "/usr";
  attach.target = "/state/sb-1/root/usr";
  attach.mount_attr = 0x100001;
  attach.optional = true;
  MountStep node;
  node.kind = MountStep::Kind::kMknod;
  node.target = "/state/sb-1/root/dev/null";
  node.mode = 0666;
  node.dev = 0x103;
  m.mount_steps = {overlay, attach, node};
  m.mount_fd_count = 1;
  m.cgroup_fd_count = 2;
  m.held_fd_count = 1;
  return m;
}

InitMessage sampleEnter() {
  InitMessage m;
  m.role = InitMessage::Role::kEnter;
  m.cgroup_fd_count = 4;
  m.argv = {"/bin/sh", "-c", "echo hi"};
  m.env = {"PATH=/bin", "HOME=/root", "EMPTY="};
  m.exec_candidates = {"/bin/sh"};
  m.rlimits = {{RLIMIT_CORE, 0, 0}, {RLIMIT_NOFILE, 1024, 4096}};
  m.seccomp = {{0x20, 0, 0, 4}, {0x6, 0, 0, 0x7fff0000}};
  return m;
}

TEST(InitMessageTest, RoundTripsBothRoles) {
  for (const auto& message : {sampleInit(), sampleEnter()}) {
    auto bytes = encodeInitMessage(message);
    ASSERT_TRUE(bytes.has_value());
    std::string error;
    auto decoded = decodeInitMessage(*bytes, &error);
    ASSERT_TRUE(decoded.has_value()) << error;
    EXPECT_TRUE(*decoded == message);
  }
}

TEST(InitMessageTest, EveryTruncationIsRefused) {
  auto bytes = *encodeInitMessage(sampleEnter());
  for (size_t len = 0; len < bytes.size(); ++len) {
    std::string error;
    EXPECT_FALSE(decodeInitMessage(std::string_view(bytes).substr(0, len), &error).has_value())
        << len;
    EXPECT_FALSE(error.empty());
  }
  std::string error;
  EXPECT_FALSE(decodeInitMessage(bytes + "x", &error).has_value());
  EXPECT_EQ(error, "init message: trailing bytes");
}

TEST(InitMessageTest, InconsistentMessagesAreRefused) {
  std::string error;
  auto enter = sampleEnter();
  enter.argv.clear();
  EXPECT_FALSE(decodeInitMessage(*encodeInitMessage(enter), &error).has_value());
  EXPECT_EQ(error, "init message: empty argv");

  enter = sampleEnter();
  enter.seccomp.clear();
  EXPECT_FALSE(decodeInitMessage(*encodeInitMessage(enter), &error).has_value());
  EXPECT_EQ(error, "init message: no seccomp program");

  auto init = sampleInit();
  init.mount_fd_count = 2;  // one attach step only
  EXPECT_FALSE(decodeInitMessage(*encodeInitMessage(init), &error).has_value());
  EXPECT_EQ(error, "init message: mount fd count differs from attach steps");

  init = sampleInit();
  init.mount_steps[0].target = std::string("/a\0b", 4);
  EXPECT_FALSE(decodeInitMessage(*encodeInitMessage(init), &error).has_value());
  EXPECT_EQ(error, "init message: NUL inside a string");

  init = sampleInit();
  init.argv = {"x"};
  EXPECT_FALSE(decodeInitMessage(*encodeInitMessage(init), &error).has_value());
  EXPECT_EQ(error, "init message: argv on init");

  auto bytes = *encodeInitMessage(sampleInit());
  bytes[0] = 'X';
  EXPECT_FALSE(decodeInitMessage(bytes, &error).has_value());
  EXPECT_EQ(error, "init message: bad magic");
}

TEST(InitMessageTest, CapsAreEnforcedOnBothSides) {
  auto enter = sampleEnter();
  enter.cgroup_fd_count = kMaxInitPassedFds + 1;
  EXPECT_FALSE(encodeInitMessage(enter).has_value());
  enter = sampleEnter();
  enter.argv.assign(kMaxInitListItems + 1, "a");
  EXPECT_FALSE(encodeInitMessage(enter).has_value());
  enter = sampleEnter();
  enter.argv = {std::string(kMaxInitMessageBytes, 'a')};
  EXPECT_FALSE(encodeInitMessage(enter).has_value());

  // A count announcing more items than any message may hold fails before allocating.
  auto bytes = *encodeInitMessage(sampleEnter());
  std::string error;
  std::string huge = bytes;
  // argv count sits after magic(8), version, role, cgroup/mount/held fd counts (4 each),
  // hostname (4 + 0) and the step count (4).
  const size_t argv_count = 8 + 5 * 4 + 4 + 4;
  uint32_t many = 0xffffffffu;
  huge.replace(argv_count, 4, reinterpret_cast<const char*>(&many), 4);
  EXPECT_FALSE(decodeInitMessage(huge, &error).has_value());
  EXPECT_EQ(error, "init message: list too long");
  EXPECT_FALSE(decodeInitMessage(std::string(kMaxInitMessageBytes + 1, 'G'), &error));
}

// Random mutations of valid messages: decoding never crashes, and whatever decodes
// re-encodes to a message that decodes the same.
TEST(InitMessageTest, MutatedMessagesNeverCrash) {
  std::mt19937 random(42);
  const std::string seeds[] = {*encodeInitMessage(sampleInit()), *encodeInitMessage(sampleEnter())};
  size_t accepted = 0;
  for (int round = 0; round < 20000; ++round) {
    std::string bytes = seeds[round % 2];
    int flips = 1 + static_cast<int>(random() % 4);
    for (int i = 0; i < flips; ++i) bytes[random() % bytes.size()] = static_cast<char>(random());
    std::string error;
    auto decoded = decodeInitMessage(bytes, &error);
    if (!decoded) continue;
    ++accepted;
    auto again = decodeInitMessage(*encodeInitMessage(*decoded), &error);
    ASSERT_TRUE(again.has_value()) << error;
    EXPECT_TRUE(*again == *decoded);
  }
  EXPECT_GT(accepted, 0u);
}

}  // namespace
}  // namespace grid::localns
