// `grid sandbox network ID --allow ... --deny ...` (PATCH /sandboxes/{id}/network) and the
// egress part of `grid sandbox create` (docs/networking.md).
#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Stringifier.h>

#include <iostream>
#include <memory>
#include <sstream>

#include "api_client.h"
#include "commands.h"

namespace grid::cli {

Poco::JSON::Object::Ptr egressBody(const std::vector<std::string>& allow,
                                   const std::vector<std::string>& deny) {
  Poco::JSON::Object::Ptr egress = new Poco::JSON::Object(Poco::JSON_PRESERVE_KEY_ORDER);
  Poco::JSON::Array::Ptr allow_list = new Poco::JSON::Array;
  for (const auto& rule : allow) allow_list->add(rule);
  Poco::JSON::Array::Ptr deny_list = new Poco::JSON::Array;
  for (const auto& rule : deny) deny_list->add(rule);
  egress->set("allow", allow_list);
  egress->set("deny", deny_list);
  return egress;
}

void addNetworkCommand(CLI::App* sandbox, const std::function<ApiClient()>& client,
                       const std::function<bool()>& json, int* exit_code) {
  struct NetworkFlags {
    std::string id;
    std::vector<std::string> allow, deny;
  };
  auto flags = std::make_shared<NetworkFlags>();
  CLI::App* network = sandbox->add_subcommand(
      "network",
      "Replace a sandbox's egress policy (its own allow and deny lists; none given: no rules "
      "of its own). Established connections to newly refused destinations are cut");
  network->add_option("id", flags->id, "Sandbox id")->required();
  network->add_option("--allow", flags->allow,
                      "Allowed destination: CIDR, address, host:port or domain (*.example.com); "
                      "repeatable. Any allow rule refuses everything else");
  network->add_option("--deny", flags->deny, "Refused destination (wins over --allow); repeatable");
  network->callback([=] {
    Poco::JSON::Object::Ptr body = new Poco::JSON::Object;
    body->set("egress", egressBody(flags->allow, flags->deny));
    std::ostringstream text;
    body->stringify(text);
    auto answer = client().callJson("PATCH", "/sandboxes/" + flags->id + "/network", text.str());
    if (!answer.ok()) {
      *exit_code = reportFailure(answer.error());
      return;
    }
    if (json()) {
      Poco::JSON::Stringifier::stringify(answer.value(), std::cout, 2);
      std::cout << "\n";
    } else {
      std::cout << "Sandbox " << flags->id << " egress policy replaced\n";
    }
  });
}

}  // namespace grid::cli
