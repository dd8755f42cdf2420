// Real `grid serve` processes for the benchmarks, and a keep-alive client of their HTTP API.
#pragma once

#include <Poco/Net/HTTPClientSession.h>
#include <sys/types.h>

#include <memory>
#include <string>

namespace grid::bench {

/// A backend under test: its name, the test image it runs, and its engine's socket.
struct BackendTarget {
  std::string name;   // "docker", "podman", "local-namespace"
  std::string image;  // the test image of that backend
};

/// The backend, or Unavailable naming what is missing (plugin, engine, root, image store).
BackendTarget requireBackend(const std::string& name);

/// The Docker or Podman API socket; Unavailable if it does not answer /_ping.
std::string requireEngineSocket(const std::string& product);

/// A blocking, keep-alive client of one server. One thread at a time.
class GridClient {
 public:
  explicit GridClient(int port);

  struct Response {
    int status = 0;
    std::string body;
  };
  Response call(const std::string& method, const std::string& path,
                const std::string& json_body = "");

  /// POST /sandboxes then /start; returns the id. Throws on any non-2xx answer.
  /// `extra_fields` (", \"network\": true") go into the create body as they are.
  std::string createAndStart(const std::string& image, const std::string& extra_fields = "");
  /// One session exec; throws unless it answered 200 with exit code 0.
  void exec(const std::string& id, const std::string& command, int timeout_s = 60);
  /// DELETE /sandboxes/{id}; throws on failure.
  void remove(const std::string& id);

 private:
  std::unique_ptr<Poco::Net::HTTPClientSession> session_;
};

/// One `grid serve` child on a free port. Only one runs at a time (see acquire), so every
/// server can use the instance name grid-bench without removing another's sandboxes.
class GridServer {
 public:
  /// The running server for `backend` with `max_running` slots; stops any other first.
  /// `extra_config` is appended to its grid.ini (e.g. a [pool.NAME] section).
  static GridServer& acquire(const BackendTarget& backend, size_t max_running,
                             const std::string& extra_config = "");
  /// SIGTERM and wait: the server removes all its sandboxes before it exits.
  static void stopCurrent();

  ~GridServer();
  GridServer(const GridServer&) = delete;
  GridServer& operator=(const GridServer&) = delete;

  int port() const { return port_; }
  pid_t pid() const { return pid_; }
  const BackendTarget& backend() const { return backend_; }

 private:
  GridServer(BackendTarget backend, size_t max_running, std::string extra_config);
  void waitUntilHealthy();
  std::string logTail() const;

  BackendTarget backend_;
  size_t max_running_;
  std::string extra_config_;
  std::string work_dir_;
  int port_ = 0;
  pid_t pid_ = -1;
};

}  // namespace grid::bench
