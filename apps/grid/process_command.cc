// `grid sandbox spawn|ps|logs|kill`: background processes of a sandbox (docs/processes.md).
#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>

#include <chrono>
#include <cstdio>
#include <iostream>
#include <sstream>
#include <thread>

#include "api_client.h"
#include "commands.h"

namespace grid::cli {
namespace {

using Poco::JSON::Object;

int complain(const std::string& message, int code = 1) {
  std::cerr << "grid: " << message << "\n";
  return code;
}


std::string text(const Object::Ptr& o, const std::string& key) {
  return o->has(key) && !o->isNull(key) ? o->get(key).convert<std::string>() : "-";
}

std::string stringify(const Poco::Dynamic::Var& value, unsigned indent = 0) {
  std::ostringstream out;
  Poco::JSON::Stringifier::stringify(value, out, indent);
  return out.str();
}

}  // namespace

void addProcessCommands(CLI::App* sandbox, const std::function<ApiClient()>& client,
                        const std::function<bool()>& json, int* exit_code) {
  const auto base = [](const std::string& id) { return "/sandboxes/" + id + "/processes"; };

  // spawn
  struct SpawnFlags {
    std::string id, cwd;
    std::vector<std::string> command, env;
  };
  auto sf = std::make_shared<SpawnFlags>();
  CLI::App* spawn = sandbox->add_subcommand(
      "spawn", "Start a background process; prints its handle (grid sandbox spawn ID -- CMD)");
  spawn->add_option("id", sf->id, "Sandbox id")->required();
  spawn
      ->add_option("command", sf->command,
                   "Command; words are joined with spaces, options go before the id")
      ->required();
  spawn->add_option("--cwd", sf->cwd, "Working directory inside the sandbox");
  spawn->add_option("--env", sf->env, "KEY=VALUE for the process (repeatable)")
      ->allow_extra_args(false);
  spawn->positionals_at_end(true);
  spawn->callback([=] {
    std::string command;
    size_t first = 0;
    if (!sf->command.empty() && sf->command[0] == "--") first = 1;  // `spawn ID -- CMD`
    for (size_t i = first; i < sf->command.size(); ++i) {
      command += (command.empty() ? "" : " ") + sf->command[i];
    }
    Object body;
    body.set("command", command);
    if (!sf->cwd.empty()) body.set("cwd", sf->cwd);
    if (!sf->env.empty()) {
      Object::Ptr env = new Object;
      for (const auto& pair : sf->env) {
        const auto eq = pair.find('=');
        if (eq == std::string::npos || eq == 0) {
          *exit_code = complain("'" + pair + "' is not KEY=VALUE");
          return;
        }
        env->set(pair.substr(0, eq), pair.substr(eq + 1));
      }
      body.set("env", env);
    }
    auto answer = client().callJson("POST", base(sf->id), stringify(Poco::Dynamic::Var(body)));
    if (!answer.ok()) {
      *exit_code = reportFailure(answer.error());
      return;
    }
    if (json()) {
      std::cout << stringify(answer.value(), 2) << "\n";
    } else {
      std::cout << text(answer.value(), "pid") << "\n";
    }
  });

  // ps
  auto pid_sandbox = std::make_shared<std::string>();
  CLI::App* ps = sandbox->add_subcommand("ps", "List a sandbox's background processes");
  ps->add_option("id", *pid_sandbox, "Sandbox id")->required();
  ps->callback([=] {
    auto answer = client().call("GET", base(*pid_sandbox));
    if (!answer.ok()) {
      *exit_code = reportFailure(answer.error());
      return;
    }
    if (answer.value().status != 200) {
      *exit_code = complain(describeFailure(answer.value()));
      return;
    }
    Poco::JSON::Parser parser;
    auto array = parser.parse(answer.value().body).extract<Poco::JSON::Array::Ptr>();
    if (json()) {
      std::cout << stringify(array, 2) << "\n";
      return;
    }
    std::printf("%-5s  %-7s  %-4s  %s\n", "PID", "STATUS", "EXIT", "COMMAND");
    for (size_t i = 0; i < array->size(); ++i) {
      auto o = array->getObject(static_cast<unsigned>(i));
      std::printf("%-5s  %-7s  %-4s  %s\n", text(o, "pid").c_str(), text(o, "status").c_str(),
                  text(o, "exit_code").c_str(), text(o, "command").c_str());
    }
  });

  // logs
  struct LogsFlags {
    std::string id, pid;
    bool follow = false;
  };
  auto lf = std::make_shared<LogsFlags>();
  CLI::App* logs = sandbox->add_subcommand("logs", "Print a background process's output");
  logs->add_option("id", lf->id, "Sandbox id")->required();
  logs->add_option("pid", lf->pid, "Process handle (from spawn or ps)")->required();
  logs->add_flag("-f,--follow", lf->follow, "Keep printing until the process ends");
  logs->callback([=] {
    auto c = client();
    uint64_t offset = 0;
    while (true) {
      auto answer = c.callJson(
          "GET", base(lf->id) + "/" + lf->pid + "/output?offset=" + std::to_string(offset));
      if (!answer.ok()) {
        *exit_code = reportFailure(answer.error());
        return;
      }
      const Object::Ptr& o = answer.value();
      if (o->optValue<Poco::UInt64>("dropped", 0) > 0) {
        std::cerr << "grid: [" << o->getValue<Poco::UInt64>("dropped")
                  << " bytes of output were dropped]\n";
      }
      const std::string data = o->optValue<std::string>("data", "");
      std::fwrite(data.data(), 1, data.size(), stdout);
      std::fflush(stdout);
      const uint64_t next = o->optValue<Poco::UInt64>("next_offset", offset);
      const bool eof = o->optValue<bool>("eof", false);
      if (!lf->follow || eof) {
        if (eof && !o->isNull("exit_code")) *exit_code = o->getValue<int>("exit_code") & 0xff;
        return;
      }
      // Poll while nothing new came; a full read goes on at once.
      if (next == offset) std::this_thread::sleep_for(std::chrono::milliseconds(250));
      offset = next;
    }
  });

  // kill
  struct KillFlags {
    std::string id, pid, signal;
  };
  auto kf = std::make_shared<KillFlags>();
  CLI::App* kill = sandbox->add_subcommand(
      "kill", "Kill a background process (SIGKILL to its group), or send it --signal");
  kill->add_option("id", kf->id, "Sandbox id")->required();
  kill->add_option("pid", kf->pid, "Process handle (from spawn or ps)")->required();
  kill->add_option("-s,--signal", kf->signal, "Signal to send instead (TERM, INT, HUP, 15, ...)");
  kill->callback([=] {
    const std::string path = base(kf->id) + "/" + kf->pid;
    Result<Object::Ptr> answer = Object::Ptr();
    if (kf->signal.empty()) {
      answer = client().callJson("DELETE", path);
    } else {
      Object body;
      const bool numeric = kf->signal.find_first_not_of("0123456789") == std::string::npos;
      if (numeric) {
        body.set("signal", std::stoi(kf->signal.substr(0, 4)));
      } else {
        body.set("signal", kf->signal);
      }
      answer = client().callJson("POST", path + "/signal", stringify(Poco::Dynamic::Var(body)));
    }
    if (!answer.ok()) {
      *exit_code = reportFailure(answer.error());
      return;
    }
    if (json()) std::cout << stringify(answer.value(), 2) << "\n";
  });
}

}  // namespace grid::cli
