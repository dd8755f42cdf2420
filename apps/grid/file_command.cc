// `grid sandbox cp` and `grid sandbox ls`: the files API from the command line. cp works as
// `docker cp`: exactly one side is ID:PATH; a directory travels as a tar tree; a file copied onto
// an existing directory lands inside it. Archives from a sandbox are its tenant's: members are
// extracted only as files and directories, by validated relative names.
#include <Poco/JSON/Parser.h>
#include <Poco/URI.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <optional>
#include <vector>

#include "api_client.h"
#include "commands.h"
#include "files/tar_stream.h"
#include "util/printable.h"

namespace grid::cli {
namespace {

namespace fs = std::filesystem;

constexpr size_t kChunkBytes = 64 << 10;

struct Remote {
  std::string id;
  std::string path;
};

// "ID:PATH"; a local path with a ':' is written with a leading "./" or "/", as with docker cp.
std::optional<Remote> parseRemote(const std::string& arg) {
  if (arg.empty() || arg[0] == '/' || arg[0] == '.') return std::nullopt;
  const size_t colon = arg.find(':');
  if (colon == std::string::npos || colon == 0) return std::nullopt;
  const size_t slash = arg.find('/');
  if (slash != std::string::npos && slash < colon) return std::nullopt;
  return Remote{arg.substr(0, colon), arg.substr(colon + 1)};
}

std::string encoded(const std::string& text) {
  std::string out;
  Poco::URI::encode(text, "?#[]@!$&'()*+,;=%/ ", out);
  return out;
}

std::string filesPath(const Remote& remote, const std::string& path, const std::string& more = "") {
  return "/sandboxes/" + remote.id + "/files?path=" + encoded(path) + more;
}

std::string baseName(std::string path) {
  while (path.size() > 1 && path.back() == '/') path.pop_back();
  const size_t slash = path.find_last_of('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

std::string joined(const std::string& dir, const std::string& name) {
  return dir.empty() || dir.back() == '/' ? dir + name : dir + "/" + name;
}

Error serverError(const ApiResponse& response) {
  return fail(ErrorCode::kInvalidArgument, describeFailure(response));
}

// Whether `path` in the sandbox is a directory (a listing of it works); nullopt when missing.
Result<std::optional<bool>> remoteIsDirectory(ApiClient& client, const Remote& remote,
                                              const std::string& path) {
  GRID_ASSIGN_OR_RETURN(const ApiResponse answer,
                        client.call("GET", filesPath(remote, path, "&list")));
  if (answer.status == 200) return std::optional<bool>(true);
  if (answer.status == 409) return std::optional<bool>(false);
  if (answer.status == 404) return std::optional<bool>();
  return serverError(answer);
}

Result<void> copyStream(std::istream& in, std::ostream& out) {
  std::vector<char> buffer(kChunkBytes);
  while (in) {
    in.read(buffer.data(), static_cast<std::streamsize>(buffer.size()));
    const auto n = in.gcount();
    if (n <= 0) break;
    out.write(buffer.data(), n);
    if (!out) return fail(ErrorCode::kUnavailable, "the connection broke while sending");
  }
  if (in.bad()) return fail(ErrorCode::kInternal, "reading failed");
  return {};
}

uint64_t padding(uint64_t size) { return (kTarBlockSize - size % kTarBlockSize) % kTarBlockSize; }

// One local entry of a directory upload.
struct LocalEntry {
  fs::path source;
  TarEntryInfo info;
  bool directory = false;
};

Result<void> uploadTree(ApiClient& client, const Remote& remote, const fs::path& local) {
  GRID_ASSIGN_OR_RETURN(const auto is_dir, remoteIsDirectory(client, remote, remote.path));
  if (is_dir && !*is_dir) {
    return fail(ErrorCode::kConflict, remote.path + " in the sandbox is not a directory");
  }
  // Onto an existing directory: the tree goes inside it under its own name (as docker cp).
  const std::string prefix = is_dir ? baseName(local.string()) + "/" : "";
  std::vector<LocalEntry> entries;
  if (!prefix.empty()) {
    entries.push_back({local, {.name = prefix, .mode = 0755}, true});
  }
  std::error_code error;
  for (auto it = fs::recursive_directory_iterator(local, error);
       !error && it != fs::recursive_directory_iterator(); it.increment(error)) {
    const fs::path relative = fs::relative(it->path(), local);
    const auto status = it->symlink_status();
    const auto mode = static_cast<uint32_t>(status.permissions()) & 07777;
    struct stat st {};
    const int64_t mtime = ::lstat(it->path().c_str(), &st) == 0 ? st.st_mtime : 0;
    if (fs::is_directory(status)) {
      entries.push_back({it->path(),
                         {.name = prefix + relative.string() + "/", .mode = mode, .mtime = mtime},
                         true});
    } else if (fs::is_regular_file(status)) {
      entries.push_back({it->path(),
                         {.name = prefix + relative.string(),
                          .mode = mode,
                          .size = fs::file_size(it->path()),
                          .mtime = mtime},
                         false});
    } else {
      std::cerr << "grid: skipping " << it->path() << " (not a file or directory)\n";
    }
  }
  if (error)
    return fail(ErrorCode::kInternal, "reading " + local.string() + ": " + error.message());
  uint64_t length = 2 * kTarBlockSize;
  for (const auto& e : entries) {
    TarWriter scratch;
    auto header = e.directory ? scratch.directory(e.info) : scratch.beginFile(e.info);
    if (!header.ok()) return header.error();
    length += header.value().size() + e.info.size + padding(e.info.size);
  }
  GRID_ASSIGN_OR_RETURN(
      const ApiResponse answer,
      client.upload(filesPath(remote, remote.path), "application/x-tar", length,
                    [&](std::ostream& out) -> Result<void> {
                      TarWriter tar;
                      for (const auto& e : entries) {
                        if (e.directory) {
                          GRID_ASSIGN_OR_RETURN(const std::string h, tar.directory(e.info));
                          out << h;
                          continue;
                        }
                        GRID_ASSIGN_OR_RETURN(const std::string h, tar.beginFile(e.info));
                        out << h;
                        std::ifstream in(e.source, std::ios::binary);
                        std::vector<char> buffer(kChunkBytes);
                        while (tar.remainingFileBytes() > 0) {
                          in.read(buffer.data(), static_cast<std::streamsize>(std::min<uint64_t>(
                                                     buffer.size(), tar.remainingFileBytes())));
                          const auto n = static_cast<size_t>(in.gcount());
                          if (n == 0) {
                            return fail(ErrorCode::kInternal,
                                        e.source.string() + " shrank while being sent");
                          }
                          GRID_TRY(tar.fileData(std::string_view(buffer.data(), n)));
                          out.write(buffer.data(), static_cast<std::streamsize>(n));
                        }
                        GRID_ASSIGN_OR_RETURN(const std::string end, tar.endFile());
                        out << end;
                      }
                      GRID_ASSIGN_OR_RETURN(const std::string end, tar.finish());
                      out << end;
                      if (!out) return fail(ErrorCode::kUnavailable, "the connection broke");
                      return {};
                    }));
  if (answer.status / 100 != 2) return serverError(answer);
  return {};
}

Result<void> uploadFile(ApiClient& client, const Remote& remote, const fs::path& local) {
  std::string target = remote.path;
  bool into = !target.empty() && target.back() == '/';
  if (!into) {
    GRID_ASSIGN_OR_RETURN(const auto is_dir, remoteIsDirectory(client, remote, target));
    into = is_dir && *is_dir;
  }
  if (into) target = joined(target, local.filename().string());
  std::ifstream in(local, std::ios::binary);
  if (!in) return fail(ErrorCode::kNotFound, "cannot read " + local.string());
  const uint64_t size = fs::file_size(local);
  char mode[8];
  std::snprintf(mode, sizeof mode, "%04o",
                static_cast<unsigned>(fs::status(local).permissions()) & 07777);
  GRID_ASSIGN_OR_RETURN(const ApiResponse answer,
                        client.upload(filesPath(remote, target, std::string("&mode=") + mode),
                                      "application/octet-stream", size,
                                      [&](std::ostream& out) { return copyStream(in, out); }));
  if (answer.status / 100 != 2) return serverError(answer);
  return {};
}

// Extracts an archive from the sandbox under `root`: files and directories only, names made
// of plain components (no "..", no absolute paths), the first component dropped when `strip`.
class LocalExtractor : public TarHandler {
 public:
  LocalExtractor(fs::path root, bool strip) : root_(std::move(root)), strip_(strip) {}
  ~LocalExtractor() override {
    if (fd_ >= 0) ::close(fd_);
  }

  Result<void> onEntry(const TarEntry& entry) override {
    std::vector<std::string> parts;
    size_t start = 0;
    while (start <= entry.name.size()) {
      const size_t slash = std::min(entry.name.find('/', start), entry.name.size());
      const std::string part = entry.name.substr(start, slash - start);
      if (part == "..") {
        return fail(ErrorCode::kInvalidArgument,
                    "archive member with '..': " + printablePrefix(entry.name, 200));
      }
      if (!part.empty() && part != ".") parts.push_back(part);
      start = slash + 1;
    }
    if (strip_ && !parts.empty()) parts.erase(parts.begin());
    fs::path target = root_;
    for (const auto& part : parts) target /= part;
    if (entry.type == TarEntryType::kDirectory) {
      fs::create_directories(target);
      return {};
    }
    if (entry.type != TarEntryType::kFile || parts.empty()) {
      std::cerr << "grid: skipping " << printablePrefix(entry.name, 200) << " ("
                << tarEntryTypeName(entry.type) << ")\n";
      return {};
    }
    fs::create_directories(target.parent_path());
    fd_ = ::open(target.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC,
                 entry.mode & 0777);
    if (fd_ < 0) {
      return fail(ErrorCode::kInternal,
                  "cannot write " + target.string() + ": " + std::strerror(errno));
    }
    ::fchmod(fd_, entry.mode & 0777);
    return {};
  }
  Result<void> onData(std::string_view chunk) override {
    if (fd_ < 0) return {};
    while (!chunk.empty()) {
      const ssize_t n = ::write(fd_, chunk.data(), chunk.size());
      if (n < 0) return fail(ErrorCode::kInternal, std::string("write: ") + std::strerror(errno));
      chunk.remove_prefix(static_cast<size_t>(n));
    }
    return {};
  }
  Result<void> onEntryEnd() override {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
    return {};
  }

 private:
  fs::path root_;
  bool strip_;
  int fd_ = -1;
};

Result<void> feedTar(std::istream& in, TarReader& reader) {
  std::vector<char> buffer(kChunkBytes);
  while (in) {
    in.read(buffer.data(), static_cast<std::streamsize>(buffer.size()));
    const auto n = static_cast<size_t>(in.gcount());
    if (n == 0) break;
    GRID_TRY(reader.feed(std::string_view(buffer.data(), n)));
  }
  return reader.finish();
}

Result<void> download(ApiClient& client, const Remote& remote, const std::string& local) {
  if (local == "-") {  // the raw tar on stdout
    GRID_ASSIGN_OR_RETURN(
        const ApiResponse answer,
        client.download(filesPath(remote, remote.path, "&archive"), "",
                        [](std::istream& in) { return copyStream(in, std::cout); }));
    if (answer.status != 200) return serverError(answer);
    return {};
  }
  const bool local_is_dir = fs::is_directory(local);
  const std::string name = baseName(remote.path);
  const fs::path file_target = local_is_dir ? fs::path(local) / name : fs::path(local);
  GRID_ASSIGN_OR_RETURN(
      const ApiResponse answer,
      client.download(filesPath(remote, remote.path), "", [&](std::istream& in) -> Result<void> {
        std::ofstream out(file_target, std::ios::binary);
        if (!out) {
          return fail(ErrorCode::kInternal, "cannot write " + file_target.string());
        }
        return copyStream(in, out);
      }));
  if (answer.status == 200) return {};
  if (answer.status != 409 || answer.body.find("is a directory") == std::string::npos) {
    return serverError(answer);
  }
  // A directory: its tree, into LOCAL/name when LOCAL exists, else as LOCAL itself.
  const fs::path root = local_is_dir ? fs::path(local) : fs::path(local);
  if (!local_is_dir) fs::create_directories(root);
  LocalExtractor extractor(root, !local_is_dir);
  TarReader reader(extractor);
  GRID_ASSIGN_OR_RETURN(const ApiResponse tree,
                        client.download(filesPath(remote, remote.path, "&archive"), "",
                                        [&](std::istream& in) { return feedTar(in, reader); }));
  if (tree.status != 200) return serverError(tree);
  return {};
}

std::string timeText(int64_t seconds) {
  const std::time_t t = static_cast<std::time_t>(seconds);
  std::tm tm{};
  ::gmtime_r(&t, &tm);
  char text[32];
  std::strftime(text, sizeof text, "%Y-%m-%d %H:%M", &tm);
  return text;
}

}  // namespace

void addFileCommands(CLI::App* sandbox, const std::function<ApiClient()>& client,
                     const std::function<bool()>& json, int* exit_code) {
  auto args = std::make_shared<std::vector<std::string>>();
  CLI::App* cp = sandbox->add_subcommand(
      "cp", "Copy files between a sandbox and here: cp SRC DST, one side ID:PATH (as docker cp)");
  cp->add_option("src", (*args), "SRC DST")->required()->expected(2);
  cp->callback([args, client, exit_code] {
    const auto report = [&](const Error& error) { *exit_code = reportFailure(error); };
    const auto src = parseRemote((*args)[0]);
    const auto dst = parseRemote((*args)[1]);
    if (src.has_value() == dst.has_value()) {
      report(fail(ErrorCode::kInvalidArgument,
                  "cp: exactly one of SRC and DST must be ID:PATH (a local path with ':' is "
                  "written ./name)"));
      return;
    }
    auto c = client();
    Result<void> done;
    if (src) {
      done = download(c, *src, (*args)[1]);
    } else {
      const fs::path local = (*args)[0];
      std::error_code error;
      const auto status = fs::status(local, error);
      if (error || !fs::exists(status)) {
        done = fail(ErrorCode::kNotFound, "cp: " + local.string() + ": no such file or directory");
      } else if (fs::is_directory(status)) {
        done = uploadTree(c, *dst, local);
      } else {
        done = uploadFile(c, *dst, local);
      }
    }
    if (!done.ok()) report(done.error());
  });

  auto ls_args = std::make_shared<std::vector<std::string>>();
  CLI::App* ls = sandbox->add_subcommand("ls", "List a directory in a sandbox: ls ID PATH");
  ls->add_option("args", *ls_args, "ID PATH")->required()->expected(2);
  ls->callback([ls_args, client, json, exit_code] {
    auto c = client();
    const Remote remote{(*ls_args)[0], (*ls_args)[1]};
    auto answer = c.call("GET", filesPath(remote, remote.path, "&list"));
    if (!answer.ok() || answer.value().status != 200) {
      *exit_code = reportFailure(answer.ok() ? serverError(answer.value()) : answer.error());
      return;
    }
    if (json()) {
      std::cout << answer.value().body << "\n";
      return;
    }
    Poco::JSON::Parser parser;
    const auto object = parser.parse(answer.value().body).extract<Poco::JSON::Object::Ptr>();
    const auto entries = object->getArray("entries");
    std::printf("%-9s  %-4s  %12s  %-16s  %s\n", "TYPE", "MODE", "SIZE", "MTIME (UTC)", "NAME");
    for (size_t i = 0; i < entries->size(); ++i) {
      const auto e = entries->getObject(static_cast<unsigned>(i));
      std::string name = printablePrefix(e->getValue<std::string>("name"), 255);
      if (e->has("link_target")) {
        name += " -> " + printablePrefix(e->getValue<std::string>("link_target"), 255);
      }
      std::printf("%-9s  %-4s  %12llu  %-16s  %s\n", e->getValue<std::string>("type").c_str(),
                  e->getValue<std::string>("mode").c_str(),
                  static_cast<unsigned long long>(e->getValue<uint64_t>("size")),
                  timeText(e->getValue<int64_t>("mtime")).c_str(), name.c_str());
    }
    if (object->getValue<bool>("truncated")) {
      std::cerr << "grid: listing truncated at " << entries->size()
                << " entries (files.max_list_entries)\n";
    }
  });
}

}  // namespace grid::cli
