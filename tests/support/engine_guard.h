// Backend tests need a real engine. Outside CI a missing engine skips loudly; with CI=true it
// fails, so a broken CI setup can never pass by skipping.
#pragma once

#include <gtest/gtest.h>

#include <cstdlib>
#include <cstring>
#include <string>

namespace grid::testing {

inline bool inCi() {
  const char* ci = std::getenv("CI");
  return ci != nullptr && (std::strcmp(ci, "true") == 0 || std::strcmp(ci, "1") == 0);
}

}  // namespace grid::testing

/// Use in a test body or SetUp(): GRID_REQUIRE_ENGINE(engineReachable(), "docker at /var/run/docker.sock")
#define GRID_REQUIRE_ENGINE(available, what)                                                 \
  do {                                                                                       \
    if (!(available)) {                                                                      \
      if (::grid::testing::inCi()) {                                                         \
        FAIL() << "engine unavailable in CI: " << (what);                                    \
      } else {                                                                               \
        std::fprintf(stderr, "\n*** SKIPPING: engine unavailable: %s ***\n\n",               \
                     std::string(what).c_str());                                             \
        GTEST_SKIP() << "engine unavailable: " << (what);                                    \
      }                                                                                      \
    }                                                                                        \
  } while (0)
