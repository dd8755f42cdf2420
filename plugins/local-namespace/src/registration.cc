// The ClassLoader manifest of the local-namespace backend; the logic is in local_backend.cc.
#include "grid/plugin.h"
#include "runtime/local_backend.h"

GRID_REGISTER_BACKEND(grid::localns::LocalNamespaceBackend)
