// The session output scanner, the exec transcript and the output cap: any byte stream, cut
// anywhere, must give back exactly the bytes before the marker, the scanner must hold at most
// one marker line, and the cap must hold.
#include <cstdint>
#include <cstdlib>
#include <string>

#include "session/session_protocol.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  const size_t cut = data[0] % (size - 1) + 1;
  const std::string stream(reinterpret_cast<const char*>(data + 1), size - 1);
  const std::string token = "f00dfeedf00dfeedf00dfeedf00dfeed";
  const size_t max_held = token.size() + 1 + grid::kMaxMarkerBody;

  // Unsplit and split feeding must agree.
  grid::MarkerScanner whole(token);
  std::string whole_out;
  const auto whole_marker = whole.feed(stream, whole_out);
  grid::MarkerScanner split(token);
  std::string split_out;
  auto split_marker = split.feed(stream.substr(0, cut), split_out);
  if (!split_marker && split.pendingBytes() > max_held) std::abort();
  if (!split_marker) split_marker = split.feed(stream.substr(cut), split_out);
  if (whole_marker.has_value() != split_marker.has_value()) std::abort();
  if (whole_marker) {
    if (whole_out != split_out || whole_marker->fields != split_marker->fields) std::abort();
  } else {
    if (whole.pendingBytes() > max_held) std::abort();      // bounded, whatever came
    if (whole_out + whole.flush() != stream) std::abort();  // nothing lost, nothing added
  }

  // The transcript of one exec: the same end and output however the stream is cut, and the
  // output is a part of the stream (markers of other nonces verbatim, nothing invented).
  grid::ExecTranscript one(token, "0a1b", 1 << 20);
  const auto one_end = one.feed(stream);
  grid::ExecTranscript two(token, "0a1b", 1 << 20);
  auto two_end = two.feed(stream.substr(0, cut));
  if (!two_end) two_end = two.feed(stream.substr(cut));
  if (one_end.has_value() != two_end.has_value()) std::abort();
  if (one_end && (one_end->exited != two_end->exited || one_end->status != two_end->status)) {
    std::abort();
  }
  if (!one_end) {
    if (one.pendingBytes() > max_held || two.pendingBytes() > max_held) std::abort();
    one.flush();
    two.flush();
  }
  if (one.output().str() != two.output().str()) std::abort();
  if (stream.find(one.output().str()) == std::string::npos) std::abort();

  grid::CappedOutput capped(64);
  capped.append(stream.substr(0, cut));
  capped.append(stream.substr(cut));
  if (!capped.truncated() && capped.str() != stream) std::abort();
  if (capped.totalBytes() != stream.size()) std::abort();

  // Quoting stays on one line whatever the input, and so does an exec line.
  if (grid::quoteAnsiC(stream).find('\n') != std::string::npos) std::abort();
  const std::string line = grid::sessionExecScript("0a1b", stream);
  if (line.find('\n') != line.size() - 1) std::abort();
  return 0;
}
