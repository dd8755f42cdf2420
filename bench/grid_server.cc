#include "grid_server.h"

#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>
#include <Poco/Net/HTTPRequest.h>
#include <Poco/Net/HTTPResponse.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <sstream>
#include <stdexcept>
#include <thread>

#include "bench_support.h"
#include "grid/engine/engine_client.h"

namespace grid::bench {
namespace {

namespace fs = std::filesystem;

constexpr char kInstance[] = "grid-bench";
constexpr char kLocalImagesDir[] = "/var/lib/grid/test-images";
constexpr char kLocalStateDir[] = "/var/lib/grid/bench-state";

std::unique_ptr<GridServer> current;

std::string pluginPath(const std::string& backend) {
  return executableDir() + "/../lib/grid/plugins/grid-backend-" + backend + ".so";
}

std::string jsonString(const std::string& text) {
  std::ostringstream out;
  Poco::JSON::Stringifier::stringify(Poco::Dynamic::Var(text), out);
  return out.str();
}

std::string shortBody(const std::string& body) {
  return body.size() > 300 ? body.substr(0, 300) + "..." : body;
}

}  // namespace

std::string requireEngineSocket(const std::string& product) {
  const std::string socket =
      product == "docker" ? "/var/run/docker.sock" : "/run/podman/podman.sock";
  engine::EngineClient client(engine::EngineEndpoint{socket, product, product});
  auto ping = client.request("GET", "/_ping", std::nullopt, std::chrono::seconds(5));
  if (!ping.ok() || !ping.value().ok()) {
    throw Unavailable(product + " engine does not answer on " + socket);
  }
  return socket;
}

BackendTarget requireBackend(const std::string& name) {
  if (!fs::exists(pluginPath(name))) {
    throw Unavailable("plugin " + fs::path(pluginPath(name)).lexically_normal().string() +
                      " is not built");
  }
  if (name == "docker") {
    requireEngineSocket("docker");
    return {name, "grid-test/debian:bookworm"};
  }
  if (name == "podman") {
    requireEngineSocket("podman");
    return {name, "localhost/grid-test/debian:bookworm"};
  }
  if (geteuid() != 0) throw Unavailable("the local-namespace backend needs root");
  // The imported test image when present; the host image needs no import.
  const bool imported = fs::exists(std::string(kLocalImagesDir) + "/debian/bookworm");
  return {name, imported ? "debian:bookworm" : "host"};
}

GridClient::GridClient(int port)
    : session_(std::make_unique<Poco::Net::HTTPClientSession>("127.0.0.1", port)) {
  session_->setKeepAlive(true);
  session_->setTimeout(Poco::Timespan(900, 0));
}

GridClient::Response GridClient::call(const std::string& method, const std::string& path,
                                      const std::string& json_body) {
  Poco::Net::HTTPRequest request(method, path, Poco::Net::HTTPMessage::HTTP_1_1);
  request.setKeepAlive(true);
  if (!json_body.empty()) {
    request.setContentType("application/json");
    request.setContentLength(static_cast<std::streamsize>(json_body.size()));
  }
  std::ostream& out = session_->sendRequest(request);
  if (!json_body.empty()) out << json_body;
  Poco::Net::HTTPResponse response;
  std::istream& in = session_->receiveResponse(response);
  Response result;
  result.status = response.getStatus();
  result.body.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  return result;
}

std::string GridClient::createAndStart(const std::string& image, const std::string& extra_fields) {
  Response created = call("POST", "/sandboxes",
                          "{\"image\": " + jsonString(image) + extra_fields + "}");
  if (created.status != 201) {
    throw std::runtime_error("POST /sandboxes: " + std::to_string(created.status) + " " +
                             shortBody(created.body));
  }
  Poco::JSON::Parser parser;
  const std::string id =
      parser.parse(created.body).extract<Poco::JSON::Object::Ptr>()->getValue<std::string>("id");
  Response started = call("POST", "/sandboxes/" + id + "/start");
  if (started.status != 200) {
    remove(id);
    throw std::runtime_error("POST /sandboxes/" + id + "/start: " + std::to_string(started.status) +
                             " " + shortBody(started.body));
  }
  return id;
}

void GridClient::exec(const std::string& id, const std::string& command, int timeout_s) {
  Response response = call(
      "POST", "/sandboxes/" + id + "/exec",
      "{\"command\": " + jsonString(command) + ", \"timeout\": " + std::to_string(timeout_s) + "}");
  // The answer is compact JSON written by the server; a substring check avoids parsing up to
  // a megabyte of output on the client's side of the measurement.
  if (response.status != 200 || response.body.find("\"exit_code\":0") == std::string::npos) {
    throw std::runtime_error("exec '" + command + "' in " + id + ": " +
                             std::to_string(response.status) + " " + shortBody(response.body));
  }
}

void GridClient::remove(const std::string& id) {
  Response response = call("DELETE", "/sandboxes/" + id);
  if (response.status < 200 || response.status >= 300) {
    throw std::runtime_error("DELETE /sandboxes/" + id + ": " + std::to_string(response.status) +
                             " " + shortBody(response.body));
  }
}

GridServer& GridServer::acquire(const BackendTarget& backend, size_t max_running,
                                const std::string& extra_config) {
  if (current && current->backend_.name == backend.name && current->max_running_ == max_running &&
      current->extra_config_ == extra_config && waitpid(current->pid_, nullptr, WNOHANG) == 0) {
    return *current;
  }
  stopCurrent();
  current.reset(new GridServer(backend, max_running, extra_config));
  return *current;
}

void GridServer::stopCurrent() { current.reset(); }

GridServer::GridServer(BackendTarget backend, size_t max_running, std::string extra_config)
    : backend_(std::move(backend)),
      max_running_(max_running),
      extra_config_(std::move(extra_config)) {
  char dir_template[] = "/tmp/grid-bench.XXXXXX";
  if (mkdtemp(dir_template) == nullptr) throw std::runtime_error("mkdtemp failed");
  work_dir_ = dir_template;
  const std::string config = work_dir_ + "/grid.ini";
  std::ofstream(config) << "instance = " << kInstance << "\nlog_level = warn\n"
                        << "[backend.local-namespace]\nimages_dir = " << kLocalImagesDir
                        << "\nstate_dir = " << kLocalStateDir << "\n"
                        << extra_config_;
  port_ = freePort();
  const std::string grid = executableDir() + "/grid";
  const std::string log = work_dir_ + "/server.log";
  std::vector<std::string> argv = {grid,
                                   "serve",
                                   "--config",
                                   config,
                                   "--backend",
                                   backend_.name,
                                   "--port",
                                   std::to_string(port_),
                                   "--max-sandboxes",
                                   std::to_string(max_running)};
  pid_ = fork();
  if (pid_ < 0) throw std::runtime_error("fork failed");
  if (pid_ == 0) {
    // If the benchmark dies, the server still gets SIGTERM and removes its sandboxes.
    prctl(PR_SET_PDEATHSIG, SIGTERM);
    const int fd = open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    dup2(fd, 1);
    dup2(fd, 2);
    std::vector<char*> args;
    for (auto& arg : argv) args.push_back(arg.data());
    args.push_back(nullptr);
    execv(grid.c_str(), args.data());
    _exit(127);
  }
  try {
    waitUntilHealthy();
  } catch (...) {
    kill(pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);
    pid_ = -1;
    throw;
  }
}

void GridServer::waitUntilHealthy() {
  const auto give_up = Clock::now() + std::chrono::seconds(60);
  while (Clock::now() < give_up) {
    if (waitpid(pid_, nullptr, WNOHANG) == pid_) {
      pid_ = -1;
      throw std::runtime_error("grid serve --backend " + backend_.name + " exited: " + logTail());
    }
    try {
      GridClient client(port_);
      if (client.call("GET", "/healthz").status == 200) return;
    } catch (const Poco::Exception&) {
      // not listening yet
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  throw std::runtime_error("grid serve --backend " + backend_.name +
                           " did not answer /healthz within 60 s: " + logTail());
}

std::string GridServer::logTail() const {
  std::ifstream file(work_dir_ + "/server.log");
  std::string text((std::istreambuf_iterator<char>(file)), std::istreambuf_iterator<char>());
  return text.size() > 2000 ? text.substr(text.size() - 2000) : text;
}

GridServer::~GridServer() {
  if (pid_ > 0) {
    kill(pid_, SIGTERM);
    // Removing many sandboxes takes a while; a server that hangs is killed after 120 s.
    const auto give_up = Clock::now() + std::chrono::seconds(120);
    while (waitpid(pid_, nullptr, WNOHANG) == 0) {
      if (Clock::now() > give_up) {
        kill(pid_, SIGKILL);
        waitpid(pid_, nullptr, 0);
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  }
  std::error_code ignored;
  fs::remove_all(work_dir_, ignored);
}

}  // namespace grid::bench
