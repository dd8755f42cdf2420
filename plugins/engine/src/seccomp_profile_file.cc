#include "seccomp_profile_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>

namespace grid::engine {

Result<void> writeSeccompProfileFile(const std::string& product, const std::string& path_text,
                                     const std::string& profile_json) {
  namespace fs = std::filesystem;
  const fs::path path = path_text;
  std::error_code ec;
  fs::create_directories(path.parent_path(), ec);
  if (ec) {
    return fail(ErrorCode::kInternal, product + ": mkdir " + path.parent_path().string() +
                                          " for the seccomp profile: " + ec.message());
  }
  std::string temp = path.string() + ".XXXXXX";
  const int fd = ::mkostemp(temp.data(), O_CLOEXEC);
  if (fd < 0) {
    return fail(ErrorCode::kInternal,
                product + ": mkostemp(" + temp + "): " + std::strerror(errno));
  }
  const char* data = profile_json.data();
  std::size_t left = profile_json.size();
  int err = 0;
  while (left > 0) {
    const ssize_t n = ::write(fd, data, left);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      err = n < 0 ? errno : EIO;
      break;
    }
    data += n;
    left -= static_cast<std::size_t>(n);
  }
  // Readable by an engine running as another user (the profile is no secret).
  if (err == 0 && ::fchmod(fd, 0644) != 0) err = errno;
  ::close(fd);
  if (err == 0 && ::rename(temp.c_str(), path.c_str()) != 0) err = errno;
  if (err != 0) {
    ::unlink(temp.c_str());
    return fail(ErrorCode::kInternal,
                product + ": write seccomp profile " + path.string() + ": " + std::strerror(err));
  }
  return {};
}

}  // namespace grid::engine
