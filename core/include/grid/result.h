// Result<T>: the value-or-error type every SDK call returns. No exception crosses the plugin
// boundary; backends catch their own and return an Error instead.
#pragma once

#include <string>
#include <utility>
#include <variant>

namespace grid {

/// Stable error kinds. The HTTP layer maps each to a status code and a stable JSON token.
enum class ErrorCode {
  kInvalidArgument,    // the request itself is wrong (400)
  kNotFound,           // unknown sandbox or route (404)
  kImageNotFound,      // the image is neither present nor pullable (404)
  kConflict,           // wrong state for the operation (409)
  kUnsupported,        // a feature this backend does not offer (400)
  kResourceExhausted,  // a configured limit was reached (429)
  kUnavailable,        // the engine cannot be reached (503)
  kTimeout,            // a wait ran out (504)
  kNoSpace,            // the sandbox's disk or quota is full (413)
  kInternal,           // anything else (500)
};

/// The stable token for an error kind, e.g. "image_not_found".
inline const char* errorCodeToken(ErrorCode code) {
  switch (code) {
    case ErrorCode::kInvalidArgument: return "invalid_argument";
    case ErrorCode::kNotFound: return "not_found";
    case ErrorCode::kImageNotFound: return "image_not_found";
    case ErrorCode::kConflict: return "conflict";
    case ErrorCode::kUnsupported: return "unsupported";
    case ErrorCode::kResourceExhausted: return "resource_exhausted";
    case ErrorCode::kUnavailable: return "unavailable";
    case ErrorCode::kTimeout: return "timeout";
    case ErrorCode::kNoSpace: return "no_space";
    case ErrorCode::kInternal: return "internal";
  }
  return "internal";
}

/// What failed, as one human sentence ("docker: POST /containers/create: no such image ...").
struct Error {
  ErrorCode code = ErrorCode::kInternal;
  std::string message;
};

/// A value or an Error. Check ok() before value().
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : state_(std::move(value)) {}  // NOLINT: implicit by design
  Result(Error error) : state_(std::move(error)) {}  // NOLINT

  bool ok() const { return state_.index() == 0; }
  explicit operator bool() const { return ok(); }
  T& value() & { return std::get<0>(state_); }
  const T& value() const& { return std::get<0>(state_); }
  T&& value() && { return std::get<0>(std::move(state_)); }
  const Error& error() const { return std::get<1>(state_); }

 private:
  std::variant<T, Error> state_;
};

template <>
class [[nodiscard]] Result<void> {
 public:
  Result() = default;
  Result(Error error) : error_(std::move(error)), ok_(false) {}  // NOLINT

  bool ok() const { return ok_; }
  explicit operator bool() const { return ok_; }
  const Error& error() const { return error_; }

 private:
  Error error_;
  bool ok_ = true;
};

/// Shorthand for building an Error result: `return fail(ErrorCode::kNotFound, "...")`.
inline Error fail(ErrorCode code, std::string message) { return Error{code, std::move(message)}; }

}  // namespace grid

// Propagation. Both return the Error of a failed Result from the enclosing function, whose
// return type must be constructible from grid::Error (any Result<T>, or Error itself).
//
//   GRID_TRY(backend.createSandbox(spec));                  // Result<void> or Result<T>
//   GRID_ASSIGN_OR_RETURN(auto channel, backend.startProcess(id, spec));
//   GRID_ASSIGN_OR_RETURN(existing, lookup(name));           // assigns to a declared variable
#define GRID_TRY(expr)                                              \
  do {                                                              \
    auto&& grid_try_result_ = (expr);                               \
    if (!grid_try_result_.ok()) return grid_try_result_.error();    \
  } while (0)

#define GRID_ASSIGN_OR_RETURN(lhs, expr) \
  GRID_ASSIGN_OR_RETURN_IMPL_(GRID_RESULT_CONCAT_(grid_result_, __LINE__), lhs, expr)

#define GRID_RESULT_CONCAT_INNER_(a, b) a##b
#define GRID_RESULT_CONCAT_(a, b) GRID_RESULT_CONCAT_INNER_(a, b)
#define GRID_ASSIGN_OR_RETURN_IMPL_(tmp, lhs, expr) \
  auto tmp = (expr);                                \
  if (!tmp.ok()) return tmp.error();                \
  lhs = std::move(tmp).value()
