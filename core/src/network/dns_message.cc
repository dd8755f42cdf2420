#include "network/dns_message.h"

#include <arpa/inet.h>

#include <cctype>

namespace grid {
namespace {

uint16_t read16(std::string_view m, size_t at) {
  return static_cast<uint16_t>((static_cast<uint8_t>(m[at]) << 8) |
                               static_cast<uint8_t>(m[at + 1]));
}

uint32_t read32(std::string_view m, size_t at) {
  return (static_cast<uint32_t>(read16(m, at)) << 16) | read16(m, at + 2);
}

// Skips a possibly compressed name at `at`; the offset past it, or nullopt.
std::optional<size_t> skipName(std::string_view m, size_t at) {
  for (int labels = 0; labels < 128; ++labels) {
    if (at >= m.size()) return std::nullopt;
    const auto length = static_cast<uint8_t>(m[at]);
    if (length == 0) return at + 1;
    if ((length & 0xC0) == 0xC0) return at + 2 <= m.size() ? std::optional(at + 2) : std::nullopt;
    if (length & 0xC0) return std::nullopt;
    at += 1 + length;
  }
  return std::nullopt;
}

}  // namespace

std::optional<DnsQuestion> parseDnsQuery(std::string_view m) {
  if (m.size() < 12 || m.size() > 4096) return std::nullopt;
  const uint16_t flags = read16(m, 2);
  if ((flags & 0x8000) || ((flags >> 11) & 0xF) != 0) return std::nullopt;  // a query, QUERY
  if (read16(m, 4) != 1) return std::nullopt;
  DnsQuestion q;
  q.id = read16(m, 0);
  size_t at = 12;
  for (;;) {
    if (at >= m.size()) return std::nullopt;
    const auto length = static_cast<uint8_t>(m[at]);
    if (length == 0) {
      ++at;
      break;
    }
    if (length > 63 || at + 1 + length > m.size()) return std::nullopt;  // no pointers here
    if (!q.name.empty()) q.name += '.';
    for (size_t i = 0; i < length; ++i) {
      const char c = m[at + 1 + i];
      // A byte a domain rule could never match is kept out of the name, so it cannot forge one.
      if (c == '.' || c == '\0') return std::nullopt;
      q.name += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    }
    if (q.name.size() > 253) return std::nullopt;
    at += 1 + length;
  }
  if (at + 4 > m.size()) return std::nullopt;
  q.type = read16(m, at);
  q.klass = read16(m, at + 2);
  q.question_end = at + 4;
  return q;
}

std::optional<std::vector<DnsAddress>> parseDnsAnswers(std::string_view m) {
  if (m.size() < 12) return std::nullopt;
  const uint16_t questions = read16(m, 4);
  const uint16_t answers = read16(m, 6);
  size_t at = 12;
  for (uint16_t i = 0; i < questions; ++i) {
    const auto end = skipName(m, at);
    if (!end || *end + 4 > m.size()) return std::nullopt;
    at = *end + 4;
  }
  std::vector<DnsAddress> out;
  for (uint16_t i = 0; i < answers; ++i) {
    const auto end = skipName(m, at);
    if (!end || *end + 10 > m.size()) return std::nullopt;
    at = *end;
    const uint16_t type = read16(m, at);
    const uint16_t klass = read16(m, at + 2);
    const uint32_t ttl = read32(m, at + 4);
    const uint16_t length = read16(m, at + 8);
    at += 10;
    if (at + length > m.size()) return std::nullopt;
    if (klass == 1 && ((type == 1 && length == 4) || (type == 28 && length == 16))) {
      char text[INET6_ADDRSTRLEN] = {};
      inet_ntop(type == 1 ? AF_INET : AF_INET6, m.data() + at, text, sizeof text);
      out.push_back({text, type == 28, ttl});
    }
    at += length;
  }
  return out;
}

std::string dnsErrorResponse(std::string_view query, const DnsQuestion& question, int rcode) {
  std::string out(query.substr(0, question.question_end));
  const uint16_t flags = read16(query, 2);
  // QR, the query's opcode and RD, RA, the code; then one question and no records.
  const uint16_t answer = static_cast<uint16_t>(0x8000 | (flags & 0x7900) | 0x0080 | (rcode & 0xF));
  out[2] = static_cast<char>(answer >> 8);
  out[3] = static_cast<char>(answer & 0xFF);
  for (size_t i = 6; i < 12; ++i) out[i] = 0;
  return out;
}

std::string withDnsId(std::string_view message, uint16_t id) {
  std::string out(message);
  if (out.size() >= 2) {
    out[0] = static_cast<char>(id >> 8);
    out[1] = static_cast<char>(id & 0xFF);
  }
  return out;
}

}  // namespace grid
