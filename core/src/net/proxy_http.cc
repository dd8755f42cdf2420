#include "net/proxy_http.h"

#include <algorithm>
#include <cctype>
#include <charconv>

namespace grid {
namespace {

constexpr size_t kMaxChunkLine = 1024;
constexpr size_t kMaxTrailerBytes = 16 << 10;

bool equalsIgnoreCase(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// Comma-separated list items, trimmed, empty ones dropped.
std::vector<std::string_view> listItems(std::string_view value) {
  std::vector<std::string_view> items;
  while (!value.empty()) {
    const size_t comma = value.find(',');
    const std::string_view item = trim(value.substr(0, comma));
    if (!item.empty()) items.push_back(item);
    if (comma == std::string_view::npos) break;
    value.remove_prefix(comma + 1);
  }
  return items;
}

std::optional<uint64_t> decimal(std::string_view text) {
  uint64_t value = 0;
  if (text.empty() || text.size() > 19) return std::nullopt;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return value;
}

bool isToken(std::string_view name) {
  if (name.empty()) return false;
  for (const char c : name) {
    const auto u = static_cast<unsigned char>(c);
    if (u <= 32 || u >= 127 ||
        std::string_view("()<>@,;:\\\"/[]?={}").find(c) != std::string_view::npos) {
      return false;
    }
  }
  return true;
}

// A field value may hold visible bytes, spaces and tabs (and obs-text), never CR, LF or NUL.
bool isFieldValue(std::string_view value) {
  for (const char c : value) {
    const auto u = static_cast<unsigned char>(c);
    if ((u < 32 && c != '\t') || u == 127) return false;
  }
  return true;
}

// The lengths announced by Content-Length headers (all of them; a list counts per item).
Result<std::optional<uint64_t>> contentLength(const HeaderList& headers) {
  std::optional<uint64_t> length;
  for (const auto& [name, value] : headers) {
    if (!equalsIgnoreCase(name, "Content-Length")) continue;
    for (const std::string_view item : listItems(value)) {
      const auto parsed = decimal(item);
      if (!parsed) return fail(ErrorCode::kInvalidArgument, "malformed Content-Length");
      if (length && *length != *parsed) {
        return fail(ErrorCode::kInvalidArgument, "conflicting Content-Length values");
      }
      length = parsed;
    }
  }
  return length;
}

// The Transfer-Encoding codings, joined over every such header; nullopt when there is none.
std::optional<std::vector<std::string>> transferCodings(const HeaderList& headers) {
  std::optional<std::vector<std::string>> codings;
  for (const auto& [name, value] : headers) {
    if (!equalsIgnoreCase(name, "Transfer-Encoding")) continue;
    if (!codings) codings.emplace();
    for (const std::string_view item : listItems(value)) codings->emplace_back(item);
  }
  return codings;
}

}  // namespace

Result<uint16_t> parsePortNumber(std::string_view text) {
  const auto value = text.size() <= 5 ? decimal(text) : std::nullopt;
  if (!value || *value < 1 || *value > 65535) {
    return fail(ErrorCode::kInvalidArgument, "a port is a number from 1 to 65535, not '" +
                                                 std::string(text.substr(0, 32)) + "'");
  }
  return static_cast<uint16_t>(*value);
}

bool isHopByHopHeader(std::string_view name, std::string_view connection) {
  for (const char* hop : {"Connection", "Keep-Alive", "Proxy-Connection", "Proxy-Authenticate",
                          "Proxy-Authorization", "TE", "Trailer", "Transfer-Encoding", "Upgrade"}) {
    if (equalsIgnoreCase(name, hop)) return true;
  }
  for (const std::string_view listed : listItems(connection)) {
    if (equalsIgnoreCase(name, listed)) return true;
  }
  return false;
}

Result<RequestFraming> checkRequestFraming(const HeaderList& headers) {
  RequestFraming framing;
  GRID_ASSIGN_OR_RETURN(framing.content_length, contentLength(headers));
  if (const auto codings = transferCodings(headers)) {
    if (codings->size() != 1 || !equalsIgnoreCase(codings->front(), "chunked")) {
      return fail(ErrorCode::kInvalidArgument,
                  "Transfer-Encoding must be exactly \"chunked\" (other codings are refused)");
    }
    if (framing.content_length) {
      return fail(ErrorCode::kInvalidArgument,
                  "a request may not carry both Content-Length and Transfer-Encoding");
    }
    framing.chunked = true;
  }
  return framing;
}

std::string formatRequestHead(const UpstreamRequest& request) {
  std::string head = request.method + " " + request.target + " HTTP/1.1\r\n";
  head += "Host: " + request.host + "\r\n";
  for (const auto& [name, value] : request.headers) head += name + ": " + value + "\r\n";
  if (request.framing.chunked) {
    head += "Transfer-Encoding: chunked\r\n";
  } else if (request.framing.content_length) {
    head += "Content-Length: " + std::to_string(*request.framing.content_length) + "\r\n";
  }
  head +=
      request.websocket ? "Connection: Upgrade\r\nUpgrade: websocket\r\n" : "Connection: close\r\n";
  head += "\r\n";
  return head;
}

std::optional<std::string> ResponseHead::get(std::string_view name) const {
  for (const auto& [key, value] : headers) {
    if (equalsIgnoreCase(key, name)) return value;
  }
  return std::nullopt;
}

Result<std::optional<ResponseHead>> parseResponseHead(std::string_view received, size_t* consumed) {
  // The head ends at an empty line; bare LF line ends are accepted as RFC 9112 allows.
  size_t end = std::string_view::npos;
  size_t after = 0;
  for (size_t i = received.find('\n'); i != std::string_view::npos;
       i = received.find('\n', i + 1)) {
    if (i + 1 < received.size() && received[i + 1] == '\n') {
      end = i + 1;
      after = i + 2;
      break;
    }
    if (i + 2 < received.size() && received[i + 1] == '\r' && received[i + 2] == '\n') {
      end = i + 1;
      after = i + 3;
      break;
    }
  }
  if (end == std::string_view::npos) return std::optional<ResponseHead>();
  std::string_view head = received.substr(0, end);
  ResponseHead parsed;
  bool first = true;
  while (!head.empty()) {
    const size_t nl = head.find('\n');
    std::string_view line = head.substr(0, nl);
    head.remove_prefix(nl == std::string_view::npos ? head.size() : nl + 1);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (first) {
      first = false;
      // HTTP/1.x SP 3DIGIT [SP reason]
      if (line.size() < 12 ||
          (line.substr(0, 9) != "HTTP/1.1 " && line.substr(0, 9) != "HTTP/1.0 ")) {
        return fail(ErrorCode::kInvalidArgument, "malformed status line");
      }
      const auto code = decimal(line.substr(9, 3));
      if (!code || *code < 100 || *code > 599 || (line.size() > 12 && line[12] != ' ')) {
        return fail(ErrorCode::kInvalidArgument, "malformed status code");
      }
      parsed.status = static_cast<int>(*code);
      const std::string_view reason = line.size() > 13 ? line.substr(13) : std::string_view();
      if (!isFieldValue(reason)) return fail(ErrorCode::kInvalidArgument, "malformed reason");
      parsed.reason = std::string(reason);
      continue;
    }
    const size_t colon = line.find(':');
    if (colon == std::string_view::npos || !isToken(line.substr(0, colon))) {
      return fail(ErrorCode::kInvalidArgument, "malformed header line");
    }
    const std::string_view value = trim(line.substr(colon + 1));
    if (!isFieldValue(value)) {
      return fail(ErrorCode::kInvalidArgument, "control bytes in a header value");
    }
    parsed.headers.emplace_back(std::string(line.substr(0, colon)), std::string(value));
  }
  if (first) return fail(ErrorCode::kInvalidArgument, "empty response head");
  *consumed = after;
  return std::optional<ResponseHead>(std::move(parsed));
}

Result<ResponseFraming> responseFraming(std::string_view request_method, const ResponseHead& head) {
  ResponseFraming framing;
  if (request_method == "HEAD" || head.status < 200 || head.status == 204 || head.status == 304) {
    return framing;  // no body, whatever the headers say
  }
  GRID_ASSIGN_OR_RETURN(const auto length, contentLength(head.headers));
  if (const auto codings = transferCodings(head.headers)) {
    if (length) {
      return fail(ErrorCode::kInvalidArgument, "both Content-Length and Transfer-Encoding");
    }
    if (codings->empty() || !equalsIgnoreCase(codings->back(), "chunked")) {
      framing.kind = ResponseFraming::Kind::kUntilClose;  // RFC 9112 6.3: read until close
      return framing;
    }
    if (codings->size() != 1) {
      return fail(ErrorCode::kInvalidArgument, "transfer codings other than chunked");
    }
    framing.kind = ResponseFraming::Kind::kChunked;
    return framing;
  }
  if (length) {
    framing.kind = ResponseFraming::Kind::kLength;
    framing.length = *length;
    return framing;
  }
  framing.kind = ResponseFraming::Kind::kUntilClose;
  return framing;
}

Result<size_t> ChunkedDecoder::feed(std::string_view input, std::string* out) {
  size_t used = 0;
  while (used < input.size() && state_ != State::kDone) {
    const char c = input[used];
    switch (state_) {
      case State::kSize:
      case State::kDataEnd:
      case State::kTrailer: {
        ++used;
        if (state_ == State::kTrailer && ++trailer_bytes_ > kMaxTrailerBytes) {
          return fail(ErrorCode::kInvalidArgument, "chunked trailer too large");
        }
        if (c != '\n') {
          if (line_.size() >= kMaxChunkLine) {
            return fail(ErrorCode::kInvalidArgument, "chunk size line too long");
          }
          line_ += c;
          break;
        }
        std::string_view line = line_;
        if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
        if (state_ == State::kDataEnd) {
          if (!line.empty()) return fail(ErrorCode::kInvalidArgument, "chunk data too long");
          state_ = State::kSize;
        } else if (state_ == State::kTrailer) {
          if (line.empty()) state_ = State::kDone;
        } else {
          const std::string_view digits = trim(line.substr(0, line.find(';')));
          uint64_t size = 0;
          const auto [end, error] =
              std::from_chars(digits.data(), digits.data() + digits.size(), size, 16);
          if (digits.empty() || digits.size() > 15 || error != std::errc() ||
              end != digits.data() + digits.size()) {
            return fail(ErrorCode::kInvalidArgument, "malformed chunk size");
          }
          remaining_ = size;
          state_ = size == 0 ? State::kTrailer : State::kData;
        }
        line_.clear();
        break;
      }
      case State::kData: {
        const size_t take =
            static_cast<size_t>(std::min<uint64_t>(remaining_, input.size() - used));
        out->append(input.substr(used, take));
        used += take;
        remaining_ -= take;
        if (remaining_ == 0) state_ = State::kDataEnd;
        break;
      }
      case State::kDone:
        break;
    }
  }
  return used;
}

std::string queryWithout(std::string_view query, std::string_view drop) {
  std::string kept;
  while (!query.empty()) {
    const size_t amp = query.find('&');
    const std::string_view pair = query.substr(0, amp);
    const std::string_view name = pair.substr(0, pair.find('='));
    if (!pair.empty() && name != drop) {
      if (!kept.empty()) kept += '&';
      kept += pair;
    }
    if (amp == std::string_view::npos) break;
    query.remove_prefix(amp + 1);
  }
  return kept;
}

namespace {
// Calls `each(name, value, whole)` for every cookie of a Cookie header.
template <typename Each>
void forEachCookie(std::string_view header, Each each) {
  while (!header.empty()) {
    const size_t semi = header.find(';');
    const std::string_view whole = trim(header.substr(0, semi));
    const size_t eq = whole.find('=');
    if (!whole.empty()) {
      each(trim(whole.substr(0, eq)),
           eq == std::string_view::npos ? std::string_view() : trim(whole.substr(eq + 1)), whole);
    }
    if (semi == std::string_view::npos) break;
    header.remove_prefix(semi + 1);
  }
}
}  // namespace

std::optional<std::string> cookieValue(std::string_view cookie_header, std::string_view name) {
  std::optional<std::string> found;
  forEachCookie(cookie_header, [&](std::string_view n, std::string_view v, std::string_view) {
    if (!found && n == name) found = std::string(v);
  });
  return found;
}

std::string cookiesWithout(std::string_view cookie_header, std::string_view name) {
  std::string kept;
  forEachCookie(cookie_header, [&](std::string_view n, std::string_view, std::string_view whole) {
    if (n == name) return;
    if (!kept.empty()) kept += "; ";
    kept += whole;
  });
  return kept;
}

}  // namespace grid
