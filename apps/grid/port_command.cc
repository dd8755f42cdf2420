// `grid sandbox port ID PORT [--share | --revoke]` (docs/ports.md): the URL of a sandbox's port
// through the server's port proxy.
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Stringifier.h>

#include <iostream>
#include <memory>
#include <sstream>

#include "api_client.h"
#include "commands.h"

namespace grid::cli {

void addPortCommand(CLI::App* sandbox, const std::function<ApiClient()>& client,
                    const std::function<std::string()>& server_url,
                    const std::function<bool()>& json, int* exit_code) {
  struct PortFlags {
    std::string id;
    int port = 0;
    bool share = false;
    bool revoke = false;
  };
  auto pf = std::make_shared<PortFlags>();
  CLI::App* cmd = sandbox->add_subcommand(
      "port",
      "Print the URL of a sandbox's port, proxied by the server (needs the token, or "
      "--share for a link that carries its own)");
  cmd->add_option("id", pf->id, "Sandbox id")->required();
  cmd->add_option("port", pf->port, "Port the sandbox listens on")
      ->required()
      ->check(CLI::Range(1, 65535));
  auto* share = cmd->add_flag("--share", pf->share,
                              "Make (or reuse) a share token: the URL opens this port only, "
                              "without the server's token, until the sandbox stops");
  cmd->add_flag("--revoke", pf->revoke, "Revoke the port's share token")->excludes(share);
  cmd->callback([=] {
    std::string base = server_url();
    while (!base.empty() && base.back() == '/') base.pop_back();
    const std::string shares = "/sandboxes/" + pf->id + "/shares/" + std::to_string(pf->port);
    if (!pf->share && !pf->revoke) {
      std::cout << base << "/sandboxes/" << pf->id << "/ports/" << pf->port << "/\n";
      return;
    }
    auto answer = client().callJson(pf->share ? "POST" : "DELETE", shares);
    if (!answer.ok()) {
      *exit_code = reportFailure(answer.error());
      return;
    }
    if (json()) {
      Poco::JSON::Stringifier::stringify(answer.value(), std::cout, 2);
      std::cout << "\n";
    } else if (pf->share) {
      std::cout << base << answer.value()->getValue<std::string>("path") << "\n";
    } else {
      std::cout << (answer.value()->getValue<bool>("revoked") ? "revoked" : "no share token")
                << "\n";
    }
  });
}

}  // namespace grid::cli
