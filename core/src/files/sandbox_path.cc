#include "files/sandbox_path.h"

#include <vector>

#include "util/printable.h"

namespace grid {

namespace {

// The request's text, shortened and without control bytes, for an error message.
std::string shownPath(std::string_view path) { return printablePrefix(path, 80); }

Error invalid(std::string message) {
  return Error{ErrorCode::kInvalidArgument, std::move(message)};
}

}  // namespace

Result<std::string> normalizeSandboxPath(std::string_view path) {
  if (path.empty()) return invalid("path is empty");
  if (path.find('\0') != std::string_view::npos) {
    return invalid("path contains a NUL byte: " + shownPath(path));
  }
  if (path.size() > kMaxSandboxPathBytes) {
    return invalid("path is " + std::to_string(path.size()) + " bytes long, more than " +
                   std::to_string(kMaxSandboxPathBytes) + ": " + shownPath(path));
  }
  if (path.front() != '/') return invalid("path must be absolute: " + shownPath(path));

  std::vector<std::string_view> parts;
  size_t start = 0;
  while (start < path.size()) {
    size_t end = path.find('/', start);
    if (end == std::string_view::npos) end = path.size();
    const std::string_view part = path.substr(start, end - start);
    start = end + 1;
    if (part.size() > kMaxPathComponentBytes) {
      return invalid("path component is " + std::to_string(part.size()) +
                     " bytes long, more than " + std::to_string(kMaxPathComponentBytes) + ": " +
                     shownPath(part));
    }
    if (part.empty() || part == ".") continue;
    if (part == "..") {
      if (!parts.empty()) parts.pop_back();  // at "/" it stays at "/", as in the root
      continue;
    }
    parts.push_back(part);
  }
  if (parts.empty()) return std::string("/");
  std::string out;
  out.reserve(path.size());
  for (const auto part : parts) out.append("/").append(part);
  return out;
}

std::string sandboxPathParent(std::string_view normalized) {
  const size_t slash = normalized.rfind('/');
  if (slash == std::string_view::npos || slash == 0) return "/";
  return std::string(normalized.substr(0, slash));
}

std::string sandboxPathBasename(std::string_view normalized) {
  const size_t slash = normalized.rfind('/');
  if (slash == std::string_view::npos) return std::string(normalized);
  return std::string(normalized.substr(slash + 1));
}

std::string sandboxPathRelative(std::string_view normalized) {
  while (!normalized.empty() && normalized.front() == '/') normalized.remove_prefix(1);
  return std::string(normalized);
}

Result<void> validatePathComponent(std::string_view name) {
  if (name.empty()) return invalid("empty file name");
  if (name == "." || name == "..") return invalid("file name may not be " + std::string(name));
  if (name.find('\0') != std::string_view::npos) {
    return invalid("file name contains a NUL byte: " + shownPath(name));
  }
  if (name.find('/') != std::string_view::npos) {
    return invalid("file name contains '/': " + shownPath(name));
  }
  if (name.size() > kMaxPathComponentBytes) {
    return invalid("file name is " + std::to_string(name.size()) + " bytes long, more than " +
                   std::to_string(kMaxPathComponentBytes) + ": " + shownPath(name));
  }
  return {};
}

Result<std::string> sandboxPathChild(std::string_view dir, std::string_view name) {
  GRID_TRY(validatePathComponent(name));
  std::string out(dir);
  if (out.empty() || out.back() != '/') out += '/';
  out.append(name);
  if (out.size() > kMaxSandboxPathBytes) {
    return invalid("path is " + std::to_string(out.size()) + " bytes long, more than " +
                   std::to_string(kMaxSandboxPathBytes) + ": " + shownPath(out));
  }
  return out;
}

}  // namespace grid
