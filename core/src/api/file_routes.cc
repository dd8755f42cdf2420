#include "api/file_routes.h"

#include <Poco/Base64Encoder.h>
#include <Poco/JSON/Parser.h>
#include <Poco/Net/HTTPServerRequestImpl.h>
#include <Poco/Net/HTTPServerResponse.h>
#include <Poco/URI.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <sstream>

#include "api/api_json.h"
#include "api/api_server.h"
#include "api/expiry_reply.h"
#include "api/request_body.h"
#include "files/sandbox_path.h"
#include "files/tar_stream.h"
#include "net/error_body.h"
#include "util/printable.h"
#include "util/utf8.h"

namespace grid {
namespace {

using Poco::Net::HTTPResponse;
using Poco::Net::HTTPServerRequest;
using Poco::Net::HTTPServerResponse;

constexpr size_t kChunkBytes = 64 << 10;
constexpr size_t kMaxMkdirBodyBytes = 64 << 10;
constexpr int kMaxSymlinkHops = 40;  // as Linux's MAXSYMLINKS
constexpr uint32_t kDefaultFileMode = 0644;
constexpr uint32_t kDefaultDirectoryMode = 0755;
constexpr char kTarType[] = "application/x-tar";

std::string shown(const std::string& path) { return sanitizeUtf8(printablePrefix(path, 200)); }

bool isTar(const std::string& content_type) {
  return content_type.rfind(kTarType, 0) == 0;  // parameters may follow
}

Result<uint32_t> parseMode(const std::string& text) {
  if (text.empty() || text.size() > 5 ||
      !std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '7'; })) {
    return fail(ErrorCode::kInvalidArgument,
                "mode must be octal digits, at most 07777: " + printablePrefix(text, 20));
  }
  const uint32_t mode = static_cast<uint32_t>(std::stoul(text, nullptr, 8));
  if (mode > 07777) return fail(ErrorCode::kInvalidArgument, "mode above 07777: " + text);
  return mode;
}

std::string octalMode(uint32_t mode) {
  char text[8];
  std::snprintf(text, sizeof text, "%04o", mode & 07777);
  return text;
}

const char* typeName(FileType type) {
  switch (type) {
    case FileType::kFile:
      return "file";
    case FileType::kDirectory:
      return "directory";
    case FileType::kSymlink:
      return "symlink";
    case FileType::kOther:
      return "other";
  }
  return "other";
}

// The query of a files request: only known keys, each at most once.
struct FileQuery {
  std::optional<std::string> path;
  std::optional<std::string> mode;
  bool list = false;
  bool archive = false;
};

Result<FileQuery> parseQuery(const Poco::URI& uri) {
  FileQuery query;
  Poco::URI::QueryParameters params;
  try {
    params = uri.getQueryParameters();
  } catch (const Poco::Exception& e) {
    return fail(ErrorCode::kInvalidArgument, "malformed query: " + e.displayText());
  }
  for (const auto& [key, value] : params) {
    std::optional<std::string>* slot = nullptr;
    if (key == "path") {
      slot = &query.path;
    } else if (key == "mode") {
      slot = &query.mode;
    } else if (key == "list" || key == "archive") {
      (key == "list" ? query.list : query.archive) = true;
      continue;
    } else {
      return fail(ErrorCode::kInvalidArgument, "unknown query parameter '" + shown(key) +
                                                   "' (known: path, mode, list, archive)");
    }
    if (*slot) return fail(ErrorCode::kInvalidArgument, "query parameter '" + key + "' repeated");
    *slot = value;
  }
  return query;
}

Result<std::string> requiredPath(const FileQuery& query) {
  if (!query.path) {
    return fail(ErrorCode::kInvalidArgument, "missing query parameter path (?path=/abs/path)");
  }
  auto normalized = normalizeSandboxPath(*query.path);
  if (!normalized.ok()) {
    return fail(ErrorCode::kInvalidArgument, sanitizeUtf8(normalized.error().message));
  }
  return normalized;
}

// An upload's body read from the request as it arrives: framed as a one-file tar when `frame`
// is set, passed on as it is (a client's tar) otherwise.
class UploadSource : public ByteSource {
 public:
  UploadSource(std::istream& in, uint64_t length, std::optional<TarEntryInfo> frame)
      : in_(in), remaining_(length), frame_(std::move(frame)) {}

  Result<size_t> read(char* buffer, size_t capacity) override {
    if (frame_ && !started_) {
      started_ = true;
      GRID_ASSIGN_OR_RETURN(pending_, tar_.beginFile(*frame_));
      if (remaining_ == 0) GRID_TRY(closeFrame());
    }
    if (!pending_.empty()) {
      const size_t n = std::min(capacity, pending_.size() - pending_offset_);
      std::copy_n(pending_.data() + pending_offset_, n, buffer);
      pending_offset_ += n;
      if (pending_offset_ == pending_.size()) {
        pending_.clear();
        pending_offset_ = 0;
      }
      return n;
    }
    if (remaining_ == 0) return size_t{0};
    const size_t wanted = static_cast<size_t>(std::min<uint64_t>(capacity, remaining_));
    try {
      in_.read(buffer, static_cast<std::streamsize>(wanted));
    } catch (const Poco::Exception& e) {
      return fail(ErrorCode::kInvalidArgument, "reading the request body: " + e.displayText());
    }
    const size_t got = static_cast<size_t>(in_.gcount());
    if (got == 0) {
      return fail(ErrorCode::kInvalidArgument, "the request body ended " +
                                                   std::to_string(remaining_) +
                                                   " bytes before its Content-Length");
    }
    remaining_ -= got;
    received_ += got;
    if (frame_) {
      GRID_TRY(tar_.fileData(std::string_view(buffer, got)));
      if (remaining_ == 0) GRID_TRY(closeFrame());
    }
    return got;
  }

  uint64_t received() const { return received_; }
  bool complete() const { return remaining_ == 0; }

 private:
  Result<void> closeFrame() {
    GRID_ASSIGN_OR_RETURN(std::string end, tar_.endFile());
    GRID_ASSIGN_OR_RETURN(std::string finish, tar_.finish());
    pending_ += end + finish;
    return {};
  }

  std::istream& in_;
  uint64_t remaining_;
  uint64_t received_ = 0;
  std::optional<TarEntryInfo> frame_;
  TarWriter tar_;
  bool started_ = false;
  std::string pending_;
  size_t pending_offset_ = 0;
};

// Ends a response whose head is sent and whose body cannot be completed: the client must see a
// cut body, never a complete-looking one, so the connection closes at once.
void abortStream(HTTPServerRequest& request, HTTPServerResponse& response) {
  response.setKeepAlive(false);
  if (auto* impl = dynamic_cast<Poco::Net::HTTPServerRequestImpl*>(&request)) {
    try {
      impl->socket().shutdown();
    } catch (const Poco::Exception&) {
    }
  }
}

// Enters a transfer in its sandbox's set: a stop cuts it short by closing the client's
// connection, which ends the transfer's reads from and writes to the client at once.
Result<TransferSet::Registration> enterTransfer(Sandbox& sandbox, HTTPServerRequest& request) {
  auto* impl = dynamic_cast<Poco::Net::HTTPServerRequestImpl*>(&request);
  if (impl == nullptr) return fail(ErrorCode::kInternal, "a transfer without a connection");
  return sandbox.transfers().add([socket = impl->socket()]() mutable {
    try {
      socket.shutdown();
    } catch (const Poco::Exception&) {
    }
  });
}

void sendError(HTTPServerResponse& response, const Error& error) {
  const Reply reply = errorReply(error);
  response.setStatusAndReason(reply.status);
  response.setContentType(reply.content_type);
  response.setContentLength(static_cast<std::streamsize>(reply.body.size()));
  response.send().write(reply.body.data(), static_cast<std::streamsize>(reply.body.size()));
}

// Writes an archive of one file as the file's bytes: the head goes out when the tar entry
// arrives (its size is the Content-Length), the data as it comes.
class FileBodyWriter : public TarHandler {
 public:
  FileBodyWriter(HTTPServerResponse& response, std::string path)
      : response_(response), path_(std::move(path)) {}

  Result<void> onEntry(const TarEntry& entry) override {
    if (body_ != nullptr) {
      return fail(ErrorCode::kInternal, "archive of " + shown(path_) + ": a second entry");
    }
    if (entry.type != TarEntryType::kFile) {
      return fail(ErrorCode::kConflict,
                  shown(path_) + " is a " + tarEntryTypeName(entry.type) + ", not a regular file");
    }
    size_ = entry.size;
    response_.setStatusAndReason(HTTPResponse::HTTP_OK);
    response_.setContentType("application/octet-stream");
    response_.setContentLength64(static_cast<Poco::Int64>(entry.size));
    body_ = &response_.send();
    return {};
  }
  Result<void> onData(std::string_view chunk) override {
    body_->write(chunk.data(), static_cast<std::streamsize>(chunk.size()));
    if (!*body_) return fail(ErrorCode::kUnavailable, "the client went away");
    sent_ += chunk.size();
    return {};
  }
  Result<void> onEntryEnd() override {
    done_ = true;
    return {};
  }

  bool headSent() const { return body_ != nullptr; }
  bool done() const { return done_; }
  uint64_t sent() const { return sent_; }

 private:
  HTTPServerResponse& response_;
  std::string path_;
  std::ostream* body_ = nullptr;
  uint64_t size_ = 0;
  uint64_t sent_ = 0;
  bool done_ = false;
};

class TarSink : public ByteSink {
 public:
  explicit TarSink(TarReader& reader) : reader_(reader) {}
  Result<void> write(std::string_view data) override { return reader_.feed(data); }

 private:
  TarReader& reader_;
};

class StreamSink : public ByteSink {
 public:
  explicit StreamSink(std::ostream& out) : out_(out) {}
  Result<void> write(std::string_view data) override {
    out_.write(data.data(), static_cast<std::streamsize>(data.size()));
    if (!out_) return fail(ErrorCode::kUnavailable, "the client went away");
    sent_ += data.size();
    return {};
  }
  uint64_t sent() const { return sent_; }

 private:
  std::ostream& out_;
  uint64_t sent_ = 0;
};

}  // namespace

bool FileRoutes::isUpload(const HTTPServerRequest& request) {
  if (request.getMethod() != "PUT") return false;
  const std::string& uri = request.getURI();
  const std::string path = uri.substr(0, uri.find('?'));
  // /sandboxes/{id}/files exactly (a trailing slash allowed).
  const size_t files = path.find("/files");
  return path.rfind("/sandboxes/", 0) == 0 && files != std::string::npos &&
         path.find('/', std::string("/sandboxes/").size()) == files &&
         (files + 6 == path.size() || (files + 7 == path.size() && path.back() == '/'));
}

Reply FileRoutes::route(HTTPServerRequest& request, const std::string& sandbox_id,
                        const std::vector<std::string>& rest) {
  const std::string& method = request.getMethod();
  const Poco::URI uri(request.getURI());
  const bool has_body = request.hasContentLength() ? request.getContentLength64() > 0
                                                   : request.getChunkedTransferEncoding();
  // A refused request's body stays unread: the connection cannot carry another request.
  const auto refuse = [&](Reply reply) {
    if (has_body) request.response().setKeepAlive(false);
    return reply;
  };
  const auto notAllowed = [&](const std::string& allowed) {
    Reply r = errorReply(
        HTTPResponse::HTTP_METHOD_NOT_ALLOWED, kCodeMethodNotAllowed,
        "method " + method + " is not allowed on " + uri.getPath() + " (allowed: " + allowed + ")");
    r.allow = allowed;
    return refuse(r);
  };
  if (rest.size() == 1 && rest[0] == "mkdir") {
    if (method != "POST") return notAllowed("POST");
    return mkdir(request, sandbox_id);
  }
  if (!rest.empty()) {
    return refuse(errorReply(
        fail(ErrorCode::kNotFound, "no route for " + method + " " + shown(uri.getPath()))));
  }
  if (method != "GET" && method != "HEAD" && method != "PUT" && method != "DELETE") {
    return notAllowed("GET, PUT, DELETE");
  }
  auto query = parseQuery(uri);
  if (!query.ok()) return refuse(errorReply(query.error()));
  auto path = requiredPath(query.value());
  if (!path.ok()) return refuse(errorReply(path.error()));
  if (query.value().mode && method != "PUT") {
    return refuse(errorReply(fail(ErrorCode::kInvalidArgument, "mode is for PUT only")));
  }
  if ((query.value().list || query.value().archive) && method != "GET") {
    return refuse(errorReply(fail(ErrorCode::kInvalidArgument, "list and archive are for GET")));
  }
  if (method == "PUT") {
    uint32_t mode = kDefaultFileMode;
    if (query.value().mode) {
      auto parsed = parseMode(*query.value().mode);
      if (!parsed.ok()) return refuse(errorReply(parsed.error()));
      mode = parsed.value();
    }
    return upload(request, sandbox_id, path.value(), mode);
  }
  if (has_body) request.response().setKeepAlive(false);  // GET and DELETE read no body
  if (method == "DELETE") return remove(sandbox_id, path.value());
  if (query.value().list) return list(sandbox_id, path.value());
  const std::string accept = request.get("Accept", "");
  return download(request, sandbox_id, path.value(),
                  query.value().archive || accept.find(kTarType) != std::string::npos);
}

Reply FileRoutes::upload(HTTPServerRequest& request, const std::string& sandbox_id,
                         const std::string& path, uint32_t mode) {
  if (!request.hasContentLength()) {
    request.response().setKeepAlive(false);
    return errorReply(HTTPResponse::HTTP_LENGTH_REQUIRED, "length_required",
                      "a files upload needs a Content-Length (send the body with its length, "
                      "not chunked)");
  }
  const auto length = static_cast<uint64_t>(request.getContentLength64());
  if (length > options_.max_file_bytes) {
    request.response().setKeepAlive(false);
    return errorReply(HTTPResponse::HTTP_REQUESTENTITYTOOLARGE, kCodeRequestBodyTooLarge,
                      "upload of " + std::to_string(length) +
                          " bytes exceeds files.max_file_bytes (" +
                          std::to_string(options_.max_file_bytes) + ")");
  }
  auto sandbox = manager_.findRunning(sandbox_id);
  const auto failed = [&](const Error& error) {
    request.response().setKeepAlive(false);  // the body may be partly unread
    return errorReply(error);
  };
  if (!sandbox.ok()) {
    request.response().setKeepAlive(false);
    return sandboxErrorReply(manager_, sandbox_id, sandbox.error());
  }
  SandboxBackend& backend = manager_.backend();
  const auto deadline = Clock::now() + options_.file_timeout;
  const bool tree = isTar(request.getContentType());
  std::string directory = path;
  std::optional<TarEntryInfo> frame;
  if (!tree) {
    if (path == "/") return failed(fail(ErrorCode::kConflict, "/ is a directory"));
    auto existing = backend.statPath(sandbox_id, path, deadline);
    if (existing.ok() && existing.value().type == FileType::kDirectory) {
      return failed(fail(ErrorCode::kConflict,
                         shown(path) + " is a directory (upload a tar with Content-Type " +
                             kTarType + " to fill it)"));
    }
    if (!existing.ok() && existing.error().code != ErrorCode::kNotFound) {
      return failed(existing.error());
    }
    directory = sandboxPathParent(path);
    const auto now = std::chrono::system_clock::now().time_since_epoch();
    frame = TarEntryInfo{.name = sandboxPathBasename(path),
                         .mode = mode,
                         .size = length,
                         .mtime = std::chrono::duration_cast<std::chrono::seconds>(now).count()};
  }
  if (auto made = backend.makeDirectory(sandbox_id, directory, kDefaultDirectoryMode, deadline);
      !made.ok()) {
    return failed(made.error());
  }
  auto transfer = enterTransfer(*sandbox.value(), request);
  if (!transfer.ok()) return failed(transfer.error());
  UploadSource source(request.stream(), length, frame);
  auto extracted = backend.extractArchive(sandbox_id, directory, source, deadline);
  if (!extracted.ok()) {
    spdlog::info("{}: upload {}: {}", sandbox_id, shown(path), extracted.error().message);
    return failed(extracted.error());
  }
  if (!source.complete()) {
    // The tool ended before the body did (a client's tar with trailing bytes): drop the rest.
    request.response().setKeepAlive(false);
  }
  sandbox.value()->recordOperation(TrajectoryKind::kFileUpload,
                                   (tree ? "upload tree " : "upload ") + shown(path) + " (" +
                                       std::to_string(length) + " bytes)");
  Poco::JSON::Object::Ptr o = new Poco::JSON::Object(Poco::JSON_PRESERVE_KEY_ORDER);
  o->set("path", sanitizeUtf8(path));
  o->set("bytes", static_cast<Poco::UInt64>(length));
  if (!tree) o->set("mode", octalMode(mode));
  return json(HTTPResponse::HTTP_CREATED, o);
}

Reply FileRoutes::download(HTTPServerRequest& request, const std::string& sandbox_id,
                           const std::string& requested, bool as_archive) {
  auto sandbox = manager_.findRunning(sandbox_id);
  if (!sandbox.ok()) return sandboxErrorReply(manager_, sandbox_id, sandbox.error());
  SandboxBackend& backend = manager_.backend();
  const auto deadline = Clock::now() + options_.file_timeout;
  // Follow a symlink at the path as the sandbox would: each target resolved against the link's
  // directory, lexically clamped at the sandbox's "/", and looked up inside the sandbox again.
  std::string path = requested;
  FileInfo info;
  for (int hops = 0;; ++hops) {
    auto stat = backend.statPath(sandbox_id, path, deadline);
    if (!stat.ok()) return errorReply(stat.error());
    info = std::move(stat.value());
    if (info.type != FileType::kSymlink) break;
    if (hops == kMaxSymlinkHops) {
      return errorReply(
          fail(ErrorCode::kConflict, shown(requested) + ": too many levels of symbolic links"));
    }
    const std::string target = info.link_target.front() == '/'
                                   ? info.link_target
                                   : sandboxPathParent(path) + "/" + info.link_target;
    auto next = normalizeSandboxPath(target);
    if (!next.ok())
      return errorReply(fail(ErrorCode::kConflict, shown(requested) + ": unusable symlink target"));
    path = next.value();
  }
  if (info.type == FileType::kDirectory && !as_archive) {
    return errorReply(
        fail(ErrorCode::kConflict, shown(requested) + " is a directory (ask for a tar: `Accept: " +
                                       kTarType + "` or &archive; or list it with &list)"));
  }
  if (info.type == FileType::kOther) {
    return errorReply(
        fail(ErrorCode::kConflict, shown(requested) + " is not a regular file or directory"));
  }
  std::shared_ptr<Sandbox> record = sandbox.value();
  const bool head_only = request.getMethod() == "HEAD";
  Reply reply;
  reply.stream = [this, &request, &backend, record, sandbox_id, requested, path, as_archive,
                  deadline, head_only, size = info.size](HTTPServerResponse& response) {
    if (head_only && !as_archive) {
      response.setStatusAndReason(HTTPResponse::HTTP_OK);
      response.setContentType("application/octet-stream");
      response.setContentLength64(static_cast<Poco::Int64>(size));
      response.send();
      return;
    }
    auto transfer = enterTransfer(*record, request);
    if (!transfer.ok()) {
      sendError(response, transfer.error());
      return;
    }
    uint64_t sent = 0;
    if (as_archive) {
      response.setStatusAndReason(HTTPResponse::HTTP_OK);
      response.setContentType(kTarType);
      response.setChunkedTransferEncoding(true);
      StreamSink sink(response.send());
      auto archived = backend.createArchive(sandbox_id, path, sink, deadline);
      sent = sink.sent();
      if (!archived.ok()) {
        spdlog::warn("{}: download {}: {}", sandbox_id, shown(requested), archived.error().message);
        abortStream(request, response);
        return;
      }
    } else {
      FileBodyWriter writer(response, path);
      TarReader reader(writer);
      TarSink sink(reader);
      Result<void> archived = backend.createArchive(sandbox_id, path, sink, deadline);
      if (archived.ok()) archived = reader.finish();
      if (archived.ok() && !writer.done()) {
        archived = fail(ErrorCode::kInternal, "the archive of " + shown(path) + " held no file");
      }
      sent = writer.sent();
      if (!archived.ok()) {
        spdlog::warn("{}: download {}: {}", sandbox_id, shown(requested), archived.error().message);
        if (writer.headSent()) {
          abortStream(request, response);
        } else {
          sendError(response, archived.error());
        }
        return;
      }
    }
    record->recordOperation(TrajectoryKind::kFileDownload,
                            std::string(as_archive ? "download tree " : "download ") +
                                shown(requested) + " (" + std::to_string(sent) + " bytes)");
  };
  return reply;
}

Reply FileRoutes::list(const std::string& sandbox_id, const std::string& path) {
  auto sandbox = manager_.findRunning(sandbox_id);
  if (!sandbox.ok()) return sandboxErrorReply(manager_, sandbox_id, sandbox.error());
  const auto deadline = Clock::now() + options_.file_timeout;
  const size_t max = options_.max_list_entries;
  auto entries = manager_.backend().listDirectory(sandbox_id, path, max + 1, deadline);
  if (!entries.ok()) return errorReply(entries.error());
  auto& found = entries.value();
  const bool truncated = found.size() > max;
  if (truncated) found.resize(max);
  std::sort(found.begin(), found.end(),
            [](const FileInfo& a, const FileInfo& b) { return a.name < b.name; });
  Poco::JSON::Array::Ptr array = new Poco::JSON::Array;
  for (const FileInfo& entry : found) {
    Poco::JSON::Object::Ptr e = new Poco::JSON::Object(Poco::JSON_PRESERVE_KEY_ORDER);
    const std::string name = sanitizeUtf8(entry.name);
    e->set("name", name);
    if (name != entry.name) {  // not valid UTF-8: the exact bytes too
      std::ostringstream encoded;
      Poco::Base64Encoder encoder(encoded);
      encoder.rdbuf()->setLineLength(0);
      encoder << entry.name;
      encoder.close();
      e->set("name_base64", encoded.str());
    }
    e->set("type", typeName(entry.type));
    e->set("size", static_cast<Poco::UInt64>(entry.size));
    e->set("mode", octalMode(entry.mode));
    e->set("mtime", static_cast<Poco::Int64>(entry.mtime));
    if (entry.type == FileType::kSymlink) e->set("link_target", sanitizeUtf8(entry.link_target));
    array->add(e);
  }
  Poco::JSON::Object::Ptr o = new Poco::JSON::Object(Poco::JSON_PRESERVE_KEY_ORDER);
  o->set("path", sanitizeUtf8(path));
  o->set("entries", array);
  o->set("truncated", truncated);
  return json(HTTPResponse::HTTP_OK, o);
}

Reply FileRoutes::remove(const std::string& sandbox_id, const std::string& path) {
  if (path == "/") return errorReply(fail(ErrorCode::kInvalidArgument, "refusing to remove /"));
  auto sandbox = manager_.findRunning(sandbox_id);
  if (!sandbox.ok()) return sandboxErrorReply(manager_, sandbox_id, sandbox.error());
  const auto deadline = Clock::now() + options_.file_timeout;
  if (auto removed = manager_.backend().removePath(sandbox_id, path, deadline); !removed.ok()) {
    return errorReply(removed.error());
  }
  sandbox.value()->recordOperation(TrajectoryKind::kFileRemove, "remove " + shown(path));
  Poco::JSON::Object::Ptr o = new Poco::JSON::Object(Poco::JSON_PRESERVE_KEY_ORDER);
  o->set("path", sanitizeUtf8(path));
  o->set("removed", true);
  return json(HTTPResponse::HTTP_OK, o);
}

Reply FileRoutes::mkdir(HTTPServerRequest& request, const std::string& sandbox_id) {
  auto read = readBoundedBody(request, kMaxMkdirBodyBytes);
  if (!read) {
    request.response().setKeepAlive(false);
    return errorReply(HTTPResponse::HTTP_REQUESTENTITYTOOLARGE, kCodeRequestBodyTooLarge,
                      "mkdir body exceeds " + std::to_string(kMaxMkdirBodyBytes) + " bytes");
  }
  const std::string& body = *read;
  std::string raw_path;
  uint32_t mode = kDefaultDirectoryMode;
  try {
    Poco::JSON::Parser parser;
    const auto parsed = parser.parse(body);
    const auto object = parsed.extract<Poco::JSON::Object::Ptr>();
    for (const auto& [key, value] : *object) {
      if (key != "path" && key != "mode") {
        return errorReply(fail(ErrorCode::kInvalidArgument,
                               "unknown field '" + shown(key) + "' (known: path, mode)"));
      }
    }
    if (!object->has("path") || !object->get("path").isString()) {
      return errorReply(fail(ErrorCode::kInvalidArgument, "path (a string) is required"));
    }
    raw_path = object->getValue<std::string>("path");
    if (object->has("mode")) {
      if (!object->get("mode").isString()) {
        return errorReply(
            fail(ErrorCode::kInvalidArgument, "mode must be an octal string such as \"0755\""));
      }
      auto parsed_mode = parseMode(object->getValue<std::string>("mode"));
      if (!parsed_mode.ok()) return errorReply(parsed_mode.error());
      mode = parsed_mode.value();
    }
  } catch (const Poco::Exception& e) {
    return errorReply(fail(ErrorCode::kInvalidArgument,
                           "body must be a JSON object {\"path\", \"mode\"?}: " + e.displayText()));
  }
  auto path = normalizeSandboxPath(raw_path);
  if (!path.ok())
    return errorReply(fail(ErrorCode::kInvalidArgument, sanitizeUtf8(path.error().message)));
  auto sandbox = manager_.findRunning(sandbox_id);
  if (!sandbox.ok()) return sandboxErrorReply(manager_, sandbox_id, sandbox.error());
  const auto deadline = Clock::now() + options_.file_timeout;
  if (auto made = manager_.backend().makeDirectory(sandbox_id, path.value(), mode, deadline);
      !made.ok()) {
    return errorReply(made.error());
  }
  sandbox.value()->recordOperation(TrajectoryKind::kDirectoryCreate,
                                   "mkdir " + shown(path.value()) + " (" + octalMode(mode) + ")");
  Poco::JSON::Object::Ptr o = new Poco::JSON::Object(Poco::JSON_PRESERVE_KEY_ORDER);
  o->set("path", sanitizeUtf8(path.value()));
  o->set("mode", octalMode(mode));
  return json(HTTPResponse::HTTP_CREATED, o);
}

}  // namespace grid
