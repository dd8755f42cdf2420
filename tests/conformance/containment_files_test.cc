// The files API against a hostile tenant: symlinks pointing at host paths, `..`, NUL, a
// symlinked parent directory, names built to break listings, directories too large to list,
// and tools the tenant replaced to print without end. Paths must resolve inside the sandbox
// only; a marker file this test makes on the host (in a temp dir, removed after) must never be
// read or changed through the sandbox, and memory stays bounded.
#include <stdlib.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>

#include "files_fixture.h"

namespace grid::testing {
namespace {

std::string hostRead(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

class ContainmentFilesTest : public FilesApiTest {
 protected:
  void SetUp() override {
    FilesApiTest::SetUp();
    if (HasFatalFailure() || IsSkipped()) return;
    char dir[] = "/tmp/grid-containment-files-XXXXXX";
    ASSERT_NE(::mkdtemp(dir), nullptr);
    host_dir_ = dir;
    std::random_device random;
    token_ = "host-marker-" + std::to_string(random()) + std::to_string(random());
    host_marker_ = host_dir_ + "/marker";
    std::ofstream(host_marker_) << token_;
  }
  void TearDown() override {
    if (!host_dir_.empty()) std::filesystem::remove_all(host_dir_);
    FilesApiTest::TearDown();
  }

  void expectHostUntouched() {
    EXPECT_EQ(hostRead(host_marker_), token_);
    EXPECT_EQ(std::distance(std::filesystem::directory_iterator(host_dir_),
                            std::filesystem::directory_iterator{}),
              1)
        << "a file appeared in the host's " << host_dir_;
  }

  std::string host_dir_;
  std::string host_marker_;
  std::string token_;
};

TEST_F(ContainmentFilesTest, SymlinkToAHostPathStaysInside) {
  run("mkdir -p /tmp/cf && ln -s " + host_marker_ + " /tmp/cf/to-host && ln -s /proc/1/root" +
      host_marker_ + " /tmp/cf/via-proc && ln -s ../../../../../.." + host_marker_ +
      " /tmp/cf/up && ln -s /etc/hostname /tmp/cf/hostname");
  for (const char* link : {"/tmp/cf/to-host", "/tmp/cf/via-proc", "/tmp/cf/up"}) {
    const HttpAnswer down = get(link);
    EXPECT_EQ(down.body.find(token_), std::string::npos) << link << " read the host's marker";
    EXPECT_NE(down.status, 200) << link << ": the sandbox has no such file";
    const HttpAnswer up = put(link, "overwritten through " + std::string(link));
    EXPECT_EQ(up.status, 201) << link << ": " << up.body;  // replaces the link in the sandbox
  }
  // /etc/hostname read through a link is the sandbox's, as `cat` in the session sees it.
  EXPECT_EQ(get("/tmp/cf/hostname").body, run("cat /etc/hostname").output);
  expectHostUntouched();
}

TEST_F(ContainmentFilesTest, DotDotAndNulStayInside) {
  const std::string escape = "/../../../../../.." + host_marker_;
  const HttpAnswer down = get(escape);
  EXPECT_EQ(down.body.find(token_), std::string::npos);
  EXPECT_EQ(down.status, 404);
  EXPECT_EQ(put("/tmp/../../.." + host_dir_ + "/new", "x").status, 201);  // inside the sandbox
  EXPECT_EQ(call("GET", filesUri("?path=" + encoded(host_marker_) + "%00/etc/passwd")).status, 400);
  EXPECT_EQ(call("PUT", filesUri("?path=/tmp/a%00b"), "x").status, 400);
  expectHostUntouched();
}

TEST_F(ContainmentFilesTest, SymlinkedParentOnUploadStaysInside) {
  run("mkdir -p /tmp/cf2 && ln -s " + host_dir_ + " /tmp/cf2/parent");
  const HttpAnswer up = put("/tmp/cf2/parent/planted", "planted");
  EXPECT_TRUE(up.status == 201 || up.status == 404 || up.status == 409) << up.body;
  const HttpAnswer tree_up = call("PUT", filesUri(pathQuery("/tmp/cf2/parent/tree")), "",
                                  {{"Content-Type", "application/x-tar"}});
  (void)tree_up;
  expectHostUntouched();
}

TEST_F(ContainmentFilesTest, HostileNamesListSafely) {
  const std::string long_name(255, 'n');
  run("mkdir -p /tmp/cf3 && cd /tmp/cf3 && touch \"$(printf 'new\\nline')\" \"$(printf "
      "'bad\\377utf8')\" " +
      long_name + " 'quote\"d'");
  const HttpAnswer listed = get("/tmp/cf3", "&list");
  ASSERT_EQ(listed.status, 200) << listed.body;
  const auto entries = listed.object()->getArray("entries");
  ASSERT_EQ(entries->size(), 4u) << listed.body;
  bool saw_newline = false, saw_long = false, saw_base64 = false;
  for (size_t i = 0; i < entries->size(); ++i) {
    const auto e = entries->getObject(static_cast<unsigned>(i));
    const std::string name = e->getValue<std::string>("name");
    saw_newline |= name == "new\nline";
    saw_long |= name == long_name;
    saw_base64 |= e->has("name_base64");
  }
  EXPECT_TRUE(saw_newline);
  EXPECT_TRUE(saw_long);
  EXPECT_TRUE(saw_base64) << "an invalid UTF-8 name carries its exact bytes";
  EXPECT_EQ(get("/tmp/cf3/new\nline").status, 200);
}

class ContainmentFilesSmallListTest : public ContainmentFilesTest {
 protected:
  void SetUp() override {
    max_list_entries_ = 50;
    ContainmentFilesTest::SetUp();
  }
};

TEST_F(ContainmentFilesSmallListTest, HugeDirectoryIsTruncated) {
  run("mkdir -p /tmp/cf4 && cd /tmp/cf4 && for i in $(seq 500); do : > f$i; done");
  const HttpAnswer listed = get("/tmp/cf4", "&list");
  ASSERT_EQ(listed.status, 200) << listed.body;
  EXPECT_TRUE(listed.object()->getValue<bool>("truncated"));
  EXPECT_EQ(listed.object()->getArray("entries")->size(), 50u);
}

TEST_F(ContainmentFilesSmallListTest, FakeFindCannotGrowMemory) {
  // The tenant shadows `find` (earlier in PATH) with one that prints without end: valid
  // records forever, then one endless field.
  if (conformanceTarget().image == "host") {
    GTEST_SKIP() << "the host image's /usr is read-only: a tenant cannot shadow find there";
  }
  const std::string fake = "/usr/local/bin/find";
  run(R"(mkdir -p /usr/local/bin && printf '%s\n' '#!/bin/sh' "yes 'f|1|644|1.5|x||' | )"
      R"(tr -d '\n' | tr '|' '\000'" > /usr/local/bin/find && chmod 755 /usr/local/bin/find)");
  ASSERT_EQ(run("command -v find").output, fake + "\n") << "PATH does not prefer " << fake;
  const bool peak = resetPeakRss();
  const int64_t before = procStatusKb("VmHWM");
  const HttpAnswer records = get("/tmp", "&list");
  ASSERT_EQ(records.status, 200) << records.body.substr(0, 300);
  EXPECT_TRUE(records.object()->getValue<bool>("truncated"));
  EXPECT_EQ(records.object()->getArray("entries")->size(), 50u);
  run(R"(printf '%s\n' '#!/bin/sh' "exec tr '\000' a < /dev/zero" > /usr/local/bin/find)");
  const HttpAnswer endless = get("/tmp", "&list");
  EXPECT_EQ(endless.status, 500) << endless.body.substr(0, 300);
  EXPECT_NE(endless.body.find("malformed"), std::string::npos) << endless.body.substr(0, 300);
  // Through the process-based default, stat runs the fake find too; the engines stat through
  // their archive endpoint instead and answer truly.
  const HttpAnswer stat = get("/tmp/anything");
  EXPECT_TRUE(stat.status == 500 || stat.status == 404) << stat.body.substr(0, 300);
  if (peak) {
    EXPECT_LT(procStatusKb("VmHWM") - before, 64 * 1024) << "listing grew memory";
  }
  run("rm -f " + fake);
}

}  // namespace
}  // namespace grid::testing
