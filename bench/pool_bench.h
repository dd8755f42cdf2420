// Warm pool start against cold start through Grid's API (pool_bench.cc).
#pragma once

namespace grid::bench {

/// Registers pool/hit/<backend> and pool/cold/<backend>.
void registerPoolBenchmarks();

}  // namespace grid::bench
