#include "files/sandbox_path.h"

#include <gtest/gtest.h>

namespace grid {
namespace {

std::string normalized(std::string_view path) {
  auto r = normalizeSandboxPath(path);
  EXPECT_TRUE(r.ok()) << path << ": " << r.error().message;
  return r.ok() ? r.value() : "";
}

std::string errorOf(std::string_view path) {
  auto r = normalizeSandboxPath(path);
  EXPECT_FALSE(r.ok()) << path;
  if (r.ok()) return "";
  EXPECT_EQ(r.error().code, ErrorCode::kInvalidArgument);
  return r.error().message;
}

TEST(SandboxPathTest, NormalisesLexically) {
  EXPECT_EQ(normalized("/"), "/");
  EXPECT_EQ(normalized("//"), "/");
  EXPECT_EQ(normalized("/."), "/");
  EXPECT_EQ(normalized("/a/b"), "/a/b");
  EXPECT_EQ(normalized("/a/b/"), "/a/b");
  EXPECT_EQ(normalized("//a///b//"), "/a/b");
  EXPECT_EQ(normalized("/a/./b/."), "/a/b");
  EXPECT_EQ(normalized("/a/b/../c"), "/a/c");
  EXPECT_EQ(normalized("/a/b/../../.."), "/");
  EXPECT_EQ(normalized("/a/.../b"), "/a/.../b");  // "..." is a name
  EXPECT_EQ(normalized("/.hidden/..x"), "/.hidden/..x");
  EXPECT_EQ(normalized("/with space/ünïcode"), "/with space/ünïcode");
}

TEST(SandboxPathTest, DotDotClampsAtTheRoot) {
  // As under RESOLVE_IN_ROOT: ".." at the root stays at the root.
  EXPECT_EQ(normalized("/.."), "/");
  EXPECT_EQ(normalized("/../../../etc/passwd"), "/etc/passwd");
  EXPECT_EQ(normalized("/tmp/../../etc"), "/etc");
}

TEST(SandboxPathTest, RefusesRelativeEmptyAndNul) {
  EXPECT_EQ(errorOf("foo"), "path must be absolute: foo");
  EXPECT_EQ(errorOf("./foo"), "path must be absolute: ./foo");
  EXPECT_EQ(errorOf("../etc"), "path must be absolute: ../etc");
  EXPECT_EQ(errorOf(""), "path is empty");
  EXPECT_EQ(errorOf(std::string_view("/etc/passwd\0.txt", 16)),
            "path contains a NUL byte: /etc/passwd?.txt");
  EXPECT_EQ(errorOf(std::string_view("\0", 1)), "path contains a NUL byte: ?");
}

TEST(SandboxPathTest, LengthLimits) {
  const std::string component(255, 'c');
  EXPECT_EQ(normalized("/" + component), "/" + component);
  EXPECT_NE(errorOf("/" + component + "c").find("path component is 256 bytes long, more than 255"),
            std::string::npos);
  // Also a component that ".." would remove: the kernel would refuse to look it up.
  EXPECT_FALSE(normalizeSandboxPath("/" + std::string(300, 'x') + "/..").ok());

  std::string longest;
  while (longest.size() + 11 <= kMaxSandboxPathBytes) longest += "/0123456789";
  longest.append(kMaxSandboxPathBytes - longest.size(), 'x');
  ASSERT_EQ(longest.size(), 4096u);
  EXPECT_EQ(normalized(longest), longest);
  const std::string message = errorOf(longest + "x");
  EXPECT_NE(message.find("path is 4097 bytes long, more than 4096"), std::string::npos);
  EXPECT_LT(message.size(), 200u);  // the path is shortened in the message
  EXPECT_FALSE(normalizeSandboxPath(std::string(1 << 20, '/')).ok());
}

TEST(SandboxPathTest, MessagesHideControlBytes) {
  EXPECT_EQ(errorOf("rel\n\x1b[31mred"), "path must be absolute: rel??[31mred");
}

TEST(SandboxPathTest, ParentAndBasename) {
  EXPECT_EQ(sandboxPathParent("/"), "/");
  EXPECT_EQ(sandboxPathParent("/a"), "/");
  EXPECT_EQ(sandboxPathParent("/a/b"), "/a");
  EXPECT_EQ(sandboxPathParent("/a/b/c"), "/a/b");
  EXPECT_EQ(sandboxPathBasename("/"), "");
  EXPECT_EQ(sandboxPathBasename("/a"), "a");
  EXPECT_EQ(sandboxPathBasename("/a/b.txt"), "b.txt");
  EXPECT_EQ(sandboxPathRelative("/"), "");
  EXPECT_EQ(sandboxPathRelative("/a/b"), "a/b");
  // Parent and basename put back together give the path.
  for (const char* path : {"/a", "/a/b", "/x/y/z.tar.gz"}) {
    auto joined = sandboxPathChild(sandboxPathParent(path), sandboxPathBasename(path));
    ASSERT_TRUE(joined.ok());
    EXPECT_EQ(joined.value(), path);
  }
}

TEST(SandboxPathTest, ChildNamesFromAListingAreChecked) {
  EXPECT_EQ(sandboxPathChild("/", "etc").value(), "/etc");
  EXPECT_EQ(sandboxPathChild("/etc", "passwd").value(), "/etc/passwd");
  EXPECT_TRUE(validatePathComponent(".bashrc").ok());
  for (const std::string_view bad :
       {std::string_view(""), std::string_view("."), std::string_view(".."),
        std::string_view("a/b"), std::string_view("a\0b", 3)}) {
    auto r = sandboxPathChild("/etc", bad);
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_EQ(r.error().code, ErrorCode::kInvalidArgument);
  }
  EXPECT_FALSE(validatePathComponent(std::string(256, 'n')).ok());
  std::string deep;
  while (deep.size() < kMaxSandboxPathBytes - 100) deep += "/" + std::string(99, 'd');
  EXPECT_FALSE(sandboxPathChild(deep, std::string(200, 'n')).ok());
}

}  // namespace
}  // namespace grid
