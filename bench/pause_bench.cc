// Pause and resume: Grid's `POST /sandboxes/{id}/pause` then `/resume` on a sandbox whose
// session is open, against the Engine API's own `POST /containers/{id}/pause` and `/unpause`
// of a container the CLI started. Counters give each half and the round trip.
#include "pause_bench.h"

#include <chrono>
#include <stdexcept>
#include <string>
#include <thread>

#include "baselines.h"
#include "bench_support.h"
#include "grid_server.h"

namespace grid::bench {
namespace {

constexpr size_t kRunningLimit = 10;

void expectOk(const GridClient::Response& answer, const std::string& what) {
  if (answer.status != 200) {
    throw std::runtime_error(what + ": HTTP " + std::to_string(answer.status) + " " + answer.body);
  }
}

void gridPauseResume(benchmark::State& state, const std::string& backend_name) {
  guarded(state, [&] {
    const BackendTarget backend = requireBackend(backend_name);
    GridClient client(GridServer::acquire(backend, kRunningLimit).port());
    const std::string id = client.createAndStart(backend.image);
    LatencyRecorder pause;
    LatencyRecorder resume;
    LatencyRecorder round_trip;
    for (auto _ : state) {
      round_trip.time([&] {
        pause.time([&] { expectOk(client.call("POST", "/sandboxes/" + id + "/pause"), "pause"); });
        resume.time(
            [&] { expectOk(client.call("POST", "/sandboxes/" + id + "/resume"), "resume"); });
      });
    }
    client.exec(id, "true");  // the session answers after all those round trips
    client.remove(id);
    pause.report(state, "pause_");
    resume.report(state, "resume_");
    round_trip.report(state);
  });
}

void enginePauseResume(benchmark::State& state, const std::string& product) {
  guarded(state, [&] {
    requireCli(product);
    auto client = engineClient(product);
    CliContainer container(product);
    const auto post = [&](const std::string& action) {
      const std::string path = "/containers/" + container.id() + "/" + action;
      auto answer = client->request("POST", path);
      if (!answer.ok()) throw std::runtime_error(answer.error().message);
      if (!answer.value().ok()) {
        throw std::runtime_error(product + " POST " + path + ": HTTP " +
                                 std::to_string(answer.value().status) + " " + answer.value().body);
      }
    };
    // Untimed first round: right after `run -d` returns, Docker may still refuse a pause (409)
    // for a moment.
    for (int attempt = 0;; ++attempt) {
      try {
        post("pause");
        post("unpause");
        break;
      } catch (const std::runtime_error&) {
        if (attempt == 50) throw;
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
      }
    }
    LatencyRecorder pause;
    LatencyRecorder resume;
    LatencyRecorder round_trip;
    for (auto _ : state) {
      round_trip.time([&] {
        pause.time([&] { post("pause"); });
        resume.time([&] { post("unpause"); });
      });
    }
    pause.report(state, "pause_");
    resume.report(state, "resume_");
    round_trip.report(state);
  });
}

}  // namespace

void registerPauseBenchmarks() {
  const auto add = [](const std::string& name, int64_t rounds, auto fn, auto... args) {
    benchmark::RegisterBenchmark(name.c_str(), fn, args...)
        ->Iterations(iterations(rounds))
        ->UseRealTime()
        ->Unit(benchmark::kMillisecond);
  };
  for (const std::string product : {"docker", "podman"}) {
    add("pause/baseline/engine_api/" + product, 30, enginePauseResume, product);
  }
  for (const std::string backend : {"docker", "podman", "local-namespace"}) {
    add("pause/grid/" + backend, backend == "local-namespace" ? 200 : 30, gridPauseResume, backend);
  }
}

}  // namespace grid::bench
