#include "sandbox/transfer_set.h"

#include <gtest/gtest.h>

#include <vector>

namespace grid {
namespace {

TEST(TransferSetTest, CloseCancelsEveryTransferInFlight) {
  TransferSet set;
  std::vector<int> cancelled;
  auto first = set.add([&] { cancelled.push_back(1); });
  auto second = set.add([&] { cancelled.push_back(2); });
  ASSERT_TRUE(first.ok());
  ASSERT_TRUE(second.ok());
  EXPECT_EQ(set.size(), 2u);
  set.close();
  EXPECT_EQ(cancelled, (std::vector<int>{1, 2}));
}

TEST(TransferSetTest, AFinishedTransferLeavesTheSetAndIsNotCancelled) {
  TransferSet set;
  int cancelled = 0;
  {
    auto done = set.add([&] { ++cancelled; });
    ASSERT_TRUE(done.ok());
    EXPECT_EQ(set.size(), 1u);
  }
  EXPECT_EQ(set.size(), 0u);
  set.close();
  EXPECT_EQ(cancelled, 0);
}

TEST(TransferSetTest, AClosedSetRefusesNewTransfers) {
  TransferSet set;
  set.close();
  int cancelled = 0;
  auto late = set.add([&] { ++cancelled; });
  ASSERT_FALSE(late.ok());
  EXPECT_EQ(late.error().code, ErrorCode::kConflict);
  EXPECT_EQ(set.size(), 0u);
}

TEST(TransferSetTest, AMovedRegistrationLeavesOnce) {
  TransferSet set;
  auto added = set.add([] {});
  ASSERT_TRUE(added.ok());
  TransferSet::Registration moved = std::move(added.value());
  EXPECT_EQ(set.size(), 1u);
  { TransferSet::Registration last = std::move(moved); }
  EXPECT_EQ(set.size(), 0u);
}

}  // namespace
}  // namespace grid
