// Image-archive path handling of the image store (grid-image-store): member names are normalised
// safely, and extracting any byte string as an archive writes nothing outside its destination.
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>

#include "archive_extract.h"

namespace fs = std::filesystem;

namespace {

void checkSanitized(std::string_view name) {
  auto path = grid::image::sanitizeEntryPath(name);
  if (!path.ok()) return;
  const std::string& p = path.value();
  if (!p.empty() && p.front() == '/') std::abort();
  size_t start = 0;
  while (start <= p.size() && !p.empty()) {
    const size_t end = std::min(p.find('/', start), p.size());
    const std::string_view part = std::string_view(p).substr(start, end - start);
    if (part.empty() || part == "." || part == "..") std::abort();
    start = end + 1;
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string bytes(reinterpret_cast<const char*>(data), size);
  checkSanitized(bytes);

  static const fs::path root =
      fs::temp_directory_path() / ("grid-fuzz-archive-" + std::to_string(getpid()));
  const fs::path dest = root / "dest";
  const fs::path archive = root / "input.tar";
  fs::remove_all(root);
  fs::create_directories(dest);
  if (FILE* f = std::fopen(archive.c_str(), "wb")) {
    std::fwrite(data, 1, size, f);
    std::fclose(f);
  }
  grid::image::ExtractOptions options;
  options.whiteouts = size > 0 && (data[0] & 1);
  (void)grid::image::extractArchive(archive, dest, options);
  // Only the archive and the destination may exist beside each other.
  for (const auto& entry : fs::directory_iterator(root)) {
    if (entry.path() != dest && entry.path() != archive) std::abort();
  }
  fs::remove_all(root);
  return 0;
}
