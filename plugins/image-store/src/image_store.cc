#include "grid/image/image_store.h"

#include <Poco/JSON/Parser.h>
#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <filesystem>
#include <fstream>

#include "archive_extract.h"

namespace grid::image {

namespace {

namespace fs = std::filesystem;

constexpr size_t kMaxJsonSize = 4 << 20;

bool validNameChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-' ||
         c == '/';
}
bool validTagChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
         c == '_' || c == '-';
}

std::string encodeName(const std::string& name) {
  std::string out = name;
  std::replace(out.begin(), out.end(), '/', '+');
  return out;
}

std::string imageDir(const std::string& images_dir, const ImageRef& ref) {
  return images_dir + "/" + encodeName(ref.name) + "/" + ref.tag;
}

// Removes a directory tree on scope exit unless dismissed.
class TempTree {
 public:
  explicit TempTree(std::string path) : path_(std::move(path)) {}
  ~TempTree() {
    if (!path_.empty()) {
      std::error_code ec;
      fs::remove_all(path_, ec);
    }
  }
  TempTree(const TempTree&) = delete;
  TempTree& operator=(const TempTree&) = delete;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

using JsonObject = Poco::JSON::Object::Ptr;

Result<Poco::Dynamic::Var> parseJson(const std::string& text, const std::string& what) {
  try {
    Poco::JSON::Parser parser;
    return parser.parse(text);
  } catch (const Poco::Exception& e) {
    return fail(ErrorCode::kInvalidArgument,
                "local-namespace: " + what + " is not valid JSON: " + e.displayText());
  }
}

// A member of the unpacked outer archive, read without following symlinks: a manifest.json
// or blob that is a symlink to /etc/shadow must not be read (or quoted in an error).
Result<std::string> readMember(const std::string& root, const std::string& rel) {
  GRID_ASSIGN_OR_RETURN(auto fd, openMemberFile(root, rel));
  return readMemberFile(fd.get(), rel, kMaxJsonSize);
}

// Validates a member name from a manifest or index; returns it sanitised (relative).
Result<std::string> sanitizedMember(const std::string& name) {
  GRID_ASSIGN_OR_RETURN(std::string rel, sanitizeEntryPath(name));
  if (rel.empty()) {
    return fail(ErrorCode::kInvalidArgument, "local-namespace: empty layer path in manifest");
  }
  return rel;
}

Result<std::string> blobPath(const std::string& digest) {
  size_t colon = digest.find(':');
  if (colon == std::string::npos || digest.find('/') != std::string::npos) {
    return fail(ErrorCode::kInvalidArgument, "local-namespace: bad OCI digest '" + digest + "'");
  }
  return sanitizedMember("blobs/" + digest.substr(0, colon) + "/" + digest.substr(colon + 1));
}

// docker save: manifest.json = [{"Config": ..., "RepoTags": [...], "Layers": ["x/layer.tar"]}]
Result<std::vector<std::string>> dockerLayers(const std::string& root) {
  GRID_ASSIGN_OR_RETURN(std::string text, readMember(root, "manifest.json"));
  GRID_ASSIGN_OR_RETURN(auto json, parseJson(text, "manifest.json"));
  try {
    auto manifests = json.extract<Poco::JSON::Array::Ptr>();
    if (manifests.isNull() || manifests->size() == 0) {
      return fail(ErrorCode::kInvalidArgument, "local-namespace: manifest.json lists no image");
    }
    if (manifests->size() > 1) {
      spdlog::warn("local-namespace: manifest.json lists {} images; importing the first",
                   manifests->size());
    }
    auto layers = manifests->getObject(0)->getArray("Layers");
    if (layers.isNull()) {
      return fail(ErrorCode::kInvalidArgument, "local-namespace: manifest.json has no Layers");
    }
    std::vector<std::string> paths;
    for (size_t i = 0; i < layers->size(); ++i) {
      GRID_ASSIGN_OR_RETURN(std::string path, sanitizedMember(layers->getElement<std::string>(i)));
      paths.push_back(std::move(path));
    }
    return paths;
  } catch (const Poco::Exception& e) {
    return fail(ErrorCode::kInvalidArgument,
                "local-namespace: unexpected manifest.json: " + e.displayText());
  }
}

// OCI layout: index.json -> (nested index ->) manifest -> layers[].digest, all in blobs/.
Result<std::vector<std::string>> ociLayers(const std::string& root) {
  GRID_ASSIGN_OR_RETURN(std::string text, readMember(root, "index.json"));
  try {
    for (int depth = 0; depth < 4; ++depth) {
      GRID_ASSIGN_OR_RETURN(auto json, parseJson(text, "OCI index/manifest"));
      auto object = json.extract<Poco::JSON::Object::Ptr>();
      if (auto layers = object->getArray("layers"); !layers.isNull()) {
        std::vector<std::string> paths;
        for (size_t i = 0; i < layers->size(); ++i) {
          GRID_ASSIGN_OR_RETURN(std::string path,
                                blobPath(layers->getObject(i)->getValue<std::string>("digest")));
          paths.push_back(std::move(path));
        }
        return paths;
      }
      auto manifests = object->getArray("manifests");
      if (manifests.isNull() || manifests->size() == 0) break;
      GRID_ASSIGN_OR_RETURN(std::string next,
                            blobPath(manifests->getObject(0)->getValue<std::string>("digest")));
      GRID_ASSIGN_OR_RETURN(text, readMember(root, next));
    }
  } catch (const Poco::Exception& e) {
    return fail(ErrorCode::kInvalidArgument,
                "local-namespace: unexpected OCI index: " + e.displayText());
  }
  return fail(ErrorCode::kInvalidArgument, "local-namespace: OCI index lists no image manifest");
}

Result<void> makeDirs(const std::string& path) {
  std::error_code ec;
  fs::create_directories(path, ec);
  if (ec) return sysFail(ErrorCode::kInternal, "mkdir", path, ec.value());
  return {};
}

Result<std::string> absoluteDir(const std::string& dir) {
  GRID_TRY(makeDirs(dir));
  char* real = ::realpath(dir.c_str(), nullptr);
  if (real == nullptr) return sysFail(ErrorCode::kInternal, "realpath", dir, errno);
  std::string out(real);
  ::free(real);
  return out;
}

}  // namespace

Result<ImageRef> parseImageRef(std::string_view ref) {
  ImageRef out;
  size_t colon = ref.rfind(':');
  if (colon != std::string_view::npos && ref.find('/', colon) == std::string_view::npos) {
    out.name = std::string(ref.substr(0, colon));
    out.tag = std::string(ref.substr(colon + 1));
  } else {
    out.name = std::string(ref);
    out.tag = "latest";
  }
  auto bad = [&](const std::string& why) {
    return fail(ErrorCode::kInvalidArgument,
                "invalid image reference '" + std::string(ref) + "': " + why);
  };
  if (out.name.empty() || out.name.size() > 200) return bad("name must be 1-200 characters");
  if (!std::all_of(out.name.begin(), out.name.end(), validNameChar)) {
    return bad("name may contain only a-z 0-9 . _ - /");
  }
  if (out.name.front() == '/' || out.name.back() == '/' ||
      out.name.find("//") != std::string::npos || out.name.front() == '.') {
    return bad("name must not start with '.' or '/', end with '/' or contain '//'");
  }
  for (size_t pos = 0; pos < out.name.size();) {
    size_t slash = out.name.find('/', pos);
    if (slash == std::string::npos) slash = out.name.size();
    std::string part = out.name.substr(pos, slash - pos);
    if (part == "." || part == "..") return bad("name components must not be . or ..");
    pos = slash + 1;
  }
  if (out.tag.empty() || out.tag.size() > 128) return bad("tag must be 1-128 characters");
  if (!std::all_of(out.tag.begin(), out.tag.end(), validTagChar) || out.tag.front() == '.') {
    return bad("tag may contain only A-Z a-z 0-9 . _ - and must not start with '.'");
  }
  return out;
}

Result<ImageInfo> importImage(const std::string& images_dir, const std::string& ref,
                              const std::string& tarball_path) {
  GRID_ASSIGN_OR_RETURN(ImageRef parsed, parseImageRef(ref));
  GRID_ASSIGN_OR_RETURN(std::vector<std::string> names, listArchive(tarball_path));
  auto has = [&](const char* name) {
    return std::find(names.begin(), names.end(), name) != names.end();
  };
  std::string format = has("manifest.json")                       ? "docker-save"
                       : (has("index.json") && has("oci-layout")) ? "oci"
                                                                  : "rootfs";

  GRID_ASSIGN_OR_RETURN(std::string root, absoluteDir(images_dir));
  std::string temp_template = root + "/.import-XXXXXX";
  if (::mkdtemp(temp_template.data()) == nullptr) {
    return sysFail(ErrorCode::kInternal, "mkdtemp", temp_template, errno);
  }
  TempTree temp(temp_template);
  std::string rootfs = temp.path() + "/rootfs";
  if (::mkdir(rootfs.c_str(), 0755) != 0) {
    return sysFail(ErrorCode::kInternal, "mkdir", rootfs, errno);
  }

  if (format == "rootfs") {
    GRID_TRY(extractArchive(tarball_path, rootfs, {}));
  } else {
    // Layers are members of the outer archive; unpack it (validated) to read them.
    std::string outer = temp.path() + "/archive";
    if (::mkdir(outer.c_str(), 0700) != 0) {
      return sysFail(ErrorCode::kInternal, "mkdir", outer, errno);
    }
    GRID_TRY(extractArchive(tarball_path, outer, {}));
    GRID_ASSIGN_OR_RETURN(std::vector<std::string> layers,
                          format == "oci" ? ociLayers(outer) : dockerLayers(outer));
    // Layers are named relative to the outer archive and opened inside it, never through
    // a symlink; libarchive then reads the open file.
    for (const auto& layer : layers) {
      GRID_ASSIGN_OR_RETURN(auto fd, openMemberFile(outer, layer));
      GRID_TRY(extractArchiveFd(fd.get(), layer, rootfs, {.whiteouts = true}));
    }
    std::error_code ec;
    fs::remove_all(outer, ec);
  }
  {
    std::ofstream meta(temp.path() + "/format");
    meta << format << "\n";
  }

  std::string name_dir = root + "/" + encodeName(parsed.name);
  GRID_TRY(makeDirs(name_dir));
  std::string final_dir = imageDir(root, parsed);
  // Swap an existing image out first so the new one appears atomically under its name.
  std::string old_template = root + "/.old-XXXXXX";
  if (::mkdtemp(old_template.data()) == nullptr) {
    return sysFail(ErrorCode::kInternal, "mkdtemp", old_template, errno);
  }
  TempTree old(old_template);
  if (::rename(final_dir.c_str(), (old.path() + "/image").c_str()) != 0 && errno != ENOENT) {
    return sysFail(ErrorCode::kInternal, "rename", final_dir, errno);
  }
  if (::rename(temp.path().c_str(), final_dir.c_str()) != 0) {
    return sysFail(ErrorCode::kInternal, "rename", temp.path() + ", " + final_dir, errno);
  }
  spdlog::info("local-namespace: imported {} ({}) from {} into {}", parsed.str(), format,
               tarball_path, final_dir);
  return ImageInfo{parsed.str(), final_dir + "/rootfs", format};
}

Result<std::vector<ImageInfo>> listImages(const std::string& images_dir) {
  std::vector<ImageInfo> images;
  std::error_code ec;
  if (!fs::exists(images_dir, ec)) return images;
  for (const auto& name_entry : fs::directory_iterator(images_dir, ec)) {
    std::string encoded = name_entry.path().filename().string();
    if (encoded.empty() || encoded[0] == '.' || !name_entry.is_directory()) continue;
    std::string name = encoded;
    std::replace(name.begin(), name.end(), '+', '/');
    std::error_code inner;
    for (const auto& tag_entry : fs::directory_iterator(name_entry.path(), inner)) {
      std::string rootfs = tag_entry.path().string() + "/rootfs";
      if (!fs::is_directory(rootfs, inner)) continue;
      ImageInfo info{name + ":" + tag_entry.path().filename().string(), rootfs, "rootfs"};
      std::ifstream meta(tag_entry.path().string() + "/format");
      if (meta) std::getline(meta, info.format);
      images.push_back(std::move(info));
    }
  }
  if (ec) return sysFail(ErrorCode::kInternal, "opendir", images_dir, ec.value());
  std::sort(images.begin(), images.end(),
            [](const ImageInfo& a, const ImageInfo& b) { return a.ref < b.ref; });
  return images;
}

Result<void> removeImage(const std::string& images_dir, const std::string& ref) {
  GRID_TRY(findImage(images_dir, ref));
  auto parsed = parseImageRef(ref);
  std::string dir = imageDir(images_dir, parsed.value());
  // Rename first: the ref disappears at once even if deleting a large tree is interrupted.
  std::string trash = images_dir + "/.rm-XXXXXX";
  if (::mkdtemp(trash.data()) == nullptr) {
    return sysFail(ErrorCode::kInternal, "mkdtemp", trash, errno);
  }
  TempTree cleanup(trash);
  if (::rename(dir.c_str(), (trash + "/image").c_str()) != 0) {
    return sysFail(ErrorCode::kInternal, "rename", dir, errno);
  }
  std::string name_dir = images_dir + "/" + encodeName(parsed.value().name);
  ::rmdir(name_dir.c_str());  // only succeeds when this was the name's last tag
  return {};
}

Result<std::string> findImage(const std::string& images_dir, const std::string& ref) {
  GRID_ASSIGN_OR_RETURN(ImageRef parsed, parseImageRef(ref));
  std::string rootfs = imageDir(images_dir, parsed) + "/rootfs";
  struct stat st;
  if (::stat(rootfs.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
    return fail(ErrorCode::kImageNotFound, "image '" + parsed.str() + "' not found in " +
                                               images_dir + ": import it with `grid image import " +
                                               parsed.str() + " FILE.tar`");
  }
  return rootfs;
}

Result<std::string> prepareImageDir(const std::string& images_dir) {
  GRID_ASSIGN_OR_RETURN(std::string root, absoluteDir(images_dir));
  std::string dir = root + "/.snapshot-XXXXXX";
  if (::mkdtemp(dir.data()) == nullptr) return sysFail(ErrorCode::kInternal, "mkdtemp", dir, errno);
  if (::chmod(dir.c_str(), 0755) != 0 || ::mkdir((dir + "/rootfs").c_str(), 0755) != 0) {
    int err = errno;
    std::error_code ec;
    fs::remove_all(dir, ec);
    return sysFail(ErrorCode::kInternal, "mkdir", dir + "/rootfs", err);
  }
  return dir;
}

Result<ImageInfo> installImage(const std::string& images_dir, const std::string& ref,
                               const std::string& prepared_dir, bool overwrite) {
  GRID_ASSIGN_OR_RETURN(ImageRef parsed, parseImageRef(ref));
  GRID_ASSIGN_OR_RETURN(std::string root, absoluteDir(images_dir));
  {
    std::ofstream meta(prepared_dir + "/format");
    meta << "snapshot\n";
  }
  std::string name_dir = root + "/" + encodeName(parsed.name);
  GRID_TRY(makeDirs(name_dir));
  std::string final_dir = imageDir(root, parsed);
  if (!overwrite) {
    // rename() onto a missing name only: an image made meanwhile is never replaced.
    if (::renameat2(AT_FDCWD, prepared_dir.c_str(), AT_FDCWD, final_dir.c_str(),
                    RENAME_NOREPLACE) != 0) {
      if (errno == EEXIST) {
        return fail(ErrorCode::kConflict, "image '" + parsed.str() + "' exists in " + images_dir +
                                              "; pass overwrite to replace it");
      }
      return sysFail(ErrorCode::kInternal, "rename", prepared_dir + ", " + final_dir, errno);
    }
    return ImageInfo{parsed.str(), final_dir + "/rootfs", "snapshot"};
  }
  std::string old_template = root + "/.old-XXXXXX";
  if (::mkdtemp(old_template.data()) == nullptr) {
    return sysFail(ErrorCode::kInternal, "mkdtemp", old_template, errno);
  }
  TempTree old(old_template);
  if (::rename(final_dir.c_str(), (old.path() + "/image").c_str()) != 0 && errno != ENOENT) {
    return sysFail(ErrorCode::kInternal, "rename", final_dir, errno);
  }
  if (::rename(prepared_dir.c_str(), final_dir.c_str()) != 0) {
    return sysFail(ErrorCode::kInternal, "rename", prepared_dir + ", " + final_dir, errno);
  }
  return ImageInfo{parsed.str(), final_dir + "/rootfs", "snapshot"};
}

}  // namespace grid::image
