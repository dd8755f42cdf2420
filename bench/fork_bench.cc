// Fork and snapshot: a source sandbox writes N MiB (random bytes, in a directory its file system
// keeps), then each iteration forks it into 1 or 16 children (timed: the request until all
// children run) and removes them (not timed); or saves it as an image. Counters: p50/p90 of
// the whole request, and per_child_p50_ms = p50 / children.
//
// Baseline (fork/baseline/engine_api/ENGINE): the engine's own commit (pause=true) of a
// container that wrote the same N MiB, then per child a create + start with the body Grid's
// docker backend sends, the children in parallel; children and image removed untimed.
//
// Rollouts (rollout/...): 100 rollouts on kRolloutWorkers client threads, each either "fork
// (count 1) from a prepared sandbox, 10 execs, delete" or "cold start, replay the setup, 10
// execs, delete"; rollouts_per_s and the p50 of one rollout.
#include "fork_bench.h"

#include <Poco/JSON/Object.h>

#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "baselines.h"
#include "bench_support.h"
#include "grid/engine/exec_channel.h"
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

// --- the engine's own commit + create + start ------------------------------------------------

void engineExecChecked(const std::shared_ptr<engine::EngineClient>& client,
                       const std::string& container, const std::string& command) {
  engine::ExecOptions options;
  options.argv = {"sh", "-c", command};
  auto channel = engine::startExec(client, container, options);
  if (!channel.ok()) throw std::runtime_error(channel.error().message);
  const auto deadline = Clock::now() + std::chrono::seconds(300);
  for (;;) {
    auto chunk = channel.value()->read(deadline);
    if (!chunk.ok()) throw std::runtime_error(chunk.error().message);
    if (chunk.value().status == ReadResult::Status::kEof) break;
    if (chunk.value().status == ReadResult::Status::kTimeout) {
      throw std::runtime_error("`" + command + "` did not end within 300 s");
    }
  }
  if (channel.value()->exitCode().value_or(-1) != 0) {
    throw std::runtime_error("`" + command + "` failed");
  }
}

std::string engineCommit(engine::EngineClient& client, const std::string& container) {
  const std::string path = "/commit?container=" + container + "&pause=true";
  auto answer = client.request("POST", path, std::string("{}"), std::chrono::seconds(600));
  if (!answer.ok()) throw std::runtime_error(answer.error().message);
  if (!answer.value().ok())
    throw std::runtime_error(client.errorFor("POST", path, answer.value()).message);
  auto body = engine::parseJsonObject(answer.value().body);
  const std::string id = body ? body->optValue<std::string>("Id", "") : "";
  if (id.empty()) throw std::runtime_error("commit: no image id in " + answer.value().body);
  return id;
}

void engineFork(benchmark::State& state, const std::string& product) {
  guarded(state, [&] {
    requireEngineSocket(product);
    const int64_t mib = state.range(0);
    const int children = static_cast<int>(state.range(1));
    auto client = engineClient(product);
    const std::string source = "grid-bench-fork-source";
    engineRemove(*client, source);
    engineCreateStart(*client, source, cliImage(product));
    engineExecChecked(client, source,
                      "mkdir -p /srv/bench && head -c " + std::to_string(mib << 20) +
                          " /dev/urandom > /srv/bench/data && sync");
    LatencyRecorder latencies;
    for (auto _ : state) {
      std::string image;
      latencies.time([&] {
        image = engineCommit(*client, source);
        runParallel(children, children, [&](int i) {
          engineCreateStart(*client, "grid-bench-fork-child-" + std::to_string(i), image);
        });
      });
      for (int i = 0; i < children; ++i) {
        engineRemove(*client, "grid-bench-fork-child-" + std::to_string(i));
      }
      (void)client->request("DELETE", "/images/" + image);
    }
    engineRemove(*client, source);
    latencies.report(state);
    state.counters["per_child_p50_ms"] = latencies.percentileMs(50) / static_cast<double>(children);
  });
}

// --- rollouts: fork from a prepared sandbox against a cold start with the setup replayed -----

constexpr int kRolloutWorkers = 4;
constexpr int kRolloutExecs = 10;
constexpr size_t kRolloutRunningLimit = kRolloutWorkers + 4;  // the source, and slack for deletes
// A small but real environment set-up: files to write, a directory to enter, a variable.
constexpr const char* kRolloutSetup =
    "mkdir -p /srv/rollout/src && cd /srv/rollout && head -c 4194304 /dev/urandom > blob && "
    "for i in $(seq 1 200); do echo \"def f$i(): return $i\" > src/m$i.py; done && "
    "export ROLLOUT_READY=1";

void measureRollouts(benchmark::State& state, const std::function<void()>& rollout) {
  const int count = static_cast<int>(state.range(0));
  std::mutex mutex;
  LatencyRecorder rollouts;
  Clock::duration elapsed{};
  for (auto _ : state) {
    const auto begin = Clock::now();
    runParallel(count, kRolloutWorkers, [&](int) {
      const auto started = Clock::now();
      rollout();
      std::lock_guard lock(mutex);
      rollouts.add(Clock::now() - started);
    });
    elapsed += Clock::now() - begin;
  }
  state.counters["rollouts_per_s"] = count * static_cast<double>(state.iterations()) /
                                     std::chrono::duration<double>(elapsed).count();
  rollouts.report(state, "rollout_");
}

void rolloutExecs(GridClient& client, const std::string& id) {
  // The state the setup left must be there: cwd, variable, files.
  client.exec(id, "test \"$ROLLOUT_READY\" = 1 && test -f src/m200.py");
  for (int i = 1; i < kRolloutExecs; ++i) client.exec(id, "cat src/m" + std::to_string(i) + ".py");
}

void gridForkRollouts(benchmark::State& state, const std::string& backend_name) {
  guarded(state, [&] {
    const BackendTarget backend = requireBackend(backend_name);
    const int port = GridServer::acquire(backend, kRolloutRunningLimit).port();
    GridClient owner(port);
    const std::string source = owner.createAndStart(backend.image);
    owner.exec(source, kRolloutSetup, 300);
    measureRollouts(state, [&] {
      GridClient client(port);
      auto answer = client.call("POST", "/sandboxes/" + source + "/fork", "{\"count\":1}");
      if (answer.status != 201) {
        throw std::runtime_error("fork: HTTP " + std::to_string(answer.status) + " " +
                                 answer.body.substr(0, 300));
      }
      const auto ids = childIds(answer.body);
      if (ids.size() != 1) throw std::runtime_error("fork: no child in " + answer.body);
      rolloutExecs(client, ids[0]);
      client.remove(ids[0]);
    });
    owner.remove(source);
  });
}

void gridColdRollouts(benchmark::State& state, const std::string& backend_name) {
  guarded(state, [&] {
    const BackendTarget backend = requireBackend(backend_name);
    const int port = GridServer::acquire(backend, kRolloutRunningLimit).port();
    measureRollouts(state, [&] {
      GridClient client(port);
      const std::string id = client.createAndStart(backend.image);
      client.exec(id, kRolloutSetup, 300);
      rolloutExecs(client, id);
      client.remove(id);
    });
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
  for (const std::string product : {"docker", "podman"}) {
    for (int64_t mib : sizes) {
      for (int64_t count : counts) {
        benchmark::RegisterBenchmark(("fork/baseline/engine_api/" + product + "/" +
                                      std::to_string(mib) + "MiB/children:" + std::to_string(count))
                                         .c_str(),
                                     engineFork, product)
            ->Args({mib, count})
            ->Iterations(iterations(count > 1 ? 2 : 5))
            ->UseRealTime()
            ->Unit(benchmark::kMillisecond);
      }
    }
  }
  const int64_t rollouts = smoke() ? 2 : 100;
  for (const std::string backend : {"local-namespace", "docker", "podman"}) {
    benchmark::RegisterBenchmark(("rollout/fork/grid/" + backend).c_str(), gridForkRollouts,
                                 backend)
        ->Arg(rollouts)
        ->Iterations(1)
        ->UseRealTime()
        ->Unit(benchmark::kMillisecond);
    benchmark::RegisterBenchmark(("rollout/cold/grid/" + backend).c_str(), gridColdRollouts,
                                 backend)
        ->Arg(rollouts)
        ->Iterations(1)
        ->UseRealTime()
        ->Unit(benchmark::kMillisecond);
  }
}

}  // namespace grid::bench
