// A streamed answer in newline-delimited JSON (application/x-ndjson, docs/live-output.md): one
// JSON object per line, over chunked transfer encoding, each line flushed to the client as it
// is written (no batching). It also tells when the client has gone away: a write failed, or,
// polled while nothing is written, its socket shows EOF or a reset.
#pragma once

#include <Poco/JSON/Object.h>
#include <Poco/Net/HTTPServerRequest.h>
#include <Poco/Net/HTTPServerResponse.h>

#include <ostream>
#include <string>
#include <string_view>

#include "grid/result.h"

namespace grid {

inline constexpr char kNdjsonContentType[] = "application/x-ndjson";

/// True when the request's Accept header names application/x-ndjson.
bool acceptsNdjson(const Poco::Net::HTTPServerRequest& request);

/// One streamed answer. Not thread-safe: the request's worker thread writes it. Never throws:
/// a client that went away turns every later call into a no-op returning false.
class NdjsonStream {
 public:
  NdjsonStream(Poco::Net::HTTPServerRequest& request, Poco::Net::HTTPServerResponse& response);
  NdjsonStream(const NdjsonStream&) = delete;
  NdjsonStream& operator=(const NdjsonStream&) = delete;

  /// Sends "200 OK" and the head (once); false if the client is gone.
  bool start();
  bool started() const { return out_ != nullptr; }

  /// Writes `event` as one line and flushes it (starting the answer if need be); false once
  /// the client is gone.
  bool write(const Poco::JSON::Object::Ptr& event);
  /// The same for a line already serialised (one JSON object, no newline in it).
  bool writeLine(std::string_view json);

  /// Whether the client is still there, without blocking: its socket is polled for EOF or a
  /// reset. Bytes of a next (pipelined) request count as a client still there. A client that
  /// half-closes its side counts as gone.
  bool clientConnected();

  /// Before start(): answers with a normal JSON error (status of `error.code`) instead of a
  /// stream. After it: writes the final {"type":"error","error","code"} event.
  void fail(const Error& error);
  /// The same with `code` as the code token instead of error.code's.
  void fail(const Error& error, const char* code);

 private:
  void markGone(const std::string& why);

  Poco::Net::HTTPServerRequest& request_;
  Poco::Net::HTTPServerResponse& response_;
  std::ostream* out_ = nullptr;
  int fd_ = -1;  // the client's socket, for polling; -1 where the server hides it
  bool gone_ = false;
  std::string line_;  // scratch, reused between writes
};

}  // namespace grid
