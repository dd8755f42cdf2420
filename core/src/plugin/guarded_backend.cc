#include "plugin/guarded_backend.h"

#include <Poco/Exception.h>
#include <spdlog/spdlog.h>

#include <exception>
#include <utility>

namespace grid {
namespace {

Error thrown(const std::string& label, const char* call, const std::string& what) {
  Error error{ErrorCode::kInternal, "backend " + label + ": " + call + " threw: " + what};
  spdlog::error("{}", error.message);
  return error;
}

// Runs `call`, turning anything it throws into the Error of thrown().
template <typename Call>
auto guarded(const std::string& label, const char* name, Call&& call) -> decltype(call()) {
  try {
    return call();
  } catch (...) {
    return thrown(label, name, currentExceptionText());
  }
}

class GuardedChannel : public ProcessChannel {
 public:
  GuardedChannel(std::unique_ptr<ProcessChannel> inner, const std::string& label)
      : inner_(std::move(inner)), label_(label) {}

  Result<void> write(std::string_view data) override {
    return guarded(label_, "ProcessChannel::write", [&] { return inner_->write(data); });
  }

  void closeStdin() override {
    auto closed = guarded(label_, "ProcessChannel::closeStdin", [&]() -> Result<void> {
      inner_->closeStdin();
      return {};
    });
    (void)closed;  // already logged; the stream is as closed as the plugin left it
  }

  Result<ReadResult> read(Clock::time_point deadline) override {
    return guarded(label_, "ProcessChannel::read", [&] { return inner_->read(deadline); });
  }

  std::optional<int> exitCode() override {
    auto code = guarded(label_, "ProcessChannel::exitCode",
                        [&]() -> Result<std::optional<int>> { return inner_->exitCode(); });
    return code.ok() ? code.value() : std::nullopt;  // unknown, as for an engine that cannot tell
  }

  Result<void> resize(TerminalSize size) override {
    return guarded(label_, "ProcessChannel::resize", [&] { return inner_->resize(size); });
  }

 private:
  std::unique_ptr<ProcessChannel> inner_;
  const std::string label_;
};

}  // namespace

std::string currentExceptionText() {
  try {
    throw;
  } catch (const Poco::Exception& e) {
    return e.displayText();
  } catch (const std::exception& e) {
    return e.what();
  } catch (...) {
    return "an exception of unknown type";
  }
}

GuardedBackend::GuardedBackend(std::unique_ptr<SandboxBackend> inner, std::string label)
    : inner_(std::move(inner)), label_(std::move(label)) {}

// Destructors are noexcept: a plugin's that throws ends the process, and no guard can help.
GuardedBackend::~GuardedBackend() = default;

std::string GuardedBackend::name() const {
  auto name = guarded(label_, "name", [&]() -> Result<std::string> { return inner_->name(); });
  return name.ok() ? name.value() : label_;
}

Result<void> GuardedBackend::init(const BackendConfig& config) {
  return guarded(label_, "init", [&] { return inner_->init(config); });
}

Result<std::vector<std::string>> GuardedBackend::removeLeftovers() {
  return guarded(label_, "removeLeftovers", [&] { return inner_->removeLeftovers(); });
}

Result<void> GuardedBackend::checkSpec(const SandboxSpec& spec) {
  return guarded(label_, "checkSpec", [&] { return inner_->checkSpec(spec); });
}

Result<void> GuardedBackend::createSandbox(const SandboxSpec& spec) {
  return guarded(label_, "createSandbox", [&] { return inner_->createSandbox(spec); });
}

Result<std::unique_ptr<ProcessChannel>> GuardedBackend::startProcess(const std::string& sandbox_id,
                                                                     const ProcessSpec& spec) {
  return guarded(label_, "startProcess", [&]() -> Result<std::unique_ptr<ProcessChannel>> {
    GRID_ASSIGN_OR_RETURN(auto channel, inner_->startProcess(sandbox_id, spec));
    if (!channel) return std::unique_ptr<ProcessChannel>();
    return std::unique_ptr<ProcessChannel>(
        std::make_unique<GuardedChannel>(std::move(channel), label_));
  });
}

Result<std::unique_ptr<ProcessChannel>> GuardedBackend::takeInitialProcess(
    const std::string& sandbox_id) {
  return guarded(label_, "takeInitialProcess", [&]() -> Result<std::unique_ptr<ProcessChannel>> {
    GRID_ASSIGN_OR_RETURN(auto channel, inner_->takeInitialProcess(sandbox_id));
    if (!channel) return std::unique_ptr<ProcessChannel>();
    return std::unique_ptr<ProcessChannel>(
        std::make_unique<GuardedChannel>(std::move(channel), label_));
  });
}

Result<void> GuardedBackend::destroySandbox(const std::string& sandbox_id) {
  return guarded(label_, "destroySandbox", [&] { return inner_->destroySandbox(sandbox_id); });
}

Result<void> GuardedBackend::pauseSandbox(const std::string& sandbox_id) {
  return guarded(label_, "pauseSandbox", [&] { return inner_->pauseSandbox(sandbox_id); });
}

Result<void> GuardedBackend::resumeSandbox(const std::string& sandbox_id) {
  return guarded(label_, "resumeSandbox", [&] { return inner_->resumeSandbox(sandbox_id); });
}

Result<void> GuardedBackend::forkSandbox(const std::string& source_id,
                                         const std::vector<SandboxSpec>& children) {
  return guarded(label_, "forkSandbox", [&] { return inner_->forkSandbox(source_id, children); });
}

Result<void> GuardedBackend::snapshotSandbox(const std::string& sandbox_id,
                                             const std::string& image, bool overwrite) {
  return guarded(label_, "snapshotSandbox",
                 [&] { return inner_->snapshotSandbox(sandbox_id, image, overwrite); });
}

Result<FileInfo> GuardedBackend::statPath(const std::string& sandbox_id, const std::string& path,
                                          Clock::time_point deadline) {
  return guarded(label_, "statPath", [&] { return inner_->statPath(sandbox_id, path, deadline); });
}

Result<std::vector<FileInfo>> GuardedBackend::listDirectory(const std::string& sandbox_id,
                                                            const std::string& path,
                                                            size_t max_entries,
                                                            Clock::time_point deadline) {
  return guarded(label_, "listDirectory",
                 [&] { return inner_->listDirectory(sandbox_id, path, max_entries, deadline); });
}

Result<void> GuardedBackend::makeDirectory(const std::string& sandbox_id, const std::string& path,
                                           uint32_t mode, Clock::time_point deadline) {
  return guarded(label_, "makeDirectory",
                 [&] { return inner_->makeDirectory(sandbox_id, path, mode, deadline); });
}

Result<void> GuardedBackend::removePath(const std::string& sandbox_id, const std::string& path,
                                        Clock::time_point deadline) {
  return guarded(label_, "removePath",
                 [&] { return inner_->removePath(sandbox_id, path, deadline); });
}

Result<void> GuardedBackend::extractArchive(const std::string& sandbox_id,
                                            const std::string& directory, ByteSource& tar,
                                            Clock::time_point deadline) {
  return guarded(label_, "extractArchive",
                 [&] { return inner_->extractArchive(sandbox_id, directory, tar, deadline); });
}

Result<void> GuardedBackend::createArchive(const std::string& sandbox_id, const std::string& path,
                                           ByteSink& out, Clock::time_point deadline) {
  return guarded(label_, "createArchive",
                 [&] { return inner_->createArchive(sandbox_id, path, out, deadline); });
}

Result<SandboxStats> GuardedBackend::sandboxStats(const std::string& sandbox_id,
                                                  Clock::time_point deadline) {
  return guarded(label_, "sandboxStats",
                 [&] { return inner_->sandboxStats(sandbox_id, deadline); });
}

Result<int> GuardedBackend::openNetworkNamespace(const std::string& sandbox_id) {
  return guarded(label_, "openNetworkNamespace",
                 [&] { return inner_->openNetworkNamespace(sandbox_id); });
}

}  // namespace grid
