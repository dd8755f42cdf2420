#include "session/session_protocol.h"

#include <gtest/gtest.h>
#include <stdio.h>

#include <algorithm>
#include <array>

namespace grid {
namespace {

// Runs `script` with the host's bash and returns its stdout; `interactive` feeds it on the
// stdin of `bash -i`, as the session does.
std::string runBash(const std::string& script, bool interactive = false) {
  char path[] = "/tmp/grid-protocol-XXXXXX";
  const int fd = mkstemp(path);
  EXPECT_GE(fd, 0);
  FILE* file = fdopen(fd, "w");
  fwrite(script.data(), 1, script.size(), file);
  fclose(file);
  const std::string command = interactive
                                  ? "bash --norc --noprofile -i 2>/dev/null < " + std::string(path)
                                  : "bash " + std::string(path);
  FILE* pipe = popen(command.c_str(), "r");
  std::string out;
  std::array<char, 4096> buf;
  size_t n;
  while ((n = fread(buf.data(), 1, buf.size(), pipe)) > 0) out.append(buf.data(), n);
  pclose(pipe);
  unlink(path);
  return out;
}

TEST(QuoteAnsiCTest, RoundTripsEveryByteThroughBash) {
  std::string all;
  for (int c = 1; c < 256; ++c) all += static_cast<char>(c);
  const std::string quoted = quoteAnsiC(all);
  EXPECT_EQ(quoted.find('\n'), std::string::npos);  // one line, whatever the input
  EXPECT_EQ(runBash("printf '%s' " + quoted), all);
}

TEST(QuoteAnsiCTest, QuotesAndBackslashes) {
  EXPECT_EQ(quoteAnsiC("it's \\ fine"), "$'it\\'s \\\\ fine'");
  EXPECT_EQ(runBash("printf '%s' " + quoteAnsiC("'\"$HOME`x`\\")), "'\"$HOME`x`\\");
}

std::string runInteractiveBash(const std::string& script) { return runBash(script, true); }

TEST(SessionExecScriptTest, OneLineRunsTheCommandAndThePromptReportsStatus) {
  const std::string line = sessionExecScript("n1", "a\nb\n");
  EXPECT_EQ(std::count(line.begin(), line.end(), '\n'), 1);
  const std::string out =
      runInteractiveBash(sessionInitScript("TOK") + sessionExecScript("n1", "echo hi; (exit 3)"));
  const size_t ready = out.find("TOK:ready:");
  ASSERT_NE(ready, std::string::npos) << out;
  // At the end of input the shell exits: the EXIT trap reports the last status.
  EXPECT_EQ(out.substr(out.find('\n', ready) + 1),
            "TOK:done::0\nTOK:start:n1\nhi\nTOK:done:n1:3\nTOK:exit:n1:3\n");
}

TEST(SessionExecScriptTest, StdinIsEmptyAndStderrMerged) {
  const std::string out = runInteractiveBash(
      sessionInitScript("T") + sessionExecScript("n", "cat; echo err >&2") + "leftover-input\n");
  EXPECT_NE(out.find("T:start:n\nerr\nT:done:n:0\n"), std::string::npos) << out;
}

TEST(SessionInitScriptTest, MarkersCannotBeSwitchedOff) {
  const std::string out =
      runInteractiveBash(sessionInitScript("T") +
                         sessionExecScript("a",
                                           "PROMPT_COMMAND=; unset PROMPT_COMMAND; "
                                           "__grid_start() { :; }; unset -f __grid_start") +
                         sessionExecScript("b", "echo still"));
  EXPECT_NE(out.find("T:start:b\nstill\nT:done:b:0\n"), std::string::npos) << out;
}

// A Ctrl-C at an idle prompt makes the prompt print a done marker: it carries the previous
// exec's nonce, so it can never end the next one.
TEST(SessionExecScriptTest, InterruptAtIdlePromptRepeatsTheOldNonce) {
  const std::string out =
      runInteractiveBash(sessionInitScript("T") + sessionExecScript("a", "kill -INT $$") +
                         sessionExecScript("b", "echo b"));
  EXPECT_NE(out.find("T:start:a\nT:done:a:130\nT:start:b\nb\nT:done:b:0\n"), std::string::npos)
      << out;
}

TEST(CappedOutputTest, KeepsEverythingUnderTheCap) {
  CappedOutput out(100);
  out.append("hello ");
  out.append("world");
  EXPECT_EQ(out.str(), "hello world");
  EXPECT_FALSE(out.truncated());
}

TEST(CappedOutputTest, KeepsHeadAndTailOverTheCap) {
  CappedOutput out(10);
  out.append("HEAD1");
  for (int i = 0; i < 1000; ++i) out.append("middle");
  out.append("TAIL9");
  EXPECT_TRUE(out.truncated());
  const std::string s = out.str();
  EXPECT_EQ(s.substr(0, 5), "HEAD1");
  EXPECT_EQ(s.substr(s.size() - 5), "TAIL9");
  EXPECT_NE(s.find("truncated"), std::string::npos);
  EXPECT_EQ(out.totalBytes(), 10u + 6000u);
}

TEST(CappedOutputTest, OneHugeAppend) {
  CappedOutput out(8);
  out.append(std::string(100, 'a') + "zzzz");
  const std::string s = out.str();
  EXPECT_EQ(s.substr(0, 4), "aaaa");
  EXPECT_EQ(s.substr(s.size() - 4), "zzzz");
}

TEST(MarkerScannerTest, SplitsOutputFromMarker) {
  MarkerScanner scanner("tok");
  std::string out;
  auto marker = scanner.feed("hello\ntok:done:0\nrest", out);
  ASSERT_TRUE(marker);
  EXPECT_EQ(marker->kind, "done");
  EXPECT_EQ(marker->fields, "0");
  EXPECT_EQ(out, "hello\n");
  EXPECT_EQ(scanner.flush(), "rest");
}

TEST(MarkerScannerTest, MarkerSplitAcrossEveryBoundary) {
  const std::string stream =
      "output without newline"
      "abcdef:done:17\n";
  for (size_t cut = 0; cut <= stream.size(); ++cut) {
    MarkerScanner scanner("abcdef");
    std::string out;
    auto first = scanner.feed(stream.substr(0, cut), out);
    auto marker = first ? first : scanner.feed(stream.substr(cut), out);
    ASSERT_TRUE(marker) << "cut at " << cut;
    EXPECT_EQ(marker->fields, "17");
    EXPECT_EQ(out, "output without newline");
  }
}

TEST(MarkerScannerTest, PartialPrefixesAreOutput) {
  MarkerScanner scanner("abcdef");
  std::string out;
  EXPECT_FALSE(scanner.feed("abc", out));
  EXPECT_EQ(out, "");
  EXPECT_FALSE(scanner.feed("xyz\n", out));
  EXPECT_EQ(out, "abcxyz\n");
  EXPECT_FALSE(scanner.feed("abcdef-no-colon\nabcdef:", out));
  EXPECT_EQ(out, "abcxyz\nabcdef-no-colon\n");
  auto marker = scanner.feed("exit:2\n", out);
  ASSERT_TRUE(marker);
  EXPECT_EQ(marker->kind, "exit");
}

TEST(MarkerScannerTest, PrefixWithoutNewlineIsNotHeld) {
  MarkerScanner scanner("tok");
  std::string out;
  EXPECT_FALSE(scanner.feed("tok:", out));
  const std::string line(1 << 20, 'x');
  for (int i = 0; i < 64; ++i) {
    EXPECT_FALSE(scanner.feed(line, out));
    EXPECT_LE(scanner.pendingBytes(), 4 + kMaxMarkerBody);
  }
  EXPECT_EQ(out.size() + scanner.pendingBytes(), 4 + 64 * line.size());
  EXPECT_EQ(out.substr(0, 8), "tok:xxxx");
}

TEST(MarkerScannerTest, LongestMarkerStillMatches) {
  MarkerScanner scanner("tok");
  std::string out;
  const std::string fields(kMaxMarkerBody - 5, '7');  // "done:" + fields fills the body
  auto marker = scanner.feed("tok:done:" + fields + "\n", out);
  ASSERT_TRUE(marker);
  EXPECT_EQ(marker->fields, fields);
  EXPECT_FALSE(scanner.feed("tok:done:" + fields + "7\n", out));
  EXPECT_EQ(out, "tok:done:" + fields + "7\n");
}

TEST(MarkerScannerTest, MalformedMarkersAreOutput) {
  MarkerScanner scanner("tok");
  std::string out;
  EXPECT_FALSE(scanner.feed("tok:done:1 2\ntok:DONE:1\ntok::1\ntok:done:\t\n", out));
  EXPECT_EQ(out, "tok:done:1 2\ntok:DONE:1\ntok::1\ntok:done:\t\n");
}

TEST(ParseNonceStatusTest, SplitsAtTheLastColon) {
  auto parsed = parseNonceStatus("ab12:130");
  ASSERT_TRUE(parsed);
  EXPECT_EQ(parsed->nonce, "ab12");
  EXPECT_EQ(parsed->status, 130);
  EXPECT_EQ(parseNonceStatus(":0")->nonce, "");
  EXPECT_FALSE(parseNonceStatus("abc"));
  EXPECT_FALSE(parseNonceStatus("abc:"));
  EXPECT_FALSE(parseNonceStatus("abc:-1"));
  EXPECT_FALSE(parseNonceStatus("abc:99999999999"));
}

TEST(ExecTranscriptTest, OutputIsWhatLiesBetweenItsStartAndDoneMarkers) {
  ExecTranscript t("T", "n2", 1024);
  // Leftovers of an earlier exec and a stray done marker come first and are dropped.
  EXPECT_FALSE(t.feed("late output of n1\nT:done:n1:0\nT:done:n1:130\n"));
  EXPECT_FALSE(t.started());
  EXPECT_FALSE(t.feed("T:start:n1\nT:done:n1:0\n"));  // a replayed start of another exec
  EXPECT_FALSE(t.started());
  EXPECT_FALSE(t.feed("T:start:n2\nmine\n"));
  EXPECT_TRUE(t.started());
  auto end = t.feed("T:done:n2:7\nafter the end\n");
  ASSERT_TRUE(end);
  EXPECT_FALSE(end->exited);
  EXPECT_EQ(end->status, 7);
  EXPECT_EQ(t.output().str(), "mine\n");
  EXPECT_GT(t.droppedBeforeStart(), 0u);
}

TEST(ExecTranscriptTest, ForeignMarkersAfterStartAreOutputVerbatim) {
  ExecTranscript t("T", "n2", 1024);
  EXPECT_FALSE(t.feed("T:start:n2\nT:done:guess:0\nT:exit:n1:0\nT:start:n3\nT:done:n2\n"));
  auto end = t.feed("T:exit:n2:4\n");
  ASSERT_TRUE(end);
  EXPECT_TRUE(end->exited);
  EXPECT_EQ(end->status, 4);
  EXPECT_EQ(t.output().str(), "T:done:guess:0\nT:exit:n1:0\nT:start:n3\nT:done:n2\n");
}

TEST(ExecTranscriptTest, EndlessLineAfterPrefixStaysBounded) {
  ExecTranscript t("T", "n", 64);
  EXPECT_FALSE(t.feed("T:start:n\nT:"));
  const std::string chunk(65536, 'y');
  for (int i = 0; i < 256; ++i) {
    ASSERT_FALSE(t.feed(chunk));
    EXPECT_LE(t.pendingBytes(), 2 + kMaxMarkerBody);
  }
  EXPECT_TRUE(t.output().truncated());
  EXPECT_EQ(t.output().totalBytes() + t.pendingBytes(), 2 + 256 * chunk.size());
  auto end = t.feed("\nT:done:n:130\n");
  ASSERT_TRUE(end);
  EXPECT_EQ(end->status, 130);
}

// Live output hands on what each feed decided: a possible marker start is held until the
// next feed decides it, a forged marker comes out as output, and nothing after the done marker.
TEST(ExecTranscriptTest, ReleasedIsWhatEachFeedDecided) {
  ExecTranscript t("TOK", "n2", 1024);
  EXPECT_FALSE(t.feed("old\nTOK:start:n2\nhello\nTO"));
  EXPECT_EQ(t.released(), "hello\n");  // "TO" might begin a marker
  EXPECT_FALSE(t.feed("K:done:guess:0\n{\"type\":\"result\"}\n"));
  EXPECT_EQ(t.released(), "TOK:done:guess:0\n{\"type\":\"result\"}\n");
  EXPECT_FALSE(t.feed("TOK:"));
  EXPECT_EQ(t.released(), "");
  EXPECT_FALSE(t.feed(std::string(kMaxMarkerBody + 1, 'a')));  // too long to be a marker
  EXPECT_EQ(t.released(), "TOK:" + std::string(kMaxMarkerBody + 1, 'a'));
  auto end = t.feed("tail\nTOK:done:n2:3\nafter\n");
  ASSERT_TRUE(end);
  EXPECT_EQ(t.released(), "tail\n");
  EXPECT_EQ(t.output().str(), "hello\nTOK:done:guess:0\n{\"type\":\"result\"}\nTOK:" +
                                  std::string(kMaxMarkerBody + 1, 'a') + "tail\n");
}

TEST(ExecTranscriptTest, FlushReleasesWhatWasHeldAtTheEndOfTheStream) {
  ExecTranscript t("TOK", "n", 1024);
  EXPECT_FALSE(t.feed("TOK:start:n\nx TOK:do"));
  EXPECT_EQ(t.released(), "x ");
  t.flush();
  EXPECT_EQ(t.released(), "TOK:do");
}

TEST(ExecTranscriptTest, LeftoversBeforeStartAreDroppedWithoutBeingKept) {
  ExecTranscript t("T", "n", 64);
  const std::string chunk(65536, 'z');
  for (int i = 0; i < 64; ++i) EXPECT_FALSE(t.feed(chunk));
  EXPECT_EQ(t.output().totalBytes(), 0u);
  EXPECT_EQ(t.droppedBeforeStart() + t.pendingBytes(), 64 * chunk.size());
  EXPECT_FALSE(t.feed("T:start:n\nok\n"));
  EXPECT_EQ(t.output().str(), "ok\n");
}

}  // namespace
}  // namespace grid

namespace grid {
namespace {

// Found by fuzz_session_protocol: a tail over its budget but under the trim threshold was
// reported as not truncated.
TEST(CappedOutputTest, TailOverBudgetCountsAsTruncated) {
  CappedOutput out(64);
  out.append(std::string(45, 'a'));
  out.append(std::string(22, 'b'));
  EXPECT_TRUE(out.truncated());
  EXPECT_EQ(out.totalBytes(), 67u);
}

}  // namespace
}  // namespace grid
