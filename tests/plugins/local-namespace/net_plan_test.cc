// The pure network plan of local-namespace (no root): pool parsing, /30 links, names, the
// host's nftables ruleset and the sandbox's resolv.conf.
#include "kernel/net_plan.h"

#include <gtest/gtest.h>

namespace grid::localns {
namespace {

TEST(NetPlanTest, ParsesPools) {
  auto pool = parseIpv4Pool("10.89.0.0/16");
  ASSERT_TRUE(pool.ok()) << pool.error().message;
  EXPECT_EQ(pool.value().network, 0x0a590000u);
  EXPECT_EQ(pool.value().prefix, 16);
  EXPECT_EQ(pool.value().linkCount(), 16384u);
  EXPECT_EQ(pool.value().cidr(), "10.89.0.0/16");
  EXPECT_EQ(parseIpv4Pool("192.168.7.0/30").value().linkCount(), 1u);
}

TEST(NetPlanTest, RejectsBadPools) {
  for (const char* bad :
       {"10.89.0.0", "10.89.0.0/31", "10.89.0.0/7", "10.89.0.1/16", "10.89.0/16", "10.89.0.256/24",
        "10.89.0.0/", "10.89.0.0/1a", "fd00::/64", "", "10.89.0.0/16 ", "010.89.0.0.0/16"}) {
    auto r = parseIpv4Pool(bad);
    EXPECT_FALSE(r.ok()) << bad;
    if (!r.ok()) {
      EXPECT_EQ(r.error().code, ErrorCode::kInvalidArgument) << bad;
    }
  }
  EXPECT_NE(parseIpv4Pool("10.89.0.1/16").error().message.find("did you mean 10.89.0.0/16"),
            std::string::npos);
}

TEST(NetPlanTest, LinksArePointToPointSlash30s) {
  auto pool = parseIpv4Pool("10.89.0.0/16").value();
  auto first = planSandboxLink(pool, 0, "3f2a9c1e-77b0-4c2e-9d7a-0b1c2d3e4f50");
  EXPECT_EQ(first.subnetText(), "10.89.0.0");
  EXPECT_EQ(formatIpv4(first.host_address), "10.89.0.1");
  EXPECT_EQ(formatIpv4(first.sandbox_address), "10.89.0.2");
  EXPECT_EQ(first.host_name, "gv-3f2a9c1e-77b");
  EXPECT_LE(first.host_name.size(), 15u);  // IFNAMSIZ - 1
  auto later = planSandboxLink(pool, 300, "a");
  EXPECT_EQ(later.subnetText(), "10.89.4.176");
  EXPECT_EQ(formatIpv4(later.sandbox_address), "10.89.4.178");
  EXPECT_EQ(later.host_name, "gv-a");
  auto last = planSandboxLink(pool, pool.linkCount() - 1, "z");
  EXPECT_EQ(formatIpv4(last.sandbox_address), "10.89.255.254");
}

TEST(NetPlanTest, TableNameIsSafe) {
  EXPECT_EQ(hostTableName("prod-1"), "grid_prod_1");
  EXPECT_EQ(hostTableName("a b;\"}\n"), "grid_a_b____");
}

TEST(NetPlanTest, HostRulesIsolateSandboxesAndTheHost) {
  auto rules = planHostRules("main", parseIpv4Pool("10.89.0.0/16").value());
  // Replaces an older table atomically.
  EXPECT_EQ(rules.find("table inet grid_main {}\ndelete table inet grid_main\n"), 0u);
  // The host (every address, loopback services, Grid's API): refused from every veth.
  EXPECT_NE(rules.find("hook input priority filter; policy accept;\n"
                       "    iifname \"gv-*\" meta l4proto tcp reject with tcp reset\n"
                       "    iifname \"gv-*\" reject with icmpx admin-prohibited\n"),
            std::string::npos);
  // Towards a veth only replies pass: another sandbox and the outside are refused.
  EXPECT_NE(rules.find("oifname \"gv-*\" ct state established,related accept\n"
                       "    oifname \"gv-*\" meta l4proto tcp reject with tcp reset\n"),
            std::string::npos);
  EXPECT_NE(rules.find("iifname \"gv-*\" ip saddr != 10.89.0.0/16 drop"), std::string::npos);
  EXPECT_NE(rules.find("ip saddr 10.89.0.0/16 oifname != \"gv-*\" masquerade"), std::string::npos);
  EXPECT_EQ(planHostRulesRemoval("main"), "table inet grid_main {}\ndelete table inet grid_main\n");
}

TEST(NetPlanTest, ForwardAcceptsCarryTheInstance) {
  auto rules = planForwardAccepts("a-b", "-I");
  ASSERT_EQ(rules.size(), 2u);
  EXPECT_EQ(rules[0], (std::vector<std::string>{"-I", "FORWARD", "-i", "gv-+", "-m", "comment",
                                                "--comment", "grid_a_b", "-j", "ACCEPT"}));
  EXPECT_EQ(rules[1][0], "-I");
  EXPECT_EQ(rules[1][3], "gv-+");
  EXPECT_EQ(rules[1][7], "RELATED,ESTABLISHED");
}

TEST(NetPlanTest, ResolvConfPrefersTheSpec) {
  bool none = true;
  auto text = planResolvConf({"127.0.0.53"}, "nameserver 1.1.1.1\nsearch corp\n", "", &none);
  EXPECT_FALSE(none);
  EXPECT_NE(text.find("nameserver 127.0.0.53\n"), std::string::npos);
  EXPECT_EQ(text.find("1.1.1.1"), std::string::npos);
  EXPECT_EQ(text.find("search"), std::string::npos);
}

TEST(NetPlanTest, ResolvConfDropsLoopbackResolvers) {
  bool none = true;
  auto text =
      planResolvConf({},
                     "# comment\nnameserver 127.0.0.53\nnameserver ::1\nnameserver 10.255.255.53\n"
                     "search example.org\noptions edns0\n",
                     "", &none);
  EXPECT_FALSE(none);
  EXPECT_EQ(text.find("127.0.0.53"), std::string::npos);
  EXPECT_EQ(text.find("::1"), std::string::npos);
  EXPECT_NE(text.find("nameserver 10.255.255.53\n"), std::string::npos);
  EXPECT_NE(text.find("search example.org\n"), std::string::npos);
  EXPECT_NE(text.find("options edns0\n"), std::string::npos);
}

TEST(NetPlanTest, ResolvConfFallsBackToSystemdResolvedUpstreams) {
  bool none = true;
  auto text = planResolvConf({}, "nameserver 127.0.0.53\noptions edns0 trust-ad\n",
                             "nameserver 192.0.2.1\nnameserver 192.0.2.2\n", &none);
  EXPECT_FALSE(none);
  EXPECT_NE(text.find("nameserver 192.0.2.1\nnameserver 192.0.2.2\n"), std::string::npos);
  EXPECT_EQ(text.find("127.0.0.53"), std::string::npos);
}

TEST(NetPlanTest, ResolvConfWithOnlyLoopbackResolversHasNone) {
  bool none = false;
  auto text = planResolvConf({}, "nameserver 127.0.0.1\n", "", &none);
  EXPECT_TRUE(none);
  EXPECT_EQ(text.find("nameserver"), std::string::npos);
}

}  // namespace
}  // namespace grid::localns
