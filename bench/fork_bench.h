// Fork and snapshot through Grid's API on every backend (fork_bench.cc).
#pragma once

namespace grid::bench {

/// Registers fork/grid/<backend>/<MiB>/children:<n> (a sandbox that wrote 10 or 100 MiB,
/// forked into 1 or 16 children) and snapshot/grid/<backend>/<MiB>.
void registerForkBenchmarks();

}  // namespace grid::bench
