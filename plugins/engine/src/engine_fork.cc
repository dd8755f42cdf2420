// Fork and snapshot of engine sandboxes (docs/fork-snapshot.md): a commit of the source's
// container, during which the engine pauses it (one consistent instant), then one container
// per child from that image. The fork's image is untagged and removed with its last child.
#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <sstream>
#include <thread>

#include "engine_backend.h"
#include "grid/engine/container_conventions.h"

namespace grid::engine {
namespace {

// A commit copies the container's whole writable layer; give it time for large ones.
constexpr std::chrono::milliseconds kCommitTimeout{600000};

Result<void> refuseGvisor(const std::string& engine, const std::string& what) {
  return fail(ErrorCode::kUnsupported,
              engine + ": " + what +
                  " of a gVisor sandbox is not supported: runsc keeps the sandbox's file "
                  "changes in its own file system, which an engine commit does not see");
}

}  // namespace

Result<std::string> EngineBackend::commitSandbox(const std::string& sandbox_id,
                                                 const std::string& repo, const std::string& tag) {
  const std::string path = dialect_.commit_path(containerName(instance_, sandbox_id), repo, tag);
  GRID_ASSIGN_OR_RETURN(const Response answer,
                        client_->request("POST", path, std::string("{}"), kCommitTimeout));
  if (answer.status == 404) {
    return fail(ErrorCode::kNotFound, dialect_.name + ": no sandbox " + sandbox_id);
  }
  if (!answer.ok()) return client_->errorFor("POST", path, answer);
  auto body = parseJsonObject(answer.body);
  std::string id = body ? body->optValue<std::string>("Id", body->optValue<std::string>("id", ""))
                        : std::string();
  if (id.empty()) {
    return fail(ErrorCode::kInternal, dialect_.name + ": POST " + path.substr(0, path.find('?')) +
                                          ": the answer names no image id");
  }
  return id;
}

Result<void> EngineBackend::forkSandbox(const std::string& source_id,
                                        const std::vector<SandboxSpec>& children) {
  if (onGvisor(source_id)) return refuseGvisor(dialect_.name, "fork");
  if (children.empty()) return {};
  GRID_ASSIGN_OR_RETURN(const std::string image, commitSandbox(source_id, "", ""));
  {
    std::lock_guard lock(mutex_);
    // Before the creates: a failed one releases it too, and no child's release removes the
    // image while a sibling is still being made.
    for (const auto& child : children) fork_images_[child.id] = image;
  }
  // The children are created and started at once: the engine runs their (mostly runc) starts
  // side by side, so N children cost far less than N cold starts in a row.
  std::vector<Result<void>> results(children.size());
  auto createChild = [&](size_t i) {
    SandboxSpec spec = children[i];
    spec.image = image;
    results[i] = createSandbox(spec);
  };
  std::vector<std::thread> threads;
  threads.reserve(children.size() > 0 ? children.size() - 1 : 0);
  for (size_t i = 1; i < children.size(); ++i) threads.emplace_back(createChild, i);
  createChild(0);
  for (auto& thread : threads) thread.join();
  const auto failed = std::find_if(results.begin(), results.end(),
                                   [](const Result<void>& result) { return !result.ok(); });
  if (failed == results.end()) return {};
  for (size_t i = 0; i < children.size(); ++i) {
    if (results[i].ok()) {
      (void)destroySandbox(children[i].id);
    } else {
      releaseForkImage(children[i].id);
    }
  }
  return failed->error();
}

void EngineBackend::releaseForkImage(const std::string& sandbox_id) {
  std::string image;
  {
    std::lock_guard lock(mutex_);
    auto it = fork_images_.find(sandbox_id);
    if (it == fork_images_.end()) return;
    image = it->second;
    fork_images_.erase(it);
    for (const auto& [child, used] : fork_images_) {
      if (used == image) return;  // a sibling still runs on it
    }
  }
  const std::string path = dialect_.image_remove_path(image);
  auto answer = client_->request("DELETE", path);
  // 409: a container we do not know of (a sibling being created) still uses it.
  if (!answer.ok() ||
      (!answer.value().ok() && answer.value().status != 404 && answer.value().status != 409)) {
    spdlog::warn("{}: removing fork image {}: {}", dialect_.name, image,
                 answer.ok() ? client_->errorFor("DELETE", path, answer.value()).message
                             : answer.error().message);
  }
}

void EngineBackend::removeLeftoverForkImages() {
  Poco::JSON::Object::Ptr filter = new Poco::JSON::Object;
  Poco::JSON::Array::Ptr dangling = new Poco::JSON::Array;
  dangling->add("true");
  filter->set("dangling", dangling);
  Poco::JSON::Array::Ptr labels = new Poco::JSON::Array;
  labels->add(std::string(kManagedByLabel) + "=" + kManagedByValue);
  labels->add(std::string(kInstanceLabel) + "=" + instance_);
  filter->set("label", labels);
  std::ostringstream text;
  filter->stringify(text);
  const std::string path = dialect_.dangling_images_path(text.str());
  auto listed = client_->request("GET", path);
  if (!listed.ok() || !listed.value().ok()) return;
  auto images = parseJsonArray(listed.value().body);
  if (!images) return;
  for (size_t i = 0; i < images->size(); ++i) {
    auto image = images->getObject(static_cast<unsigned>(i));
    if (!image) continue;
    const std::string id = image->optValue<std::string>("Id", "");
    if (id.empty()) continue;
    auto removed = client_->request("DELETE", dialect_.image_remove_path(id));
    if (removed.ok() && removed.value().ok()) {
      spdlog::info("{}: removed leftover fork image {}", dialect_.name, id);
    }
  }
}

Result<void> EngineBackend::snapshotSandbox(const std::string& sandbox_id, const std::string& image,
                                            bool overwrite) {
  if (onGvisor(sandbox_id)) return refuseGvisor(dialect_.name, "a snapshot");
  const size_t colon = image.rfind(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == image.size() ||
      image.find('/', colon) != std::string::npos) {
    return fail(ErrorCode::kInvalidArgument,
                dialect_.name + ": image '" + image + "' must be name:tag");
  }
  // The image it replaces, removed afterwards unless a container still uses it.
  std::string replaced;
  const std::string inspect = dialect_.image_inspect_path(image);
  GRID_ASSIGN_OR_RETURN(const Response existing, client_->request("GET", inspect));
  if (existing.ok()) {
    if (!overwrite) {
      return fail(ErrorCode::kConflict,
                  dialect_.name + ": image '" + image + "' exists; pass overwrite to replace it");
    }
    auto body = parseJsonObject(existing.body);
    if (body) replaced = body->optValue<std::string>("Id", "");
  }
  GRID_ASSIGN_OR_RETURN(const std::string id,
                        commitSandbox(sandbox_id, image.substr(0, colon), image.substr(colon + 1)));
  if (!replaced.empty() && replaced != id) {
    (void)client_->request("DELETE", dialect_.image_remove_path(replaced));  // 409 while in use
  }
  spdlog::info("{}: saved sandbox {} as image {} ({})", dialect_.name, sandbox_id, image, id);
  return {};
}

}  // namespace grid::engine
