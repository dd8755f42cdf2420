// Loads a backend plugin (a shared object built with GRID_REGISTER_BACKEND) by absolute path,
// checks its SDK version, and keeps it loaded for the life of the process.
#pragma once

#include <memory>
#include <string>

#include "grid/sandbox_backend.h"

namespace grid {

/// The plugin file for `backend`: `[backend.NAME] plugin` if set, else
/// `<plugin_dir>/grid-backend-NAME.so`, where an empty plugin_dir means the directory the
/// build and `cmake --install` put plugins in, relative to the running `grid` binary.
std::string pluginPathFor(const std::string& backend, const std::string& plugin_dir,
                          const std::string& explicit_path);

/// The default plugin directory: <dir of this executable>/../lib/grid/plugins.
std::string defaultPluginDir();

/// Loads the plugin at `path` and creates its backend object (not yet initialised), wrapped in
/// a GuardedBackend so nothing the plugin throws reaches the core. A constructor that throws is
/// an error naming the plugin. The shared object is never unloaded, so the backend may be
/// destroyed at any time.
Result<std::unique_ptr<SandboxBackend>> loadBackendPlugin(const std::string& path);

}  // namespace grid
