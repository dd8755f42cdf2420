#include "grid/engine/exec_channel.h"

#include <Poco/Exception.h>
#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>
#include <Poco/Net/NetException.h>
#include <Poco/Timespan.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>

#include <algorithm>
#include <thread>
#include <utility>

namespace grid::engine {

namespace {

constexpr std::size_t kReadChunk = 64 * 1024;
constexpr std::size_t kMergeLimit = 64 * 1024;
constexpr std::chrono::seconds kTerminalWriteWait{30};

// The attach stream can end a moment before the engine records the exit status, so
// exitCode() polls /exec/{id}/json for a bounded time.
constexpr auto kExitStatusWait = std::chrono::seconds(5);
constexpr auto kExitStatusPoll = std::chrono::milliseconds(5);

Poco::JSON::Array::Ptr toArray(const std::vector<std::string>& items) {
  Poco::JSON::Array::Ptr array = new Poco::JSON::Array;
  for (const auto& item : items) array->add(item);
  return array;
}

}  // namespace

void ExecAbortHandle::abort() {
  std::lock_guard lock(mutex_);
  if (fd_ >= 0) ::shutdown(fd_, SHUT_RDWR);
}

void ExecAbortHandle::detach() {
  std::lock_guard lock(mutex_);
  fd_ = -1;
}

void ExecRegistry::add(const std::string& sandbox_id, std::weak_ptr<ExecAbortHandle> handle) {
  std::lock_guard lock(mutex_);
  // Channels closed meanwhile are pruned here, so the map holds only what is open.
  for (auto it = handles_.begin(); it != handles_.end();) {
    it = it->second.expired() ? handles_.erase(it) : std::next(it);
  }
  handles_.emplace(sandbox_id, std::move(handle));
}

void ExecRegistry::abortAll(const std::string& sandbox_id) {
  std::vector<std::shared_ptr<ExecAbortHandle>> open;
  {
    std::lock_guard lock(mutex_);
    const auto [first, last] = handles_.equal_range(sandbox_id);
    for (auto it = first; it != last; ++it) {
      if (auto handle = it->second.lock()) open.push_back(std::move(handle));
    }
    handles_.erase(first, last);
  }
  for (const auto& handle : open) handle->abort();
}

ExecChannel::ExecChannel(std::shared_ptr<EngineClient> client, std::string exec_id,
                         HijackedStream stream, bool stdin_attached, bool tty)
    : client_(std::move(client)),
      exec_id_(std::move(exec_id)),
      socket_(stream.socket),
      abort_handle_(std::make_shared<ExecAbortHandle>(socket_.impl()->sockfd())),
      stdin_attached_(stdin_attached),
      tty_(tty) {
  if (tty_) {
    raw_pending_ = std::string(stream.buffered);
    // A terminal's process may read no input for ever: a write gives up (kTimeout) instead.
    try {
      socket_.setSendTimeout(Poco::Timespan(kTerminalWriteWait.count(), 0));
    } catch (const Poco::Exception&) {
      // Left blocking; destroying the sandbox still ends the write (ExecRegistry).
    }
  } else {
    demuxer_.feed(stream.buffered);
  }
}

ExecChannel::~ExecChannel() {
  abort_handle_->detach();  // before the fd is closed and its number reused
  try {
    socket_.close();
  } catch (const Poco::Exception&) {
    // Closing a dead connection has nothing left to report.
  }
}

std::string ExecChannel::describe(const char* what) const {
  return client_->endpoint().product + ": exec " + exec_id_ + ": " + what;
}

Result<void> ExecChannel::write(std::string_view data) {
  if (!stdin_attached_) {
    return fail(ErrorCode::kInvalidArgument, describe("stdin is not attached"));
  }
  if (stdin_closed_) return fail(ErrorCode::kConflict, describe("stdin is already closed"));
  try {
    while (!data.empty()) {
      // MSG_NOSIGNAL: a process that exited must give an error, not SIGPIPE the server.
      const int sent = socket_.sendBytes(data.data(), static_cast<int>(data.size()), MSG_NOSIGNAL);
      if (sent <= 0) return fail(ErrorCode::kInternal, describe("stdin connection closed"));
      data.remove_prefix(static_cast<std::size_t>(sent));
    }
    return {};
  } catch (const Poco::TimeoutException&) {
    return fail(ErrorCode::kTimeout, describe("writing stdin timed out"));
  } catch (const Poco::Exception& e) {
    return fail(ErrorCode::kInternal, describe("writing stdin: ") + e.displayText());
  }
}

void ExecChannel::closeStdin() {
  if (stdin_closed_) return;
  stdin_closed_ = true;
  try {
    // Half-close: the engine closes the process's stdin and keeps streaming its output.
    socket_.shutdownSend();
  } catch (const Poco::Exception&) {
    // The connection is gone already; read() will report EOF.
  }
}

Result<void> ExecChannel::receiveSome(Clock::time_point deadline, bool* got_data) {
  *got_data = false;
  try {
    const auto remaining = std::max(Clock::duration::zero(), deadline - Clock::now());
    const auto micros = std::chrono::duration_cast<std::chrono::microseconds>(remaining);
    if (!socket_.poll(Poco::Timespan(micros.count()), Poco::Net::Socket::SELECT_READ)) {
      return {};
    }
    read_buffer_.resize(kReadChunk);
    const int received =
        socket_.receiveBytes(read_buffer_.data(), static_cast<int>(read_buffer_.size()));
    if (received <= 0) {
      eof_ = true;
    } else if (tty_) {
      raw_pending_.append(read_buffer_.data(), static_cast<std::size_t>(received));
      *got_data = true;
    } else {
      demuxer_.feed(std::string_view(read_buffer_.data(), static_cast<std::size_t>(received)));
      *got_data = true;
    }
    return {};
  } catch (const Poco::TimeoutException&) {
    return {};  // poll() said readable but nothing came: same as no data yet
  } catch (const Poco::Net::ConnectionResetException&) {
    eof_ = true;
    return {};
  } catch (const Poco::Exception& e) {
    return fail(ErrorCode::kInternal, describe("reading output: ") + e.displayText());
  }
}

Result<ReadResult> ExecChannel::read(Clock::time_point deadline) {
  for (;;) {
    if (tty_ && !raw_pending_.empty()) {
      ReadResult result;
      result.status = ReadResult::Status::kData;
      result.stream = OutputStream::kStdout;
      result.data = std::move(raw_pending_);
      raw_pending_.clear();
      return result;
    }
    if (std::optional<Frame> frame = demuxer_.next(kMergeLimit)) {
      ReadResult result;
      result.status = ReadResult::Status::kData;
      result.stream = frame->stream;
      result.data = std::move(frame->data);
      return result;
    }
    if (demuxer_.corrupt()) {
      return fail(ErrorCode::kInternal, describe("malformed output stream frame header"));
    }
    if (eof_) {
      ReadResult result;
      result.status = ReadResult::Status::kEof;
      return result;
    }
    bool got_data = false;
    if (auto received = receiveSome(deadline, &got_data); !received.ok()) {
      return received.error();
    }
    if (!got_data && !eof_) {
      ReadResult result;
      result.status = ReadResult::Status::kTimeout;
      return result;
    }
  }
}

std::optional<int> ExecChannel::exitCode() {
  if (exit_code_) return exit_code_;
  const auto give_up = Clock::now() + kExitStatusWait;
  for (;;) {
    auto response = client_->request("GET", "/exec/" + exec_id_ + "/json");
    if (!response.ok() || !response.value().ok()) return std::nullopt;
    Poco::JSON::Object::Ptr body = parseJsonObject(response.value().body);
    if (!body) return std::nullopt;
    const bool running = body->optValue<bool>("Running", false);
    if (!running && body->has("ExitCode") && !body->isNull("ExitCode")) {
      exit_code_ = body->getValue<int>("ExitCode");
      return exit_code_;
    }
    // Before EOF the process may legitimately still run: answer "not known yet" at once.
    if (!eof_ || Clock::now() > give_up) return std::nullopt;
    std::this_thread::sleep_for(kExitStatusPoll);
  }
}

Result<void> ExecChannel::resize(TerminalSize size) {
  if (!tty_) return fail(ErrorCode::kUnsupported, describe("has no terminal to resize"));
  const std::string path = "/exec/" + exec_id_ + "/resize?h=" + std::to_string(size.rows) +
                           "&w=" + std::to_string(size.cols);
  GRID_ASSIGN_OR_RETURN(const Response answer, client_->request("POST", path));
  if (!answer.ok()) return client_->errorFor("POST", path, answer);
  return {};
}

Result<std::unique_ptr<ExecChannel>> startExec(const std::shared_ptr<EngineClient>& client,
                                               const std::string& container,
                                               const ExecOptions& options) {
  const std::string product = client->endpoint().product;
  if (options.argv.empty()) {
    return fail(ErrorCode::kInvalidArgument, product + ": exec in " + container + ": empty argv");
  }
  Poco::JSON::Object::Ptr create = new Poco::JSON::Object;
  const bool tty = options.tty.has_value();
  const bool attach_stdin = options.attach_stdin || tty;
  create->set("AttachStdin", attach_stdin);
  create->set("AttachStdout", true);
  create->set("AttachStderr", true);
  create->set("Tty", tty);
  if (tty) {
    // [rows, cols]: taken at create by engines that know it (API 1.42+, Podman), which then
    // never show the process a 0x0 terminal; older ones ignore it and get the resize below.
    Poco::JSON::Array::Ptr size = new Poco::JSON::Array;
    size->add(static_cast<int>(options.tty->rows));
    size->add(static_cast<int>(options.tty->cols));
    create->set("ConsoleSize", size);
  }
  create->set("Cmd", toArray(options.argv));
  if (!options.env.empty()) create->set("Env", toArray(options.env));
  if (!options.working_dir.empty()) create->set("WorkingDir", options.working_dir);

  const std::string create_path = "/containers/" + container + "/exec";
  GRID_ASSIGN_OR_RETURN(const Response created,
                        client->request("POST", create_path, toJson(create)));
  if (!created.ok()) return client->errorFor("POST", create_path, created);
  std::string exec_id;
  if (auto body = parseJsonObject(created.body)) {
    exec_id = body->optValue<std::string>("Id", "");
  }
  if (exec_id.empty()) {
    return fail(ErrorCode::kInternal, product + ": POST " + create_path + ": answer has no Id");
  }

  Poco::JSON::Object::Ptr start = new Poco::JSON::Object;
  start->set("Detach", false);
  start->set("Tty", tty);
  GRID_ASSIGN_OR_RETURN(HijackedStream stream,
                        client->hijack("/exec/" + exec_id + "/start", toJson(start)));
  auto channel =
      std::make_unique<ExecChannel>(client, exec_id, std::move(stream), attach_stdin, tty);
  if (tty) {
    // The engines take no size at create (before API 1.42): set it once the exec runs. A
    // failure leaves the engine's default size, which the first resize corrects.
    if (auto sized = channel->resize(*options.tty); !sized.ok()) {
      spdlog::debug("{}: exec {}: initial terminal size: {}", product, exec_id,
                    sized.error().message);
    }
  }
  return channel;
}

}  // namespace grid::engine
