// The container operations Docker and Podman backends perform the same way, parameterised by
// each engine's API paths and bodies: image presence, pull answers, create+start with cleanup,
// removal, and removal of an instance's leftovers.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "grid/engine/engine_client.h"
#include "grid/result.h"
#include "grid/sandbox_backend.h"

namespace grid::engine {

class ExecRegistry;

/// GET `path`: any 2xx means present, 404 absent, anything else is an error.
Result<bool> imagePresent(EngineClient& client, const std::string& path);

/// The outcome of a pull request for `image`: a transport failure other than kUnavailable, an
/// error status or an {"error": ...} line in the answer is imageNotFound().
Result<void> checkPullAnswer(const std::string& image, const Result<Response>& pulled);

/// Makes sure `image` is present: GET `present_path` (imagePresent), else POST `pull_path`
/// bounded by `pull_timeout`, checkPullAnswer(), and GET `present_path` again.
Result<void> ensureImage(EngineClient& client, const std::string& image,
                         const std::string& present_path, const std::string& pull_path,
                         std::chrono::milliseconds pull_timeout);

/// GET /info and checkRuntimeListed(): whether the engine can run containers on `runtime`.
Result<void> checkEngineRuntime(EngineClient& client, const std::string& product,
                                const std::string& runtime, const std::string& register_hint);

/// One container to create and start, as the engine's paths and create body.
struct ContainerCreation {
  std::string sandbox_id;   // for messages
  std::string create_path;  // POST, with `body`
  std::string body;
  std::string start_path;   // POST
  std::string remove_path;  // DELETE, forced: used to leave nothing behind on failure
  /// Called between the create and the start (attaching to the container's first process);
  /// a failure removes the container.
  std::function<Result<void>()> before_start;
};

/// Creates and starts the container. On failure nothing of it remains. A missing image is
/// kImageNotFound, a taken name kConflict ("sandbox 'x' already exists").
Result<void> createAndStartContainer(EngineClient& client, const ContainerCreation& creation);

/// DELETE `path` (forced). An absent container, or a removal already in progress elsewhere,
/// counts as removed.
Result<void> removeContainer(EngineClient& client, const std::string& path);

/// Removes the container of `sandbox_id` through removeContainer(client, remove_path(its
/// container name)). An id that could never have been created counts as removed.
Result<void> removeSandboxContainer(
    EngineClient& client, const std::string& instance, const std::string& sandbox_id,
    const std::function<std::string(const std::string& name)>& remove_path);

/// POST `path`: the engine's pause (`pause` true) or unpause of a container. Pausing a paused
/// container is kConflict; unpausing one that is not paused succeeds (the SDK's resume rule);
/// an absent container is kNotFound.
Result<void> pauseContainer(EngineClient& client, const std::string& path, bool pause);

/// GET `list_path` (a JSON array of containers with "Id" and "Labels"), then removes each
/// through DELETE `remove_path(id)`. Returns the sandbox ids removed; failures are collected
/// into one kInternal error after trying every container.
Result<std::vector<std::string>> removeLeftoverContainers(
    EngineClient& client, const std::string& list_path,
    const std::function<std::string(const std::string& id)>& remove_path);

/// Starts `spec` as an attached exec in the container of `sandbox_id` (startExec). An id that
/// could never have been created is kNotFound. A non-null `registry` records the channel, so
/// ExecRegistry::abortAll(sandbox_id) can end it once the sandbox is destroyed.
Result<std::unique_ptr<ProcessChannel>> startSandboxProcess(
    const std::shared_ptr<EngineClient>& client, const std::string& instance,
    const std::string& sandbox_id, const ProcessSpec& spec, ExecRegistry* registry = nullptr);

}  // namespace grid::engine
