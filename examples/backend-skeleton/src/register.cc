// The plugin's only exported entry points: the ClassLoader manifest and the SDK version the
// loader checks. Kept apart from the logic so the backend class stays a plain C++ class.
#include "grid/plugin.h"
#include "skeleton_backend.h"

GRID_REGISTER_BACKEND(skeleton::SkeletonBackend)
