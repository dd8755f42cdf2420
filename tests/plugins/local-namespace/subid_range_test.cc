// Subordinate id ranges: parsing of settings and /etc/subuid, slicing per sandbox.
#include "kernel/subid_range.h"

#include <gtest/gtest.h>

#include "archive_test_util.h"
#include "kernel/userns.h"

namespace grid::localns {
namespace {

TEST(SubidRangeTest, ParsesStartAndCount) {
  auto range = parseIdRange("16777216:131072");
  ASSERT_TRUE(range.ok()) << range.error().message;
  EXPECT_EQ(range.value(), (IdRange{16777216, 131072}));
  for (const char* bad : {"", ":", "1", "1:", ":65536", "0:65536", "100000:65535", "x:65536",
                          "100000:65536x", "-1:65536", "4294901760:65536", "99999999999:65536"}) {
    EXPECT_FALSE(parseIdRange(bad).ok()) << bad;
  }
  auto error = parseIdRange("1:2");
  EXPECT_EQ(error.error().message,
            "local-namespace: subid_range '1:2' must start above 0, hold at least 65536 ids and "
            "end below 4294967295");
}

TEST(SubidRangeTest, FindsTheOwnersFirstValidEntry) {
  const std::string file =
      "# comment\nroot:100000:65536\ngridx:1:70000\ngrid:5:10\ngrid:200000:131072\n"
      "grid:900000:65536\n";
  auto entry = findSubidEntry(file, "grid");
  ASSERT_TRUE(entry.has_value());
  EXPECT_EQ(*entry, (IdRange{200000, 131072}));
  EXPECT_FALSE(findSubidEntry(file, "nobody").has_value());
  EXPECT_FALSE(findSubidEntry("", "grid").has_value());
  EXPECT_FALSE(findSubidEntry("grid:100000", "grid").has_value());
  EXPECT_EQ(findSubidEntry("grid:100000:65536", "grid"), (IdRange{100000, 65536}));
}

TEST(SubidRangeTest, SlicesAreDisjointAndInsideTheRange) {
  const IdRange range{200000, 65536 * 3 + 100};
  EXPECT_EQ(sliceCount(range), 3u);
  EXPECT_EQ(sliceStart(range, 0), 200000u);
  EXPECT_EQ(sliceStart(range, 2), 200000u + 2 * 65536);
  EXPECT_LE(uint64_t{sliceStart(range, 2)} + kIdsPerSandbox, uint64_t{range.start} + range.count);
  EXPECT_EQ(idMapLine(200000), "0 200000 65536\n");
}

// Slices are taken with flocks in a lock dir: two holders never get the same slice, a full
// range is a clear error, and a released slice is taken again.
TEST(SubidRangeTest, AllocationHandsOutEachSliceOnce) {
  image::testing::TempDir dir;
  const IdRange uids{1000000, 2 * kIdsPerSandbox};
  const IdRange gids{3000000, 2 * kIdsPerSandbox + 5};
  auto first = allocateIdSlice(uids, gids, dir.path());
  auto second = allocateIdSlice(uids, gids, dir.path());
  ASSERT_TRUE(first.ok()) << first.error().message;
  ASSERT_TRUE(second.ok()) << second.error().message;
  EXPECT_EQ(first.value().uid_start, 1000000u);
  EXPECT_EQ(first.value().gid_start, 3000000u);
  EXPECT_EQ(second.value().uid_start, 1000000u + kIdsPerSandbox);
  EXPECT_EQ(second.value().gid_start, 3000000u + kIdsPerSandbox);
  auto third = allocateIdSlice(uids, gids, dir.path());
  ASSERT_FALSE(third.ok());
  EXPECT_EQ(third.error().code, ErrorCode::kUnavailable);
  first.value().lock.reset();
  auto again = allocateIdSlice(uids, gids, dir.path());
  ASSERT_TRUE(again.ok()) << again.error().message;
  EXPECT_EQ(again.value().uid_start, 1000000u);
}

}  // namespace
}  // namespace grid::localns
