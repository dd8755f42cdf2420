// Pure rootfs plans: what gets mounted where, without root.
#include <gtest/gtest.h>
#include <sys/mount.h>

#include <algorithm>

#include "kernel/mounts.h"

namespace grid::localns {
namespace {

using Kind = MountStep::Kind;

const MountStep* findStep(const std::vector<MountStep>& steps, Kind kind,
                          const std::string& target) {
  for (const auto& step : steps) {
    if (step.kind == kind && step.target == target) return &step;
  }
  return nullptr;
}

const MountStep* findMount(const std::vector<MountStep>& steps, const std::string& target,
                           const std::string& fstype) {
  for (const auto& step : steps) {
    if (step.kind == Kind::kMount && step.target == target && step.fstype == fstype) return &step;
  }
  return nullptr;
}

size_t indexOf(const std::vector<MountStep>& steps, const MountStep* step) {
  return static_cast<size_t>(step - steps.data());
}

RootfsSpec overlaySpec() {
  RootfsSpec spec;
  spec.sandbox_id = "sb1";
  spec.root = "/state/sb1/root";
  spec.lower = "/images/debian/latest/rootfs";
  spec.upper = "/state/sb1/upper";
  spec.work = "/state/sb1/work";
  return spec;
}

RootfsSpec hostSpec() {
  RootfsSpec spec;
  spec.sandbox_id = "sb2";
  spec.root = "/r";
  spec.host_image = true;
  spec.host_links = {{"/bin", "usr/bin"}};
  return spec;
}

// A fork child: its snapshot layers between its upper and the image, topmost first; in a user
// namespace each attached idmapped and read-only at its own mount point.
TEST(MountsPlanTest, ForkChildStacksSnapshotLayers) {
  RootfsSpec spec = overlaySpec();
  spec.snapshot_layers = {"/state/layer-b/tree", "/state/layer-a/tree"};
  const MountStep* overlay = nullptr;
  auto steps = planRootfs(spec);
  overlay = findMount(steps, "/state/sb1/root", "overlay");
  ASSERT_NE(overlay, nullptr);
  EXPECT_EQ(overlay->data,
            "lowerdir=/state/layer-b/tree:/state/layer-a/tree:/images/debian/latest/rootfs,"
            "upperdir=/state/sb1/upper,workdir=/state/sb1/work");

  spec.userns = true;
  spec.lower_mount_point = "/state/sb1/lower";
  spec.snapshot_mount_points = {"/state/sb1/layer0", "/state/sb1/layer1"};
  steps = planRootfs(spec);
  overlay = findMount(steps, "/state/sb1/root", "overlay");
  ASSERT_NE(overlay, nullptr);
  EXPECT_EQ(overlay->data,
            "lowerdir=/state/sb1/layer0:/state/sb1/layer1:/state/sb1/lower,"
            "upperdir=/state/sb1/upper,workdir=/state/sb1/work");
  const MountStep* layer = findStep(steps, Kind::kAttachMount, "/state/sb1/layer0");
  ASSERT_NE(layer, nullptr);
  EXPECT_EQ(layer->source, "/state/layer-b/tree");
  EXPECT_EQ(layer->mount_attr, static_cast<unsigned long>(MOUNT_ATTR_IDMAP | MOUNT_ATTR_RDONLY));
}

TEST(MountsPlanTest, OverlayImage) {
  auto steps = planRootfs(overlaySpec());
  ASSERT_FALSE(steps.empty());
  EXPECT_EQ(steps.front().flags, static_cast<unsigned long>(MS_REC | MS_PRIVATE));
  const MountStep* overlay = findMount(steps, "/state/sb1/root", "overlay");
  ASSERT_NE(overlay, nullptr);
  EXPECT_EQ(overlay->data,
            "lowerdir=/images/debian/latest/rootfs,upperdir=/state/sb1/upper,"
            "workdir=/state/sb1/work");
  EXPECT_TRUE(overlay->flags & MS_NODEV);
  EXPECT_NE(findMount(steps, "proc", "proc"), nullptr);
  EXPECT_NE(findMount(steps, "dev", "tmpfs"), nullptr);
  EXPECT_NE(findMount(steps, "dev/pts", "devpts"), nullptr);
  EXPECT_NE(findMount(steps, "tmp", "tmpfs"), nullptr);
  const MountStep* hostname = findStep(steps, Kind::kWriteFile, "etc/hostname");
  ASSERT_NE(hostname, nullptr);
  EXPECT_EQ(hostname->data, "sb1\n");
  int nodes = static_cast<int>(std::count_if(
      steps.begin(), steps.end(), [](const MountStep& s) { return s.kind == Kind::kMknod; }));
  EXPECT_EQ(nodes, 6);  // null zero full random urandom tty
  for (const auto& step : steps) {
    EXPECT_TRUE(step.target != "sys" && step.target.rfind("sys/", 0) != 0)
        << "no /sys in the sandbox: " << step.target;
  }
  EXPECT_EQ(steps.back().kind, Kind::kPivotRoot);
}

TEST(MountsPlanTest, ResolvConfOnlyWithNetwork) {
  EXPECT_EQ(findStep(planRootfs(overlaySpec()), Kind::kWriteFile, "etc/resolv.conf"), nullptr);
  auto spec = overlaySpec();
  spec.resolv_conf = "nameserver 192.0.2.1\n";
  auto steps = planRootfs(spec);
  const MountStep* resolv = findStep(steps, Kind::kWriteFile, "etc/resolv.conf");
  ASSERT_NE(resolv, nullptr);
  EXPECT_EQ(resolv->data, "nameserver 192.0.2.1\n");
  spec.host_image = true;
  EXPECT_NE(findStep(planRootfs(spec), Kind::kWriteFile, "etc/resolv.conf"), nullptr);
}

// Every step after the root is opened names a path inside it: relative, without "..", so
// applyMountSteps resolves it under the root fd. Before that, only the server's own paths.
void expectEverythingInsideRoot(const std::vector<MountStep>& steps, const std::string& root) {
  const MountStep* open_root = findStep(steps, Kind::kOpenRoot, root);
  ASSERT_NE(open_root, nullptr);
  size_t open_index = indexOf(steps, open_root);
  for (size_t i = 0; i < steps.size(); ++i) {
    const MountStep& step = steps[i];
    if (i <= open_index) {
      EXPECT_TRUE(step.target == "/" || step.target == root) << i << ": " << step.target;
      continue;
    }
    ASSERT_FALSE(step.target.empty()) << i;
    EXPECT_NE(step.target.front(), '/') << "absolute target after kOpenRoot: " << step.target;
    EXPECT_EQ(("/" + step.target + "/").find("/../"), std::string::npos) << step.target;
    if (step.kind == Kind::kBindTree && step.source.front() != '/') {
      EXPECT_EQ(("/" + step.source + "/").find("/../"), std::string::npos) << step.source;
    }
  }
}

TEST(MountsPlanTest, NoTargetOutsideTheRoot) {
  expectEverythingInsideRoot(planRootfs(overlaySpec()), "/state/sb1/root");
  expectEverythingInsideRoot(planRootfs(hostSpec()), "/r");
}

TEST(MountsPlanTest, ProcKnobsReadOnlyAndDockersMaskedPathsMasked) {
  for (const RootfsSpec& spec : {overlaySpec(), hostSpec()}) {
    auto steps = planRootfs(spec);
    const MountStep* proc = findMount(steps, "proc", "proc");
    ASSERT_NE(proc, nullptr);
    size_t proc_index = indexOf(steps, proc);
    for (const char* path : {"proc/sys", "proc/sysrq-trigger", "proc/irq", "proc/bus", "proc/fs"}) {
      const MountStep* bind = findStep(steps, Kind::kBindTree, path);
      ASSERT_NE(bind, nullptr) << path;
      EXPECT_EQ(bind->source, path) << "a read-only bind of itself";
      EXPECT_TRUE(bind->mount_attr & MOUNT_ATTR_RDONLY) << path;
      EXPECT_TRUE(bind->mount_attr & MOUNT_ATTR_NOSUID) << path;
      EXPECT_TRUE(bind->optional) << path << ": absent on some kernels";
      EXPECT_GT(indexOf(steps, bind), proc_index) << path << " after proc is mounted";
    }
    for (const char* path :
         {"proc/kcore", "proc/keys", "proc/timer_list", "proc/sched_debug", "proc/latency_stats",
          "proc/timer_stats", "proc/acpi", "proc/asound", "proc/scsi"}) {
      const MountStep* masked = findStep(steps, Kind::kMask, path);
      ASSERT_NE(masked, nullptr) << path;
      EXPECT_EQ(masked->source, "/dev/null");
      EXPECT_GT(indexOf(steps, masked), proc_index) << path;
    }
    EXPECT_EQ(steps.back().kind, Kind::kPivotRoot);
  }
}

TEST(MountsPlanTest, HostImageExposesOnlyTheDocumentedPathsReadOnlyRecursively) {
  auto steps = planRootfs(hostSpec());
  bool usr_bound = false;
  for (const auto& step : steps) {
    if (step.kind == Kind::kMount) {
      // Binds all go through kBindTree: a plain MS_BIND would leave sub-mounts writable.
      EXPECT_FALSE(step.flags & MS_BIND) << step.target;
    }
    if (step.kind == Kind::kBindTree && step.source.front() == '/') {
      bool listed = std::find(hostImageDirs().begin(), hostImageDirs().end(), step.source) !=
                    hostImageDirs().end();
      for (const auto& entry : hostImageEtcEntries()) listed |= step.source == "/etc/" + entry;
      EXPECT_TRUE(listed) << step.source;
      EXPECT_NE(step.source, "/etc");
      EXPECT_EQ(step.target, step.source.substr(1));
      unsigned long wanted = MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV;
      EXPECT_EQ(step.mount_attr & wanted, wanted) << step.source;
      usr_bound |= step.source == "/usr";
    }
    if (step.kind == Kind::kSymlink && step.target == "bin") {
      EXPECT_EQ(step.source, "usr/bin");
    }
  }
  EXPECT_TRUE(usr_bound);
  EXPECT_EQ(findStep(steps, Kind::kBindTree, "bin"), nullptr) << "/bin is a symlink here";
  EXPECT_NE(findMount(steps, "root", "tmpfs"), nullptr);
  EXPECT_NE(findMount(steps, "tmp", "tmpfs"), nullptr);
  const MountStep* skeleton_ro = findMount(steps, ".", "");
  ASSERT_NE(skeleton_ro, nullptr);
  EXPECT_TRUE(skeleton_ro->flags & MS_RDONLY);
  EXPECT_EQ(steps.back().kind, Kind::kPivotRoot);
}

TEST(MountsPlanTest, HostImageEtcListHoldsNoSecret) {
  // Where hosts keep private keys, password hashes, credentials and Grid's own config.
  const std::vector<std::string> secrets = {
      "shadow",    "shadow-",        "gshadow",     "gshadow-", "ssl/private",  "ssh",
      "sudoers",   "sudoers.d",      "grid",        "security", "krb5.keytab",  "environment",
      "docker",    "containers",     "netrc",       "subuid",   "subgid",       "openvpn",
      "wireguard", "NetworkManager", "letsencrypt", "pki",      "ipsec.secrets"};
  for (const auto& entry : hostImageEtcEntries()) {
    for (const auto& secret : secrets) {
      // Neither the secret itself nor a directory holding it ("ssl" holds ssl/private).
      EXPECT_NE(entry, secret);
      EXPECT_NE(secret.rfind(entry + "/", 0), 0u) << entry << " contains " << secret;
    }
  }
}

}  // namespace
}  // namespace grid::localns
