// Crafted tar archives for tests, written with libarchive.
#pragma once

#include <string>
#include <vector>

namespace grid::image::testing {

struct TarEntry {
  enum class Type { kFile, kDir, kSymlink, kHardlink };
  std::string name;
  Type type = Type::kFile;
  std::string content;  // file data
  std::string link;     // symlink or hardlink target
  int mode = 0644;
};

TarEntry file(std::string name, std::string content, int mode = 0644);
TarEntry dir(std::string name);
TarEntry symlink(std::string name, std::string target);
TarEntry hardlink(std::string name, std::string target);

/// Writes a ustar/pax archive; returns false on failure.
bool writeTar(const std::string& path, const std::vector<TarEntry>& entries);

/// A fresh temp dir removed with its contents on destruction.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

std::string readFileText(const std::string& path);
bool pathExists(const std::string& path);

}  // namespace grid::image::testing
