// Error text that names the syscall, its arguments and errno ("mount(overlay, /x): EPERM"),
// for the parent side (std::string) and for children between fork and exec (no allocation).
#pragma once

#include <string>
#include <string_view>

#include "grid/result.h"

namespace grid::sys {

/// "call(args): ENAME (description)".
std::string sysError(std::string_view call, std::string_view args, int err);

/// An Error of `code` whose message is `component` + ": " + sysError(...).
Error sysFail(ErrorCode code, std::string_view component, std::string_view call,
              std::string_view args, int err);

/// Child side, async-signal-safe: writes "call(arg): ENAME" to `report_fd` and _exit(127)s.
/// The parent reads the report pipe with readChildReport(); any bytes mean the child failed.
[[noreturn]] void childFail(int report_fd, const char* call, const char* arg, int err);

/// Like childFail, writing to `fd` and exiting with `exit_code`.
[[noreturn]] void childFailWithCode(int fd, const char* call, const char* arg, int err,
                                    int exit_code);

}  // namespace grid::sys
