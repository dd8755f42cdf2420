// A small Prometheus registry: counters, gauges and fixed-bucket histograms, each a family of
// series told apart by label values, written in the text exposition format (version 0.0.4).
// Thread-safe; recording is a lock on one series (or an atomic add), never an allocation after
// the series exists.
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace grid::metrics {

using Labels = std::vector<std::pair<std::string, std::string>>;

/// A label value as the format quotes it: backslash, double quote and newline escaped.
std::string escapeLabelValue(std::string_view value);
/// HELP text: backslash and newline escaped.
std::string escapeHelp(std::string_view help);
/// A sample value: shortest round-trip decimal, "+Inf", "-Inf" or "NaN".
std::string formatValue(double value);
/// Whether `name` is a valid metric or label name ([a-zA-Z_:][a-zA-Z0-9_:]*, no ':' in labels).
bool validMetricName(std::string_view name);
bool validLabelName(std::string_view name);

/// Writes the exposition text: a family header, then its samples.
class ExpositionWriter {
 public:
  void family(std::string_view name, std::string_view help, std::string_view type);
  void sample(std::string_view name, const Labels& labels, double value);
  const std::string& text() const { return out_; }
  std::string take() { return std::move(out_); }

 private:
  std::string out_;
};

class Counter {
 public:
  /// Adds `by` (negative amounts are ignored: a counter only grows).
  void inc(double by = 1);
  double value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> value_{0};
};

class Gauge {
 public:
  void set(double value) { value_.store(value, std::memory_order_relaxed); }
  void add(double by);
  double value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> value_{0};
};

class Histogram {
 public:
  /// `bounds`: upper bounds of the buckets, ascending; +Inf is implied.
  explicit Histogram(std::vector<double> bounds);
  void observe(double value);

  struct Snapshot {
    std::vector<double> bounds;
    std::vector<uint64_t> cumulative;  // per bound, then +Inf last (== count)
    double sum = 0;
    uint64_t count = 0;
  };
  Snapshot snapshot() const;

 private:
  const std::vector<double> bounds_;
  mutable std::mutex mutex_;
  std::vector<uint64_t> counts_;  // per bucket, not cumulative; the last is (last bound, +Inf)
  double sum_ = 0;
  uint64_t count_ = 0;
};

/// Bucket bounds in seconds for latencies from a millisecond to ten minutes.
std::vector<double> latencyBuckets();

enum class Type { kCounter, kGauge, kHistogram };

/// One metric name and its series, one per combination of label values. The number of series
/// is capped (kMaxSeries): past it, new combinations share one series whose every label is
/// "_overflow", so a bug that labels by something unbounded cannot grow the server.
template <typename Metric>
class Family {
 public:
  static constexpr size_t kMaxSeries = 1000;

  Family(std::string name, std::string help, std::vector<std::string> label_names,
         std::vector<double> bounds = {})
      : name_(std::move(name)),
        help_(std::move(help)),
        label_names_(std::move(label_names)),
        bounds_(std::move(bounds)) {}

  /// The series for `values` (one per label name, in order), made on first use.
  Metric& with(const std::vector<std::string>& values) {
    std::lock_guard lock(mutex_);
    auto it = series_.find(values);
    if (it != series_.end()) return *it->second;
    std::vector<std::string> key = values;
    key.resize(label_names_.size());
    if (series_.size() >= kMaxSeries) key.assign(label_names_.size(), "_overflow");
    auto& slot = series_[key];
    if (!slot) slot = make();
    return *slot;
  }

  const std::string& name() const { return name_; }
  const std::string& help() const { return help_; }
  const std::vector<std::string>& labelNames() const { return label_names_; }

  /// Calls `visit(labels, metric)` for every series, in label-value order.
  template <typename Visit>
  void each(Visit&& visit) const {
    std::lock_guard lock(mutex_);
    for (const auto& [values, metric] : series_) {
      Labels labels;
      for (size_t i = 0; i < label_names_.size(); ++i) {
        labels.emplace_back(label_names_[i], values[i]);
      }
      visit(labels, *metric);
    }
  }

 private:
  std::unique_ptr<Metric> make() const {
    if constexpr (std::is_same_v<Metric, Histogram>) {
      return std::make_unique<Histogram>(bounds_);
    } else {
      return std::make_unique<Metric>();
    }
  }

  const std::string name_;
  const std::string help_;
  const std::vector<std::string> label_names_;
  const std::vector<double> bounds_;
  mutable std::mutex mutex_;
  std::map<std::vector<std::string>, std::unique_ptr<Metric>> series_;
};

/// Owns families and writes them all. Registering a name twice or an invalid name throws
/// std::invalid_argument (a programming error, found at start-up).
class Registry {
 public:
  Family<Counter>& counter(const std::string& name, const std::string& help,
                           std::vector<std::string> label_names = {});
  Family<Gauge>& gauge(const std::string& name, const std::string& help,
                       std::vector<std::string> label_names = {});
  Family<Histogram>& histogram(const std::string& name, const std::string& help,
                               std::vector<std::string> label_names, std::vector<double> bounds);

  /// Every family in registration order.
  void write(ExpositionWriter& out) const;

 private:
  void claim(const std::string& name, const std::vector<std::string>& label_names, bool histogram);

  mutable std::mutex mutex_;
  std::vector<std::string> names_;
  std::vector<std::unique_ptr<Family<Counter>>> counters_;
  std::vector<std::unique_ptr<Family<Gauge>>> gauges_;
  std::vector<std::unique_ptr<Family<Histogram>>> histograms_;
  std::vector<std::pair<Type, size_t>> order_;  // (kind, index in its vector)
};

}  // namespace grid::metrics
