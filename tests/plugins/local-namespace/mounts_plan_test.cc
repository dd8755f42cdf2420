// Pure rootfs plans: what gets mounted where, without root.
#include <gtest/gtest.h>
#include <sys/mount.h>

#include <algorithm>

#include "mounts.h"

namespace grid::localns {
namespace {

using Kind = MountStep::Kind;

const MountStep* findMount(const std::vector<MountStep>& steps, const std::string& target,
                           const std::string& fstype) {
  for (const auto& step : steps) {
    if (step.kind == Kind::kMount && step.target == target && step.fstype == fstype) return &step;
  }
  return nullptr;
}

TEST(MountsPlanTest, OverlayImage) {
  RootfsSpec spec;
  spec.sandbox_id = "sb1";
  spec.root = "/state/sb1/root";
  spec.lower = "/images/debian/latest/rootfs";
  spec.upper = "/state/sb1/upper";
  spec.work = "/state/sb1/work";
  auto steps = planRootfs(spec);
  ASSERT_FALSE(steps.empty());
  EXPECT_EQ(steps.front().flags, static_cast<unsigned long>(MS_REC | MS_PRIVATE));
  const MountStep* overlay = findMount(steps, "/state/sb1/root", "overlay");
  ASSERT_NE(overlay, nullptr);
  EXPECT_EQ(overlay->data,
            "lowerdir=/images/debian/latest/rootfs,upperdir=/state/sb1/upper,"
            "workdir=/state/sb1/work");
  EXPECT_TRUE(overlay->flags & MS_NODEV);
  EXPECT_NE(findMount(steps, "/state/sb1/root/proc", "proc"), nullptr);
  EXPECT_NE(findMount(steps, "/state/sb1/root/dev", "tmpfs"), nullptr);
  EXPECT_NE(findMount(steps, "/state/sb1/root/dev/pts", "devpts"), nullptr);
  EXPECT_NE(findMount(steps, "/state/sb1/root/tmp", "tmpfs"), nullptr);
  int nodes = static_cast<int>(std::count_if(
      steps.begin(), steps.end(), [](const MountStep& s) { return s.kind == Kind::kMknod; }));
  EXPECT_EQ(nodes, 6);  // null zero full random urandom tty
  for (const auto& step : steps) {
    EXPECT_EQ(step.target.find("/sys"), std::string::npos) << "no /sys in the sandbox";
  }
  EXPECT_EQ(steps.back().kind, Kind::kPivotRoot);
  EXPECT_EQ(steps.back().target, "/state/sb1/root");
}

TEST(MountsPlanTest, HostImageExposesOnlyTheDocumentedPaths) {
  RootfsSpec spec;
  spec.sandbox_id = "sb2";
  spec.root = "/r";
  spec.host_image = true;
  spec.host_links = {{"/bin", "usr/bin"}};
  auto steps = planRootfs(spec);
  bool usr_ro = false;
  for (const auto& step : steps) {
    if (step.kind == Kind::kMount && (step.flags & MS_BIND)) {
      // Every bind source is a listed dir or a listed /etc entry, never /etc itself.
      bool listed = std::find(hostImageDirs().begin(), hostImageDirs().end(), step.source) !=
                    hostImageDirs().end();
      for (const auto& entry : hostImageEtcEntries()) listed |= step.source == "/etc/" + entry;
      EXPECT_TRUE(listed || step.source.empty()) << step.source;
      EXPECT_NE(step.source, "/etc");
      if (step.target == "/r/usr" && (step.flags & MS_REMOUNT)) {
        usr_ro = (step.flags & MS_RDONLY) != 0;
      }
    }
    if (step.kind == Kind::kSymlink && step.target == "/r/bin") {
      EXPECT_EQ(step.source, "usr/bin");
    }
  }
  EXPECT_TRUE(usr_ro);
  EXPECT_NE(findMount(steps, "/r/root", "tmpfs"), nullptr);
  EXPECT_NE(findMount(steps, "/r/tmp", "tmpfs"), nullptr);
  EXPECT_EQ(steps.back().kind, Kind::kPivotRoot);
}

}  // namespace
}  // namespace grid::localns
