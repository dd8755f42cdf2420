// FindRecordParser: `find -printf` output from inside a sandbox is attacker input.
#include "files/find_records.h"

#include <gtest/gtest.h>

namespace grid {
namespace {

std::string record(const std::string& type, const std::string& size, const std::string& mode,
                   const std::string& mtime, const std::string& name, const std::string& link) {
  return type + '\0' + size + '\0' + mode + '\0' + mtime + '\0' + name + '\0' + link + '\0';
}

TEST(FindRecordParserTest, ParsesRecordsSplitAnywhere) {
  const std::string text = record("f", "12", "644", "1700000000.5", "a\nb", "") +
                           record("l", "5", "777", "1700000001", "link", "../x") +
                           record("d", "4096", "4755", "1700000002.0000000000", "dir", "");
  for (size_t split = 0; split <= text.size(); ++split) {
    FindRecordParser parser(10, true);
    ASSERT_TRUE(parser.feed(text.substr(0, split)).ok());
    ASSERT_TRUE(parser.feed(text.substr(split)).ok());
    ASSERT_TRUE(parser.finish().ok());
    ASSERT_EQ(parser.records().size(), 3u);
    EXPECT_EQ(parser.records()[0].name, "a\nb");
    EXPECT_EQ(parser.records()[0].size, 12u);
    EXPECT_EQ(parser.records()[0].mode, 0644u);
    EXPECT_EQ(parser.records()[0].mtime, 1700000000);
    EXPECT_EQ(parser.records()[1].type, FileType::kSymlink);
    EXPECT_EQ(parser.records()[1].link_target, "../x");
    EXPECT_EQ(parser.records()[2].mode, 04755u);
  }
}

TEST(FindRecordParserTest, StopsAtMaxRecords) {
  FindRecordParser parser(2, true);
  std::string text;
  for (int i = 0; i < 100; ++i) text += record("f", "1", "644", "1", "n" + std::to_string(i), "");
  ASSERT_TRUE(parser.feed(text).ok());
  EXPECT_TRUE(parser.full());
  EXPECT_EQ(parser.records().size(), 2u);
  EXPECT_TRUE(parser.finish().ok());
}

TEST(FindRecordParserTest, RefusesMalformedFields) {
  const std::vector<std::string> bad = {
      record("x", "1", "644", "1", "n", ""),
      record("f", "-1", "644", "1", "n", ""),
      record("f", "1", "648", "1", "n", ""),
      record("f", "1", "77777", "1", "n", ""),
      record("f", "1", "644", "a", "n", ""),
      record("f", "1", "644", "1", "..", ""),
      record("f", "1", "644", "1", "a/b", ""),
      record("f", "1", "644", "1", "", ""),
      record("f", "1", "644", "1", "n", "t"),
      record("l", "1", "777", "1", "n", ""),
      record("f", "1234567890123456789", "644", "1", "n", ""),
      record("f", "1", "644", "1", std::string(256, 'n'), ""),
  };
  for (const auto& text : bad) {
    FindRecordParser parser(10, true);
    EXPECT_FALSE(parser.feed(text).ok()) << text;
  }
}

TEST(FindRecordParserTest, BoundsAnEndlessField) {
  FindRecordParser parser(10, true);
  const std::string junk(1 << 20, 'a');
  EXPECT_FALSE(parser.feed(junk).ok());
}

TEST(FindRecordParserTest, ACutRecordIsAnError) {
  FindRecordParser parser(10, true);
  ASSERT_TRUE(parser
                  .feed(std::string("f\0"
                                    "1\0",
                                    4))
                  .ok());
  EXPECT_FALSE(parser.finish().ok());
}

}  // namespace
}  // namespace grid
