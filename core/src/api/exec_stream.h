// POST /sandboxes/{id}/exec as live output (docs/live-output.md): output events as they are
// read, then one result event, as newline-delimited JSON.
#pragma once

#include <Poco/Net/HTTPServerRequest.h>

#include <string>

#include "api/api_requests.h"
#include "api/reply.h"

namespace grid {

class SandboxManager;

/// Whether `exec` asks for live output: its "stream" field, else the Accept header.
bool wantsLiveOutput(const ExecRequest& exec, const Poco::Net::HTTPServerRequest& request);

/// The streamed answer of one exec. Errors before the command starts are the usual JSON
/// errors; a client that goes away mid-stream interrupts the command.
Reply streamExec(SandboxManager& manager, Poco::Net::HTTPServerRequest& request, std::string id,
                 ExecRequest exec);

}  // namespace grid
