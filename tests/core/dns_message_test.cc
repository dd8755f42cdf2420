#include "network/dns_message.h"

#include <gtest/gtest.h>

#include "network/dns_resolver.h"

namespace grid {
namespace {

std::string query(uint16_t id, const std::string& dotted, uint16_t type = 1) {
  std::string m = {
      static_cast<char>(id >> 8), static_cast<char>(id & 0xFF), 1, 0, 0, 1, 0, 0, 0, 0, 0, 0};
  size_t start = 0;
  while (start <= dotted.size()) {
    const size_t dot = std::min(dotted.find('.', start), dotted.size());
    m += static_cast<char>(dot - start);
    m += dotted.substr(start, dot - start);
    start = dot + 1;
  }
  m += '\0';
  m += {0, static_cast<char>(type), 0, 1};
  return m;
}

TEST(DnsMessage, ParsesAQuery) {
  const auto q = parseDnsQuery(query(0x1234, "WWW.Example.com"));
  ASSERT_TRUE(q);
  EXPECT_EQ(q->id, 0x1234);
  EXPECT_EQ(q->name, "www.example.com");
  EXPECT_EQ(q->type, 1);
}

TEST(DnsMessage, RefusesHostileQueries) {
  EXPECT_FALSE(parseDnsQuery(""));
  EXPECT_FALSE(parseDnsQuery(std::string(11, '\0')));
  std::string response = query(1, "a.com");
  response[2] = static_cast<char>(0x81);  // QR set
  EXPECT_FALSE(parseDnsQuery(response));
  std::string truncated = query(1, "example.com");
  truncated.resize(truncated.size() - 3);
  EXPECT_FALSE(parseDnsQuery(truncated));
  std::string pointer = query(1, "a.com");
  pointer[12] = static_cast<char>(0xC0);  // a compression pointer in the question
  EXPECT_FALSE(parseDnsQuery(pointer));
  // A label holding a dot could forge "allowed.com" out of other labels.
  std::string dotted = query(1, "evilxallowed.com");
  dotted[13 + 4] = '.';
  EXPECT_FALSE(parseDnsQuery(dotted));
}

TEST(DnsMessage, AnswersAnErrorAndReadsAnswers) {
  const std::string q = query(0xBEEF, "denied.test");
  const auto parsed = parseDnsQuery(q);
  ASSERT_TRUE(parsed);
  const std::string nx = dnsErrorResponse(q, *parsed, 3);
  EXPECT_EQ(nx.size(), q.size());
  EXPECT_EQ(static_cast<uint8_t>(nx[2]) & 0x80, 0x80);
  EXPECT_EQ(static_cast<uint8_t>(nx[3]) & 0x0F, 3);
  // A response: the question, a CNAME (skipped), then an A record through a pointer.
  std::string r = q;
  r[2] = static_cast<char>(0x81);
  r[3] = static_cast<char>(0x80);
  r[7] = 2;
  r += {static_cast<char>(0xC0), 12, 0, 5, 0, 1, 0, 0, 0, 60, 0, 2, static_cast<char>(0xC0), 12};
  r +=
      {static_cast<char>(0xC0), 12, 0, 1, 0, 1, 0, 0, 1, 0, 0, 4, static_cast<char>(198), 18, 0, 7};
  const auto answers = parseDnsAnswers(r);
  ASSERT_TRUE(answers);
  ASSERT_EQ(answers->size(), 1u);
  EXPECT_EQ((*answers)[0].address, "198.18.0.7");
  EXPECT_EQ((*answers)[0].ttl, 256u);
  r.resize(r.size() - 2);
  EXPECT_FALSE(parseDnsAnswers(r));
  EXPECT_EQ(withDnsId(r, 0x0102).substr(0, 2), std::string("\x01\x02"));
}

TEST(DnsResolverConfig, ParsesServers) {
  EXPECT_TRUE(parseDnsServer("198.18.0.53").ok());
  EXPECT_TRUE(parseDnsServer("198.18.0.53:5353").ok());
  EXPECT_TRUE(parseDnsServer("[2001:db8::53]:53").ok());
  EXPECT_TRUE(parseDnsServer("2001:db8::53").ok());
  EXPECT_FALSE(parseDnsServer("dns.example").ok());
  EXPECT_FALSE(parseDnsServer("198.18.0.53:0").ok());
  EXPECT_EQ(resolvConfNameservers("# c\nnameserver 10.0.0.2\nsearch x\nnameserver fe80::1%eth0\n"
                                  "nameserver 2001:db8::1\n"),
            (std::vector<std::string>{"10.0.0.2", "2001:db8::1"}));
}

}  // namespace
}  // namespace grid
