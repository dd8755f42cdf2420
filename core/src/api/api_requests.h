// Parsing and validation of API request bodies, pure so it can be unit-tested and fuzzed.
#pragma once

#include <Poco/JSON/Object.h>

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

#include "grid/result.h"
#include "sandbox/create_request.h"

namespace grid {

struct ExecRequest {
  std::string command;
  bool standalone = false;
  std::optional<std::chrono::milliseconds> timeout;
  std::optional<bool> stream;  // live output (NDJSON); unset: as the Accept header asks
  bool auto_resume = false;    // a paused sandbox resumes first instead of answering 409
};

struct StopRequest {
  bool remove = true;
};

struct RequestLimits {
  size_t max_command_bytes = 256 << 10;
  size_t max_setup_commands = 256;
  size_t max_map_entries = 256;
  size_t max_json_depth = 16;
  size_t max_egress_rules = 256;  // allow + deny of one policy ([network] max_rules)
};

/// Each returns kInvalidArgument with a sentence naming the offending field.
/// A request body that must be one JSON object, nested at most `max_depth` deep; an empty body
/// counts as `{}` so clients may POST without one.
Result<Poco::JSON::Object::Ptr> parseJsonObject(std::string_view body, size_t max_depth);

Result<CreateRequest> parseCreateRequest(std::string_view body, const RequestLimits& limits);
Result<ExecRequest> parseExecRequest(std::string_view body, const RequestLimits& limits);
Result<StopRequest> parseStopRequest(std::string_view body);
/// PATCH /sandboxes/{id}/network: `{"egress": {"allow": [...], "deny": [...]}}`.
Result<EgressPolicy> parseNetworkPatch(std::string_view body, const RequestLimits& limits);

}  // namespace grid
