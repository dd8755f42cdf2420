#include "grid/result.h"

#include <gtest/gtest.h>

#include <memory>
#include <string>

namespace grid {
namespace {

Result<int> parsePositive(int value) {
  if (value <= 0) return fail(ErrorCode::kInvalidArgument, "not positive");
  return value;
}

Result<void> checkPositive(int value) {
  GRID_TRY(parsePositive(value));
  return {};
}

Result<int> doubled(int value) {
  GRID_ASSIGN_OR_RETURN(int parsed, parsePositive(value));
  return parsed * 2;
}

Result<std::unique_ptr<int>> boxed(int value) {
  if (value <= 0) return fail(ErrorCode::kNotFound, "nothing to box");
  return std::make_unique<int>(value);
}

Result<int> unboxedSum(int a, int b) {
  GRID_ASSIGN_OR_RETURN(auto first, boxed(a));  // move-only values move out
  std::unique_ptr<int> second;
  GRID_ASSIGN_OR_RETURN(second, boxed(b));  // assignment to a declared variable
  return *first + *second;
}

TEST(ResultTest, TryPassesSuccessThroughAndReturnsTheFirstError) {
  EXPECT_TRUE(checkPositive(3).ok());
  auto failed = checkPositive(-1);
  ASSERT_FALSE(failed.ok());
  EXPECT_EQ(failed.error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(failed.error().message, "not positive");
}

TEST(ResultTest, AssignOrReturnBindsTheValueOrReturnsTheError) {
  ASSERT_TRUE(doubled(21).ok());
  EXPECT_EQ(doubled(21).value(), 42);
  EXPECT_EQ(doubled(0).error().code, ErrorCode::kInvalidArgument);
}

TEST(ResultTest, AssignOrReturnMovesMoveOnlyValuesAndKeepsTheErrorCode) {
  ASSERT_TRUE(unboxedSum(1, 2).ok());
  EXPECT_EQ(unboxedSum(1, 2).value(), 3);
  auto failed = unboxedSum(1, -2);
  ASSERT_FALSE(failed.ok());
  EXPECT_EQ(failed.error().code, ErrorCode::kNotFound);
}

}  // namespace
}  // namespace grid
