// The backend's names for the shared fd owner (grid/sys/unique_fd.h).
#pragma once

#include "grid/sys/unique_fd.h"

namespace grid::localns {

using sys::makePipe;
using sys::Pipe;
using sys::UniqueFd;

}  // namespace grid::localns
