#include "spec_generator.h"

#include <Poco/JSON/Array.h>

#include <cstdint>
#include <cstdio>

#include "grid/engine/container_conventions.h"
#include "grid/engine/engine_client.h"

namespace grid::podman {

Poco::JSON::Object::Ptr buildSpecGenerator(const std::string& instance, const SandboxSpec& spec,
                                           const std::string& runtime) {
  Poco::JSON::Object::Ptr body = new Poco::JSON::Object;
  body->set("name", engine::containerName(instance, spec.id));
  body->set("image", spec.image);
  // The sandbox hosts execs and, attached, the initial process; with an entrypoint given, the
  // image's command is not used.
  Poco::JSON::Array::Ptr entrypoint = new Poco::JSON::Array;
  for (const auto& arg : engine::containerCommand(spec)) entrypoint->add(arg);
  body->set("entrypoint", entrypoint);
  body->set("terminal", false);
  const bool attached = engine::runsInitialProcess(spec);
  body->set("stdin", attached);
  if (attached) {
    // The session's output is the tenant's and goes only to Grid: no log file of it.
    Poco::JSON::Object::Ptr log = new Poco::JSON::Object;
    log->set("driver", std::string("none"));
    body->set("log_configuration", log);
  }

  Poco::JSON::Object::Ptr env = new Poco::JSON::Object;
  for (const auto& [key, value] : spec.env) env->set(key, value);
  body->set("env", env);

  Poco::JSON::Object::Ptr labels = new Poco::JSON::Object;
  for (const auto& [key, value] : engine::containerLabels(instance, spec)) labels->set(key, value);
  if (spec.isolation == Isolation::kGvisor) labels->set(kIsolationLabel, std::string("gvisor"));
  body->set("labels", labels);

  // Without netns Podman picks its default (bridge when rootful, slirp4netns when rootless).
  if (!spec.network) {
    Poco::JSON::Object::Ptr netns = new Poco::JSON::Object;
    netns->set("nsmode", std::string("none"));
    body->set("netns", netns);
  } else if (!spec.nameservers.empty()) {
    Poco::JSON::Array::Ptr dns = new Poco::JSON::Array;
    for (const auto& server : spec.nameservers) dns->add(server);
    body->set("dns_server", dns);
  }

  Poco::JSON::Object::Ptr limits = new Poco::JSON::Object;
  if (spec.limits.memory_mb > 0) {
    const std::int64_t bytes = engine::memoryLimitBytes(spec.limits.memory_mb);
    Poco::JSON::Object::Ptr memory = new Poco::JSON::Object;
    memory->set("limit", bytes);
    memory->set("swap", bytes);  // OCI swap is memory+swap: equal means no swap beyond the limit
    limits->set("memory", memory);
  }
  if (spec.limits.cpus > 0) {
    Poco::JSON::Object::Ptr cpu = new Poco::JSON::Object;
    cpu->set("quota", engine::cpuQuotaMicros(spec.limits.cpus));
    cpu->set("period", engine::kCpuPeriodMicros);
    limits->set("cpu", cpu);
  }
  if (spec.limits.pids > 0) {
    Poco::JSON::Object::Ptr pids = new Poco::JSON::Object;
    pids->set("limit", static_cast<std::int64_t>(spec.limits.pids));
    limits->set("pids", pids);
  }
  if (limits->size() > 0) body->set("resource_limits", limits);

  body->set("no_new_privileges", true);
  body->set("privileged", false);
  if (!runtime.empty()) body->set("oci_runtime", runtime);
  return body;
}

namespace {

std::string userRuntimeDir(uid_t uid, const char* xdg_runtime_dir) {
  return xdg_runtime_dir != nullptr && xdg_runtime_dir[0] == '/'
             ? std::string(xdg_runtime_dir)
             : "/run/user/" + std::to_string(uid);
}

}  // namespace

std::string defaultSocketPath(uid_t uid, const char* xdg_runtime_dir) {
  if (uid == 0) return "/run/podman/podman.sock";
  return userRuntimeDir(uid, xdg_runtime_dir) + "/podman/podman.sock";
}

std::string defaultGvisorSocketPath(uid_t uid, const char* xdg_runtime_dir) {
  if (uid == 0) return "/run/podman/podman-gvisor.sock";
  return userRuntimeDir(uid, xdg_runtime_dir) + "/podman/podman-gvisor.sock";
}

std::string gvisorLeftoverFilter(const std::string& instance) {
  Poco::JSON::Array::Ptr labels = new Poco::JSON::Array;
  labels->add(std::string(engine::kManagedByLabel) + "=" + engine::kManagedByValue);
  labels->add(std::string(engine::kInstanceLabel) + "=" + instance);
  labels->add(std::string(kIsolationLabel) + "=gvisor");
  Poco::JSON::Object::Ptr filter = new Poco::JSON::Object;
  filter->set("label", labels);
  return engine::toJson(filter);
}

Result<void> checkGvisorServiceRuntime(const std::string& info_body, const std::string& runtime,
                                       const std::string& socket) {
  std::string used;
  if (auto info = engine::parseJsonObject(info_body)) {
    if (Poco::JSON::Object::Ptr host = info->getObject("host")) {
      if (Poco::JSON::Object::Ptr oci = host->getObject("ociRuntime")) {
        used = oci->optValue<std::string>("name", "");
      }
    }
  }
  if (used.empty()) {
    return fail(ErrorCode::kInternal, "podman: GET /libpod/info at unix://" + socket +
                                          ": no host.ociRuntime.name in the answer");
  }
  if (used != runtime) {
    return fail(ErrorCode::kUnsupported,
                "podman: isolation 'gvisor' is unsupported: the gVisor Podman service at unix://" +
                    socket + " runs containers on '" + used + "', not '" + runtime +
                    "'; start it with CONTAINERS_CONF pointing at a containers.conf whose "
                    "[engine] runtime = \"" +
                    runtime + "\" (ci/containers-gvisor.conf, as scripts/start-engines.sh does)");
  }
  return {};
}

void applySeccomp(Poco::JSON::Object& body, seccomp::SeccompMode mode,
                  const std::string& profile_path) {
  if (mode == seccomp::SeccompMode::kEngineDefault) return;
  body.set("seccomp_profile_path",
           mode == seccomp::SeccompMode::kGrid ? profile_path : std::string("unconfined"));
}

std::string seccompProfilePath(uid_t uid, const char* xdg_runtime_dir,
                               const std::string& profile_json) {
  // FNV-1a: stable across builds and runs, unlike std::hash.
  std::uint64_t hash = 0xcbf29ce484222325ULL;
  for (unsigned char c : profile_json) hash = (hash ^ c) * 0x100000001b3ULL;
  char hex[17];
  std::snprintf(hex, sizeof hex, "%016llx", static_cast<unsigned long long>(hash));
  const std::string dir = uid == 0 ? "/run/grid" : userRuntimeDir(uid, xdg_runtime_dir) + "/grid";
  return dir + "/seccomp-" + hex + ".json";
}

}  // namespace grid::podman
