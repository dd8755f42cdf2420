#include "grid/engine/initial_process.h"

#include <algorithm>
#include <cstdlib>
#include <utility>

#include "grid/engine/container_conventions.h"

namespace grid::engine {

namespace {

// A status is at most three digits; anything longer after the marker is not a marker line.
constexpr size_t kStatusDigits = 3;

}  // namespace

std::string EndMarkerScanner::pass(std::string_view data) {
  if (status_) return std::string(data);
  held_.append(data);
  std::string out;
  for (;;) {
    const size_t at = held_.find(marker_);
    if (at == std::string::npos) break;
    size_t end = at + marker_.size();
    while (end < held_.size() && end - at - marker_.size() < kStatusDigits && held_[end] >= '0' &&
           held_[end] <= '9') {
      ++end;
    }
    if (end == held_.size()) {
      // Digits may still follow: hold from the marker on.
      out.append(held_, 0, at);
      held_.erase(0, at);
      return out;
    }
    if (held_[end] == '\n' && end > at + marker_.size()) {
      status_ = std::atoi(held_.c_str() + at + marker_.size());
      out.append(held_, 0, at);
      held_.clear();
      return out;
    }
    // Not a marker line: pass it on and look further.
    out.append(held_, 0, at + 1);
    held_.erase(0, at + 1);
  }
  // Hold back the longest end that could start a marker.
  size_t keep = std::min(held_.size(), marker_.size() - 1);
  while (keep > 0 && held_.compare(held_.size() - keep, keep, marker_, 0, keep) != 0) --keep;
  out.append(held_, 0, held_.size() - keep);
  held_.erase(0, held_.size() - keep);
  return out;
}

std::string EndMarkerScanner::release() {
  std::string held;
  if (!status_) held.swap(held_);
  return held;
}

InitialProcessChannel::InitialProcessChannel(std::unique_ptr<ExecChannel> stream,
                                             const std::string& sandbox_id)
    : stream_(std::move(stream)),
      stdout_scanner_(initialProcessEndMarker(sandbox_id)),
      stderr_scanner_(initialProcessEndMarker(sandbox_id)) {}

Result<void> InitialProcessChannel::write(std::string_view data) {
  if (ended_) return fail(ErrorCode::kConflict, "the sandbox's initial process has ended");
  return stream_->write(data);
}

void InitialProcessChannel::closeStdin() { stream_->closeStdin(); }

Result<ReadResult> InitialProcessChannel::read(Clock::time_point deadline) {
  for (;;) {
    if (ended_) return ReadResult{ReadResult::Status::kEof, OutputStream::kStdout, {}};
    GRID_ASSIGN_OR_RETURN(ReadResult chunk, stream_->read(deadline));
    if (chunk.status == ReadResult::Status::kEof) ended_ = true;
    if (chunk.status == ReadResult::Status::kTimeout) {
      // Output that only began like a marker is not kept from a reader who waits for it.
      for (auto* scanner : {&stdout_scanner_, &stderr_scanner_}) {
        std::string held = scanner->release();
        if (held.empty()) continue;
        const OutputStream stream =
            scanner == &stdout_scanner_ ? OutputStream::kStdout : OutputStream::kStderr;
        return ReadResult{ReadResult::Status::kData, stream, std::move(held)};
      }
    }
    if (chunk.status != ReadResult::Status::kData) return chunk;
    EndMarkerScanner& scanner =
        chunk.stream == OutputStream::kStdout ? stdout_scanner_ : stderr_scanner_;
    chunk.data = scanner.pass(chunk.data);
    if (stdout_scanner_.status() && stderr_scanner_.status()) ended_ = true;
    if (!chunk.data.empty()) return chunk;
    if (!ended_ && Clock::now() >= deadline) {
      return ReadResult{ReadResult::Status::kTimeout, OutputStream::kStdout, {}};
    }
  }
}

std::optional<int> InitialProcessChannel::exitCode() {
  if (!ended_) return std::nullopt;
  return stderr_scanner_.status() ? stderr_scanner_.status() : stdout_scanner_.status();
}

Result<std::unique_ptr<InitialProcessChannel>> attachInitialProcess(
    const std::shared_ptr<EngineClient>& client, const std::string& container,
    const std::string& sandbox_id) {
  GRID_ASSIGN_OR_RETURN(
      HijackedStream stream,
      client->hijack(
          "/containers/" + container + "/attach?stream=1&stdin=1&stdout=1&stderr=1&logs=0", ""));
  auto channel = std::make_unique<ExecChannel>(client, "attach " + container, std::move(stream),
                                               /*stdin_attached=*/true);
  return std::make_unique<InitialProcessChannel>(std::move(channel), sandbox_id);
}

}  // namespace grid::engine
