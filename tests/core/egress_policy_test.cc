#include "network/egress_policy.h"

#include <Poco/JSON/Parser.h>
#include <gtest/gtest.h>

namespace grid {
namespace {

Poco::JSON::Object::Ptr parse(const std::string& text) {
  return Poco::JSON::Parser().parse(text).extract<Poco::JSON::Object::Ptr>();
}

std::string ruleText(std::string_view text) {
  auto rule = parseEgressRule(text);
  return rule.ok() ? rule.value().text() : "error: " + rule.error().message;
}

TEST(EgressRule, ParsesAddressesCidrsAndPorts) {
  EXPECT_EQ(ruleText("10.0.0.0/8"), "10.0.0.0/8");
  EXPECT_EQ(ruleText("192.0.2.1"), "192.0.2.1/32");
  EXPECT_EQ(ruleText("192.0.2.1:443"), "192.0.2.1/32:443");
  EXPECT_EQ(ruleText("198.18.0.0/24:8080"), "198.18.0.0/24:8080");
  EXPECT_EQ(ruleText("2001:db8::/32"), "2001:db8::/32");
  EXPECT_EQ(ruleText("2001:db8::1"), "2001:db8::1/128");
  EXPECT_EQ(ruleText("[2001:db8::1]:443"), "[2001:db8::1/128]:443");
  EXPECT_EQ(ruleText("[2001:db8::/48]:53"), "[2001:db8::/48]:53");
  EXPECT_EQ(ruleText("0.0.0.0/0"), "0.0.0.0/0");
  // Canonical text parses back to the same rule.
  EXPECT_EQ(ruleText(ruleText("[2001:db8::1]:443")), "[2001:db8::1/128]:443");
}

TEST(EgressRule, ParsesDomainsAndWildcards) {
  EXPECT_EQ(ruleText("Example.COM"), "example.com");
  EXPECT_EQ(ruleText("example.com."), "example.com");
  EXPECT_EQ(ruleText("*.example.com"), "*.example.com");
  EXPECT_EQ(ruleText("*.example.com:443"), "*.example.com:443");
  EXPECT_EQ(ruleText("pypi.org:443"), "pypi.org:443");
  EXPECT_EQ(ruleText("localhost"), "localhost");
}

TEST(EgressRule, RefusesBadInputWithTheRuleNamed) {
  for (const char* bad : {"",
                          "10.0.0.0/33",
                          "10.0.0.0/-1",
                          "10.0.0.0/",
                          "10.1.2.3/8",
                          "300.1.2.3",
                          "1.2.3",
                          "10.0.0.0/8:0",
                          "10.0.0.0/8:65536",
                          "10.0.0.0/8:http",
                          "example.com:",
                          "*",
                          "*.",
                          "a.*.com",
                          "*example.com",
                          "**.example.com",
                          "exa mple.com",
                          "-bad.com",
                          "bad-.com",
                          "a..b",
                          "[2001:db8::1",
                          "[10.0.0.1]:80",
                          "2001:db8::/129",
                          "[::1]x",
                          "example.com:80:90",
                          "http://example.com"}) {
    auto rule = parseEgressRule(bad);
    EXPECT_FALSE(rule.ok()) << bad << " parsed as " << rule.value().text();
    if (!rule.ok()) {
      EXPECT_EQ(rule.error().code, ErrorCode::kInvalidArgument);
    }
  }
  auto host_bits = parseEgressRule("10.1.2.3/8");
  ASSERT_FALSE(host_bits.ok());
  EXPECT_NE(host_bits.error().message.find("10.0.0.0/8"), std::string::npos)
      << host_bits.error().message;
  EXPECT_FALSE(parseEgressRule(std::string(400, 'a')).ok());
  EXPECT_FALSE(parseEgressRule(std::string(64, 'a') + ".com").ok());  // a label over 63 bytes
}

TEST(EgressPolicy, ParsesTheNetworkField) {
  bool network = false;
  std::optional<EgressPolicy> egress;
  ASSERT_TRUE(parseNetworkField(*parse(R"({"network": true})"), {}, network, egress).ok());
  EXPECT_TRUE(network);
  EXPECT_FALSE(egress);
  ASSERT_TRUE(parseNetworkField(*parse(R"({})"), {}, network, egress).ok());
  EXPECT_FALSE(network);
  ASSERT_TRUE(
      parseNetworkField(*parse(R"({"network": {"egress": {"allow": ["10.0.0.0/8", "example.com"],
                                                     "deny": ["10.1.0.0/16"]}}})"),
                        {}, network, egress)
          .ok());
  EXPECT_TRUE(network);  // a policy implies network
  ASSERT_TRUE(egress);
  EXPECT_EQ(egress->allow.size(), 2u);
  EXPECT_EQ(egress->deny.size(), 1u);
  EXPECT_TRUE(egress->hasDomains());
}

TEST(EgressPolicy, RefusesUnknownKeysWrongTypesAndTooManyRules) {
  bool network = false;
  std::optional<EgressPolicy> egress;
  for (const char* bad :
       {R"({"network": 1})", R"({"network": "yes"})", R"({"network": {"egres": {}}})",
        R"({"network": {"egress": []}})", R"({"network": {"egress": {"allow": "10.0.0.0/8"}}})",
        R"({"network": {"egress": {"allow": [1]}}})", R"({"network": {"egress": {"permit": []}}})",
        R"({"network": {"egress": {"allow": ["10.0.0.0/33"]}}})",
        R"({"network": {"egress": {"deny": ["example.com:443"]}}})"}) {
    const auto parsed = parseNetworkField(*parse(bad), {}, network, egress);
    EXPECT_FALSE(parsed.ok()) << bad;
    if (!parsed.ok()) {
      EXPECT_EQ(parsed.error().code, ErrorCode::kInvalidArgument) << bad;
    }
  }
  std::string many = R"({"network": {"egress": {"allow": [)";
  for (int i = 0; i < 5; ++i)
    many += std::string(i ? "," : "") + "\"10.0.0." + std::to_string(i) + "\"";
  many += "]}}}";
  const auto parsed = parseNetworkField(*parse(many), EgressLimits{4}, network, egress);
  ASSERT_FALSE(parsed.ok());
  EXPECT_NE(parsed.error().message.find("more than 4"), std::string::npos);
}

TEST(EgressPolicy, MergesWithTheServerDefault) {
  EgressPolicy server;
  server.allow = {parseEgressRule("pypi.org").value()};
  server.deny = {parseEgressRule("169.254.0.0/16").value()};
  // No policy of its own: the server's.
  auto merged = mergeEgressPolicies(server, std::nullopt, {});
  ASSERT_TRUE(merged.ok());
  EXPECT_EQ(merged.value(), server);
  // Its own allow list replaces the default's; the deny lists join.
  EgressPolicy own;
  own.allow = {parseEgressRule("10.0.0.0/8").value()};
  own.deny = {parseEgressRule("10.9.0.0/16").value(), parseEgressRule("169.254.0.0/16").value()};
  merged = mergeEgressPolicies(server, own, {});
  ASSERT_TRUE(merged.ok());
  ASSERT_EQ(merged.value().allow.size(), 1u);
  EXPECT_EQ(merged.value().allow[0].text(), "10.0.0.0/8");
  ASSERT_EQ(merged.value().deny.size(), 2u);
  EXPECT_EQ(merged.value().deny[0].text(), "169.254.0.0/16");
  // A deny-only policy keeps the default allow list.
  EgressPolicy deny_only;
  deny_only.deny = {parseEgressRule("10.9.0.0/16").value()};
  merged = mergeEgressPolicies(server, deny_only, {});
  ASSERT_TRUE(merged.ok());
  EXPECT_EQ(merged.value().allow, server.allow);
  EXPECT_FALSE(mergeEgressPolicies(server, own, EgressLimits{2}).ok());
}

TEST(EgressPolicy, JudgesNames) {
  EgressPolicy policy;
  policy.allow = {parseEgressRule("*.example.com").value(), parseEgressRule("api.test:443").value(),
                  parseEgressRule("api.test:8443").value(), parseEgressRule("10.0.0.0/8").value()};
  policy.deny = {parseEgressRule("evil.example.com").value()};
  EXPECT_TRUE(judgeName(policy, "www.example.com").allowed);
  EXPECT_TRUE(judgeName(policy, "a.b.example.com").all_ports);
  EXPECT_FALSE(judgeName(policy, "example.com").allowed);  // a wildcard names subdomains only
  EXPECT_FALSE(judgeName(policy, "badexample.com").allowed);
  EXPECT_FALSE(judgeName(policy, "evil.example.com").allowed);  // deny wins
  EXPECT_FALSE(judgeName(policy, "other.test").allowed);        // default deny
  const NameVerdict api = judgeName(policy, "api.test");
  EXPECT_TRUE(api.allowed);
  EXPECT_FALSE(api.all_ports);
  EXPECT_EQ(api.ports, (std::vector<uint16_t>{443, 8443}));
  // Without an allow list every name resolves but the denied ones.
  EgressPolicy deny_only;
  deny_only.deny = {parseEgressRule("*.tracker.test").value()};
  EXPECT_TRUE(judgeName(deny_only, "pypi.org").allowed);
  EXPECT_FALSE(judgeName(deny_only, "x.tracker.test").allowed);
}

TEST(EgressPolicy, ParsesIniLists) {
  auto list = parseEgressList("10.0.0.0/8, example.com  *.test:443,,", "network.allow");
  ASSERT_TRUE(list.ok());
  ASSERT_EQ(list.value().size(), 3u);
  EXPECT_EQ(list.value()[2].text(), "*.test:443");
  auto bad = parseEgressList("10.0.0.0/8, 10.0.0.0/99", "network.allow");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().message.find("network.allow"), std::string::npos);
}

}  // namespace
}  // namespace grid
