// `grid sandbox shell ID`: an interactive terminal in a sandbox over GET /sandboxes/{id}/pty
// (docs/terminal.md). The local terminal goes into raw mode for the session, and is restored
// on every way out: the shell's exit, a closed connection, an error, and a fatal signal.
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>
#include <Poco/Net/NetException.h>
#include <Poco/Net/WebSocket.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "api_client.h"
#include "commands.h"
#include "grid/sandbox_backend.h"

namespace grid::cli {
namespace {

using Poco::Net::WebSocket;

// The saved terminal settings, for the signal handler (which may only use what is
// async-signal-safe: tcsetattr, write, raise).
struct termios g_saved_termios;
volatile sig_atomic_t g_raw = 0;
int g_winch_pipe[2] = {-1, -1};

void restoreTerminal() {
  if (g_raw != 0) {
    ::tcsetattr(STDIN_FILENO, TCSAFLUSH, &g_saved_termios);
    g_raw = 0;
  }
}

void onFatalSignal(int signal_number) {
  restoreTerminal();
  ::signal(signal_number, SIG_DFL);
  ::raise(signal_number);
}

void onWindowChange(int) {
  const int saved = errno;
  const char byte = 'w';
  (void)!::write(g_winch_pipe[1], &byte, 1);
  errno = saved;
}

// Raw mode for the life of the object (and restored by the fatal-signal handlers before that).
class RawTerminal {
 public:
  RawTerminal() {
    if (::isatty(STDIN_FILENO) != 1 || ::tcgetattr(STDIN_FILENO, &g_saved_termios) != 0) return;
    // main() blocks the termination signals (for `grid serve`): here they must end the
    // client, through the handler that restores the terminal first. SIGPIPE stays ignored.
    sigset_t fatal;
    ::sigemptyset(&fatal);
    for (int signal_number : {SIGHUP, SIGTERM, SIGINT, SIGQUIT}) {
      struct sigaction action {};
      action.sa_handler = onFatalSignal;
      ::sigemptyset(&action.sa_mask);
      ::sigaction(signal_number, &action, nullptr);
      ::sigaddset(&fatal, signal_number);
    }
    ::pthread_sigmask(SIG_UNBLOCK, &fatal, nullptr);
    struct termios raw = g_saved_termios;
    ::cfmakeraw(&raw);
    if (::tcsetattr(STDIN_FILENO, TCSAFLUSH, &raw) == 0) g_raw = 1;
  }
  ~RawTerminal() { restoreTerminal(); }
  RawTerminal(const RawTerminal&) = delete;
  RawTerminal& operator=(const RawTerminal&) = delete;
};

std::optional<TerminalSize> localSize() {
  winsize window{};
  for (int fd : {STDIN_FILENO, STDOUT_FILENO}) {
    if (::ioctl(fd, TIOCGWINSZ, &window) == 0 && window.ws_col > 0 && window.ws_row > 0) {
      return TerminalSize{window.ws_col, window.ws_row};
    }
  }
  return std::nullopt;
}

bool validTermName(const std::string& term) {
  if (term.empty() || term.size() > 64) return false;
  for (char c : term) {
    if (std::isalnum(static_cast<unsigned char>(c)) == 0 && c != '.' && c != '_' && c != '+' &&
        c != '-') {
      return false;
    }
  }
  return true;
}

bool writeAll(int fd, const char* data, size_t size) {
  while (size > 0) {
    const ssize_t n = ::write(fd, data, size);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    data += n;
    size -= static_cast<size_t>(n);
  }
  return true;
}

// Messages while the terminal is raw need "\r\n".
void complain(const std::string& message) {
  const std::string line = "grid: " + message + (g_raw != 0 ? "\r\n" : "\n");
  (void)writeAll(STDERR_FILENO, line.data(), line.size());
}

void sendResize(WebSocket& socket, TerminalSize size) {
  const std::string text = "{\"type\":\"resize\",\"cols\":" + std::to_string(size.cols) +
                           ",\"rows\":" + std::to_string(size.rows) + "}";
  socket.sendFrame(text.data(), static_cast<int>(text.size()), WebSocket::FRAME_TEXT);
}

// Relays until the connection ends; returns the exit status for the CLI.
int relay(WebSocket& socket) {
  std::vector<char> buffer(64 * 1024);
  std::optional<int> exit_code;
  bool stdin_open = true;
  for (;;) {
    pollfd fds[3] = {{socket.impl()->sockfd(), POLLIN, 0},
                     {g_winch_pipe[0], POLLIN, 0},
                     {stdin_open ? STDIN_FILENO : -1, POLLIN, 0}};
    if (::poll(fds, 3, -1) < 0) {
      if (errno == EINTR) continue;
      complain(std::string("poll: ") + std::strerror(errno));
      return 1;
    }
    if ((fds[1].revents & POLLIN) != 0) {
      char drained[64];
      (void)!::read(g_winch_pipe[0], drained, sizeof drained);
      if (auto size = localSize()) sendResize(socket, *size);
    }
    if ((fds[2].revents & (POLLIN | POLLHUP | POLLERR)) != 0) {
      const ssize_t n = ::read(STDIN_FILENO, buffer.data(), buffer.size());
      if (n > 0) {
        socket.sendFrame(buffer.data(), static_cast<int>(n), WebSocket::FRAME_BINARY);
      } else if (n == 0 || (errno != EINTR && errno != EAGAIN)) {
        stdin_open = false;  // the shell goes on; it ends by itself or by the server
      }
    }
    if ((fds[0].revents & (POLLIN | POLLHUP | POLLERR)) == 0) continue;
    int flags = 0;
    const int received = socket.receiveFrame(buffer.data(), static_cast<int>(buffer.size()), flags);
    const int opcode = flags & WebSocket::FRAME_OP_BITMASK;
    if (received == 0 && flags == 0) {
      complain("the server closed the terminal");
      return exit_code.value_or(1);
    }
    if (opcode == WebSocket::FRAME_OP_BINARY || opcode == WebSocket::FRAME_OP_CONT) {
      if (!writeAll(STDOUT_FILENO, buffer.data(), static_cast<size_t>(received))) return 1;
    } else if (opcode == WebSocket::FRAME_OP_TEXT) {
      try {
        auto message = Poco::JSON::Parser()
                           .parse(std::string(buffer.data(), static_cast<size_t>(received)))
                           .extract<Poco::JSON::Object::Ptr>();
        const std::string type = message->optValue<std::string>("type", "");
        if (type == "exit") {
          exit_code = message->isNull("code") ? 1 : message->getValue<int>("code") & 0xff;
        } else if (type == "error") {
          complain("terminal: " + message->optValue<std::string>("message", ""));
        }
      } catch (const Poco::Exception&) {
        // An unknown message from a newer server: ignored.
      }
    } else if (opcode == WebSocket::FRAME_OP_PING) {
      socket.sendFrame(buffer.data(), received,
                       static_cast<int>(WebSocket::FRAME_FLAG_FIN) | WebSocket::FRAME_OP_PONG);
    } else if (opcode == WebSocket::FRAME_OP_CLOSE) {
      if (exit_code) return *exit_code;
      // The close frame's payload: a 2-byte code, then the reason.
      std::string reason;
      if (received > 2) reason.assign(buffer.data() + 2, static_cast<size_t>(received - 2));
      complain("the terminal was closed" + (reason.empty() ? std::string() : ": " + reason));
      return 1;
    }
  }
}

}  // namespace

void addShellCommand(CLI::App* sandbox, const std::function<ApiClient()>& client, int* exit_code) {
  auto id = std::make_shared<std::string>();
  CLI::App* shell = sandbox->add_subcommand(
      "shell",
      "Open an interactive shell in a sandbox (a terminal of its own, beside its session)");
  shell->add_option("id", *id, "Sandbox id")->required();
  shell->callback([id, client, exit_code] {
    std::string path = "/sandboxes/" + *id + "/pty";
    const std::optional<TerminalSize> size = localSize();
    std::string query;
    if (size) query = "cols=" + std::to_string(size->cols) + "&rows=" + std::to_string(size->rows);
    const char* term = std::getenv("TERM");
    if (term != nullptr && validTermName(term)) {
      query += (query.empty() ? "" : "&") + std::string("term=") + term;
    }
    if (!query.empty()) path += "?" + query;
    ApiClient api = client();
    auto opened = api.openWebSocket(path);
    if (!opened.ok()) {
      // The server's own sentence says more than a status line: ask it.
      auto described = api.callJson("GET", "/sandboxes/" + *id);
      std::cerr << "grid: " << (described.ok() ? opened.error().message : described.error().message)
                << "\n";
      *exit_code = opened.error().code == ErrorCode::kUnavailable ? 2 : 1;
      return;
    }
    WebSocket& socket = *opened.value();
    socket.setReceiveTimeout(Poco::Timespan(60, 0));
    if (::pipe2(g_winch_pipe, O_CLOEXEC | O_NONBLOCK) != 0) {
      std::cerr << "grid: pipe2: " << std::strerror(errno) << "\n";
      *exit_code = 1;
      return;
    }
    struct sigaction winch {};
    winch.sa_handler = onWindowChange;
    winch.sa_flags = SA_RESTART;
    ::sigemptyset(&winch.sa_mask);
    ::sigaction(SIGWINCH, &winch, nullptr);
    {
      RawTerminal raw;
      try {
        *exit_code = relay(socket);
      } catch (const Poco::Exception& e) {
        complain("terminal connection: " + e.displayText());
        *exit_code = 1;
      }
    }
    try {
      socket.shutdown();
    } catch (const Poco::Exception&) {
    }
  });
}

}  // namespace grid::cli
