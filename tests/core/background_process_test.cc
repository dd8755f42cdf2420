// The pure parts of background processes: request parsing, signal names, the wrapper's argv,
// and reading output without splitting a UTF-8 character.
#include "session/background_process.h"

#include <gtest/gtest.h>

#include "api/process_routes.h"

namespace grid {
namespace {

TEST(SignalName, AcceptsNamesAndNumbersOfTheStandardSignals) {
  EXPECT_EQ(signalName(std::string_view("TERM")), "TERM");
  EXPECT_EQ(signalName(std::string_view("sigkill")), "KILL");
  EXPECT_EQ(signalName(std::string_view("Int")), "INT");
  EXPECT_EQ(signalName(std::string_view("1")), "HUP");
  EXPECT_EQ(signalName(9), "KILL");
  EXPECT_EQ(signalName(31), "SYS");
  EXPECT_FALSE(signalName(0));
  EXPECT_FALSE(signalName(32));
  EXPECT_FALSE(signalName(std::string_view("")));
  EXPECT_FALSE(signalName(std::string_view("TERM; rm -rf /")));
  EXPECT_FALSE(signalName(std::string_view("-9")));
  EXPECT_FALSE(signalName(std::string_view("99999999999999999")));
}

TEST(ParseSignalRequest, NamesNumbersAndRefusals) {
  EXPECT_EQ(parseSignalRequest(R"({"signal": "HUP"})").value(), "HUP");
  EXPECT_EQ(parseSignalRequest(R"({"signal": 2})").value(), "INT");
  EXPECT_FALSE(parseSignalRequest(R"({"signal": "BOGUS"})").ok());
  EXPECT_FALSE(parseSignalRequest(R"({"signal": 0})").ok());
  EXPECT_FALSE(parseSignalRequest(R"({"signal": 65})").ok());
  EXPECT_FALSE(parseSignalRequest(R"({"signal": true})").ok());
  EXPECT_FALSE(parseSignalRequest(R"({"signal": 1.5})").ok());
  EXPECT_FALSE(parseSignalRequest("{}").ok());
  EXPECT_FALSE(parseSignalRequest("[").ok());
}

TEST(ParseProcessStartRequest, FieldsAndRefusals) {
  RequestLimits limits;
  auto spec = parseProcessStartRequest(
      R"({"command": "python3 -m http.server", "cwd": "/srv", "env": {"A": "1", "_b2": "x y"}})",
      limits);
  ASSERT_TRUE(spec.ok()) << spec.error().message;
  EXPECT_EQ(spec.value().command, "python3 -m http.server");
  EXPECT_EQ(spec.value().cwd, "/srv");
  ASSERT_EQ(spec.value().env.size(), 2u);
  for (const char* bad : {
           "{}",
           R"({"command": ""})",
           R"({"command": 5})",
           R"({"command": "x", "cwd": 1})",
           R"({"command": "x", "env": {"A-B": "1"}})",
           R"({"command": "x", "env": {"1A": "1"}})",
           R"({"command": "x", "env": {"A": 1}})",
           R"({"command": "x", "env": {"A": "a\u0000b"}})",
           R"({"command": "x", "env": []})",
           R"({"command": "x", "cwd": "/a\u0000b"})",
       }) {
    EXPECT_FALSE(parseProcessStartRequest(bad, limits).ok()) << bad;
  }
  limits.max_command_bytes = 4;
  EXPECT_FALSE(parseProcessStartRequest(R"({"command": "12345"})", limits).ok());
}

TEST(BackgroundProcessArgv, PassesCommandCwdAndEnvAsSeparateArguments) {
  BackgroundProcessSpec spec{"echo $X", "/tmp/a b", {{"X", "$(id)'\""}}};
  const auto argv = backgroundProcessArgv("tok", spec);
  ASSERT_EQ(argv.size(), 6u);
  EXPECT_EQ(argv[0], "/bin/sh");
  EXPECT_EQ(argv[1], "-c");
  EXPECT_EQ(argv[2].find("/tmp"), std::string::npos);  // nothing of the request in the script
  EXPECT_EQ(argv[2].find("$(id)"), std::string::npos);
  EXPECT_EQ(argv[3], "echo $X");
  EXPECT_EQ(argv[4], "/tmp/a b");
  EXPECT_EQ(argv[5], "X=$(id)'\"");
}

TEST(IncompleteUtf8Tail, CountsOnlyACutSequence) {
  EXPECT_EQ(incompleteUtf8Tail(""), 0u);
  EXPECT_EQ(incompleteUtf8Tail("abc"), 0u);
  EXPECT_EQ(incompleteUtf8Tail("a\xe2"), 1u);
  EXPECT_EQ(incompleteUtf8Tail("a\xe2\x82"), 2u);
  EXPECT_EQ(incompleteUtf8Tail("a\xe2\x82\xac"), 0u);
  EXPECT_EQ(incompleteUtf8Tail("\xf0\x9f\x98"), 3u);
  EXPECT_EQ(incompleteUtf8Tail("\xc3"), 1u);
  EXPECT_EQ(incompleteUtf8Tail("\xff"), 0u);      // invalid, not incomplete
  EXPECT_EQ(incompleteUtf8Tail("\x82\x82"), 0u);  // stray continuation bytes
}

TEST(ReadOutputWhole, LeavesACutCharacterForTheNextReadButNotAtTheEnd) {
  OutputRing ring(1024);
  ring.append("ab\xe2\x82");
  auto first = readOutputWhole(ring, 0, 100);
  ASSERT_TRUE(first.ok());
  EXPECT_EQ(first.value().data, "ab");
  EXPECT_EQ(first.value().next_offset, 2u);
  ring.append("\xac!");
  auto second = readOutputWhole(ring, 2, 100);
  EXPECT_EQ(second.value().data, "\xe2\x82\xac!");
  // At the end of the output the cut character is kept (the sanitiser marks it).
  OutputRing ended(1024);
  ended.append("x\xe2\x82");
  ended.close();
  auto last = readOutputWhole(ended, 0, 100);
  EXPECT_EQ(last.value().data, "x\xe2\x82");
  EXPECT_TRUE(last.value().eof);
  // Tiny reads still progress: at least 4 bytes are read.
  OutputRing tiny(1024);
  tiny.append("\xf0\x9f\x98\x80z");
  auto one = readOutputWhole(tiny, 0, 1);
  EXPECT_EQ(one.value().data, "\xf0\x9f\x98\x80");
}

TEST(ReadOutputWhole, KeepsACutCharacterBeforeAGap) {
  // Budget 8: head 4 bytes, tail 4. The head ends inside the euro sign; the middle is dropped.
  OutputRing ring(8);
  ring.append("abc\xe2\x82\xac");
  ring.append("0123456789");
  auto head = readOutputWhole(ring, 0, 100);
  ASSERT_TRUE(head.ok());
  EXPECT_EQ(head.value().data, "abc\xe2");  // nothing can complete it: kept, no endless loop
  EXPECT_EQ(head.value().next_offset, 4u);
  auto tail = readOutputWhole(ring, 4, 100);
  EXPECT_GT(tail.value().dropped, 0u);
  EXPECT_EQ(tail.value().data, "6789");
}

}  // namespace
}  // namespace grid
