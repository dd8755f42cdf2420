// The pure parts of terminals: the shell's pid line, the wrapper's and the killer's scripts
// (run by a real /bin/sh here), the route's query and control messages.
#include "session/terminal_shell.h"

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>

#include "api/terminal_route.h"

namespace grid {
namespace {

TEST(ParseShellPidLine, FindsThePidAfterTheTokenAndKeepsWhatFollows) {
  std::string rest;
  EXPECT_EQ(parseShellPidLine("tok:pid:123\r\nprompt# ", "tok", &rest), 123);
  EXPECT_EQ(rest, "prompt# ");
  EXPECT_EQ(parseShellPidLine("noise tok:pid:77\n", "tok", &rest), 77);
  EXPECT_EQ(rest, "");
  EXPECT_FALSE(parseShellPidLine("tok:pid:12", "tok", &rest));     // line not complete yet
  EXPECT_FALSE(parseShellPidLine("tok:pid:\r\n", "tok", &rest));   // no digits
  EXPECT_FALSE(parseShellPidLine("tok:pid:1\r\n", "tok", &rest));  // never PID 1
  EXPECT_FALSE(parseShellPidLine("other:pid:5\n", "tok", &rest));
  EXPECT_FALSE(parseShellPidLine("tok:pid:9999999999\n", "tok", &rest));  // too long
}

TEST(TerminalChecks, SizesAndTermNames) {
  EXPECT_TRUE(checkTerminalSize({80, 24}).ok());
  EXPECT_TRUE(checkTerminalSize({1000, 1000}).ok());
  EXPECT_FALSE(checkTerminalSize({0, 24}).ok());
  EXPECT_FALSE(checkTerminalSize({80, 1001}).ok());
  EXPECT_TRUE(checkTerminalName("xterm-256color").ok());
  EXPECT_TRUE(checkTerminalName("screen.xterm+x_1").ok());
  EXPECT_FALSE(checkTerminalName("").ok());
  EXPECT_FALSE(checkTerminalName("x;rm -rf /").ok());
  EXPECT_FALSE(checkTerminalName(std::string(65, 'x')).ok());
}

// Runs argv with /bin/sh's real behaviour; returns its stdout.
std::string runHere(const std::vector<std::string>& argv) {
  int out[2];
  if (::pipe(out) != 0) return "";
  const pid_t child = ::fork();
  if (child == 0) {
    ::dup2(out[1], 1);
    ::close(out[0]);
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    ::execv(args[0], args.data());
    ::_exit(127);
  }
  ::close(out[1]);
  std::string text;
  char buffer[4096];
  ssize_t n;
  while ((n = ::read(out[0], buffer, sizeof buffer)) > 0) text.append(buffer, n);
  ::close(out[0]);
  ::waitpid(child, nullptr, 0);
  return text;
}

TEST(TerminalShellArgv, TheTokenAndTermTravelAsArgumentsNeverAsScript) {
  auto argv = terminalShellArgv("tok'$(echo x)", "xterm", TerminalSize{100, 30});
  ASSERT_EQ(argv.size(), 8u);
  EXPECT_EQ(argv[6], "100");
  EXPECT_EQ(argv[7], "30");
  EXPECT_EQ(argv[0], "/bin/sh");
  EXPECT_EQ(argv[4], "tok'$(echo x)");
  EXPECT_EQ(argv[5], "xterm");
  // The script's first line, run alone: it prints the token verbatim and the shell's pid.
  const std::string script = argv[2].substr(0, argv[2].find('\n'));
  const std::string out = runHere({"/bin/sh", "-c", script, argv[3], argv[4], argv[5]});
  std::string rest;
  EXPECT_GT(parseShellPidLine(out, "tok'$(echo x)", &rest).value_or(0), 1) << out;
}

TEST(KillSessionCommand, KillsEveryProcessOfTheSessionButNotOthers) {
  // A session of our own: setsid sh starting two sleeps (one in its own group), and a sleep
  // outside it that must survive.
  const pid_t outsider = ::fork();
  if (outsider == 0) {
    ::execl("/bin/sleep", "sleep", "30", nullptr);
    ::_exit(127);
  }
  const pid_t leader = ::fork();
  if (leader == 0) {
    ::setsid();
    ::execl("/bin/sh", "sh", "-c", "sleep 31 & (set -m; sleep 32 &) ; wait", nullptr);
    ::_exit(127);
  }
  // Until the session has its three processes: the leader and two sleeps.
  const std::string count =
      "n=0; for d in /proc/[0-9]*; do { read -r st < $d/stat; } "
      "2>/dev/null || continue; st=${st##*) }; set -- $st; "
      "[ \"$4\" = " +
      std::to_string(leader) +
      " ] && [ \"$1\" != Z ] && "
      "n=$((n+1)); done; echo $n";
  for (int i = 0; i < 500 && runHere({"/bin/sh", "-c", count}) != "3\n"; ++i) ::usleep(10000);
  ASSERT_EQ(runHere({"/bin/sh", "-c", count}), "3\n");
  runHere({"/bin/sh", "-c", killSessionCommand(leader)});
  int status = 0;
  ASSERT_EQ(::waitpid(leader, &status, 0), leader);
  EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
  EXPECT_EQ(runHere({"/bin/sh", "-c", count}), "0\n");
  EXPECT_EQ(::waitpid(outsider, &status, WNOHANG), 0) << "a process outside the session died";
  ::kill(outsider, SIGKILL);
  ::waitpid(outsider, nullptr, 0);
}

TEST(ParseTerminalQuery, SizeAndTermOrClearErrors) {
  auto defaults = parseTerminalQuery("/sandboxes/x/pty");
  ASSERT_TRUE(defaults.ok());
  EXPECT_EQ(defaults.value().size.cols, 80);
  EXPECT_EQ(defaults.value().term, "xterm-256color");
  auto given = parseTerminalQuery("/sandboxes/x/pty?cols=120&rows=40&term=screen");
  ASSERT_TRUE(given.ok());
  EXPECT_EQ(given.value().size.cols, 120);
  EXPECT_EQ(given.value().size.rows, 40);
  EXPECT_EQ(given.value().term, "screen");
  EXPECT_FALSE(parseTerminalQuery("/p?cols=120").ok());
  EXPECT_FALSE(parseTerminalQuery("/p?cols=0&rows=3").ok());
  EXPECT_FALSE(parseTerminalQuery("/p?cols=12x&rows=3").ok());
  EXPECT_FALSE(parseTerminalQuery("/p?cols=99999999999&rows=3").ok());
  EXPECT_FALSE(parseTerminalQuery("/p?token=secret").ok());
  EXPECT_FALSE(parseTerminalQuery("/p?term=a%20b").ok());
}

TEST(ParseTerminalControl, ResizeOnly) {
  auto resize = parseTerminalControl(R"({"type":"resize","cols":100,"rows":30})");
  ASSERT_TRUE(resize.ok());
  EXPECT_EQ(resize.value().resize.cols, 100);
  EXPECT_EQ(resize.value().resize.rows, 30);
  EXPECT_FALSE(parseTerminalControl("[1]").ok());
  EXPECT_FALSE(parseTerminalControl("nope").ok());
  EXPECT_FALSE(parseTerminalControl(R"({"type":"exec"})").ok());
  EXPECT_FALSE(parseTerminalControl(R"({"type":"resize","cols":100})").ok());
  EXPECT_FALSE(parseTerminalControl(R"({"type":"resize","cols":"100","rows":30})").ok());
  EXPECT_FALSE(parseTerminalControl(R"({"type":"resize","cols":0,"rows":30})").ok());
  EXPECT_FALSE(parseTerminalControl(R"({"type":"resize","cols":100,"rows":70000})").ok());
}

}  // namespace
}  // namespace grid
