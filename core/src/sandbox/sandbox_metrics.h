// The sandbox layer's Prometheus metrics: how long execs, starts and waits for a running slot
// take, and the API's failures by code. Recorded by the SandboxManager (and the API's request
// handler for failures); written at GET /metrics with the gauges the API reads at scrape time.
#pragma once

#include <chrono>
#include <string>

#include "util/metrics.h"

namespace grid {

class SandboxMetrics {
 public:
  /// `backend` labels every latency series, so dashboards can tell engines apart.
  explicit SandboxMetrics(std::string backend);

  metrics::Registry& registry() { return registry_; }

  void execFinished(bool standalone, std::chrono::steady_clock::duration took);
  void startFinished(std::chrono::steady_clock::duration took);
  void slotWaited(std::chrono::steady_clock::duration waited);
  /// An API request answered with error `code` ("not_found", "conflict", ...; a bounded set).
  void requestFailed(const std::string& code);

 private:
  const std::string backend_;
  metrics::Registry registry_;
  metrics::Family<metrics::Histogram>& exec_seconds_;
  metrics::Family<metrics::Histogram>& start_seconds_;
  metrics::Family<metrics::Histogram>& slot_wait_seconds_;
  metrics::Family<metrics::Counter>& failures_;
};

}  // namespace grid
