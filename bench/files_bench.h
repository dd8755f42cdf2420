// Files in and out through Grid's files routes against the engines' `cp` (files_bench.cc).
#pragma once

namespace grid::bench {

/// Registers files/grid/<backend>/{upload,download}/<size> and files/baseline/<cli>_cp_* at
/// 1 MiB (smoke) or 1 MiB, 100 MiB and 1 GiB.
void registerFileBenchmarks();

}  // namespace grid::bench
