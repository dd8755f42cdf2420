#include "api/api_requests.h"

#include <gtest/gtest.h>

namespace grid {
namespace {

RequestLimits limits() { return RequestLimits{}; }

TEST(CreateRequestTest, FullRequest) {
  auto r = parseCreateRequest(
      R"({"image":"debian:12","setup_commands":["a","b"],"limits":{"cpus":1.5,"memory_mb":256,"pids":64},
          "network":true,"env":{"K":"V"},"labels":{"team":"rl"}})",
      limits());
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(*r.value().image, "debian:12");
  EXPECT_EQ(r.value().setup_commands.size(), 2u);
  EXPECT_DOUBLE_EQ(r.value().limits->cpus, 1.5);
  EXPECT_EQ(r.value().limits->memory_mb, 256);
  EXPECT_EQ(r.value().limits->pids, 64);
  EXPECT_TRUE(r.value().network);
  EXPECT_EQ(r.value().env.at("K"), "V");
  EXPECT_EQ(r.value().labels.at("team"), "rl");
}

TEST(CreateRequestTest, EmptyBodyMeansDefaults) {
  auto r = parseCreateRequest("", limits());
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(r.value().image);
  EXPECT_FALSE(r.value().network);
}

TEST(CreateRequestTest, WrongTypesAreNamed) {
  const std::pair<const char*, const char*> cases[] = {
      {R"({"image":5})", "'image'"},
      {R"({"image":""})", "'image'"},
      {R"({"setup_commands":"ls"})", "'setup_commands'"},
      {R"({"setup_commands":[1]})", "setup_commands[0]"},
      {R"({"limits":{"memory_mb":"big"}})", "memory_mb"},
      {R"({"limits":{"cpus":-1}})", "limits.cpus"},
      {R"({"limits":{"disk":1}})", "disk"},
      {R"({"network":"yes"})", "'network'"},
      {R"({"env":{"A":1}})", "env.A"},
      {R"({"labels":{"grid.instance":"x"}})", "reserved"},
      {R"([1,2])", "JSON object"},
      {R"({"image": )", "not valid JSON"},
  };
  for (const auto& [body, needle] : cases) {
    auto r = parseCreateRequest(body, limits());
    ASSERT_FALSE(r.ok()) << body;
    EXPECT_EQ(r.error().code, ErrorCode::kInvalidArgument);
    EXPECT_NE(r.error().message.find(needle), std::string::npos)
        << body << " -> " << r.error().message;
  }
}

TEST(ExecRequestTest, ParsesAndValidates) {
  auto ok = parseExecRequest(R"({"command":"ls -la","standalone":true,"timeout":1.5})", limits());
  ASSERT_TRUE(ok.ok());
  EXPECT_EQ(ok.value().command, "ls -la");
  EXPECT_TRUE(ok.value().standalone);
  EXPECT_EQ(ok.value().timeout, std::chrono::milliseconds(1500));
  EXPECT_FALSE(ok.value().stream.has_value());
  auto streamed = parseExecRequest(R"({"command":"ls","stream":true})", limits());
  ASSERT_TRUE(streamed.ok());
  EXPECT_EQ(streamed.value().stream, std::optional<bool>(true));
  EXPECT_FALSE(parseExecRequest(R"({"command":"ls","stream":"yes"})", limits()).ok());
  EXPECT_FALSE(parseExecRequest("{}", limits()).ok());
  EXPECT_FALSE(parseExecRequest(R"({"command":null})", limits()).ok());
  EXPECT_FALSE(parseExecRequest(R"({"command":["ls"]})", limits()).ok());
  EXPECT_FALSE(parseExecRequest(R"({"command":"x","timeout":0})", limits()).ok());
  EXPECT_FALSE(parseExecRequest(R"({"command":"x","timeout":"5"})", limits()).ok());
  EXPECT_FALSE(parseExecRequest(R"({"command":"a\u0000b"})", limits()).ok());
  RequestLimits small;
  small.max_command_bytes = 4;
  EXPECT_FALSE(parseExecRequest(R"({"command":"12345"})", small).ok());
}

TEST(ExecRequestTest, AutoResumeIsOptInAndABoolean) {
  EXPECT_FALSE(parseExecRequest(R"({"command":"ls"})", limits()).value().auto_resume);
  auto resumed = parseExecRequest(R"({"command":"ls","auto_resume":true})", limits());
  ASSERT_TRUE(resumed.ok());
  EXPECT_TRUE(resumed.value().auto_resume);
  auto mistyped = parseExecRequest(R"({"command":"ls","auto_resume":"yes"})", limits());
  ASSERT_FALSE(mistyped.ok());
  EXPECT_NE(mistyped.error().message.find("auto_resume"), std::string::npos);
}

TEST(StopRequestTest, RemoveDefaultsToTrue) {
  EXPECT_TRUE(parseStopRequest("").value().remove);
  EXPECT_FALSE(parseStopRequest(R"({"remove":false})").value().remove);
  EXPECT_FALSE(parseStopRequest(R"({"remove":1})").ok());
}

TEST(CreateRequestTest, IsolationIsParsedAndUnknownValuesNameTheAcceptedOnes) {
  auto gvisor = parseCreateRequest(R"({"isolation":"gvisor"})", limits());
  ASSERT_TRUE(gvisor.ok()) << gvisor.error().message;
  EXPECT_EQ(gvisor.value().isolation, Isolation::kGvisor);
  auto standard = parseCreateRequest(R"({"isolation":"default"})", limits());
  ASSERT_TRUE(standard.ok());
  EXPECT_EQ(standard.value().isolation, Isolation::kDefault);
  auto absent = parseCreateRequest("{}", limits());
  ASSERT_TRUE(absent.ok());
  EXPECT_FALSE(absent.value().isolation);  // the server's [sandbox] isolation applies
  for (const char* body : {R"({"isolation":"kata"})", R"({"isolation":"GVISOR"})",
                           R"({"isolation":""})", R"({"isolation":1})"}) {
    auto r = parseCreateRequest(body, limits());
    ASSERT_FALSE(r.ok()) << body;
    EXPECT_EQ(r.error().code, ErrorCode::kInvalidArgument) << body;
    EXPECT_NE(r.error().message.find("'isolation'"), std::string::npos) << r.error().message;
  }
  auto unknown = parseCreateRequest(R"({"isolation":"kata"})", limits());
  EXPECT_NE(unknown.error().message.find("default, gvisor"), std::string::npos)
      << unknown.error().message;
}

}  // namespace
}  // namespace grid

namespace grid {
namespace {

TEST(CreateRequestTest, LifetimesAreParsed) {
  auto r = parseCreateRequest(
      R"({"ttl_seconds": 3600, "idle_timeout_seconds": 1.5, "expiry_action": "pause"})", limits());
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r.value().lifetime.ttl, std::chrono::seconds(3600));
  EXPECT_EQ(r.value().lifetime.idle_timeout, std::chrono::milliseconds(1500));
  EXPECT_EQ(r.value().lifetime.action, ExpiryAction::kPause);
  auto none = parseCreateRequest(R"({"ttl_seconds": 0, "idle_timeout_seconds": null})", limits());
  ASSERT_TRUE(none.ok()) << none.error().message;
  EXPECT_EQ(none.value().lifetime.ttl, std::chrono::milliseconds(0));  // asks for none
  EXPECT_FALSE(none.value().lifetime.idle_timeout);                   // the default
  EXPECT_FALSE(none.value().lifetime.action);
}

TEST(CreateRequestTest, BadLifetimesAreNamed) {
  const std::pair<const char*, const char*> cases[] = {
      {R"({"ttl_seconds": -1})", "'ttl_seconds' must be a number of seconds from 0"},
      {R"({"ttl_seconds": "60"})", "'ttl_seconds' must be a number"},
      {R"({"ttl_seconds": true})", "'ttl_seconds' must be a number"},
      {R"({"ttl_seconds": 1e12})", "'ttl_seconds' must be a number of seconds from 0"},
      {R"({"idle_timeout_seconds": -0.5})", "'idle_timeout_seconds' must be a number of seconds"},
      {R"({"idle_timeout_seconds": 0.0001})", "'idle_timeout_seconds' must be 0 (none) or at least"},
      {R"({"expiry_action": "delete"})", "'expiry_action' must be one of stop, pause"},
      {R"({"expiry_action": 1})", "'expiry_action' must be a string"},
  };
  for (const auto& [body, message] : cases) {
    auto r = parseCreateRequest(body, limits());
    ASSERT_FALSE(r.ok()) << body;
    EXPECT_EQ(r.error().code, ErrorCode::kInvalidArgument) << body;
    EXPECT_NE(r.error().message.find(message), std::string::npos) << body << ": "
                                                                   << r.error().message;
  }
}

}  // namespace
}  // namespace grid
