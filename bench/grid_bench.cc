// grid_bench: Grid against its baselines in one run. Every benchmark uses wall-clock time and
// a fixed iteration count (setup such as starting containers runs once per benchmark), and
// reports per-iteration latency percentiles as counters (*_ms). Run with --smoke for one
// iteration of everything at small sizes (the ctest smoke test).
#include <Poco/Net/HTTPClientSession.h>
#include <Poco/Net/HTTPRequest.h>
#include <Poco/Net/HTTPResponse.h>
#include <benchmark/benchmark.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <functional>
#include <iostream>
#include <string>
#include <thread>
#include <vector>

#include "baselines.h"
#include "bench_support.h"
#include "files_bench.h"
#include "egress_bench.h"
#include "fork_bench.h"
#include "port_bench.h"
#include "grid_server.h"
#include "pause_bench.h"
#include "pool_bench.h"

namespace grid::bench {
namespace {

// The running limit of throughput runs (and of Grid's default configuration).
constexpr size_t kRunningLimit = 10;
// Scale runs hold up to 100 idle sandboxes plus one measured: all must run at once.
constexpr size_t kScaleRunningLimit = 110;
constexpr int kExecsPerLifecycle = 10;
constexpr int kClientWorkers = 10;
constexpr char kHundredMegabytes[] = "yes | head -c 100000000";

const std::vector<std::string> kBackends = {"docker", "podman", "local-namespace"};

// --- exec round trips ------------------------------------------------------------------------

void gridExec(benchmark::State& state, const std::string& backend_name) {
  guarded(state, [&] {
    const BackendTarget backend = requireBackend(backend_name);
    GridClient client(GridServer::acquire(backend, kRunningLimit).port());
    const std::string id = client.createAndStart(backend.image);
    LatencyRecorder latencies;
    for (auto _ : state) latencies.time([&] { client.exec(id, "true"); });
    client.remove(id);
    latencies.report(state);
  });
}

void cliExec(benchmark::State& state, const std::string& cli) {
  guarded(state, [&] {
    requireCli(cli);
    CliContainer container(cli);
    LatencyRecorder latencies;
    for (auto _ : state) {
      latencies.time([&] { runChecked({cli, "exec", container.id(), "true"}, cliEnv(cli)); });
    }
    latencies.report(state);
  });
}

void engineExec(benchmark::State& state, const std::string& product) {
  guarded(state, [&] {
    auto client = engineClient(product);
    const std::string name = "grid-bench-api-exec";
    engineRemove(*client, name);
    engineCreateStart(*client, name, cliImage(product));
    LatencyRecorder latencies;
    try {
      for (auto _ : state) latencies.time([&] { engineExecTrue(client, name); });
    } catch (...) {
      engineRemove(*client, name);
      throw;
    }
    engineRemove(*client, name);
    latencies.report(state);
  });
}

void pipeFloor(benchmark::State& state) {
  guarded(state, [&] {
    BashPipe bash;
    LatencyRecorder latencies;
    for (auto _ : state) latencies.time([&] { bash.roundTrip(); });
    latencies.report(state);
  });
}

void httpFloor(benchmark::State& state) {
  guarded(state, [&] {
    LoopbackHttpServer server;
    Poco::Net::HTTPClientSession session("127.0.0.1", static_cast<Poco::UInt16>(server.port()));
    session.setKeepAlive(true);
    LatencyRecorder latencies;
    std::string body;
    for (auto _ : state) {
      latencies.time([&] {
        Poco::Net::HTTPRequest request("GET", "/", Poco::Net::HTTPMessage::HTTP_1_1);
        request.setKeepAlive(true);
        session.sendRequest(request);
        Poco::Net::HTTPResponse response;
        std::istream& in = session.receiveResponse(response);
        body.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
      });
    }
    latencies.report(state);
  });
}

// --- sandbox create+start and delete ---------------------------------------------------------

// `extra_fields` go into the create body: ", \"network\": true" measures the start with
// networking (local-namespace: veth + NAT; target: within 5 ms of the start without).
void gridLifecycle(benchmark::State& state, const std::string& backend_name,
                   const std::string& extra_fields) {
  guarded(state, [&] {
    const BackendTarget backend = requireBackend(backend_name);
    GridClient client(GridServer::acquire(backend, kRunningLimit).port());
    LatencyRecorder create_start;
    LatencyRecorder remove;
    for (auto _ : state) {
      std::string id;
      create_start.time([&] { id = client.createAndStart(backend.image, extra_fields); });
      remove.time([&] { client.remove(id); });
    }
    create_start.report(state, "create_start_");
    remove.report(state, "delete_");
  });
}

void cliLifecycle(benchmark::State& state, const std::string& cli) {
  guarded(state, [&] {
    requireCli(cli);
    LatencyRecorder create_start;
    LatencyRecorder remove;
    for (auto _ : state) {
      std::string id;
      create_start.time([&] { id = cliRun(cli); });
      remove.time([&] { cliRemove(cli, id); });
    }
    create_start.report(state, "create_start_");
    remove.report(state, "delete_");
  });
}

void engineLifecycle(benchmark::State& state, const std::string& product) {
  guarded(state, [&] {
    auto client = engineClient(product);
    const std::string name = "grid-bench-api-lifecycle";
    engineRemove(*client, name);
    LatencyRecorder create_start;
    LatencyRecorder remove;
    for (auto _ : state) {
      create_start.time([&] { engineCreateStart(*client, name, cliImage(product)); });
      remove.time([&] { engineRemove(*client, name); });
    }
    create_start.report(state, "create_start_");
    remove.report(state, "delete_");
  });
}

void commandLatency(benchmark::State& state, const std::vector<std::string>& argv) {
  LatencyRecorder latencies;
  for (auto _ : state) latencies.time([&] { runChecked(argv); });
  latencies.report(state);
}

void unshareBaseline(benchmark::State& state) {
  guarded(state, [&] {
    if (!haveExecutable("unshare")) throw Unavailable("unshare is not installed");
    if (geteuid() != 0) throw Unavailable("unshare of pid/mount/net namespaces needs root");
    commandLatency(state, {"unshare", "--pid", "--mount", "--uts", "--ipc", "--net", "--fork",
                           "--mount-proc", "true"});
  });
}

void bwrapBaseline(benchmark::State& state) {
  guarded(state, [&] {
    if (!haveExecutable("bwrap"))
      throw ToolMissing("bwrap is not installed (apt-get install bubblewrap)");
    const std::string rootfs = requireRootfs();
    commandLatency(
        state, {"bwrap", "--ro-bind", rootfs, "/", "--proc", "/proc", "--dev", "/dev", "--tmpfs",
                "/tmp", "--unshare-all", "--die-with-parent", "/bin/bash", "-c", "true"});
  });
}

void overlayBaseline(benchmark::State& state) {
  guarded(state, [&] {
    OverlayMounter overlay(requireRootfs());
    LatencyRecorder latencies;
    for (auto _ : state) latencies.time([&] { overlay.mountAndUnmount(); });
    latencies.report(state);
  });
}

// --- throughput: N lifecycles (create, start, 10 execs, delete), 10 at a time ---------------

// Runs state.range(0) lifecycles per iteration on kClientWorkers threads; reports lifecycles/s
// and the latency of one lifecycle.
void measureLifecycles(benchmark::State& state, const std::function<void()>& lifecycle) {
  const int count = static_cast<int>(state.range(0));
  std::mutex mutex;
  LatencyRecorder lifecycles;
  Clock::duration elapsed{};
  for (auto _ : state) {
    const auto begin = Clock::now();
    runParallel(count, kClientWorkers, [&](int) {
      const auto started = Clock::now();
      lifecycle();
      std::lock_guard lock(mutex);
      lifecycles.add(Clock::now() - started);
    });
    elapsed += Clock::now() - begin;
  }
  state.counters["lifecycles_per_s"] =
      count * static_cast<double>(state.iterations()) / std::chrono::duration<double>(elapsed).count();
  lifecycles.report(state, "lifecycle_");
}

void gridThroughput(benchmark::State& state, const std::string& backend_name) {
  guarded(state, [&] {
    const BackendTarget backend = requireBackend(backend_name);
    const int port = GridServer::acquire(backend, kRunningLimit).port();
    measureLifecycles(state, [&] {
      GridClient client(port);
      const std::string id = client.createAndStart(backend.image);
      for (int i = 0; i < kExecsPerLifecycle; ++i) client.exec(id, "true");
      client.remove(id);
    });
  });
}

void cliThroughput(benchmark::State& state, const std::string& cli) {
  guarded(state, [&] {
    requireCli(cli);
    measureLifecycles(state, [&] {
      CliContainer container(cli);
      for (int i = 0; i < kExecsPerLifecycle; ++i) {
        runChecked({cli, "exec", container.id(), "true"}, cliEnv(cli));
      }
    });
  });
}

// --- scale: server footprint with N idle sandboxes, exec latency with N busy ----------------

void gridScale(benchmark::State& state, const std::string& backend_name) {
  guarded(state, [&] {
    const BackendTarget backend = requireBackend(backend_name);
    GridServer& server = GridServer::acquire(backend, kScaleRunningLimit);
    const int port = server.port();
    const int count = static_cast<int>(state.range(0));
    const ProcStatus before = readProcStatus(server.pid());

    std::vector<std::string> ids(static_cast<size_t>(count));
    runParallel(count, kClientWorkers, [&](int i) {
      ids[static_cast<size_t>(i)] = GridClient(port).createAndStart(backend.image);
    });
    // Let sessions finish their start-up output and the allocator settle before reading.
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
    const ProcStatus idle = readProcStatus(server.pid());
    state.counters["rss_mb"] = static_cast<double>(idle.rss_kb) / 1024.0;
    state.counters["threads"] = idle.threads;
    if (count > 0) {
      state.counters["rss_per_sandbox_kb"] =
          static_cast<double>(idle.rss_kb - before.rss_kb) / count;
      state.counters["threads_per_sandbox"] =
          static_cast<double>(idle.threads - before.threads) / count;
    }

    GridClient client(port);
    const std::string target = client.createAndStart(backend.image);
    // Each busy sandbox holds one long exec (and so one server thread and session) open; they
    // end when their sandbox is deleted below.
    std::vector<std::thread> busy;
    for (const auto& id : ids) {
      busy.emplace_back([port, id] {
        try {
          GridClient(port).call("POST", "/sandboxes/" + id + "/exec",
                                "{\"command\": \"sleep 600\", \"timeout\": 900}");
        } catch (const std::exception&) {
          // the sandbox was deleted under the exec: expected
        }
      });
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(count > 0 ? 1000 : 0));
    LatencyRecorder latencies;
    try {
      for (auto _ : state) latencies.time([&] { client.exec(target, "true"); });
    } catch (...) {
      GridServer::stopCurrent();  // removes everything, which also ends the busy execs
      for (auto& thread : busy) thread.join();
      throw;
    }
    runParallel(count, kClientWorkers,
                [&](int i) { GridClient(port).remove(ids[static_cast<size_t>(i)]); });
    for (auto& thread : busy) thread.join();
    client.remove(target);
    latencies.report(state, "busy_exec_");
  });
}

// --- output: an exec printing 100 MB (kept: exec.max_output_bytes) --------------------------

void gridOutput(benchmark::State& state, const std::string& backend_name) {
  guarded(state, [&] {
    const BackendTarget backend = requireBackend(backend_name);
    GridServer& server = GridServer::acquire(backend, kRunningLimit);
    GridClient client(server.port());
    const std::string id = client.createAndStart(backend.image);
    const ProcStatus before = readProcStatus(server.pid());
    resetPeakRss(server.pid());
    LatencyRecorder latencies;
    for (auto _ : state) latencies.time([&] { client.exec(id, kHundredMegabytes, 300); });
    const ProcStatus after = readProcStatus(server.pid());
    client.remove(id);
    latencies.report(state);
    state.counters["peak_rss_mb"] = static_cast<double>(after.hwm_kb) / 1024.0;
    state.counters["peak_growth_mb"] = static_cast<double>(after.hwm_kb - before.rss_kb) / 1024.0;
    state.counters["output_mb_per_s"] = 100.0 / (latencies.percentileMs(50) / 1000.0);
  });
}

// --- live output: time from sending an exec to its first output event ---------------------

// `echo x; sleep 1` with "stream": true. The iteration's time includes the second of sleep;
// first_byte_*_ms is the figure: request sent to the first output event parsed from the
// stream (the server flushes per read, without batching timers).
void gridFirstByte(benchmark::State& state, const std::string& backend_name) {
  guarded(state, [&] {
    const BackendTarget backend = requireBackend(backend_name);
    GridServer& server = GridServer::acquire(backend, kRunningLimit);
    GridClient client(server.port());
    const std::string id = client.createAndStart(backend.image);
    Poco::Net::HTTPClientSession session("127.0.0.1", static_cast<Poco::UInt16>(server.port()));
    session.setTimeout(Poco::Timespan(60, 0));
    const std::string body = R"({"command": "echo x; sleep 1", "stream": true})";
    LatencyRecorder first_byte;
    for (auto _ : state) {
      Poco::Net::HTTPRequest request(Poco::Net::HTTPRequest::HTTP_POST,
                                     "/sandboxes/" + id + "/exec",
                                     Poco::Net::HTTPMessage::HTTP_1_1);
      request.setContentType("application/json");
      request.setContentLength(static_cast<std::streamsize>(body.size()));
      const auto sent = std::chrono::steady_clock::now();
      session.sendRequest(request) << body;
      Poco::Net::HTTPResponse response;
      std::istream& in = session.receiveResponse(response);
      if (response.getStatus() != 200) throw std::runtime_error("stream exec: HTTP error");
      std::string line;
      bool seen = false;
      bool result = false;
      while (std::getline(in, line)) {
        if (!seen && line.find("\"type\":\"output\"") != std::string::npos) {
          first_byte.add(std::chrono::steady_clock::now() - sent);
          seen = true;
        }
        if (line.find("\"type\":\"result\"") != std::string::npos) result = true;
      }
      if (!seen || !result) throw std::runtime_error("stream exec: no output or no result event");
    }
    client.remove(id);
    first_byte.report(state, "first_byte_");
  });
}

// --- registration ----------------------------------------------------------------------------

template <typename Fn, typename... Args>
benchmark::internal::Benchmark* add(const std::string& name, int64_t iterations, Fn fn,
                                    Args... args) {
  return benchmark::RegisterBenchmark(name.c_str(), fn, args...)
      ->Iterations(grid::bench::iterations(iterations))
      ->UseRealTime()
      ->Unit(benchmark::kMillisecond);
}

void registerAll() {
  // Sizes of the load benchmarks; smoke runs take the smallest that still exercise every path.
  const std::vector<int64_t> throughput_sizes =
      smoke() ? std::vector<int64_t>{4} : std::vector<int64_t>{20, 100};
  const std::vector<int64_t> scale_sizes =
      smoke() ? std::vector<int64_t>{2} : std::vector<int64_t>{0, 10, 100};

  add("exec/floor/pipe_bash", 3000, pipeFloor);
  add("exec/floor/http_loopback", 3000, httpFloor);
  add("exec/baseline/docker_cli", 30, cliExec, std::string("docker"));
  add("exec/baseline/engine_api/docker", 50, engineExec, std::string("docker"));
  add("exec/baseline/engine_api/podman", 30, engineExec, std::string("podman"));
  add("lifecycle/baseline/docker_cli", 10, cliLifecycle, std::string("docker"));
  add("lifecycle/baseline/engine_api/docker", 10, engineLifecycle, std::string("docker"));
  add("lifecycle/baseline/podman_cli", 10, cliLifecycle, std::string("podman"));
  add("lifecycle/baseline/unshare", 100, unshareBaseline);
  add("lifecycle/baseline/bwrap", 100, bwrapBaseline);
  add("lifecycle/baseline/overlay_mount", 200, overlayBaseline);
  for (int64_t size : throughput_sizes) {
    add("throughput/baseline/docker_cli", 1, cliThroughput, std::string("docker"))->Arg(size);
  }
  // Grid, one backend after the other so each needs at most two server starts.
  for (const auto& backend : kBackends) {
    const int64_t lifecycle_iterations = backend == "local-namespace" ? 50 : 10;
    add("exec/grid/" + backend, 500, gridExec, backend);
    add("lifecycle/grid/" + backend, lifecycle_iterations, gridLifecycle, backend,
        std::string());
    if (backend == "local-namespace") {
      add("lifecycle/grid_network/" + backend, lifecycle_iterations, gridLifecycle, backend,
          std::string(", \"network\": true"));
    }
    add("output/grid/" + backend, 3, gridOutput, backend);
    add("stream/first_byte/grid/" + backend, 20, gridFirstByte, backend);
    for (int64_t size : throughput_sizes) {
      add("throughput/grid/" + backend, 1, gridThroughput, backend)->Arg(size);
    }
    if (backend != "podman") {
      for (int64_t size : scale_sizes) {
        add("scale/grid/" + backend, 200, gridScale, backend)->Arg(size);
      }
    }
  }
}

}  // namespace
}  // namespace grid::bench

int main(int argc, char** argv) {
  std::vector<char*> args;
  for (int i = 0; i < argc; ++i) {
    if (std::strcmp(argv[i], "--smoke") == 0) {
      grid::bench::setSmoke(true);
    } else {
      args.push_back(argv[i]);
    }
  }
  int count = static_cast<int>(args.size());
  grid::bench::removeBaselineLeftovers();
  grid::bench::registerAll();
  grid::bench::registerFileBenchmarks();
  grid::bench::registerPauseBenchmarks();
  grid::bench::registerPoolBenchmarks();
  grid::bench::registerForkBenchmarks();
  grid::bench::registerPortBenchmarks();
  grid::bench::registerEgressBenchmarks();
  benchmark::Initialize(&count, args.data());
  if (benchmark::ReportUnrecognizedArguments(count, args.data())) return 2;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  grid::bench::GridServer::stopCurrent();
  grid::bench::removeBaselineLeftovers();
  const int failures = grid::bench::failureCount();
  if (failures > 0) {
    std::cerr << "grid_bench: " << failures << " benchmark(s) failed"
              << (grid::bench::inCi() ? " or lacked their engine under CI=true" : "") << "\n";
    return 1;
  }
  return 0;
}
