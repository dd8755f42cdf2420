#include "api/api_json.h"

#include <Poco/DateTimeFormat.h>
#include <Poco/DateTimeFormatter.h>
#include <Poco/JSON/Array.h>
#include <Poco/Timestamp.h>

#include <sstream>

#include "util/utf8.h"

namespace grid {
namespace {

using Poco::JSON::Array;
using Poco::JSON::Object;

Object::Ptr newObject() { return new Object(Poco::JSON_PRESERVE_KEY_ORDER); }

Poco::Dynamic::Var optionalTime(const std::optional<std::chrono::system_clock::time_point>& t) {
  return t ? Poco::Dynamic::Var(isoTime(*t)) : Poco::Dynamic::Var();
}

// Seconds as a whole number where they are whole; null for none (zero).
Poco::Dynamic::Var lifetimeSeconds(std::chrono::milliseconds d) {
  if (d.count() == 0) return Poco::Dynamic::Var();
  if (d.count() % 1000 == 0) return Poco::Dynamic::Var(static_cast<Poco::Int64>(d.count() / 1000));
  return Poco::Dynamic::Var(static_cast<double>(d.count()) / 1000.0);
}

}  // namespace

std::string isoTime(std::chrono::system_clock::time_point t) {
  const auto micros =
      std::chrono::duration_cast<std::chrono::microseconds>(t.time_since_epoch()).count();
  return Poco::DateTimeFormatter::format(Poco::Timestamp(micros), "%Y-%m-%dT%H:%M:%s%z");
}

std::string toJsonText(const Object::Ptr& object) {
  std::ostringstream out;
  object->stringify(out);
  return out.str();
}

Object::Ptr errorJson(const Error& error) {
  auto o = newObject();
  o->set("error", sanitizeUtf8(error.message));
  o->set("code", errorCodeToken(error.code));
  return o;
}

namespace {

void setExecResultFields(Object& o, const ExecResult& result) {
  o.set("output", sanitizeUtf8(result.output));
  if (result.has_split_streams) {
    o.set("stdout", sanitizeUtf8(result.stdout_text));
    o.set("stderr", sanitizeUtf8(result.stderr_text));
  }
  o.set("exit_code", result.exit_code);
  o.set("exited", result.exited);
  o.set("timed_out", result.timed_out);
  o.set("truncated", result.truncated);
  if (result.session_restarted) o.set("session_restarted", true);
  if (result.interrupted) o.set("interrupted", true);
  o.set("duration_ms", result.duration_ms);
}

}  // namespace

Object::Ptr execResultEventJson(const ExecResult& result) {
  auto o = newObject();
  o->set("type", "result");
  setExecResultFields(*o, result);
  return o;
}

Object::Ptr execResultJson(const ExecResult& result) {
  auto o = newObject();
  setExecResultFields(*o, result);
  return o;
}

Object::Ptr sandboxJson(const SandboxSnapshot& s) {
  auto o = newObject();
  o->set("id", s.spec.id);
  o->set("image", s.spec.image);
  o->set("status", statusName(s.status));
  o->set("backend", s.backend);
  Array::Ptr setup = new Array;
  for (const auto& command : s.setup_commands) setup->add(sanitizeUtf8(command));
  o->set("setup_commands", setup);
  auto limits = newObject();
  if (s.spec.limits.cpus > 0) limits->set("cpus", s.spec.limits.cpus);
  if (s.spec.limits.memory_mb > 0) limits->set("memory_mb", s.spec.limits.memory_mb);
  if (s.spec.limits.pids > 0) limits->set("pids", s.spec.limits.pids);
  o->set("limits", limits);
  o->set("network", s.spec.network);
  o->set("isolation", std::string(isolationName(s.spec.isolation)));
  auto labels = newObject();
  for (const auto& [k, v] : s.spec.labels) labels->set(sanitizeUtf8(k), sanitizeUtf8(v));
  o->set("labels", labels);
  o->set("created_at", isoTime(s.created_at));
  o->set("started_at",
         s.started_at ? Poco::Dynamic::Var(isoTime(*s.started_at)) : Poco::Dynamic::Var());
  o->set("stopped_at",
         s.stopped_at ? Poco::Dynamic::Var(isoTime(*s.stopped_at)) : Poco::Dynamic::Var());
  o->set("paused_at",
         s.paused_at ? Poco::Dynamic::Var(isoTime(*s.paused_at)) : Poco::Dynamic::Var());
  o->set("command_count", static_cast<Poco::UInt64>(s.command_count));
  // Deprecated (removed in 0.3.0): the same count as command_count, standalone execs included,
  // under a name that suggests session commands only.
  o->set("session_command_count", static_cast<Poco::UInt64>(s.command_count));
  if (s.last_exit_code) o->set("last_exit_code", *s.last_exit_code);
  if (s.session_exit_code) o->set("session_exit_code", *s.session_exit_code);
  if (!s.error.empty()) o->set("error", sanitizeUtf8(s.error));
  // Lifetimes (docs/lifetimes.md).
  o->set("ttl_seconds", lifetimeSeconds(s.lifetime.ttl));
  o->set("idle_timeout_seconds", lifetimeSeconds(s.lifetime.idle_timeout));
  o->set("expiry_action", std::string(expiryActionName(s.lifetime.action)));
  o->set("expires_at", optionalTime(s.expires_at));
  o->set("end_reason",
         s.end_reason ? Poco::Dynamic::Var(std::string(endReasonName(*s.end_reason)))
                      : Poco::Dynamic::Var());
  o->set("ended_at", optionalTime(s.ended_at));
  // The warm pool it was taken from (docs/pools.md); null for a cold start.
  o->set("pool", s.pool.empty() ? Poco::Dynamic::Var() : Poco::Dynamic::Var(s.pool));
  return o;
}

Object::Ptr trajectoryJson(const SandboxSnapshot& sandbox,
                           const std::vector<TrajectoryEntry>& entries) {
  auto o = newObject();
  o->set("sandbox_id", sandbox.spec.id);
  o->set("command_count", static_cast<Poco::UInt64>(sandbox.command_count));
  Array::Ptr list = new Array;
  const auto origin = sandbox.started_at.value_or(sandbox.created_at);
  for (size_t i = 0; i < entries.size(); ++i) {
    const auto& e = entries[i];
    auto item = newObject();
    item->set("index", static_cast<Poco::UInt64>(i));
    item->set("kind", trajectoryKindName(e.kind));
    item->set("command", sanitizeUtf8(e.command));
    item->set("standalone", e.standalone);
    item->set("timestamp", std::chrono::duration<double>(e.at - origin).count());
    item->set("at", isoTime(e.at));
    item->set("output", sanitizeUtf8(e.result.output));
    if (e.output_dropped) item->set("output_dropped", true);
    item->set("exit_code", e.result.exit_code);
    item->set("result", execResultJson(e.result));
    list->add(item);
  }
  o->set("trajectory", list);
  return o;
}

std::string formattedTrajectory(const std::vector<TrajectoryEntry>& entries) {
  std::string text;
  for (const auto& e : entries) {
    if (e.kind != TrajectoryKind::kExec) {
      text += "# " + sanitizeUtf8(e.command) + '\n';
      continue;
    }
    text += e.standalone ? "$ [standalone] " : "$ ";
    text += sanitizeUtf8(e.command);
    text += '\n';
    const std::string output = sanitizeUtf8(e.result.output);
    text += output;
    if (!output.empty() && output.back() != '\n') text += '\n';
    if (e.result.timed_out) text += "[timed out]\n";
    if (e.result.interrupted) text += "[interrupted: the live-output client went away]\n";
    if (e.result.exit_code != 0) text += "[exit code " + std::to_string(e.result.exit_code) + "]\n";
  }
  return text;
}

}  // namespace grid
