# grid_add_backend(NAME SOURCES...): builds a backend plugin `grid-backend-NAME.so` that the
# core loads with Poco::ClassLoader. Used in-tree and, installed, by out-of-tree backends
# (through find_package(Grid), which defines Grid::core before including this file).
# The module lands in GRID_PLUGIN_OUTPUT_DIR when that is set (in-tree), else in the default
# library output directory of the calling project.
#
# Symbols are hidden by default: ClassLoader dlopens with RTLD_GLOBAL, so two plugins'
# same-named internal classes would otherwise collide.
function(grid_add_backend name)
  set(target grid-backend-${name})
  add_library(${target} MODULE ${ARGN})
  set_target_properties(${target} PROPERTIES
    PREFIX ""
    CXX_VISIBILITY_PRESET hidden
    VISIBILITY_INLINES_HIDDEN ON)
  # The SDK headers are C++20 like the core; an out-of-tree project may not set a standard.
  target_compile_features(${target} PRIVATE cxx_std_20)
  if(GRID_PLUGIN_OUTPUT_DIR)
    # In-tree: beside the other plugins, and installed where `grid` looks for them.
    set_target_properties(${target} PROPERTIES
      LIBRARY_OUTPUT_DIRECTORY "${GRID_PLUGIN_OUTPUT_DIR}"
      INSTALL_RPATH "$ORIGIN/../..")
    install(TARGETS ${target} LIBRARY DESTINATION ${GRID_PLUGIN_SUBDIR})
  endif()
  if(TARGET Grid::core)
    target_link_libraries(${target} PRIVATE Grid::core)
  else()
    target_link_libraries(${target} PRIVATE grid-core)
  endif()
endfunction()
