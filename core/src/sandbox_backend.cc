// Out-of-line destructors: the SDK's type info lives once, in grid-core, so a plugin's objects
// and the core agree on it across dlopen boundaries.
#include "grid/sandbox_backend.h"

namespace grid {

ProcessChannel::~ProcessChannel() = default;
SandboxBackend::~SandboxBackend() = default;

}  // namespace grid
