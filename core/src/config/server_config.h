// The typed configuration of `grid serve`, resolved from built-in defaults < grid.ini <
// GRID_* environment < command-line flags, and validated before anything starts.
#pragma once

#include <chrono>
#include <cstddef>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "config/pool_config.h"
#include "grid/result.h"
#include "grid/sandbox_backend.h"
#include "network/egress_policy.h"

namespace grid {

struct ServerConfig {
  // top level
  std::string backend = "local-namespace";
  std::string instance = "grid";  // names this server's sandboxes for leftover cleanup
  std::string log_level = "info";
  std::string plugin_dir;       // empty: <dir of grid>/../lib/grid/plugins
  std::string auth_token;       // empty: no authentication (loopback only)
  std::string auth_token_file;  // read at load; its first line is the token
  // [server]
  std::string bind = "127.0.0.1";
  int port = 3000;
  size_t max_running_sandboxes = 10;
  size_t max_sandbox_records = 1000;  // records of any state, created ones included
  std::chrono::seconds start_wait_timeout{600};
  size_t max_threads = 0;  // 0: derived from max_running_sandboxes
  size_t max_body_bytes = 1 << 20;
  size_t max_json_depth = 16;
  bool insecure = false;  // allow a non-loopback bind without a token
  // [exec]
  std::chrono::milliseconds default_exec_timeout{30000};
  std::chrono::milliseconds max_exec_timeout{3600000};
  size_t max_output_bytes = 1 << 20;
  size_t max_command_bytes = 256 << 10;
  size_t max_trajectory_bytes = 64 << 20;
  // [processes]
  size_t max_processes_per_sandbox = 32;
  size_t max_process_output_bytes = 1 << 20;
  size_t max_terminals_per_sandbox = 4;  // [terminal]: open GET /sandboxes/{id}/pty each
  uint64_t max_file_bytes = 8ULL << 30;  // [files]: largest upload
  size_t max_list_entries = 10000;
  std::chrono::milliseconds file_timeout{3600000};  // one file operation, transfer included
  // [sandbox]
  std::string default_image;  // empty: the backend's default (see defaultImageFor)
  ResourceLimits default_limits{0, 4096, 2048};       // cpus unlimited, 4 GiB, 2048 processes
  Isolation default_isolation = Isolation::kDefault;  // of a create request that names none
  // [lifetimes] (docs/lifetimes.md): zero durations mean none
  std::chrono::milliseconds default_ttl{0};
  std::chrono::milliseconds default_idle_timeout{0};
  std::string default_expiry_action = "stop";  // stop | pause
  std::chrono::milliseconds max_ttl{0};         // no sandbox lives longer; 0: no bound
  // [metrics]
  std::string metrics_bind;  // host:port of a metrics-only listener (no token); empty: none
  // [ui]
  std::string ui_dir;  // the dashboard's files; empty: <dir of grid>/../share/grid/ui
  // [network] (docs/networking.md): the default egress policy, Grid's resolver
  EgressPolicy network_default_policy;     // allow / deny: comma-separated rules
  std::vector<std::string> upstream_dns;   // empty: the host's /etc/resolv.conf
  std::chrono::seconds dns_ttl_floor{30};  // a resolved address stays reachable this long at least
  size_t max_egress_rules = 256;           // allow + deny of one sandbox's policy
  std::string nft_binary = "/usr/sbin/nft";
  // [backend.NAME] sections, keys without the prefix
  std::map<std::string, std::map<std::string, std::string>> backend_settings;
  // [pool.NAME] sections: warm pools (docs/pools.md)
  std::vector<PoolConfig> pools;
  // Deprecated names the sources used, one sentence each, for `grid serve` to log at start-up.
  std::vector<std::string> warnings;

  size_t httpThreads() const;
  std::string defaultImage() const;
  /// Everything in [backend.NAME], core keys included.
  const std::map<std::string, std::string>& settingsOf(const std::string& backend_name) const;
  /// [backend.NAME] without the keys the core itself reads there (plugin, default_image,
  /// test_image): what the backend's init() receives.
  std::map<std::string, std::string> backendOwnSettings(const std::string& backend_name) const;
  /// The plugin file for the backend (see pluginPathFor).
  std::string pluginPath(const std::string& backend_name) const;
};

/// Where configuration comes from. `environment` is passed in so tests need not touch the
/// process's own.
struct ConfigSources {
  std::optional<std::string> file;  // --config; else ./grid.ini, else /etc/grid/grid.ini
  std::map<std::string, std::string> environment;
  std::map<std::string, std::string> flags;  // keys as in grid.ini, e.g. "server.port"
};

/// A key renamed in `since`: the old name is still read, with a warning, until `removed_in`.
struct RenamedKey {
  const char* old_key;
  const char* new_key;
  const char* since;
  const char* removed_in;
};

/// Every renamed key (the README's "Deprecated names" lists the same).
inline constexpr RenamedKey kRenamedKeys[] = {
    {"server.max_sandboxes", "server.max_sandbox_records", "0.2.0", "0.3.0"},
};

/// The environment variable for a key: "server.port" -> GRID_SERVER_PORT,
/// "backend.local-namespace.images_dir" -> GRID_BACKEND_LOCAL_NAMESPACE_IMAGES_DIR.
std::string environmentNameFor(const std::string& key);

Result<ServerConfig> loadServerConfig(const ConfigSources& sources);

/// The process environment as a map.
std::map<std::string, std::string> processEnvironment();

}  // namespace grid
