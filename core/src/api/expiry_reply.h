// The answer to an operation refused or cut short because its sandbox expired
// (docs/lifetimes.md): 409 with its own code, so a client can tell an expiry from other
// conflicts without reading the message.
#pragma once

#include <string>

#include "api/reply.h"
#include "grid/result.h"

namespace grid {

class SandboxManager;

inline constexpr char kCodeSandboxExpired[] = "sandbox_expired";  // 409

/// The code token of `error` from an operation on sandbox `id`: sandbox_expired for a conflict
/// on a sandbox that ended by its ttl or idle timeout, else errorCodeToken(error.code).
const char* sandboxErrorCode(const SandboxManager& manager, const std::string& id,
                             const Error& error);

/// errorReply(error) with sandboxErrorCode's token.
Reply sandboxErrorReply(const SandboxManager& manager, const std::string& id, const Error& error);

}  // namespace grid
