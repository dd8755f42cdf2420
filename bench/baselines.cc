#include "baselines.h"

#include <Poco/Net/HTTPRequestHandler.h>
#include <Poco/Net/HTTPRequestHandlerFactory.h>
#include <Poco/Net/HTTPServer.h>
#include <Poco/Net/HTTPServerParams.h>
#include <Poco/Net/HTTPServerRequest.h>
#include <Poco/Net/HTTPServerResponse.h>
#include <Poco/Net/ServerSocket.h>
#include <Poco/Net/SocketAddress.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <stdexcept>

#include "bench_support.h"
#include "container_spec.h"
#include "grid/engine/container_ops.h"
#include "grid/engine/exec_channel.h"
#include "config/server_config.h"

namespace grid::bench {
namespace {

namespace fs = std::filesystem;

constexpr char kBaselineLabel[] = "grid-bench.baseline";
// Labels the raw-API baseline containers apart from any Grid server's sandboxes.
constexpr char kBaselineInstance[] = "grid-bench-baseline";

std::string removePath(const std::string& name) { return "/containers/" + name + "?force=1&v=1"; }
constexpr char kMarker[] = "__grid_bench_marker__";

std::string errnoText(const std::string& what) { return what + ": " + std::strerror(errno); }

class OkHandler : public Poco::Net::HTTPRequestHandler {
 public:
  void handleRequest(Poco::Net::HTTPServerRequest& request,
                     Poco::Net::HTTPServerResponse& response) override {
    request.stream().ignore(std::numeric_limits<std::streamsize>::max());
    response.setKeepAlive(request.getKeepAlive());
    response.setContentLength(2);
    response.send() << "ok";
  }
};

class OkFactory : public Poco::Net::HTTPRequestHandlerFactory {
 public:
  Poco::Net::HTTPRequestHandler* createRequestHandler(
      const Poco::Net::HTTPServerRequest&) override {
    return new OkHandler;
  }
};

}  // namespace

std::string cliImage(const std::string& cli) {
  return cli == "docker" ? "grid-test/debian:bookworm" : "localhost/grid-test/debian:bookworm";
}

std::vector<std::string> cliEnv(const std::string& cli) {
  if (cli != "podman") return {};
  return {std::string("CONTAINERS_CONF=") + GRID_SOURCE_DIR + "/ci/containers.conf"};
}

void requireCli(const std::string& cli) {
  if (!haveExecutable(cli)) throw Unavailable(cli + " CLI is not installed");
  if (cli == "docker") {
    engineClient("docker");  // throws Unavailable when dockerd does not answer
  } else if (runCommand({"podman", "info"}, false, cliEnv(cli)).exit_status != 0) {
    throw Unavailable("podman info fails");
  }
}

std::string cliRun(const std::string& cli) {
  // --network none: Grid's sandboxes have no network unless asked, so both sides skip it.
  return runChecked({cli, "run", "-d", "--network", "none", "--label",
                     std::string(kBaselineLabel) + "=1", cliImage(cli), "sleep", "infinity"},
                    cliEnv(cli));
}

void cliRemove(const std::string& cli, const std::string& id) {
  std::vector<std::string> argv = {cli, "rm", "-f"};
  if (cli == "podman") argv.insert(argv.end(), {"-t", "0"});
  argv.push_back(id);
  runCommand(argv, false, cliEnv(cli));
}

void removeBaselineLeftovers() {
  for (const std::string cli : {"docker", "podman"}) {
    if (!haveExecutable(cli)) continue;
    CommandResult listed = runCommand(
        {cli, "ps", "-aq", "--filter", std::string("label=") + kBaselineLabel}, true, cliEnv(cli));
    std::vector<std::string> ids;
    size_t start = 0;
    const std::string& text = listed.output;
    while (start < text.size()) {
      size_t end = text.find('\n', start);
      if (end == std::string::npos) end = text.size();
      if (end > start) ids.push_back(text.substr(start, end - start));
      start = end + 1;
    }
    for (const auto& id : ids) cliRemove(cli, id);
  }
  if (auto client = std::make_shared<engine::EngineClient>(
          engine::EngineEndpoint{"/var/run/docker.sock", "docker", "Docker Engine"});
      client) {
    // Raw-API baseline containers are named grid-bench-api-N; remove any left over.
    auto listed = client->request(
        "GET", "/containers/json?all=1&filters=" +
                   engine::urlEncode(std::string("{\"label\":[\"") + kBaselineLabel + "\"]}"));
    if (listed.ok() && listed.value().ok()) {
      if (auto array = engine::parseJsonArray(listed.value().body)) {
        for (size_t i = 0; i < array->size(); ++i) {
          const std::string id = array->getObject(i)->getValue<std::string>("Id");
          (void)client->request("DELETE", "/containers/" + id + "?force=1&v=1");
        }
      }
    }
  }
}

std::shared_ptr<engine::EngineClient> engineClient(const std::string& product) {
  const std::string socket =
      product == "docker" ? "/var/run/docker.sock" : "/run/podman/podman.sock";
  auto client =
      std::make_shared<engine::EngineClient>(engine::EngineEndpoint{socket, product, product});
  auto version = client->negotiateApiVersion("1.41");
  if (!version.ok()) throw Unavailable(product + " engine: " + version.error().message);
  return client;
}

void engineCreateStart(engine::EngineClient& client, const std::string& name,
                       const std::string& image) {
  // The very body Grid's docker backend sends for a request naming no limits, so the
  // comparison shows Grid's own overhead only.
  SandboxSpec spec;
  spec.id = name;
  spec.image = image;
  spec.limits = ServerConfig{}.default_limits;
  spec.labels = {{kBaselineLabel, "1"}};
  auto started = engine::createAndStartContainer(
      client, engine::ContainerCreation{
                  name, "/containers/create?name=" + engine::urlEncode(name),
                  engine::toJson(docker::buildCreateBody(kBaselineInstance, spec)),
                  "/containers/" + name + "/start", removePath(name), nullptr});
  if (!started.ok()) throw std::runtime_error(started.error().message);
}

void engineRemove(engine::EngineClient& client, const std::string& name) {
  auto removed = engine::removeContainer(client, removePath(name));
  if (!removed.ok()) throw std::runtime_error(removed.error().message);
}

void engineExecTrue(const std::shared_ptr<engine::EngineClient>& client,
                    const std::string& container) {
  engine::ExecOptions options;
  options.argv = {"true"};
  auto channel = engine::startExec(client, container, options);
  if (!channel.ok()) throw std::runtime_error(channel.error().message);
  const auto deadline = Clock::now() + std::chrono::seconds(30);
  for (;;) {
    auto chunk = channel.value()->read(deadline);
    if (!chunk.ok()) throw std::runtime_error(chunk.error().message);
    if (chunk.value().status == ReadResult::Status::kEof) return;
    if (chunk.value().status == ReadResult::Status::kTimeout) {
      throw std::runtime_error("exec true did not end within 30 s");
    }
  }
}

BashPipe::BashPipe() {
  int in[2];
  int out[2];
  if (pipe2(in, O_CLOEXEC) != 0 || pipe2(out, O_CLOEXEC) != 0) {
    throw std::runtime_error(errnoText("pipe2"));
  }
  pid_ = fork();
  if (pid_ < 0) throw std::runtime_error(errnoText("fork"));
  if (pid_ == 0) {
    dup2(in[0], 0);
    dup2(out[1], 1);
    execlp("bash", "bash", "--noprofile", "--norc", static_cast<char*>(nullptr));
    _exit(127);
  }
  close(in[0]);
  close(out[1]);
  to_bash_ = in[1];
  from_bash_ = out[0];
}

BashPipe::~BashPipe() {
  close(to_bash_);  // EOF: bash exits
  close(from_bash_);
  waitpid(pid_, nullptr, 0);
}

void BashPipe::roundTrip() {
  static const std::string command = std::string("true; echo ") + kMarker + "\n";
  if (write(to_bash_, command.data(), command.size()) != static_cast<ssize_t>(command.size())) {
    throw std::runtime_error(errnoText("write to bash"));
  }
  const std::string line = std::string(kMarker) + "\n";
  char buffer[256];
  while (pending_.find(line) == std::string::npos) {
    const ssize_t n = read(from_bash_, buffer, sizeof buffer);
    if (n <= 0) throw std::runtime_error("bash closed its stdout");
    pending_.append(buffer, static_cast<size_t>(n));
  }
  pending_.clear();
}

LoopbackHttpServer::LoopbackHttpServer() {
  Poco::Net::ServerSocket socket(Poco::Net::SocketAddress("127.0.0.1", 0));
  port_ = socket.address().port();
  auto params = new Poco::Net::HTTPServerParams;
  params->setKeepAlive(true);
  params->setMaxKeepAliveRequests(0);  // unlimited, like Grid's server
  server_ = std::make_unique<Poco::Net::HTTPServer>(new OkFactory, socket, params);
  server_->start();
}

LoopbackHttpServer::~LoopbackHttpServer() { server_->stopAll(true); }

std::string requireRootfs() {
  for (const char* candidate : {"/var/cache/grid/rootfs/debian-bookworm",
                                "/var/lib/grid/test-images/debian/bookworm/rootfs"}) {
    if (fs::exists(std::string(candidate) + "/bin/bash")) return candidate;
  }
  throw Unavailable("no Debian rootfs (run scripts/build-test-images.sh)");
}

OverlayMounter::OverlayMounter(std::string lower) : lower_(std::move(lower)) {
  if (geteuid() != 0) throw Unavailable("overlay mounts need root");
  char dir_template[] = "/tmp/grid-bench-overlay.XXXXXX";
  if (mkdtemp(dir_template) == nullptr) throw std::runtime_error(errnoText("mkdtemp"));
  dir_ = dir_template;
  for (const char* sub : {"upper", "work", "merged"}) fs::create_directory(dir_ + "/" + sub);
}

OverlayMounter::~OverlayMounter() {
  umount2((dir_ + "/merged").c_str(), MNT_DETACH);
  std::error_code ignored;
  fs::remove_all(dir_, ignored);
}

void OverlayMounter::mountAndUnmount() {
  const std::string merged = dir_ + "/merged";
  const std::string options =
      "lowerdir=" + lower_ + ",upperdir=" + dir_ + "/upper,workdir=" + dir_ + "/work";
  if (mount("overlay", merged.c_str(), "overlay", 0, options.c_str()) != 0) {
    throw std::runtime_error(errnoText("mount(overlay, " + merged + ")"));
  }
  if (umount2(merged.c_str(), 0) != 0) throw std::runtime_error(errnoText("umount " + merged));
}

}  // namespace grid::bench
