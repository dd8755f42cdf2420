#include "api/api_requests.h"

#include <Poco/Exception.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>

#include <cmath>

namespace grid {
namespace {

using Poco::Dynamic::Var;
using Poco::JSON::Object;

Error invalid(const std::string& message) { return fail(ErrorCode::kInvalidArgument, message); }

}  // namespace

Result<Object::Ptr> parseJsonObject(std::string_view body, size_t max_depth) {
  if (body.find_first_not_of(" \t\r\n") == std::string_view::npos) return Object::Ptr(new Object);
  try {
    Poco::JSON::Parser parser;
    parser.setDepth(max_depth);
    Var parsed = parser.parse(std::string(body));
    if (parsed.type() != typeid(Object::Ptr)) return invalid("request body must be a JSON object");
    return parsed.extract<Object::Ptr>();
  } catch (const Poco::Exception& e) {
    return invalid("request body is not valid JSON: " + e.message());
  } catch (const std::exception& e) {
    return invalid(std::string("request body is not valid JSON: ") + e.what());
  }
}

namespace {

bool isNull(const Object& o, const std::string& key) { return !o.has(key) || o.isNull(key); }

Result<std::optional<std::string>> optionalString(const Object& o, const std::string& key) {
  if (isNull(o, key)) return std::optional<std::string>();
  Var v = o.get(key);
  if (!v.isString()) return invalid("'" + key + "' must be a string");
  return std::optional<std::string>(v.extract<std::string>());
}

Result<std::optional<bool>> optionalBool(const Object& o, const std::string& key) {
  if (isNull(o, key)) return std::optional<bool>();
  Var v = o.get(key);
  if (v.type() != typeid(bool)) return invalid("'" + key + "' must be true or false");
  return std::optional<bool>(v.extract<bool>());
}

// `field` names the value in messages ("limits.cpus"); defaults to `key`.
Result<std::optional<double>> optionalNumber(const Object& o, const std::string& key,
                                             const std::string& field = "") {
  const std::string& name = field.empty() ? key : field;
  if (isNull(o, key)) return std::optional<double>();
  Var v = o.get(key);
  if (!v.isNumeric() || v.type() == typeid(bool)) return invalid("'" + name + "' must be a number");
  const double d = v.convert<double>();
  if (!std::isfinite(d)) return invalid("'" + name + "' must be a finite number");
  return std::optional<double>(d);
}

Result<std::map<std::string, std::string>> stringMap(const Object& o, const std::string& key,
                                                     size_t max_entries) {
  std::map<std::string, std::string> out;
  if (isNull(o, key)) return out;
  Object::Ptr map = o.getObject(key);
  if (!map) return invalid("'" + key + "' must be an object of strings");
  if (map->size() > max_entries) {
    return invalid("'" + key + "' has more than " + std::to_string(max_entries) + " entries");
  }
  for (const auto& [name, value] : *map) {
    if (!value.isString()) return invalid("'" + key + "." + name + "' must be a string");
    if (name.empty()) return invalid("'" + key + "' has an empty name");
    out[name] = value.extract<std::string>();
  }
  return out;
}

// A lifetime in seconds (fractions allowed): 0 asks for none, a negative or absurd value is
// refused.
Result<std::optional<std::chrono::milliseconds>> optionalLifetime(const Object& o,
                                                                  const std::string& key) {
  GRID_ASSIGN_OR_RETURN(const auto seconds, optionalNumber(o, key));
  if (!seconds) return std::optional<std::chrono::milliseconds>();
  constexpr double kMaxSeconds = 1e9;  // about 31 years
  if (*seconds < 0 || *seconds > kMaxSeconds) {
    return invalid("'" + key + "' must be a number of seconds from 0 (none) to 1000000000");
  }
  const auto ms = std::chrono::milliseconds(std::llround(*seconds * 1000));
  if (ms.count() == 0 && *seconds > 0) {
    return invalid("'" + key + "' must be 0 (none) or at least 0.001 seconds");
  }
  return std::optional<std::chrono::milliseconds>(ms);
}

Result<void> checkCommand(const std::string& command, const std::string& field,
                          const RequestLimits& limits) {
  if (command.size() > limits.max_command_bytes) {
    return invalid("'" + field + "' is longer than " + std::to_string(limits.max_command_bytes) +
                   " bytes");
  }
  if (command.find('\0') != std::string::npos) {
    return invalid("'" + field + "' must not contain NUL characters");
  }
  return {};
}

}  // namespace

Result<CreateRequest> parseCreateRequest(std::string_view body, const RequestLimits& limits) {
  GRID_ASSIGN_OR_RETURN(const Object::Ptr parsed, parseJsonObject(body, limits.max_json_depth));
  const Object& o = *parsed;
  CreateRequest request;
  try {
    GRID_ASSIGN_OR_RETURN(auto image, optionalString(o, "image"));
    if (image) {
      if (image->empty()) return invalid("'image' must not be empty");
      request.image = std::move(image);
    }
    if (!isNull(o, "setup_commands")) {
      auto list = o.getArray("setup_commands");
      if (!list) return invalid("'setup_commands' must be an array of strings");
      if (list->size() > limits.max_setup_commands) {
        return invalid("'setup_commands' has more than " +
                       std::to_string(limits.max_setup_commands) + " entries");
      }
      for (size_t i = 0; i < list->size(); ++i) {
        Var v = list->get(i);
        if (!v.isString())
          return invalid("'setup_commands[" + std::to_string(i) + "]' must be a string");
        std::string command = v.extract<std::string>();
        GRID_TRY(checkCommand(command, "setup_commands", limits));
        request.setup_commands.push_back(std::move(command));
      }
    }
    if (!isNull(o, "limits")) {
      Object::Ptr limits_obj = o.getObject("limits");
      if (!limits_obj) return invalid("'limits' must be an object");
      ResourceLimits resource;
      for (const auto& [name, value] : *limits_obj) {
        if (name != "cpus" && name != "memory_mb" && name != "pids") {
          return invalid("unknown limit '" + name + "' (known: cpus, memory_mb, pids)");
        }
      }
      GRID_ASSIGN_OR_RETURN(const auto cpus, optionalNumber(*limits_obj, "cpus", "limits.cpus"));
      GRID_ASSIGN_OR_RETURN(const auto memory,
                            optionalNumber(*limits_obj, "memory_mb", "limits.memory_mb"));
      GRID_ASSIGN_OR_RETURN(const auto pids, optionalNumber(*limits_obj, "pids", "limits.pids"));
      if (cpus) {
        if (*cpus <= 0 || *cpus > 1024) return invalid("'limits.cpus' must be in (0, 1024]");
        resource.cpus = *cpus;
      }
      if (memory) {
        if (*memory < 6 || *memory > (1 << 24)) {
          return invalid("'limits.memory_mb' must be between 6 and 16777216");
        }
        resource.memory_mb = static_cast<int64_t>(*memory);
      }
      if (pids) {
        if (*pids < 1 || *pids > (1 << 22)) {
          return invalid("'limits.pids' must be between 1 and 4194304");
        }
        resource.pids = static_cast<int64_t>(*pids);
      }
      request.limits = resource;
    }
    GRID_TRY(parseNetworkField(o, EgressLimits{limits.max_egress_rules}, request.network,
                               request.egress));
    GRID_ASSIGN_OR_RETURN(const auto isolation, optionalString(o, "isolation"));
    if (isolation) {
      const auto level = isolationFromName(*isolation);
      if (!level) {
        return invalid("'isolation' must be one of " + std::string(kIsolationNames));
      }
      request.isolation = *level;
    }
    GRID_ASSIGN_OR_RETURN(auto env, stringMap(o, "env", limits.max_map_entries));
    for (const auto& [name, value] : env) {
      if (name.find('=') != std::string::npos || name.find('\0') != std::string::npos ||
          value.find('\0') != std::string::npos) {
        return invalid("'env." + name + "' is not a valid environment variable");
      }
    }
    request.env = std::move(env);
    GRID_ASSIGN_OR_RETURN(auto labels, stringMap(o, "labels", limits.max_map_entries));
    for (const auto& [name, value] : labels) {
      if (name.rfind("grid.", 0) == 0)
        return invalid("label '" + name + "' uses the reserved prefix 'grid.'");
    }
    request.labels = std::move(labels);
    GRID_ASSIGN_OR_RETURN(request.lifetime.ttl, optionalLifetime(o, "ttl_seconds"));
    GRID_ASSIGN_OR_RETURN(request.lifetime.idle_timeout,
                          optionalLifetime(o, "idle_timeout_seconds"));
    GRID_ASSIGN_OR_RETURN(const auto action, optionalString(o, "expiry_action"));
    if (action) {
      request.lifetime.action = expiryActionFromName(*action);
      if (!request.lifetime.action) {
        return invalid("'expiry_action' must be one of " + std::string(kExpiryActionNames));
      }
    }
  } catch (const Poco::Exception& e) {
    return invalid("invalid request: " + e.message());
  }
  return request;
}

Result<ExecRequest> parseExecRequest(std::string_view body, const RequestLimits& limits) {
  GRID_ASSIGN_OR_RETURN(const Object::Ptr parsed, parseJsonObject(body, limits.max_json_depth));
  const Object& o = *parsed;
  ExecRequest request;
  try {
    if (isNull(o, "command")) return invalid("'command' is required");
    GRID_ASSIGN_OR_RETURN(auto command, optionalString(o, "command"));
    request.command = std::move(command).value();  // present: checked above
    GRID_TRY(checkCommand(request.command, "command", limits));
    GRID_ASSIGN_OR_RETURN(const auto standalone, optionalBool(o, "standalone"));
    request.standalone = standalone.value_or(false);
    GRID_ASSIGN_OR_RETURN(request.stream, optionalBool(o, "stream"));
    GRID_ASSIGN_OR_RETURN(const auto auto_resume, optionalBool(o, "auto_resume"));
    request.auto_resume = auto_resume.value_or(false);
    GRID_ASSIGN_OR_RETURN(const auto timeout, optionalNumber(o, "timeout"));
    if (timeout) {
      if (*timeout <= 0 || *timeout > 1e7) {
        return invalid("'timeout' must be a positive number of seconds");
      }
      request.timeout = std::chrono::milliseconds(static_cast<int64_t>(*timeout * 1000));
    }
  } catch (const Poco::Exception& e) {
    return invalid("invalid request: " + e.message());
  }
  return request;
}

Result<StopRequest> parseStopRequest(std::string_view body) {
  GRID_ASSIGN_OR_RETURN(const Object::Ptr parsed,
                        parseJsonObject(body, RequestLimits{}.max_json_depth));
  StopRequest request;
  GRID_ASSIGN_OR_RETURN(const auto remove, optionalBool(*parsed, "remove"));
  request.remove = remove.value_or(true);
  return request;
}

Result<EgressPolicy> parseNetworkPatch(std::string_view body, const RequestLimits& limits) {
  GRID_ASSIGN_OR_RETURN(const Object::Ptr parsed, parseJsonObject(body, limits.max_json_depth));
  try {
    for (const auto& [name, value] : *parsed) {
      if (name != "egress") return invalid("unknown key '" + name + "' (known: egress)");
    }
    if (isNull(*parsed, "egress")) return invalid("'egress' is required");
    const Object::Ptr egress = parsed->getObject("egress");
    if (!egress) return invalid("'egress' must be an object {\"allow\": [...], \"deny\": [...]}");
    return parseEgressPolicy(*egress, "egress", EgressLimits{limits.max_egress_rules});
  } catch (const Poco::Exception& e) {
    return invalid("invalid request: " + e.message());
  }
}

}  // namespace grid
