// Containment of the filesystem view, against the backend under test: what a hostile tenant
// tries first with the kernel's tunables and files. Writes to /proc/sys, /proc/sysrq-trigger,
// /proc/irq, /proc/bus and /proc/fs fail; the kernel-memory and host-wide information files
// Docker masks read nothing; mount fails; a block device cannot be created and used; on a
// read-only image (`host`) nothing under /usr, /etc, /bin, /lib is writable, on any sub-mount.
// Where this process runs on the sandbox's host as root (the in-tree backends in CI), the
// host's own sysctls are read before and after, from outside: they must be unchanged.
#include <unistd.h>

#include <fstream>
#include <map>
#include <sstream>

#include "conformance_fixture.h"

namespace grid::testing {
namespace {

std::string readHostFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

void writeHostFile(const std::string& path, const std::string& value) {
  std::ofstream out(path);
  out << value;
}

std::string trimmed(std::string text) {
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r' || text.back() == ' ')) {
    text.pop_back();
  }
  return text;
}

class ContainmentFilesystemTest : public ConformanceTest {
 protected:
  /// This process shares the sandbox's kernel and can read its sysctls: an in-tree backend
  /// whose engine runs here, and we are root.
  bool sameHostAsRoot() const {
    const std::string& name = conformanceTarget().backend;
    return ::geteuid() == 0 && (name == "docker" || name == "podman" || name == "local-namespace");
  }

  /// Exit status (as text) of writing `value` into `path` inside the sandbox.
  std::string writeStatus(const std::string& id, const std::string& path,
                          const std::string& value) {
    return trimmed(
        run(id, "(printf '%s\\n' '" + value + "' > " + path + ") 2>/dev/null; echo $?").output);
  }

  /// Writes `value` into the sysctl `path` inside the sandbox; the write must fail and the
  /// host's value (read here, outside) must not change. Restores the host if it did.
  void expectSysctlWriteFails(const std::string& id, const std::string& path,
                              const std::string& value) {
    const std::string before = readHostFile(path);
    if (sameHostAsRoot()) {
      ASSERT_FALSE(before.empty()) << "host " << path << " unreadable";
    }
    ASSERT_NE(trimmed(before), value) << "the probe value must differ from the host's";
    EXPECT_NE(writeStatus(id, path, value), "0") << "writing " << path << " succeeded inside";
    if (!sameHostAsRoot()) return;
    const std::string after = readHostFile(path);
    EXPECT_EQ(after, before) << "the host's " << path << " changed from inside a sandbox";
    if (after != before) writeHostFile(path, before);
  }
};

TEST_F(ContainmentFilesystemTest, HostSysctlsCannotBeWritten) {
  const std::string id = startSandbox();
  ASSERT_FALSE(id.empty());
  const std::string swappiness = trimmed(readHostFile("/proc/sys/vm/swappiness"));
  const std::string probe = swappiness == "17" ? "18" : "17";
  expectSysctlWriteFails(id, "/proc/sys/vm/swappiness", probe);
  // Through core_pattern a crash inside would run a program as root on the host.
  expectSysctlWriteFails(id, "/proc/sys/kernel/core_pattern", "grid-containment-probe-core");
}

// Every file under the kernel's tunables that its mode calls writable is opened for writing
// (nothing is written: opening is where a read-only mount refuses).
TEST_F(ContainmentFilesystemTest, KernelTunablesAreReadOnly) {
  const std::string id = startSandbox();
  ASSERT_FALSE(id.empty());
  const bool on_gvisor = conformanceTarget().config.default_isolation == Isolation::kGvisor;
  if (on_gvisor) {
    // gVisor's /proc/sys is the sentry's own: a few tunables emulated per sandbox, some
    // writable there. Writing each must leave the host's file of the same path unchanged.
    const std::string find_writable = "find /proc/sys -type f -perm -u+w 2>/dev/null";
    std::istringstream listed(run(id, find_writable).output);
    std::map<std::string, std::string> host_before;
    for (std::string path; std::getline(listed, path);) {
      if (path.rfind("/proc/sys/", 0) == 0) host_before[path] = readHostFile(path);
    }
    EXPECT_EQ(run(id, "for f in $(" + find_writable +
                          "); do (echo 1 > \"$f\") 2>/dev/null; "
                          "done; echo done")
                  .output,
              "done\n");
    if (sameHostAsRoot()) {
      for (const auto& [path, before] : host_before) {
        const std::string after = readHostFile(path);
        EXPECT_EQ(after, before) << "the host's " << path << " changed from inside gVisor";
        if (after != before) writeHostFile(path, before);
      }
    }
  }
  // Under gVisor /proc/sys was covered above; the rest must be read-only as everywhere.
  const std::string walked =
      on_gvisor ? "/proc/irq /proc/bus /proc/fs" : "/proc/sys /proc/irq /proc/bus /proc/fs";
  const std::string script =
      "tried=0; writable=0; "
      "for f in /proc/sysrq-trigger $(find " +
      walked +
      " -type f "
      "-perm -u+w 2>/dev/null); do tried=$((tried+1)); "
      "if (: > \"$f\") 2>/dev/null; then writable=$((writable+1)); echo \"writable: $f\"; fi; "
      "done; echo \"tried=$tried writable=$writable\"";
  const ExecResult result = run(id, script, std::chrono::seconds(120));
  EXPECT_NE(result.output.find("writable=0"), std::string::npos) << result.output;
  // A Linux host has hundreds of writable sysctls: the walk must have reached them (a
  // user-space kernel such as gVisor emulates fewer, still more than 10).
  const size_t tried = result.output.find("tried=");
  ASSERT_NE(tried, std::string::npos) << result.output;
  if (on_gvisor) return;  // the sentry emulates hardly any of /proc/irq, /proc/bus, /proc/fs
  EXPECT_GT(std::stoi(result.output.substr(tried + 6)), 10) << result.output;
}

TEST_F(ContainmentFilesystemTest, KernelMemoryAndHostWideFilesAreMasked) {
  const std::string id = startSandbox();
  ASSERT_FALSE(id.empty());
  for (const char* path : {"/proc/kcore", "/proc/keys", "/proc/timer_list", "/proc/sched_debug"}) {
    const ExecResult result = run(id, std::string("head -c 4096 ") + path + " 2>/dev/null | wc -c");
    EXPECT_EQ(trimmed(result.output), "0") << path << " is readable inside";
  }
}

TEST_F(ContainmentFilesystemTest, MountFails) {
  const std::string id = startSandbox();
  ASSERT_FALSE(id.empty());
  ASSERT_EQ(trimmed(run(id, "command -v mount >/dev/null; echo $?").output), "0")
      << "the test image needs the mount program";
  const ExecResult result =
      run(id, "mkdir -p /tmp/grid-mnt && mount -t tmpfs none /tmp/grid-mnt 2>/dev/null; echo $?");
  EXPECT_NE(trimmed(result.output), "0") << "mount succeeded inside";
  const ExecResult bind = run(id, "mount --bind /tmp /tmp/grid-mnt 2>/dev/null; echo $?");
  EXPECT_NE(trimmed(bind.output), "0") << "bind mount succeeded inside";
}

// Docker keeps CAP_MKNOD (its device cgroup then refuses to open the node); Grid drops it.
// Either way a block device must not be both created and read.
TEST_F(ContainmentFilesystemTest, BlockDeviceCannotBeCreatedAndRead) {
  const std::string id = startSandbox();
  ASSERT_FALSE(id.empty());
  const ExecResult result =
      run(id,
          "for dir in /tmp /root /var/tmp; do "
          "if mknod \"$dir/grid-blk\" b 8 0 2>/dev/null; then echo \"created in $dir\"; "
          "if head -c 1 \"$dir/grid-blk\" >/dev/null 2>&1; then echo \"READABLE in $dir\"; fi; "
          "rm -f \"$dir/grid-blk\"; fi; done; echo checked");
  EXPECT_NE(result.output.find("checked"), std::string::npos) << result.output;
  EXPECT_EQ(result.output.find("READABLE"), std::string::npos) << result.output;
}

// The `host` image: host files, read-only on every mount, without secrets.
TEST_F(ContainmentFilesystemTest, HostImageIsReadOnlyOnEverySubMountAndHoldsNoSecret) {
  if (conformanceTarget().image != "host") GTEST_SKIP() << "only the read-only `host` image";
  const std::string id = startSandbox();
  ASSERT_FALSE(id.empty());
  for (const char* dir : {"/usr", "/usr/bin", "/etc"}) {
    EXPECT_NE(writeStatus(id, std::string(dir) + "/grid-probe", "x"), "0") << dir;
  }
  // Every mount of host files (mountinfo field 5 = mount point, 6 = per-mount options).
  const ExecResult mounts = run(
      id,
      "awk '$5 ~ /^\\/(usr|etc|bin|sbin|lib)/ { n++; if ($6 !~ /(^|,)ro(,|$)/) print \"RW \" $5 } "
      "END { print \"mounts=\" n }' /proc/self/mountinfo");
  EXPECT_EQ(mounts.output.find("RW "), std::string::npos) << mounts.output;
  EXPECT_EQ(mounts.output.find("mounts=0"), std::string::npos) << mounts.output;
  EXPECT_EQ(mounts.output.find("mounts=\n"), std::string::npos) << mounts.output;
  const ExecResult secrets =
      run(id,
          "for f in /etc/shadow /etc/gshadow /etc/ssl/private /etc/ssh /etc/sudoers "
          "/etc/grid /etc/environment; do [ -e \"$f\" ] && echo \"EXPOSED $f\"; done; echo ok");
  EXPECT_EQ(secrets.output.find("EXPOSED"), std::string::npos) << secrets.output;
  EXPECT_NE(secrets.output.find("ok"), std::string::npos);
}

}  // namespace
}  // namespace grid::testing
