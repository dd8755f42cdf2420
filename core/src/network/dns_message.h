// The few parts of DNS messages (RFC 1035) the egress resolver reads and writes: pure, bounded,
// and tolerant of hostile bytes (a tenant writes the queries).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace grid {

struct DnsQuestion {
  uint16_t id = 0;
  std::string name;  // lower case, no trailing dot; "" for the root
  uint16_t type = 0;
  uint16_t klass = 0;
  size_t question_end = 0;  // offset just past the question
};

struct DnsAddress {
  std::string address;  // inet_ntop text
  bool v6 = false;
  uint32_t ttl = 0;
};

/// A standard query (QR 0, opcode 0) with exactly one question, or nullopt.
std::optional<DnsQuestion> parseDnsQuery(std::string_view message);

/// The A and AAAA records of a response's answer section (CNAMEs are followed by the upstream:
/// every address in the answer belongs to the question's name). nullopt if it does not parse.
std::optional<std::vector<DnsAddress>> parseDnsAnswers(std::string_view message);

/// A response to `query` with `rcode` (3 NXDOMAIN, 5 REFUSED, 2 SERVFAIL) and no records.
std::string dnsErrorResponse(std::string_view query, const DnsQuestion& question, int rcode);

/// `message` with its id replaced.
std::string withDnsId(std::string_view message, uint16_t id);

}  // namespace grid
