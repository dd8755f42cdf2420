// The root filesystem plan in a user namespace: host-side binds and device nodes become
// detached mounts to attach (idmapped where the filesystem allows), never mknod or MS_BIND.
#include <gtest/gtest.h>
#include <linux/mount.h>
#include <sys/mount.h>

#include "kernel/mounts.h"

namespace grid::localns {
namespace {

using Kind = MountStep::Kind;

TEST(UsernsPlanTest, OverlayLowerIsAttachedIdmapped) {
  RootfsSpec spec;
  spec.sandbox_id = "sb";
  spec.root = "/s/sb/root";
  spec.lower = "/images/debian/rootfs";
  spec.upper = "/s/sb/upper";
  spec.work = "/s/sb/work";
  spec.userns = true;
  spec.lower_mount_point = "/s/sb/lower";
  auto steps = planRootfs(spec);
  size_t attach_lower = steps.size(), overlay = steps.size();
  for (size_t i = 0; i < steps.size(); ++i) {
    const auto& step = steps[i];
    EXPECT_NE(step.kind, Kind::kMknod) << step.target;
    if (step.kind == Kind::kMount) {
      EXPECT_EQ(step.flags & MS_BIND, 0u) << step.target;
    }
    if (step.kind == Kind::kAttachMount && step.target == spec.lower_mount_point) {
      attach_lower = i;
      EXPECT_EQ(step.source, spec.lower);
      EXPECT_EQ(step.mount_attr, MOUNT_ATTR_IDMAP);
    }
    if (step.kind == Kind::kMount && step.fstype == "overlay") {
      overlay = i;
      EXPECT_EQ(step.data, "lowerdir=/s/sb/lower,upperdir=/s/sb/upper,workdir=/s/sb/work");
    }
    if (step.target == "dev/null" && step.kind != Kind::kTouch) {
      EXPECT_EQ(step.kind, Kind::kBindTree);
      EXPECT_EQ(step.source, "/dev/null");
      EXPECT_EQ(step.mount_attr & MOUNT_ATTR_IDMAP, 0u) << "devtmpfs is not idmappable";
    }
  }
  ASSERT_LT(attach_lower, steps.size());
  ASSERT_LT(overlay, steps.size());
  EXPECT_LT(attach_lower, overlay);
}

TEST(UsernsPlanTest, HostImageBindsAreIdmappedReadOnlyRecursively) {
  RootfsSpec spec;
  spec.sandbox_id = "sb";
  spec.root = "/s/sb/root";
  spec.host_image = true;
  spec.userns = true;
  bool usr = false;
  for (const auto& step : planRootfs(spec)) {
    EXPECT_NE(step.kind, Kind::kMknod) << step.target;
    if (step.kind == Kind::kMount) {
      EXPECT_EQ(step.flags & MS_BIND, 0u) << step.target;
    }
    if (step.kind == Kind::kAttachMount && step.source == "/usr") {
      usr = true;
      EXPECT_EQ(step.target, "usr");
      EXPECT_EQ(step.mount_attr,
                MOUNT_ATTR_IDMAP | MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV);
    }
  }
  EXPECT_TRUE(usr);
}

}  // namespace
}  // namespace grid::localns
