// `grid sandbox ...`: the command-line client of the sandbox API.
#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>

#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <optional>
#include <sstream>

#include "api_client.h"
#include "commands.h"

namespace grid::cli {
namespace {

using Poco::JSON::Object;

struct ClientFlags {
  std::string server;
  std::string token;
  bool json = false;
  int request_timeout_s = 3900;   // above the server's maximum exec timeout
  int deprecated_timeout_s = -1;  // --timeout, the old name of --request-timeout
};

std::string envOr(const char* name, const std::string& fallback) {
  const char* value = std::getenv(name);
  return value != nullptr && *value != '\0' ? value : fallback;
}


std::string pretty(const Poco::Dynamic::Var& value) {
  std::ostringstream out;
  Poco::JSON::Stringifier::stringify(value, out, 2);
  return out.str();
}

void printRaw(const std::string& text) {
  std::fwrite(text.data(), 1, text.size(), stdout);
  std::fflush(stdout);
}

std::string field(const Object::Ptr& o, const std::string& key) {
  return o->has(key) && !o->isNull(key) ? o->get(key).convert<std::string>() : "-";
}

void addKeyValues(Object& target, const std::string& key, const std::vector<std::string>& pairs,
                  std::string* error) {
  if (pairs.empty()) return;
  Object::Ptr map = new Object;
  for (const auto& pair : pairs) {
    const auto eq = pair.find('=');
    if (eq == std::string::npos || eq == 0) {
      *error = "'" + pair + "' is not KEY=VALUE";
      return;
    }
    map->set(pair.substr(0, eq), pair.substr(eq + 1));
  }
  target.set(key, map);
}

std::string toText(const Object& o) {
  std::ostringstream out;
  o.stringify(out);
  return out.str();
}

// Exit status of an exec's result object, as the command's own (0-255).
int execExitStatus(const Object::Ptr& result) {
  if (result->optValue<bool>("timed_out", false)) std::cerr << "grid: command timed out\n";
  if (result->optValue<bool>("exited", false)) std::cerr << "grid: the session has ended\n";
  const int status = result->optValue<int>("exit_code", 1);
  return status < 0 ? 1 : status & 0xff;
}

// `grid sandbox exec` with live output: output events are printed as they arrive (a
// standalone exec's stderr to stderr), then the exit status is the result event's.
int execLive(ApiClient& client, const std::string& path, const std::string& body) {
  // main() blocks the termination signals for `grid serve`; here Ctrl-C must end the client,
  // which closes the connection, and the server then interrupts the command.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGQUIT);
  pthread_sigmask(SIG_UNBLOCK, &signals, nullptr);
  Object::Ptr result;
  std::optional<Error> failed;
  auto answer = client.callStreaming("POST", path, body, [&](const std::string& line) {
    Object::Ptr event;
    try {
      Poco::JSON::Parser parser;
      event = parser.parse(line).extract<Object::Ptr>();
    } catch (const std::exception&) {
      failed = fail(ErrorCode::kInternal, "the server sent a line that is not a JSON object");
      return;
    }
    const std::string type = event->optValue<std::string>("type", "");
    if (type == "output") {
      const std::string data = event->optValue<std::string>("data", "");
      FILE* to = event->optValue<std::string>("stream", "") == "stderr" ? stderr : stdout;
      std::fwrite(data.data(), 1, data.size(), to);
      std::fflush(to);
    } else if (type == "result") {
      result = event;
    } else if (type == "error") {
      failed = fail(ErrorCode::kUnavailable, event->optValue<std::string>("error", "error"));
    }
  });
  if (!answer.ok()) return reportFailure(answer.error());
  const ApiResponse& response = answer.value();
  if (response.status / 100 != 2) {
    return reportFailure(fail(ErrorCode::kInvalidArgument, describeFailure(response)));
  }
  if (response.content_type.rfind("application/x-ndjson", 0) != 0) {
    // A server without live output answers with the whole result.
    try {
      Poco::JSON::Parser parser;
      result = parser.parse(response.body).extract<Object::Ptr>();
      printRaw(result->optValue<std::string>("output", ""));
    } catch (const std::exception&) {
      return reportFailure(fail(ErrorCode::kInternal, "the server's answer is not a JSON object"));
    }
  }
  if (failed) return reportFailure(*failed);
  if (!result) {
    return reportFailure(fail(ErrorCode::kUnavailable,
                       "the server's stream ended before the command's result"));
  }
  return execExitStatus(result);
}

}  // namespace

void addSandboxCommand(CLI::App& root, int* exit_code) {
  auto flags = std::make_shared<ClientFlags>();
  CLI::App* sandbox = root.add_subcommand("sandbox", "Create, start, exec in and stop sandboxes");
  sandbox->require_subcommand(1);
  sandbox->fallthrough();  // --server, --json, --token also after the subcommand
  sandbox->add_option("--server", flags->server,
                      "Grid server URL (default $GRID_SERVER or http://127.0.0.1:3000)");
  sandbox->add_option("--token", flags->token, "Bearer token (default $GRID_TOKEN)");
  sandbox->add_flag("--json", flags->json, "Print the server's JSON answer");
  CLI::Option* request_timeout = sandbox->add_option("--request-timeout", flags->request_timeout_s,
                                                     "Seconds to wait for the server's answer");
  // "timeout" is the command's own in the API and in `exec --exec-timeout`; the client's wait
  // has its own name. The old one is read, with a warning, until 0.3.0.
  sandbox->add_option("--timeout", flags->deprecated_timeout_s)->group("");

  const auto client = [flags, request_timeout] {
    if (flags->deprecated_timeout_s >= 0) {
      if (request_timeout->count() > 0) {
        std::cerr << "grid: --timeout and --request-timeout are both given: --request-timeout "
                     "wins; --timeout is deprecated and removed in 0.3.0\n";
      } else {
        std::cerr << "grid: --timeout is deprecated and removed in 0.3.0: use "
                     "--request-timeout\n";
        flags->request_timeout_s = flags->deprecated_timeout_s;
      }
    }
    return ApiClient(
        flags->server.empty() ? envOr("GRID_SERVER", "http://127.0.0.1:3000") : flags->server,
        flags->token.empty() ? envOr("GRID_TOKEN", "") : flags->token,
        std::chrono::seconds(flags->request_timeout_s));
  };

  // create
  struct CreateFlags {
    std::string image;
    std::vector<std::string> setup, env, labels;
    double cpus = 0;
    int64_t memory_mb = 0, pids = 0;
    bool network = false;
    std::vector<std::string> allow, deny;  // egress rules; any implies network
    std::string isolation;
    std::optional<double> ttl, idle_timeout;  // seconds; 0 asks for none
    std::string expiry_action;
  };
  auto cf = std::make_shared<CreateFlags>();
  CLI::App* create = sandbox->add_subcommand("create", "Create a sandbox (not started)");
  create->add_option("--image", cf->image, "Image (default: the server's default image)");
  create->add_option("--setup", cf->setup,
                     "Setup command, run at start (repeatable, joined with &&)");
  create->add_option("--env", cf->env, "KEY=VALUE environment variable (repeatable)");
  create->add_option("--label", cf->labels, "KEY=VALUE label (repeatable)");
  create->add_option("--cpus", cf->cpus, "CPU limit in cores");
  create->add_option("--memory", cf->memory_mb, "Memory limit in MiB");
  create->add_option("--pids", cf->pids, "Process limit");
  create->add_flag("--network", cf->network, "Give the sandbox network access");
  create->add_option("--allow", cf->allow,
                     "Allowed destination (CIDR, address, host:port, domain, *.domain); "
                     "repeatable; implies --network and refuses everything else");
  create->add_option("--deny", cf->deny,
                     "Refused destination (wins over --allow); repeatable; implies --network");
  create->add_option("--isolation", cf->isolation,
                     "default or gvisor (default: the server's [sandbox] isolation)");
  create->add_option("--ttl", cf->ttl,
                     "Seconds the sandbox may live from its start, 0 for no limit (default: the "
                     "server's [lifetimes] default_ttl)");
  create->add_option("--idle-timeout", cf->idle_timeout,
                     "Seconds without an exec, file operation or process activity before it "
                     "expires, 0 for none (default: the server's)");
  create->add_option("--expiry-action", cf->expiry_action,
                     "What expiry does: stop or pause (default: the server's)");
  create->callback([flags, cf, client, exit_code] {
    Object body;
    if (!cf->image.empty()) body.set("image", cf->image);
    if (!cf->setup.empty()) {
      Poco::JSON::Array::Ptr setup = new Poco::JSON::Array;
      for (const auto& s : cf->setup) setup->add(s);
      body.set("setup_commands", setup);
    }
    std::string error;
    addKeyValues(body, "env", cf->env, &error);
    addKeyValues(body, "labels", cf->labels, &error);
    if (!error.empty()) {
      *exit_code = reportFailure(fail(ErrorCode::kInvalidArgument, error));
      return;
    }
    if (cf->cpus > 0 || cf->memory_mb > 0 || cf->pids > 0) {
      Object::Ptr limits = new Object;
      if (cf->cpus > 0) limits->set("cpus", cf->cpus);
      if (cf->memory_mb > 0) limits->set("memory_mb", cf->memory_mb);
      if (cf->pids > 0) limits->set("pids", cf->pids);
      body.set("limits", limits);
    }
    if (!cf->allow.empty() || !cf->deny.empty()) {
      Object::Ptr network = new Object;
      network->set("egress", egressBody(cf->allow, cf->deny));
      body.set("network", network);
    } else if (cf->network) {
      body.set("network", true);
    }
    if (!cf->isolation.empty()) body.set("isolation", cf->isolation);
    if (cf->ttl) body.set("ttl_seconds", *cf->ttl);
    if (cf->idle_timeout) body.set("idle_timeout_seconds", *cf->idle_timeout);
    if (!cf->expiry_action.empty()) body.set("expiry_action", cf->expiry_action);
    auto c = client();
    auto created = c.callJson("POST", "/sandboxes", toText(body));
    if (!created.ok()) {
      *exit_code = reportFailure(created.error());
      return;
    }
    if (flags->json) {
      std::cout << pretty(created.value()) << "\n";
    } else {
      std::cout << "Sandbox created with ID: " << field(created.value(), "id") << "\n";
    }
  });

  // Commands taking just an id.
  const auto simple = [&](const char* name, const char* help, const char* method,
                          std::string suffix, std::string body, std::string done_message) {
    CLI::App* cmd = sandbox->add_subcommand(name, help);
    auto cmd_id = std::make_shared<std::string>();
    cmd->add_option("id", *cmd_id, "Sandbox id")->required();
    cmd->callback([=] {
      auto c = client();
      auto answer = c.callJson(method, "/sandboxes/" + *cmd_id + suffix, body);
      if (!answer.ok()) {
        *exit_code = reportFailure(answer.error());
        return;
      }
      if (flags->json || done_message.empty()) {
        std::cout << pretty(answer.value()) << "\n";
      } else {
        std::cout << "Sandbox " << *cmd_id << " " << done_message << "\n";
      }
    });
  };
  simple("start", "Start a sandbox: container, setup commands, session", "POST", "/start", "",
         "started");
  simple("stop", "Stop a sandbox and remove its container", "POST", "/stop", "{\"remove\":true}",
         "stopped");
  simple("delete", "Stop a sandbox and forget it", "DELETE", "", "", "deleted");
  simple("pause", "Freeze a sandbox's processes and free its running slot", "POST", "/pause", "",
         "paused");
  simple("resume", "Thaw a paused sandbox once a running slot is free", "POST", "/resume", "",
         "resumed");
  simple("inspect", "Describe a sandbox", "GET", "", "", "");

  // exec
  struct ExecFlags {
    std::string id;
    std::vector<std::string> command;
    bool standalone = false;
    double timeout = 0;
    bool auto_resume = false;
  };
  auto ef = std::make_shared<ExecFlags>();
  CLI::App* exec = sandbox->add_subcommand(
      "exec",
      "Run a command in the sandbox's session, printing its output as it arrives; exits with "
      "its status (--json: the whole result object at the end)");
  exec->add_option("id", ef->id, "Sandbox id")->required();
  exec->add_option("command", ef->command,
                   "Command; words are joined with spaces, options go before the id")
      ->required();
  exec->add_flag("--standalone", ef->standalone, "Run in a fresh process instead of the session");
  exec->add_option("--exec-timeout", ef->timeout, "Seconds before the command is interrupted");
  exec->add_flag("--auto-resume", ef->auto_resume, "Resume the sandbox first if it is paused");
  exec->positionals_at_end(true);
  exec->callback([flags, ef, client, exit_code] {
    std::string command;
    for (const auto& word : ef->command) command += (command.empty() ? "" : " ") + word;
    Object body;
    body.set("command", command);
    if (ef->standalone) body.set("standalone", true);
    if (ef->timeout > 0) body.set("timeout", ef->timeout);
    if (ef->auto_resume) body.set("auto_resume", true);
    auto c = client();
    if (!flags->json) {
      *exit_code = execLive(c, "/sandboxes/" + ef->id + "/exec", toText(body));
      return;
    }
    // --json: the whole result object once the command ended, as the API answers without
    // live output.
    auto answer = c.callJson("POST", "/sandboxes/" + ef->id + "/exec", toText(body));
    if (!answer.ok()) {
      *exit_code = reportFailure(answer.error());
      return;
    }
    const Object::Ptr& result = answer.value();
    std::cout << pretty(result) << "\n";
    const int status = result->optValue<int>("exit_code", 1);
    *exit_code = status < 0 ? 1 : status & 0xff;
  });

  // list
  CLI::App* list = sandbox->add_subcommand("list", "List sandboxes");
  list->callback([flags, client, exit_code] {
    auto c = client();
    auto answer = c.call("GET", "/sandboxes");
    if (!answer.ok()) {
      *exit_code = reportFailure(answer.error());
      return;
    }
    if (answer.value().status != 200) {
      *exit_code = reportFailure(fail(ErrorCode::kInvalidArgument, describeFailure(answer.value())));
      return;
    }
    Poco::JSON::Parser parser;
    auto array = parser.parse(answer.value().body).extract<Poco::JSON::Array::Ptr>();
    if (flags->json) {
      std::cout << pretty(array) << "\n";
      return;
    }
    std::printf("%-36s  %-9s  %-8s  %s\n", "ID", "STATUS", "COMMANDS", "IMAGE");
    for (size_t i = 0; i < array->size(); ++i) {
      auto o = array->getObject(static_cast<unsigned>(i));
      std::printf("%-36s  %-9s  %-8s  %s\n", field(o, "id").c_str(), field(o, "status").c_str(),
                  field(o, "command_count").c_str(), field(o, "image").c_str());
    }
  });

  // cp, ls
  addFileCommands(sandbox, client, [flags] { return flags->json; }, exit_code);
  addPoolCommand(sandbox, client, [flags] { return flags->json; }, exit_code);

  // trajectory
  auto tid = std::make_shared<std::string>();
  CLI::App* trajectory =
      sandbox->add_subcommand("trajectory", "Print every command run in a sandbox and its output");
  trajectory->add_option("id", *tid, "Sandbox id")->required();
  trajectory->callback([flags, tid, client, exit_code] {
    auto c = client();
    auto answer = c.call(
        "GET", "/sandboxes/" + *tid + (flags->json ? "/trajectory" : "/trajectory/formatted"));
    if (!answer.ok()) {
      *exit_code = reportFailure(answer.error());
      return;
    }
    if (answer.value().status != 200) {
      *exit_code = reportFailure(fail(ErrorCode::kInvalidArgument, describeFailure(answer.value())));
      return;
    }
    printRaw(answer.value().body);
  });

  addProcessCommands(sandbox, client, [flags] { return flags->json; }, exit_code);
  addForkCommands(sandbox, client, [flags] { return flags->json; }, exit_code);
  addNetworkCommand(sandbox, client, [flags] { return flags->json; }, exit_code);
  addShellCommand(sandbox, client, exit_code);
  addPortCommand(
      sandbox, client,
      [flags] {
        return flags->server.empty() ? envOr("GRID_SERVER", "http://127.0.0.1:3000")
                                     : flags->server;
      },
      [flags] { return flags->json; }, exit_code);
}

}  // namespace grid::cli
