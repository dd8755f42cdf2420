// Pause and resume round trips through Grid's API against the engines' own pause (pause_bench.cc).
#pragma once

namespace grid::bench {

/// Registers pause/grid/<backend> and pause/baseline/engine_api/<docker|podman>.
void registerPauseBenchmarks();

}  // namespace grid::bench
