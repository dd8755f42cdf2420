// The files API on the backend under test, through the HTTP server as a client uses it: bytes
// round-trip exactly (binary, NUL, empty, large), modes and parents, listings, mkdir, delete,
// trees as tar both ways, ownership like the session's own writes, and transfers that run
// beside each other and beside a long exec.
#include <atomic>
#include <future>
#include <random>
#include <set>
#include <thread>

#include "files/tar_stream.h"
#include "files_fixture.h"

namespace grid::testing {
namespace {

std::string randomBytes(size_t n, unsigned seed) {
  std::mt19937 gen(seed);
  std::string bytes(n, '\0');
  for (char& c : bytes) c = static_cast<char>(gen() & 0xff);
  return bytes;
}

std::string trimmed(std::string text) {
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
  return text;
}

class CollectTar : public TarHandler {
 public:
  Result<void> onEntry(const TarEntry& entry) override {
    current_ = entry.name;
    files_[current_];
    types_[current_] = entry.type;
    return {};
  }
  Result<void> onData(std::string_view chunk) override {
    files_[current_].append(chunk);
    return {};
  }
  std::map<std::string, std::string> files_;
  std::map<std::string, TarEntryType> types_;

 private:
  std::string current_;
};

using FilesTest = FilesApiTest;

TEST_F(FilesTest, BytesRoundTripExactly) {
  const std::map<std::string, std::string> cases = {
      {"/tmp/files-test/empty", ""},
      {"/tmp/files-test/nul.bin", std::string("a\0b\0\0c\n", 7)},
      {"/tmp/files-test/deep/er/random.bin", randomBytes(3 << 20, 7)},
  };
  for (const auto& [path, bytes] : cases) {
    const HttpAnswer up = put(path, bytes);
    ASSERT_EQ(up.status, 201) << path << ": " << up.body;
    const HttpAnswer down = get(path);
    ASSERT_EQ(down.status, 200) << path << ": " << down.body;
    EXPECT_EQ(down.content_type, "application/octet-stream");
    EXPECT_EQ(down.body.size(), bytes.size()) << path;
    EXPECT_TRUE(down.body == bytes) << path;
  }
  // The session sees the same bytes.
  EXPECT_EQ(trimmed(run("wc -c < /tmp/files-test/deep/er/random.bin").output),
            std::to_string(3 << 20));
  EXPECT_EQ(run("od -An -c /tmp/files-test/nul.bin | tr -s ' '").output,
            " a \\0 b \\0 \\0 c \\n\n");
}

TEST_F(FilesTest, ModeAndOwnerAreTheSessions) {
  ASSERT_EQ(put("/tmp/files-mode/run.sh", "#!/bin/sh\necho ran\n", "&mode=0750").status, 201);
  EXPECT_EQ(trimmed(run("find /tmp/files-mode/run.sh -maxdepth 0 -printf %m").output), "750");
  EXPECT_EQ(trimmed(run("/tmp/files-mode/run.sh").output), "ran");
  EXPECT_EQ(trimmed(run("find /tmp/files-mode/run.sh -maxdepth 0 -printf %U:%G").output),
            trimmed(run("echo $(id -u):$(id -g)").output));
  // A file written by the session is read back through the API, and overwritten by it.
  run("printf 'from session' > /tmp/files-mode/s.txt");
  EXPECT_EQ(get("/tmp/files-mode/s.txt").body, "from session");
  ASSERT_EQ(put("/tmp/files-mode/s.txt", "replaced").status, 201);
  EXPECT_EQ(run("cat /tmp/files-mode/s.txt").output, "replaced");
  EXPECT_EQ(put("/tmp/x", "x", "&mode=0999").status, 400);
}

TEST_F(FilesTest, ListMkdirAndDelete) {
  const HttpAnswer made =
      call("POST", filesUri("/mkdir"), R"({"path": "/tmp/files-list/sub/deeper", "mode": "0700"})");
  ASSERT_EQ(made.status, 201) << made.body;
  EXPECT_EQ(trimmed(run("find /tmp/files-list/sub/deeper -maxdepth 0 -printf %m").output), "700");
  ASSERT_EQ(put("/tmp/files-list/a.txt", "12345").status, 201);
  run("ln -s a.txt /tmp/files-list/link");
  const HttpAnswer listed = get("/tmp/files-list", "&list");
  ASSERT_EQ(listed.status, 200) << listed.body;
  const auto object = listed.object();
  EXPECT_FALSE(object->getValue<bool>("truncated"));
  const auto entries = object->getArray("entries");
  ASSERT_EQ(entries->size(), 3u) << listed.body;
  std::map<std::string, Poco::JSON::Object::Ptr> by_name;
  for (size_t i = 0; i < entries->size(); ++i) {
    auto e = entries->getObject(static_cast<unsigned>(i));
    by_name[e->getValue<std::string>("name")] = e;
  }
  ASSERT_TRUE(by_name.count("a.txt") && by_name.count("sub") && by_name.count("link"));
  EXPECT_EQ(by_name["a.txt"]->getValue<std::string>("type"), "file");
  EXPECT_EQ(by_name["a.txt"]->getValue<uint64_t>("size"), 5u);
  EXPECT_EQ(by_name["a.txt"]->getValue<std::string>("mode"), "0644");
  EXPECT_GT(by_name["a.txt"]->getValue<int64_t>("mtime"), 1500000000);
  EXPECT_EQ(by_name["sub"]->getValue<std::string>("type"), "directory");
  EXPECT_EQ(by_name["link"]->getValue<std::string>("type"), "symlink");
  EXPECT_EQ(by_name["link"]->getValue<std::string>("link_target"), "a.txt");
  // A symlink is followed on download, as `cat` would.
  EXPECT_EQ(get("/tmp/files-list/link").body, "12345");

  EXPECT_EQ(call("DELETE", filesUri(pathQuery("/tmp/files-list/sub"))).status, 200);
  EXPECT_EQ(trimmed(run("test -e /tmp/files-list/sub; echo $?").output), "1");
  EXPECT_EQ(call("DELETE", filesUri(pathQuery("/tmp/files-list/sub"))).status, 404);
  EXPECT_EQ(get("/tmp/files-list/a.txt", "&list").status, 409);
  EXPECT_EQ(get("/tmp/files-list/none", "&list").status, 404);
}

TEST_F(FilesTest, TreesMoveAsTarBothWays) {
  TarWriter writer;
  std::string tar = writer.directory({.name = "proj", .mode = 0755}).value();
  const std::string code = "print('hi')\n";
  tar += writer.beginFile({.name = "proj/main.py", .mode = 0644, .size = code.size()}).value();
  ASSERT_TRUE(writer.fileData(code).ok());
  tar += code + writer.endFile().value();
  tar += writer.beginFile({.name = "proj/empty", .mode = 0600, .size = 0}).value();
  tar += writer.endFile().value();
  tar += writer.finish().value();
  const HttpAnswer up = call("PUT", filesUri(pathQuery("/tmp/files-tree")), tar,
                             {{"Content-Type", "application/x-tar"}});
  ASSERT_EQ(up.status, 201) << up.body;
  EXPECT_EQ(run("cat /tmp/files-tree/proj/main.py").output, code);

  for (const auto& how : {std::string("&archive"), std::string()}) {
    const HttpAnswer down = how.empty() ? call("GET", filesUri(pathQuery("/tmp/files-tree/proj")),
                                               "", {{"Accept", "application/x-tar"}})
                                        : get("/tmp/files-tree/proj", how);
    ASSERT_EQ(down.status, 200) << down.body;
    EXPECT_EQ(down.content_type, "application/x-tar");
    CollectTar collected;
    TarReader reader(collected);
    ASSERT_TRUE(reader.feed(down.body).ok());
    ASSERT_TRUE(reader.finish().ok());
    EXPECT_EQ(collected.files_["proj/main.py"], code);
    EXPECT_TRUE(collected.files_.count("proj/empty"));
    // GNU tar names a directory "proj/", Podman's archive endpoint "proj": both are tar.
    const auto dir = collected.types_.count("proj/") ? collected.types_["proj/"]
                                                    : collected.types_["proj"];
    EXPECT_EQ(dir, TarEntryType::kDirectory);
  }
  // Without asking for a tar, a directory is a conflict.
  EXPECT_EQ(get("/tmp/files-tree/proj").status, 409);
}

TEST_F(FilesTest, ErrorsAreClear) {
  EXPECT_EQ(get("/tmp/no-such-file").code(), "not_found");
  EXPECT_EQ(get("/tmp/no-such-file").status, 404);
  run("mkdir -p /tmp/files-err/dir");
  const HttpAnswer onto_dir = put("/tmp/files-err/dir", "x");
  EXPECT_EQ(onto_dir.status, 409) << onto_dir.body;
  run("printf x > /tmp/files-err/file");
  const HttpAnswer under_file = put("/tmp/files-err/file/child", "x");
  EXPECT_EQ(under_file.status, 409) << under_file.body;
  EXPECT_EQ(call("GET", filesUri("?path=relative/path")).status, 400);
  EXPECT_EQ(call("GET", filesUri("?path=/a%00b")).status, 400);
  EXPECT_EQ(call("GET", filesUri("")).status, 400);
  EXPECT_EQ(call("GET", filesUri("?path=/tmp&bogus=1")).code(), "invalid_argument");
  EXPECT_EQ(call("GET", "/sandboxes/no-such-sandbox/files?path=/tmp").status, 404);
  EXPECT_EQ(call("POST", filesUri("/mkdir"), "{\"path\": 5}").status, 400);
  EXPECT_EQ(call("POST", filesUri("/mkdir"), "not json").status, 400);
  EXPECT_EQ(call("PATCH", filesUri(pathQuery("/tmp"))).status, 405);
}

TEST_F(FilesTest, StoppedSandboxIsConflict) {
  ASSERT_TRUE(manager_->stop(id_, false).ok());
  EXPECT_EQ(get("/tmp").status, 409);
  EXPECT_EQ(put("/tmp/x", "x").status, 409);
}

TEST_F(FilesTest, DownloadsRunTogetherAndBesideALongExec) {
  // A backend without a filesystem of its own (the skeleton) keeps these files between runs.
  run("rm -rf /tmp/files-par");
  const std::string bytes = randomBytes(8 << 20, 11);
  ASSERT_EQ(put("/tmp/files-par/big.bin", bytes).status, 201);
  std::atomic<bool> exec_done{false};
  auto exec = std::async(std::launch::async, [&] {
    // Ends when the file named below appears (the downloads are done), or after 120 s.
    auto result = manager_->exec(
        id_,
        "touch /tmp/files-par/started; for i in $(seq 1200); do [ -e /tmp/files-par/done ] && "
        "exit 0; sleep 0.1; done; exit 1",
        false, std::chrono::seconds(180));
    exec_done = true;
    return result;
  });
  // The exec holds the sandbox's operation lock from here on; the files API does not need it.
  ASSERT_TRUE(waitUntil([&] { return get("/tmp/files-par/started").status == 200; }));
  auto first = std::async(std::launch::async, [&] { return get("/tmp/files-par/big.bin"); });
  auto second = std::async(std::launch::async, [&] { return get("/tmp/files-par/big.bin"); });
  const HttpAnswer a = first.get();
  const HttpAnswer b = second.get();
  EXPECT_FALSE(exec_done) << "the downloads waited for the exec";
  EXPECT_EQ(a.status, 200);
  EXPECT_EQ(b.status, 200);
  EXPECT_TRUE(a.body == bytes);
  EXPECT_TRUE(b.body == bytes);
  ASSERT_EQ(put("/tmp/files-par/done", "").status, 201);
  auto result = exec.get();
  ASSERT_TRUE(result.ok()) << result.error().message;
  EXPECT_EQ(result.value().exit_code, 0);
}

TEST_F(FilesTest, StopDuringADownloadEndsIt) {
  ASSERT_EQ(run("head -c 268435456 /dev/zero > /tmp/stop.bin; echo $?").output, "0\n");
  Poco::Net::HTTPClientSession session("127.0.0.1", static_cast<Poco::UInt16>(server_->port()));
  session.setTimeout(Poco::Timespan(120, 0));
  Poco::Net::HTTPRequest request("GET", filesUri(pathQuery("/tmp/stop.bin")),
                                 Poco::Net::HTTPMessage::HTTP_1_1);
  session.sendRequest(request);
  Poco::Net::HTTPResponse response;
  std::istream& in = session.receiveResponse(response);
  ASSERT_EQ(response.getStatus(), Poco::Net::HTTPResponse::HTTP_OK);
  ASSERT_EQ(response.getContentLength64(), 256 << 20);
  char buffer[65536];
  in.read(buffer, sizeof buffer);
  ASSERT_EQ(in.gcount(), static_cast<std::streamsize>(sizeof buffer));
  // The transfer is under way (the client reads no further): stop the sandbox.
  ASSERT_TRUE(manager_->stop(id_, false).ok());
  uint64_t received = sizeof buffer;
  try {
    while (in.read(buffer, sizeof buffer) || in.gcount() > 0) {
      received += static_cast<uint64_t>(in.gcount());
    }
  } catch (const Poco::Exception&) {
  }
  // The body ends (the client's own bound is 120 s) short of its length, unless the whole file
  // was already on its way in the socket buffers.
  EXPECT_LE(received, 256u << 20);
  EXPECT_EQ(get("/tmp/stop.bin").status, 409);  // the server still answers
}

TEST_F(FilesTest, OperationsAreInTheTrajectory) {
  ASSERT_EQ(put("/tmp/files-traj/a", "abc").status, 201);
  ASSERT_EQ(get("/tmp/files-traj/a").status, 200);
  ASSERT_EQ(call("DELETE", filesUri(pathQuery("/tmp/files-traj/a"))).status, 200);
  auto sandbox = manager_->find(id_);
  ASSERT_TRUE(sandbox.ok());
  std::set<TrajectoryKind> kinds;
  for (const auto& entry : sandbox.value()->trajectory()) kinds.insert(entry.kind);
  EXPECT_TRUE(kinds.count(TrajectoryKind::kFileUpload));
  EXPECT_TRUE(kinds.count(TrajectoryKind::kFileDownload));
  EXPECT_TRUE(kinds.count(TrajectoryKind::kFileRemove));
}

}  // namespace
}  // namespace grid::testing
