// The JSON body of an answer the socket layer gives on its own (a refused or malformed
// request), in the same shape as the API's errors, without knowing anything of the API.
#pragma once

#include <string>
#include <string_view>

namespace grid {

// Code tokens of the answers the HTTP layers give on their own, beside ErrorCode's: each belongs
// to exactly one status, so a client may switch on either.
inline constexpr char kCodeUnauthorized[] = "unauthorized";                       // 401
inline constexpr char kCodeMethodNotAllowed[] = "method_not_allowed";             // 405
inline constexpr char kCodeRequestTimeout[] = "request_timeout";                  // 408
inline constexpr char kCodeRequestBodyTooLarge[] = "request_body_too_large";      // 413
inline constexpr char kCodeRequestHeaderTooLarge[] = "request_header_too_large";  // 431

/// `{"error":"<message>","code":"<code>"}` and a newline; the message is made valid UTF-8.
std::string errorBody(std::string_view code, std::string_view message);

}  // namespace grid
