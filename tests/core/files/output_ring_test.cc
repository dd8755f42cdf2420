#include "session/output_ring.h"

#include <gtest/gtest.h>

#include <random>
#include <thread>

namespace grid {
namespace {

using std::chrono::steady_clock;

// A generous bound that only catches a hang.
constexpr auto kHangBound = std::chrono::seconds(60);

OutputRing::Chunk readOk(const OutputRing& ring, uint64_t offset, size_t max_bytes) {
  auto r = ring.read(offset, max_bytes);
  EXPECT_TRUE(r.ok()) << r.error().message;
  return r.ok() ? r.value() : OutputRing::Chunk{};
}

// The byte at absolute offset `i` of the test streams: recognisable anywhere.
char byteAt(uint64_t i) { return static_cast<char>('a' + (i * 7 + i / 26) % 26); }

std::string streamBytes(uint64_t from, size_t count) {
  std::string out(count, '\0');
  for (size_t k = 0; k < count; ++k) out[k] = byteAt(from + k);
  return out;
}

TEST(OutputRingTest, KeepsEverythingUnderTheBudget) {
  OutputRing ring(100);
  ring.append("hello ");
  ring.append("world");
  EXPECT_EQ(ring.totalBytes(), 11u);
  EXPECT_FALSE(ring.truncated());
  EXPECT_EQ(ring.str(), "hello world");
  auto all = readOk(ring, 0, 1000);
  EXPECT_EQ(all.data, "hello world");
  EXPECT_EQ(all.offset, 0u);
  EXPECT_EQ(all.next_offset, 11u);
  EXPECT_EQ(all.dropped, 0u);
  EXPECT_FALSE(all.eof);
  auto part = readOk(ring, 3, 4);
  EXPECT_EQ(part.data, "lo w");
  EXPECT_EQ(part.next_offset, 7u);
  auto at_end = readOk(ring, 11, 10);
  EXPECT_EQ(at_end.data, "");
  EXPECT_FALSE(at_end.eof);
  ring.close();
  EXPECT_TRUE(readOk(ring, 11, 10).eof);
  EXPECT_TRUE(readOk(ring, 0, 100).eof);
  EXPECT_FALSE(readOk(ring, 0, 5).eof);  // more follows
}

TEST(OutputRingTest, SameHeadAndTailAsAnExecOutput) {
  // Budget 10: the first 5 bytes and the last 5 are kept, as CappedOutput keeps them.
  OutputRing ring(10);
  ring.append("HEAD1");
  for (int i = 0; i < 1000; ++i) ring.append("middle");
  ring.append("TAIL9");
  EXPECT_EQ(ring.totalBytes(), 6010u);
  EXPECT_TRUE(ring.truncated());
  EXPECT_EQ(ring.droppedBytes(), 6000u);
  EXPECT_EQ(ring.str(), "HEAD1\n[... 6000 bytes truncated ...]\nTAIL9");
  EXPECT_EQ(outputTruncationNotice(6000), "\n[... 6000 bytes truncated ...]\n");
}

TEST(OutputRingTest, ReadsAcrossTheDroppedMiddle) {
  OutputRing ring(20);  // head [0, 10), tail the last 10 bytes
  ring.append(streamBytes(0, 100));
  auto head = readOk(ring, 0, 1000);
  EXPECT_EQ(head.data, streamBytes(0, 10));  // stops at the gap
  EXPECT_EQ(head.next_offset, 10u);
  EXPECT_EQ(head.dropped, 0u);
  auto resumed = readOk(ring, head.next_offset, 1000);
  EXPECT_EQ(resumed.dropped, 80u);
  EXPECT_EQ(resumed.offset, 90u);
  EXPECT_EQ(resumed.data, streamBytes(90, 10));
  EXPECT_EQ(resumed.next_offset, 100u);
  auto middle = readOk(ring, 55, 3);
  EXPECT_EQ(middle.dropped, 35u);
  EXPECT_EQ(middle.offset, 90u);
  EXPECT_EQ(middle.data, streamBytes(90, 3));
  auto in_tail = readOk(ring, 95, 1000);
  EXPECT_EQ(in_tail.dropped, 0u);
  EXPECT_EQ(in_tail.data, streamBytes(95, 5));
}

TEST(OutputRingTest, OffsetBeyondTheOutputIsAnError) {
  OutputRing ring(10);
  ring.append("abc");
  auto r = ring.read(4, 10);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(r.error().message, "offset 4 is beyond the 3 bytes of output so far");
}

TEST(OutputRingTest, TinyAndZeroBudgets) {
  OutputRing none(0);
  none.append("everything is dropped");
  EXPECT_EQ(none.totalBytes(), 21u);
  EXPECT_EQ(none.droppedBytes(), 21u);
  auto r = readOk(none, 0, 100);
  EXPECT_EQ(r.data, "");
  EXPECT_EQ(r.dropped, 21u);
  EXPECT_EQ(r.next_offset, 21u);
  EXPECT_EQ(none.str(), "\n[... 21 bytes truncated ...]\n");

  OutputRing one(1);  // no head, a one-byte tail
  one.append("xyz");
  EXPECT_EQ(one.str(), "\n[... 2 bytes truncated ...]\nz");
  EXPECT_EQ(readOk(one, 0, 10).data, "z");
}

TEST(OutputRingTest, AppendsAfterCloseAreIgnored) {
  OutputRing ring(10);
  ring.append("a");
  ring.close();
  ring.append("b");
  EXPECT_EQ(ring.totalBytes(), 1u);
  EXPECT_TRUE(ring.closed());
}

// The ring must agree with a model that keeps every byte, for any append pattern: each
// reader that follows it sees exactly the bytes of the stream at the offsets it is given.
TEST(OutputRingTest, MatchesAFullCopyForRandomAppends) {
  std::mt19937 rng(3);
  for (int round = 0; round < 200; ++round) {
    const size_t budget = rng() % 64;
    OutputRing ring(budget);
    uint64_t total = 0;
    const int appends = 1 + static_cast<int>(rng() % 50);
    for (int i = 0; i < appends; ++i) {
      const size_t n = rng() % 3 == 0 ? rng() % 200 : rng() % 10;
      ring.append(streamBytes(total, n));
      total += n;
      // The last min(total, tail budget) bytes are always readable.
      const uint64_t tail_budget = budget - budget / 2;
      const uint64_t from = total - std::min<uint64_t>(total, tail_budget);
      auto tail = readOk(ring, from, 1 << 20);
      EXPECT_EQ(tail.offset, from);
      EXPECT_EQ(tail.data, streamBytes(from, static_cast<size_t>(total - from)));
    }
    ASSERT_EQ(ring.totalBytes(), total);
    // Walk the whole stream with small reads.
    uint64_t offset = 0, seen = 0, dropped = 0;
    while (offset < total) {
      auto chunk = readOk(ring, offset, 1 + rng() % 7);
      EXPECT_EQ(chunk.offset, offset + chunk.dropped);
      EXPECT_EQ(chunk.data, streamBytes(chunk.offset, chunk.data.size()));
      EXPECT_EQ(chunk.next_offset, chunk.offset + chunk.data.size());
      ASSERT_GT(chunk.next_offset, offset);
      seen += chunk.data.size();
      dropped += chunk.dropped;
      offset = chunk.next_offset;
    }
    EXPECT_EQ(seen + dropped, total);
    EXPECT_EQ(dropped, ring.droppedBytes());
    EXPECT_LE(seen, budget);
    const std::string kept = ring.str();
    if (dropped == 0) {
      EXPECT_EQ(kept, streamBytes(0, static_cast<size_t>(total)));
    }
  }
}

TEST(OutputRingTest, WaitBeyondTimesOutWithoutOutput) {
  OutputRing ring(10);
  ring.append("abc");
  EXPECT_EQ(ring.waitBeyond(0, steady_clock::now()), OutputRing::Wait::kReady);
  EXPECT_EQ(ring.waitBeyond(3, steady_clock::now() + std::chrono::milliseconds(20)),
            OutputRing::Wait::kTimedOut);
  ring.close();
  EXPECT_EQ(ring.waitBeyond(3, steady_clock::now() + kHangBound), OutputRing::Wait::kClosed);
  EXPECT_EQ(ring.waitBeyond(2, steady_clock::now() + kHangBound), OutputRing::Wait::kReady);
}

TEST(OutputRingTest, CloseWakesAWaitingReader) {
  OutputRing ring(10);
  OutputRing::Wait outcome = OutputRing::Wait::kReady;
  std::thread reader([&] { outcome = ring.waitBeyond(0, steady_clock::now() + kHangBound); });
  ring.close();
  reader.join();
  EXPECT_EQ(outcome, OutputRing::Wait::kClosed);
}

// A writer thread and readers following it live, each waking on new output: with a budget
// larger than the stream every byte arrives in order; with a small one, each chunk still holds
// the right bytes for its offset and the readers end at eof.
void followLive(size_t budget, uint64_t total) {
  OutputRing ring(budget);
  struct Follower {
    std::string received;
    uint64_t dropped = 0;
    uint64_t bytes = 0;
    bool eof = false;
    bool hung = false;
    bool mismatch = false;
  };
  std::vector<Follower> followers(3);
  std::vector<std::thread> threads;
  const auto deadline = steady_clock::now() + kHangBound;
  for (auto& f : followers) {
    threads.emplace_back([&ring, &f, deadline, budget, total] {
      uint64_t offset = 0;
      while (true) {
        auto r = ring.read(offset, 1000);
        if (!r.ok()) return;
        const auto& chunk = r.value();
        if (chunk.data != streamBytes(chunk.offset, chunk.data.size())) f.mismatch = true;
        if (budget >= total) f.received += chunk.data;
        f.bytes += chunk.data.size();
        f.dropped += chunk.dropped;
        offset = chunk.next_offset;
        if (chunk.eof) {
          f.eof = true;
          return;
        }
        if (!chunk.data.empty() || chunk.dropped > 0) continue;
        if (ring.waitBeyond(offset, deadline) == OutputRing::Wait::kTimedOut) {
          f.hung = true;
          return;
        }
      }
    });
  }
  std::thread writer([&ring, total] {
    std::mt19937 rng(11);
    uint64_t written = 0;
    while (written < total) {
      const size_t n = static_cast<size_t>(std::min<uint64_t>(total - written, 1 + rng() % 300));
      ring.append(streamBytes(written, n));
      written += n;
    }
    ring.close();
  });
  writer.join();
  for (auto& t : threads) t.join();
  for (const auto& f : followers) {
    EXPECT_FALSE(f.hung);
    EXPECT_TRUE(f.eof);
    EXPECT_FALSE(f.mismatch);
    EXPECT_EQ(f.bytes + f.dropped, total);
    if (budget >= total) {
      EXPECT_EQ(f.dropped, 0u);
      EXPECT_TRUE(f.received == streamBytes(0, static_cast<size_t>(total)));
    }
  }
}

TEST(OutputRingTest, ReadersFollowAWriterLive) { followLive(1 << 20, 200000); }

TEST(OutputRingTest, ReadersFollowAWriterThroughASmallRing) { followLive(256, 200000); }

}  // namespace
}  // namespace grid
