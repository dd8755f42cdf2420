# grid_add_backend(NAME SOURCES...): builds a backend plugin `grid-backend-NAME.so` that the
# core loads with Poco::ClassLoader. Used in-tree and, installed, by out-of-tree backends.
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
  if(GRID_PLUGIN_OUTPUT_DIR)
    set_target_properties(${target} PROPERTIES LIBRARY_OUTPUT_DIRECTORY "${GRID_PLUGIN_OUTPUT_DIR}")
  endif()
  if(TARGET Grid::core)
    target_link_libraries(${target} PRIVATE Grid::core)
  else()
    target_link_libraries(${target} PRIVATE grid-core)
  endif()
endfunction()
