#include "runtime/pipe_channel.h"

#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <fcntl.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

#include "kernel/pty.h"
#include "util/syscall_error.h"

namespace grid::localns {
namespace {

constexpr size_t kReadChunk = 64 * 1024;
// After EOF on stdout and stderr the process has normally exited; one that closed them and
// lives on must not hold the caller: its status is then unknown (nullopt).
constexpr std::chrono::milliseconds kExitStatusWait{5000};
// A terminal whose process reads no input holds a write this long at most.
constexpr int kTerminalWriteWaitMs = 30000;

// write() to a pipe whose reader is gone raises SIGPIPE, which would kill the server unless
// it ignores it. Block it for this thread and swallow the one our write generated.
class ScopedSigpipeBlock {
 public:
  ScopedSigpipeBlock() {
    sigset_t pending;
    ::sigpending(&pending);
    was_pending_ = ::sigismember(&pending, SIGPIPE) == 1;
    sigset_t block;
    ::sigemptyset(&block);
    ::sigaddset(&block, SIGPIPE);
    ::pthread_sigmask(SIG_BLOCK, &block, &old_);
  }
  ~ScopedSigpipeBlock() {
    if (!was_pending_) {
      sigset_t pipe_only;
      ::sigemptyset(&pipe_only);
      ::sigaddset(&pipe_only, SIGPIPE);
      struct timespec zero = {0, 0};
      while (::sigtimedwait(&pipe_only, nullptr, &zero) == SIGPIPE) {
      }
    }
    ::pthread_sigmask(SIG_SETMASK, &old_, nullptr);
  }

 private:
  sigset_t old_;
  bool was_pending_ = false;
};

}  // namespace

PipeChannel::PipeChannel(std::string sandbox_id, pid_t helper_pid, UniqueFd stdin_write,
                         UniqueFd stdout_read, UniqueFd stderr_read,
                         std::shared_ptr<ChildReaper> reaper)
    : sandbox_id_(std::move(sandbox_id)),
      helper_pid_(helper_pid),
      stdin_(std::move(stdin_write)),
      stdout_(std::move(stdout_read)),
      stderr_(std::move(stderr_read)),
      reaper_(std::move(reaper)) {
  helper_pidfd_.reset(static_cast<int>(::syscall(SYS_pidfd_open, helper_pid_, 0)));
}

Result<std::unique_ptr<PipeChannel>> PipeChannel::forTerminal(std::string sandbox_id,
                                                               pid_t helper_pid, UniqueFd master,
                                                               std::shared_ptr<ChildReaper> reaper) {
  // Separate descriptions of one master: the writer, the reader and resize() each own theirs,
  // so a reader that meets EOF and closes its fd leaves the others valid.
  UniqueFd input(::fcntl(master.get(), F_DUPFD_CLOEXEC, 0));
  UniqueFd control(::fcntl(master.get(), F_DUPFD_CLOEXEC, 0));
  if (!input.valid() || !control.valid()) {
    const int err = errno;
    ::kill(helper_pid, SIGKILL);
    reaper->adopt(sandbox_id, helper_pid);
    return sysFail(ErrorCode::kInternal, "fcntl", "F_DUPFD_CLOEXEC pty master", err);
  }
  auto channel = std::unique_ptr<PipeChannel>(new PipeChannel(std::move(sandbox_id), helper_pid,
                                                              std::move(input), std::move(master),
                                                              UniqueFd(), std::move(reaper)));
  channel->terminal_ = std::move(control);
  return channel;
}

PipeChannel::~PipeChannel() {
  stdin_.reset();
  stdout_.reset();
  stderr_.reset();
  terminal_.reset();  // the last master fd: the terminal hangs up (SIGHUP to its session)
  if (!tryReap(std::chrono::milliseconds(0))) reaper_->adopt(sandbox_id_, helper_pid_);
}

Result<void> PipeChannel::write(std::string_view data) {
  if (!stdin_.valid()) {
    return fail(ErrorCode::kConflict, "local-namespace: stdin is closed or not attached");
  }
  ScopedSigpipeBlock no_sigpipe;
  while (!data.empty()) {
    ssize_t n = ::write(stdin_.get(), data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN && terminal_.valid()) {
        GRID_TRY(waitWritable());
        continue;
      }
      if (errno == EIO && terminal_.valid()) {
        return fail(ErrorCode::kConflict, "local-namespace: the terminal was closed");
      }
      if (errno == EPIPE) {
        return fail(ErrorCode::kConflict, "local-namespace: the process closed its stdin");
      }
      return sysFail(ErrorCode::kInternal, "write", "process stdin", errno);
    }
    data.remove_prefix(static_cast<size_t>(n));
  }
  return {};
}

void PipeChannel::closeStdin() { stdin_.reset(); }

Result<void> PipeChannel::waitWritable() {
  pollfd pfd{stdin_.get(), POLLOUT, 0};
  for (;;) {
    const int ready = ::poll(&pfd, 1, kTerminalWriteWaitMs);
    if (ready < 0 && errno == EINTR) continue;
    if (ready < 0) return sysFail(ErrorCode::kInternal, "poll", "pty master", errno);
    if (ready == 0) {
      return fail(ErrorCode::kTimeout,
                  "local-namespace: the terminal's process read no input for " +
                      std::to_string(kTerminalWriteWaitMs / 1000) + " s");
    }
    return {};
  }
}

Result<void> PipeChannel::resize(TerminalSize size) {
  if (!terminal_.valid()) {
    return fail(ErrorCode::kUnsupported, "local-namespace: this process has no terminal");
  }
  return resizePty(terminal_.get(), size);
}

Result<ReadResult> PipeChannel::read(Clock::time_point deadline) {
  while (stdout_.valid() || stderr_.valid()) {
    pollfd fds[2];
    UniqueFd* owners[2];
    int count = 0;
    UniqueFd* order[2] = {&stdout_, &stderr_};
    if (prefer_stderr_) std::swap(order[0], order[1]);
    for (UniqueFd* fd : order) {
      if (!fd->valid()) continue;
      fds[count] = {fd->get(), POLLIN, 0};
      owners[count++] = fd;
    }
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    // Round up so a sub-millisecond remainder still waits instead of spinning.
    int timeout =
        left.count() <= 0 ? 0 : static_cast<int>(std::min<int64_t>(left.count() + 1, 1 << 30));
    int ready = ::poll(fds, static_cast<nfds_t>(count), timeout);
    if (ready < 0) {
      if (errno == EINTR) continue;
      return sysFail(ErrorCode::kInternal, "poll", "process stdout/stderr", errno);
    }
    if (ready == 0) {
      if (Clock::now() >= deadline) {
        ReadResult timed_out;
        timed_out.status = ReadResult::Status::kTimeout;
        return timed_out;
      }
      continue;
    }
    for (int i = 0; i < count; ++i) {
      if (fds[i].revents == 0) continue;
      OutputStream stream = owners[i] == &stdout_ ? OutputStream::kStdout : OutputStream::kStderr;
      std::string data(kReadChunk, '\0');
      ssize_t n = ::read(owners[i]->get(), data.data(), data.size());
      if (n < 0 && (errno == EINTR || errno == EAGAIN)) break;
      if (n <= 0) {
        owners[i]->reset();  // EOF (or an error that ends the stream all the same)
        break;
      }
      data.resize(static_cast<size_t>(n));
      prefer_stderr_ = stream == OutputStream::kStdout;
      return ReadResult{ReadResult::Status::kData, stream, std::move(data)};
    }
  }
  ReadResult eof;
  eof.status = ReadResult::Status::kEof;
  return eof;
}

std::optional<int> PipeChannel::exitCode() {
  // Before EOF the process may still run: only look. After EOF: a bounded wait.
  const bool eof = !stdout_.valid() && !stderr_.valid();
  tryReap(eof ? kExitStatusWait : std::chrono::milliseconds(0));
  return exit_code_;
}

bool PipeChannel::tryReap(std::chrono::milliseconds wait) {
  if (reaped_) return true;
  const auto deadline = std::chrono::steady_clock::now() + wait;
  int status = 0;
  pid_t r;
  while (true) {
    r = ::waitpid(helper_pid_, &status, WNOHANG);
    if (r < 0 && errno == EINTR) continue;
    if (r != 0) break;
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return false;
    if (helper_pidfd_.valid()) {
      pollfd pfd{helper_pidfd_.get(), POLLIN, 0};
      (void)::poll(&pfd, 1, static_cast<int>(left.count()) + 1);
    } else {
      ::usleep(10000);
    }
  }
  reaped_ = true;
  if (r == helper_pid_) {
    exit_code_ = WIFSIGNALED(status) ? 128 + WTERMSIG(status) : WEXITSTATUS(status);
  }
  return true;
}

}  // namespace grid::localns
