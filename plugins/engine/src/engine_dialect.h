// EngineDialect: what one Docker-compatible engine (Docker, Podman) does differently, as data
// and small functions. EngineBackend holds everything the engines share once and asks its
// dialect for the rest: API paths, the create body, how seccomp and gVisor reach the engine.
// The pure parts are unit-tested without an engine; a new engine is a new dialect
// (plugins/engine/README.md).
#pragma once

#include <Poco/JSON/Object.h>

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "grid/engine/engine_client.h"
#include "grid/result.h"
#include "grid/sandbox_backend.h"
#include "grid/seccomp/policy.h"

namespace grid::engine {

struct EngineBackendSettings;

/// A dialect that runs isolation = gvisor sandboxes on a second service of its own, whose
/// default runtime is gVisor's (Podman 4.3 ignores a per-container runtime over its API).
/// Sandboxes, execs and leftovers of that isolation then go through that service.
struct GvisorServiceDialect {
  std::string display_name;  // "gVisor Podman service"
  /// Whether the service answers and runs settings.gvisor_runtime; kUnsupported saying how to
  /// start it otherwise.
  std::function<Result<void>(EngineClient& service, const EngineBackendSettings& settings)> check;
  /// The `filters` value selecting an instance's containers of that service (not URL-encoded).
  std::function<std::string(const std::string& instance)> leftover_filter;
};

struct EngineDialect {
  std::string name;          // "docker": the registered name, [backend.NAME], message prefix
  std::string display_name;  // "Docker Engine": whom "cannot reach ..." names

  // [backend.NAME]: socket, pull_timeout and gvisor_runtime are common; `extra_keys` are the
  // dialect's own, in the order messages list them. The backend parses "seccomp";
  // `parse_extra` (optional) the others, into `settings`.
  std::function<std::string()> default_socket;
  std::vector<std::string> extra_keys;
  std::function<Result<void>(const std::map<std::string, std::string>& extra,
                             EngineBackendSettings& settings)>
      parse_extra;

  /// Sets the client's API version and checks that the engine answers as this dialect's
  /// engine (logging what it found); kUnavailable with a hint on how to start it otherwise.
  std::function<Result<void>(EngineClient& client, const EngineBackendSettings& settings)> connect;

  // API paths. `filter` is a `filters` query value (not URL-encoded yet).
  std::function<std::string(const std::string& filter)> list_path;          // GET
  std::function<std::string(const std::string& container)> create_path;     // POST
  std::function<std::string(const std::string& container)> start_path;      // POST
  std::function<std::string(const std::string& name_or_id)> remove_path;    // DELETE, forced
  std::function<std::string(const std::string& container)> pause_path;      // POST
  std::function<std::string(const std::string& container)> unpause_path;    // POST
  std::function<std::string(const std::string& image)> image_present_path;  // GET: 2xx or 404
  std::function<std::string(const std::string& image)> pull_path;           // POST

  /// POST: commits the container's file system as an image, the engine pausing the container
  /// for that instant; an empty `repo` makes an untagged image. The answer's "Id" names it.
  std::function<std::string(const std::string& container, const std::string& repo,
                            const std::string& tag)>
      commit_path;
  /// GET: an image's description (its "Id"); 404 when absent.
  std::function<std::string(const std::string& image)> image_inspect_path;
  /// DELETE: removes an image that no container uses (not forced: one in use is a 409).
  std::function<std::string(const std::string& image)> image_remove_path;
  /// GET: images that no tag names (`filter`, not URL-encoded, adds label conditions).
  std::function<std::string(const std::string& filter)> dangling_images_path;

  /// The container's archive endpoint (HEAD, GET, PUT; archive_ops.h) and the query a PUT adds
  /// so that written files are owned as the session's writes are (the container's user).
  std::function<std::string(const std::string& container)> archive_path;
  std::string archive_put_query;
  /// The engine archives and stats a symlink's target instead of the link itself, and answers
  /// 404 for a dangling one (Podman 4.3): symlinks then go through the core's defaults.
  bool archive_follows_symlinks = false;

  /// The create body of a sandbox's container; a non-empty `runtime` (engineRuntimeFor()) is
  /// the engine runtime to run it on.
  std::function<Poco::JSON::Object::Ptr(const std::string& instance, const SandboxSpec& spec,
                                        const std::string& runtime)>
      create_body;

  /// Adds the seccomp choice to a create body. `profile` is the profile's JSON itself, or
  /// the path of the file holding it when `seccomp_profile_file` is set.
  std::function<void(Poco::JSON::Object& body, seccomp::SeccompMode mode,
                     const std::string& profile)>
      apply_seccomp;
  /// Set for an engine that reads the profile only from a file on its host (Podman 4): where
  /// that file goes. The backend writes it before each create of a kGrid sandbox.
  std::function<std::string(const std::string& profile_json)> seccomp_profile_file;

  /// How to register the gVisor runtime with the engine, for dialects that take a runtime per
  /// container (checked against GET /info). Unused with `gvisor_service`.
  std::string runtime_register_hint;
  std::optional<GvisorServiceDialect> gvisor_service;
};

}  // namespace grid::engine
