#include "grid/seccomp/oci_profile.h"

#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>

#include <sstream>

namespace grid::seccomp {
namespace {

const char* nativeArchitecture() {
#if defined(__x86_64__)
  return "SCMP_ARCH_X86_64";
#elif defined(__aarch64__)
  return "SCMP_ARCH_AARCH64";
#else
#error "grid-seccomp-policy: add this architecture's SCMP_ARCH_ name"
#endif
}

const char* compareName(Compare op) {
  switch (op) {
    case Compare::kEqual:
      return "SCMP_CMP_EQ";
    case Compare::kMaskedEqual:
      return "SCMP_CMP_MASKED_EQ";
    case Compare::kGreater:
      return "SCMP_CMP_GT";
  }
  return "SCMP_CMP_EQ";
}

Poco::JSON::Object::Ptr argJson(const ArgCondition& condition) {
  Poco::JSON::Object::Ptr arg = new Poco::JSON::Object;
  arg->set("index", condition.index);
  // OCI's masked comparison takes the mask as `value` and the datum as `valueTwo`.
  const bool masked = condition.op == Compare::kMaskedEqual;
  arg->set("value", static_cast<Poco::UInt64>(masked ? condition.mask : condition.value));
  arg->set("valueTwo", static_cast<Poco::UInt64>(masked ? condition.value : 0));
  arg->set("op", std::string(compareName(condition.op)));
  return arg;
}

void setAction(Poco::JSON::Object& object, const char* action_key, const char* errno_key,
               const Action& action) {
  if (action.allow) {
    object.set(action_key, std::string("SCMP_ACT_ALLOW"));
  } else {
    object.set(action_key, std::string("SCMP_ACT_ERRNO"));
    object.set(errno_key, action.errno_value);
  }
}

}  // namespace

std::string renderOciProfile(const Policy& policy) {
  Poco::JSON::Object profile;
  setAction(profile, "defaultAction", "defaultErrnoRet", policy.default_action);
  Poco::JSON::Array::Ptr architectures = new Poco::JSON::Array;
  architectures->add(std::string(nativeArchitecture()));
  profile.set("architectures", architectures);
  Poco::JSON::Array::Ptr syscalls = new Poco::JSON::Array;
  for (const auto& rule : policy.rules) {
    // Rules repeating the default (ENOSYS) are kept: runc skips them where it honours
    // defaultErrnoRet, and they keep ENOSYS where an engine drops it (Docker 20.10).
    Poco::JSON::Object::Ptr entry = new Poco::JSON::Object;
    Poco::JSON::Array::Ptr names = new Poco::JSON::Array;
    for (const auto& name : rule.names) names->add(name);
    entry->set("names", names);
    setAction(*entry, "action", "errnoRet", rule.action);
    if (rule.condition) {
      Poco::JSON::Array::Ptr args = new Poco::JSON::Array;
      args->add(argJson(*rule.condition));
      entry->set("args", args);
    }
    syscalls->add(entry);
  }
  profile.set("syscalls", syscalls);
  std::ostringstream out;
  profile.stringify(out);
  return out.str();
}

}  // namespace grid::seccomp
