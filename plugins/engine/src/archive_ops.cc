#include "grid/engine/archive_ops.h"

#include <Poco/Base64Decoder.h>
#include <Poco/DateTimeFormat.h>
#include <Poco/DateTimeParser.h>
#include <Poco/Exception.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <sstream>

namespace grid::engine {

namespace {

constexpr std::size_t kTarBlock = 512;
// A symlink's archive needs its header and at most one pax header before it; Go keeps pax
// headers small, so more than this is not an archive of one symlink.
constexpr std::size_t kMaxLinkArchiveHead = 64 * 1024;

std::string lastComponent(const std::string& path) {
  if (path == "/" || path.empty()) return "/";
  const std::size_t slash = path.rfind('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

std::string lowerCase(std::string text) {
  std::transform(text.begin(), text.end(), text.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return text;
}

std::string query(const std::string& path) { return "?path=" + urlEncode(path); }

// A NUL-terminated (or full-width) field of a tar header.
std::string headerField(std::string_view block, std::size_t offset, std::size_t width) {
  std::string_view field = block.substr(offset, width);
  return std::string(field.substr(0, field.find('\0')));
}

// An octal number field of a tar header.
std::optional<uint64_t> octalField(std::string_view block, std::size_t offset, std::size_t width) {
  std::string_view field = block.substr(offset, width);
  std::size_t begin = field.find_first_not_of(' ');
  if (begin == std::string_view::npos) return 0;
  field = field.substr(begin);
  field = field.substr(0, field.find_first_of(std::string_view(" \0", 2)));
  uint64_t value = 0;
  auto [end, ec] = std::from_chars(field.data(), field.data() + field.size(), value, 8);
  if (ec != std::errc() || end != field.data() + field.size()) return std::nullopt;
  return value;
}

// The "linkpath" record of pax extended header data ("LEN key=value\n" records).
std::optional<std::string> paxLinkPath(std::string_view data) {
  std::optional<std::string> found;
  while (!data.empty()) {
    std::size_t space = data.find(' ');
    uint64_t length = 0;
    if (space == std::string_view::npos ||
        std::from_chars(data.data(), data.data() + space, length).ec != std::errc() ||
        length <= space + 1 || length > data.size()) {
      return found;
    }
    std::string_view record = data.substr(space + 1, length - space - 2);  // without '\n'
    if (record.substr(0, 9) == "linkpath=") found = std::string(record.substr(9));
    data.remove_prefix(length);
  }
  return found;
}

}  // namespace

FileType fileTypeFromGoMode(uint64_t mode) {
  if (mode & kGoModeDir) return FileType::kDirectory;
  if (mode & kGoModeSymlink) return FileType::kSymlink;
  if ((mode & kGoModeTypeBits) == 0) return FileType::kFile;
  return FileType::kOther;
}

uint32_t permissionBitsFromGoMode(uint64_t mode) {
  uint32_t bits = static_cast<uint32_t>(mode & 0777);
  if (mode & kGoModeSetuid) bits |= 04000;
  if (mode & kGoModeSetgid) bits |= 02000;
  if (mode & kGoModeSticky) bits |= 01000;
  return bits;
}

Result<FileInfo> parsePathStat(std::string_view header, const std::string& path) {
  auto malformed = [&](const std::string& why) {
    return fail(ErrorCode::kInternal,
                "stat of " + path + ": malformed path stat header (" + why + ")");
  };
  std::string json;
  try {
    std::istringstream encoded{std::string(header)};
    Poco::Base64Decoder decoder(encoded);
    json.assign(std::istreambuf_iterator<char>(decoder), std::istreambuf_iterator<char>());
  } catch (const Poco::Exception& e) {
    return malformed("base64: " + e.displayText());
  }
  auto object = parseJsonObject(json);
  if (!object) return malformed("not a JSON object");
  FileInfo info;
  info.name = lastComponent(path);
  try {
    const uint64_t mode = object->getValue<uint64_t>("mode");
    info.type = fileTypeFromGoMode(mode);
    info.mode = permissionBitsFromGoMode(mode);
    const int64_t size = object->optValue<int64_t>("size", 0);
    info.size = size > 0 ? static_cast<uint64_t>(size) : 0;
    const std::string mtime = object->optValue<std::string>("mtime", "");
    if (!mtime.empty()) {
      int zone = 0;
      Poco::DateTime parsed;
      // Poco's parser is lenient: the shape is checked first ("2026-11-29T23:30:41...").
      auto digit = [&](std::size_t i) {
        return std::isdigit(static_cast<unsigned char>(mtime[i]));
      };
      const bool shaped = mtime.size() >= 20 && digit(0) && digit(3) && mtime[4] == '-' &&
                          mtime[7] == '-' && mtime[10] == 'T' && mtime[13] == ':';
      if (!shaped || !Poco::DateTimeParser::tryParse(Poco::DateTimeFormat::ISO8601_FRAC_FORMAT,
                                                     mtime, parsed, zone)) {
        return malformed("mtime '" + mtime + "'");
      }
      parsed.makeUTC(zone);
      info.mtime = parsed.timestamp().epochTime();
    }
  } catch (const Poco::Exception& e) {
    return malformed(e.displayText());
  }
  return info;
}

Result<std::optional<std::string>> firstEntryLinkTarget(std::string_view head) {
  std::optional<std::string> pax_link;
  std::size_t offset = 0;
  for (;;) {
    if (head.size() < offset + kTarBlock) return std::optional<std::string>();
    std::string_view block = head.substr(offset, kTarBlock);
    if (block.substr(257, 5) != "ustar") {
      return fail(ErrorCode::kInternal, "archive of a symlink: not a tar header");
    }
    const char type = block[156];
    if (type == 'x') {
      auto size = octalField(block, 124, 12);
      if (!size || *size > kMaxLinkArchiveHead) {
        return fail(ErrorCode::kInternal, "archive of a symlink: bad pax header size");
      }
      if (head.size() < offset + kTarBlock + *size) return std::optional<std::string>();
      pax_link = paxLinkPath(head.substr(offset + kTarBlock, *size));
      offset += kTarBlock + (*size + kTarBlock - 1) / kTarBlock * kTarBlock;
      continue;
    }
    if (type != '2') {
      return fail(ErrorCode::kInternal, "archive of a symlink: first entry is not a symlink");
    }
    return std::optional<std::string>(pax_link ? *pax_link : headerField(block, 157, 100));
  }
}

Error archiveError(const std::string& product, const std::string& method, const std::string& path,
                   const StreamedResponse& response) {
  const std::string message = engineMessage(response.body);
  const std::string lower = lowerCase(message);
  ErrorCode code = ErrorCode::kInternal;
  auto says = [&](const char* text) { return lower.find(text) != std::string::npos; };
  if (says("no space left on device") || says("quota exceeded")) {
    code = ErrorCode::kNoSpace;
  } else if (says("not a directory") || says("cannot overwrite") || says("file exists")) {
    code = ErrorCode::kConflict;
  } else if (response.status == 404) {
    code = ErrorCode::kNotFound;
  } else if (response.status == 400) {
    code = ErrorCode::kInvalidArgument;
  } else if (response.status == 409) {
    code = ErrorCode::kConflict;
  }
  return fail(code, product + ": " + method + " archive of " + path + ": " +
                        std::to_string(response.status) + " " + message);
}

Result<std::optional<FileInfo>> statThroughArchive(EngineClient& client,
                                                   const ArchiveEndpoint& endpoint,
                                                   const std::string& path,
                                                   Clock::time_point deadline) {
  StreamedRequest request;
  request.method = "HEAD";
  request.path = endpoint.path + query(path);
  request.deadline = deadline;
  GRID_ASSIGN_OR_RETURN(const StreamedResponse response, client.stream(request));
  if (response.status == 404) return std::optional<FileInfo>();
  if (!response.ok()) return archiveError(client.endpoint().product, "HEAD", path, response);
  auto header = response.headers.find("x-docker-container-path-stat");
  if (header == response.headers.end()) {
    return fail(ErrorCode::kInternal, client.endpoint().product + ": HEAD archive of " + path +
                                          ": answer has no X-Docker-Container-Path-Stat");
  }
  GRID_ASSIGN_OR_RETURN(FileInfo info, parsePathStat(header->second, path));
  return std::optional<FileInfo>(std::move(info));
}

Result<std::string> readLinkThroughArchive(EngineClient& client, const ArchiveEndpoint& endpoint,
                                           const std::string& path, Clock::time_point deadline) {
  std::string head;
  std::optional<std::string> target;
  StreamedRequest request;
  request.method = "GET";
  request.path = endpoint.path + query(path);
  request.deadline = deadline;
  // Stops reading (and drops the connection) as soon as the first entry is known.
  const Error enough = fail(ErrorCode::kInternal, "enough");
  request.sink = [&](std::string_view piece) -> Result<void> {
    head.append(piece.substr(0, kMaxLinkArchiveHead + kTarBlock * 2 - head.size()));
    GRID_ASSIGN_OR_RETURN(target, firstEntryLinkTarget(head));
    if (target) return enough;
    if (head.size() >= kMaxLinkArchiveHead + kTarBlock * 2) {
      return fail(ErrorCode::kInternal, "archive of a symlink: first entry too large");
    }
    return {};
  };
  auto response = client.stream(request);
  if (target) return *target;
  const std::string what = client.endpoint().product + ": GET archive of " + path;
  if (!response.ok()) return fail(response.error().code, what + ": " + response.error().message);
  if (!response.value().ok()) {
    return archiveError(client.endpoint().product, "GET", path, response.value());
  }
  return fail(ErrorCode::kInternal, what + ": archive ended before its first entry");
}

Result<void> extractThroughArchive(EngineClient& client, const ArchiveEndpoint& endpoint,
                                   const std::string& directory, ByteSource& tar,
                                   Clock::time_point deadline) {
  StreamedRequest request;
  request.method = "PUT";
  request.path = endpoint.path + query(directory);
  if (!endpoint.put_query.empty()) request.path += "&" + endpoint.put_query;
  request.deadline = deadline;
  request.body = [&tar](char* buffer, std::size_t capacity) { return tar.read(buffer, capacity); };
  GRID_ASSIGN_OR_RETURN(const StreamedResponse response, client.stream(request));
  if (!response.ok()) return archiveError(client.endpoint().product, "PUT", directory, response);
  return {};
}

Result<void> archiveThroughEngine(EngineClient& client, const ArchiveEndpoint& endpoint,
                                  const std::string& path, ByteSink& out,
                                  Clock::time_point deadline) {
  StreamedRequest request;
  request.method = "GET";
  request.path = endpoint.path + query(path);
  request.deadline = deadline;
  request.sink = [&out](std::string_view piece) { return out.write(piece); };
  GRID_ASSIGN_OR_RETURN(const StreamedResponse response, client.stream(request));
  if (!response.ok()) return archiveError(client.endpoint().product, "GET", path, response);
  return {};
}

}  // namespace grid::engine
