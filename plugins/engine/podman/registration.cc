// Registration only: the Podman backend is EngineBackend speaking podmanDialect().
#include "engine_backend.h"
#include "grid/plugin.h"
#include "podman_dialect.h"

namespace grid::podman {

class PodmanBackend final : public engine::EngineBackend {
 public:
  PodmanBackend() : EngineBackend(podmanDialect()) {}
};

}  // namespace grid::podman

GRID_REGISTER_BACKEND(grid::podman::PodmanBackend)
