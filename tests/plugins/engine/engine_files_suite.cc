// The shared engine suite's file calls: round trips through the backend object's statPath,
// extractArchive and createArchive (the engines' archive endpoints), for every dialect.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <map>
#include <string>
#include <vector>

#include "dialect_hooks.h"
#include "engine_backend_suite.h"
#include "files/tar_stream.h"
#include "grid/engine/engine_client.h"

namespace grid::testing {
namespace {

Clock::time_point patient() { return Clock::now() + kPatience; }

// A tar stream held whole: small archives only.
class StringSource : public ByteSource {
 public:
  explicit StringSource(std::string data) : data_(std::move(data)) {}
  Result<size_t> read(char* buffer, size_t capacity) override {
    const size_t n = std::min(capacity, data_.size() - offset_);
    std::memcpy(buffer, data_.data() + offset_, n);
    offset_ += n;
    return n;
  }

 private:
  std::string data_;
  size_t offset_ = 0;
};

char patternByte(uint64_t offset) { return static_cast<char>((offset * 7 + offset / 4093) % 256); }

// The tar of one file of `size` pattern bytes, produced as it is read: never held whole.
class GeneratedFileSource : public ByteSource {
 public:
  GeneratedFileSource(std::string name, uint64_t size) : name_(std::move(name)), size_(size) {}

  Result<size_t> read(char* buffer, size_t capacity) override {
    largest_request_ = std::max(largest_request_, capacity);
    if (pending_.empty() && !done_) GRID_TRY(produce());
    const size_t n = std::min(capacity, pending_.size() - pending_offset_);
    std::memcpy(buffer, pending_.data() + pending_offset_, n);
    pending_offset_ += n;
    if (pending_offset_ == pending_.size()) {
      pending_.clear();
      pending_offset_ = 0;
    }
    return n;
  }

  size_t largestRequest() const { return largest_request_; }

 private:
  Result<void> produce() {
    if (!started_) {
      started_ = true;
      GRID_ASSIGN_OR_RETURN(pending_, tar_.beginFile({.name = name_, .mode = 0640, .size = size_}));
      return {};
    }
    if (written_ < size_) {
      const uint64_t n = std::min<uint64_t>(64 * 1024, size_ - written_);
      pending_.resize(n);
      for (uint64_t i = 0; i < n; ++i) pending_[i] = patternByte(written_ + i);
      GRID_TRY(tar_.fileData(pending_));
      written_ += n;
      return {};
    }
    GRID_ASSIGN_OR_RETURN(std::string end, tar_.endFile());
    GRID_ASSIGN_OR_RETURN(std::string finish, tar_.finish());
    pending_ = end + finish;
    done_ = true;
    return {};
  }

  std::string name_;
  uint64_t size_;
  TarWriter tar_;
  bool started_ = false;
  bool done_ = false;
  uint64_t written_ = 0;
  std::string pending_;
  size_t pending_offset_ = 0;
  size_t largest_request_ = 0;
};

// Parses what it is given as a tar stream and keeps each entry's data (small archives only).
class CollectingHandler : public TarHandler {
 public:
  Result<void> onEntry(const TarEntry& entry) override {
    std::string name = entry.name;
    while (name.size() > 1 && name.back() == '/') name.pop_back();  // Docker adds it, Podman not
    current_ = name;
    entries[name] = entry;
    data[name];
    return {};
  }
  Result<void> onData(std::string_view chunk) override {
    data[current_] += chunk;
    return {};
  }
  std::map<std::string, TarEntry> entries;
  std::map<std::string, std::string> data;

 private:
  std::string current_;
};

class TarSink : public ByteSink {
 public:
  explicit TarSink(TarHandler& handler) : reader_(handler) {}
  Result<void> write(std::string_view data) override {
    largest_piece_ = std::max(largest_piece_, data.size());
    return reader_.feed(data);
  }
  Result<void> finish() { return reader_.finish(); }
  size_t largestPiece() const { return largest_piece_; }

 private:
  TarReader reader_;
  size_t largest_piece_ = 0;
};

// Checks a file's data against the pattern without keeping it.
class PatternChecker : public TarHandler {
 public:
  Result<void> onEntry(const TarEntry& entry) override {
    size = entry.size;
    return {};
  }
  Result<void> onData(std::string_view chunk) override {
    for (char c : chunk) {
      if (c != patternByte(checked)) {
        return fail(ErrorCode::kInternal, "byte " + std::to_string(checked) + " differs");
      }
      ++checked;
    }
    return {};
  }
  uint64_t size = 0;
  uint64_t checked = 0;
};

std::string tarOf(const std::vector<std::pair<std::string, std::string>>& files,
                  const std::vector<std::string>& directories = {}) {
  TarWriter tar;
  std::string out;
  for (const auto& directory : directories) out += tar.directory({.name = directory}).value();
  for (const auto& [name, content] : files) {
    out += tar.beginFile({.name = name, .mode = 0644, .size = content.size()}).value();
    EXPECT_TRUE(tar.fileData(content).ok());
    out += content;
    out += tar.endFile().value();
  }
  return out + tar.finish().value();
}

class FilesTest : public EngineBackendTest {
 protected:
  void upload(const std::string& directory, const std::string& tar) {
    StringSource source(tar);
    auto extracted = backend_->extractArchive("files", directory, source, patient());
    ASSERT_TRUE(extracted.ok()) << extracted.error().message;
  }
  // The archive of `path`, parsed.
  CollectingHandler download(const std::string& path) {
    CollectingHandler handler;
    TarSink sink(handler);
    auto archived = backend_->createArchive("files", path, sink, patient());
    EXPECT_TRUE(archived.ok()) << archived.error().message;
    EXPECT_TRUE(sink.finish().ok());
    return handler;
  }
};

TEST_P(FilesTest, BinaryFileRoundTrip) {
  create(spec("files"));
  std::string binary("a\0b\0\0c\xff\n", 8);
  binary += std::string(100000, '\0');
  upload("/tmp", tarOf({{"bin", binary}}));
  // Written as the session writes: the image has no USER, so root.
  Output owner = run("files", {"stat", "-c", "%u:%g %s", "/tmp/bin"});
  EXPECT_EQ(owner.out, "0:0 " + std::to_string(binary.size()) + "\n");
  CollectingHandler archive = download("/tmp/bin");
  ASSERT_EQ(archive.entries.count("bin"), 1u);
  EXPECT_EQ(archive.entries["bin"].type, TarEntryType::kFile);
  EXPECT_EQ(archive.data["bin"], binary);
}

TEST_P(FilesTest, EmptyFileRoundTrip) {
  create(spec("files"));
  upload("/tmp", tarOf({{"empty", ""}}));
  auto stat = backend_->statPath("files", "/tmp/empty", patient());
  ASSERT_TRUE(stat.ok()) << stat.error().message;
  EXPECT_EQ(stat.value().type, FileType::kFile);
  EXPECT_EQ(stat.value().size, 0u);
  CollectingHandler archive = download("/tmp/empty");
  ASSERT_EQ(archive.entries.count("empty"), 1u);
  EXPECT_EQ(archive.data["empty"], "");
}

TEST_P(FilesTest, DirectoryTreeRoundTrip) {
  create(spec("files"));
  upload("/tmp",
         tarOf({{"tree/a.txt", "alpha"}, {"tree/sub/b.txt", "beta"}}, {"tree", "tree/sub"}));
  EXPECT_EQ(run("files", {"cat", "/tmp/tree/sub/b.txt"}).out, "beta");
  CollectingHandler archive = download("/tmp/tree");
  std::vector<std::string> names;
  for (const auto& [name, entry] : archive.entries) names.push_back(name);
  EXPECT_EQ(names, (std::vector<std::string>{"tree", "tree/a.txt", "tree/sub", "tree/sub/b.txt"}));
  EXPECT_EQ(archive.entries["tree"].type, TarEntryType::kDirectory);
  EXPECT_EQ(archive.data["tree/a.txt"], "alpha");
  EXPECT_EQ(archive.data["tree/sub/b.txt"], "beta");
}

TEST_P(FilesTest, StatFileDirectorySymlinkAndMissing) {
  create(spec("files"));
  ASSERT_EQ(run("files", {"bash", "-c",
                          "mkdir -p /srv/d && printf 12345 > /srv/d/f && chmod 4750 /srv/d/f && "
                          "ln -s f /srv/d/link && touch -d @1700000000 /srv/d/f"})
                .exit_code,
            0);
  auto file = backend_->statPath("files", "/srv/d/f", patient());
  ASSERT_TRUE(file.ok()) << file.error().message;
  EXPECT_EQ(file.value().name, "f");
  EXPECT_EQ(file.value().type, FileType::kFile);
  EXPECT_EQ(file.value().size, 5u);
  EXPECT_EQ(file.value().mode, 04750u);
  EXPECT_EQ(file.value().mtime, 1700000000);

  auto directory = backend_->statPath("files", "/srv/d", patient());
  ASSERT_TRUE(directory.ok()) << directory.error().message;
  EXPECT_EQ(directory.value().name, "d");
  EXPECT_EQ(directory.value().type, FileType::kDirectory);

  auto root = backend_->statPath("files", "/", patient());
  ASSERT_TRUE(root.ok()) << root.error().message;
  EXPECT_EQ(root.value().type, FileType::kDirectory);

  auto missing = backend_->statPath("files", "/srv/d/nope", patient());
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().code, ErrorCode::kNotFound) << missing.error().message;

  auto link = backend_->statPath("files", "/srv/d/link", patient());
  ASSERT_TRUE(link.ok()) << link.error().message;
  EXPECT_EQ(link.value().name, "link");
  EXPECT_EQ(link.value().type, FileType::kSymlink);
  EXPECT_EQ(link.value().link_target, "f");
}

TEST_P(FilesTest, ExtractIntoMissingDirectoryIsNotFound) {
  create(spec("files"));
  StringSource source(tarOf({{"x", "x"}}));
  auto extracted = backend_->extractArchive("files", "/no/such/dir", source, patient());
  ASSERT_FALSE(extracted.ok());
  EXPECT_EQ(extracted.error().code, ErrorCode::kNotFound) << extracted.error().message;
  // Nothing was made on the way (Podman would create the directory).
  EXPECT_EQ(run("files", {"test", "-e", "/no"}).exit_code, 1);
}

TEST_P(FilesTest, FileWhereDirectoryIsExpectedIsConflict) {
  create(spec("files"));
  ASSERT_EQ(run("files", {"bash", "-c", "mkdir -p /srv && echo f > /srv/file"}).exit_code, 0);
  StringSource into_file(tarOf({{"x", "x"}}));
  auto extracted = backend_->extractArchive("files", "/srv/file", into_file, patient());
  ASSERT_FALSE(extracted.ok());
  EXPECT_EQ(extracted.error().code, ErrorCode::kConflict) << extracted.error().message;

  // A directory entry over an existing file: the engine refuses it.
  StringSource over_file(tarOf({{"file/inner", "x"}}, {"file"}));
  auto refused = backend_->extractArchive("files", "/srv", over_file, patient());
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().code, ErrorCode::kConflict) << refused.error().message;
  EXPECT_EQ(run("files", {"cat", "/srv/file"}).out, "f\n");
}

TEST_P(FilesTest, CreateArchiveOfMissingPathIsNotFound) {
  create(spec("files"));
  CollectingHandler handler;
  TarSink sink(handler);
  auto archived = backend_->createArchive("files", "/no/such/file", sink, patient());
  ASSERT_FALSE(archived.ok());
  EXPECT_EQ(archived.error().code, ErrorCode::kNotFound) << archived.error().message;
}

TEST_P(FilesTest, LargeStreamStaysInBoundedPieces) {
  create(spec("files"));
  constexpr uint64_t kSize = 64ull << 20;
  GeneratedFileSource source("big", kSize);
  auto extracted = backend_->extractArchive("files", "/tmp", source, patient());
  ASSERT_TRUE(extracted.ok()) << extracted.error().message;
  EXPECT_LE(source.largestRequest(), engine::kStreamPieceBytes);
  EXPECT_EQ(run("files", {"stat", "-c", "%s", "/tmp/big"}).out, std::to_string(kSize) + "\n");

  PatternChecker checker;
  TarSink sink(checker);
  auto archived = backend_->createArchive("files", "/tmp/big", sink, patient());
  ASSERT_TRUE(archived.ok()) << archived.error().message;
  EXPECT_TRUE(sink.finish().ok());
  EXPECT_EQ(checker.size, kSize);
  EXPECT_EQ(checker.checked, kSize);
  EXPECT_LE(sink.largestPiece(), engine::kStreamPieceBytes);
}

TEST_P(FilesTest, FailingSinkEndsTheCall) {
  create(spec("files"));
  ASSERT_EQ(run("files", {"bash", "-c", "head -c 67108864 /dev/zero > /tmp/zeros"}).exit_code, 0);
  class FailingSink : public ByteSink {
   public:
    Result<void> write(std::string_view) override {
      if (++writes < 2) return {};
      return fail(ErrorCode::kUnavailable, "client went away");
    }
    int writes = 0;
  } sink;
  const auto started = Clock::now();
  auto archived = backend_->createArchive("files", "/tmp/zeros", sink, patient());
  ASSERT_FALSE(archived.ok());
  EXPECT_EQ(archived.error().message, "client went away");
  EXPECT_EQ(sink.writes, 2);
  EXPECT_LT(Clock::now() - started, kPatience);  // a hang bound, not a timing assert
  // The backend still answers for the sandbox afterwards.
  auto stat = backend_->statPath("files", "/tmp/zeros", patient());
  ASSERT_TRUE(stat.ok()) << stat.error().message;
  EXPECT_EQ(stat.value().size, 64u << 20);
}

TEST_P(FilesTest, MakeDirectoryExistingNewAndOverFile) {
  create(spec("files"));
  EXPECT_TRUE(backend_->makeDirectory("files", "/tmp", 0755, patient()).ok());
  // /tmp keeps its mode: an existing directory is left alone.
  EXPECT_EQ(run("files", {"stat", "-c", "%a", "/tmp"}).out, "1777\n");
  auto made = backend_->makeDirectory("files", "/srv/new/deeper", 0750, patient());
  ASSERT_TRUE(made.ok()) << made.error().message;
  auto stat = backend_->statPath("files", "/srv/new/deeper", patient());
  ASSERT_TRUE(stat.ok()) << stat.error().message;
  EXPECT_EQ(stat.value().type, FileType::kDirectory);
  ASSERT_EQ(run("files", {"bash", "-c", "echo f > /srv/file"}).exit_code, 0);
  EXPECT_FALSE(backend_->makeDirectory("files", "/srv/file", 0755, patient()).ok());
}

// gVisor serves the root file system from its own cache, so the engine's host-side archive
// endpoint does not see what the sandbox sees: the backend uses the core's defaults there.
TEST_P(FilesTest, GvisorSandboxRoundTripsThroughTheDefaults) {
  SandboxSpec gvisor = spec("files");
  gvisor.isolation = Isolation::kGvisor;
  if (auto supported = backend_->checkSpec(gvisor); !supported.ok()) {
    GTEST_SKIP() << "gVisor unavailable: " << supported.error().message;
  }
  create(gvisor);
  upload("/tmp", tarOf({{"inside", std::string("g\0v", 3)}}));
  EXPECT_EQ(run("files", {"od", "-An", "-c", "/tmp/inside"}).out, "   g  \\0   v\n");
  ASSERT_EQ(run("files", {"bash", "-c", "printf made > /tmp/made"}).exit_code, 0);
  auto stat = backend_->statPath("files", "/tmp/made", patient());
  ASSERT_TRUE(stat.ok()) << stat.error().message;
  EXPECT_EQ(stat.value().size, 4u);
  CollectingHandler archive = download("/tmp/made");
  EXPECT_EQ(archive.data["made"], "made");
}

}  // namespace

// Instantiated here for both dialects, like EngineBackendTest in engine_backend_test.cc.
INSTANTIATE_TEST_SUITE_P(Docker, FilesTest, ::testing::Values(dockerHooks()), engineTestName);
INSTANTIATE_TEST_SUITE_P(Podman, FilesTest, ::testing::Values(podmanHooks()), engineTestName);

}  // namespace grid::testing
