// What every engine backend (Docker, Podman) agrees on, as pure functions: how a sandbox's
// container is named and labelled, which names and image references are accepted, how
// resource limits convert to engine units, and how shared settings are parsed. No I/O.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "grid/result.h"
#include "grid/sandbox_backend.h"

namespace grid::engine {

inline constexpr char kManagedByLabel[] = "grid.managed-by";
inline constexpr char kManagedByValue[] = "grid";
inline constexpr char kInstanceLabel[] = "grid.instance";
inline constexpr char kSandboxIdLabel[] = "grid.sandbox-id";

/// "grid-<instance>-<sandbox id>": containers are addressed by this name, so backends keep
/// no id map.
std::string containerName(const std::string& instance, const std::string& sandbox_id);

/// The spec's user labels plus Grid's own (which win over user labels of the same key).
std::map<std::string, std::string> containerLabels(const std::string& instance,
                                                   const SandboxSpec& spec);

/// The `filters` query value selecting this instance's containers, {"label": [...]}, as both
/// the Docker and the libpod list endpoints take it (URL-encode it).
std::string leftoverFilter(const std::string& instance);

/// True for a name part engines accept in a container name ([a-zA-Z0-9][a-zA-Z0-9_.-]*).
bool isValidNamePart(const std::string& text);

/// True for an id Grid hands out ([a-z0-9-]+); anything else was never created.
bool isValidSandboxId(const std::string& id);

/// True if `image` only holds characters of image references. Images go into URL paths
/// unescaped (the engines route /images/{name:.*}/...), so nothing else may pass.
bool isPlausibleImageReference(const std::string& image);

/// kInvalidArgument unless `instance` can be part of a container name. `product` prefixes the
/// message ("docker").
Result<void> checkInstanceName(const std::string& product, const std::string& instance);

/// kInvalidArgument unless the spec's id and image reference pass the checks above.
Result<void> checkSandboxSpec(const std::string& product, const SandboxSpec& spec);

/// The container's PID 1 in place of the image's entrypoint: a shell that idles forever and, as
/// the init of the sandbox's PID namespace, reaps every orphan the agent leaves behind. Nothing
/// inside can stop it: `kill -9 -1` spares PID 1, and the loop restarts its `sleep`. (An
/// engine-provided init in front of `sleep infinity` exits once its only child is killed,
/// taking the container with it.) Needs /bin/sh in the image.
std::vector<std::string> keepAliveCommand();

/// Whether the sandbox's container runs spec.initial_process itself (attached, instead of an
/// exec after start): set, without a terminal, and not on gVisor.
bool runsInitialProcess(const SandboxSpec& spec);

/// The line the container's first process prints on its stderr when the initial process has
/// ended, before `:STATUS`: the attached stream then counts as ended (initial_process.h).
std::string initialProcessEndMarker(const std::string& sandbox_id);

/// The container's command: keepAliveCommand(), or with runsInitialProcess() a /bin/sh that
/// runs the initial process first (in a session of its own, with setsid where the image has
/// it, so that it leads its process group as an exec'd process does), prints the end marker
/// with its status, closes its stdio and then keeps the container alive as keepAliveCommand()
/// does: the sandbox outlives its session shell, which the core may replace by an exec.
std::vector<std::string> containerCommand(const SandboxSpec& spec);

/// Memory limit in bytes for `memory_mb` MiB.
std::int64_t memoryLimitBytes(std::int64_t memory_mb);

/// Docker's NanoCpus for `cpus` cores.
std::int64_t nanoCpus(double cpus);

/// CFS period Grid uses when an engine takes quota/period instead of NanoCpus.
inline constexpr std::int64_t kCpuPeriodMicros = 100'000;

/// CFS quota in microseconds per kCpuPeriodMicros for `cpus` cores.
std::int64_t cpuQuotaMicros(double cpus);

/// The kImageNotFound error every backend reports: "image 'x' is not present locally and
/// could not be pulled: <why>".
Error imageNotFound(const std::string& image, const std::string& why);

/// `error` with `hint` (how to start the engine) appended when it is kUnavailable.
Error withStartHint(Error error, const std::string& hint);

/// The first {"error": ...} of a pull answer's JSON lines; engines report pull failures that
/// way inside a 200 answer. Empty if there is none.
std::string pullStreamError(const std::string& body);

/// The engine runtime a sandbox of `spec` runs on: empty for Isolation::kDefault (the
/// engine's default runtime), `gvisor_runtime` for Isolation::kGvisor.
std::string engineRuntimeFor(const SandboxSpec& spec, const std::string& gvisor_runtime);

/// Whether the engine's GET /info answer `info_body` lists `runtime` in its "Runtimes" object
/// (Docker, and Podman's compat endpoint, which lists containers.conf [engine.runtimes]).
/// kUnsupported naming the runtime and `register_hint` (how to register it) when it does not;
/// kInternal for an answer that is not such an object.
Result<void> checkRuntimeListed(const std::string& product, const std::string& info_body,
                                const std::string& runtime, const std::string& register_hint);

/// What every engine backend reads from its [backend.NAME] section.
struct EngineSettings {
  std::string socket;                        // absolute path of the API socket
  std::chrono::seconds pull_timeout{300};    // bound of one image pull
  std::string gvisor_runtime = "runsc";      // engine runtime of isolation = gvisor sandboxes
  std::map<std::string, std::string> extra;  // the backend's own keys, unparsed
};

/// Parses `settings` of section [backend.<product>]: socket (default `default_socket`),
/// pull_timeout, gvisor_runtime, and the keys in `extra_keys`, which are left in `extra` for the
/// backend. Bad values and unknown keys are kInvalidArgument naming the known ones.
Result<EngineSettings> parseEngineSettings(const std::string& product,
                                           const std::map<std::string, std::string>& settings,
                                           std::string default_socket,
                                           const std::vector<std::string>& extra_keys = {});

/// A `socket` setting: an absolute path, optionally written as unix:///path.
/// `section` names the config section in messages, e.g. "[backend.docker]".
Result<std::string> parseSocketSetting(const std::string& section, const std::string& value);

/// A positive whole number of seconds (`pull_timeout`).
Result<std::chrono::seconds> parseSecondsSetting(const std::string& section, const std::string& key,
                                                 const std::string& value);

/// CPU and memory from an engine's one-shot container stats answer (GET
/// /containers/NAME/stats?stream=false): cpu_stats.cpu_usage.total_usage (ns) and
/// memory_stats.usage less its inactive file cache, as `docker stats` shows it. A field the
/// engine leaves out (or zeroes, as for a stopped container) stays nullopt. Not JSON:
/// kInternal naming the product.
Result<SandboxStats> parseContainerStats(const std::string& product, const std::string& body);

/// What of a container inspect answer (GET /containers/NAME/json) locates its processes.
struct ContainerProcess {
  std::string id;   // the full container id
  int64_t pid = 0;  // State.Pid: its first process on the engine's host, 0 if not running
};

/// Id and State.Pid from a container inspect answer; not JSON or without an Id: kInternal.
Result<ContainerProcess> parseContainerProcess(const std::string& product, const std::string& body);

}  // namespace grid::engine
