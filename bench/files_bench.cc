// Files in and out: Grid's `PUT/GET /sandboxes/{id}/files?path=` (raw bytes) against
// `docker cp` / `podman cp` of the same sizes. Each iteration moves the whole file once;
// counters give MiB/s and how much the `grid serve` process's peak RSS (VmHWM) grew while the
// transfers ran, which stays flat when nothing holds a whole file.
#include "files_bench.h"

#include <Poco/Net/HTTPClientSession.h>
#include <Poco/Net/HTTPRequest.h>
#include <Poco/Net/HTTPResponse.h>
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <istream>
#include <stdexcept>
#include <string>
#include <vector>

#include "baselines.h"
#include "bench_support.h"
#include "grid_server.h"

namespace grid::bench {
namespace {

constexpr size_t kRunningLimit = 10;
constexpr char kSandboxPath[] = "/tmp/grid-bench-file";

// A megabyte of pattern bytes (not zeros: nothing on the way may get away with compressing).
const std::string& patternMegabyte() {
  static const std::string block = [] {
    std::string bytes(1 << 20, '\0');
    for (size_t i = 0; i < bytes.size(); ++i) bytes[i] = static_cast<char>((i * 131 + 7) % 251);
    return bytes;
  }();
  return block;
}

std::string sizeName(int64_t bytes) {
  return bytes >= (1 << 30) ? std::to_string(bytes >> 30) + "GiB"
                            : std::to_string(bytes >> 20) + "MiB";
}

void reportThroughput(benchmark::State& state, const LatencyRecorder& latencies, int64_t bytes) {
  latencies.report(state);
  state.SetBytesProcessed(bytes * static_cast<int64_t>(state.iterations()));
  const double seconds = latencies.percentileMs(50) / 1000.0;
  if (seconds > 0) state.counters["mib_per_s"] = static_cast<double>(bytes >> 20) / seconds;
}

// A scratch directory on the host with a file of `bytes` pattern bytes; removed with it.
class HostFile {
 public:
  explicit HostFile(int64_t bytes) {
    char dir_template[] = "/tmp/grid-bench-files.XXXXXX";
    if (mkdtemp(dir_template) == nullptr) throw std::runtime_error("mkdtemp failed");
    dir_ = dir_template;
    path_ = dir_ + "/data";
    std::ofstream out(path_, std::ios::binary);
    for (int64_t written = 0; written < bytes;) {
      const int64_t n = std::min<int64_t>(bytes - written, 1 << 20);
      out.write(patternMegabyte().data(), n);
      written += n;
    }
    if (!out) throw std::runtime_error("writing " + path_ + " failed");
  }
  ~HostFile() {
    std::error_code ignored;
    std::filesystem::remove_all(dir_, ignored);
  }
  const std::string& dir() const { return dir_; }
  const std::string& path() const { return path_; }

 private:
  std::string dir_;
  std::string path_;
};

std::string filesPath(const std::string& id) {
  return "/sandboxes/" + id + "/files?path=" + kSandboxPath;
}

// PUT the file's bytes (Content-Length) from the pattern, never holding more than 1 MiB.
void gridPut(int port, const std::string& id, int64_t bytes) {
  Poco::Net::HTTPClientSession session("127.0.0.1", static_cast<Poco::UInt16>(port));
  session.setTimeout(Poco::Timespan(600, 0));
  Poco::Net::HTTPRequest request("PUT", filesPath(id), Poco::Net::HTTPMessage::HTTP_1_1);
  request.setContentLength64(bytes);
  request.setContentType("application/octet-stream");
  std::ostream& out = session.sendRequest(request);
  for (int64_t sent = 0; sent < bytes;) {
    const int64_t n = std::min<int64_t>(bytes - sent, 1 << 20);
    out.write(patternMegabyte().data(), n);
    sent += n;
  }
  Poco::Net::HTTPResponse response;
  std::istream& in = session.receiveResponse(response);
  std::string body((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (response.getStatus() / 100 != 2) {
    throw std::runtime_error("PUT files: " + std::to_string(response.getStatus()) + " " + body);
  }
}

// GET the file's bytes and count them (dropped as they arrive).
void gridGet(int port, const std::string& id, int64_t bytes) {
  Poco::Net::HTTPClientSession session("127.0.0.1", static_cast<Poco::UInt16>(port));
  session.setTimeout(Poco::Timespan(600, 0));
  Poco::Net::HTTPRequest request("GET", filesPath(id), Poco::Net::HTTPMessage::HTTP_1_1);
  session.sendRequest(request);
  Poco::Net::HTTPResponse response;
  std::istream& in = session.receiveResponse(response);
  std::vector<char> buffer(1 << 20);
  int64_t received = 0;
  std::string start;
  while (in.read(buffer.data(), static_cast<std::streamsize>(buffer.size())) || in.gcount() > 0) {
    if (start.size() < 1000) start.append(buffer.data(), std::min<size_t>(in.gcount(), 1000));
    received += in.gcount();
  }
  if (response.getStatus() != 200 || received != bytes) {
    throw std::runtime_error("GET files: " + std::to_string(response.getStatus()) + ", " +
                             std::to_string(received) + " of " + std::to_string(bytes) +
                             " bytes: " + start.substr(0, 300));
  }
}

// Grid upload or download of `bytes` through the backend's server, with its peak RSS growth.
void gridFiles(benchmark::State& state, const std::string& backend_name, bool upload) {
  guarded(state, [&] {
    const int64_t bytes = state.range(0);
    const BackendTarget backend = requireBackend(backend_name);
    GridServer& server = GridServer::acquire(backend, kRunningLimit);
    GridClient client(server.port());
    const std::string id = client.createAndStart(backend.image);
    if (!upload) gridPut(server.port(), id, bytes);
    const ProcStatus before = readProcStatus(server.pid());
    resetPeakRss(server.pid());
    LatencyRecorder latencies;
    for (auto _ : state) {
      latencies.time([&] {
        if (upload) {
          gridPut(server.port(), id, bytes);
        } else {
          gridGet(server.port(), id, bytes);
        }
      });
    }
    const ProcStatus after = readProcStatus(server.pid());
    client.remove(id);
    reportThroughput(state, latencies, bytes);
    state.counters["rss_before_mb"] = static_cast<double>(before.rss_kb) / 1024.0;
    state.counters["peak_growth_mb"] = static_cast<double>(after.hwm_kb - before.rss_kb) / 1024.0;
  });
}

// `docker cp` / `podman cp` of the same bytes from and to a host file.
void cliCopy(benchmark::State& state, const std::string& cli, bool upload) {
  guarded(state, [&] {
    const int64_t bytes = state.range(0);
    requireCli(cli);
    HostFile file(bytes);
    CliContainer container(cli);
    const std::string remote = container.id() + ":" + kSandboxPath;
    if (!upload) runChecked({cli, "cp", file.path(), remote}, cliEnv(cli));
    const std::string copy = file.dir() + "/copy";
    LatencyRecorder latencies;
    for (auto _ : state) {
      latencies.time([&] {
        if (upload) {
          runChecked({cli, "cp", file.path(), remote}, cliEnv(cli));
        } else {
          runChecked({cli, "cp", remote, copy}, cliEnv(cli));
        }
      });
      if (!upload) std::filesystem::remove(copy);
    }
    reportThroughput(state, latencies, bytes);
  });
}

}  // namespace

void registerFileBenchmarks() {
  // The smoke run moves 1 MiB only; the full run 1 MiB, 100 MiB and 1 GiB.
  const std::vector<int64_t> sizes =
      smoke() ? std::vector<int64_t>{1 << 20}
              : std::vector<int64_t>{1 << 20, 100 << 20, int64_t{1} << 30};
  auto add = [](const std::string& name, int64_t bytes, auto fn, auto... args) {
    const int64_t rounds = bytes >= (int64_t{1} << 30) ? 2 : bytes >= (100 << 20) ? 3 : 20;
    benchmark::RegisterBenchmark((name + "/" + sizeName(bytes)).c_str(), fn, args...)
        ->Arg(bytes)
        ->Iterations(iterations(rounds))
        ->UseRealTime()
        ->Unit(benchmark::kMillisecond);
  };
  for (int64_t bytes : sizes) {
    for (const std::string cli : {"docker", "podman"}) {
      add("files/baseline/" + cli + "_cp_upload", bytes, cliCopy, cli, true);
      add("files/baseline/" + cli + "_cp_download", bytes, cliCopy, cli, false);
    }
  }
  // Grid, one backend after the other so each needs one server start.
  for (const std::string backend : {"docker", "podman"}) {
    for (int64_t bytes : sizes) {
      add("files/grid/" + backend + "/upload", bytes, gridFiles, backend, true);
      add("files/grid/" + backend + "/download", bytes, gridFiles, backend, false);
    }
  }
}

}  // namespace grid::bench
