// The port proxy (docs/ports.md) against a direct connection into the sandbox's network
// namespace: request latency (a 100-byte file, one request per connection as the proxy makes
// upstream) and the throughput of a 100 MiB download, from `python3 -m http.server` on the
// sandbox's loopback. The direct path is what the proxy adds its work to: a socket made in the
// namespace (netns_socket.h) and a plain HTTP/1.0 exchange.
#include "port_bench.h"

#include <Poco/Net/HTTPClientSession.h>
#include <Poco/Net/HTTPRequest.h>
#include <Poco/Net/HTTPResponse.h>
#include <fcntl.h>

#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "bench_support.h"
#include "grid_server.h"
#include "net/netns_socket.h"

namespace grid::bench {
namespace {

constexpr size_t kRunningLimit = 10;
constexpr int kPort = 18123;  // unique, so the server's host pid can be found by its command line
constexpr int64_t kLargeBytes = 100 << 20;

// GET through Grid's proxy; returns the body's size.
int64_t proxyGet(int port, const std::string& id, const std::string& file) {
  Poco::Net::HTTPClientSession session("127.0.0.1", static_cast<Poco::UInt16>(port));
  session.setTimeout(Poco::Timespan(120, 0));
  Poco::Net::HTTPRequest request(
      "GET", "/sandboxes/" + id + "/ports/" + std::to_string(kPort) + "/" + file,
      Poco::Net::HTTPMessage::HTTP_1_1);
  session.sendRequest(request);
  Poco::Net::HTTPResponse response;
  std::istream& in = session.receiveResponse(response);
  std::vector<char> buffer(1 << 16);
  int64_t received = 0;
  while (in.read(buffer.data(), static_cast<std::streamsize>(buffer.size())) || in.gcount() > 0) {
    received += in.gcount();
  }
  if (response.getStatus() != 200) {
    throw std::runtime_error("proxy GET " + file + ": " + std::to_string(response.getStatus()));
  }
  return received;
}

// GET over a socket made in the namespace directly; returns the answer's size (head included).
int64_t directGet(int netns_fd, const std::string& file) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(120);
  auto socket = connectLoopbackInNamespace(netns_fd, kPort, deadline);
  if (!socket.ok()) throw std::runtime_error(socket.error().message);
  const std::string request = "GET /" + file + " HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n";
  if (auto sent = sendAllBy(socket.value().get(), request, deadline); !sent.ok()) {
    throw std::runtime_error(sent.error().message);
  }
  std::vector<char> buffer(1 << 16);
  int64_t received = 0;
  for (;;) {
    auto got = receiveBy(socket.value().get(), buffer.data(), buffer.size(), deadline);
    if (!got.ok()) throw std::runtime_error(got.error().message);
    if (got.value() == 0) break;
    received += static_cast<int64_t>(got.value());
  }
  return received;
}

// The network namespace of the sandbox's http.server, found by its command line on the host.
OwnedFd serverNamespace() {
  const std::string needle = "http.server" + std::string(1, '\0') + std::to_string(kPort);
  for (const auto& entry : std::filesystem::directory_iterator("/proc")) {
    const std::string name = entry.path().filename();
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    std::ifstream cmdline(entry.path() / "cmdline");
    const std::string text((std::istreambuf_iterator<char>(cmdline)), {});
    if (text.find(needle) == std::string::npos) continue;
    const int fd = ::open((entry.path() / "ns/net").c_str(), O_RDONLY | O_CLOEXEC);
    if (fd >= 0) return OwnedFd(fd);
  }
  throw std::runtime_error("the sandbox's http.server on port " + std::to_string(kPort) +
                           " is not visible in the host's /proc");
}

void portProxy(benchmark::State& state, const std::string& backend_name, bool direct, bool large) {
  guarded(state, [&] {
    const BackendTarget backend = requireBackend(backend_name);
    GridServer& server = GridServer::acquire(backend, kRunningLimit);
    GridClient client(server.port());
    const std::string id = client.createAndStart(backend.image);
    client.exec(id, "mkdir -p /tmp/www && head -c 100 /dev/zero > /tmp/www/small && head -c " +
                        std::to_string(kLargeBytes) +
                        " /dev/zero > /tmp/www/large && cd /tmp/www && "
                        "(nohup python3 -m http.server " +
                        std::to_string(kPort) + " --bind 127.0.0.1 > /dev/null 2>&1 &)");
    for (int i = 0; i < 200; ++i) {  // until it listens (bounded)
      try {
        proxyGet(server.port(), id, "small");
        break;
      } catch (const std::exception&) {
        if (i == 199) throw;
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
      }
    }
    const OwnedFd netns = serverNamespace();
    const std::string file = large ? "large" : "small";
    LatencyRecorder latencies;
    int64_t bytes = 0;
    for (auto _ : state) {
      latencies.time([&] {
        bytes = direct ? directGet(netns.get(), file) : proxyGet(server.port(), id, file);
      });
    }
    client.remove(id);
    latencies.report(state, "");
    if (large) {
      state.counters["MiB"] = benchmark::Counter(
          static_cast<double>(bytes) * static_cast<double>(state.iterations()) / (1 << 20),
          benchmark::Counter::kIsRate);
    }
  });
}

}  // namespace

void registerPortBenchmarks() {
  for (const std::string backend : {"local-namespace", "docker", "podman"}) {
    for (const bool large : {false, true}) {
      for (const bool direct : {false, true}) {
        const std::string name = std::string("ports/") + (direct ? "direct/" : "grid/") + backend +
                                 (large ? "/download_100MiB" : "/latency");
        benchmark::RegisterBenchmark(name.c_str(), portProxy, backend, direct, large)
            ->Iterations(iterations(large ? 5 : 200))
            ->UseRealTime()
            ->Unit(benchmark::kMillisecond);
      }
    }
  }
}

}  // namespace grid::bench
