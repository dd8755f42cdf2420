#include "util/utf8.h"

#include <gtest/gtest.h>

namespace grid {
namespace {

TEST(Utf8Test, ValidTextPassesUnchanged) {
  EXPECT_EQ(sanitizeUtf8("plain ascii\n"), "plain ascii\n");
  EXPECT_EQ(sanitizeUtf8("héllo ✓ 日本 𝄞"), "héllo ✓ 日本 𝄞");
  EXPECT_EQ(sanitizeUtf8(std::string("nul\0byte", 8)), std::string("nul\0byte", 8));
}

TEST(Utf8Test, InvalidSequencesBecomeReplacementCharacters) {
  EXPECT_EQ(sanitizeUtf8("a\xff"
                         "b"),
            "a\xEF\xBF\xBD"
            "b");
  EXPECT_EQ(sanitizeUtf8("\xC3"), "\xEF\xBF\xBD");                                  // truncated
  EXPECT_EQ(sanitizeUtf8("\xC0\xAF"), "\xEF\xBF\xBD\xEF\xBF\xBD");                  // overlong
  EXPECT_EQ(sanitizeUtf8("\xED\xA0\x80"), "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD");  // surrogate
  EXPECT_EQ(sanitizeUtf8("\xF4\x90\x80\x80").substr(0, 3), "\xEF\xBF\xBD");         // > U+10FFFF
}

}  // namespace
}  // namespace grid
