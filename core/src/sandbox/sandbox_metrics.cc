#include "sandbox/sandbox_metrics.h"

namespace grid {
namespace {

double seconds(std::chrono::steady_clock::duration d) {
  return std::chrono::duration<double>(d).count();
}

}  // namespace

SandboxMetrics::SandboxMetrics(std::string backend)
    : backend_(std::move(backend)),
      exec_seconds_(registry_.histogram(
          "grid_exec_duration_seconds",
          "Time to run a command, from its start in the sandbox to its result (mode: session "
          "or standalone).",
          {"backend", "mode"}, metrics::latencyBuckets())),
      start_seconds_(registry_.histogram(
          "grid_sandbox_start_duration_seconds",
          "Time to start a sandbox once it holds a running slot: create, setup, session.",
          {"backend"}, metrics::latencyBuckets())),
      slot_wait_seconds_(registry_.histogram(
          "grid_sandbox_start_queue_wait_seconds",
          "Time a start waited in line for a running slot (the running-sandbox limit).",
          {"backend"}, metrics::latencyBuckets())),
      failures_(registry_.counter("grid_request_failures_total",
                                  "API requests answered with an error, by error code.",
                                  {"code"})) {
  // Series that exist before the first event, so rates start from zero.
  exec_seconds_.with({backend_, "session"});
  exec_seconds_.with({backend_, "standalone"});
  start_seconds_.with({backend_});
  slot_wait_seconds_.with({backend_});
}

void SandboxMetrics::execFinished(bool standalone, std::chrono::steady_clock::duration took) {
  exec_seconds_.with({backend_, standalone ? "standalone" : "session"}).observe(seconds(took));
}

void SandboxMetrics::startFinished(std::chrono::steady_clock::duration took) {
  start_seconds_.with({backend_}).observe(seconds(took));
}

void SandboxMetrics::slotWaited(std::chrono::steady_clock::duration waited) {
  slot_wait_seconds_.with({backend_}).observe(seconds(waited));
}

void SandboxMetrics::requestFailed(const std::string& code) { failures_.with({code}).inc(); }

}  // namespace grid
