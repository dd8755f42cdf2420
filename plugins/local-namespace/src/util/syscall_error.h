// The backend's names for the shared syscall error text (grid/sys/syscall_error.h); its
// errors name the backend first ("local-namespace: mount(overlay, /x): EPERM ...").
#pragma once

#include <string_view>

#include "grid/sys/syscall_error.h"

namespace grid::localns {

using sys::childFail;
using sys::childFailWithCode;
using sys::sysError;

inline Error sysFail(ErrorCode code, std::string_view call, std::string_view args, int err) {
  return sys::sysFail(code, "local-namespace", call, args, err);
}

}  // namespace grid::localns
