// The message the server hands grid-init (plugins/local-namespace/init/): everything the
// sandbox's PID 1 or an entering process needs, serialized by the server before it forks and
// read by grid-init right after exec. Length-prefixed native-endian fields (both ends are
// this build on this machine), a magic + version header, hard caps on every count and size:
// grid-init validates the whole message before acting on any of it.
#pragma once

#include <linux/filter.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "kernel/mounts.h"
#include "kernel/rlimits.h"

namespace grid::localns {

/// Fixed fd numbers grid-init is exec'd with.
inline constexpr int kInitMessageFd = 3;      // sealed memfd holding the message
inline constexpr int kInitReportFd = 4;       // pipe: setup error text; EOF = ready/exec'd
inline constexpr int kInitFirstPassedFd = 5;  // cgroup.procs fds, then detached mount fds

/// Caps that grid-init enforces; the server refuses to build larger messages.
inline constexpr size_t kMaxInitMessageBytes = 16u << 20;
inline constexpr size_t kMaxInitListItems = 1u << 16;
inline constexpr uint32_t kMaxInitPassedFds = 256;
inline constexpr size_t kMaxInitReportBytes = 4096;

struct InitMessage {
  enum class Role : uint32_t { kInit = 1, kEnter = 2 };
  Role role = Role::kInit;

  // Both roles: fds passed at kInitFirstPassedFd.. : first the cgroup.procs files to join
  // (write "0"), then detached mounts consumed by MountStep::Kind::kAttachMount in order,
  // then fds PID 1 holds for its whole life (the lock of its user id slice).
  uint32_t cgroup_fd_count = 0;
  uint32_t mount_fd_count = 0;
  uint32_t held_fd_count = 0;

  // kInit: UTS name and the root filesystem plan.
  std::string hostname;
  std::vector<MountStep> mount_steps;

  // kEnter: the process to run.
  std::vector<std::string> argv;
  std::vector<std::string> env;              // "KEY=VALUE"
  std::vector<std::string> exec_candidates;  // argv[0] resolved against the sandbox PATH
  std::vector<RlimitSetting> rlimits;
  std::vector<sock_filter> seccomp;  // BPF program, installed last before execve

  bool operator==(const InitMessage& other) const;
};

/// Serializes `message`; nullopt if it exceeds the caps above.
std::optional<std::string> encodeInitMessage(const InitMessage& message);

/// Parses and validates `bytes`; on failure returns nullopt and sets `*error` to the reason.
std::optional<InitMessage> decodeInitMessage(std::string_view bytes, std::string* error);

}  // namespace grid::localns
