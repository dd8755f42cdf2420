// The sandbox spec the engine backends' plan tests (Docker create body, Podman spec generator)
// build from: every limit set, env with an empty value, and a user label spoofing Grid's own.
#pragma once

#include <string>

#include "grid/sandbox_backend.h"

namespace grid::testing {

/// Sandbox "abc-123" of `image`: 1.5 CPUs, 256 MiB, 64 pids, env FOO=bar and EMPTY=, labels
/// team=x and grid.instance=spoofed.
inline SandboxSpec sampleSandboxSpec(const std::string& image) {
  SandboxSpec spec;
  spec.id = "abc-123";
  spec.image = image;
  spec.limits.cpus = 1.5;
  spec.limits.memory_mb = 256;
  spec.limits.pids = 64;
  spec.env = {{"FOO", "bar"}, {"EMPTY", ""}};
  spec.labels = {{"team", "x"}, {"grid.instance", "spoofed"}};
  return spec;
}

}  // namespace grid::testing
