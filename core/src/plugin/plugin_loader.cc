#include "plugin/plugin_loader.h"

#include <Poco/ClassLoader.h>
#include <Poco/Exception.h>
#include <Poco/File.h>
#include <Poco/Path.h>
#include <Poco/SharedLibrary.h>
#include <unistd.h>

#include <mutex>

#include "plugin/guarded_backend.h"

namespace grid {
namespace {

using BackendLoader = Poco::ClassLoader<SandboxBackend>;

// Process-wide and deliberately never destroyed: unloading a plugin while any object it made
// is alive would leave dangling vtables.
BackendLoader& loader() {
  static auto* instance = new BackendLoader;
  return *instance;
}

std::mutex& loaderMutex() {
  static std::mutex mutex;
  return mutex;
}

std::string availablePlugins(const std::string& dir) {
  std::string names;
  try {
    std::vector<std::string> files;
    Poco::File(dir).list(files);
    for (const auto& file : files) {
      const std::string prefix = "grid-backend-";
      if (file.rfind(prefix, 0) == 0 && file.size() > prefix.size() + 3 &&
          file.compare(file.size() - 3, 3, ".so") == 0) {
        if (!names.empty()) names += ", ";
        names += file.substr(prefix.size(), file.size() - prefix.size() - 3);
      }
    }
  } catch (const Poco::Exception&) {
  }
  return names.empty() ? "none" : names;
}

// "docker" for .../grid-backend-docker.so; the file name for a plugin named otherwise.
std::string pluginLabel(const std::string& path) {
  std::string file = Poco::Path(path).getFileName();
  const std::string prefix = "grid-backend-";
  if (file.rfind(prefix, 0) == 0) file.erase(0, prefix.size());
  if (file.size() > 3 && file.compare(file.size() - 3, 3, ".so") == 0) file.resize(file.size() - 3);
  return file;
}

Error constructorThrew(const std::string& path, const std::string& class_name,
                       const std::string& what) {
  return fail(ErrorCode::kInternal, "cannot load plugin " + path + ": constructing its backend " +
                                        class_name + " threw: " + what +
                                        " (a backend's constructor must not fail; see init())");
}

}  // namespace

std::string defaultPluginDir() {
  char buf[4096];
  const ssize_t n = readlink("/proc/self/exe", buf, sizeof buf - 1);
  if (n <= 0) return "lib/grid/plugins";
  buf[n] = '\0';
  Poco::Path exe(buf);
  return Poco::Path(exe.parent())
      .popDirectory()
      .pushDirectory("lib")
      .pushDirectory("grid")
      .pushDirectory("plugins")
      .toString();
}

std::string pluginPathFor(const std::string& backend, const std::string& plugin_dir,
                          const std::string& explicit_path) {
  if (!explicit_path.empty()) return explicit_path;
  Poco::Path dir = Poco::Path::forDirectory(plugin_dir.empty() ? defaultPluginDir() : plugin_dir);
  dir.setFileName("grid-backend-" + backend + ".so");
  return dir.toString();
}

Result<std::unique_ptr<SandboxBackend>> loadBackendPlugin(const std::string& path) {
  const std::string dir = Poco::Path(path).parent().toString();
  if (!Poco::File(path).exists()) {
    return fail(ErrorCode::kNotFound, "plugin not found at " + path + " (plugins in " + dir + ": " +
                                          availablePlugins(dir) +
                                          "); set `backend` or `plugin_dir` in grid.ini");
  }
  std::lock_guard lock(loaderMutex());
  try {
    // Check the SDK version before anything of the plugin runs through our interface.
    Poco::SharedLibrary probe(path);
    if (!probe.hasSymbol("gridPluginSdkVersion")) {
      return fail(ErrorCode::kInvalidArgument,
                  path + " is not a Grid backend plugin (no GRID_REGISTER_BACKEND)");
    }
    using VersionFn = int (*)();
    const int version = reinterpret_cast<VersionFn>(probe.getSymbol("gridPluginSdkVersion"))();
    if (version != GRID_SDK_VERSION) {
      return fail(ErrorCode::kInvalidArgument,
                  path + " was built against Grid SDK version " + std::to_string(version) +
                      ", this grid has version " + std::to_string(GRID_SDK_VERSION) +
                      "; rebuild the plugin against this SDK");
    }
    if (!loader().isLibraryLoaded(path)) loader().loadLibrary(path);
    const auto* manifest = loader().findManifest(path);
    if (manifest == nullptr || manifest->begin() == manifest->end()) {
      return fail(ErrorCode::kInvalidArgument, path + " exports no backend class");
    }
    const std::string class_name = manifest->begin()->name();
    std::unique_ptr<SandboxBackend> backend;
    try {
      backend.reset(loader().create(class_name));
    } catch (...) {
      return constructorThrew(path, class_name, currentExceptionText());
    }
    return std::unique_ptr<SandboxBackend>(
        std::make_unique<GuardedBackend>(std::move(backend), pluginLabel(path)));
  } catch (const Poco::Exception& e) {
    return fail(ErrorCode::kInvalidArgument, "cannot load plugin " + path + ": " + e.displayText());
  }
}

}  // namespace grid
