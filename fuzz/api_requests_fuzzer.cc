// Every request body the API parses: create, exec, stop. Must never crash or hang; a request
// that parses must satisfy the validation it promises.
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "api/api_requests.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view body(reinterpret_cast<const char*>(data), size);
  grid::RequestLimits limits;
  limits.max_command_bytes = 4096;
  if (auto create = grid::parseCreateRequest(body, limits); create.ok()) {
    for (const auto& command : create.value().setup_commands) {
      if (command.size() > limits.max_command_bytes) std::abort();
    }
    if (create.value().image && create.value().image->empty()) std::abort();
  }
  if (auto exec = grid::parseExecRequest(body, limits); exec.ok()) {
    if (exec.value().command.size() > limits.max_command_bytes) std::abort();
    if (exec.value().command.find('\0') != std::string::npos) std::abort();
    if (exec.value().timeout && exec.value().timeout->count() < 0) std::abort();
  }
  (void)grid::parseStopRequest(body);
  return 0;
}
