// The port proxy against a direct connection into the sandbox's namespace (port_bench.cc).
#pragma once

namespace grid::bench {

/// Registers ports/{grid,direct}/<backend>/{latency,download_100MiB}.
void registerPortBenchmarks();

}  // namespace grid::bench
