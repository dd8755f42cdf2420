#include "api/network_routes.h"

#include "api/api_json.h"
#include "network/egress_controller.h"
#include "sandbox/sandbox_manager.h"

namespace grid {
namespace {

void setEgress(Poco::JSON::Object& description, const EgressStatus& status) {
  Poco::JSON::Object::Ptr egress = egressPolicyJson(status.effective);
  if (status.own) {
    egress->set("own", egressPolicyJson(*status.own));
  }
  egress->set("enforced", status.enforced);
  egress->set("resolver", status.resolver);
  egress->set("refused", static_cast<Poco::UInt64>(status.refused));
  description.set("egress", egress);
}

}  // namespace

void addEgressJson(Poco::JSON::Object& description, SandboxManager& manager,
                   const std::string& id) {
  EgressController* egress = manager.options().egress;
  if (egress == nullptr) return;
  if (const auto status = egress->status(id)) setEgress(description, *status);
}

Reply patchNetworkRoute(SandboxManager& manager, const RequestLimits& limits, const std::string& id,
                        const std::string& body) {
  auto found = manager.find(id);
  if (!found.ok()) return errorReply(found.error());
  auto policy = parseNetworkPatch(body, limits);
  if (!policy.ok()) return errorReply(policy.error());
  EgressController* egress = manager.options().egress;
  if (egress == nullptr) {
    return errorReply(fail(ErrorCode::kUnsupported, "this server enforces no egress policy"));
  }
  auto updated = egress->update(id, policy.value());
  if (!updated.ok()) return errorReply(updated.error());
  auto description = sandboxJson(found.value()->snapshot());
  addEgressJson(*description, manager, id);
  return json(Poco::Net::HTTPResponse::HTTP_OK, description);
}

}  // namespace grid
