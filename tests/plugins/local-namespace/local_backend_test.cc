// Real sandboxes (root only): isolation, limits, images, cleanup. Each test has its own
// images_dir, state_dir and cgroup root name, so tests never see each other's leftovers.
#include "runtime/local_backend.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <sstream>

#include "archive_test_util.h"
#include "cgroup/cgroup.h"
#include "grid/image/image_store.h"
#include "kernel/caps.h"
#include "support/engine_guard.h"

namespace grid::localns {
namespace {

using image::testing::file;
using image::testing::pathExists;
using image::testing::readFileText;
using image::testing::TempDir;
using image::testing::writeTar;

struct Output {
  std::string out;
  std::string err;
  std::optional<int> exit_code;
};

Output runIn(SandboxBackend& backend, const std::string& id, std::vector<std::string> argv,
             const std::string& input = "", bool attach_stdin = false) {
  Output output;
  auto channel = backend.startProcess(id, {std::move(argv), attach_stdin || !input.empty()});
  EXPECT_TRUE(channel.ok()) << channel.error().message;
  if (!channel.ok()) return output;
  if (!input.empty()) {
    EXPECT_TRUE(channel.value()->write(input).ok());
    channel.value()->closeStdin();
  }
  // A generous deadline only guards against a hang; nothing waits on it normally.
  auto deadline = Clock::now() + std::chrono::seconds(60);
  while (true) {
    auto r = channel.value()->read(deadline);
    EXPECT_TRUE(r.ok());
    if (!r.ok()) break;
    if (r.value().status == ReadResult::Status::kEof) break;
    if (r.value().status == ReadResult::Status::kTimeout) {
      ADD_FAILURE() << "process did not finish";
      break;
    }
    (r.value().stream == OutputStream::kStdout ? output.out : output.err) += r.value().data;
  }
  output.exit_code = channel.value()->exitCode();
  return output;
}

Output sh(SandboxBackend& backend, const std::string& id, const std::string& script) {
  return runIn(backend, id, {"/bin/sh", "-c", script});
}

std::string procMounts() { return readFileText("/proc/mounts"); }

class LocalBackendTest : public ::testing::Test {
 protected:
  void SetUp() override {
    GRID_REQUIRE_ENGINE(::geteuid() == 0,
                        "root (local-namespace creates namespaces, mounts and cgroups)");
    cgroup_root_ = "grid-test-" + std::to_string(::getpid());
    // Sandbox roots (unprivileged host uids in their user namespaces) resolve their overlay
    // dirs under state_dir themselves: like /var/lib, the temp dir must be searchable.
    ASSERT_EQ(::chmod(tmp_.path().c_str(), 0711), 0);
    config_.instance = "test-instance";
    config_.settings = {{"images_dir", images()},
                        {"state_dir", tmp_.path() + "/state"},
                        {"cgroup_root", cgroup_root_}};
    backend_ = std::make_unique<LocalNamespaceBackend>();
    auto r = backend_->init(config_);
    ASSERT_TRUE(r.ok()) << r.error().message;
  }

  void TearDown() override {
    backend_.reset();
    for (const char* controller : {"memory", "pids", "cpu", "freezer", "cpuacct"}) {
      ::rmdir(("/sys/fs/cgroup/" + std::string(controller) + "/" + cgroup_root_).c_str());
    }
    ::rmdir(("/sys/fs/cgroup/" + cgroup_root_).c_str());
  }

  std::string images() const { return tmp_.path() + "/images"; }
  std::string state(const std::string& id) const { return tmp_.path() + "/state/" + id; }

  SandboxSpec spec(const std::string& id, const std::string& image = "host") {
    SandboxSpec s;
    s.id = id;
    s.image = image;
    return s;
  }

  void create(const SandboxSpec& s) {
    auto r = backend_->createSandbox(s);
    ASSERT_TRUE(r.ok()) << r.error().message;
  }

  std::vector<std::string> cgroupDirs(const std::string& id) const {
    if (detectCgroupVersion() == CgroupVersion::kV2) {
      return {"/sys/fs/cgroup/" + cgroup_root_ + "/" + id};
    }
    std::vector<std::string> dirs;
    for (const char* c : {"memory", "pids", "cpu", "freezer"}) {
      dirs.push_back("/sys/fs/cgroup/" + std::string(c) + "/" + cgroup_root_ + "/" + id);
    }
    return dirs;
  }

  void expectGone(const std::string& id) {
    EXPECT_FALSE(pathExists(state(id))) << "state dir left behind";
    EXPECT_EQ(procMounts().find(tmp_.path()), std::string::npos) << "mount left behind";
    for (const auto& dir : cgroupDirs(id)) EXPECT_FALSE(pathExists(dir)) << dir;
  }

  TempDir tmp_;
  std::string cgroup_root_;
  BackendConfig config_;
  std::unique_ptr<LocalNamespaceBackend> backend_;
};

TEST_F(LocalBackendTest, HostImageIsIsolated) {
  std::string marker = "/tmp/grid-localns-marker-" + std::to_string(::getpid());
  { std::ofstream(marker) << "host"; }
  auto started = std::chrono::steady_clock::now();
  create(spec("iso-1"));
  auto out = sh(*backend_, "iso-1", "true");
  auto elapsed =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - started);
  std::fprintf(stderr, "[ info ] create + first process (host image): %.1f ms\n", elapsed.count());
  EXPECT_EQ(out.exit_code, 0);

  // PIDs: only the init, the shell and ls.
  out = sh(*backend_, "iso-1", "ls /proc | grep -c '^[0-9]'");
  EXPECT_EQ(out.exit_code, 0) << out.err;
  EXPECT_LE(std::stoi(out.out), 4) << out.out;
  out = runIn(*backend_, "iso-1", {"cat", "/proc/1/comm"});
  EXPECT_EQ(out.out, "grid-init\n");

  // Files: the host's /tmp, /home, /etc/shadow are not there.
  out = sh(*backend_, "iso-1", "test -e " + marker + " || echo absent");
  EXPECT_EQ(out.out, "absent\n");
  out = sh(*backend_, "iso-1", "test -e /etc/shadow || echo absent; test -e /home || echo nohome");
  EXPECT_EQ(out.out, "absent\nnohome\n");
  out = sh(*backend_, "iso-1", "echo x > /usr/grid-write-test");
  EXPECT_NE(out.exit_code, 0) << "/usr must be read-only";
  out = sh(*backend_, "iso-1", "echo x > /tmp/f && cat /tmp/f && echo y > /root/g && cat /root/g");
  EXPECT_EQ(out.out, "x\ny\n") << out.err;

  // Network: loopback only, and up.
  out = runIn(*backend_, "iso-1", {"cat", "/proc/net/dev"});
  std::istringstream lines(out.out);
  std::string line;
  std::vector<std::string> ifaces;
  while (std::getline(lines, line)) {
    auto colon = line.find(':');
    if (colon == std::string::npos || line.find('|') != std::string::npos) continue;
    std::string name = line.substr(0, colon);
    name.erase(0, name.find_first_not_of(' '));
    ifaces.push_back(name);
  }
  EXPECT_EQ(ifaces, std::vector<std::string>{"lo"});

  out = runIn(*backend_, "iso-1", {"hostname"});
  EXPECT_EQ(out.out, "iso-1\n");

  ASSERT_TRUE(backend_->destroySandbox("iso-1").ok());
  ::unlink(marker.c_str());
  expectGone("iso-1");
  EXPECT_TRUE(backend_->destroySandbox("iso-1").ok()) << "destroy is idempotent";
}

TEST_F(LocalBackendTest, ProcessesAreConfined) {
  create(spec("conf-1"));
  auto out =
      sh(*backend_, "conf-1", "grep -E '^(CapEff|CapBnd|NoNewPrivs|Seccomp):' /proc/self/status");
  char kept[32];
  std::snprintf(kept, sizeof(kept), "%016llx", static_cast<unsigned long long>(keptCapabilities()));
  EXPECT_NE(out.out.find(std::string("CapEff:\t") + kept), std::string::npos) << out.out;
  EXPECT_NE(out.out.find(std::string("CapBnd:\t") + kept), std::string::npos) << out.out;
  EXPECT_NE(out.out.find("NoNewPrivs:\t1"), std::string::npos) << out.out;
  EXPECT_NE(out.out.find("Seccomp:\t2"), std::string::npos) << out.out;

  // Seccomp and capabilities both stop mount; unshare is blocked by seccomp.
  out = sh(*backend_, "conf-1", "mount -t tmpfs none /tmp 2>&1; echo rc=$?");
  EXPECT_NE(out.out.find("rc=32"), std::string::npos) << out.out;
  out = sh(*backend_, "conf-1", "unshare -U true 2>&1; echo rc=$?");
  EXPECT_EQ(out.out.find("rc=0"), std::string::npos) << out.out;

  // The process is in the sandbox cgroup.
  out = runIn(*backend_, "conf-1", {"cat", "/proc/self/cgroup"});
  EXPECT_NE(out.out.find(cgroup_root_ + "/conf-1"), std::string::npos) << out.out;

  // Exit codes, streams, stdin, environment, missing commands.
  out = sh(*backend_, "conf-1", "echo out; echo err >&2; exit 3");
  EXPECT_EQ(out.out, "out\n");
  EXPECT_EQ(out.err, "err\n");
  EXPECT_EQ(out.exit_code, 3);
  out = sh(*backend_, "conf-1", "kill -9 $$");
  EXPECT_EQ(out.exit_code, 137);
  out = runIn(*backend_, "conf-1", {"cat"}, "hello\nworld\n");
  EXPECT_EQ(out.out, "hello\nworld\n");
  out = sh(*backend_, "conf-1", "echo $HOME $TERM; echo $PATH | grep -c /usr/bin");
  EXPECT_EQ(out.out, "/root xterm\n1\n");
  out = runIn(*backend_, "conf-1", {"no-such-command-grid"});
  EXPECT_EQ(out.exit_code, 127);
  EXPECT_NE(out.err.find("ENOENT"), std::string::npos) << out.err;
  ASSERT_TRUE(backend_->destroySandbox("conf-1").ok());
  expectGone("conf-1");
}

TEST_F(LocalBackendTest, PidsLimitStopsForkBomb) {
  auto s = spec("pids-1");
  s.limits.pids = 16;
  create(s);
  // dash reports "Cannot fork" at once where bash would retry for seconds.
  auto out = sh(*backend_, "pids-1",
                "i=0; while [ $i -lt 64 ]; do sleep 1000 >/dev/null 2>&1 & i=$((i+1)); done; "
                "echo spawned");
  EXPECT_NE(out.err.find("fork"), std::string::npos) << out.err;
  std::string pids_dir = detectCgroupVersion() == CgroupVersion::kV2
                             ? "/sys/fs/cgroup/" + cgroup_root_ + "/pids-1"
                             : "/sys/fs/cgroup/pids/" + cgroup_root_ + "/pids-1";
  const std::string current = readFileText(pids_dir + "/pids.current");
  ASSERT_FALSE(current.empty()) << "cannot read " << pids_dir << "/pids.current";
  EXPECT_LE(std::stoi(current), 16);
  // "max N": how many forks the limit refused; the bomb must have hit it.
  const std::string events = readFileText(pids_dir + "/pids.events");
  ASSERT_EQ(events.rfind("max ", 0), 0u)
      << "cannot read " << pids_dir << "/pids.events: '" << events << "'";
  EXPECT_GT(std::stoll(events.substr(4)), 0) << events;
  ASSERT_TRUE(backend_->destroySandbox("pids-1").ok());
  expectGone("pids-1");
}

TEST_F(LocalBackendTest, LimitsLandInTheSandboxCgroup) {
  auto s = spec("lim-1");
  s.limits = {0.5, 128, 50};
  create(s);
  if (detectCgroupVersion() == CgroupVersion::kV2) {
    std::string dir = "/sys/fs/cgroup/" + cgroup_root_ + "/lim-1/";
    EXPECT_EQ(readFileText(dir + "cpu.max"), "50000 100000\n");
    EXPECT_EQ(readFileText(dir + "memory.max"), "134217728\n");
    EXPECT_EQ(readFileText(dir + "pids.max"), "50\n");
  } else {
    std::string suffix = "/" + cgroup_root_ + "/lim-1/";
    EXPECT_EQ(readFileText("/sys/fs/cgroup/cpu" + suffix + "cpu.cfs_quota_us"), "50000\n");
    EXPECT_EQ(readFileText("/sys/fs/cgroup/memory" + suffix + "memory.limit_in_bytes"),
              "134217728\n");
    EXPECT_EQ(readFileText("/sys/fs/cgroup/pids" + suffix + "pids.max"), "50\n");
  }
  ASSERT_TRUE(backend_->destroySandbox("lim-1").ok());
  expectGone("lim-1");
}

TEST_F(LocalBackendTest, PauseFreezesTheCgroupAndAPausedSandboxIsDestroyedWhole) {
  create(spec("frz-1"));
  ASSERT_TRUE(backend_->pauseSandbox("frz-1").ok());
  const bool v2 = detectCgroupVersion() == CgroupVersion::kV2;
  const std::string state_file =
      v2 ? "/sys/fs/cgroup/" + cgroup_root_ + "/frz-1/cgroup.events"
         : "/sys/fs/cgroup/freezer/" + cgroup_root_ + "/frz-1/freezer.state";
  const std::string frozen = readFileText(state_file);
  EXPECT_NE(frozen.find(v2 ? "frozen 1" : "FROZEN"), std::string::npos) << frozen;
  // No process starts into a frozen sandbox (it would hang), and a second pause is refused.
  auto started = backend_->startProcess("frz-1", ProcessSpec{{"true"}, false});
  ASSERT_FALSE(started.ok());
  EXPECT_EQ(started.error().code, ErrorCode::kConflict);
  EXPECT_EQ(backend_->pauseSandbox("frz-1").error().code, ErrorCode::kConflict);
  ASSERT_TRUE(backend_->resumeSandbox("frz-1").ok());
  EXPECT_EQ(runIn(*backend_, "frz-1", {"echo", "thawed"}).out, "thawed\n");
  // Destroyed while frozen: the frozen members are killed and everything goes.
  ASSERT_TRUE(backend_->pauseSandbox("frz-1").ok());
  ASSERT_TRUE(backend_->destroySandbox("frz-1").ok());
  expectGone("frz-1");
  EXPECT_EQ(backend_->pauseSandbox("frz-1").error().code, ErrorCode::kNotFound);
}

TEST_F(LocalBackendTest, MemoryHogIsOomKilledInside) {
  auto s = spec("mem-1");
  s.limits.memory_mb = 64;
  create(s);
  auto out = runIn(*backend_, "mem-1",
                   {"bash", "-c", "x=$(head -c 400000000 /dev/zero | tr '\\0' a); echo survived"});
  EXPECT_EQ(out.out.find("survived"), std::string::npos);
  EXPECT_EQ(out.exit_code, 137) << out.err;
  // The sandbox itself (and this test process) live on.
  out = runIn(*backend_, "mem-1", {"echo", "alive"});
  EXPECT_EQ(out.out, "alive\n");
  ASSERT_TRUE(backend_->destroySandbox("mem-1").ok());
  expectGone("mem-1");
}

TEST_F(LocalBackendTest, ErrorsForUnknownImageAndNameserver) {
  auto r = backend_->createSandbox(spec("err-1", "foo:1"));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::kImageNotFound);
  EXPECT_EQ(r.error().message, "image 'foo:1' not found in " + images() +
                                   ": import it with `grid image import foo:1 FILE.tar`");
  auto s = spec("err-2");
  s.network = true;  // network itself works (network_test.cc); a bad nameserver does not
  s.nameservers = {"8.8.8.8; rm -rf /"};
  r = backend_->createSandbox(s);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::kInvalidArgument);
  EXPECT_FALSE(pathExists(state("err-1")));
  EXPECT_FALSE(pathExists(state("err-2")));
  EXPECT_EQ(backend_->startProcess("nope", {{"true"}, false}).error().code, ErrorCode::kNotFound);
}

// A docker-save image with a static busybox and whiteouts, used as a real root filesystem.
TEST_F(LocalBackendTest, DockerSaveImageWithWhiteouts) {
  GRID_REQUIRE_ENGINE(pathExists("/bin/busybox"), "/bin/busybox (apt-get install busybox-static)");
  std::string busybox = readFileText("/bin/busybox");
  std::string l1 = tmp_.path() + "/l1.tar", l2 = tmp_.path() + "/l2.tar";
  ASSERT_TRUE(
      writeTar(l1, {image::testing::dir("bin"), file("bin/busybox", busybox, 0755),
                    image::testing::symlink("bin/sh", "busybox"), image::testing::dir("etc"),
                    file("etc/gone", "x"), image::testing::dir("data"), file("data/old", "x")}));
  ASSERT_TRUE(writeTar(l2, {file("etc/.wh.gone", ""), image::testing::dir("data"),
                            file("data/.wh..wh..opq", ""), file("data/new", "fresh\n")}));
  std::string archive = tmp_.path() + "/save.tar";
  ASSERT_TRUE(
      writeTar(archive, {file("manifest.json", R"([{"Layers":["a/layer.tar","b/layer.tar"]}])"),
                         image::testing::dir("a"), file("a/layer.tar", readFileText(l1)),
                         image::testing::dir("b"), file("b/layer.tar", readFileText(l2))}));
  auto imported = image::importImage(images(), "bb:test", archive);
  ASSERT_TRUE(imported.ok()) << imported.error().message;
  create(spec("bb-1", "bb:test"));
  auto out = sh(*backend_, "bb-1",
                "ls /etc /data; cat /data/new; echo changed > /data/new; cat /data/new; hostname");
  EXPECT_EQ(out.exit_code, 0) << out.err;
  EXPECT_EQ(out.out, "/data:\nnew\n\n/etc:\nhostname\nfresh\nchanged\nbb-1\n");
  // Writes land in the sandbox's upper dir, never in the image.
  EXPECT_EQ(readFileText(imported.value().rootfs + "/data/new"), "fresh\n");
  ASSERT_TRUE(backend_->destroySandbox("bb-1").ok());
  expectGone("bb-1");
}

TEST_F(LocalBackendTest, DebianRootfsTarball) {
  // Made by scripts/build-test-images.sh, which scripts/test.sh runs before the tests.
  const std::string tarball = "/var/cache/grid/rootfs/debian-bookworm.tar";
  GRID_REQUIRE_ENGINE(pathExists(tarball),
                      "Debian rootfs tarball " + tarball + " (run scripts/build-test-images.sh)");
  auto imported = image::importImage(images(), "grid-test/debian:bookworm", tarball);
  ASSERT_TRUE(imported.ok()) << imported.error().message;
  auto started = std::chrono::steady_clock::now();
  create(spec("deb-1", "grid-test/debian:bookworm"));
  auto out = runIn(*backend_, "deb-1", {"bash", "-c", "echo $BASH_VERSION"});
  auto elapsed =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - started);
  std::fprintf(stderr, "[ info ] create + first process (debian overlay): %.1f ms\n",
               elapsed.count());
  EXPECT_EQ(out.exit_code, 0) << out.err;
  EXPECT_EQ(out.out.substr(0, 2), "5.");
  out = runIn(*backend_, "deb-1",
              {"bash", "-c", "cat /etc/debian_version >/dev/null && ls /proc | grep -c '^[0-9]'"});
  EXPECT_LE(std::stoi(out.out), 4);
  out = runIn(*backend_, "deb-1", {"bash", "-c", "ls /dev | tr '\\n' ' '"});
  EXPECT_EQ(out.out, "fd full null ptmx pts random shm stderr stdin stdout tty urandom zero ");
  out = runIn(*backend_, "deb-1", {"bash", "-c", "ls /sys | wc -l"});
  EXPECT_EQ(out.out, "0\n");
  ASSERT_TRUE(backend_->destroySandbox("deb-1").ok());
  expectGone("deb-1");
}

TEST_F(LocalBackendTest, ChannelDroppedWhileRunningIsReapedAtDestroy) {
  create(spec("bg-1"));
  {
    auto channel = backend_->startProcess("bg-1", {{"sleep", "1000"}, false});
    ASSERT_TRUE(channel.ok());
  }
  // The dropped channel's process still runs: the sandbox kills it at destroy.
  auto out = sh(*backend_, "bg-1", "cat /proc/[0-9]*/comm | grep -c sleep");
  EXPECT_EQ(out.out, "1\n");
  ASSERT_TRUE(backend_->destroySandbox("bg-1").ok());
  expectGone("bg-1");
}

TEST_F(LocalBackendTest, RemoveLeftoversOfAnEarlierRun) {
  create(spec("left-1"));
  create(spec("left-2"));
  // A second backend of the same instance plays the restarted server.
  LocalNamespaceBackend restarted;
  ASSERT_TRUE(restarted.init(config_).ok());
  auto removed = restarted.removeLeftovers();
  ASSERT_TRUE(removed.ok()) << removed.error().message;
  std::sort(removed.value().begin(), removed.value().end());
  EXPECT_EQ(removed.value(), (std::vector<std::string>{"left-1", "left-2"}));
  expectGone("left-1");
  expectGone("left-2");
  // Another instance's sandboxes are not touched.
  create(spec("other-1"));
  BackendConfig other = config_;
  other.instance = "someone-else";
  LocalNamespaceBackend foreign;
  ASSERT_TRUE(foreign.init(other).ok());
  EXPECT_TRUE(foreign.removeLeftovers().value().empty());
  EXPECT_EQ(sh(*backend_, "other-1", "echo ok").out, "ok\n");
  ASSERT_TRUE(backend_->destroySandbox("other-1").ok());
  expectGone("other-1");
}

TEST_F(LocalBackendTest, ExitCodeIsBoundedWhenTheProcessOutlivesItsOutput) {
  create(spec("exit-1"));
  auto channel =
      backend_->startProcess("exit-1", {{"/bin/sh", "-c", "exec >&- 2>&-; sleep 60"}, false});
  ASSERT_TRUE(channel.ok()) << channel.error().message;
  auto deadline = Clock::now() + std::chrono::seconds(30);
  auto r = channel.value()->read(deadline);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r.value().status, ReadResult::Status::kEof);
  const auto asked = std::chrono::steady_clock::now();
  EXPECT_FALSE(channel.value()->exitCode().has_value()) << "the process still runs";
  EXPECT_LT(std::chrono::steady_clock::now() - asked, std::chrono::seconds(20));
  channel.value().reset();
  ASSERT_TRUE(backend_->destroySandbox("exit-1").ok());
  expectGone("exit-1");
}

TEST_F(LocalBackendTest, WithoutUserNamespaceSandboxesStillWork) {
  BackendConfig config = config_;
  config.settings["userns"] = "false";
  LocalNamespaceBackend plain;
  ASSERT_TRUE(plain.init(config).ok());
  ASSERT_TRUE(plain.createSandbox(spec("plain-1")).ok());
  auto out = sh(plain, "plain-1", "id -u; cat /proc/1/comm; cat /proc/self/uid_map");
  EXPECT_EQ(out.out, "0\ngrid-init\n         0          0 4294967295\n") << out.err;
  ASSERT_TRUE(plain.destroySandbox("plain-1").ok());
  expectGone("plain-1");
}

TEST_F(LocalBackendTest, UserNamespaceSettingsAreValidated) {
  for (const auto& [key, value] : std::vector<std::pair<std::string, std::string>>{
           {"userns", "maybe"}, {"subid_range", "1:2"}, {"init_binary", "relative/grid-init"}}) {
    BackendConfig config = config_;
    config.settings[key] = value;
    LocalNamespaceBackend backend;
    auto r = backend.init(config);
    ASSERT_FALSE(r.ok()) << key;
    EXPECT_EQ(r.error().code, ErrorCode::kInvalidArgument);
    EXPECT_NE(r.error().message.find(key), std::string::npos) << r.error().message;
  }
  // A grid-init that is writable by others is refused.
  const std::string copy = tmp_.path() + "/grid-init";
  ASSERT_EQ(std::system(("cp /proc/self/exe " + copy + " && chmod 0777 " + copy).c_str()), 0);
  BackendConfig config = config_;
  config.settings["init_binary"] = copy;
  LocalNamespaceBackend backend;
  auto r = backend.init(config);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("writable by no one else"), std::string::npos)
      << r.error().message;
}

}  // namespace
}  // namespace grid::localns
