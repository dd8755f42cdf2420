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

TEST(Utf8StreamSanitizerTest, SequenceSplitAcrossPiecesIsCarriedOver) {
  const std::string text = "a\xC3\xA9 \xE2\x9C\x93 \xF0\x9D\x84\x9E!";  // "aé ✓ 𝄞!"
  for (size_t cut = 0; cut <= text.size(); ++cut) {
    Utf8StreamSanitizer stream;
    std::string out = stream.feed(text.substr(0, cut));
    EXPECT_LE(stream.carried(), 3u);
    out += stream.feed(text.substr(cut));
    out += stream.finish();
    EXPECT_EQ(out, text) << "cut at " << cut;
  }
}

TEST(Utf8StreamSanitizerTest, OneByteAtATime) {
  const std::string text = "\xE6\x97\xA5\xE6\x9C\xAC\xF0\x9F\x98\x80";
  Utf8StreamSanitizer stream;
  std::string out;
  for (const char c : text) out += stream.feed(std::string_view(&c, 1));
  out += stream.finish();
  EXPECT_EQ(out, text);
}

TEST(Utf8StreamSanitizerTest, InvalidBytesAreReplacedNotCarried) {
  Utf8StreamSanitizer stream;
  EXPECT_EQ(stream.feed("a\xFF"), "a\xEF\xBF\xBD");
  EXPECT_EQ(stream.carried(), 0u);
  EXPECT_EQ(stream.feed("\xC3\x28"), "\xEF\xBF\xBD(");  // a lead byte without its follower
  EXPECT_EQ(stream.feed("\xE2\x9C"), "");              // incomplete: carried
  EXPECT_EQ(stream.carried(), 2u);
  EXPECT_EQ(stream.finish(), "\xEF\xBF\xBD\xEF\xBF\xBD");  // the stream ended inside it
}

}  // namespace
}  // namespace grid
