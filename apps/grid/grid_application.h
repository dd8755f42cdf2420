#pragma once

#include <Poco/Util/Application.h>

#include <string>
#include <vector>

namespace grid::cli {

/// `grid`: a Poco Util application whose subcommands (serve, sandbox, ...) are parsed by CLI11.
class GridApplication : public Poco::Util::Application {
 public:
  explicit GridApplication(std::vector<std::string> args) : args_(std::move(args)) {}

 protected:
  int main(const std::vector<std::string>& unused) override;

 private:
  std::vector<std::string> args_;  // argv as given; Poco's own option parsing is bypassed
};

}  // namespace grid::cli
