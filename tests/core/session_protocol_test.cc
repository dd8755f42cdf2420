#include "session_protocol.h"

#include <gtest/gtest.h>
#include <stdio.h>

#include <array>

namespace grid {
namespace {

// Runs `script` with the host's bash and returns its stdout.
std::string runBash(const std::string& script) {
  char path[] = "/tmp/grid-protocol-XXXXXX";
  const int fd = mkstemp(path);
  EXPECT_GE(fd, 0);
  FILE* file = fdopen(fd, "w");
  fwrite(script.data(), 1, script.size(), file);
  fclose(file);
  FILE* pipe = popen(("bash " + std::string(path)).c_str(), "r");
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

TEST(SessionExecScriptTest, RunsCommandThenReportsStatus) {
  const std::string out = runBash(sessionExecScript("echo hi; (exit 3)", "TOKEN"));
  EXPECT_EQ(out, "hi\nTOKEN:done:3\n");
}

TEST(SessionExecScriptTest, StdinIsEmptyAndStderrMerged) {
  const std::string out = runBash(sessionExecScript("cat; echo err >&2", "T") + "leftover-input\n");
  EXPECT_EQ(out.substr(0, 11), "err\nT:done:");
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
