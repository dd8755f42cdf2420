#include "grid/sys/syscall_error.h"

#include <string.h>
#include <unistd.h>

#include <cerrno>

namespace grid::sys {
namespace {

const char* errnoName(int err) {
  const char* name = ::strerrorname_np(err);
  return name != nullptr ? name : "E?";
}

// Appends `text` into buf[*len, cap) without allocating; truncates silently.
void append(char* buf, size_t cap, size_t* len, const char* text) {
  while (*text != '\0' && *len + 1 < cap) buf[(*len)++] = *text++;
  buf[*len] = '\0';
}

}  // namespace

std::string sysError(std::string_view call, std::string_view args, int err) {
  std::string text(call);
  text += '(';
  text += args;
  text += "): ";
  text += errnoName(err);
  text += " (";
  text += ::strerrordesc_np(err) != nullptr ? ::strerrordesc_np(err) : "unknown error";
  text += ')';
  return text;
}

Error sysFail(ErrorCode code, std::string_view component, std::string_view call,
              std::string_view args, int err) {
  return fail(code, std::string(component) + ": " + sysError(call, args, err));
}

void childFail(int report_fd, const char* call, const char* arg, int err) {
  childFailWithCode(report_fd, call, arg, err, 127);
}

void childFailWithCode(int report_fd, const char* call, const char* arg, int err, int exit_code) {
  char buf[512];
  size_t len = 0;
  buf[0] = '\0';
  append(buf, sizeof(buf), &len, call);
  append(buf, sizeof(buf), &len, "(");
  append(buf, sizeof(buf), &len, arg != nullptr ? arg : "");
  append(buf, sizeof(buf), &len, "): ");
  append(buf, sizeof(buf), &len, errnoName(err));
  append(buf, sizeof(buf), &len, " (");
  const char* desc = ::strerrordesc_np(err);
  append(buf, sizeof(buf), &len, desc != nullptr ? desc : "unknown error");
  append(buf, sizeof(buf), &len, ")");
  if (report_fd >= 0) {
    ssize_t ignored = ::write(report_fd, buf, len);
    (void)ignored;
  }
  ::_exit(exit_code);
}

}  // namespace grid::sys
