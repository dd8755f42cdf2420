#include "bench_support.h"

#include <Poco/Net/ServerSocket.h>
#include <Poco/Net/SocketAddress.h>
#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <sstream>
#include <thread>

extern char** environ;

namespace grid::bench {
namespace {

std::atomic<int> failures{0};
bool smoke_mode = false;

std::string trim(std::string text) {
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
  return text;
}

}  // namespace

double LatencyRecorder::percentileMs(double p) const {
  if (samples_.empty()) return 0;
  std::vector<Clock::duration> sorted = samples_;
  std::sort(sorted.begin(), sorted.end());
  const double rank = std::ceil(p / 100.0 * static_cast<double>(sorted.size()));
  const size_t index = std::clamp<size_t>(static_cast<size_t>(rank), 1, sorted.size()) - 1;
  return std::chrono::duration<double, std::milli>(sorted[index]).count();
}

void LatencyRecorder::report(benchmark::State& state, const std::string& prefix) const {
  if (samples_.empty()) return;
  state.counters[prefix + "p50_ms"] = percentileMs(50);
  state.counters[prefix + "p90_ms"] = percentileMs(90);
  state.counters[prefix + "p99_ms"] = percentileMs(99);
  Clock::duration total{};
  for (auto sample : samples_) total += sample;
  state.counters[prefix + "mean_ms"] =
      std::chrono::duration<double, std::milli>(total).count() / static_cast<double>(size());
}

CommandResult runCommand(const std::vector<std::string>& argv, bool capture_stdout,
                         const std::vector<std::string>& extra_env) {
  std::vector<char*> args;
  for (const auto& arg : argv) args.push_back(const_cast<char*>(arg.c_str()));
  args.push_back(nullptr);
  std::vector<std::string> env_storage;
  for (char** entry = environ; *entry != nullptr; ++entry) env_storage.emplace_back(*entry);
  for (const auto& entry : extra_env) env_storage.push_back(entry);
  std::vector<char*> env;
  for (auto& entry : env_storage) env.push_back(entry.data());
  env.push_back(nullptr);

  int out_pipe[2] = {-1, -1};
  if (capture_stdout && pipe2(out_pipe, O_CLOEXEC) != 0) {
    throw std::runtime_error(std::string("pipe2: ") + std::strerror(errno));
  }
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  if (capture_stdout) {
    posix_spawn_file_actions_adddup2(&actions, out_pipe[1], 1);
  } else {
    posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0);
  }
  posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0);
  pid_t pid = 0;
  const int spawned = posix_spawnp(&pid, args[0], &actions, nullptr, args.data(), env.data());
  posix_spawn_file_actions_destroy(&actions);
  if (capture_stdout) close(out_pipe[1]);
  if (spawned != 0) {
    if (capture_stdout) close(out_pipe[0]);
    throw std::runtime_error("cannot run " + argv[0] + ": " + std::strerror(spawned));
  }
  CommandResult result;
  if (capture_stdout) {
    char buffer[4096];
    for (;;) {
      const ssize_t n = read(out_pipe[0], buffer, sizeof buffer);
      if (n > 0) {
        result.output.append(buffer, static_cast<size_t>(n));
      } else if (n == 0 || errno != EINTR) {
        break;
      }
    }
    close(out_pipe[0]);
  }
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  result.exit_status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return result;
}

std::string runChecked(const std::vector<std::string>& argv,
                       const std::vector<std::string>& extra_env) {
  CommandResult result = runCommand(argv, true, extra_env);
  if (result.exit_status != 0) {
    std::string line;
    for (const auto& arg : argv) line += (line.empty() ? "" : " ") + arg;
    throw std::runtime_error("`" + line + "` exited with " + std::to_string(result.exit_status));
  }
  return trim(result.output);
}

bool haveExecutable(const std::string& name) {
  const char* path = std::getenv("PATH");
  std::istringstream dirs(path ? path : "/usr/bin:/bin");
  std::string dir;
  while (std::getline(dirs, dir, ':')) {
    if (access((dir + "/" + name).c_str(), X_OK) == 0) return true;
  }
  return false;
}

ProcStatus readProcStatus(pid_t pid) {
  std::ifstream file("/proc/" + std::to_string(pid) + "/status");
  if (!file) throw std::runtime_error("cannot read /proc/" + std::to_string(pid) + "/status");
  ProcStatus status;
  std::string key;
  while (file >> key) {
    if (key == "VmRSS:") {
      file >> status.rss_kb;
    } else if (key == "VmHWM:") {
      file >> status.hwm_kb;
    } else if (key == "Threads:") {
      file >> status.threads;
    }
    file.ignore(1 << 16, '\n');
  }
  return status;
}

void resetPeakRss(pid_t pid) {
  std::ofstream file("/proc/" + std::to_string(pid) + "/clear_refs");
  file << "5";
  if (!file) throw std::runtime_error("cannot reset VmHWM of " + std::to_string(pid));
}

int freePort() {
  Poco::Net::ServerSocket socket(Poco::Net::SocketAddress("127.0.0.1", 0));
  const int port = socket.address().port();
  socket.close();
  return port;
}

bool inCi() {
  const char* ci = std::getenv("CI");
  return ci != nullptr && std::string(ci) == "true";
}

void setSmoke(bool smoke) { smoke_mode = smoke; }
bool smoke() { return smoke_mode; }
int64_t iterations(int64_t n) { return smoke_mode ? 1 : n; }

void guarded(benchmark::State& state, const std::function<void()>& body) {
  try {
    body();
  } catch (const ToolMissing& absent) {
    state.SkipWithError((std::string("skipped: ") + absent.what()).c_str());
  } catch (const Unavailable& absent) {
    if (inCi()) {
      ++failures;
      state.SkipWithError((std::string("unavailable under CI=true: ") + absent.what()).c_str());
    } else {
      state.SkipWithError((std::string("skipped: ") + absent.what()).c_str());
    }
  } catch (const std::exception& error) {
    ++failures;
    state.SkipWithError((std::string("failed: ") + error.what()).c_str());
  }
}

int failureCount() { return failures.load(); }

std::string executableDir() {
  return std::filesystem::read_symlink("/proc/self/exe").parent_path().string();
}

void runParallel(int count, int workers, const std::function<void(int)>& job) {
  std::atomic<int> next{0};
  std::mutex mutex;
  std::exception_ptr first_error;
  std::vector<std::thread> threads;
  for (int w = 0; w < std::min(count, workers); ++w) {
    threads.emplace_back([&] {
      for (int i = next++; i < count; i = next++) {
        try {
          job(i);
        } catch (...) {
          std::lock_guard lock(mutex);
          if (!first_error) first_error = std::current_exception();
        }
      }
    });
  }
  for (auto& thread : threads) thread.join();
  if (first_error) std::rethrow_exception(first_error);
}

}  // namespace grid::bench
