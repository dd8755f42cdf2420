// Request bodies of POST /sandboxes/{id}/fork and /snapshot.
#include "api/fork_routes.h"

#include <gtest/gtest.h>

namespace grid {
namespace {

TEST(ForkRequestTest, CountDefaultsToOneAndMustBeAnInteger) {
  EXPECT_EQ(parseForkRequest("").value().count, 1);
  EXPECT_EQ(parseForkRequest("{\"count\": 16}").value().count, 16);
  EXPECT_EQ(parseForkRequest("{\"count\": -3}").value().count, -3);  // the range is the manager's
  for (const char* bad : {"{\"count\": \"2\"}", "{\"count\": 1.5}", "[1]", "{\"count\": true}"}) {
    auto parsed = parseForkRequest(bad);
    ASSERT_FALSE(parsed.ok()) << bad;
    EXPECT_EQ(parsed.error().code, ErrorCode::kInvalidArgument);
  }
}

TEST(SnapshotRequestTest, ImageMustBeNameColonTag) {
  auto parsed = parseSnapshotRequest("{\"image\": \"team/env.base:v1-2\", \"overwrite\": true}");
  ASSERT_TRUE(parsed.ok()) << parsed.error().message;
  EXPECT_EQ(parsed.value().image, "team/env.base:v1-2");
  EXPECT_TRUE(parsed.value().overwrite);
  EXPECT_FALSE(parseSnapshotRequest("{\"image\": \"a:b\"}").value().overwrite);
  for (const char* bad :
       {"{}", "{\"image\": 3}", "{\"image\": \"noTag\"}", "{\"image\": \"name\"}",
        "{\"image\": \"Upper:tag\"}", "{\"image\": \"a//b:t\"}", "{\"image\": \"../x:t\"}",
        "{\"image\": \"a:-t\"}", "{\"image\": \"a:t/x\"}", "{\"image\": \"a:\"}",
        "{\"image\": \"a:b\", \"overwrite\": \"yes\"}", "{\"image\": \"a b:c\"}"}) {
    auto r = parseSnapshotRequest(bad);
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_EQ(r.error().code, ErrorCode::kInvalidArgument) << bad;
  }
  EXPECT_FALSE(parseSnapshotRequest("{\"image\": \"" + std::string(200, 'a') + ":t\"}").ok());
}

}  // namespace
}  // namespace grid
