// Attacks through the terminal route, on every backend: the pty lives in the sandbox's own
// devpts (host ptys invisible), an output flood to a client that does not read keeps the
// server's memory bounded, a sandbox cannot open more terminals than the limit, and a request
// that is not a WebSocket upgrade gets a clear 4xx instead of a shell.
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>
#include <Poco/Net/HTTPClientSession.h>
#include <Poco/Net/HTTPRequest.h>
#include <Poco/Net/HTTPResponse.h>
#include <Poco/StreamCopier.h>
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include "terminal_test_support.h"

namespace grid::testing {
namespace {

using namespace std::chrono_literals;

class ContainmentTerminalTest : public TerminalTestBase {
 protected:
  struct Answer {
    int status = 0;
    std::string body;
    std::string code;
  };
  Answer plainRequest(const std::string& method, const std::string& path) {
    Poco::Net::HTTPClientSession session("127.0.0.1", static_cast<Poco::UInt16>(api_->port()));
    session.setTimeout(Poco::Timespan(60, 0));
    Poco::Net::HTTPRequest request(method, path, Poco::Net::HTTPMessage::HTTP_1_1);
    session.sendRequest(request);
    Poco::Net::HTTPResponse response;
    Answer answer;
    Poco::StreamCopier::copyToString(session.receiveResponse(response), answer.body);
    answer.status = response.getStatus();
    try {
      answer.code = Poco::JSON::Parser()
                        .parse(answer.body)
                        .extract<Poco::JSON::Object::Ptr>()
                        ->optValue<std::string>("code", "");
    } catch (const Poco::Exception&) {
    }
    return answer;
  }
};

TEST_F(ContainmentTerminalTest, ThePtyIsInTheSandboxsOwnDevpts) {
  // A host pty exists while the terminal is open: a shared devpts would show it.
  const int host_pty = ::posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
  ASSERT_GE(host_pty, 0);
  auto terminal = openShell();
  ASSERT_TRUE(terminal->open());
  // Numbered entries of the sandbox's /dev/pts: exactly the terminal's own (one), or none where
  // the terminal is no devpts node at all (gVisor emulates it; its /dev/pts lists nothing).
  terminal->type(
      "n=$(ls /dev/pts 2>/dev/null | grep -c '^[0-9]'); t=$(tty | grep -c '^/dev/pts/'); "
      "[ \"$n\" = \"$t\" ] && echo devpts-o''k || echo devpts-bad-$n-$t\r");
  EXPECT_TRUE(terminal->readUntil("devpts-ok")) << terminal->output();
  ::close(host_pty);
}

TEST_F(ContainmentTerminalTest, AFloodToAClientThatDoesNotReadKeepsMemoryBounded) {
  auto terminal = openShell();
  ASSERT_TRUE(terminal->open());
  ASSERT_TRUE(resetPeakRss());
  const int64_t before_kb = procStatusKb("VmHWM");
  terminal->type("head -c 400000000 /dev/zero | tr '\\0' x\r");
  // The client reads nothing: its socket buffer fills, then the server's send waits, then
  // the terminal's, then the writer in the sandbox.
  ASSERT_TRUE(waitUntil([&] { return terminal->pendingBytes() >= 64 * 1024; }));
  for (int i = 0; i < 5; ++i) EXPECT_EQ(run("echo tick").output, "tick\n");
  const int64_t peak_kb = procStatusKb("VmHWM");
  EXPECT_LT(peak_kb - before_kb, 64 * 1024)
      << "the server grew by " << (peak_kb - before_kb) << " KiB for a client that does not read";
  terminal->drop();
  EXPECT_TRUE(waitUntil([&] { return processesMatching("head -c 4[0]0000000") == 0; }));
}

TEST_F(ContainmentTerminalTest, ASandboxCannotOpenMoreTerminalsThanTheLimit) {
  std::vector<std::unique_ptr<TerminalClient>> open;
  for (int i = 0; i < 4; ++i) {
    open.push_back(openShell());
    ASSERT_TRUE(open.back()->open());
  }
  TerminalClient refused(api_->port(), id_);
  EXPECT_FALSE(refused.open());
  EXPECT_EQ(refused.status(), 429);
  open.pop_back();  // closing one makes room
  EXPECT_TRUE(waitUntil([&] { return TerminalClient(api_->port(), id_).status() == 101; }));
}

TEST_F(ContainmentTerminalTest, ARequestThatIsNotAWebSocketGetsAClear4xx) {
  const std::string path = "/sandboxes/" + id_ + "/pty";
  const Answer plain = plainRequest("GET", path);
  EXPECT_EQ(plain.status, 426) << plain.body;
  EXPECT_EQ(plain.code, "upgrade_required") << plain.body;
  EXPECT_EQ(plainRequest("POST", path).status, 405);
  EXPECT_EQ(plainRequest("GET", path + "?cols=0&rows=10").status, 400);
  EXPECT_EQ(plainRequest("GET", path + "?cols=80").status, 400);
  EXPECT_EQ(plainRequest("GET", path + "?term=x;rm").status, 400);
  EXPECT_EQ(plainRequest("GET", path + "?shell=/bin/sh").status, 400);
  EXPECT_EQ(plainRequest("GET", "/sandboxes/no-such-sandbox/pty").status, 404);
  // None of these started a shell.
  EXPECT_EQ(processesMatching("(^|/)(ba)?s[h] -l ?$"), 0);
}

}  // namespace
}  // namespace grid::testing
