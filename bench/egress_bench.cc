// The egress path: from a networked sandbox to a server in a network namespace the benchmark
// makes (veth + route from the host, as the egress tests do), with the base rules alone
// ("base": no policy) or under a policy of 64 allow and 16 deny rules ("policy"). Each
// iteration runs, inside the sandbox, 200 connect + 1-byte round trips and one 64 MiB upload;
// counters: connect_rtt_p50_us (connect, send a byte, get it back) and upload_MBps.
#include "egress_bench.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

#include "bench_support.h"
#include "grid_server.h"
#include "network/netns_exec.h"

namespace grid::bench {
namespace {

// The far end: a namespace with 198.18.250.2 behind a veth, and a server there that echoes
// what it gets ("e" first) or swallows it and answers "done" at the end ("s" first).
class FarEnd {
 public:
  FarEnd() {
    const std::string ns = "egress-bench-far";
    cleanup();
    for (const std::string& command : std::vector<std::string>
         {"ip netns add " + ns, "ip link add gbeh type veth peer name gbeu",
          "ip link set gbeu netns " + ns, "ip addr add 198.18.250.1/24 dev gbeh",
          "ip link set gbeh up", "ip -n " + ns + " link set lo up",
          "ip -n " + ns + " addr add 198.18.250.2/24 dev gbeu", "ip -n " + ns + " link set gbeu up",
          "ip -n " + ns + " route add default via 198.18.250.1"}) {
      if (std::system((command + " >/dev/null 2>&1").c_str()) != 0) {
        cleanup();
        throw Unavailable("`" + command + "` failed (root and iproute2 needed)");
      }
    }
    const int netns = ::open(("/run/netns/" + ns).c_str(), O_RDONLY | O_CLOEXEC);
    (void)runInNetworkNamespace(netns, [&]() -> Result<void> {
      listen_fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
      sockaddr_in a{};
      a.sin_family = AF_INET;
      a.sin_port = htons(7000);
      inet_pton(AF_INET, "198.18.250.2", &a.sin_addr);
      const int one = 1;
      ::setsockopt(listen_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
      if (::bind(listen_fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
          ::listen(listen_fd_, 256) != 0) {
        ::close(listen_fd_);
        listen_fd_ = -1;
      }
      return {};
    });
    if (netns >= 0) ::close(netns);
    if (listen_fd_ < 0) {
      cleanup();
      throw Unavailable("cannot listen on 198.18.250.2:7000 in the benchmark's namespace");
    }
    thread_ = std::thread([this] { serve(); });
  }
  ~FarEnd() {
    stopping_ = true;
    ::shutdown(listen_fd_, SHUT_RDWR);
    thread_.join();
    ::close(listen_fd_);
    cleanup();
  }

 private:
  static void cleanup() {
    (void)std::system(
        "ip link del gbeh >/dev/null 2>&1; ip netns del egress-bench-far "
        ">/dev/null 2>&1");
  }
  void serve() {
    while (!stopping_) {
      const int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (fd < 0) continue;
      // One connection at a time is all the sandbox's client opens.
      char buffer[1 << 16];
      char mode = 0;
      if (::recv(fd, &mode, 1, 0) == 1) {
        if (mode == 'e') {
          (void)::send(fd, &mode, 1, MSG_NOSIGNAL);
        } else {
          while (::recv(fd, buffer, sizeof buffer, 0) > 0) {
          }
          (void)::send(fd, "done", 4, MSG_NOSIGNAL);
        }
      }
      ::close(fd);
    }
  }
  int listen_fd_ = -1;
  std::atomic<bool> stopping_{false};
  std::thread thread_;
};

const char* kClient = R"(python3 -c '
import socket, time
rtts = []
for i in range(200):
    t = time.perf_counter()
    s = socket.create_connection(("198.18.250.2", 7000))
    s.sendall(b"e"); s.recv(1); s.close()
    rtts.append(time.perf_counter() - t)
rtts.sort()
s = socket.create_connection(("198.18.250.2", 7000))
chunk = b"x" * (1 << 20)
t = time.perf_counter()
s.sendall(b"s")
for i in range(64): s.sendall(chunk)
s.shutdown(socket.SHUT_WR); s.recv(4)
print("%d %.1f" % (rtts[100] * 1e6, 64 / (time.perf_counter() - t)))
')";

void gridEgress(benchmark::State& state, const std::string& backend_name, bool policy) {
  guarded(state, [&] {
    const BackendTarget backend = requireBackend(backend_name);
    FarEnd far_end;
    GridServer& server = GridServer::acquire(backend, 2);
    GridClient client(server.port());
    std::string fields = ", \"network\": true";
    if (policy) {
      std::string allow = "\"198.18.250.0/24:7000\"", deny;
      for (int i = 0; i < 63; ++i) allow += ", \"10." + std::to_string(i) + ".0.0/16\"";
      for (int i = 0; i < 16; ++i) {
        deny += std::string(i ? ", " : "") + "\"192.0.2." + std::to_string(i) + "\"";
      }
      fields =
          ", \"network\": {\"egress\": {\"allow\": [" + allow + "], \"deny\": [" + deny + "]}}";
    }
    const std::string id = client.createAndStart(backend.image, fields);
    double rtt_us = 0, mbps = 0;
    int rounds = 0;
    for (auto _ : state) {
      const auto answer = client.call(
          "POST", "/sandboxes/" + id + "/exec", "{\"command\": " + std::string("\"") + [&] {
            std::string escaped;
            for (const char c : std::string(kClient)) {
              if (c == '"' || c == '\\') escaped += '\\';
              if (c == '\n') {
                escaped += "\\n";
                continue;
              }
              escaped += c;
            }
            return escaped;
          }() + "\", \"timeout\": 300}");
      const size_t at = answer.body.find("\"output\":\"");
      if (answer.status != 200 || at == std::string::npos) {
        client.remove(id);
        throw std::runtime_error("exec: HTTP " + std::to_string(answer.status) + " " +
                                 answer.body.substr(0, 300));
      }
      double rtt = 0, rate = 0;
      if (std::sscanf(answer.body.c_str() + at + 10, "%lf %lf", &rtt, &rate) != 2) {
        client.remove(id);
        throw std::runtime_error("the client in the sandbox failed: " + answer.body.substr(0, 300));
      }
      rtt_us += rtt;
      mbps += rate;
      ++rounds;
    }
    client.remove(id);
    state.counters["connect_rtt_p50_us"] = rounds ? rtt_us / rounds : 0;
    state.counters["upload_MBps"] = rounds ? mbps / rounds : 0;
  });
}

}  // namespace

void registerEgressBenchmarks() {
  // local-namespace joins once its network (veth + NAT) is in.
  for (const std::string backend : {"docker", "podman"}) {
    for (const bool policy : {false, true}) {
      benchmark::RegisterBenchmark(
          ("egress/grid/" + backend + (policy ? "/policy" : "/base")).c_str(), gridEgress, backend,
          policy)
          ->Iterations(iterations(3))
          ->UseRealTime()
          ->Unit(benchmark::kMillisecond);
    }
  }
}

}  // namespace grid::bench
