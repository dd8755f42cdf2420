// The root filesystem holds against hostile images and keeps the host read-only (root only).
// Hostile images are built here at run time: symlinks an image may legally contain (`etc ->
// /etc`, `etc -> ../../../../etc`, /proc, /dev, /tmp pointing at host paths, a symlinked
// /etc/hostname). (Archives whose manifest, index or layer is a symlink:
// tests/plugins/image-store/image_store_test.cc.)
// Each either fails with a clear error or gives a sandbox whose set-up wrote nothing outside
// its root: the host's /etc/hostname and a canary dir are compared byte for byte.
#include <gtest/gtest.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <map>

#include "archive_test_util.h"
#include "grid/image/image_store.h"
#include "runtime/local_backend.h"
#include "support/engine_guard.h"

namespace grid::localns {
namespace {

namespace fs = std::filesystem;
using image::testing::dir;
using image::testing::readFileText;
using image::testing::symlink;
using image::testing::TarEntry;
using image::testing::TempDir;
using image::testing::writeTar;

// Every file below `root` with its contents (symlinks as "-> target").
std::map<std::string, std::string> snapshot(const std::string& root) {
  std::map<std::string, std::string> files;
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(root, ec); it != fs::end(it); it.increment(ec)) {
    const fs::path& path = it->path();
    if (it->is_symlink()) {
      files[path.string()] = "-> " + fs::read_symlink(path, ec).string();
    } else if (it->is_regular_file()) {
      files[path.string()] = readFileText(path.string());
    } else {
      files[path.string()] = "<dir>";
    }
  }
  return files;
}

class RootfsContainmentTest : public ::testing::Test {
 protected:
  void SetUp() override {
    GRID_REQUIRE_ENGINE(::geteuid() == 0, "root (local-namespace creates namespaces and mounts)");
    cgroup_root_ = "grid-test-fsview-" + std::to_string(::getpid());
    // Sandbox roots in user namespaces resolve their overlay dirs under state_dir themselves.
    ASSERT_EQ(::chmod(tmp_.path().c_str(), 0711), 0);
    BackendConfig config;
    config.instance = "test-rootfs-containment";
    config.settings = {{"images_dir", images()},
                       {"state_dir", tmp_.path() + "/state"},
                       {"cgroup_root", cgroup_root_}};
    backend_ = std::make_unique<LocalNamespaceBackend>();
    auto r = backend_->init(config);
    ASSERT_TRUE(r.ok()) << r.error().message;
    canary_ = tmp_.path() + "/canary";
    ASSERT_TRUE(fs::create_directory(canary_));
    writeHost(canary_ + "/canary.txt", "canary\n");
    host_hostname_ = readFileText("/etc/hostname");
    canary_before_ = snapshot(canary_);
  }

  void TearDown() override {
    backend_.reset();
    for (const char* controller : {"memory", "pids", "cpu", "freezer"}) {
      ::rmdir(("/sys/fs/cgroup/" + std::string(controller) + "/" + cgroup_root_).c_str());
    }
    ::rmdir(("/sys/fs/cgroup/" + cgroup_root_).c_str());
  }

  static void writeHost(const std::string& path, const std::string& text) {
    FILE* f = std::fopen(path.c_str(), "w");
    ASSERT_NE(f, nullptr) << path;
    std::fputs(text.c_str(), f);
    std::fclose(f);
  }

  std::string images() const { return tmp_.path() + "/images"; }

  void expectHostUntouched(const std::string& what) {
    EXPECT_EQ(readFileText("/etc/hostname"), host_hostname_) << what << ": host /etc/hostname";
    EXPECT_EQ(snapshot(canary_), canary_before_) << what << ": the canary dir changed";
  }

  // Imports `entries` as a rootfs image and starts a sandbox on it; the start may fail
  // (cleanly) or succeed, the host must be untouched either way.
  // Returns whether the sandbox started.
  bool startHostile(const std::string& name, const std::vector<TarEntry>& entries) {
    SCOPED_TRACE(name);
    const std::string tar = tmp_.path() + "/" + name + ".tar";
    EXPECT_TRUE(writeTar(tar, entries));
    auto imported = image::importImage(images(), name + ":1", tar);
    EXPECT_TRUE(imported.ok()) << imported.error().message;
    if (!imported.ok()) return false;
    SandboxSpec spec;
    spec.id = name;
    spec.image = name + ":1";
    auto created = backend_->createSandbox(spec);
    if (!created.ok()) {
      EXPECT_FALSE(created.error().message.empty());
      std::fprintf(stderr, "[ info ] %s refused: %s\n", name.c_str(),
                   created.error().message.c_str());
    } else {
      std::fprintf(stderr, "[ info ] %s started, contained\n", name.c_str());
    }
    expectHostUntouched(name);
    EXPECT_TRUE(backend_->destroySandbox(name).ok());
    expectHostUntouched(name + " after destroy");
    return created.ok();
  }

  TempDir tmp_;
  std::string cgroup_root_;
  std::string canary_;
  std::string host_hostname_;
  std::map<std::string, std::string> canary_before_;
  std::unique_ptr<LocalNamespaceBackend> backend_;
};

TEST_F(RootfsContainmentTest, AbsoluteEtcSymlinkDoesNotReachTheHost) {
  startHostile("abs-etc", {symlink("etc", "/etc")});
  // The same pointed at the canary: the hostname write must stay inside.
  startHostile("abs-etc-canary", {symlink("etc", canary_)});
}

TEST_F(RootfsContainmentTest, DotDotEtcSymlinkDoesNotReachTheHost) {
  startHostile("dotdot-etc", {symlink("etc", "../../../../../../../../etc")});
  startHostile("dotdot-etc-canary", {symlink("etc", "../../../../../../../.." + canary_)});
}

TEST_F(RootfsContainmentTest, SymlinkedHostnameFileIsReplacedNotFollowed) {
  startHostile("hostname-link", {dir("etc"), symlink("etc/hostname", canary_ + "/canary.txt")});
  startHostile(
      "hostname-link-rel",
      {dir("etc"), symlink("etc/hostname", "../../../../../../.." + canary_ + "/canary.txt")});
}

TEST_F(RootfsContainmentTest, ProcDevTmpSymlinkedToHostPaths) {
  startHostile("mount-targets", {dir("etc"), symlink("proc", canary_), symlink("dev", canary_),
                                 symlink("tmp", canary_)});
  startHostile("mount-targets-host", {dir("etc"), symlink("proc", "/proc"), symlink("dev", "/dev"),
                                      symlink("tmp", "/tmp")});
  startHostile("mount-targets-dotdot",
               {dir("etc"), symlink("dev", "../../../../../../../.." + canary_),
                symlink("tmp", "../../../../../../../../tmp")});
}

TEST_F(RootfsContainmentTest, SymlinkWithinTheImageStillStarts) {
  // Resolution inside the root follows an image's own symlinks where they lead: this starts.
  EXPECT_TRUE(startHostile("tmp-inside",
                           {dir("etc"), dir("var"), dir("var/tmp"), symlink("tmp", "/var/tmp")}));
}

// A mount below a host dir the `host` image binds (here a tmpfs under /usr/lib) is read-only
// inside too: MS_REMOUNT|MS_RDONLY on the bind would only reach its top mount.
TEST_F(RootfsContainmentTest, HostImageSubMountsAreReadOnly) {
  const std::string sub = "/usr/lib/grid-containment-" + std::to_string(::getpid());
  ASSERT_EQ(::mkdir(sub.c_str(), 0755), 0) << sub;
  struct Cleanup {
    std::string path;
    ~Cleanup() {
      ::umount2(path.c_str(), MNT_DETACH);
      ::rmdir(path.c_str());
    }
  } cleanup{sub};
  ASSERT_EQ(::mount("tmpfs", sub.c_str(), "tmpfs", 0, "size=1m"), 0) << sub;
  writeHost(sub + "/writable-on-host", "host\n");

  SandboxSpec spec;
  spec.id = "ro-submount";
  spec.image = "host";
  auto created = backend_->createSandbox(spec);
  ASSERT_TRUE(created.ok()) << created.error().message;
  auto channel = backend_->startProcess(
      spec.id, {{"/bin/sh", "-c",
                 "cat " + sub + "/writable-on-host; (echo x > " + sub +
                     "/inside) 2>/dev/null && echo written || echo refused; "
                     "(echo x > /usr/inside) 2>/dev/null && echo written || echo refused"},
                false});
  ASSERT_TRUE(channel.ok()) << channel.error().message;
  std::string out;
  auto deadline = Clock::now() + std::chrono::seconds(60);
  while (true) {
    auto r = channel.value()->read(deadline);
    ASSERT_TRUE(r.ok());
    if (r.value().status != ReadResult::Status::kData) break;
    if (r.value().stream == OutputStream::kStdout) out += r.value().data;
  }
  EXPECT_EQ(out, "host\nrefused\nrefused\n") << "the sub-mount must be visible and read-only";
  EXPECT_FALSE(fs::exists(sub + "/inside"));
  EXPECT_TRUE(backend_->destroySandbox(spec.id).ok());
}

}  // namespace
}  // namespace grid::localns
