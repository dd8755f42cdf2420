// Paths in files API requests name a place inside a sandbox, as the sandbox's own processes
// see it. This is their lexical validation only: the request's text becomes a normalised
// absolute path, or a clear error. Resolving it (mounts, symlinks) happens inside the sandbox,
// where `..` and symlinks clamp at the sandbox's root (openat2 RESOLVE_IN_ROOT, or the
// engine's own resolution); the lexical `..` here clamps at "/" the same way, so the two views
// agree for paths without symlinks.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "grid/result.h"

namespace grid {

/// PATH_MAX: the longest path a request may name, in bytes, before normalisation.
inline constexpr size_t kMaxSandboxPathBytes = 4096;
/// NAME_MAX: the longest component of a path, in bytes.
inline constexpr size_t kMaxPathComponentBytes = 255;

/// Validates and normalises a path from a request: it must be absolute, without NUL, at most
/// kMaxSandboxPathBytes long with components of at most kMaxPathComponentBytes; "//" and "."
/// collapse, ".." removes the previous component and stays at "/" at the top. Returns the
/// normalised path ("/", or "/a/b" without a trailing slash), or kInvalidArgument ("path must
/// be absolute: foo").
Result<std::string> normalizeSandboxPath(std::string_view path);

/// The parent of a normalised path: "/a/b" -> "/a", "/a" -> "/", "/" -> "/".
std::string sandboxPathParent(std::string_view normalized);

/// The last component of a normalised path: "/a/b" -> "b", "/" -> "".
std::string sandboxPathBasename(std::string_view normalized);

/// A normalised path without its leading "/" ("/a/b" -> "a/b", "/" -> ""), as tar member
/// names and paths relative to a root directory fd are written.
std::string sandboxPathRelative(std::string_view normalized);

/// Checks one directory entry name (from a listing, which comes out of the sandbox): not
/// empty, not "." or "..", no '/' or NUL, at most kMaxPathComponentBytes.
Result<void> validatePathComponent(std::string_view name);

/// `dir` (normalised) joined with one entry name that validatePathComponent accepts.
Result<std::string> sandboxPathChild(std::string_view dir, std::string_view name);

}  // namespace grid
