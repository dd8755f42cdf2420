// `grid sandbox pools`: the warm pools' levels and counters (GET /pools, docs/pools.md).
#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Stringifier.h>

#include <cstdio>
#include <iostream>
#include <sstream>

#include "api_client.h"
#include "commands.h"

namespace grid::cli {

void addPoolCommand(CLI::App* sandbox, const std::function<ApiClient()>& client,
                    const std::function<bool()>& json, int* exit_code) {
  CLI::App* pools = sandbox->add_subcommand(
      "pools", "Show the warm pools: size, ready, starting, hits, misses, last refill error");
  pools->callback([=] {
    auto answer = client().callJson("GET", "/pools", "");
    if (!answer.ok()) {
      *exit_code = reportFailure(answer.error());
      return;
    }
    const Poco::JSON::Object::Ptr& o = answer.value();
    if (json()) {
      std::ostringstream out;
      Poco::JSON::Stringifier::stringify(o, out, 2);
      std::cout << out.str() << "\n";
      return;
    }
    const auto text = [](const Poco::JSON::Object::Ptr& p, const char* key) {
      return p->has(key) && !p->isNull(key) ? p->get(key).toString() : std::string("-");
    };
    std::printf("%-16s  %-5s  %-5s  %-8s  %-6s  %-6s  %s\n", "POOL", "SIZE", "READY", "STARTING",
                "HITS", "MISSES", "IMAGE / LAST ERROR");
    auto list = o->getArray("pools");
    for (size_t i = 0; list && i < list->size(); ++i) {
      auto p = list->getObject(static_cast<unsigned>(i));
      if (!p) continue;
      std::string last = text(p, "image");
      if (text(p, "last_error") != "-") last += " / " + text(p, "last_error");
      std::printf("%-16s  %-5s  %-5s  %-8s  %-6s  %-6s  %s\n", text(p, "name").c_str(),
                  text(p, "size").c_str(), text(p, "ready").c_str(), text(p, "starting").c_str(),
                  text(p, "hits").c_str(), text(p, "misses").c_str(), last.c_str());
    }
    std::printf("unmatched creates (cold): %s\n", text(o, "unmatched").c_str());
  });
}

}  // namespace grid::cli
