// Registration only: the Docker backend is EngineBackend speaking dockerDialect().
#include "docker_dialect.h"
#include "engine_backend.h"
#include "grid/plugin.h"

namespace grid::docker {

class DockerBackend final : public engine::EngineBackend {
 public:
  DockerBackend() : EngineBackend(dockerDialect()) {}
};

}  // namespace grid::docker

GRID_REGISTER_BACKEND(grid::docker::DockerBackend)
