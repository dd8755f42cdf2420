#include "api/expiry_reply.h"

#include "api/api_json.h"
#include "sandbox/sandbox_manager.h"

namespace grid {

const char* sandboxErrorCode(const SandboxManager& manager, const std::string& id,
                             const Error& error) {
  if (error.code == ErrorCode::kConflict) {
    if (auto found = manager.find(id); found.ok()) {
      const auto reason = found.value()->lifecycle().endReason();
      if (reason == EndReason::kTtl || reason == EndReason::kIdle) return kCodeSandboxExpired;
    }
  }
  return errorCodeToken(error.code);
}

Reply sandboxErrorReply(const SandboxManager& manager, const std::string& id, const Error& error) {
  auto o = errorJson(error);
  o->set("code", sandboxErrorCode(manager, id, error));
  return json(statusFor(error.code), o);
}

}  // namespace grid
