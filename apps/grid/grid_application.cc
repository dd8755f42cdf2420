#include "grid_application.h"

#include <iostream>

#include "commands.h"

namespace grid::cli {

int GridApplication::main(const std::vector<std::string>&) {
  CLI::App root{"Grid: sandboxed Linux containers for AI shell agents, over HTTP", "grid"};
  root.require_subcommand(1);
  root.set_version_flag("--version", "grid 0.2.0");
  int exit_code = 0;
  addServeCommand(root, &exit_code);
  addSandboxCommand(root, &exit_code);
  addImageCommand(root, &exit_code);
  std::vector<const char*> argv;
  for (const auto& a : args_) argv.push_back(a.c_str());
  try {
    root.parse(static_cast<int>(argv.size()), argv.data());
  } catch (const CLI::ParseError& e) {
    return root.exit(e);
  }
  return exit_code;
}

}  // namespace grid::cli
