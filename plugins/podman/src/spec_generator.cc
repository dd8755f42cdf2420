#include "spec_generator.h"

#include <Poco/JSON/Array.h>

#include <cstdint>
#include <cstdio>

#include "grid/engine/container_conventions.h"

namespace grid::podman {

Poco::JSON::Object::Ptr buildSpecGenerator(const std::string& instance, const SandboxSpec& spec) {
  Poco::JSON::Object::Ptr body = new Poco::JSON::Object;
  body->set("name", engine::containerName(instance, spec.id));
  body->set("image", spec.image);
  // The sandbox only hosts execs; with an entrypoint given, the image's command is not used.
  Poco::JSON::Array::Ptr entrypoint = new Poco::JSON::Array;
  for (const auto& arg : engine::keepAliveCommand()) entrypoint->add(arg);
  body->set("entrypoint", entrypoint);
  body->set("terminal", false);
  body->set("stdin", false);

  Poco::JSON::Object::Ptr env = new Poco::JSON::Object;
  for (const auto& [key, value] : spec.env) env->set(key, value);
  body->set("env", env);

  Poco::JSON::Object::Ptr labels = new Poco::JSON::Object;
  for (const auto& [key, value] : engine::containerLabels(instance, spec)) labels->set(key, value);
  body->set("labels", labels);

  // Without netns Podman picks its default (bridge when rootful, slirp4netns when rootless).
  if (!spec.network) {
    Poco::JSON::Object::Ptr netns = new Poco::JSON::Object;
    netns->set("nsmode", std::string("none"));
    body->set("netns", netns);
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
