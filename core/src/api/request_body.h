// Reading a small request body (JSON) whole, bounded.
#pragma once

#include <Poco/Net/HTTPServerRequest.h>

#include <cstddef>
#include <optional>
#include <string>

namespace grid {

/// The request's body, read up to `limit` bytes; nullopt when it is (or announces to be)
/// larger. A request with neither a length nor chunked encoding has no body: reading would
/// wait for the client to close.
std::optional<std::string> readBoundedBody(Poco::Net::HTTPServerRequest& request, size_t limit);

}  // namespace grid
