// `grid image ...`: the local-namespace backend's image store (import, list, rm).
#include <cstdio>
#include <iostream>

#include "commands.h"
#include "config/server_config.h"
#include "grid/image/image_store.h"

namespace grid::cli {
namespace {

struct ImageFlags {
  std::string images_dir;
  std::string config_file;
};

// --images-dir, else [backend.local-namespace] images_dir from the configuration, else the
// backend's default.
std::string imagesDir(const ImageFlags& flags) {
  if (!flags.images_dir.empty()) return flags.images_dir;
  ConfigSources sources;
  if (!flags.config_file.empty()) sources.file = flags.config_file;
  sources.environment = processEnvironment();
  if (auto config = loadServerConfig(sources); config.ok()) {
    const auto& settings = config.value().settingsOf("local-namespace");
    if (auto it = settings.find("images_dir"); it != settings.end()) return it->second;
  }
  return grid::image::kDefaultImagesDir;
}

int report(const Error& error) {
  std::cerr << "grid image: " << error.message << "\n";
  return 1;
}

}  // namespace

void addImageCommand(CLI::App& root, int* exit_code) {
  auto flags = std::make_shared<ImageFlags>();
  CLI::App* image = root.add_subcommand("image", "Manage images of the local-namespace backend");
  image->require_subcommand(1);
  image->fallthrough();  // --images-dir also after the subcommand
  image->add_option("--images-dir", flags->images_dir,
                    "Image directory (default: [backend.local-namespace] images_dir)");
  image->add_option("--config", flags->config_file, "Config file to read images_dir from");

  auto ref = std::make_shared<std::string>();
  auto file = std::make_shared<std::string>();
  CLI::App* import = image->add_subcommand(
      "import", "Import a rootfs tarball, `docker save` archive or OCI layout archive");
  import->add_option("name", *ref, "NAME[:TAG] (tag defaults to latest)")->required();
  import->add_option("file", *file, "Archive (tar, optionally gzip/xz/zstd)")->required();
  import->callback([flags, ref, file, exit_code] {
    auto imported = grid::image::importImage(imagesDir(*flags), *ref, *file);
    if (!imported.ok()) {
      *exit_code = report(imported.error());
      return;
    }
    std::cout << "Imported " << imported.value().ref << " (" << imported.value().format << ") into "
              << imported.value().rootfs << "\n";
  });

  CLI::App* list = image->add_subcommand("list", "List imported images");
  list->callback([flags, exit_code] {
    auto images = grid::image::listImages(imagesDir(*flags));
    if (!images.ok()) {
      *exit_code = report(images.error());
      return;
    }
    std::printf("%-40s  %-12s  %s\n", "IMAGE", "FORMAT", "ROOTFS");
    std::printf("%-40s  %-12s  %s\n", "host", "built-in", "(the host's /usr, /bin, /lib*; see docs)");
    for (const auto& info : images.value()) {
      std::printf("%-40s  %-12s  %s\n", info.ref.c_str(), info.format.c_str(), info.rootfs.c_str());
    }
  });

  auto rm_ref = std::make_shared<std::string>();
  CLI::App* rm = image->add_subcommand("rm", "Remove an imported image");
  rm->add_option("name", *rm_ref, "NAME[:TAG]")->required();
  rm->callback([flags, rm_ref, exit_code] {
    if (auto removed = grid::image::removeImage(imagesDir(*flags), *rm_ref); !removed.ok()) {
      *exit_code = report(removed.error());
      return;
    }
    std::cout << "Removed " << *rm_ref << "\n";
  });
}

}  // namespace grid::cli
