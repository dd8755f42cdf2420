// The session output scanner and output cap: any byte stream, cut anywhere, must give back
// exactly the bytes before the marker, and the cap must hold.
#include <cstdint>
#include <cstdlib>
#include <string>

#include "session_protocol.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  const size_t cut = data[0] % (size - 1) + 1;
  const std::string stream(reinterpret_cast<const char*>(data + 1), size - 1);
  const std::string token = "f00dfeedf00dfeedf00dfeedf00dfeed";

  // Unsplit and split feeding must agree.
  grid::MarkerScanner whole(token);
  std::string whole_out;
  const auto whole_marker = whole.feed(stream, whole_out);
  grid::MarkerScanner split(token);
  std::string split_out;
  auto split_marker = split.feed(stream.substr(0, cut), split_out);
  if (!split_marker) split_marker = split.feed(stream.substr(cut), split_out);
  if (whole_marker.has_value() != split_marker.has_value()) std::abort();
  if (whole_marker) {
    if (whole_out != split_out || whole_marker->fields != split_marker->fields) std::abort();
  } else {
    if (whole_out + whole.flush() != stream) std::abort();  // nothing lost, nothing added
  }

  grid::CappedOutput capped(64);
  capped.append(stream.substr(0, cut));
  capped.append(stream.substr(cut));
  if (!capped.truncated() && capped.str() != stream) std::abort();
  if (capped.totalBytes() != stream.size()) std::abort();

  // Quoting stays on one line whatever the input.
  if (grid::quoteAnsiC(stream).find('\n') != std::string::npos) std::abort();
  return 0;
}
