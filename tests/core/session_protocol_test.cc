#include "session_protocol.h"

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
  const std::string line = sessionExecScript("a\nb\n");
  EXPECT_EQ(std::count(line.begin(), line.end(), '\n'), 1);
  const std::string out =
      runInteractiveBash(sessionInitScript("TOK") + sessionExecScript("echo hi; (exit 3)"));
  const size_t ready = out.find("TOK:ready:");
  ASSERT_NE(ready, std::string::npos) << out;
  // At the end of input the shell exits: the EXIT trap reports the last status.
  EXPECT_EQ(out.substr(out.find('\n', ready) + 1), "TOK:done:0\nhi\nTOK:done:3\nTOK:exit:3\n");
}

TEST(SessionExecScriptTest, StdinIsEmptyAndStderrMerged) {
  const std::string out = runInteractiveBash(sessionInitScript("T") +
                                             sessionExecScript("cat; echo err >&2") +
                                             "leftover-input\n");
  EXPECT_NE(out.find("T:done:0\nerr\nT:done:0\n"), std::string::npos) << out;
}

TEST(SessionInitScriptTest, MarkersCannotBeSwitchedOff) {
  const std::string out = runInteractiveBash(sessionInitScript("T") +
                                             sessionExecScript("PROMPT_COMMAND=; unset PROMPT_COMMAND") +
                                             sessionExecScript("echo still"));
  EXPECT_NE(out.find("still\nT:done:0\n"), std::string::npos) << out;
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
  const std::string stream = "output without newline" "abcdef:done:17\n";
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
