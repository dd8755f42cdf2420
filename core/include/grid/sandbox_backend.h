// The plugin SDK: the interface every sandbox backend implements. A backend only provides
// containers and processes inside them; the core does everything else (registry, states, the
// running-sandbox limit, the persistent-session protocol, timeouts, output caps, HTTP).
//
// Threading: the core calls one backend object from many threads at once, for different
// sandboxes and for the same sandbox (a standalone exec may run beside the session). A
// ProcessChannel is used by one thread at a time.
//
// Lifetimes: every object a backend returns is destroyed before the backend itself, and the
// backend is destroyed before its shared object is unloaded.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "grid/result.h"

/// Bumped on every incompatible change of this header. The loader refuses a plugin built
/// against another version.
#define GRID_SDK_VERSION 5

namespace grid {

using Clock = std::chrono::steady_clock;

/// Resource limits of one sandbox. Zero means "no limit".
struct ResourceLimits {
  double cpus = 0;          // CPU cores, fractional allowed
  int64_t memory_mb = 0;    // memory in MiB (swap included where the engine allows)
  int64_t pids = 0;         // number of processes/threads
};

/// How strongly a sandbox is separated from the host kernel.
enum class Isolation {
  kDefault,  // the backend's normal runtime (namespaces, cgroups, seccomp on the host kernel)
  kGvisor,   // gVisor: the sandbox's syscalls are served by a user-space kernel (runsc)
};

/// "default", "gvisor": the names used in grid.ini, the API and sandbox descriptions.
inline const char* isolationName(Isolation isolation) {
  return isolation == Isolation::kGvisor ? "gvisor" : "default";
}

/// The isolation named `name`, or nullopt for a name that is none of isolationName()'s.
inline std::optional<Isolation> isolationFromName(std::string_view name) {
  if (name == "default") return Isolation::kDefault;
  if (name == "gvisor") return Isolation::kGvisor;
  return std::nullopt;
}

/// The accepted names, for messages: "default, gvisor".
inline constexpr char kIsolationNames[] = "default, gvisor";

/// The size of a terminal, in character cells.
struct TerminalSize {
  uint16_t cols = 80;
  uint16_t rows = 24;
};

/// A process to start inside a running sandbox.
struct ProcessSpec {
  std::vector<std::string> argv;
  bool attach_stdin = false;  // false: stdin is /dev/null
  /// Set: the process runs on a new pseudo-terminal of this size, allocated inside the
  /// sandbox (never a host pty), as the leader of a new session with that terminal as its
  /// controlling terminal; stdin, stdout and stderr are the terminal (stdin is attached
  /// whatever attach_stdin says), and read() returns everything as kStdout. A backend that
  /// cannot offer a terminal answers kUnsupported.
  std::optional<TerminalSize> tty = std::nullopt;
};

/// Everything a backend needs to make one sandbox.
struct SandboxSpec {
  std::string id;     // Grid's sandbox id: unique, [a-z0-9-], usable as a container name part
  std::string image;  // image reference as the user wrote it
  ResourceLimits limits;
  bool network = false;  // false: loopback only
  /// With `network`: the nameservers the sandbox's /etc/resolv.conf names, in order. The core
  /// sets them when it serves the sandbox's DNS itself (the egress resolver, docs/networking.md);
  /// empty: the backend's own choice.
  std::vector<std::string> nameservers;
  std::map<std::string, std::string> env;
  std::map<std::string, std::string> labels;  // user labels; the backend adds its own
  Isolation isolation = Isolation::kDefault;
  /// Set by the core: the sandbox's session shell. A backend may run it as the sandbox's own
  /// first process, so the session needs no process start of its own (an engine exec costs
  /// ~60 ms), and hand its channel to the core through takeInitialProcess(). A backend that
  /// does not ignores it: the core then starts the session with startProcess().
  std::optional<ProcessSpec> initial_process;
};

enum class OutputStream { kStdout, kStderr };

/// One step of reading a process's output.
struct ReadResult {
  enum class Status { kData, kTimeout, kEof };
  Status status = Status::kTimeout;
  OutputStream stream = OutputStream::kStdout;
  std::string data;  // non-empty only with kData
};

/// The byte streams of one process started by startProcess(). Destroying it closes the streams;
/// it does not have to kill the process (the core kills through the sandbox when it must).
/// For a terminal process (ProcessSpec::tty), write() and resize() may be called from one
/// thread while another is in read().
class ProcessChannel {
 public:
  virtual ~ProcessChannel();

  /// Writes all of `data` to the process's stdin.
  virtual Result<void> write(std::string_view data) = 0;

  /// Closes the process's stdin (EOF for the reader).
  virtual void closeStdin() = 0;

  /// Waits until output arrives, the output ends (kEof), or `deadline` passes (kTimeout).
  /// stdout and stderr must each keep their own order.
  virtual Result<ReadResult> read(Clock::time_point deadline) = 0;

  /// The exit status once read() returned kEof (128+N for death by signal N); nullopt where
  /// the engine cannot tell.
  virtual std::optional<int> exitCode() = 0;

  /// Changes the size of a terminal process's terminal (the process gets SIGWINCH). The
  /// default, for channels without a terminal, answers kUnsupported.
  virtual Result<void> resize(TerminalSize size);
};

/// Bytes flowing into a backend call: an upload's body, read as it arrives.
class ByteSource {
 public:
  virtual ~ByteSource();
  /// Fills up to `capacity` bytes of `buffer`; returns how many, 0 at the end of the stream.
  virtual Result<size_t> read(char* buffer, size_t capacity) = 0;
};

/// Bytes flowing out of a backend call: a download's body, written in order as produced. An
/// error (the client went away) must end the call promptly with that error.
class ByteSink {
 public:
  virtual ~ByteSink();
  virtual Result<void> write(std::string_view data) = 0;
};

enum class FileType { kFile, kDirectory, kSymlink, kOther };

/// One file as the sandbox's own processes see it (lstat: a symlink is itself).
struct FileInfo {
  std::string name;  // the last path component; for listDirectory, the entry's name
  FileType type = FileType::kOther;
  uint64_t size = 0;
  uint32_t mode = 0;        // permission bits (07777)
  int64_t mtime = 0;        // seconds since the epoch
  std::string link_target;  // for kSymlink
};

/// What a running sandbox uses now, as far as the backend can tell (nullopt: it cannot).
struct SandboxStats {
  std::optional<double> cpu_seconds;     // CPU time of all its processes since it started
  std::optional<uint64_t> memory_bytes;  // memory in use now (as its cgroup counts it)
};

/// What the core hands a backend at init(): Grid's instance name and the backend's own
/// `[backend.NAME]` section of grid.ini, keys without the prefix, values as written.
struct BackendConfig {
  std::string instance;  // labels every sandbox so a restart finds its leftovers
  std::map<std::string, std::string> settings;
};

class SandboxBackend {
 public:
  virtual ~SandboxBackend();

  /// Short name ("docker"), used in logs and sandbox descriptions.
  virtual std::string name() const = 0;

  /// Reads settings and checks the engine is usable. Called once, before anything else.
  /// An unreachable engine is kUnavailable with a message saying how to start it.
  virtual Result<void> init(const BackendConfig& config) = 0;

  /// Removes every sandbox an earlier run of this instance left behind (crash, SIGKILL);
  /// returns the ids it removed.
  virtual Result<std::vector<std::string>> removeLeftovers() = 0;

  /// Whether createSandbox() can honour `spec`, asked before anything is made (a create request
  /// answers 400 at once instead of failing at start). kUnsupported for a combination the
  /// backend cannot offer, naming what is missing. The default accepts only
  /// Isolation::kDefault, so a backend that knows nothing of isolation never runs a sandbox
  /// weaker than requested.
  virtual Result<void> checkSpec(const SandboxSpec& spec);

  /// Creates and starts the sandbox and returns once processes can be started in it.
  /// An image that is neither present nor obtainable is kImageNotFound naming the image.
  /// On failure nothing of the sandbox may remain.
  virtual Result<void> createSandbox(const SandboxSpec& spec) = 0;

  /// Starts a process inside a running sandbox. Processes of one sandbox share its PID
  /// namespace, so one can signal another by its in-sandbox pid.
  virtual Result<std::unique_ptr<ProcessChannel>> startProcess(const std::string& sandbox_id,
                                                               const ProcessSpec& spec) = 0;

  /// The channel of the `initial_process` that createSandbox() or forkSandbox() started as the
  /// sandbox's own process, handed over once (later calls answer nullptr). Its process behaves
  /// as one from startProcess(): when it ends, read() returns kEof and exitCode() its status,
  /// and the sandbox runs on (the core then starts a new session with startProcess()). The
  /// default answers nullptr: the backend started nothing.
  virtual Result<std::unique_ptr<ProcessChannel>> takeInitialProcess(
      const std::string& sandbox_id);

  /// Kills every process of the sandbox and removes all it holds. Removing an unknown or
  /// already removed sandbox succeeds.
  virtual Result<void> destroySandbox(const std::string& sandbox_id) = 0;

  /// Freezes every process of the sandbox (none runs until resumeSandbox()); returns once they
  /// are all frozen. Its memory, files and open streams stay as they are. destroySandbox() of a
  /// paused sandbox must still leave nothing. The default answers kUnsupported, naming the
  /// backend: the core then refuses the pause and the sandbox runs on.
  virtual Result<void> pauseSandbox(const std::string& sandbox_id);

  /// Thaws what pauseSandbox() froze. Resuming a sandbox that is not paused succeeds.
  virtual Result<void> resumeSandbox(const std::string& sandbox_id);

  // Files of a running sandbox. Every `path` is absolute and normalised (no ".", "..", "//" or
  // NUL). It resolves inside the sandbox exactly as the sandbox's own processes resolve it (its
  // mounts, its symlinks, its user), never through a host path, and what is written is owned
  // as the session's own writes are. Errors: kNotFound (no such path or parent), kConflict (a
  // directory where a file is needed or the reverse), kNoSpace (disk or quota full),
  // kInvalidArgument (a malformed archive). No call may outlast `deadline`.
  //
  // The defaults run standard tools inside the sandbox through startProcess (`tar`, `stat`,
  // `mkdir`, `rm`; docs/files.md), so any backend has them; a backend overrides what its
  // engine does natively (the engines' archive endpoints).

  // Fork and snapshot (docs/fork-snapshot.md). Both see the source's filesystem at one
  // consistent instant: the backend stops the source's processes for the copy (cgroup freezer,
  // engine pause) and lets them go on afterwards, unchanged. Processes are never carried over.
  // The defaults answer kUnsupported.

  /// Creates and starts one sandbox per entry of `children`, each with a filesystem equal to
  /// the running sandbox `source_id`'s at one instant, the same for all. Each child is made
  /// from its own spec (id, limits, env, labels; `image` is the source's) and owns only what is
  /// its own: a backend shares one read-only copy of the source among the children where it
  /// can. All or nothing: on failure no child remains. Removing the source does not affect its
  /// children, and whatever the children share goes with the last of them. An empty
  /// `children` only asks whether `source_id` can be forked (kUnsupported naming why) and makes
  /// nothing; the core asks before it saves the session state.
  virtual Result<void> forkSandbox(const std::string& source_id,
                                   const std::vector<SandboxSpec>& children);

  /// Saves the running sandbox `sandbox_id`'s filesystem as image `image` ("name:tag"), which
  /// createSandbox then accepts. An existing image of that name is kConflict unless
  /// `overwrite`; sandboxes already made from the old image keep working.
  virtual Result<void> snapshotSandbox(const std::string& sandbox_id, const std::string& image,
                                       bool overwrite);

  /// lstat of `path`.
  virtual Result<FileInfo> statPath(const std::string& sandbox_id, const std::string& path,
                                    Clock::time_point deadline);

  /// The entries of directory `path` (not "." and ".."), at most `max_entries` of them (the
  /// core asks for one more than it shows, to tell that a listing was cut short).
  virtual Result<std::vector<FileInfo>> listDirectory(const std::string& sandbox_id,
                                                      const std::string& path, size_t max_entries,
                                                      Clock::time_point deadline);

  /// mkdir -p `path` with `mode` for the directories it creates.
  virtual Result<void> makeDirectory(const std::string& sandbox_id, const std::string& path,
                                     uint32_t mode, Clock::time_point deadline);

  /// Removes `path`, a directory with everything below it. A missing path is kNotFound.
  virtual Result<void> removePath(const std::string& sandbox_id, const std::string& path,
                                  Clock::time_point deadline);

  /// Extracts the tar stream read from `tar` into the existing directory `directory`.
  virtual Result<void> extractArchive(const std::string& sandbox_id, const std::string& directory,
                                      ByteSource& tar, Clock::time_point deadline);

  /// Writes a tar stream of `path` to `out`: one entry named by its last component, or a
  /// directory's whole tree under that name. A symlink is archived as a symlink.
  virtual Result<void> createArchive(const std::string& sandbox_id, const std::string& path,
                                     ByteSink& out, Clock::time_point deadline);

  /// CPU and memory use of a running sandbox, read by the time `deadline` passes (for metrics
  /// and the dashboard, polled often: keep it cheap). The default is kUnsupported. An unknown
  /// sandbox is kNotFound.
  virtual Result<SandboxStats> sandboxStats(const std::string& sandbox_id,
                                            Clock::time_point deadline);

  /// Opens the network namespace that carries the running sandbox's traffic and returns an fd
  /// the caller owns (O_CLOEXEC), for setns(fd, CLONE_NEWNET). The core opens sockets in it: the
  /// port proxy reaches the sandbox's own ports (its loopback included) and the egress policy
  /// and resolver live there (docs/networking.md). The sandbox's own processes must not hold
  /// CAP_NET_ADMIN over it. kUnsupported where no namespace the host can enter carries the
  /// traffic (gVisor's user-space network stack); the default answers kUnsupported.
  virtual Result<int> openNetworkNamespace(const std::string& sandbox_id);
};

}  // namespace grid
