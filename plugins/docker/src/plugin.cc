// Registration only: the Docker backend's logic lives in docker_backend.cc.
#include "grid/plugin.h"

#include "docker_backend.h"

GRID_REGISTER_BACKEND(grid::docker::DockerBackend)
