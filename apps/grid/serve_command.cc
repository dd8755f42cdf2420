// `grid serve`: load the configured backend plugin, clean up after an earlier run, serve the
// API until SIGINT/SIGTERM, then remove every sandbox before exiting.
#include <spdlog/spdlog.h>
#include <sys/resource.h>
#include <unistd.h>

#include <csignal>
#include <iostream>
#include <memory>

#include "api/api_server.h"
#include "api/metrics_server.h"
#include "commands.h"
#include "config/server_config.h"
#include "network/egress_controller.h"
#include "plugin/plugin_loader.h"
#include "sandbox/sandbox_manager.h"

namespace grid::cli {
namespace {

struct ServeFlags {
  std::string config_file;
  std::map<std::string, std::string> overrides;
  int port = -1;
  std::string bind;
  int max_running_sandboxes = -1;  // --max-sandboxes
  std::string backend;
  std::string log_level;
  std::string instance;
  bool insecure = false;
};

bool isLoopback(const std::string& address) {
  return address == "localhost" || address == "::1" || address.rfind("127.", 0) == 0;
}

int fatal(const std::string& message) {
  std::cerr << "grid serve: " << message << "\n";
  return 1;
}

// Every client connection is a descriptor, and so is every sandbox's session: the usual soft
// limit of 1024 would cap a busy server long before the hard limit does.
void raiseDescriptorLimit() {
  rlimit limit{};
  if (::getrlimit(RLIMIT_NOFILE, &limit) != 0 || limit.rlim_cur >= limit.rlim_max) return;
  limit.rlim_cur = limit.rlim_max;
  if (::setrlimit(RLIMIT_NOFILE, &limit) != 0) {
    spdlog::warn("grid serve: cannot raise the open-files limit to {}", limit.rlim_max);
  }
}

// The dashboard's files: <dir of grid>/../share/grid/ui, both in the build tree (bin/grid,
// share/grid/ui) and in an installed prefix.
std::string defaultUiDir() {
  char buf[4096];
  const ssize_t n = ::readlink("/proc/self/exe", buf, sizeof buf - 1);
  if (n <= 0) return "";
  std::string exe(buf, static_cast<size_t>(n));
  const size_t slash = exe.rfind('/');
  if (slash == std::string::npos) return "";
  return exe.substr(0, slash) + "/../share/grid/ui";
}

int waitForTerminationSignal() {
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGQUIT);
  int received = 0;
  sigwait(&signals, &received);
  return received;
}

int runServe(const ServeFlags& flags) {
  ConfigSources sources;
  if (!flags.config_file.empty()) sources.file = flags.config_file;
  sources.environment = processEnvironment();
  if (flags.port >= 0) sources.flags["server.port"] = std::to_string(flags.port);
  if (!flags.bind.empty()) sources.flags["server.bind"] = flags.bind;
  if (flags.max_running_sandboxes >= 0) {
    sources.flags["server.max_running_sandboxes"] = std::to_string(flags.max_running_sandboxes);
  }
  if (!flags.backend.empty()) sources.flags["backend"] = flags.backend;
  if (!flags.log_level.empty()) sources.flags["log_level"] = flags.log_level;
  if (!flags.instance.empty()) sources.flags["instance"] = flags.instance;
  if (flags.insecure) sources.flags["server.insecure"] = "true";

  auto loaded = loadServerConfig(sources);
  if (!loaded.ok()) return fatal(loaded.error().message);
  const ServerConfig& config = loaded.value();
  spdlog::set_level(spdlog::level::from_str(config.log_level));
  for (const auto& warning : config.warnings) spdlog::warn("grid serve: {}", warning);
  if (!isLoopback(config.bind) && config.auth_token.empty()) {
    if (!config.insecure) {
      return fatal("refusing to listen on " + config.bind +
                   " without authentication: set "
                   "auth_token or auth_token_file in grid.ini (or GRID_AUTH_TOKEN), or pass "
                   "--insecure to serve the network unauthenticated");
    }
    spdlog::warn(
        "serving {} WITHOUT authentication (--insecure): anyone who can reach it can "
        "run commands in sandboxes",
        config.bind);
  }

  auto plugin = loadBackendPlugin(config.pluginPath(config.backend));
  if (!plugin.ok()) return fatal("backend '" + config.backend + "': " + plugin.error().message);
  std::unique_ptr<SandboxBackend> backend = std::move(plugin.value());
  if (auto ready =
          backend->init(BackendConfig{config.instance, config.backendOwnSettings(config.backend)});
      !ready.ok()) {
    return fatal("backend '" + config.backend + "': " + ready.error().message);
  }
  auto leftovers = backend->removeLeftovers();
  if (!leftovers.ok())
    return fatal("backend '" + config.backend +
                 "': removing leftovers: " + leftovers.error().message);
  for (const auto& id : leftovers.value()) {
    spdlog::warn("removed sandbox {} left behind by an earlier run of instance '{}'", id,
                 config.instance);
  }

  if (config.default_isolation != Isolation::kDefault) {
    // Fail at start-up, not at every create, when the configured default cannot be honoured.
    SandboxSpec probe;
    probe.image = config.defaultImage();
    probe.isolation = config.default_isolation;
    if (auto supported = backend->checkSpec(probe); !supported.ok()) {
      return fatal("[sandbox] isolation = " + std::string(isolationName(probe.isolation)) + ": " +
                   supported.error().message);
    }
  }

  // Egress rules and DNS of networked sandboxes (docs/networking.md); lives longer than the
  // manager, which detaches each sandbox as it ends.
  EgressOptions egress_options;
  egress_options.nft_binary = config.nft_binary;
  egress_options.default_policy = config.network_default_policy;
  egress_options.limits.max_rules = config.max_egress_rules;
  egress_options.upstream_dns = config.upstream_dns;
  egress_options.ttl_floor = config.dns_ttl_floor;
  auto egress = std::make_unique<EgressController>(*backend, egress_options);
  if (auto ready = egress->init(); !ready.ok()) {
    if (!config.network_default_policy.empty()) {
      return fatal("[network] allow/deny: " + ready.error().message);
    }
    spdlog::warn("egress: {}; networked sandboxes run without Grid's rules", ready.error().message);
  }

  ManagerOptions manager_options;
  manager_options.egress = egress.get();
  manager_options.backend_name = config.backend;
  manager_options.max_running_sandboxes = config.max_running_sandboxes;
  manager_options.max_sandbox_records = config.max_sandbox_records;
  manager_options.start_wait_timeout = config.start_wait_timeout;
  manager_options.default_image = config.defaultImage();
  manager_options.default_limits = config.default_limits;
  manager_options.default_isolation = config.default_isolation;
  manager_options.default_exec_timeout = config.default_exec_timeout;
  manager_options.max_exec_timeout = config.max_exec_timeout;
  manager_options.max_output_bytes = config.max_output_bytes;
  manager_options.max_trajectory_bytes = config.max_trajectory_bytes;
  manager_options.process_limits.max_processes = config.max_processes_per_sandbox;
  manager_options.process_limits.max_output_bytes = config.max_process_output_bytes;
  manager_options.lifetimes.ttl = config.default_ttl;
  manager_options.lifetimes.idle_timeout = config.default_idle_timeout;
  manager_options.lifetimes.action =
      expiryActionFromName(config.default_expiry_action).value_or(ExpiryAction::kStop);
  manager_options.lifetimes.max_ttl = config.max_ttl;
  for (const PoolConfig& pool : config.pools) {
    PoolDefinition definition{pool.name, pool.size, {}};
    definition.request.image = pool.image;
    if (pool.limits.cpus > 0 || pool.limits.memory_mb > 0 || pool.limits.pids > 0) {
      definition.request.limits = pool.limits;
    }
    definition.request.network = pool.network;
    definition.request.isolation = pool.isolation;
    definition.request.env = pool.env;
    manager_options.pools.push_back(std::move(definition));
  }
  auto manager = std::make_unique<SandboxManager>(*backend, manager_options);
  // Before the API listens: a pool whose image or spec the backend refuses stops start-up.
  if (auto filled = manager->startPools(); !filled.ok()) {
    manager->shutdown();
    return fatal("warm pools: " + filled.error().message);
  }
  if (!config.pools.empty()) {
    spdlog::info("warm pools: {} configured, first sandboxes ready", config.pools.size());
  }

  raiseDescriptorLimit();
  ApiServerOptions server_options;
  server_options.bind = config.bind;
  server_options.port = config.port;
  server_options.threads = config.httpThreads();
  server_options.max_body_bytes = config.max_body_bytes;
  server_options.max_terminals_per_sandbox = config.max_terminals_per_sandbox;
  server_options.max_file_bytes = config.max_file_bytes;
  server_options.max_list_entries = config.max_list_entries;
  server_options.file_timeout = config.file_timeout;
  server_options.request_limits.max_command_bytes = config.max_command_bytes;
  server_options.request_limits.max_json_depth = config.max_json_depth;
  server_options.request_limits.max_egress_rules = config.max_egress_rules;
  server_options.auth_token = config.auth_token;
  server_options.ui_dir = config.ui_dir.empty() ? defaultUiDir() : config.ui_dir;
  std::unique_ptr<MetricsServer> metrics_server;
  if (!config.metrics_bind.empty()) {
    auto address = parseHostPort(config.metrics_bind);
    if (!address.ok()) return fatal("[metrics] bind: " + address.error().message);
    metrics_server =
        std::make_unique<MetricsServer>(*manager, address.value().first, address.value().second);
  }
  ApiServer server(*manager, server_options);
  if (auto listening = server.start(); !listening.ok()) return fatal(listening.error().message);
  if (metrics_server) {
    if (auto listening = metrics_server->start(); !listening.ok()) {
      return fatal(listening.error().message);
    }
    spdlog::info("grid serve: metrics without a token on http://{}:{}/metrics",
                 config.metrics_bind.substr(0, config.metrics_bind.rfind(':')),
                 metrics_server->port());
  }
  spdlog::info(
      "grid serve: listening on http://{}:{} (backend {}, instance {}, max running {}, "
      "default image {}, default isolation {})",
      config.bind, server.port(), config.backend, config.instance, config.max_running_sandboxes,
      manager_options.default_image, isolationName(config.default_isolation));

  const int signal = waitForTerminationSignal();
  spdlog::info("grid serve: signal {} received; removing all sandboxes", signal);
  // Sandboxes go first: killing them ends in-flight execs, so the server then stops promptly.
  manager->shutdown();
  if (metrics_server) metrics_server->stop();
  server.stop();
  manager.reset();
  backend.reset();
  spdlog::info("grid serve: stopped");
  return 0;
}

}  // namespace

void addServeCommand(CLI::App& root, int* exit_code) {
  auto flags = std::make_shared<ServeFlags>();
  CLI::App* serve = root.add_subcommand("serve", "Serve the sandbox API over HTTP");
  serve->add_option("--config", flags->config_file,
                    "Config file (default ./grid.ini, then /etc/grid/grid.ini)");
  serve->add_option("--port", flags->port, "TCP port (default 3000)");
  serve->add_option("--bind", flags->bind, "Address to bind (default 127.0.0.1)");
  serve->add_option("--max-sandboxes", flags->max_running_sandboxes,
                    "Maximum running sandboxes (default 10)");
  serve->add_option("--backend", flags->backend,
                    "Backend plugin: docker, podman, local-namespace, ...");
  serve->add_option("--log-level", flags->log_level, "trace, debug, info, warn, error");
  serve->add_option("--instance", flags->instance,
                    "Instance name labelling this server's sandboxes");
  serve->add_flag("--insecure", flags->insecure,
                  "Allow a non-loopback --bind without an auth token");
  serve->callback([flags, exit_code] { *exit_code = runServe(*flags); });
}

}  // namespace grid::cli
