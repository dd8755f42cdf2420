// Processes started through the engine's exec API: create, hijacked start, and the
// ProcessChannel that reads the multiplexed stream.
#pragma once

#include <Poco/Net/StreamSocket.h>

#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "grid/engine/engine_client.h"
#include "grid/engine/frame_demuxer.h"
#include "grid/sandbox_backend.h"

namespace grid::engine {

struct ExecOptions {
  std::vector<std::string> argv;
  bool attach_stdin = false;
  std::vector<std::string> env;  // "KEY=VALUE", added to the container's
  std::string working_dir;       // empty: the container's
  /// Set: the exec runs on a terminal of this size (Tty: true; stdin attached). Its stream is
  /// then raw, not framed.
  std::optional<TerminalSize> tty;
};

/// Lets another thread end a channel's streams: shuts its socket down, so a read() blocked on
/// it returns at once. Safe against the channel's destruction (which detaches first).
class ExecAbortHandle {
 public:
  explicit ExecAbortHandle(int fd) : fd_(fd) {}
  void abort();
  void detach();

 private:
  std::mutex mutex_;
  int fd_;  // -1 once detached
};

/// The exec channels open per sandbox, so destroying a sandbox can end them. Needed where the
/// engine keeps an exec's stream open after its container is gone (runsc 20221219 does, so a
/// session exec, and the stop waiting for it, would last until the exec's deadline).
class ExecRegistry {
 public:
  void add(const std::string& sandbox_id, std::weak_ptr<ExecAbortHandle> handle);
  /// Aborts and forgets every channel of the sandbox still open.
  void abortAll(const std::string& sandbox_id);

 private:
  std::mutex mutex_;
  std::multimap<std::string, std::weak_ptr<ExecAbortHandle>> handles_;
};

/// A running exec's streams. Never throws; one thread at a time (ProcessChannel contract).
class ExecChannel : public ProcessChannel {
 public:
  ExecChannel(std::shared_ptr<EngineClient> client, std::string exec_id, HijackedStream stream,
              bool stdin_attached, bool tty = false);
  ~ExecChannel() override;

  Result<void> write(std::string_view data) override;
  void closeStdin() override;
  Result<ReadResult> read(Clock::time_point deadline) override;
  std::optional<int> exitCode() override;
  /// POST /exec/{id}/resize (terminal execs only).
  Result<void> resize(TerminalSize size) override;

  const std::string& execId() const { return exec_id_; }
  /// For ExecRegistry: ends this channel's streams from another thread.
  std::weak_ptr<ExecAbortHandle> abortHandle() const { return abort_handle_; }

 private:
  Result<void> receiveSome(Clock::time_point deadline, bool* got_data);
  std::string describe(const char* what) const;

  std::shared_ptr<EngineClient> client_;
  const std::string exec_id_;
  Poco::Net::StreamSocket socket_;
  std::shared_ptr<ExecAbortHandle> abort_handle_;
  FrameDemuxer demuxer_;
  std::vector<char> read_buffer_;
  const bool stdin_attached_;
  const bool tty_;                 // raw stream: what arrives is the terminal's output
  std::string raw_pending_;        // terminal bytes read with the hijack's answer
  bool stdin_closed_ = false;
  bool eof_ = false;
  std::optional<int> exit_code_;
};

/// POST /containers/{container}/exec, then the hijacked POST /exec/{id}/start. Errors keep
/// the engine's kind: unknown container kNotFound, stopped container kConflict.
Result<std::unique_ptr<ExecChannel>> startExec(const std::shared_ptr<EngineClient>& client,
                                               const std::string& container,
                                               const ExecOptions& options);

}  // namespace grid::engine
