// Fork and snapshot: a source sandbox writes N MiB (random bytes, in a directory its file system
// keeps), then each iteration forks it into 1 or 16 children (timed: the request until all
// children run) and removes them (not timed); or saves it as an image. Counters: p50/p90 of
// the whole request, and per_child_p50_ms = p50 / children.
#include "fork_bench.h"

#include <string>
#include <vector>

#include "bench_support.h"
#include "grid_server.h"

namespace grid::bench {
namespace {

constexpr size_t kRunningLimit = 20;  // a source and 16 children

std::vector<std::string> childIds(const std::string& body) {
  // The answer's "sandboxes" descriptions; each "id" of a child is a UUID.
  std::vector<std::string> ids;
  const std::string key = "\"id\":\"";
  for (size_t at = body.find("\"sandboxes\""); at != std::string::npos;) {
    at = body.find(key, at);
    if (at == std::string::npos) break;
    at += key.size();
    ids.push_back(body.substr(at, body.find('"', at) - at));
  }
  return ids;
}

std::string prepareSource(GridClient& client, const BackendTarget& backend, int64_t mib) {
  const std::string id = client.createAndStart(backend.image);
  client.exec(id,
              "mkdir -p /srv/bench && head -c " + std::to_string(mib << 20) +
                  " /dev/urandom > /srv/bench/data && sync",
              300);
  return id;
}

void gridFork(benchmark::State& state, const std::string& backend_name) {
  guarded(state, [&] {
    const int64_t mib = state.range(0);
    const int64_t children = state.range(1);
    const BackendTarget backend = requireBackend(backend_name);
    GridServer& server = GridServer::acquire(backend, kRunningLimit);
    GridClient client(server.port());
    const std::string source = prepareSource(client, backend, mib);
    LatencyRecorder latencies;
    for (auto _ : state) {
      GridClient::Response answer;
      latencies.time([&] {
        answer = client.call("POST", "/sandboxes/" + source + "/fork",
                             "{\"count\":" + std::to_string(children) + "}");
      });
      if (answer.status != 201)
        throw std::runtime_error("fork: HTTP " + std::to_string(answer.status) + " " +
                                 answer.body.substr(0, 300));
      for (const auto& id : childIds(answer.body)) client.remove(id);
    }
    client.remove(source);
    latencies.report(state);
    state.counters["per_child_p50_ms"] = latencies.percentileMs(50) / static_cast<double>(children);
  });
}

void gridSnapshot(benchmark::State& state, const std::string& backend_name) {
  guarded(state, [&] {
    const int64_t mib = state.range(0);
    const BackendTarget backend = requireBackend(backend_name);
    GridServer& server = GridServer::acquire(backend, kRunningLimit);
    GridClient client(server.port());
    const std::string source = prepareSource(client, backend, mib);
    LatencyRecorder latencies;
    for (auto _ : state) {
      GridClient::Response answer;
      latencies.time([&] {
        answer = client.call("POST", "/sandboxes/" + source + "/snapshot",
                             "{\"image\":\"grid-bench/snapshot:latest\",\"overwrite\":true}");
      });
      if (answer.status != 201)
        throw std::runtime_error("snapshot: HTTP " + std::to_string(answer.status) + " " +
                                 answer.body.substr(0, 300));
    }
    client.remove(source);
    latencies.report(state);
  });
}

}  // namespace

void registerForkBenchmarks() {
  const std::vector<int64_t> sizes =
      smoke() ? std::vector<int64_t>{1} : std::vector<int64_t>{10, 100};
  const std::vector<int64_t> counts =
      smoke() ? std::vector<int64_t>{1, 2} : std::vector<int64_t>{1, 16};
  for (const std::string backend : {"local-namespace", "docker", "podman"}) {
    const int64_t rounds = backend == "local-namespace" ? 20 : 5;
    for (int64_t mib : sizes) {
      for (int64_t count : counts) {
        benchmark::RegisterBenchmark(("fork/grid/" + backend + "/" + std::to_string(mib) +
                                      "MiB/children:" + std::to_string(count))
                                         .c_str(),
                                     gridFork, backend)
            ->Args({mib, count})
            ->Iterations(iterations(count > 1 ? rounds / 2 : rounds))
            ->UseRealTime()
            ->Unit(benchmark::kMillisecond);
      }
      benchmark::RegisterBenchmark(
          ("snapshot/grid/" + backend + "/" + std::to_string(mib) + "MiB").c_str(), gridSnapshot,
          backend)
          ->Arg(mib)
          ->Iterations(iterations(mib >= 100 ? 3 : 5))
          ->UseRealTime()
          ->Unit(benchmark::kMillisecond);
    }
  }
}

}  // namespace grid::bench
