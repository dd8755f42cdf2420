// Warm pools (docs/pools.md): create + start + one exec of a sandbox taken from a ready pool
// against the same of a cold one, on one server with a [pool.bench] of size 4. The cold create
// asks for other limits, so it matches no pool. The pool refills (untimed) before each hit.
#include "pool_bench.h"

#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>

#include <chrono>
#include <stdexcept>
#include <string>
#include <thread>

#include "bench_support.h"
#include "grid_server.h"

namespace grid::bench {
namespace {

constexpr size_t kRunningLimit = 10;
constexpr int kPoolSize = 4;

std::string poolSection(const BackendTarget& backend) {
  return "[pool.bench]\nimage = " + backend.image + "\nsize = " + std::to_string(kPoolSize) + "\n";
}

size_t readyOf(GridClient& client) {
  const auto answer = client.call("GET", "/pools");
  if (answer.status != 200) throw std::runtime_error("GET /pools: HTTP " + answer.body);
  Poco::JSON::Parser parser;
  auto pools = parser.parse(answer.body).extract<Poco::JSON::Object::Ptr>()->getArray("pools");
  if (!pools || pools->size() == 0) throw std::runtime_error("GET /pools: no pool");
  return pools->getObject(0)->getValue<size_t>("ready");
}

// Untimed: the pool is full again (polled, with a deadline that detects a stuck refill).
void waitFull(GridClient& client) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(120);
  while (readyOf(client) < static_cast<size_t>(kPoolSize)) {
    if (std::chrono::steady_clock::now() > deadline) {
      throw std::runtime_error("the pool did not refill within 120 s");
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
}

std::string createAndStart(GridClient& client, const std::string& body) {
  const auto created = client.call("POST", "/sandboxes", body);
  if (created.status != 201) throw std::runtime_error("POST /sandboxes: " + created.body);
  Poco::JSON::Parser parser;
  const std::string id =
      parser.parse(created.body).extract<Poco::JSON::Object::Ptr>()->getValue<std::string>("id");
  const auto started = client.call("POST", "/sandboxes/" + id + "/start");
  if (started.status != 200) {
    client.remove(id);
    throw std::runtime_error("POST /sandboxes/" + id + "/start: " + started.body);
  }
  return id;
}

void poolStart(benchmark::State& state, const std::string& backend_name, bool hit) {
  guarded(state, [&] {
    const BackendTarget backend = requireBackend(backend_name);
    GridClient client(GridServer::acquire(backend, kRunningLimit, poolSection(backend)).port());
    // The cold request names other limits than the pool's defaults: it matches no pool.
    const std::string body =
        hit ? "{\"image\": \"" + backend.image + "\"}"
            : "{\"image\": \"" + backend.image + "\", \"limits\": {\"memory_mb\": 4000}}";
    LatencyRecorder latency;
    for (auto _ : state) {
      if (hit) waitFull(client);
      std::string id;
      latency.time([&] {
        id = createAndStart(client, body);
        client.exec(id, "true");
      });
      client.remove(id);
    }
    latency.report(state);
  });
}

}  // namespace

void registerPoolBenchmarks() {
  for (const std::string backend : {"docker", "podman", "local-namespace"}) {
    const int64_t rounds = backend == "local-namespace" ? 50 : 20;
    for (const bool hit : {true, false}) {
      const std::string name = std::string("pool/") + (hit ? "hit/" : "cold/") + backend;
      benchmark::RegisterBenchmark(name.c_str(), poolStart, backend, hit)
          ->Iterations(iterations(rounds))
          ->UseRealTime()
          ->Unit(benchmark::kMillisecond);
    }
  }
}

}  // namespace grid::bench
