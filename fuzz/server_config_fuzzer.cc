// grid.ini parsing and validation: any file content gives a config or a clear error.
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "config/server_config.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const std::string path = "/tmp/grid-fuzz-config-" + std::to_string(getpid()) + ".ini";
  FILE* file = std::fopen(path.c_str(), "wb");
  if (file == nullptr) return 0;
  std::fwrite(data, 1, size, file);
  std::fclose(file);
  grid::ConfigSources sources;
  sources.file = path;
  auto config = grid::loadServerConfig(sources);
  if (config.ok()) {
    if (config.value().max_running_sandboxes == 0) std::abort();
    if (config.value().default_exec_timeout > config.value().max_exec_timeout) std::abort();
  } else if (config.error().message.empty()) {
    std::abort();
  }
  return 0;
}
