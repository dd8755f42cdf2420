#include "api/pool_routes.h"

#include <Poco/JSON/Array.h>

namespace grid {

Reply poolsReply(const SandboxManager& manager) {
  Poco::JSON::Array::Ptr list = new Poco::JSON::Array;
  for (const PoolStatus& pool : manager.pools().status()) {
    Poco::JSON::Object::Ptr o = new Poco::JSON::Object(Poco::JSON_PRESERVE_KEY_ORDER);
    o->set("name", pool.name);
    o->set("image", pool.spec.image);
    Poco::JSON::Object::Ptr limits = new Poco::JSON::Object(Poco::JSON_PRESERVE_KEY_ORDER);
    if (pool.spec.limits.cpus > 0) limits->set("cpus", pool.spec.limits.cpus);
    if (pool.spec.limits.memory_mb > 0) limits->set("memory_mb", pool.spec.limits.memory_mb);
    if (pool.spec.limits.pids > 0) limits->set("pids", pool.spec.limits.pids);
    o->set("limits", limits);
    o->set("network", pool.spec.network);
    o->set("isolation", std::string(isolationName(pool.spec.isolation)));
    o->set("size", static_cast<Poco::UInt64>(pool.size));
    o->set("ready", static_cast<Poco::UInt64>(pool.ready));
    o->set("starting", static_cast<Poco::UInt64>(pool.starting));
    o->set("hits", static_cast<Poco::UInt64>(pool.hits));
    o->set("misses", static_cast<Poco::UInt64>(pool.misses));
    o->set("last_error",
           pool.last_error.empty() ? Poco::Dynamic::Var() : Poco::Dynamic::Var(pool.last_error));
    list->add(o);
  }
  Poco::JSON::Object::Ptr o = new Poco::JSON::Object(Poco::JSON_PRESERVE_KEY_ORDER);
  o->set("pools", list);
  o->set("unmatched", static_cast<Poco::UInt64>(manager.pools().unmatched()));
  return json(Poco::Net::HTTPResponse::HTTP_OK, o);
}

}  // namespace grid
