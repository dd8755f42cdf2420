// Engine client pieces that need no daemon: frame demultiplexing and small helpers.
#include "grid/engine/engine_client.h"

#include <gtest/gtest.h>

#include <string>

#include "grid/engine/frame_demuxer.h"

namespace grid::engine {
namespace {

std::string frame(unsigned char stream, const std::string& payload) {
  std::string header(8, '\0');
  header[0] = static_cast<char>(stream);
  const auto size = static_cast<std::uint32_t>(payload.size());
  header[4] = static_cast<char>(size >> 24);
  header[5] = static_cast<char>(size >> 16);
  header[6] = static_cast<char>(size >> 8);
  header[7] = static_cast<char>(size);
  return header + payload;
}

TEST(FrameDemuxerTest, SplitsStreams) {
  FrameDemuxer demuxer;
  demuxer.feed(frame(1, "out") + frame(2, "err"));
  auto first = demuxer.next();
  ASSERT_TRUE(first);
  EXPECT_EQ(first->stream, OutputStream::kStdout);
  EXPECT_EQ(first->data, "out");
  auto second = demuxer.next();
  ASSERT_TRUE(second);
  EXPECT_EQ(second->stream, OutputStream::kStderr);
  EXPECT_EQ(second->data, "err");
  EXPECT_FALSE(demuxer.next());
  EXPECT_EQ(demuxer.pending(), 0u);
}

TEST(FrameDemuxerTest, WaitsForCompleteFramesFedByteByByte) {
  const std::string bytes = frame(2, "hello") + frame(1, "world");
  FrameDemuxer demuxer;
  std::string stderr_text, stdout_text;
  for (char c : bytes) {
    demuxer.feed(std::string(1, c));
    while (auto f = demuxer.next()) {
      (f->stream == OutputStream::kStderr ? stderr_text : stdout_text) += f->data;
    }
  }
  EXPECT_EQ(stderr_text, "hello");
  EXPECT_EQ(stdout_text, "world");
}

TEST(FrameDemuxerTest, MergesSameStreamOnlyAndKeepsOrder) {
  FrameDemuxer demuxer;
  demuxer.feed(frame(1, "a") + frame(1, "") + frame(1, "b") + frame(2, "c") + frame(1, "d"));
  auto merged = demuxer.next(1024);
  ASSERT_TRUE(merged);
  EXPECT_EQ(merged->data, "ab");
  EXPECT_EQ(demuxer.next(1024)->data, "c");
  EXPECT_EQ(demuxer.next(1024)->data, "d");
}

TEST(FrameDemuxerTest, DoesNotMergeIncompleteFrame) {
  FrameDemuxer demuxer;
  std::string second = frame(1, "bcd");
  demuxer.feed(frame(1, "a") + second.substr(0, 9));
  EXPECT_EQ(demuxer.next(1024)->data, "a");
  EXPECT_FALSE(demuxer.next(1024));
  demuxer.feed(second.substr(9));
  EXPECT_EQ(demuxer.next(1024)->data, "bcd");
}

TEST(FrameDemuxerTest, LargeFrameLength) {
  const std::string payload(70000, 'x');
  FrameDemuxer demuxer;
  demuxer.feed(frame(1, payload));
  auto f = demuxer.next();
  ASSERT_TRUE(f);
  EXPECT_EQ(f->data.size(), payload.size());
}

TEST(FrameDemuxerTest, UnknownStreamIsCorrupt) {
  FrameDemuxer demuxer;
  demuxer.feed(frame(7, "x"));
  EXPECT_FALSE(demuxer.next());
  EXPECT_TRUE(demuxer.corrupt());
}

TEST(EngineHelpersTest, CompareApiVersions) {
  EXPECT_LT(compareApiVersions("1.9", "1.41"), 0);
  EXPECT_GT(compareApiVersions("1.43", "1.41"), 0);
  EXPECT_EQ(compareApiVersions("1.41", "1.41"), 0);
  EXPECT_EQ(compareApiVersions("1.41", "1.41.0"), 0);
}

TEST(EngineHelpersTest, UrlEncode) {
  EXPECT_EQ(urlEncode("{\"label\":[\"a=b\"]}"), "%7B%22label%22%3A%5B%22a%3Db%22%5D%7D");
  EXPECT_EQ(urlEncode("grid-x_1.2~"), "grid-x_1.2~");
}

TEST(EngineHelpersTest, EngineMessage) {
  EXPECT_EQ(engineMessage("{\"message\":\"No such image: foo\"}"), "No such image: foo");
  EXPECT_EQ(engineMessage("  plain text\n"), "plain text");
  EXPECT_EQ(engineMessage(""), "(empty answer)");
}

TEST(EngineClientTest, VersionedPath) {
  EngineClient client(EngineEndpoint{"/nonexistent.sock", "docker", "Docker Engine"});
  EXPECT_EQ(client.versionedPath("/containers/json"), "/containers/json");
  client.setApiVersion("1.41");
  EXPECT_EQ(client.versionedPath("/containers/json"), "/v1.41/containers/json");
  EXPECT_EQ(client.versionedPath("/version"), "/v1.41/version");
  EXPECT_EQ(client.versionedPath("/v4.0.0/libpod/info"), "/v4.0.0/libpod/info");
}

TEST(EngineClientTest, MissingSocketIsUnavailable) {
  EngineClient client(EngineEndpoint{"/nonexistent/engine.sock", "docker", "Docker Engine"});
  auto response = client.request("GET", "/_ping");
  ASSERT_FALSE(response.ok());
  EXPECT_EQ(response.error().code, ErrorCode::kUnavailable);
  EXPECT_NE(response.error().message.find("unix:///nonexistent/engine.sock"), std::string::npos)
      << response.error().message;
  EXPECT_NE(response.error().message.find("No such file or directory"), std::string::npos)
      << response.error().message;
}

}  // namespace
}  // namespace grid::engine
