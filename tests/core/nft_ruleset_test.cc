#include "network/nft_ruleset.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include "network/netns_exec.h"

namespace grid {
namespace {

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

// The order of the output chain: its first line naming `a` comes before its first naming `b`.
bool before(const std::string& text, const std::string& a, const std::string& b) {
  const size_t chain = text.find("chain output");
  return text.find(a, chain) < text.find(b, chain);
}

TEST(NftRuleset, BaseRulesAloneAcceptTheRest) {
  RulesetPlan plan;
  plan.blocked = {"172.17.0.0/16", "10.0.2.15/32", "fd00::/64"};
  plan.grid_dns = true;
  const std::string text = nftRuleset(plan);
  // Replaces the table atomically: declared, deleted and made again in one script.
  EXPECT_EQ(text.rfind("table inet grid\ndelete table inet grid\ntable inet grid {", 0), 0u);
  EXPECT_TRUE(contains(text, "elements = { 172.17.0.0/16, 10.0.2.15/32 }"));
  EXPECT_TRUE(contains(text, "elements = { fd00::/64 }"));
  EXPECT_TRUE(before(text, "oifname \"lo\" accept", "@base4"));
  EXPECT_TRUE(before(text, "@base4", "th dport 53 goto refuse"));
  EXPECT_TRUE(contains(text, "    accept\n  }"));  // no allow list: the rest is accepted
  EXPECT_FALSE(contains(text, "@allow4 accept"));
  EXPECT_TRUE(contains(text, "counter name \"refused\""));
  EXPECT_TRUE(contains(text, "reject with tcp reset"));
  EXPECT_TRUE(contains(text, "reject with icmpx admin-prohibited"));
  EXPECT_FALSE(contains(text, " drop"));  // a refusal never hangs the client
}

TEST(NftRuleset, AllowListRefusesTheRestAndDenyWins) {
  RulesetPlan plan;
  plan.policy.allow = {
      parseEgressRule("198.18.0.0/24").value(), parseEgressRule("198.19.0.10:8080").value(),
      parseEgressRule("[2001:db8::1]:443").value(), parseEgressRule("example.com").value()};
  plan.policy.deny = {parseEgressRule("198.18.0.66").value(),
                      parseEgressRule("198.18.0.0/24:25").value()};
  plan.generation = 7;
  plan.grants = {{"198.19.0.20", false, std::nullopt, 45}, {"2001:db8::2", true, 443, 60}};
  const std::string text = nftRuleset(plan);
  EXPECT_TRUE(contains(text, "elements = { 198.18.0.0/24 }"));
  EXPECT_TRUE(contains(text, "elements = { 198.19.0.10/32 . 8080 }"));
  EXPECT_TRUE(contains(text, "elements = { 2001:db8::1/128 . 443 }"));
  EXPECT_TRUE(contains(text, "elements = { 198.18.0.66/32 }"));
  EXPECT_TRUE(contains(text, "elements = { 198.18.0.0/24 . 25 }"));
  EXPECT_TRUE(contains(text, "elements = { 198.19.0.20 timeout 45s }"));
  EXPECT_TRUE(contains(text, "elements = { 2001:db8::2 . 443 timeout 60s }"));
  EXPECT_TRUE(before(text, "@deny4 goto refuse", "@allow4 accept"));
  EXPECT_TRUE(before(text, "@deny4p goto refuse", "@dns4 ct mark set 7 accept"));
  EXPECT_TRUE(contains(text, "ct state established,related ct mark 7 accept"));
  EXPECT_TRUE(contains(text, "    goto refuse\n  }"));  // default deny
  // Domain rules themselves never reach nft: the resolver grants their answers.
  EXPECT_FALSE(contains(text, "example.com"));
}

TEST(NftRuleset, GrantScriptRefreshesTimeouts) {
  const std::string text =
      nftGrantScript({{"198.19.0.20", false, std::nullopt, 30}, {"198.19.0.21", false, 443, 90}});
  EXPECT_TRUE(contains(text,
                       "add element inet grid dns4 { 198.19.0.20 }\n"
                       "delete element inet grid dns4 { 198.19.0.20 }\n"
                       "add element inet grid dns4 { 198.19.0.20 timeout 30s }\n"));
  EXPECT_TRUE(contains(text, "add element inet grid dns4p { 198.19.0.21 . 443 timeout 90s }"));
}

TEST(NftRuleset, ReadsTheRefusedCounter) {
  EXPECT_EQ(parseRefusedCounter("table inet grid {\n\tcounter refused {\n\t\tpackets 12 bytes "
                                "720\n\t}\n}\n"),
            12u);
  EXPECT_FALSE(parseRefusedCounter("garbage"));
}

// The kernel's own parser accepts what the plan writes (`nft --check` commits nothing).
TEST(NftRuleset, NftAcceptsTheScripts) {
  if (::geteuid() != 0 || ::access("/usr/sbin/nft", X_OK) != 0) {
    GTEST_SKIP() << "needs root and nft (Debian's nftables)";
  }
  RulesetPlan plan;
  plan.blocked = {"172.17.0.0/16", "10.0.2.15/32", "fd00::/64"};
  plan.grid_dns = true;
  plan.policy.allow = {parseEgressRule("198.18.0.0/24").value(),
                       parseEgressRule("198.19.0.10:8080").value(),
                       parseEgressRule("[2001:db8::1]:443").value()};
  plan.policy.deny = {parseEgressRule("198.18.0.66").value(),
                      parseEgressRule("198.18.0.0/24:25").value()};
  plan.grants = {{"198.19.0.20", false, std::nullopt, 45}, {"2001:db8::2", true, 443, 60}};
  auto checked = runNft(-1, "/usr/sbin/nft", {"--check", "-f", "-"}, nftRuleset(plan));
  EXPECT_TRUE(checked.ok()) << checked.error().message << "\n" << nftRuleset(plan);
  RulesetPlan base_only;
  checked = runNft(-1, "/usr/sbin/nft", {"--check", "-f", "-"}, nftRuleset(base_only));
  EXPECT_TRUE(checked.ok()) << checked.error().message;
  // A grant script applies on top of the ruleset, in the same transaction here.
  checked = runNft(-1, "/usr/sbin/nft", {"--check", "-f", "-"},
                   nftRuleset(plan) + nftGrantScript({{"198.19.0.30", false, 443, 30},
                                                      {"198.19.0.20", false, std::nullopt, 30}}));
  EXPECT_TRUE(checked.ok()) << checked.error().message;
}

}  // namespace
}  // namespace grid
