// Registration of a backend plugin. In exactly one source file of the plugin:
//
//   #include "grid/plugin.h"
//   GRID_REGISTER_BACKEND(mybackend::MyBackend)
//
// The class needs a public default constructor that does no work (work goes into init()).
#pragma once

#include <Poco/ClassLibrary.h>

#include "grid/sandbox_backend.h"

#define GRID_REGISTER_BACKEND(BackendClass)                                                 \
  extern "C" __attribute__((visibility("default"))) int gridPluginSdkVersion() {            \
    return GRID_SDK_VERSION;                                                                \
  }                                                                                         \
  POCO_BEGIN_MANIFEST(grid::SandboxBackend)                                                 \
  POCO_EXPORT_CLASS(BackendClass)                                                           \
  POCO_END_MANIFEST
