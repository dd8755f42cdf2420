#include <csignal>
#include <iostream>

#include "grid_application.h"

int main(int argc, char** argv) {
  // Termination signals are taken synchronously by `grid serve` (sigwait); block them before
  // any thread exists so every thread inherits the mask.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGQUIT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  std::signal(SIGPIPE, SIG_IGN);

  std::vector<std::string> args(argv, argv + argc);
  try {
    grid::cli::GridApplication app(std::move(args));
    char* name_only[] = {argv[0], nullptr};
    app.init(1, name_only);
    return app.run();
  } catch (const std::exception& e) {
    std::cerr << "grid: " << e.what() << "\n";
    return 1;
  }
}
