// GET /openapi.json: the OpenAPI 3.1 document of the HTTP API (core/src/api/openapi.json),
// compiled into the library so the document a server serves is the one its routes were built
// with. tests/api/openapi_test.py keeps it from drifting from the routes (docs/openapi.md).
#pragma once

#include <string_view>

#include "api/reply.h"

namespace grid {

/// The document's JSON text, as in the tree.
std::string_view openApiDocument();

/// The reply of GET /openapi.json (public: it describes the API, it holds no data).
Reply openApiReply();

}  // namespace grid
