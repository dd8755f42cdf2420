// The session-state scripts, run in a real bash (no sandbox): a state captured in one shell and
// restored in a fresh one comes out the same, and hostile state cannot run in the capture.
#include "session/session_state.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

namespace grid {
namespace {

namespace fs = std::filesystem;

class SessionStateTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::path(::testing::TempDir()) / ("session-state-" + std::to_string(::getpid()));
    fs::create_directories(dir_ / "work dir");
    state_ = (dir_ / "state.sh").string();
  }
  void TearDown() override { fs::remove_all(dir_); }

  // Runs `script` in `bash --norc --noprofile`, returns its stdout; `status` gets the exit code.
  std::string bash(const std::string& script, int* status = nullptr) {
    const std::string file = (dir_ / "script.sh").string();
    std::ofstream(file) << script;
    const std::string out = (dir_ / "out.txt").string();
    const int raw = std::system(("bash --norc --noprofile " + file + " > " + out).c_str());
    if (status != nullptr) *status = WIFEXITED(raw) ? WEXITSTATUS(raw) : -1;
    std::ifstream in(out);
    std::stringstream text;
    text << in.rdbuf();
    return text.str();
  }

  fs::path dir_;
  std::string state_;
};

TEST_F(SessionStateTest, ExcludesBashOwnAndSessionVariables) {
  for (const char* name : {"BASHPID", "BASH_VERSINFO", "EUID", "PPID", "SHELLOPTS", "RANDOM",
                           "PROMPT_COMMAND", "__grid_nonce", "HOSTNAME", "PWD"}) {
    EXPECT_TRUE(isSessionStateExcluded(name)) << name;
  }
  for (const char* name : {"PATH", "HOME", "MY_VAR", "BASHFUL", "OLDPWD", "grid_x"}) {
    EXPECT_FALSE(isSessionStateExcluded(name)) << name;
  }
  EXPECT_EQ(sessionStatePath("0af3"), "/.grid-session-0af3");
}

TEST_F(SessionStateTest, RestoresWhatWasCaptured) {
  const std::string work = (dir_ / "work dir").string();
  int status = -1;
  bash("cd '" + work +
           "'\n"
           "export EXPORTED='ex value'\n"
           "UNEXPORTED=$'two\\nlines \"quoted\" $(not run)'\n"
           "declare -a ARR=(a 'b c'); declare -A MAP=([k]=v); declare -i NUM=41\n"
           "greet() { echo \"hello $1\"; }\n"
           "shopt -s expand_aliases; alias ll='echo listed'\n"
           "shopt -s globstar; set -o noclobber; umask 0027\n" +
           captureStateCommand(state_) +
           "\necho captured=$?\n"
           "[ -z \"${__grid_vars+x}\" ] && echo clean\n",
       &status);
  ASSERT_TRUE(fs::exists(state_));
  const std::string out =
      bash("shopt -s expand_aliases\n" + restoreStateCommand(state_) +
           "\n"
           "echo \"pwd=$PWD\"\n"
           "echo \"exported=$EXPORTED\"; env | grep -c '^EXPORTED=ex value$'\n"
           "printf 'unexported=%s|\\n' \"$UNEXPORTED\"; env | grep -c '^UNEXPORTED=' || true\n"
           "echo \"arr=${ARR[1]} map=${MAP[k]} num=$((NUM + 1))\"\n"
           "greet you\n"
           "eval ll\n"
           "shopt -q globstar && echo globstar\n"
           "[[ $- == *C* ]] && echo noclobber\n"
           "echo \"umask=$(umask)\"\n"
           "[ -e '" +
           state_ + "' ] || echo removed\n");
  EXPECT_NE(out.find("pwd=" + work + "\n"), std::string::npos) << out;
  EXPECT_NE(out.find("exported=ex value\n1\n"), std::string::npos) << out;
  EXPECT_NE(out.find("unexported=two\nlines \"quoted\" $(not run)|\n0\n"), std::string::npos)
      << out;
  EXPECT_NE(out.find("arr=b c map=v num=42\n"), std::string::npos) << out;
  EXPECT_NE(out.find("hello you\n"), std::string::npos) << out;
  EXPECT_NE(out.find("listed\n"), std::string::npos) << out;
  EXPECT_NE(out.find("globstar\n"), std::string::npos) << out;
  EXPECT_NE(out.find("noclobber\n"), std::string::npos) << out;
  EXPECT_NE(out.find("umask=0027\n"), std::string::npos) << out;
  EXPECT_NE(out.find("removed\n"), std::string::npos) << out;
}

TEST_F(SessionStateTest, CaptureChangesNothingInTheSession) {
  const std::string out = bash("X=1; cd /\n" + captureStateCommand(state_) +
                               "\necho \"status=$? x=$X pwd=$PWD\"; declare -p | grep -c __grid_ "
                               "|| true\n");
  EXPECT_NE(out.find("status=0 x=1 pwd=/\n0\n"), std::string::npos) << out;
}

TEST_F(SessionStateTest, HostileFunctionsDoNotRunDuringCapture) {
  // Functions shadowing the commands the capture uses; builtin bypasses them.
  const std::string marker = (dir_ / "ran").string();
  bash("builtin() { touch '" + marker + "'; }\ndeclare() { touch '" + marker +
       "'; }\nprintf() { touch '" + marker +
       "'; }\n"
       "read() { touch '" +
       marker + "'; }\ncompgen() { touch '" + marker + "'; }\n" + captureStateCommand(state_) +
       "\n");
  EXPECT_FALSE(fs::exists(marker));
  EXPECT_TRUE(fs::exists(state_));
}

TEST_F(SessionStateTest, HugeStateIsRefusedAndLeavesNoFile) {
  int status = -1;
  bash("BIG=$(head -c 300000 /dev/zero | tr '\\0' x)\n" + captureStateCommand(state_, 100000) +
           "\nexit $?\n",
       &status);
  EXPECT_EQ(status, kStateTooLargeStatus);
  EXPECT_FALSE(fs::exists(state_));
}

}  // namespace
}  // namespace grid
