// The baselines Grid is compared with: containers made by the engines' CLIs and raw Engine API
// calls, and the physical floors (a bash round trip over a pipe, an HTTP round trip on
// loopback).
#pragma once

#include <sys/types.h>

#include <memory>
#include <string>
#include <vector>

#include "grid/engine/engine_client.h"

namespace Poco::Net {
class HTTPServer;
}

namespace grid::bench {

/// "docker" or "podman" image used by the baselines (the backends' test images).
std::string cliImage(const std::string& cli);

/// Environment the podman CLI needs on these hosts (ci/containers.conf); empty for docker.
std::vector<std::string> cliEnv(const std::string& cli);

/// Unavailable unless `cli` is installed and its engine answers.
void requireCli(const std::string& cli);

/// `CLI run -d --network none IMAGE sleep infinity`; returns the container id.
std::string cliRun(const std::string& cli);
/// `CLI rm -f` (podman: `-t 0`, or it waits the 10 s stop timeout).
void cliRemove(const std::string& cli, const std::string& id);

/// A container started by the CLI for as long as the object lives.
class CliContainer {
 public:
  explicit CliContainer(std::string cli) : cli_(std::move(cli)), id_(cliRun(cli_)) {}
  ~CliContainer() { cliRemove(cli_, id_); }
  CliContainer(const CliContainer&) = delete;
  CliContainer& operator=(const CliContainer&) = delete;
  const std::string& id() const { return id_; }

 private:
  std::string cli_;
  std::string id_;
};

/// Removes containers an interrupted run of the baselines left (label grid-bench.baseline).
void removeBaselineLeftovers();

/// A keep-alive Engine API client of `product`'s socket with the API version negotiated.
std::shared_ptr<engine::EngineClient> engineClient(const std::string& product);

/// POST /containers/create with the body Grid's docker backend sends (default limits, no
/// network, init on Docker) and POST /start. Throws on failure.
void engineCreateStart(engine::EngineClient& client, const std::string& name,
                       const std::string& image);
/// DELETE /containers/NAME?force=1&v=1. Throws on failure.
void engineRemove(engine::EngineClient& client, const std::string& name);

/// exec create + hijacked start of `true`, read to EOF (what one docker-style exec costs).
void engineExecTrue(const std::shared_ptr<engine::EngineClient>& client,
                    const std::string& container);

/// A persistent `bash` child on pipes: the floor of any session round trip.
class BashPipe {
 public:
  BashPipe();
  ~BashPipe();
  BashPipe(const BashPipe&) = delete;
  BashPipe& operator=(const BashPipe&) = delete;
  /// Writes `true; echo MARK` and reads until the marker line.
  void roundTrip();

 private:
  pid_t pid_ = -1;
  int to_bash_ = -1;
  int from_bash_ = -1;
  std::string pending_;
};

/// An in-process Poco HTTPServer on a loopback port answering every request 200 "ok".
class LoopbackHttpServer {
 public:
  LoopbackHttpServer();
  ~LoopbackHttpServer();
  int port() const { return port_; }

 private:
  std::unique_ptr<Poco::Net::HTTPServer> server_;
  int port_ = 0;
};

/// The Debian rootfs the namespace baselines run: the cached debootstrap of the test images,
/// else the unpacked local-namespace test image. Unavailable if neither exists.
std::string requireRootfs();

/// overlayfs over `lower` mounted and unmounted per call, in a scratch directory.
class OverlayMounter {
 public:
  explicit OverlayMounter(std::string lower);
  ~OverlayMounter();
  void mountAndUnmount();

 private:
  std::string lower_;
  std::string dir_;
};

}  // namespace grid::bench
