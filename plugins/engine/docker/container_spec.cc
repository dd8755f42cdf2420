#include "container_spec.h"

#include <Poco/JSON/Array.h>

#include <cstdint>

#include "grid/engine/container_conventions.h"

namespace grid::docker {

Poco::JSON::Object::Ptr buildCreateBody(const std::string& instance, const SandboxSpec& spec,
                                        const std::string& runtime) {
  Poco::JSON::Object::Ptr body = new Poco::JSON::Object;
  body->set("Image", spec.image);
  // The sandbox hosts execs and, attached, the initial process; with an Entrypoint given, the
  // image's Cmd is not used.
  Poco::JSON::Array::Ptr entrypoint = new Poco::JSON::Array;
  for (const auto& arg : engine::containerCommand(spec)) entrypoint->add(arg);
  body->set("Entrypoint", entrypoint);
  body->set("Cmd", Poco::JSON::Array::Ptr(new Poco::JSON::Array));
  body->set("Tty", false);
  const bool attached = engine::runsInitialProcess(spec);
  body->set("OpenStdin", attached);
  // The first attached client closing its stdin closes the process's, as for an exec.
  body->set("StdinOnce", attached);
  body->set("AttachStdin", attached);
  body->set("AttachStdout", attached);
  body->set("AttachStderr", attached);

  Poco::JSON::Array::Ptr env = new Poco::JSON::Array;
  for (const auto& [key, value] : spec.env) env->add(key + "=" + value);
  body->set("Env", env);

  Poco::JSON::Object::Ptr labels = new Poco::JSON::Object;
  for (const auto& [key, value] : engine::containerLabels(instance, spec)) labels->set(key, value);
  body->set("Labels", labels);

  Poco::JSON::Object::Ptr host = new Poco::JSON::Object;
  if (!spec.network) host->set("NetworkMode", std::string("none"));
  if (spec.network && !spec.nameservers.empty()) {
    Poco::JSON::Array::Ptr dns = new Poco::JSON::Array;
    for (const auto& server : spec.nameservers) dns->add(server);
    host->set("Dns", dns);
  }
  if (spec.limits.memory_mb > 0) {
    const std::int64_t bytes = engine::memoryLimitBytes(spec.limits.memory_mb);
    host->set("Memory", bytes);
    host->set("MemorySwap", bytes);  // equal to Memory: no swap beyond the limit
  }
  if (spec.limits.cpus > 0) host->set("NanoCpus", engine::nanoCpus(spec.limits.cpus));
  if (spec.limits.pids > 0) host->set("PidsLimit", static_cast<std::int64_t>(spec.limits.pids));
  Poco::JSON::Array::Ptr security = new Poco::JSON::Array;
  security->add(std::string("no-new-privileges"));
  host->set("SecurityOpt", security);
  host->set("Privileged", false);
  if (!runtime.empty()) host->set("Runtime", runtime);
  if (attached) {
    // The session's output is the tenant's and goes only to Grid: no log file of it.
    Poco::JSON::Object::Ptr log = new Poco::JSON::Object;
    log->set("Type", std::string("none"));
    host->set("LogConfig", log);
  }
  body->set("HostConfig", host);
  return body;
}

PullTarget pullTarget(const std::string& image) {
  if (image.find('@') != std::string::npos) return PullTarget{image, ""};
  // A colon after the last slash separates the tag; one before it is a registry port.
  const std::size_t slash = image.rfind('/');
  const std::size_t colon = image.rfind(':');
  if (colon != std::string::npos && (slash == std::string::npos || colon > slash)) {
    return PullTarget{image.substr(0, colon), image.substr(colon + 1)};
  }
  return PullTarget{image, "latest"};
}

void applySeccomp(Poco::JSON::Object& body, seccomp::SeccompMode mode,
                  const std::string& profile_json) {
  if (mode == seccomp::SeccompMode::kEngineDefault) return;
  Poco::JSON::Object::Ptr host = body.getObject("HostConfig");
  if (!host) {
    host = new Poco::JSON::Object;
    body.set("HostConfig", host);
  }
  Poco::JSON::Array::Ptr security = host->getArray("SecurityOpt");
  if (!security) {
    security = new Poco::JSON::Array;
    host->set("SecurityOpt", security);
  }
  security->add("seccomp=" +
                (mode == seccomp::SeccompMode::kGrid ? profile_json : std::string("unconfined")));
}

}  // namespace grid::docker
