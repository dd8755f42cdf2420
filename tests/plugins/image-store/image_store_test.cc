// Image store and archive validation, on tarballs crafted with libarchive. No root needed.
#include "grid/image/image_store.h"

#include <gtest/gtest.h>

#include <fstream>

#include "archive_extract.h"
#include "archive_test_util.h"

namespace grid::image {
namespace {

using testing::dir;
using testing::file;
using testing::hardlink;
using testing::pathExists;
using testing::readFileText;
using testing::symlink;
using testing::TempDir;
using testing::writeTar;

TEST(SanitizeEntryPathTest, NormalisesRelativeNames) {
  EXPECT_EQ(sanitizeEntryPath("./a//b/").value(), "a/b");
  EXPECT_EQ(sanitizeEntryPath("a/./b").value(), "a/b");
  EXPECT_EQ(sanitizeEntryPath(".").value(), "");
  EXPECT_EQ(sanitizeEntryPath("etc/..passwd").value(), "etc/..passwd");
}

TEST(SanitizeEntryPathTest, RejectsTraversal) {
  for (const char* bad : {"../x", "a/../../x", "a/..", "/etc/passwd", "..", "./../x"}) {
    auto r = sanitizeEntryPath(bad);
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_EQ(r.error().code, ErrorCode::kInvalidArgument);
  }
}

TEST(ImageRefTest, ParsesNameAndTag) {
  auto ref = parseImageRef("grid-test/debian:bookworm");
  ASSERT_TRUE(ref.ok());
  EXPECT_EQ(ref.value().name, "grid-test/debian");
  EXPECT_EQ(ref.value().tag, "bookworm");
  EXPECT_EQ(parseImageRef("busybox").value().str(), "busybox:latest");
  for (const char* bad : {"", "../x", "a/../b", "Upper", "x:", "x:a/b", "/abs", ".hidden"}) {
    EXPECT_FALSE(parseImageRef(bad).ok()) << bad;
  }
}

class ImageStoreTest : public ::testing::Test {
 protected:
  std::string images() const { return tmp_.path() + "/images"; }
  std::string tar(const std::string& name) const { return tmp_.path() + "/" + name; }
  TempDir tmp_;
};

TEST_F(ImageStoreTest, PlainRootfsImportListRemove) {
  ASSERT_TRUE(writeTar(tar("root.tar"), {dir("./"), dir("./etc"), file("./etc/os", "grid\n"),
                                         symlink("./bin", "usr/bin"), dir("./usr/bin"),
                                         file("./usr/bin/tool", "#!/bin/sh\n", 0755),
                                         hardlink("./usr/bin/tool2", "./usr/bin/tool")}));
  auto info = importImage(images(), "mini:1", tar("root.tar"));
  ASSERT_TRUE(info.ok()) << info.error().message;
  EXPECT_EQ(info.value().format, "rootfs");
  EXPECT_EQ(readFileText(info.value().rootfs + "/etc/os"), "grid\n");
  EXPECT_EQ(readFileText(info.value().rootfs + "/usr/bin/tool2"), "#!/bin/sh\n");
  EXPECT_TRUE(findImage(images(), "mini:1").ok());

  auto list = listImages(images());
  ASSERT_TRUE(list.ok());
  ASSERT_EQ(list.value().size(), 1u);
  EXPECT_EQ(list.value()[0].ref, "mini:1");

  ASSERT_TRUE(removeImage(images(), "mini:1").ok());
  EXPECT_TRUE(listImages(images()).value().empty());
  auto gone = findImage(images(), "mini:1");
  ASSERT_FALSE(gone.ok());
  EXPECT_EQ(gone.error().code, ErrorCode::kImageNotFound);
  EXPECT_EQ(removeImage(images(), "mini:1").error().code, ErrorCode::kImageNotFound);
}

TEST_F(ImageStoreTest, UnknownImageMessageSaysHowToImport) {
  auto r = findImage("/var/lib/grid/images", "foo:1");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::kImageNotFound);
  EXPECT_EQ(r.error().message,
            "image 'foo:1' not found in /var/lib/grid/images: import it with "
            "`grid image import foo:1 FILE.tar`");
}

struct EvilCase {
  const char* what;
  std::vector<testing::TarEntry> entries;
};

TEST_F(ImageStoreTest, RejectsTraversalAndLeavesNothingBehind) {
  std::vector<EvilCase> cases = {
      {"dotdot", {file("ok", "x"), file("../escaped", "pwned")}},
      {"nested dotdot", {dir("a"), file("a/../../escaped", "pwned")}},
      {"absolute", {file("/tmp/escaped-abs", "pwned")}},
      {"symlink escape", {symlink("link", tmp_.path()), file("link/escaped", "pwned")}},
      {"symlink to parent", {symlink("up", ".."), file("up/escaped", "pwned")}},
      {"hardlink outside", {hardlink("h", "../../etc/passwd")}},
      {"hardlink absolute", {hardlink("h", "/etc/passwd")}},
      {"hardlink via symlink", {symlink("etc", "/etc"), hardlink("h", "etc/passwd")}},
  };
  for (const auto& c : cases) {
    std::string path = tar("evil.tar");
    ASSERT_TRUE(writeTar(path, c.entries)) << c.what;
    auto r = importImage(images(), "evil:latest", path);
    ASSERT_FALSE(r.ok()) << c.what;
    EXPECT_EQ(r.error().code, ErrorCode::kInvalidArgument) << c.what << ": " << r.error().message;
    EXPECT_FALSE(pathExists(tmp_.path() + "/escaped")) << c.what;
    EXPECT_FALSE(pathExists(images() + "/escaped")) << c.what;
    EXPECT_FALSE(pathExists("/tmp/escaped-abs")) << c.what;
    EXPECT_TRUE(listImages(images()).value().empty()) << c.what;
  }
}

// A `docker save` archive: manifest.json naming layer tars applied in order, whiteouts in
// the upper layer hiding files and a whole directory of the lower one.
TEST_F(ImageStoreTest, DockerSaveLayersAndWhiteouts) {
  ASSERT_TRUE(writeTar(tar("l1.tar"),
                       {file("keep", "1"), file("gone", "1"), dir("d"), file("d/x", "1"),
                        file("d/y", "1"), dir("e"), file("e/old", "1"), file("over", "old")}));
  ASSERT_TRUE(writeTar(tar("l2.tar"), {file(".wh.gone", ""), dir("d"), file("d/.wh..wh..opq", ""),
                                       file("d/z", "2"), file("over", "new"), file("e/new", "2")}));
  std::string manifest =
      R"([{"Config":"cfg.json","RepoTags":["t:1"],"Layers":["aaa/layer.tar","bbb/layer.tar"]}])";
  ASSERT_TRUE(
      writeTar(tar("save.tar"), {file("manifest.json", manifest), file("cfg.json", "{}"),
                                 dir("aaa"), file("aaa/layer.tar", readFileText(tar("l1.tar"))),
                                 dir("bbb"), file("bbb/layer.tar", readFileText(tar("l2.tar")))}));
  auto info = importImage(images(), "layered", tar("save.tar"));
  ASSERT_TRUE(info.ok()) << info.error().message;
  EXPECT_EQ(info.value().format, "docker-save");
  const std::string& root = info.value().rootfs;
  EXPECT_TRUE(pathExists(root + "/keep"));
  EXPECT_FALSE(pathExists(root + "/gone"));
  EXPECT_FALSE(pathExists(root + "/.wh.gone"));
  EXPECT_FALSE(pathExists(root + "/d/x"));
  EXPECT_FALSE(pathExists(root + "/d/y"));
  EXPECT_TRUE(pathExists(root + "/d/z"));
  EXPECT_FALSE(pathExists(root + "/d/.wh..wh..opq"));
  EXPECT_TRUE(pathExists(root + "/e/old"));
  EXPECT_TRUE(pathExists(root + "/e/new"));
  EXPECT_EQ(readFileText(root + "/over"), "new");
  EXPECT_FALSE(pathExists(root + "/manifest.json"));
}

TEST_F(ImageStoreTest, OciLayout) {
  ASSERT_TRUE(writeTar(tar("l1.tar"), {file("a", "1"), file("b", "1")}));
  ASSERT_TRUE(writeTar(tar("l2.tar"), {file(".wh.a", "")}));
  std::string l1 = "1111111111111111111111111111111111111111111111111111111111111111";
  std::string l2 = "2222222222222222222222222222222222222222222222222222222222222222";
  std::string mf = "3333333333333333333333333333333333333333333333333333333333333333";
  std::string manifest = R"({"schemaVersion":2,"layers":[{"digest":"sha256:)" + l1 +
                         R"("},{"digest":"sha256:)" + l2 + R"("}]})";
  std::string index = R"({"schemaVersion":2,"manifests":[{"digest":"sha256:)" + mf + R"("}]})";
  ASSERT_TRUE(writeTar(tar("oci.tar"), {file("oci-layout", R"({"imageLayoutVersion":"1.0.0"})"),
                                        file("index.json", index), dir("blobs"),
                                        dir("blobs/sha256"), file("blobs/sha256/" + mf, manifest),
                                        file("blobs/sha256/" + l1, readFileText(tar("l1.tar"))),
                                        file("blobs/sha256/" + l2, readFileText(tar("l2.tar")))}));
  auto info = importImage(images(), "oci:x", tar("oci.tar"));
  ASSERT_TRUE(info.ok()) << info.error().message;
  EXPECT_EQ(info.value().format, "oci");
  EXPECT_FALSE(pathExists(info.value().rootfs + "/a"));
  EXPECT_TRUE(pathExists(info.value().rootfs + "/b"));
}

TEST_F(ImageStoreTest, LayerWhiteoutCannotEscapeThroughSymlink) {
  ASSERT_TRUE(writeTar(tar("l1.tar"), {symlink("evil", tmp_.path())}));
  ASSERT_TRUE(writeTar(tar("victim"), {file("x", "x")}));  // a file the whiteout targets
  ASSERT_TRUE(writeTar(tar("l2.tar"), {file("evil/.wh.victim", "")}));
  std::string manifest = R"([{"Layers":["l1.tar","l2.tar"]}])";
  ASSERT_TRUE(writeTar(tar("save.tar"), {file("manifest.json", manifest),
                                         file("l1.tar", readFileText(tar("l1.tar"))),
                                         file("l2.tar", readFileText(tar("l2.tar")))}));
  auto r = importImage(images(), "evil", tar("save.tar"));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::kInvalidArgument);
  EXPECT_TRUE(pathExists(tar("victim")));
}

// A docker-save or OCI archive whose manifest, index or layer is (or goes through) a symlink
// to a host file is refused: the import never reads a host file.
TEST_F(ImageStoreTest, RefusesSymlinkedManifestIndexAndLayers) {
  const std::string host_json = tmp_.path() + "/host-manifest.json";
  { std::ofstream(host_json) << R"([{"Layers": ["layer.tar"]}])"; }
  const std::string host_layer = tmp_.path() + "/host-layer.tar";
  ASSERT_TRUE(writeTar(host_layer, {file("pwned", "x")}));
  struct Case {
    const char* name;
    std::vector<testing::TarEntry> entries;
  };
  const std::vector<Case> cases = {
      {"manifest-link", {symlink("manifest.json", host_json)}},
      {"manifest-dotdot", {symlink("manifest.json", "../../../../../../.." + host_json)}},
      {"layer-link",
       {file("manifest.json", R"([{"Layers": ["layer.tar"]}])"), symlink("layer.tar", host_layer)}},
      {"layer-through-dir-link",
       {file("manifest.json", R"([{"Layers": ["d/layer.tar"]}])"), symlink("d", tmp_.path())}},
      {"oci-index-link", {file("oci-layout", "{}"), symlink("index.json", host_json)}},
      {"oci-blob-link",
       {file("oci-layout", "{}"), file("index.json", R"({"manifests": [{"digest": "sha256:ab"}]})"),
        dir("blobs"), dir("blobs/sha256"), symlink("blobs/sha256/ab", host_json)}},
  };
  for (const auto& c : cases) {
    const std::string archive = tar(std::string(c.name) + ".tar");
    ASSERT_TRUE(writeTar(archive, c.entries));
    auto imported = importImage(images(), std::string(c.name) + ":1", archive);
    ASSERT_FALSE(imported.ok()) << c.name << " was imported";
    EXPECT_EQ(imported.error().code, ErrorCode::kInvalidArgument) << c.name;
    EXPECT_NE(imported.error().message.find("symlink"), std::string::npos)
        << c.name << ": " << imported.error().message;
    EXPECT_FALSE(findImage(images(), std::string(c.name) + ":1").ok()) << c.name;
  }
}

}  // namespace
}  // namespace grid::image
