// The shared engine backend suite, once per dialect, against the real engines.
#include <gtest/gtest.h>

#include "dialect_hooks.h"
#include "engine_backend_suite.h"

namespace grid::testing {
namespace {

INSTANTIATE_TEST_SUITE_P(Docker, EngineBackendTest, ::testing::Values(dockerHooks()),
                         engineTestName);
INSTANTIATE_TEST_SUITE_P(Podman, EngineBackendTest, ::testing::Values(podmanHooks()),
                         engineTestName);

}  // namespace
}  // namespace grid::testing
