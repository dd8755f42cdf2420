// A TCP connection through the egress path (docs/networking.md): a sandbox under a policy
// against one under the base rules alone (egress_bench.cc).
#pragma once

namespace grid::bench {

/// Registers egress/grid/<docker|podman>/{base,policy}.
void registerEgressBenchmarks();

}  // namespace grid::bench
