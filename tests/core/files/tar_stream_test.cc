#include "files/tar_stream.h"

#include <gtest/gtest.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <vector>

namespace grid {
namespace {

namespace fs = std::filesystem;

// --- helpers ---

struct SeenEntry {
  TarEntry entry;
  std::string data;
  bool ended = false;
};

// Collects every entry with its data; checks the callback order as it goes.
class CollectingHandler : public TarHandler {
 public:
  Result<void> onEntry(const TarEntry& entry) override {
    EXPECT_TRUE(entries.empty() || entries.back().ended) << "onEntry before onEntryEnd";
    entries.push_back({entry, "", false});
    return {};
  }
  Result<void> onData(std::string_view chunk) override {
    EXPECT_FALSE(entries.empty());
    EXPECT_FALSE(chunk.empty());
    entries.back().data.append(chunk);
    return {};
  }
  Result<void> onEntryEnd() override {
    EXPECT_FALSE(entries.back().ended);
    EXPECT_EQ(entries.back().data.size(), entries.back().entry.size);
    entries.back().ended = true;
    return {};
  }
  std::vector<SeenEntry> entries;
};

// Feeds `stream` in chunks whose sizes cycle through `sizes`, then finishes.
Result<void> feedChunked(TarReader& reader, std::string_view stream,
                         const std::vector<size_t>& sizes) {
  size_t i = 0;
  while (!stream.empty()) {
    const size_t n = std::min(stream.size(), std::max<size_t>(1, sizes[i++ % sizes.size()]));
    GRID_TRY(reader.feed(stream.substr(0, n)));
    stream.remove_prefix(n);
  }
  return reader.finish();
}

Result<std::vector<SeenEntry>> readAll(std::string_view stream,
                                       const std::vector<size_t>& sizes = {4096}) {
  CollectingHandler handler;
  TarReader reader(handler);
  GRID_TRY(feedChunked(reader, stream, sizes));
  EXPECT_TRUE(reader.ended());
  EXPECT_EQ(reader.offset(), stream.size());
  return handler.entries;
}

std::string pattern(size_t size, uint32_t seed) {
  std::mt19937 rng(seed);
  std::string out(size, '\0');
  for (auto& c : out) c = static_cast<char>(rng());
  return out;
}

// A whole archive of files and directories, written with TarWriter.
struct Member {
  TarEntryInfo info;
  std::string content;
  bool directory = false;
};

std::string writeArchive(const std::vector<Member>& members) {
  TarWriter tar;
  std::string out;
  for (const auto& m : members) {
    if (m.directory) {
      auto header = tar.directory(m.info);
      EXPECT_TRUE(header.ok()) << header.error().message;
      out += header.value();
      continue;
    }
    TarEntryInfo info = m.info;
    info.size = m.content.size();
    auto header = tar.beginFile(info);
    EXPECT_TRUE(header.ok()) << header.error().message;
    out += header.value();
    // Pass the data through in uneven pieces, as a caller streaming a body would.
    std::string_view rest = m.content;
    size_t piece = 1;
    while (!rest.empty()) {
      const auto chunk = rest.substr(0, piece);
      EXPECT_TRUE(tar.fileData(chunk).ok());
      out.append(chunk);
      rest.remove_prefix(chunk.size());
      piece = piece * 3 + 1;
    }
    out += tar.endFile().value();
  }
  out += tar.finish().value();
  return out;
}

// A fresh directory under /tmp, removed with its contents at the end of the test.
class TempDir {
 public:
  TempDir() {
    char templ[] = "/tmp/grid-tar-test-XXXXXX";
    const char* made = mkdtemp(templ);
    EXPECT_NE(made, nullptr);
    path_ = made ? made : "";
  }
  ~TempDir() {
    std::error_code ec;
    if (!path_.empty()) fs::remove_all(path_, ec);
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

void writeFile(const std::string& path, std::string_view data) {
  std::ofstream out(path, std::ios::binary);
  out.write(data.data(), static_cast<std::streamsize>(data.size()));
  ASSERT_TRUE(out.good()) << path;
}

std::string readFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

// Runs a shell command; returns its exit status and fills `out` with its stdout.
int run(const std::string& command, std::string* out = nullptr) {
  FILE* pipe = popen(command.c_str(), "r");
  if (!pipe) return -1;
  std::array<char, 4096> buf;
  size_t n;
  while ((n = fread(buf.data(), 1, buf.size(), pipe)) > 0) {
    if (out) out->append(buf.data(), n);
  }
  const int status = pclose(pipe);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

bool haveGnuTar() {
  std::string version;
  return run("tar --version 2>/dev/null", &version) == 0 &&
         version.find("GNU tar") != std::string::npos;
}

#define REQUIRE_GNU_TAR()                                      \
  do {                                                         \
    if (!haveGnuTar()) {                                       \
      if (getenv("CI")) FAIL() << "GNU tar is required in CI"; \
      GTEST_SKIP() << "GNU tar is not installed";              \
    }                                                          \
  } while (0)

// Recomputes a header block's checksum after a test patched it.
void fixChecksum(char* block) {
  std::memset(block + 148, ' ', 8);
  unsigned sum = 0;
  for (size_t i = 0; i < 512; ++i) sum += static_cast<unsigned char>(block[i]);
  snprintf(block + 148, 8, "%06o", sum);
}

// A single-file archive whose first header a test can patch.
std::string oneFileArchive(std::string_view content = "hello") {
  return writeArchive({{{.name = "f.txt", .mode = 0644}, std::string(content)}});
}

std::string errorOf(std::string_view stream, size_t max_extended = kMaxTarExtendedHeaderBytes) {
  CollectingHandler handler;
  TarReader reader(handler, max_extended);
  auto r = feedChunked(reader, stream, {4096});
  if (r.ok()) return "";
  EXPECT_EQ(r.error().code, ErrorCode::kInvalidArgument);
  return r.error().message;
}

// --- round trips ---

const std::string kLongDirName = std::string(120, 'd') + "/" + std::string(90, 'n');  // prefix
const std::string kVeryLongName =
    std::string(200, 'x') + "/" + std::string(200, 'y') + "/" + std::string(200, 'z');  // pax
const std::string kLongNoSlash = std::string(150, 'q');                                 // pax

std::vector<Member> sampleMembers() {
  return {
      {{.name = "dir", .mode = 0755, .mtime = 1700000000}, "", true},
      {{.name = "dir/hello.txt", .mode = 0644, .mtime = 1700000001}, "hello\n"},
      {{.name = "dir/empty", .mode = 0600}, ""},
      {{.name = "dir/block", .mode = 0640}, pattern(512, 1)},
      {{.name = "dir/block+1", .mode = 0640}, pattern(513, 2)},
      {{.name = "dir/script.sh", .mode = 04755, .uid = 1000, .gid = 1000}, "#!/bin/sh\n"},
      {{.name = kLongDirName, .mode = 0644}, pattern(1000, 3)},
      {{.name = kVeryLongName, .mode = 0644}, pattern(70000, 4)},
      {{.name = kLongNoSlash, .mode = 0644}, "q"},
      {{.name = "a/b/c", .mode = 0700}, "", true},
  };
}

void expectMatches(const std::vector<Member>& members, const std::vector<SeenEntry>& seen) {
  ASSERT_EQ(seen.size(), members.size());
  for (size_t i = 0; i < members.size(); ++i) {
    const auto& m = members[i];
    const auto& s = seen[i];
    SCOPED_TRACE(m.info.name);
    EXPECT_TRUE(s.ended);
    EXPECT_EQ(s.entry.type, m.directory ? TarEntryType::kDirectory : TarEntryType::kFile);
    EXPECT_EQ(s.entry.name, m.directory ? m.info.name + "/" : m.info.name);
    EXPECT_EQ(s.entry.mode, m.info.mode);
    EXPECT_EQ(s.entry.mtime, m.info.mtime);
    EXPECT_EQ(s.entry.uid, m.info.uid);
    EXPECT_EQ(s.entry.gid, m.info.gid);
    EXPECT_EQ(s.entry.size, m.content.size());
    EXPECT_TRUE(s.data == m.content);
  }
}

TEST(TarStreamTest, RoundTripInChunksOfEverySize) {
  const auto members = sampleMembers();
  const std::string stream = writeArchive(members);
  EXPECT_EQ(stream.size() % 512, 0u);
  for (const size_t size : {1, 7, 512, 4096, 1 << 20}) {
    SCOPED_TRACE(size);
    auto seen = readAll(stream, {size});
    ASSERT_TRUE(seen.ok()) << seen.error().message;
    expectMatches(members, seen.value());
  }
}

TEST(TarStreamTest, RoundTripInRandomChunks) {
  const auto members = sampleMembers();
  const std::string stream = writeArchive(members);
  std::mt19937 rng(42);
  for (int round = 0; round < 20; ++round) {
    std::vector<size_t> sizes(64);
    for (auto& s : sizes) s = 1 + rng() % 1500;
    auto seen = readAll(stream, sizes);
    ASSERT_TRUE(seen.ok()) << seen.error().message;
    expectMatches(members, seen.value());
  }
}

TEST(TarStreamTest, WriterFramesExactly) {
  TarWriter tar;
  auto header = tar.beginFile({.name = "x", .size = 512});
  ASSERT_TRUE(header.ok());
  EXPECT_EQ(header.value().size(), 512u);
  ASSERT_TRUE(tar.fileData(std::string(512, 'a')).ok());
  EXPECT_EQ(tar.endFile().value().size(), 0u);  // exactly one block: no padding
  ASSERT_TRUE(tar.beginFile({.name = "y", .size = 1}).ok());
  ASSERT_TRUE(tar.fileData("b").ok());
  EXPECT_EQ(tar.endFile().value().size(), 511u);
  EXPECT_EQ(tar.finish().value(), std::string(1024, '\0'));
  // A name that fits the ustar prefix and name fields needs no pax header; others do.
  EXPECT_EQ(TarWriter().beginFile({.name = kLongDirName}).value().size(), 512u);
  EXPECT_EQ(TarWriter().beginFile({.name = kLongNoSlash}).value().size(), 3 * 512u);
  EXPECT_EQ(TarWriter().directory({.name = std::string(100, 'd')}).value().size(), 3 * 512u);
}

TEST(TarStreamTest, HugeSizesAndTimesUseBase256) {
  // A header announcing 10 GiB (beyond octal's 8 GiB) and a pre-1970 mtime: the reader sees
  // them back; the data is not there, so the stream is cut after the header.
  TarWriter tar;
  const uint64_t ten_gib = uint64_t{10} << 30;
  auto header = tar.beginFile({.name = "big", .size = ten_gib, .mtime = -86400, .uid = 3000000});
  ASSERT_TRUE(header.ok());
  EXPECT_EQ(static_cast<unsigned char>(header.value()[124]), 0x80);
  CollectingHandler handler;
  TarReader reader(handler);
  ASSERT_TRUE(reader.feed(header.value()).ok());
  ASSERT_TRUE(reader.feed("some data").ok());
  ASSERT_EQ(handler.entries.size(), 1u);
  EXPECT_EQ(handler.entries[0].entry.size, ten_gib);
  EXPECT_EQ(handler.entries[0].entry.mtime, -86400);
  EXPECT_EQ(handler.entries[0].entry.uid, 3000000u);
  EXPECT_EQ(handler.entries[0].data, "some data");
  auto end = reader.finish();
  ASSERT_FALSE(end.ok());
  EXPECT_NE(end.error().message.find("truncated entry data"), std::string::npos);
}

TEST(TarStreamTest, WriterRefusesMisuse) {
  TarWriter tar;
  EXPECT_FALSE(tar.beginFile({.name = ""}).ok());
  EXPECT_FALSE(tar.beginFile({.name = std::string("a\0b", 3)}).ok());
  EXPECT_FALSE(tar.beginFile({.name = "dir/"}).ok());
  EXPECT_FALSE(tar.directory({.name = "/"}).ok());
  EXPECT_FALSE(tar.beginFile({.name = std::string(70000, 'n')}).ok());
  EXPECT_FALSE(tar.fileData("x").ok());  // no file open
  ASSERT_TRUE(tar.beginFile({.name = "f", .size = 3}).ok());
  EXPECT_FALSE(tar.directory({.name = "d"}).ok());  // file still open
  EXPECT_FALSE(tar.finish().ok());
  EXPECT_FALSE(tar.fileData("abcd").ok());  // more than announced
  ASSERT_TRUE(tar.fileData("ab").ok());
  EXPECT_EQ(tar.remainingFileBytes(), 1u);
  auto short_end = tar.endFile();
  ASSERT_FALSE(short_end.ok());
  EXPECT_NE(short_end.error().message.find("1 bytes short"), std::string::npos);
  ASSERT_TRUE(tar.fileData("c").ok());
  ASSERT_TRUE(tar.endFile().ok());
  ASSERT_TRUE(tar.finish().ok());
  EXPECT_FALSE(tar.finish().ok());
  EXPECT_FALSE(tar.directory({.name = "late"}).ok());
}

// --- against GNU tar ---

TEST(TarStreamTest, GnuTarExtractsWhatTheWriterWrote) {
  REQUIRE_GNU_TAR();
  TempDir dir;
  const std::string archive = dir.path() + "/out.tar";
  const std::string dest = dir.path() + "/x";
  fs::create_directory(dest);
  const auto members = sampleMembers();
  writeFile(archive, writeArchive(members));

  std::string listing;
  ASSERT_EQ(run("tar -tf " + archive, &listing), 0);
  for (const auto& m : members) {
    const std::string name = m.directory ? m.info.name + "/" : m.info.name;
    EXPECT_NE(listing.find(name + "\n"), std::string::npos) << name;
  }
  ASSERT_EQ(run("tar -xpf " + archive + " -C " + dest + " 2>&1"), 0);
  for (const auto& m : members) {
    SCOPED_TRACE(m.info.name);
    const std::string path = dest + "/" + m.info.name;
    struct stat st {};
    ASSERT_EQ(lstat(path.c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 07777, m.info.mode);
    if (m.directory) {
      EXPECT_TRUE(S_ISDIR(st.st_mode));
      continue;
    }
    EXPECT_TRUE(S_ISREG(st.st_mode));
    EXPECT_EQ(static_cast<size_t>(st.st_size), m.content.size());
    EXPECT_TRUE(readFile(path) == m.content);
    if (m.info.mtime != 0) {
      EXPECT_EQ(st.st_mtime, m.info.mtime);
    }
  }
}

// Builds a tree on disk, archives it with GNU tar in `format`, and reads it back.
void checkGnuTarArchive(const std::string& format) {
  TempDir dir;
  const std::string src = dir.path() + "/src";
  const std::string deep =
      src + "/" + std::string(60, 'a') + "/" + std::string(60, 'b') + "/" + std::string(60, 'c');
  fs::create_directories(deep);
  const std::string big = pattern(100000, 7);
  writeFile(src + "/empty", "");
  writeFile(src + "/block", std::string(512, 'b'));
  writeFile(src + "/big", big);
  writeFile(deep + "/" + std::string(90, 'f'), "deep");
  ASSERT_EQ(chmod((src + "/big").c_str(), 0750), 0);
  ASSERT_EQ(symlink("big", (src + "/link").c_str()), 0);
  ASSERT_EQ(link((src + "/block").c_str(), (src + "/hard").c_str()), 0);
  const std::string archive = dir.path() + "/in.tar";
  // Fixed order, owner and time so the expectations below hold.
  ASSERT_EQ(run("tar --format=" + format +
                " --sort=name --owner=someone:4000000 --group=grp:7 --mtime=@1600000000 -cf " +
                archive + " -C " + src + " . 2>&1"),
            0);

  auto seen = readAll(readFile(archive), {333});
  ASSERT_TRUE(seen.ok()) << seen.error().message;
  std::map<std::string, SeenEntry> by_name;
  for (auto& s : seen.value()) by_name[s.entry.name] = s;
  ASSERT_TRUE(by_name.count("./")) << "root entry";
  EXPECT_EQ(by_name["./"].entry.type, TarEntryType::kDirectory);
  EXPECT_EQ(by_name["./empty"].entry.size, 0u);
  EXPECT_EQ(by_name["./block"].data, std::string(512, 'b'));
  EXPECT_TRUE(by_name["./big"].data == big);
  EXPECT_EQ(by_name["./big"].entry.mode, 0750u);
  EXPECT_EQ(by_name["./big"].entry.mtime, 1600000000);
  EXPECT_EQ(by_name["./big"].entry.gid, 7u);
  EXPECT_EQ(by_name["./big"].entry.uid, 4000000u);
  EXPECT_EQ(by_name["./link"].entry.type, TarEntryType::kSymlink);
  EXPECT_EQ(by_name["./link"].entry.linkname, "big");
  EXPECT_EQ(by_name["./link"].entry.size, 0u);
  // "block" sorts before "hard": the later name is the link.
  EXPECT_EQ(by_name["./hard"].entry.type, TarEntryType::kHardlink);
  EXPECT_EQ(by_name["./hard"].entry.linkname, "./block");
  const std::string deep_file =
      "./" + fs::relative(deep, src).string() + "/" + std::string(90, 'f');
  ASSERT_TRUE(by_name.count(deep_file)) << deep_file;
  EXPECT_EQ(by_name[deep_file].data, "deep");
}

TEST(TarStreamTest, ReadsGnuTarGnuFormat) {
  REQUIRE_GNU_TAR();
  checkGnuTarArchive("gnu");
}

TEST(TarStreamTest, ReadsGnuTarPaxFormat) {
  REQUIRE_GNU_TAR();
  checkGnuTarArchive("pax");
}

TEST(TarStreamTest, ReadsGnuTarUstarFormat) {
  REQUIRE_GNU_TAR();
  // ustar cannot hold uid 4000000; use a smaller owner.
  TempDir dir;
  writeFile(dir.path() + "/f", "ustar data");
  const std::string archive = dir.path() + "/u.tar";
  ASSERT_EQ(run("tar --format=ustar -cf " + archive + " -C " + dir.path() + " f 2>&1"), 0);
  auto seen = readAll(readFile(archive), {1});
  ASSERT_TRUE(seen.ok()) << seen.error().message;
  ASSERT_EQ(seen.value().size(), 1u);
  EXPECT_EQ(seen.value()[0].entry.name, "f");
  EXPECT_EQ(seen.value()[0].data, "ustar data");
}

TEST(TarStreamTest, SparseFilesAreNotRegularFiles) {
  REQUIRE_GNU_TAR();
  // A sparse member's data is a map and the stored pieces: passing it on as the file's bytes
  // would be wrong, so it is "other", in both of GNU tar's encodings.
  TempDir dir;
  const std::string file = dir.path() + "/sparse";
  ASSERT_EQ(run("truncate -s 1M " + file + " && printf x >> " + file), 0);
  for (const std::string format : {"gnu", "pax"}) {
    SCOPED_TRACE(format);
    const std::string archive = dir.path() + "/" + format + ".tar";
    ASSERT_EQ(run("tar --format=" + format + " --sparse -cf " + archive + " -C " + dir.path() +
                  " sparse 2>&1"),
              0);
    auto seen = readAll(readFile(archive), {1000});
    ASSERT_TRUE(seen.ok()) << seen.error().message;
    ASSERT_EQ(seen.value().size(), 1u);
    EXPECT_EQ(seen.value()[0].entry.type, TarEntryType::kOther);
    EXPECT_EQ(seen.value()[0].entry.typeflag, 'S');
  }
}

// --- hostile input ---

TEST(TarStreamTest, BadChecksum) {
  std::string stream = oneFileArchive();
  stream[0] = 'g';  // name changed, checksum not
  EXPECT_NE(errorOf(stream).find("checksum mismatch"), std::string::npos);
  std::string garbage_field = oneFileArchive();
  std::memcpy(garbage_field.data() + 148, "zzzzzz\0 ", 8);
  EXPECT_NE(errorOf(garbage_field).find("checksum mismatch"), std::string::npos);
}

TEST(TarStreamTest, NotATarStream) {
  EXPECT_NE(errorOf(std::string(2048, 'A')).find("checksum"), std::string::npos);
  EXPECT_NE(errorOf("<html>503 Service Unavailable</html>").find("truncated header"),
            std::string::npos);
}

TEST(TarStreamTest, GarbageSizeField) {
  std::string stream = oneFileArchive();
  std::memcpy(stream.data() + 124, "12x4567\0\0\0\0\0", 12);
  fixChecksum(stream.data());
  EXPECT_NE(errorOf(stream).find("invalid size field"), std::string::npos);
  // Base-256 that overflows 64 bits.
  std::memset(stream.data() + 124, 0xff, 12);
  stream[124] = static_cast<char>(0x80);
  fixChecksum(stream.data());
  EXPECT_NE(errorOf(stream).find("invalid size field"), std::string::npos);
  // Base-256 negative.
  std::memset(stream.data() + 124, 0xff, 12);
  fixChecksum(stream.data());
  EXPECT_NE(errorOf(stream).find("invalid size field"), std::string::npos);
}

TEST(TarStreamTest, HugeSizeIsRefused) {
  std::string stream = oneFileArchive();
  std::memset(stream.data() + 124, 0, 12);
  stream[124] = static_cast<char>(0x80);
  stream[128] = 0x7f;  // about 2^63
  fixChecksum(stream.data());
  EXPECT_NE(errorOf(stream).find("too large"), std::string::npos);
  // The largest octal size (8 GiB - 1) is fine in itself: the stream is just short.
  std::memcpy(stream.data() + 124, "77777777777\0", 12);
  fixChecksum(stream.data());
  EXPECT_NE(errorOf(stream).find("truncated entry data"), std::string::npos);
}

TEST(TarStreamTest, TruncatedStreams) {
  const std::string stream = oneFileArchive(std::string(1000, 'x'));
  EXPECT_NE(errorOf(stream.substr(0, 300)).find("truncated header at offset 0 (300 of 512"),
            std::string::npos);
  EXPECT_NE(errorOf(stream.substr(0, 512 + 700)).find("truncated entry data: 300 bytes missing"),
            std::string::npos);
  EXPECT_NE(errorOf(stream.substr(0, 512 + 1010)).find("truncated entry padding"),
            std::string::npos);
  EXPECT_NE(errorOf(stream.substr(0, 512 + 1024)).find("without the end-of-archive"),
            std::string::npos);
  EXPECT_NE(errorOf(stream.substr(0, 512 + 1024 + 512 + 100)).find("truncated end-of-archive"),
            std::string::npos);
  EXPECT_EQ(errorOf(stream.substr(0, 512 + 1024 + 512)), "");  // a lone zero block at the end
  EXPECT_NE(errorOf("").find("without the end-of-archive"), std::string::npos);
}

TEST(TarStreamTest, TrailingBlocksAfterTheEndAreIgnored) {
  std::string stream = oneFileArchive() + std::string(10240, '\0') + "junk after the end";
  auto seen = readAll(stream, {100});
  ASSERT_TRUE(seen.ok()) << seen.error().message;
  EXPECT_EQ(seen.value().size(), 1u);
}

TEST(TarStreamTest, LoneZeroBlockBeforeAHeader) {
  const std::string file = oneFileArchive();
  const std::string body = file.substr(0, file.size() - 1024);
  const std::string stream = body + std::string(512, '\0') + body + std::string(1024, '\0');
  EXPECT_NE(errorOf(stream).find("lone zero block"), std::string::npos);
}

// An extended header ('x', 'g', 'L' or 'K') of `size` bytes with `payload` (up to size).
std::string extendedHeader(char type, uint64_t size, std::string_view payload) {
  std::string block(512, '\0');
  std::memcpy(block.data(), "././@PaxHeader", 14);
  std::memcpy(block.data() + 100, "0000644", 7);
  std::memcpy(block.data() + 108, "0000000", 7);
  std::memcpy(block.data() + 116, "0000000", 7);
  snprintf(block.data() + 124, 12, "%011llo", static_cast<unsigned long long>(size));
  std::memcpy(block.data() + 136, "00000000000", 11);
  block[156] = type;
  std::memcpy(block.data() + 257,
              "ustar\0"
              "00",
              8);
  fixChecksum(block.data());
  std::string out = block + std::string(payload);
  if (payload.size() == size) out.append((512 - size % 512) % 512, '\0');
  return out;
}

std::string paxRecordForTest(std::string_view key, std::string_view value) {
  const size_t body = key.size() + value.size() + 3;
  size_t length = body + 1;
  while (std::to_string(length).size() + body != length) ++length;
  return std::to_string(length) + " " + std::string(key) + "=" + std::string(value) + "\n";
}

TEST(TarStreamTest, EndlessExtendedHeadersAreBounded) {
  // One that claims a gigabyte is refused at its header, before any of it is buffered.
  for (const char type : {'x', 'g', 'L', 'K'}) {
    const std::string header = extendedHeader(type, uint64_t{1} << 30, "");
    CollectingHandler handler;
    TarReader reader(handler);
    auto r = reader.feed(header);
    ASSERT_FALSE(r.ok()) << type;
    EXPECT_NE(r.error().message.find("exceeds the limit of 65536"), std::string::npos);
  }
  // A chain of small ones adds up against the same bound.
  const std::string comment = paxRecordForTest("comment", std::string(30000, 'c'));
  std::string chain;
  for (int i = 0; i < 3; ++i) chain += extendedHeader('x', comment.size(), comment);
  EXPECT_NE(errorOf(chain + oneFileArchive()).find("exceeds the limit"), std::string::npos);
  // Two of them are fine, and the entry after them is read.
  auto seen = readAll(chain.substr(0, chain.size() * 2 / 3) + oneFileArchive());
  ASSERT_TRUE(seen.ok()) << seen.error().message;
  EXPECT_EQ(seen.value().at(0).entry.name, "f.txt");
  // The bound is configurable.
  const std::string path = paxRecordForTest("path", std::string(200, 'p'));
  EXPECT_NE(errorOf(extendedHeader('x', path.size(), path) + oneFileArchive(), 100)
                .find("exceeds the limit of 100"),
            std::string::npos);
}

TEST(TarStreamTest, MalformedPaxRecords) {
  for (const std::string& records :
       {std::string("5 a=b\n"), std::string("99 path=x\n"), std::string("11 path=abc"),
        std::string("x path=a\n"), std::string("7 =abc\n"), std::string("6 abcd\n"),
        paxRecordForTest("size", "12a"), paxRecordForTest("size", "99999999999999999999"),
        paxRecordForTest("mtime", "1.2.3"), paxRecordForTest("mtime", "12.0000000000000000000000x"),
        paxRecordForTest("mtime", "99999999999999999999"), paxRecordForTest("uid", "-1")}) {
    SCOPED_TRACE(records);
    EXPECT_NE(errorOf(extendedHeader('x', records.size(), records) + oneFileArchive())
                  .find("extended header"),
              std::string::npos);
  }
  // Unknown keys and a global header are skipped; the fractional mtime is cut.
  const std::string records =
      paxRecordForTest("SCHILY.xattr.user.x", "y") + paxRecordForTest("mtime", "1234.5678");
  auto seen = readAll(extendedHeader('g', records.size(), records) +
                      extendedHeader('x', records.size(), records) + oneFileArchive());
  ASSERT_TRUE(seen.ok()) << seen.error().message;
  EXPECT_EQ(seen.value().at(0).entry.mtime, 1234);
}

TEST(TarStreamTest, ExtendedHeaderWithoutItsEntry) {
  const std::string path = paxRecordForTest("path", "p");
  const std::string header = extendedHeader('x', path.size(), path);
  EXPECT_NE(errorOf(header).find("before its entry"), std::string::npos);
  EXPECT_NE(errorOf(header + std::string(1024, '\0')).find("right after an extended header"),
            std::string::npos);
  EXPECT_NE(errorOf(header.substr(0, 515)).find("truncated extended header"), std::string::npos);
}

TEST(TarStreamTest, NamesAreReportedVerbatim) {
  const std::string nul_name("a\0b/../x", 8);
  const std::string records =
      paxRecordForTest("path", "../../etc/passwd") + paxRecordForTest("linkpath", nul_name);
  const std::string gnu_long = std::string(300, 'L') + std::string("\0junk", 5);
  auto seen = readAll(extendedHeader('x', records.size(), records) + oneFileArchive() +
                      extendedHeader('L', gnu_long.size(), gnu_long) + oneFileArchive() +
                      writeArchive({{{.name = "/abs/../path"}, "z"}}));
  ASSERT_TRUE(seen.ok()) << seen.error().message;
  // Each oneFileArchive() and writeArchive() ends the archive; only the first part is read.
  ASSERT_EQ(seen.value().size(), 1u);
  EXPECT_EQ(seen.value()[0].entry.name, "../../etc/passwd");
  EXPECT_EQ(seen.value()[0].entry.linkname, nul_name);

  auto file = oneFileArchive();
  auto gnu = readAll(extendedHeader('L', gnu_long.size(), gnu_long) + file);
  ASSERT_TRUE(gnu.ok()) << gnu.error().message;
  EXPECT_EQ(gnu.value()[0].entry.name, std::string(300, 'L'));  // up to the NUL, as GNU tar
  auto abs = readAll(writeArchive({{{.name = "/abs/../path"}, "z"}}));
  ASSERT_TRUE(abs.ok());
  EXPECT_EQ(abs.value()[0].entry.name, "/abs/../path");
}

TEST(TarStreamTest, HeaderOnlyTypesCarryNoData) {
  // A symlink header whose size field says 100: no data follows it (as Go reads it).
  std::string stream = oneFileArchive("");
  stream[156] = '2';
  std::memcpy(stream.data() + 124, "00000000144\0", 12);
  std::memcpy(stream.data() + 157, "target", 6);
  fixChecksum(stream.data());
  auto seen = readAll(stream);
  ASSERT_TRUE(seen.ok()) << seen.error().message;
  EXPECT_EQ(seen.value()[0].entry.type, TarEntryType::kSymlink);
  EXPECT_EQ(seen.value()[0].entry.size, 0u);
  EXPECT_EQ(seen.value()[0].entry.linkname, "target");
  // A fifo is "other", with its typeflag.
  stream[156] = '6';
  fixChecksum(stream.data());
  seen = readAll(stream);
  ASSERT_TRUE(seen.ok());
  EXPECT_EQ(seen.value()[0].entry.type, TarEntryType::kOther);
  EXPECT_EQ(seen.value()[0].entry.typeflag, '6');
  EXPECT_STREQ(tarEntryTypeName(TarEntryType::kOther), "other");
}

TEST(TarStreamTest, UnknownMagicIsRefused) {
  std::string stream = oneFileArchive();
  std::memcpy(stream.data() + 257, "zip\0\0\0", 6);
  fixChecksum(stream.data());
  EXPECT_NE(errorOf(stream).find("unknown format magic"), std::string::npos);
  // Old v7 headers have no magic at all.
  std::memset(stream.data() + 257, 0, 8);
  fixChecksum(stream.data());
  EXPECT_EQ(errorOf(stream), "");
}

TEST(TarStreamTest, HandlerErrorStopsTheReader) {
  class Refusing : public TarHandler {
   public:
    Result<void> onEntry(const TarEntry&) override { return {}; }
    Result<void> onData(std::string_view) override {
      ++calls;
      return fail(ErrorCode::kResourceExhausted, "disk full");
    }
    int calls = 0;
  } handler;
  TarReader reader(handler);
  const std::string stream = oneFileArchive();
  auto r = reader.feed(stream);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::kResourceExhausted);
  EXPECT_EQ(reader.feed(stream).error().message, "disk full");
  EXPECT_EQ(reader.finish().error().message, "disk full");
  EXPECT_EQ(handler.calls, 1);
}

// Mutated and random streams, in random chunks: an Error or a clean read, never a crash, and
// the reader's own buffer stays within its bound (checked by ASan/UBSan builds too).
TEST(TarStreamTest, MutatedStreamsNeverCrash) {
  const std::string valid = writeArchive(sampleMembers());
  std::mt19937 rng(7);
  int errors = 0;
  for (int round = 0; round < 3000; ++round) {
    std::string stream = valid;
    const int flips = 1 + static_cast<int>(rng() % 8);
    for (int i = 0; i < flips; ++i) {
      // Mostly hit headers, where the parsing is.
      const size_t at = rng() % 2 ? (rng() % 4) * 512 + rng() % 512 : rng() % stream.size();
      stream[at % stream.size()] = static_cast<char>(rng());
    }
    if (rng() % 4 == 0) stream.resize(rng() % stream.size());
    CollectingHandler handler;
    TarReader reader(handler, 4096);
    std::vector<size_t> sizes(16);
    for (auto& s : sizes) s = 1 + rng() % 700;
    if (!feedChunked(reader, stream, sizes).ok()) ++errors;
  }
  EXPECT_GT(errors, 0);
  for (int round = 0; round < 200; ++round) {
    EXPECT_FALSE(readAll(pattern(1 + rng() % 5000, round)).ok());
  }
}

// --- one file out of an engine's archive ---

TEST(TarSingleFileReaderTest, StreamsTheFile) {
  const std::string content = pattern(5000, 9);
  const std::string stream =
      writeArchive({{{.name = "data.bin", .mode = 0600, .mtime = 42}, content}});
  std::string received;
  TarSingleFileReader file("/work/data.bin", [&](std::string_view chunk) -> Result<void> {
    received.append(chunk);
    return {};
  });
  TarReader reader(file);
  ASSERT_TRUE(feedChunked(reader, stream, {100}).ok());
  EXPECT_TRUE(file.complete());
  EXPECT_TRUE(received == content);
  ASSERT_TRUE(file.entry().has_value());
  EXPECT_EQ(file.entry()->mode, 0600u);
  EXPECT_EQ(file.entry()->mtime, 42);
  EXPECT_FALSE(file.symlinkTarget().has_value());
}

TEST(TarSingleFileReaderTest, DirectorySymlinkAndExtraEntries) {
  auto sink = [](std::string_view) -> Result<void> { return {}; };
  {
    TarSingleFileReader file("/etc", sink);
    TarReader reader(file);
    auto r = reader.feed(writeArchive({{{.name = "etc"}, "", true}, {{.name = "etc/x"}, "1"}}));
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().code, ErrorCode::kInvalidArgument);
    EXPECT_EQ(r.error().message, "is a directory: /etc");
  }
  {
    std::string stream = oneFileArchive("");
    stream[156] = '2';
    std::memcpy(stream.data() + 157, "/target", 7);
    fixChecksum(stream.data());
    TarSingleFileReader file("/link", sink);
    TarReader reader(file);
    ASSERT_TRUE(feedChunked(reader, stream, {512}).ok());
    EXPECT_EQ(file.symlinkTarget().value_or(""), "/target");
    EXPECT_FALSE(file.complete());
  }
  {
    TarSingleFileReader file("/f", sink);
    TarReader reader(file);
    auto r = feedChunked(reader, writeArchive({{{.name = "f"}, "1"}, {{.name = "g"}, "2"}}), {512});
    ASSERT_FALSE(r.ok());
    EXPECT_NE(r.error().message.find("more than one entry"), std::string::npos);
  }
  {
    std::string stream = oneFileArchive("");
    stream[156] = '3';  // character device
    fixChecksum(stream.data());
    TarSingleFileReader file("/dev/null", sink);
    TarReader reader(file);
    auto r = reader.feed(stream);
    ASSERT_FALSE(r.ok());
    EXPECT_NE(r.error().message.find("not a regular file: /dev/null"), std::string::npos);
  }
  {
    // The sink's error (say, the client went away) stops the reader.
    TarSingleFileReader file("/f", [](std::string_view) -> Result<void> {
      return fail(ErrorCode::kUnavailable, "client gone");
    });
    TarReader reader(file);
    auto r = reader.feed(oneFileArchive());
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().message, "client gone");
  }
}

}  // namespace
}  // namespace grid
