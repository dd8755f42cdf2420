// Registration only: the Podman backend's logic lives in podman_backend.cc.
#include "grid/plugin.h"

#include "podman_backend.h"

GRID_REGISTER_BACKEND(grid::podman::PodmanBackend)
