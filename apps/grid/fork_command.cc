// `grid sandbox fork|snapshot|reset` (docs/fork-snapshot.md).
#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Stringifier.h>

#include <iostream>
#include <memory>
#include <sstream>

#include "api_client.h"
#include "commands.h"

namespace grid::cli {
namespace {


std::string pretty(const Poco::JSON::Object::Ptr& o) {
  std::ostringstream out;
  Poco::JSON::Stringifier::stringify(o, out, 2);
  return out.str();
}

}  // namespace

void addForkCommands(CLI::App* sandbox, const std::function<ApiClient()>& client,
                     const std::function<bool()>& json, int* exit_code) {
  struct ForkFlags {
    std::string id;
    int count = 1;
    std::string image;
    bool overwrite = false;
  };
  auto flags = std::make_shared<ForkFlags>();

  CLI::App* fork = sandbox->add_subcommand(
      "fork",
      "Fork a running sandbox: new running sandboxes with its files and session state "
      "(not its processes); prints their ids");
  fork->add_option("id", flags->id, "Sandbox id")->required();
  fork->add_option("--count,-n", flags->count, "How many children (default 1)");
  fork->callback([=] {
    auto answer = client().callJson("POST", "/sandboxes/" + flags->id + "/fork",
                                    "{\"count\":" + std::to_string(flags->count) + "}");
    if (!answer.ok()) {
      *exit_code = reportFailure(answer.error());
      return;
    }
    if (json()) {
      std::cout << pretty(answer.value()) << "\n";
      return;
    }
    auto children = answer.value()->getArray("sandboxes");
    for (size_t i = 0; children && i < children->size(); ++i) {
      auto child = children->getObject(static_cast<unsigned>(i));
      if (child) std::cout << child->optValue<std::string>("id", "") << "\n";
    }
  });

  CLI::App* snapshot = sandbox->add_subcommand(
      "snapshot", "Save a running sandbox's files as an image that `grid sandbox create` takes");
  snapshot->add_option("id", flags->id, "Sandbox id")->required();
  snapshot->add_option("image", flags->image, "Image name:tag")->required();
  snapshot->add_flag("--overwrite", flags->overwrite, "Replace an existing image of that name");
  snapshot->callback([=] {
    Poco::JSON::Object::Ptr body = new Poco::JSON::Object;
    body->set("image", flags->image);
    body->set("overwrite", flags->overwrite);
    std::ostringstream text;
    body->stringify(text);
    auto answer = client().callJson("POST", "/sandboxes/" + flags->id + "/snapshot", text.str());
    if (!answer.ok()) {
      *exit_code = reportFailure(answer.error());
      return;
    }
    if (json()) {
      std::cout << pretty(answer.value()) << "\n";
    } else {
      std::cout << "Sandbox " << flags->id << " saved as image " << flags->image << "\n";
    }
  });

  CLI::App* reset = sandbox->add_subcommand(
      "reset", "Return a running sandbox to its state right after its setup commands");
  reset->add_option("id", flags->id, "Sandbox id")->required();
  reset->callback([=] {
    auto answer = client().callJson("POST", "/sandboxes/" + flags->id + "/reset");
    if (!answer.ok()) {
      *exit_code = reportFailure(answer.error());
      return;
    }
    if (json()) {
      std::cout << pretty(answer.value()) << "\n";
    } else {
      std::cout << "Sandbox " << flags->id << " reset\n";
    }
  });
}

}  // namespace grid::cli
