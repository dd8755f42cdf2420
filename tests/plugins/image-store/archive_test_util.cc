#include "archive_test_util.h"

#include <archive.h>
#include <archive_entry.h>
#include <stdlib.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <sstream>

namespace grid::image::testing {

TarEntry file(std::string name, std::string content, int mode) {
  return {std::move(name), TarEntry::Type::kFile, std::move(content), "", mode};
}
TarEntry dir(std::string name) { return {std::move(name), TarEntry::Type::kDir, "", "", 0755}; }
TarEntry symlink(std::string name, std::string target) {
  return {std::move(name), TarEntry::Type::kSymlink, "", std::move(target), 0777};
}
TarEntry hardlink(std::string name, std::string target) {
  return {std::move(name), TarEntry::Type::kHardlink, "", std::move(target), 0644};
}

bool writeTar(const std::string& path, const std::vector<TarEntry>& entries) {
  archive* a = archive_write_new();
  archive_write_set_format_pax_restricted(a);
  if (archive_write_open_filename(a, path.c_str()) != ARCHIVE_OK) {
    archive_write_free(a);
    return false;
  }
  bool ok = true;
  for (const auto& e : entries) {
    archive_entry* entry = archive_entry_new();
    archive_entry_set_pathname(entry, e.name.c_str());
    archive_entry_set_perm(entry, e.mode);
    archive_entry_set_mtime(entry, 1700000000, 0);
    switch (e.type) {
      case TarEntry::Type::kFile:
        archive_entry_set_filetype(entry, AE_IFREG);
        archive_entry_set_size(entry, static_cast<la_int64_t>(e.content.size()));
        break;
      case TarEntry::Type::kDir:
        archive_entry_set_filetype(entry, AE_IFDIR);
        break;
      case TarEntry::Type::kSymlink:
        archive_entry_set_filetype(entry, AE_IFLNK);
        archive_entry_set_symlink(entry, e.link.c_str());
        break;
      case TarEntry::Type::kHardlink:
        archive_entry_set_filetype(entry, AE_IFREG);
        archive_entry_set_hardlink(entry, e.link.c_str());
        break;
    }
    ok = ok && archive_write_header(a, entry) == ARCHIVE_OK;
    if (e.type == TarEntry::Type::kFile && !e.content.empty()) {
      ok = ok && archive_write_data(a, e.content.data(), e.content.size()) ==
                     static_cast<la_ssize_t>(e.content.size());
    }
    archive_entry_free(entry);
  }
  ok = ok && archive_write_close(a) == ARCHIVE_OK;
  archive_write_free(a);
  return ok;
}

TempDir::TempDir() {
  std::string tmpl = "/tmp/grid-localns-test-XXXXXX";
  path_ = ::mkdtemp(tmpl.data()) != nullptr ? tmpl : "";
}

TempDir::~TempDir() {
  std::error_code ec;
  if (!path_.empty()) std::filesystem::remove_all(path_, ec);
}

std::string readFileText(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

bool pathExists(const std::string& path) {
  struct stat st;
  return ::lstat(path.c_str(), &st) == 0;
}

}  // namespace grid::image::testing
