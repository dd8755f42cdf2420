#include "sandbox/process_table.h"

namespace grid {

Result<ProcessEntry> ProcessTable::start(SandboxBackend& backend, const std::string& sandbox_id,
                                         const BackgroundProcessSpec& spec,
                                         const ProcessTableLimits& limits,
                                         Clock::time_point deadline) {
  GRID_TRY(checkBackgroundProcessSpec(spec));
  std::vector<std::shared_ptr<BackgroundProcess>> evicted;  // stopped outside the lock
  uint64_t handle = 0;
  {
    std::lock_guard lock(mutex_);
    if (closed_) return fail(ErrorCode::kConflict, "sandbox is stopped");
    for (auto it = processes_.begin();
         it != processes_.end() && processes_.size() + starting_ >= limits.max_processes;) {
      if (it->second->state().status == ProcessStatus::kRunning) {
        ++it;
        continue;
      }
      evicted.push_back(std::move(it->second));
      it = processes_.erase(it);
    }
    if (processes_.size() + starting_ >= limits.max_processes) {
      return fail(ErrorCode::kResourceExhausted, "the sandbox already runs its maximum of " +
                                                     std::to_string(limits.max_processes) +
                                                     " background processes; kill one first");
    }
    ++starting_;
    handle = next_handle_++;
  }
  evicted.clear();
  auto started =
      BackgroundProcess::start(backend, sandbox_id, spec, limits.max_output_bytes, deadline);
  std::shared_ptr<BackgroundProcess> process;
  if (started.ok()) process = std::move(started.value());
  std::unique_lock lock(mutex_);
  --starting_;
  if (!started.ok()) return started.error();
  if (closed_) {
    lock.unlock();
    process->stop();  // the sandbox went away meanwhile, and its processes with it
    return fail(ErrorCode::kConflict, "sandbox was stopped while the process started");
  }
  processes_.emplace(handle, process);
  return ProcessEntry{handle, process};
}

std::vector<ProcessEntry> ProcessTable::list() const {
  std::lock_guard lock(mutex_);
  std::vector<ProcessEntry> entries;
  entries.reserve(processes_.size());
  for (const auto& [handle, process] : processes_) entries.push_back({handle, process});
  return entries;
}

Result<std::shared_ptr<BackgroundProcess>> ProcessTable::find(uint64_t handle) const {
  std::lock_guard lock(mutex_);
  const auto it = processes_.find(handle);
  if (it == processes_.end()) {
    return fail(ErrorCode::kNotFound, "no background process " + std::to_string(handle));
  }
  return it->second;
}

void ProcessTable::markSandboxEnding() {
  std::lock_guard lock(mutex_);
  closed_ = true;
  for (auto& [handle, process] : processes_) process->markKilled();
}

void ProcessTable::closeAll() {
  std::map<uint64_t, std::shared_ptr<BackgroundProcess>> processes;
  {
    std::lock_guard lock(mutex_);
    closed_ = true;
    processes.swap(processes_);
  }
  // All readers stop at once, then each is joined: one read slice in all, not one each.
  for (auto& [handle, process] : processes) process->requestStop();
  for (auto& [handle, process] : processes) process->stop();
}

std::chrono::steady_clock::time_point ProcessTable::lastOutputAt() const {
  std::chrono::steady_clock::time_point latest{};
  std::lock_guard lock(mutex_);
  for (const auto& [handle, process] : processes_) {
    latest = std::max(latest, process->output().lastAppendAt());
  }
  return latest;
}

}  // namespace grid
