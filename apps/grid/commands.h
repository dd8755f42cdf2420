// Subcommands of `grid`. Each registers itself on the CLI11 root and, when run, stores the
// process exit status in `*exit_code`.
#pragma once

#include <CLI/CLI.hpp>
#include <Poco/JSON/Object.h>

#include <functional>
#include <string>
#include <vector>

namespace grid::cli {

void addServeCommand(CLI::App& root, int* exit_code);
void addSandboxCommand(CLI::App& root, int* exit_code);
void addImageCommand(CLI::App& root, int* exit_code);

class ApiClient;
/// spawn, ps, logs, kill under `grid sandbox` (process_command.cc).
void addProcessCommands(CLI::App* sandbox, const std::function<ApiClient()>& client,
                        const std::function<bool()>& json, int* exit_code);
/// `grid sandbox cp` and `grid sandbox ls` (file_command.cc), on `sandbox`'s client flags.
void addFileCommands(CLI::App* sandbox, const std::function<ApiClient()>& client,
                     const std::function<bool()>& json, int* exit_code);

/// `grid sandbox fork`, `snapshot` and `reset` (fork_command.cc).
void addForkCommands(CLI::App* sandbox, const std::function<ApiClient()>& client,
                     const std::function<bool()>& json, int* exit_code);
/// `grid sandbox port ID PORT [--share|--revoke]` (port_command.cc); `server_url` is the
/// server the client talks to.
void addPortCommand(CLI::App* sandbox, const std::function<ApiClient()>& client,
                    const std::function<std::string()>& server_url,
                    const std::function<bool()>& json, int* exit_code);
/// `grid sandbox pools` (pool_command.cc).
void addPoolCommand(CLI::App* sandbox, const std::function<ApiClient()>& client,
                    const std::function<bool()>& json, int* exit_code);
/// `grid sandbox network ID --allow ... --deny ...` (network_command.cc).
void addNetworkCommand(CLI::App* sandbox, const std::function<ApiClient()>& client,
                       const std::function<bool()>& json, int* exit_code);
/// The `{"allow": [...], "deny": [...]}` of an egress policy (network_command.cc).
Poco::JSON::Object::Ptr egressBody(const std::vector<std::string>& allow,
                                   const std::vector<std::string>& deny);
/// `grid sandbox shell ID` (shell_command.cc).
void addShellCommand(CLI::App* sandbox, const std::function<ApiClient()>& client, int* exit_code);

}  // namespace grid::cli
