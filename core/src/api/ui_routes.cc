#include "api/ui_routes.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <optional>

#include "net/error_body.h"

namespace grid {
namespace {

using Poco::Net::HTTPResponse;
using Poco::Net::HTTPServerResponse;

constexpr size_t kMaxDashboardFileBytes = 4 << 20;

const char* contentTypeFor(const std::string& name) {
  const auto ends = [&](const char* suffix) {
    const size_t n = std::strlen(suffix);
    return name.size() > n && name.compare(name.size() - n, n, suffix) == 0;
  };
  if (ends(".html")) return "text/html; charset=utf-8";
  if (ends(".js")) return "text/javascript; charset=utf-8";
  if (ends(".css")) return "text/css; charset=utf-8";
  if (ends(".svg")) return "image/svg+xml";
  return nullptr;
}

bool plainFileName(const std::string& name) {
  if (name.empty() || name.size() > 100 || name[0] == '.') return false;
  for (char c : name) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '-' || c == '_' || c == '.';
    if (!ok) return false;
  }
  return true;
}

// Reads a regular file whole (bounded); the message says what failed.
Result<std::string> readFile(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0) {
    return fail(errno == ENOENT ? ErrorCode::kNotFound : ErrorCode::kInternal,
                "dashboard file " + path + ": " + std::strerror(errno));
  }
  struct stat st {};
  std::string data;
  Result<std::string> result = fail(ErrorCode::kInternal, "dashboard file " + path + ": unread");
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) ||
      static_cast<size_t>(st.st_size) > kMaxDashboardFileBytes) {
    result = fail(ErrorCode::kNotFound, "dashboard file " + path + ": not a regular file");
  } else {
    char buf[65536];
    ssize_t n = 0;
    while ((n = ::read(fd, buf, sizeof buf)) > 0 && data.size() <= kMaxDashboardFileBytes) {
      data.append(buf, static_cast<size_t>(n));
    }
    result =
        n < 0
            ? Result<std::string>(fail(ErrorCode::kInternal, "dashboard file " + path +
                                                                 ": read: " + std::strerror(errno)))
            : Result<std::string>(std::move(data));
  }
  ::close(fd);
  return result;
}

}  // namespace

std::optional<std::string> dashboardFileFor(const std::vector<std::string>& parts) {
  if (parts.empty() || parts[0] != "ui") return std::nullopt;
  if (parts.size() == 1) return std::string("index.html");
  if (parts.size() != 2 || !plainFileName(parts[1]) || !contentTypeFor(parts[1])) {
    return std::nullopt;
  }
  return parts[1];
}

Reply dashboardReply(const std::string& ui_dir, const std::vector<std::string>& parts,
                     const std::string& method) {
  if (method != "GET" && method != "HEAD") {
    Reply r = errorReply(HTTPResponse::HTTP_METHOD_NOT_ALLOWED, kCodeMethodNotAllowed,
                         "method " + method + " is not allowed on the dashboard (allowed: GET)");
    r.allow = "GET";
    return r;
  }
  const auto file = dashboardFileFor(parts);
  if (!file) return errorReply(fail(ErrorCode::kNotFound, "no such dashboard file"));
  if (ui_dir.empty()) {
    return errorReply(fail(ErrorCode::kNotFound,
                           "the dashboard is not installed (no ui directory; set [ui] dir in "
                           "grid.ini)"));
  }
  auto data = readFile(ui_dir + "/" + *file);
  if (!data.ok()) return errorReply(data.error());
  // Sent as a stream reply: the route sets its own headers (the policy) that way.
  Reply reply;
  reply.stream = [body = std::move(data.value()),
                  type = std::string(contentTypeFor(*file))](HTTPServerResponse& response) {
    response.setStatusAndReason(HTTPResponse::HTTP_OK);
    response.setContentType(type);
    response.set("Content-Security-Policy", kDashboardCsp);
    response.set("X-Content-Type-Options", "nosniff");
    response.set("X-Frame-Options", "DENY");
    response.set("Referrer-Policy", "no-referrer");
    response.set("Cache-Control", "no-cache");
    response.setContentLength(static_cast<std::streamsize>(body.size()));
    response.send().write(body.data(), static_cast<std::streamsize>(body.size()));
  };
  return reply;
}

}  // namespace grid
