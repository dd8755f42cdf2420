// The sandbox's initial process (SandboxSpec::initial_process) as the container's own, attached
// process: POST /containers/{id}/attach (hijacked) between create and start, so the session
// needs no exec. The container's command (containerCommand()) runs it and then prints an end
// marker on stderr and lives on; this channel turns that marker into the end of the stream.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "grid/engine/exec_channel.h"
#include "grid/sandbox_backend.h"

namespace grid::engine {

/// Finds `MARKER:STATUS\n` in a stderr stream split anywhere: pass() returns what goes on to
/// the reader, holding back at most a marker's length of a possible marker's start.
class EndMarkerScanner {
 public:
  explicit EndMarkerScanner(std::string marker) : marker_(std::move(marker) + ":") {}
  /// What of `data` (after what was held back) is plain output.
  std::string pass(std::string_view data);
  /// The status once the marker line has been seen.
  std::optional<int> status() const { return status_; }
  /// What is held back as a possible marker's start, given up (a read found nothing more).
  std::string release();

 private:
  std::string marker_;
  std::string held_;
  std::optional<int> status_;
};

/// The attached stream of the container's first process, until its end marker (printed on
/// stdout and stderr by the container's command once the process has ended).
class InitialProcessChannel : public ProcessChannel {
 public:
  InitialProcessChannel(std::unique_ptr<ExecChannel> stream, const std::string& sandbox_id);

  Result<void> write(std::string_view data) override;
  void closeStdin() override;
  Result<ReadResult> read(Clock::time_point deadline) override;
  /// The status from the end marker; nullopt when the stream ended without one (the container
  /// itself stopped).
  std::optional<int> exitCode() override;

  std::weak_ptr<ExecAbortHandle> abortHandle() const { return stream_->abortHandle(); }

 private:
  std::unique_ptr<ExecChannel> stream_;
  // The marker comes on both streams, which the engine forwards independently: the stream
  // ends once both have carried it, so no output written before it is lost.
  EndMarkerScanner stdout_scanner_;
  EndMarkerScanner stderr_scanner_;
  bool ended_ = false;
};

/// The hijacked POST /containers/{container}/attach (stdin, stdout, stderr, stream) of a
/// created container, to be started next.
Result<std::unique_ptr<InitialProcessChannel>> attachInitialProcess(
    const std::shared_ptr<EngineClient>& client, const std::string& container,
    const std::string& sandbox_id);

}  // namespace grid::engine
