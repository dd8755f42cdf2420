#include "util/metrics.h"

#include <charconv>
#include <cmath>
#include <stdexcept>

namespace grid::metrics {
namespace {

void atomicAdd(std::atomic<double>& target, double by) {
  double current = target.load(std::memory_order_relaxed);
  while (!target.compare_exchange_weak(current, current + by, std::memory_order_relaxed)) {
  }
}

bool nameChar(char c, bool first, bool colon) {
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_') return true;
  if (c == ':') return colon;
  return !first && c >= '0' && c <= '9';
}

bool validName(std::string_view name, bool colon) {
  if (name.empty()) return false;
  for (size_t i = 0; i < name.size(); ++i) {
    if (!nameChar(name[i], i == 0, colon)) return false;
  }
  return true;
}

}  // namespace

std::string escapeLabelValue(std::string_view value) {
  std::string out;
  out.reserve(value.size());
  for (char c : value) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '"') {
      out += "\\\"";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

std::string escapeHelp(std::string_view help) {
  std::string out;
  out.reserve(help.size());
  for (char c : help) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

std::string formatValue(double value) {
  if (std::isnan(value)) return "NaN";
  if (std::isinf(value)) return value > 0 ? "+Inf" : "-Inf";
  char buf[64];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, value);
  if (ec != std::errc()) return "NaN";
  return std::string(buf, end);
}

bool validMetricName(std::string_view name) { return validName(name, true); }
bool validLabelName(std::string_view name) { return validName(name, false); }

void ExpositionWriter::family(std::string_view name, std::string_view help, std::string_view type) {
  out_ += "# HELP ";
  out_ += name;
  out_ += ' ';
  out_ += escapeHelp(help);
  out_ += "\n# TYPE ";
  out_ += name;
  out_ += ' ';
  out_ += type;
  out_ += '\n';
}

void ExpositionWriter::sample(std::string_view name, const Labels& labels, double value) {
  out_ += name;
  if (!labels.empty()) {
    out_ += '{';
    for (size_t i = 0; i < labels.size(); ++i) {
      if (i > 0) out_ += ',';
      out_ += labels[i].first;
      out_ += "=\"";
      out_ += escapeLabelValue(labels[i].second);
      out_ += '"';
    }
    out_ += '}';
  }
  out_ += ' ';
  out_ += formatValue(value);
  out_ += '\n';
}

void Counter::inc(double by) {
  if (by > 0) atomicAdd(value_, by);
}

void Gauge::add(double by) { atomicAdd(value_, by); }

Histogram::Histogram(std::vector<double> bounds)
    : bounds_(std::move(bounds)), counts_(bounds_.size() + 1, 0) {}

void Histogram::observe(double value) {
  size_t bucket = 0;
  while (bucket < bounds_.size() && value > bounds_[bucket]) ++bucket;
  std::lock_guard lock(mutex_);
  ++counts_[bucket];
  sum_ += value;
  ++count_;
}

Histogram::Snapshot Histogram::snapshot() const {
  Snapshot snap;
  snap.bounds = bounds_;
  std::lock_guard lock(mutex_);
  uint64_t running = 0;
  for (uint64_t n : counts_) {
    running += n;
    snap.cumulative.push_back(running);
  }
  snap.sum = sum_;
  snap.count = count_;
  return snap;
}

std::vector<double> latencyBuckets() {
  return {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5,
          1,     2.5,    5,     10,   30,    60,   120, 300,  600};
}

void Registry::claim(const std::string& name, const std::vector<std::string>& label_names,
                     bool histogram) {
  if (!validMetricName(name)) throw std::invalid_argument("invalid metric name '" + name + "'");
  for (const auto& label : label_names) {
    if (!validLabelName(label) || label.rfind("__", 0) == 0 || (histogram && label == "le")) {
      throw std::invalid_argument("metric " + name + ": invalid label name '" + label + "'");
    }
  }
  for (const auto& taken : names_) {
    if (taken == name) throw std::invalid_argument("metric " + name + " registered twice");
  }
  names_.push_back(name);
}

Family<Counter>& Registry::counter(const std::string& name, const std::string& help,
                                   std::vector<std::string> label_names) {
  std::lock_guard lock(mutex_);
  claim(name, label_names, false);
  counters_.push_back(std::make_unique<Family<Counter>>(name, help, std::move(label_names)));
  order_.emplace_back(Type::kCounter, counters_.size() - 1);
  return *counters_.back();
}

Family<Gauge>& Registry::gauge(const std::string& name, const std::string& help,
                               std::vector<std::string> label_names) {
  std::lock_guard lock(mutex_);
  claim(name, label_names, false);
  gauges_.push_back(std::make_unique<Family<Gauge>>(name, help, std::move(label_names)));
  order_.emplace_back(Type::kGauge, gauges_.size() - 1);
  return *gauges_.back();
}

Family<Histogram>& Registry::histogram(const std::string& name, const std::string& help,
                                       std::vector<std::string> label_names,
                                       std::vector<double> bounds) {
  std::lock_guard lock(mutex_);
  claim(name, label_names, true);
  for (size_t i = 1; i < bounds.size(); ++i) {
    if (!(bounds[i - 1] < bounds[i])) {
      throw std::invalid_argument("metric " + name + ": bucket bounds must ascend");
    }
  }
  histograms_.push_back(
      std::make_unique<Family<Histogram>>(name, help, std::move(label_names), std::move(bounds)));
  order_.emplace_back(Type::kHistogram, histograms_.size() - 1);
  return *histograms_.back();
}

void Registry::write(ExpositionWriter& out) const {
  std::lock_guard lock(mutex_);
  for (const auto& [type, index] : order_) {
    switch (type) {
      case Type::kCounter: {
        const auto& family = *counters_[index];
        out.family(family.name(), family.help(), "counter");
        family.each([&](const Labels& labels, const Counter& c) {
          out.sample(family.name(), labels, c.value());
        });
        break;
      }
      case Type::kGauge: {
        const auto& family = *gauges_[index];
        out.family(family.name(), family.help(), "gauge");
        family.each([&](const Labels& labels, const Gauge& g) {
          out.sample(family.name(), labels, g.value());
        });
        break;
      }
      case Type::kHistogram: {
        const auto& family = *histograms_[index];
        out.family(family.name(), family.help(), "histogram");
        family.each([&](const Labels& labels, const Histogram& h) {
          const auto snap = h.snapshot();
          Labels with_le = labels;
          with_le.emplace_back("le", "");
          for (size_t i = 0; i < snap.bounds.size(); ++i) {
            with_le.back().second = formatValue(snap.bounds[i]);
            out.sample(family.name() + "_bucket", with_le, static_cast<double>(snap.cumulative[i]));
          }
          with_le.back().second = "+Inf";
          out.sample(family.name() + "_bucket", with_le, static_cast<double>(snap.count));
          out.sample(family.name() + "_sum", labels, snap.sum);
          out.sample(family.name() + "_count", labels, static_cast<double>(snap.count));
        });
        break;
      }
    }
  }
}

}  // namespace grid::metrics
