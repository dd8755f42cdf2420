// EngineClient::stream(): requests whose bodies are too large to hold (archive up- and
// downloads). The body goes out in kStreamPieceBytes chunks written straight to the socket; the
// answer's body is handed on in pieces as it arrives. Each socket operation waits at most until
// the call's deadline, so a stalled engine (or a tenant stalling it) cannot hold the call.
#include <Poco/Net/HTTPRequest.h>
#include <Poco/Net/HTTPResponse.h>
#include <Poco/Net/NetException.h>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <istream>
#include <memory>
#include <vector>

#include "grid/engine/engine_client.h"

namespace grid::engine {

namespace {

using SteadyClock = std::chrono::steady_clock;

// Thrown inside the call when the body or the sink fails: carries their Error out of the Poco
// stream code and tells it apart from transport failures.
struct CallerFailure {
  Error error;
};

// The time left until `deadline` as a socket timeout; throws once it has passed. Never zero:
// Poco takes a zero timeout as "none".
Poco::Timespan remainingUntil(SteadyClock::time_point deadline) {
  const auto left =
      std::chrono::duration_cast<std::chrono::microseconds>(deadline - SteadyClock::now());
  if (left.count() <= 0) throw Poco::TimeoutException("deadline passed");
  return Poco::Timespan(std::max<Poco::Timespan::TimeDiff>(left.count(), 1000));
}

std::string lowerCase(std::string text) {
  std::transform(text.begin(), text.end(), text.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return text;
}

// Sets the socket timeouts to the time left before the next socket operation. Re-armed at most
// every kRearmInterval (two setsockopt calls per 4 KiB read would dominate a fast transfer):
// an operation then ends at most kRearmInterval after the deadline.
class DeadlineTimer {
 public:
  static constexpr auto kRearmInterval = std::chrono::milliseconds(100);

  DeadlineTimer(UnixSocketSession& session, SteadyClock::time_point deadline)
      : session_(session), deadline_(deadline) {}

  void arm() {
    const auto now = SteadyClock::now();
    if (armed_ && now - armed_at_ < kRearmInterval) return;
    session_.setTimeouts(remainingUntil(deadline_));
    armed_ = true;
    armed_at_ = now;
  }

 private:
  UnixSocketSession& session_;
  SteadyClock::time_point deadline_;
  bool armed_ = false;
  SteadyClock::time_point armed_at_;
};

// Sends all of `data`.
void sendAll(UnixSocketSession& session, const char* data, std::size_t size, DeadlineTimer& timer) {
  while (size > 0) {
    timer.arm();
    const int sent = session.socket().sendBytes(data, static_cast<int>(size));
    if (sent <= 0) throw Poco::IOException("connection closed while sending the body");
    data += sent;
    size -= static_cast<std::size_t>(sent);
  }
}

// Sends the body as chunked transfer encoding, one chunk per piece the source gives. Poco's
// chunked stream (still open, and empty) writes the closing zero chunk when the response is
// requested.
void sendChunkedBody(UnixSocketSession& session, const BodySource& body,
                     SteadyClock::time_point deadline) {
  DeadlineTimer timer(session, deadline);
  std::vector<char> piece(kStreamPieceBytes);
  for (;;) {
    Result<std::size_t> got = body(piece.data(), piece.size());
    if (!got.ok()) throw CallerFailure{got.error()};
    const std::size_t size = std::min(got.value(), piece.size());
    if (size == 0) return;
    char frame[24];
    const int frame_size = std::snprintf(frame, sizeof frame, "%zx\r\n", size);
    sendAll(session, frame, static_cast<std::size_t>(frame_size), timer);
    sendAll(session, piece.data(), size, timer);
    sendAll(session, "\r\n", 2, timer);
  }
}

// Reads the answer's body to its end and hands it on in pieces of up to kStreamPieceBytes.
// peek() makes at most one read of the connection.
void deliverBody(UnixSocketSession& session, std::istream& in, const BodySink& sink,
                 SteadyClock::time_point deadline) {
  DeadlineTimer timer(session, deadline);
  std::vector<char> piece(kStreamPieceBytes);
  std::size_t filled = 0;
  auto flush = [&] {
    if (filled == 0) return;
    Result<void> delivered = sink(std::string_view(piece.data(), filled));
    filled = 0;
    if (!delivered.ok()) throw CallerFailure{delivered.error()};
  };
  for (;;) {
    timer.arm();
    if (in.peek() == std::char_traits<char>::eof()) break;
    const std::streamsize got =
        in.readsome(piece.data() + filled, static_cast<std::streamsize>(piece.size() - filled));
    filled += static_cast<std::size_t>(std::max<std::streamsize>(got, 0));
    if (filled == piece.size()) flush();
  }
  flush();
}

// Reads at most `limit` bytes of the body; returns whether the body ended within them.
bool readBounded(UnixSocketSession& session, std::istream& in, std::size_t limit,
                 SteadyClock::time_point deadline, std::string* body) {
  char piece[4096];
  for (;;) {
    session.setTimeouts(remainingUntil(deadline));
    if (in.peek() == std::char_traits<char>::eof()) return true;
    if (body->size() >= limit) return false;
    const std::streamsize got = in.readsome(
        piece, static_cast<std::streamsize>(std::min(sizeof piece, limit - body->size())));
    body->append(piece, static_cast<std::size_t>(std::max<std::streamsize>(got, 0)));
  }
}

}  // namespace

Result<StreamedResponse> EngineClient::stream(const StreamedRequest& request) {
  bool retry = false;
  auto result = streamAttempt(request, &retry);
  // As in request(): a pooled connection the engine closed while idle fails before any answer.
  // Only requests without a body are pooled, so nothing of a body was consumed.
  if (!result.ok() && retry) result = streamAttempt(request, &retry);
  return result;
}

Result<StreamedResponse> EngineClient::streamAttempt(const StreamedRequest& request, bool* retry) {
  *retry = false;
  const std::string path = request.path.substr(0, request.path.find('?'));
  const std::string what = endpoint_.product + ": " + request.method + " " + path;
  const bool has_body = static_cast<bool>(request.body);
  // A body cannot be sent twice (its source is read once): such requests get a connection of
  // their own, so there is no stale pooled one to retry on.
  ConnectionPool::Lease lease =
      has_body
          ? ConnectionPool::Lease{std::make_unique<UnixSocketSession>(endpoint_.socket_path), false}
          : pool_.acquire();
  UnixSocketSession& session = *lease.session;
  bool answered = false;
  try {
    session.setTimeouts(remainingUntil(request.deadline));
    Poco::Net::HTTPRequest head(request.method, versionedPath(request.path),
                                Poco::Net::HTTPMessage::HTTP_1_1);
    head.setHost("localhost");
    head.setKeepAlive(true);
    if (has_body) {
      head.setContentType(request.content_type);
      head.setChunkedTransferEncoding(true);
    } else if (request.method == "POST" || request.method == "PUT") {
      head.setContentLength(0);
    }
    session.sendRequest(head);
    if (has_body) sendChunkedBody(session, request.body, request.deadline);

    Poco::Net::HTTPResponse response;
    session.setTimeouts(remainingUntil(request.deadline));
    std::istream& in = session.receiveResponse(response);
    answered = true;
    // Without badbit in the mask the stream would swallow Poco's exceptions as a short body.
    in.exceptions(std::ios::badbit);
    StreamedResponse answer;
    answer.status = static_cast<int>(response.getStatus());
    for (const auto& [name, value] : response) answer.headers[lowerCase(name)] = value;
    bool complete = true;
    if (answer.ok()) {
      static const BodySink kDrop = [](std::string_view) -> Result<void> { return {}; };
      deliverBody(session, in, request.sink ? request.sink : kDrop, request.deadline);
    } else {
      complete = readBounded(session, in, kMaxErrorBodyBytes, request.deadline, &answer.body);
    }
    if (complete && response.getKeepAlive()) pool_.release(std::move(lease.session));
    return answer;
  } catch (const CallerFailure& failure) {
    return failure.error;
  } catch (const UnreachableError& e) {
    return unreachable(e.message());
  } catch (const Poco::TimeoutException&) {
    return fail(ErrorCode::kTimeout, what + ": no complete answer before the deadline");
  } catch (const Poco::Exception& e) {
    *retry = lease.reused && !answered;
    return fail(ErrorCode::kInternal, what + ": " + e.displayText());
  } catch (const std::exception& e) {
    return fail(ErrorCode::kInternal, what + ": " + e.what());
  }
}

}  // namespace grid::engine
