#include "api/metrics_routes.h"

#include <algorithm>
#include <atomic>
#include <future>
#include <map>
#include <optional>

#include "api/api_json.h"

namespace grid {
namespace {

using Poco::Net::HTTPResponse;

bool runsContainer(SandboxStatus status) {
  return status == SandboxStatus::kRunning || status == SandboxStatus::kExited;
}

// Every status the lifecycle knows, so each series exists (as 0) before a sandbox takes it.
// "paused" is listed ahead of its status, so dashboards can chart it from the start.
std::map<std::string, double> zeroStatusCounts() {
  std::map<std::string, double> counts;
  for (SandboxStatus status :
       {SandboxStatus::kCreated, SandboxStatus::kStarting, SandboxStatus::kRunning,
        SandboxStatus::kExited, SandboxStatus::kStopped, SandboxStatus::kFailed}) {
    counts[statusName(status)] = 0;
  }
  counts["paused"] = 0;
  return counts;
}

void writeGauge(metrics::ExpositionWriter& out, const std::string& name, const std::string& help,
                double value) {
  out.family(name, help, "gauge");
  out.sample(name, {}, value);
}

// Asks the backend for each sandbox's use, kStatsWorkers calls at a time (an engine may take
// a second per call: Docker answers at its collector's next tick), all by `deadline`. A
// sandbox not asked in time has no result.
std::vector<std::optional<Result<SandboxStats>>> statsOf(
    SandboxBackend& backend, const std::vector<std::pair<std::string, SandboxStatus>>& running,
    Clock::time_point deadline) {
  std::vector<std::optional<Result<SandboxStats>>> results(running.size());
  std::atomic<size_t> next{0};
  const auto work = [&] {
    for (size_t i = next++; i < running.size(); i = next++) {
      if (Clock::now() >= deadline) continue;
      results[i] = backend.sandboxStats(running[i].first, deadline);
    }
  };
  std::vector<std::future<void>> workers;
  const size_t count = std::min(kStatsWorkers, running.size());
  for (size_t w = 1; w < count; ++w) workers.push_back(std::async(std::launch::async, work));
  if (count > 0) work();
  for (auto& worker : workers) worker.wait();
  return results;
}

}  // namespace

std::string metricsText(SandboxManager& manager, std::chrono::milliseconds stats_budget) {
  metrics::ExpositionWriter out;
  manager.metrics().registry().write(out);

  const auto sandboxes = manager.all();
  auto counts = zeroStatusCounts();
  std::vector<std::pair<std::string, SandboxStatus>> running;
  for (const auto& sandbox : sandboxes) {
    const SandboxStatus status = sandbox->lifecycle().status();
    counts[statusName(status)] += 1;
    if (runsContainer(status)) running.emplace_back(sandbox->spec().id, status);
  }
  out.family("grid_sandboxes", "Sandbox records by status.", "gauge");
  for (const auto& [status, count] : counts)
    out.sample("grid_sandboxes", {{"status", status}}, count);
  writeGauge(out, "grid_sandboxes_running", "Running slots in use (the running-sandbox limit).",
             static_cast<double>(manager.runningSlotsInUse()));
  writeGauge(out, "grid_sandboxes_waiting", "Starts waiting in line for a running slot.",
             static_cast<double>(manager.startsWaiting()));
  writeGauge(out, "grid_sandboxes_paused", "Paused sandboxes.", counts["paused"]);
  writeGauge(out, "grid_running_limit", "The running-sandbox limit (server.max_running_sandboxes).",
             static_cast<double>(manager.options().max_running_sandboxes));
  writeGauge(out, "grid_sandbox_records_limit",
             "Sandbox records the server holds at most (server.max_sandbox_records).",
             static_cast<double>(manager.options().max_sandbox_records));
  // Warm pools (docs/pools.md), labelled by pool name: bounded by grid.ini.
  const auto pools = manager.pools().status();
  out.family("grid_pool_size", "Sandboxes a warm pool keeps ready ([pool.NAME] size).", "gauge");
  for (const auto& pool : pools) out.sample("grid_pool_size", {{"pool", pool.name}}, pool.size);
  out.family("grid_pool_ready", "Ready sandboxes in a warm pool.", "gauge");
  for (const auto& pool : pools) out.sample("grid_pool_ready", {{"pool", pool.name}}, pool.ready);
  out.family("grid_pool_hits_total", "Creates that took a ready sandbox of the pool.", "counter");
  for (const auto& pool : pools) {
    out.sample("grid_pool_hits_total", {{"pool", pool.name}}, static_cast<double>(pool.hits));
  }
  out.family("grid_pool_misses_total", "Creates that matched the pool but found none ready.",
             "counter");
  for (const auto& pool : pools) {
    out.sample("grid_pool_misses_total", {{"pool", pool.name}}, static_cast<double>(pool.misses));
  }

  // Per-sandbox use: gauges labelled by sandbox id, bounded by max_sandbox_records; never on a
  // histogram. One budget for the whole scrape, so a slow engine cannot hold it up.
  const auto deadline = Clock::now() + stats_budget;
  const auto results = statsOf(manager.backend(), running, deadline);
  std::vector<std::pair<std::string, double>> cpu;
  std::vector<std::pair<std::string, double>> memory;
  double skipped = 0;
  for (size_t i = 0; i < running.size(); ++i) {
    const std::string& id = running[i].first;
    if (!results[i]) {
      ++skipped;
      continue;
    }
    if (!results[i]->ok()) {
      if (results[i]->error().code != ErrorCode::kUnsupported) ++skipped;
      continue;
    }
    const SandboxStats& stats = results[i]->value();
    if (stats.cpu_seconds) cpu.emplace_back(id, *stats.cpu_seconds);
    if (stats.memory_bytes) memory.emplace_back(id, static_cast<double>(*stats.memory_bytes));
  }
  out.family("grid_sandbox_cpu_seconds_total",
             "CPU time used by a running sandbox's processes, where the backend can tell.",
             "counter");
  for (const auto& [id, value] : cpu)
    out.sample("grid_sandbox_cpu_seconds_total", {{"sandbox", id}}, value);
  out.family("grid_sandbox_memory_bytes",
             "Memory in use by a running sandbox, where the backend can tell.", "gauge");
  for (const auto& [id, value] : memory)
    out.sample("grid_sandbox_memory_bytes", {{"sandbox", id}}, value);
  writeGauge(out, "grid_sandbox_stats_skipped",
             "Running sandboxes left out of this scrape's per-sandbox series (the backend "
             "failed or the scrape's time budget ran out).",
             skipped);
  return out.take();
}

Reply metricsReply(SandboxManager& manager) {
  return Reply{HTTPResponse::HTTP_OK,
               metricsText(manager),
               "text/plain; version=0.0.4; charset=utf-8",
               {},
               {}};
}

Reply sandboxStatsReply(SandboxManager& manager, const std::string& id) {
  auto found = manager.findRunning(id);
  if (!found.ok()) return errorReply(found.error());
  auto stats = manager.backend().sandboxStats(id, Clock::now() + kStatsTimeout);
  if (!stats.ok()) return errorReply(stats.error());
  const SandboxSnapshot snapshot = found.value()->snapshot();
  Poco::JSON::Object::Ptr o = new Poco::JSON::Object(Poco::JSON_PRESERVE_KEY_ORDER);
  o->set("id", id);
  o->set("status", statusName(snapshot.status));
  if (stats.value().cpu_seconds) {
    o->set("cpu_seconds", *stats.value().cpu_seconds);
  } else {
    o->set("cpu_seconds", Poco::Dynamic::Var());
  }
  if (stats.value().memory_bytes) {
    o->set("memory_bytes", static_cast<Poco::UInt64>(*stats.value().memory_bytes));
  } else {
    o->set("memory_bytes", Poco::Dynamic::Var());
  }
  if (snapshot.spec.limits.memory_mb > 0) {
    o->set("memory_limit_bytes", static_cast<Poco::Int64>(snapshot.spec.limits.memory_mb) << 20);
  } else {
    o->set("memory_limit_bytes", Poco::Dynamic::Var());
  }
  return json(HTTPResponse::HTTP_OK, o);
}

}  // namespace grid
