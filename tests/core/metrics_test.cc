// The Prometheus registry and its text exposition, the dashboard's file rule and the metrics
// listener's address parsing: pure logic.
#include "util/metrics.h"

#include <gtest/gtest.h>

#include <stdexcept>
#include <thread>

#include "api/metrics_server.h"
#include "api/ui_routes.h"

namespace grid::metrics {
namespace {

TEST(MetricsExposition, EscapesLabelValuesAndHelp) {
  EXPECT_EQ(escapeLabelValue("a\\b\"c\nd"), "a\\\\b\\\"c\\nd");
  EXPECT_EQ(escapeLabelValue("<img src=x onerror=alert(1)>"), "<img src=x onerror=alert(1)>");
  EXPECT_EQ(escapeHelp("line\\one\ntwo \"q\""), "line\\\\one\\ntwo \"q\"");
}

TEST(MetricsExposition, FormatsValues) {
  EXPECT_EQ(formatValue(0), "0");
  EXPECT_EQ(formatValue(42), "42");
  EXPECT_EQ(formatValue(0.25), "0.25");
  EXPECT_EQ(formatValue(1e21), "1e+21");
  EXPECT_EQ(formatValue(std::numeric_limits<double>::infinity()), "+Inf");
  EXPECT_EQ(formatValue(-std::numeric_limits<double>::infinity()), "-Inf");
  EXPECT_EQ(formatValue(std::numeric_limits<double>::quiet_NaN()), "NaN");
}

TEST(MetricsExposition, WritesFamiliesAndSamples) {
  ExpositionWriter out;
  out.family("grid_x", "Help with \\ and\nnewline.", "gauge");
  out.sample("grid_x", {}, 1.5);
  out.sample("grid_x", {{"a", "v\"1"}, {"b", "two"}}, 2);
  EXPECT_EQ(out.text(),
            "# HELP grid_x Help with \\\\ and\\nnewline.\n"
            "# TYPE grid_x gauge\n"
            "grid_x 1.5\n"
            "grid_x{a=\"v\\\"1\",b=\"two\"} 2\n");
}

TEST(MetricsRegistry, CountersOnlyGrow) {
  Registry registry;
  auto& family = registry.counter("grid_events_total", "Events.", {"code"});
  family.with({"not_found"}).inc();
  family.with({"not_found"}).inc(2);
  family.with({"not_found"}).inc(-5);
  EXPECT_EQ(family.with({"not_found"}).value(), 3);
  ExpositionWriter out;
  registry.write(out);
  EXPECT_EQ(out.text(),
            "# HELP grid_events_total Events.\n# TYPE grid_events_total counter\n"
            "grid_events_total{code=\"not_found\"} 3\n");
}

TEST(MetricsRegistry, GaugesSetAndAdd) {
  Registry registry;
  auto& gauge = registry.gauge("grid_level", "Level.").with({});
  gauge.set(5);
  gauge.add(-2);
  EXPECT_EQ(gauge.value(), 3);
}

TEST(MetricsRegistry, HistogramBucketsAreCumulativeWithInf) {
  Registry registry;
  auto& family = registry.histogram("grid_latency_seconds", "Latency.", {"mode"}, {0.1, 1});
  auto& h = family.with({"session"});
  h.observe(0.05);
  h.observe(0.1);  // on a bound: counted in that bucket (le is "less or equal")
  h.observe(0.5);
  h.observe(7);
  ExpositionWriter out;
  registry.write(out);
  EXPECT_EQ(out.text(),
            "# HELP grid_latency_seconds Latency.\n"
            "# TYPE grid_latency_seconds histogram\n"
            "grid_latency_seconds_bucket{mode=\"session\",le=\"0.1\"} 2\n"
            "grid_latency_seconds_bucket{mode=\"session\",le=\"1\"} 3\n"
            "grid_latency_seconds_bucket{mode=\"session\",le=\"+Inf\"} 4\n"
            "grid_latency_seconds_sum{mode=\"session\"} 7.65\n"
            "grid_latency_seconds_count{mode=\"session\"} 4\n");
}

TEST(MetricsRegistry, HistogramCountsEveryObservationFromManyThreads) {
  Histogram h(latencyBuckets());
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 1000; ++i) h.observe(0.002);
    });
  }
  for (auto& t : threads) t.join();
  const auto snap = h.snapshot();
  EXPECT_EQ(snap.count, 4000u);
  EXPECT_EQ(snap.cumulative.back(), 4000u);
  EXPECT_EQ(snap.cumulative[0], 0u);     // le 0.001
  EXPECT_EQ(snap.cumulative[1], 4000u);  // le 0.0025
}

TEST(MetricsRegistry, RefusesBadNamesAndDuplicates) {
  Registry registry;
  EXPECT_THROW(registry.counter("1bad", "x"), std::invalid_argument);
  EXPECT_THROW(registry.counter("bad-name", "x"), std::invalid_argument);
  EXPECT_THROW(registry.gauge("grid_ok", "x", {"bad:label"}), std::invalid_argument);
  EXPECT_THROW(registry.gauge("grid_ok2", "x", {"__reserved"}), std::invalid_argument);
  EXPECT_THROW(registry.histogram("grid_h", "x", {"le"}, {1}), std::invalid_argument);
  EXPECT_THROW(registry.histogram("grid_h2", "x", {}, {2, 1}), std::invalid_argument);
  registry.counter("grid_once", "x");
  EXPECT_THROW(registry.counter("grid_once", "x"), std::invalid_argument);
  EXPECT_TRUE(validMetricName("grid:rule_total"));
  EXPECT_FALSE(validLabelName("a:b"));
}

TEST(MetricsRegistry, SeriesCountIsCapped) {
  Registry registry;
  auto& family = registry.counter("grid_capped_total", "x", {"key"});
  for (size_t i = 0; i < Family<Counter>::kMaxSeries + 50; ++i) {
    family.with({"k" + std::to_string(i)}).inc();
  }
  size_t series = 0;
  double overflow = 0;
  family.each([&](const Labels& labels, const Counter& c) {
    ++series;
    if (labels[0].second == "_overflow") overflow = c.value();
  });
  EXPECT_EQ(series, Family<Counter>::kMaxSeries + 1);
  EXPECT_EQ(overflow, 50);
}

}  // namespace
}  // namespace grid::metrics

namespace grid {
namespace {

TEST(DashboardFiles, MapsOnlyPlainKnownFiles) {
  EXPECT_EQ(dashboardFileFor({"ui"}), "index.html");
  EXPECT_EQ(dashboardFileFor({"ui", "app.js"}), "app.js");
  EXPECT_EQ(dashboardFileFor({"ui", "app.css"}), "app.css");
  EXPECT_FALSE(dashboardFileFor({"ui", ".."}));
  EXPECT_FALSE(dashboardFileFor({"ui", ".hidden.js"}));
  EXPECT_FALSE(dashboardFileFor({"ui", "a", "b.js"}));
  EXPECT_FALSE(dashboardFileFor({"ui", "secret.txt"}));
  EXPECT_FALSE(dashboardFileFor({"ui", "a%2f..js"}));
  EXPECT_FALSE(dashboardFileFor({"other"}));
}

TEST(DashboardFiles, MissingDirectoryIsANotFoundWithAMessage) {
  Reply r = dashboardReply("", {"ui"}, "GET");
  EXPECT_EQ(r.status, Poco::Net::HTTPResponse::HTTP_NOT_FOUND);
  EXPECT_NE(r.body.find("not installed"), std::string::npos);
  Reply post = dashboardReply("/nonexistent", {"ui"}, "POST");
  EXPECT_EQ(post.status, Poco::Net::HTTPResponse::HTTP_METHOD_NOT_ALLOWED);
  Reply absent = dashboardReply("/nonexistent", {"ui", "app.js"}, "GET");
  EXPECT_EQ(absent.status, Poco::Net::HTTPResponse::HTTP_NOT_FOUND);
}

TEST(MetricsListener, ParsesHostPort) {
  auto ok = parseHostPort("127.0.0.1:9100");
  ASSERT_TRUE(ok.ok());
  EXPECT_EQ(ok.value().first, "127.0.0.1");
  EXPECT_EQ(ok.value().second, 9100);
  auto v6 = parseHostPort("[::1]:0");
  ASSERT_TRUE(v6.ok());
  EXPECT_EQ(v6.value().first, "::1");
  for (const char* bad : {"9100", ":9100", "host:", "host:99999", "host:9x", "host:-1"}) {
    EXPECT_FALSE(parseHostPort(bad).ok()) << bad;
  }
}

}  // namespace
}  // namespace grid
