// JSON shapes of API responses.
#pragma once

#include <Poco/JSON/Object.h>

#include <chrono>
#include <string>

#include "grid/result.h"
#include "sandbox/sandbox.h"
#include "session/exec_result.h"

namespace grid {

Poco::JSON::Object::Ptr errorJson(const Error& error);
Poco::JSON::Object::Ptr execResultJson(const ExecResult& result);
/// The last event of live output: {"type": "result"} and then execResultJson's fields.
Poco::JSON::Object::Ptr execResultEventJson(const ExecResult& result);
Poco::JSON::Object::Ptr sandboxJson(const SandboxSnapshot& sandbox);
Poco::JSON::Object::Ptr trajectoryJson(const SandboxSnapshot& sandbox,
                                       const std::vector<TrajectoryEntry>& entries);
/// Plain text: "$ command" then its output, per exec.
std::string formattedTrajectory(const std::vector<TrajectoryEntry>& entries);

std::string toJsonText(const Poco::JSON::Object::Ptr& object);

/// A wall-clock time as the API writes every time: ISO 8601 with microseconds and offset.
std::string isoTime(std::chrono::system_clock::time_point t);

}  // namespace grid
