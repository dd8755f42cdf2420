// EngineClient::stream() against a scripted peer on a unix socket (a hostile or stalled engine,
// which a real one cannot be made to be), and the archive endpoint's pure parts.
#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <filesystem>
#include <functional>
#include <string>
#include <thread>
#include <utility>

#include "grid/engine/archive_ops.h"
#include "grid/engine/engine_client.h"

namespace grid::engine {
namespace {

using std::chrono::steady_clock;
constexpr auto kPatience = std::chrono::seconds(30);

// An owned fd.
class Fd {
 public:
  explicit Fd(int fd = -1) : fd_(fd) {}
  Fd(Fd&& other) noexcept : fd_(other.fd_) { other.fd_ = -1; }
  Fd& operator=(Fd&& other) noexcept {
    std::swap(fd_, other.fd_);
    return *this;
  }
  ~Fd() {
    if (fd_ >= 0) close(fd_);
  }
  int get() const { return fd_; }

 private:
  int fd_;
};

// Listens on a unix socket in a fresh temporary directory; serves each connection with
// `script` on a thread of its own.
class ScriptedPeer {
 public:
  using Script = std::function<void(int fd)>;

  explicit ScriptedPeer(Script script) : script_(std::move(script)) {
    char dir_template[] = "/tmp/grid-stream-test-XXXXXX";
    dir_ = mkdtemp(dir_template);
    path_ = dir_ + "/engine.sock";
    listener_ = Fd(socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    std::strncpy(address.sun_path, path_.c_str(), sizeof address.sun_path - 1);
    if (bind(listener_.get(), reinterpret_cast<sockaddr*>(&address), sizeof address) != 0 ||
        listen(listener_.get(), 4) != 0) {
      ADD_FAILURE() << "bind/listen " << path_ << ": " << std::strerror(errno);
    }
    thread_ = std::thread([this] {
      for (;;) {
        Fd connection(accept4(listener_.get(), nullptr, nullptr, SOCK_CLOEXEC));
        if (connection.get() < 0 || stopping_) return;
        script_(connection.get());
      }
    });
  }

  ~ScriptedPeer() {
    stopping_ = true;
    shutdown(listener_.get(), SHUT_RDWR);
    // accept() does not wake on shutdown everywhere: a connection does.
    Fd wake(socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    std::strncpy(address.sun_path, path_.c_str(), sizeof address.sun_path - 1);
    connect(wake.get(), reinterpret_cast<sockaddr*>(&address), sizeof address);
    thread_.join();
    std::filesystem::remove_all(dir_);
  }

  EngineClient client() const { return EngineClient(EngineEndpoint{path_, "docker", "Docker"}); }

 private:
  Script script_;
  std::string dir_;
  std::string path_;
  Fd listener_;
  std::atomic<bool> stopping_{false};
  std::thread thread_;
};

void sendText(int fd, const std::string& text) {
  std::size_t sent = 0;
  while (sent < text.size()) {
    ssize_t n = send(fd, text.data() + sent, text.size() - sent, MSG_NOSIGNAL);
    if (n <= 0) return;
    sent += static_cast<std::size_t>(n);
  }
}

// Reads until `end` has been seen (or the peer closes); returns everything read.
std::string readUntil(int fd, const std::string& end) {
  std::string data;
  char buffer[65536];
  while (data.find(end) == std::string::npos) {
    ssize_t n = recv(fd, buffer, sizeof buffer, 0);
    if (n <= 0) break;
    data.append(buffer, static_cast<std::size_t>(n));
  }
  return data;
}

// Decodes a chunked body; returns the payload and the largest chunk seen.
std::string dechunk(std::string body, std::size_t* largest) {
  std::string out;
  *largest = 0;
  for (;;) {
    std::size_t line_end = body.find("\r\n");
    if (line_end == std::string::npos) return out;
    const std::size_t size = std::stoul(body.substr(0, line_end), nullptr, 16);
    if (size == 0) return out;
    *largest = std::max(*largest, size);
    out += body.substr(line_end + 2, size);
    body = body.substr(line_end + 2 + size + 2);
  }
}

StreamedRequest get(const std::string& path, BodySink sink = nullptr) {
  StreamedRequest request;
  request.method = "GET";
  request.path = path;
  request.sink = std::move(sink);
  request.deadline = steady_clock::now() + kPatience;
  return request;
}

TEST(EngineStreamTest, SendsChunkedBodyAndDeliversAnswerInBoundedPieces) {
  std::string received;
  const std::string answer(300 * 1024 + 17, 'a');
  ScriptedPeer peer([&](int fd) {
    received = readUntil(fd, "\r\n0\r\n\r\n");
    sendText(fd, "HTTP/1.1 200 OK\r\nContent-Length: " + std::to_string(answer.size()) +
                     "\r\nX-Docker-Container-Path-Stat: e30=\r\n\r\n" + answer);
  });
  EngineClient client = peer.client();
  // A body of 200 KiB + 5 in odd-sized pieces, with NUL bytes.
  std::string body(200 * 1024 + 5, '\0');
  for (std::size_t i = 0; i < body.size(); ++i) body[i] = static_cast<char>(i % 251);
  std::size_t offset = 0;
  StreamedRequest request = get("/containers/x/archive?path=%2Ftmp");
  request.method = "PUT";
  request.body = [&](char* buffer, std::size_t capacity) -> Result<std::size_t> {
    const std::size_t n = std::min({capacity, body.size() - offset, std::size_t{70000}});
    std::memcpy(buffer, body.data() + offset, n);
    offset += n;
    return n;
  };
  std::string delivered;
  std::size_t largest_piece = 0;
  request.sink = [&](std::string_view piece) -> Result<void> {
    largest_piece = std::max(largest_piece, piece.size());
    delivered += piece;
    return {};
  };
  auto response = client.stream(request);
  ASSERT_TRUE(response.ok()) << response.error().message;
  EXPECT_EQ(response.value().status, 200);
  EXPECT_EQ(response.value().headers.at("x-docker-container-path-stat"), "e30=");
  EXPECT_EQ(delivered, answer);
  EXPECT_LE(largest_piece, kStreamPieceBytes);

  const std::size_t head_end = received.find("\r\n\r\n");
  ASSERT_NE(head_end, std::string::npos);
  EXPECT_NE(received.find("PUT /containers/x/archive?path=%2Ftmp HTTP/1.1"), std::string::npos);
  EXPECT_NE(received.find("Transfer-Encoding: chunked"), std::string::npos);
  std::size_t largest_chunk = 0;
  EXPECT_EQ(dechunk(received.substr(head_end + 4), &largest_chunk), body);
  EXPECT_LE(largest_chunk, kStreamPieceBytes);
}

TEST(EngineStreamTest, ErrorAnswerKeepsOnlyTheStartOfItsBody) {
  ScriptedPeer peer([](int fd) {
    readUntil(fd, "\r\n\r\n");
    sendText(fd, "HTTP/1.1 500 Internal Server Error\r\nContent-Length: 1048576\r\n\r\n" +
                     std::string(1 << 20, 'e'));
  });
  EngineClient client = peer.client();
  auto response = client.stream(get("/x"));
  ASSERT_TRUE(response.ok()) << response.error().message;
  EXPECT_EQ(response.value().status, 500);
  EXPECT_LE(response.value().body.size(), kMaxErrorBodyBytes);
  EXPECT_GT(response.value().body.size(), 0u);
}

TEST(EngineStreamTest, StalledAnswerEndsAtTheDeadline) {
  std::atomic<bool> release{false};
  ScriptedPeer peer([&](int fd) {
    readUntil(fd, "\r\n\r\n");
    sendText(fd, "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nabc");
    // Holds the connection open without sending the rest.
    char byte;
    while (!release && recv(fd, &byte, 1, 0) > 0) {
    }
  });
  EngineClient client = peer.client();
  StreamedRequest request = get("/x", [](std::string_view) -> Result<void> { return {}; });
  request.deadline = steady_clock::now() + std::chrono::milliseconds(300);
  const auto started = steady_clock::now();
  auto response = client.stream(request);
  release = true;
  ASSERT_FALSE(response.ok());
  EXPECT_EQ(response.error().code, ErrorCode::kTimeout) << response.error().message;
  EXPECT_LT(steady_clock::now() - started, kPatience);  // a hang bound, not a timing assert
}

TEST(EngineStreamTest, SinkFailureEndsTheCallWithItsError) {
  ScriptedPeer peer([](int fd) {
    readUntil(fd, "\r\n\r\n");
    sendText(fd, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n");
    const std::string piece(65536, 'p');
    char size_line[32];
    std::snprintf(size_line, sizeof size_line, "%zx\r\n", piece.size());
    // Would send 64 MiB; the client goes away after the first piece.
    for (int i = 0; i < 1024; ++i) {
      if (send(fd, size_line, std::strlen(size_line), MSG_NOSIGNAL) <= 0) return;
      if (send(fd, piece.data(), piece.size(), MSG_NOSIGNAL) <= 0) return;
      if (send(fd, "\r\n", 2, MSG_NOSIGNAL) <= 0) return;
    }
  });
  EngineClient client = peer.client();
  int calls = 0;
  auto response = client.stream(get("/x", [&](std::string_view) -> Result<void> {
    ++calls;
    return fail(ErrorCode::kUnavailable, "client went away");
  }));
  ASSERT_FALSE(response.ok());
  EXPECT_EQ(response.error().code, ErrorCode::kUnavailable);
  EXPECT_EQ(response.error().message, "client went away");
  EXPECT_EQ(calls, 1);
}

TEST(EngineStreamTest, BodyFailureEndsTheCallWithItsError) {
  ScriptedPeer peer([](int fd) { readUntil(fd, "\r\n0\r\n\r\n"); });
  EngineClient client = peer.client();
  StreamedRequest request = get("/x");
  request.method = "PUT";
  request.body = [](char*, std::size_t) -> Result<std::size_t> {
    return fail(ErrorCode::kInvalidArgument, "upload cut short");
  };
  auto response = client.stream(request);
  ASSERT_FALSE(response.ok());
  EXPECT_EQ(response.error().message, "upload cut short");
}

TEST(EngineStreamTest, OversizedHeaderIsAnError) {
  ScriptedPeer peer([](int fd) {
    readUntil(fd, "\r\n\r\n");
    sendText(fd, "HTTP/1.1 200 OK\r\nX-Big: " + std::string(1 << 20, 'h') + "\r\n\r\n");
  });
  EngineClient client = peer.client();
  auto response = client.stream(get("/x"));
  ASSERT_FALSE(response.ok());
  EXPECT_EQ(response.error().code, ErrorCode::kInternal) << response.error().message;
}

std::string base64(const std::string& text) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  for (std::size_t i = 0; i < text.size(); i += 3) {
    uint32_t n = static_cast<unsigned char>(text[i]) << 16;
    if (i + 1 < text.size()) n |= static_cast<unsigned char>(text[i + 1]) << 8;
    if (i + 2 < text.size()) n |= static_cast<unsigned char>(text[i + 2]);
    out += kAlphabet[(n >> 18) & 63];
    out += kAlphabet[(n >> 12) & 63];
    out += i + 1 < text.size() ? kAlphabet[(n >> 6) & 63] : '=';
    out += i + 2 < text.size() ? kAlphabet[n & 63] : '=';
  }
  return out;
}

TEST(ArchiveOpsTest, GoFileModes) {
  EXPECT_EQ(fileTypeFromGoMode(0644), FileType::kFile);
  EXPECT_EQ(fileTypeFromGoMode(kGoModeDir | 0755), FileType::kDirectory);
  EXPECT_EQ(fileTypeFromGoMode(kGoModeSymlink | 0777), FileType::kSymlink);
  EXPECT_EQ(fileTypeFromGoMode((1ull << 25) | 0644), FileType::kOther);  // named pipe
  EXPECT_EQ(permissionBitsFromGoMode(kGoModeSetuid | 0755), 04755u);
  EXPECT_EQ(permissionBitsFromGoMode(kGoModeDir | kGoModeSticky | 0777), 01777u);
  EXPECT_EQ(permissionBitsFromGoMode(kGoModeSetgid | 0750), 02750u);
}

TEST(ArchiveOpsTest, ParsesDockerAndPodmanStatHeaders) {
  // As Docker 20.10 answers for a setuid file.
  auto file = parsePathStat(
      base64(R"({"name":"f","size":3,"mode":8389101,"mtime":"2026-11-29T23:30:41.218367877Z",)"
             R"("linkTarget":""})"),
      "/d/f");
  ASSERT_TRUE(file.ok()) << file.error().message;
  EXPECT_EQ(file.value().name, "f");
  EXPECT_EQ(file.value().type, FileType::kFile);
  EXPECT_EQ(file.value().size, 3u);
  EXPECT_EQ(file.value().mode, 04755u);
  EXPECT_EQ(file.value().mtime, 1795995041);
  // As Podman 4.3 answers for a symlink /d/l -> f: named after the target.
  auto link = parsePathStat(
      base64(R"({"name":"f","size":1,"mode":134218239,"mtime":"2026-11-29T23:30:54.03Z",)"
             R"("isDir":false,"linkTarget":"/d/f"})"),
      "/d/l");
  ASSERT_TRUE(link.ok()) << link.error().message;
  EXPECT_EQ(link.value().name, "l");
  EXPECT_EQ(link.value().type, FileType::kSymlink);
  EXPECT_EQ(link.value().link_target, "");
  auto root = parsePathStat(base64(R"({"name":"/","size":4096,"mode":2147484141})"), "/");
  ASSERT_TRUE(root.ok()) << root.error().message;
  EXPECT_EQ(root.value().name, "/");
  EXPECT_EQ(root.value().type, FileType::kDirectory);
}

TEST(ArchiveOpsTest, MalformedStatHeadersAreErrors) {
  EXPECT_FALSE(parsePathStat("!!!not base64", "/x").ok());
  EXPECT_FALSE(parsePathStat(base64("[1,2]"), "/x").ok());
  EXPECT_FALSE(parsePathStat(base64(R"({"name":"x"})"), "/x").ok());  // no mode
  EXPECT_FALSE(parsePathStat(base64(R"({"mode":1,"mtime":"yesterday"})"), "/x").ok());
  EXPECT_FALSE(parsePathStat(base64(R"({"mode":"rwx"})"), "/x").ok());
}

std::string tarHeader(const std::string& name, char type, const std::string& link, uint64_t size) {
  std::string block(512, '\0');
  block.replace(0, name.size(), name);
  char octal[16];
  std::snprintf(octal, sizeof octal, "%011llo", static_cast<unsigned long long>(size));
  block.replace(124, 11, octal);
  block[156] = type;
  block.replace(157, link.size(), link);
  block.replace(257, 6, std::string("ustar\0", 6));
  return block;
}

TEST(ArchiveOpsTest, FirstEntryLinkTarget) {
  const std::string plain = tarHeader("rel", '2', "f", 0) + std::string(1024, '\0');
  EXPECT_FALSE(firstEntryLinkTarget(plain.substr(0, 100)).value().has_value());
  EXPECT_EQ(firstEntryLinkTarget(plain).value(), std::optional<std::string>("f"));

  const std::string target(300, 't');
  const std::string record = "314 linkpath=" + target + "\n";
  ASSERT_EQ(record.size(), 314u);
  std::string pax = tarHeader("PaxHeaders/l", 'x', "", record.size()) + record;
  pax.resize(1024, '\0');
  pax += tarHeader("l", '2', target.substr(0, 100), 0);
  EXPECT_FALSE(firstEntryLinkTarget(pax.substr(0, 700)).value().has_value());
  EXPECT_EQ(firstEntryLinkTarget(pax).value(), std::optional<std::string>(target));

  EXPECT_FALSE(firstEntryLinkTarget(tarHeader("f", '0', "", 3)).ok());
  EXPECT_FALSE(firstEntryLinkTarget(std::string(512, 'z')).ok());
}

StreamedResponse answer(int status, const std::string& body) {
  StreamedResponse response;
  response.status = status;
  response.body = body;
  return response;
}

TEST(ArchiveOpsTest, EngineErrorsMapToCodes) {
  auto code = [](int status, const std::string& body) {
    return archiveError("docker", "PUT", "/d", answer(status, body)).code;
  };
  // Docker 20.10
  EXPECT_EQ(code(404, R"({"message":"Could not find the file /d in container x"})"),
            ErrorCode::kNotFound);
  EXPECT_EQ(code(500, R"({"message":"extraction point is not a directory"})"),
            ErrorCode::kConflict);
  EXPECT_EQ(code(500, R"({"message":"Error processing tar file(exit status 1): cannot overwrite )"
                      R"(non-directory \"/e/tree\" with directory \"/e\""})"),
            ErrorCode::kConflict);
  EXPECT_EQ(code(500, R"({"message":"write /big: no space left on device"})"), ErrorCode::kNoSpace);
  // Podman 4.3
  EXPECT_EQ(code(500, R"({"cause":"file exists","message":"copier: put: error creating )"
                      R"(\"/e/tree\": mkdir /e/tree: file exists","response":500})"),
            ErrorCode::kConflict);
  EXPECT_EQ(code(500, R"({"cause":"no space left on device","message":"copier: put: write )"
                      R"(/small/big: no space left on device","response":500})"),
            ErrorCode::kNoSpace);
  EXPECT_EQ(code(400, "bad request"), ErrorCode::kInvalidArgument);
  EXPECT_EQ(code(500, R"({"message":"archive/tar: invalid tar header"})"), ErrorCode::kInternal);
  const Error error = archiveError("podman", "PUT", "/d", answer(500, R"({"message":"boom"})"));
  EXPECT_EQ(error.message, "podman: PUT archive of /d: 500 boom");
}

}  // namespace
}  // namespace grid::engine
