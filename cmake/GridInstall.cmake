# Installs the CMake package that lets an out-of-tree project build a backend against the
# installed SDK:
#
#   find_package(Grid REQUIRED)
#   grid_add_backend(mybackend src/backend.cc)
#
# gives target Grid::core (SDK headers + libgrid-core) and grid_add_backend(). Included last by
# the top CMakeLists.txt so every target of the GridTargets export set already exists.
include(CMakePackageConfigHelpers)

set(GRID_CMAKE_INSTALL_DIR "${CMAKE_INSTALL_LIBDIR}/cmake/Grid")

install(EXPORT GridTargets
        NAMESPACE Grid::
        FILE GridTargets.cmake
        DESTINATION "${GRID_CMAKE_INSTALL_DIR}")

# GRID_PLUGIN_SUBDIR goes in as a PATH_VAR so the config turns it into an absolute path under
# whatever prefix the package ends up in (the install is relocatable).
configure_package_config_file(
  "${CMAKE_CURRENT_LIST_DIR}/GridConfig.cmake.in"
  "${CMAKE_CURRENT_BINARY_DIR}/GridConfig.cmake"
  INSTALL_DESTINATION "${GRID_CMAKE_INSTALL_DIR}"
  PATH_VARS GRID_PLUGIN_SUBDIR)

# Pre-1.0 a minor bump may break the SDK, so only the same major.minor is compatible. The
# loader's GRID_SDK_VERSION check still guards the binary interface at runtime.
write_basic_package_version_file(
  "${CMAKE_CURRENT_BINARY_DIR}/GridConfigVersion.cmake"
  VERSION "${PROJECT_VERSION}"
  COMPATIBILITY SameMinorVersion)

install(FILES "${CMAKE_CURRENT_BINARY_DIR}/GridConfig.cmake"
              "${CMAKE_CURRENT_BINARY_DIR}/GridConfigVersion.cmake"
              "${CMAKE_CURRENT_LIST_DIR}/GridBackend.cmake"
        DESTINATION "${GRID_CMAKE_INSTALL_DIR}")
