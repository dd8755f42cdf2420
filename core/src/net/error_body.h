// The JSON body of an answer the socket layer gives on its own (a refused or malformed
// request), in the same shape as the API's errors, without knowing anything of the API.
#pragma once

#include <string>
#include <string_view>

namespace grid {

/// `{"error":"<message>","code":"<code>"}` and a newline; the message is made valid UTF-8.
std::string errorBody(std::string_view code, std::string_view message);

}  // namespace grid
