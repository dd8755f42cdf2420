#include "files/tar_stream.h"

#include <algorithm>
#include <cstring>
#include <limits>

#include "util/printable.h"

namespace grid {

namespace {

// ustar header layout (POSIX.1-1988, pax adds nothing to the block itself).
constexpr size_t kNameOffset = 0, kNameSize = 100;
constexpr size_t kModeOffset = 100, kModeSize = 8;
constexpr size_t kUidOffset = 108, kUidSize = 8;
constexpr size_t kGidOffset = 116, kGidSize = 8;
constexpr size_t kSizeOffset = 124, kSizeSize = 12;
constexpr size_t kMtimeOffset = 136, kMtimeSize = 12;
constexpr size_t kChecksumOffset = 148, kChecksumSize = 8;
constexpr size_t kTypeflagOffset = 156;
constexpr size_t kLinknameOffset = 157, kLinknameSize = 100;
constexpr size_t kMagicOffset = 257;
constexpr size_t kPrefixOffset = 345, kPrefixSize = 155;

// POSIX: "ustar", NUL, version "00". GNU tar's older format: "ustar  ", NUL.
constexpr char kUstarMagicBytes[8] = {'u', 's', 't', 'a', 'r', '\0', '0', '0'};
constexpr std::string_view kUstarMagic(kUstarMagicBytes, 8);
constexpr std::string_view kGnuMagic("ustar  \0", 8);

// Sizes stay below 2^63 so that offsets and padding never overflow a uint64_t.
constexpr uint64_t kMaxEntrySize = uint64_t{1} << 62;

uint64_t paddingFor(uint64_t size) {
  return (kTarBlockSize - size % kTarBlockSize) % kTarBlockSize;
}

// --- writing ---

// Octal with a NUL terminator when it fits, else GNU base-256 (two's complement, first byte
// 0x80 or 0xff), which GNU tar, bsdtar and Go read.
void putNumber(char* field, size_t width, int64_t value) {
  const int digits = static_cast<int>(width) - 1;
  if (value >= 0 &&
      (digits >= 21 || static_cast<uint64_t>(value) < (uint64_t{1} << (3 * digits)))) {
    uint64_t v = static_cast<uint64_t>(value);
    for (int i = digits - 1; i >= 0; --i) {
      field[i] = static_cast<char>('0' + (v & 7));
      v >>= 3;
    }
    field[digits] = '\0';
    return;
  }
  uint64_t v = static_cast<uint64_t>(value);
  for (size_t i = width; i-- > 1;) {
    field[i] = static_cast<char>(v & 0xff);
    v = value < 0 ? (v >> 8) | (uint64_t{0xff} << 56) : v >> 8;
  }
  field[0] = static_cast<char>(value < 0 ? 0xff : 0x80);
}

void putString(char* field, size_t width, std::string_view value) {
  if (!value.empty()) std::memcpy(field, value.data(), std::min(width, value.size()));
}

void putChecksum(char* block) {
  std::memset(block + kChecksumOffset, ' ', kChecksumSize);
  unsigned sum = 0;
  for (size_t i = 0; i < kTarBlockSize; ++i) sum += static_cast<unsigned char>(block[i]);
  // Six octal digits, NUL, space: what GNU tar writes.
  for (int i = 5; i >= 0; --i) {
    block[kChecksumOffset + i] = static_cast<char>('0' + (sum & 7));
    sum >>= 3;
  }
  block[kChecksumOffset + 6] = '\0';
}

std::string headerBlock(std::string_view name, std::string_view prefix, char typeflag,
                        const TarEntryInfo& info, uint64_t size) {
  std::string block(kTarBlockSize, '\0');
  char* b = block.data();
  putString(b + kNameOffset, kNameSize, name);
  putNumber(b + kModeOffset, kModeSize, info.mode & 07777);
  putNumber(b + kUidOffset, kUidSize, info.uid);
  putNumber(b + kGidOffset, kGidSize, info.gid);
  putNumber(b + kSizeOffset, kSizeSize, static_cast<int64_t>(size));
  putNumber(b + kMtimeOffset, kMtimeSize, info.mtime);
  b[kTypeflagOffset] = typeflag;
  putString(b + kMagicOffset, kUstarMagic.size(), kUstarMagic);
  putString(b + kPrefixOffset, kPrefixSize, prefix);
  putChecksum(b);
  return block;
}

// One pax record: "<length> <key>=<value>\n", where <length> counts the whole record.
std::string paxRecord(std::string_view key, std::string_view value) {
  const size_t body = key.size() + value.size() + 3;  // ' ', '=', '\n'
  size_t length = body + 1;
  while (std::to_string(length).size() + body != length) ++length;
  std::string record = std::to_string(length);
  record.append(" ").append(key).append("=").append(value).append("\n");
  return record;
}

// Splits a name over the ustar prefix and name fields at a '/', if it fits.
std::optional<std::pair<std::string_view, std::string_view>> splitUstarName(std::string_view name) {
  if (name.size() <= kNameSize) return std::pair{std::string_view(), name};
  if (name.size() > kPrefixSize + 1 + kNameSize) return std::nullopt;
  // The earliest '/' that leaves at most 100 bytes of name keeps the prefix shortest.
  for (size_t slash = name.find('/'); slash != std::string_view::npos;
       slash = name.find('/', slash + 1)) {
    if (slash > kPrefixSize) break;
    const std::string_view rest = name.substr(slash + 1);
    if (rest.size() <= kNameSize && !rest.empty()) return std::pair{name.substr(0, slash), rest};
  }
  return std::nullopt;
}

// --- reading ---

bool isZeroBlock(std::string_view block) {
  return std::all_of(block.begin(), block.end(), [](char c) { return c == '\0'; });
}

// A NUL-terminated string field.
std::string_view fieldString(std::string_view block, size_t offset, size_t width) {
  std::string_view field = block.substr(offset, width);
  const size_t nul = field.find('\0');
  return nul == std::string_view::npos ? field : field.substr(0, nul);
}

// An octal field (spaces and NULs around the digits allowed, empty is 0) or a base-256 one.
std::optional<int64_t> parseNumber(std::string_view field) {
  const auto first = static_cast<unsigned char>(field.front());
  if (first & 0x80) {
    const bool negative = first & 0x40;
    const unsigned char invert = negative ? 0xff : 0x00;
    uint64_t value = 0;
    for (size_t i = 0; i < field.size(); ++i) {
      unsigned char c = static_cast<unsigned char>(field[i]) ^ invert;
      if (i == 0) c &= 0x7f;
      if (value >> 56) return std::nullopt;
      value = (value << 8) | c;
    }
    if (value >> 63) return std::nullopt;
    return negative ? ~static_cast<int64_t>(value) : static_cast<int64_t>(value);
  }
  size_t begin = 0, end = field.size();
  while (begin < end && (field[begin] == ' ' || field[begin] == '\0')) ++begin;
  while (end > begin && (field[end - 1] == ' ' || field[end - 1] == '\0')) --end;
  uint64_t value = 0;
  for (size_t i = begin; i < end; ++i) {
    if (field[i] < '0' || field[i] > '7') return std::nullopt;
    if (value >> 60) return std::nullopt;
    value = (value << 3) | static_cast<uint64_t>(field[i] - '0');
  }
  if (value >> 63) return std::nullopt;
  return static_cast<int64_t>(value);
}

std::optional<uint64_t> parseDecimal(std::string_view text) {
  if (text.empty() || text.size() > 19) return std::nullopt;
  uint64_t value = 0;
  for (const char c : text) {
    if (c < '0' || c > '9') return std::nullopt;
    value = value * 10 + static_cast<uint64_t>(c - '0');
  }
  return value;
}

// pax mtime: "[-]seconds[.fraction]"; the fraction is dropped.
std::optional<int64_t> parsePaxTime(std::string_view text) {
  const bool negative = !text.empty() && text.front() == '-';
  if (negative) text.remove_prefix(1);
  const size_t dot = text.find('.');
  if (dot != std::string_view::npos) {
    const std::string_view fraction = text.substr(dot + 1);
    if (!std::all_of(fraction.begin(), fraction.end(),
                     [](char c) { return c >= '0' && c <= '9'; })) {
      return std::nullopt;
    }
    text = text.substr(0, dot);
  }
  const auto seconds = parseDecimal(text);
  if (!seconds || *seconds > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
    return std::nullopt;
  }
  return negative ? -static_cast<int64_t>(*seconds) : static_cast<int64_t>(*seconds);
}

std::string shown(std::string_view text) { return printablePrefix(text, 64); }

TarEntryType entryType(char typeflag) {
  switch (typeflag) {
    case '0':
    case '\0':
    case '7':  // contiguous file: a regular file to everyone but a few old systems
      return TarEntryType::kFile;
    case '5':
      return TarEntryType::kDirectory;
    case '2':
      return TarEntryType::kSymlink;
    case '1':
      return TarEntryType::kHardlink;
    default:
      return TarEntryType::kOther;
  }
}

// Types whose size field says nothing about data that follows (as Go's archive/tar, which
// the engines use on both ends, treats them).
bool isHeaderOnly(char typeflag) {
  return typeflag == '1' || typeflag == '2' || typeflag == '3' || typeflag == '4' ||
         typeflag == '5' || typeflag == '6';
}

// Checksum and magic of a non-zero header block; what is wrong with it, if anything.
std::optional<std::string> checkHeaderBlock(std::string_view block) {
  // The unsigned sum with the checksum field as spaces; some old writers summed signed bytes.
  const auto stored = parseNumber(block.substr(kChecksumOffset, kChecksumSize));
  int64_t unsigned_sum = 0, signed_sum = 0;
  for (size_t i = 0; i < kTarBlockSize; ++i) {
    const bool in_field = i >= kChecksumOffset && i < kChecksumOffset + kChecksumSize;
    unsigned_sum += in_field ? ' ' : static_cast<unsigned char>(block[i]);
    signed_sum += in_field ? ' ' : static_cast<signed char>(block[i]);
  }
  if (!stored || (*stored != unsigned_sum && *stored != signed_sum)) {
    return "checksum mismatch (not a tar stream, or a corrupt one)";
  }
  const std::string_view magic = block.substr(kMagicOffset, 8);
  if (magic != kUstarMagic && magic != kGnuMagic && !isZeroBlock(magic.substr(0, 6))) {
    return "unknown format magic";
  }
  return std::nullopt;
}

// The entry a (checked) header block describes by itself, before extended headers apply.
Result<TarEntry> decodeEntry(std::string_view block) {
  TarEntry entry;
  entry.typeflag = block[kTypeflagOffset];
  entry.type = entryType(entry.typeflag);
  const auto mode = parseNumber(block.substr(kModeOffset, kModeSize));
  const auto uid = parseNumber(block.substr(kUidOffset, kUidSize));
  const auto gid = parseNumber(block.substr(kGidOffset, kGidSize));
  const auto mtime = parseNumber(block.substr(kMtimeOffset, kMtimeSize));
  if (!mode || *mode < 0) return fail(ErrorCode::kInvalidArgument, "invalid mode field");
  if (!uid || *uid < 0) return fail(ErrorCode::kInvalidArgument, "invalid uid field");
  if (!gid || *gid < 0) return fail(ErrorCode::kInvalidArgument, "invalid gid field");
  if (!mtime) return fail(ErrorCode::kInvalidArgument, "invalid mtime field");
  entry.mode = static_cast<uint32_t>(*mode & 07777);
  entry.uid = static_cast<uint64_t>(*uid);
  entry.gid = static_cast<uint64_t>(*gid);
  entry.mtime = *mtime;
  // Only POSIX ustar has the prefix field; GNU keeps other data at that offset.
  const std::string_view prefix = block.substr(kMagicOffset, 8) == kUstarMagic
                                      ? fieldString(block, kPrefixOffset, kPrefixSize)
                                      : std::string_view();
  if (!prefix.empty()) entry.name.append(prefix).append("/");
  entry.name.append(fieldString(block, kNameOffset, kNameSize));
  entry.linkname = fieldString(block, kLinknameOffset, kLinknameSize);
  return entry;
}

}  // namespace

const char* tarEntryTypeName(TarEntryType type) {
  switch (type) {
    case TarEntryType::kFile:
      return "file";
    case TarEntryType::kDirectory:
      return "directory";
    case TarEntryType::kSymlink:
      return "symlink";
    case TarEntryType::kHardlink:
      return "hardlink";
    case TarEntryType::kOther:
      return "other";
  }
  return "other";
}

// ---------------------------------------------------------------------------------------------
// TarWriter

Result<std::string> TarWriter::header(const TarEntryInfo& info, char typeflag, std::string name) {
  if (finished_) return fail(ErrorCode::kInternal, "tar: entry after the end of the archive");
  if (file_open_) return fail(ErrorCode::kInternal, "tar: entry while a file is still open");
  if (name.empty() || name == "/") {
    return fail(ErrorCode::kInvalidArgument, "tar: an entry needs a name");
  }
  if (name.find('\0') != std::string::npos) {
    return fail(ErrorCode::kInvalidArgument, "tar: entry name contains a NUL byte");
  }
  if (name.size() > kMaxTarExtendedHeaderBytes - 32) {
    return fail(ErrorCode::kInvalidArgument, "tar: entry name is " + std::to_string(name.size()) +
                                                 " bytes long, more than " +
                                                 std::to_string(kMaxTarExtendedHeaderBytes - 32));
  }
  if (info.size >= kMaxEntrySize) {
    return fail(ErrorCode::kInvalidArgument,
                "tar: entry size " + std::to_string(info.size) + " is too large");
  }
  const uint64_t size = typeflag == '0' ? info.size : 0;
  std::string out;
  if (const auto split = splitUstarName(name)) {
    out = headerBlock(split->second, split->first, typeflag, info, size);
    return out;
  }
  // A pax extended header carries the full name; the ustar name field gets a truncated one
  // that readers without pax support would use.
  const std::string records = paxRecord("path", name);
  TarEntryInfo pax_info;
  pax_info.mode = 0644;
  pax_info.mtime = info.mtime;
  out = headerBlock("././@PaxHeader", "", 'x', pax_info, records.size());
  out += records;
  out.append(paddingFor(records.size()), '\0');
  std::string_view fallback = std::string_view(name).substr(0, kNameSize);
  out += headerBlock(fallback, "", typeflag, info, size);
  return out;
}

Result<std::string> TarWriter::directory(const TarEntryInfo& info) {
  std::string name = info.name;
  if (!name.empty() && name.back() != '/') name += '/';
  return header(info, '5', std::move(name));
}

Result<std::string> TarWriter::beginFile(const TarEntryInfo& info) {
  if (!info.name.empty() && info.name.back() == '/') {
    return fail(ErrorCode::kInvalidArgument, "tar: file name ends in '/': " + shown(info.name));
  }
  auto block = header(info, '0', info.name);
  if (!block.ok()) return block;
  file_open_ = true;
  size_ = info.size;
  remaining_ = info.size;
  return block;
}

Result<void> TarWriter::fileData(std::string_view chunk) {
  if (!file_open_) return fail(ErrorCode::kInternal, "tar: file data without an open file");
  if (chunk.size() > remaining_) {
    return fail(ErrorCode::kInvalidArgument,
                "tar: more data than the " + std::to_string(size_) + " bytes the header announced");
  }
  remaining_ -= chunk.size();
  return {};
}

Result<std::string> TarWriter::endFile() {
  if (!file_open_) return fail(ErrorCode::kInternal, "tar: endFile without an open file");
  if (remaining_ != 0) {
    return fail(ErrorCode::kInvalidArgument, "tar: file data ended " + std::to_string(remaining_) +
                                                 " bytes short of the " + std::to_string(size_) +
                                                 " the header announced");
  }
  file_open_ = false;
  return std::string(paddingFor(size_), '\0');
}

Result<std::string> TarWriter::finish() {
  if (file_open_) return fail(ErrorCode::kInternal, "tar: finish while a file is still open");
  if (finished_) return fail(ErrorCode::kInternal, "tar: finish called twice");
  finished_ = true;
  return std::string(2 * kTarBlockSize, '\0');
}

// ---------------------------------------------------------------------------------------------
// TarReader

TarReader::TarReader(TarHandler& handler, size_t max_extended_header_bytes)
    : handler_(handler), max_extended_header_bytes_(max_extended_header_bytes) {}

Result<void> TarReader::fail(std::string message) {
  state_ = State::kFailed;
  error_ = Error{ErrorCode::kInvalidArgument, "tar: " + std::move(message)};
  return error_;
}

Result<void> TarReader::feed(std::string_view data) {
  while (!data.empty()) {
    switch (state_) {
      case State::kFailed:
        return error_;
      case State::kEnded:
        offset_ += data.size();  // trailing blocks (blocking factor) or garbage: not ours
        return {};
      case State::kHeader:
      case State::kZeroBlock: {
        if (block_.empty()) header_offset_ = offset_;
        const size_t take = std::min(data.size(), kTarBlockSize - block_.size());
        block_.append(data.substr(0, take));
        data.remove_prefix(take);
        offset_ += take;
        if (block_.size() < kTarBlockSize) return {};
        if (auto r = onHeaderBlock(); !r.ok()) return r;
        break;
      }
      case State::kExtended: {
        const size_t take =
            static_cast<size_t>(std::min<uint64_t>(data.size(), extended_size_ - block_.size()));
        block_.append(data.substr(0, take));
        data.remove_prefix(take);
        offset_ += take;
        if (block_.size() < extended_size_) return {};
        if (auto r = onExtendedHeader(); !r.ok()) return r;
        break;
      }
      case State::kData: {
        const size_t take = static_cast<size_t>(std::min<uint64_t>(data.size(), remaining_));
        const std::string_view chunk = data.substr(0, take);
        data.remove_prefix(take);
        offset_ += take;
        remaining_ -= take;
        if (auto r = handler_.onData(chunk); !r.ok()) {
          state_ = State::kFailed;
          error_ = r.error();
          return r;
        }
        if (remaining_ == 0) {
          if (auto r = endEntry(); !r.ok()) return r;
        }
        break;
      }
      case State::kPadding: {
        const size_t take = static_cast<size_t>(std::min<uint64_t>(data.size(), padding_));
        data.remove_prefix(take);
        offset_ += take;
        padding_ -= take;
        if (padding_ == 0) state_ = State::kHeader;
        break;
      }
    }
  }
  return state_ == State::kFailed ? Result<void>(error_) : Result<void>();
}

Result<void> TarReader::finish() {
  switch (state_) {
    case State::kFailed:
      return error_;
    case State::kEnded:
      return {};
    case State::kZeroBlock:
      if (block_.empty()) {  // a lone zero block at the very end
        state_ = State::kEnded;
        return {};
      }
      return fail("truncated end-of-archive block at offset " + std::to_string(header_offset_));
    case State::kHeader:
      if (!block_.empty()) {
        return fail("truncated header at offset " + std::to_string(header_offset_) + " (" +
                    std::to_string(block_.size()) + " of 512 bytes)");
      }
      if (extended_.total > 0) {
        return fail("stream ended after an extended header, before its entry");
      }
      return fail("stream ended at offset " + std::to_string(offset_) +
                  " without the end-of-archive blocks");
    case State::kExtended:
      return fail("truncated extended header at offset " + std::to_string(header_offset_));
    case State::kData:
      return fail("truncated entry data: " + std::to_string(remaining_) +
                  " bytes missing at offset " + std::to_string(offset_));
    case State::kPadding:
      return fail("truncated entry padding at offset " + std::to_string(offset_));
  }
  return fail("unknown state");
}

Result<void> TarReader::onHeaderBlock() {
  const std::string_view block = block_;
  const std::string at = "header at offset " + std::to_string(header_offset_) + ": ";
  if (isZeroBlock(block)) {
    if (extended_.total > 0) return fail(at + "end of archive right after an extended header");
    state_ = state_ == State::kZeroBlock ? State::kEnded : State::kZeroBlock;
    block_.clear();
    return {};
  }
  if (state_ == State::kZeroBlock) {
    return fail(at + "a lone zero block stands before this header");
  }
  if (auto problem = checkHeaderBlock(block)) return fail(at + *problem);

  const char typeflag = block[kTypeflagOffset];
  const auto size = parseNumber(block.substr(kSizeOffset, kSizeSize));
  if (!size || *size < 0) return fail(at + "invalid size field");
  if (static_cast<uint64_t>(*size) >= kMaxEntrySize) {
    return fail(at + "size " + std::to_string(*size) + " is too large");
  }

  if (typeflag == 'x' || typeflag == 'g' || typeflag == 'L' || typeflag == 'K') {
    const uint64_t ext_size = static_cast<uint64_t>(*size);
    if (ext_size > max_extended_header_bytes_ - extended_.total) {
      return fail(at + "extended header of " + std::to_string(ext_size) +
                  " bytes exceeds the limit of " + std::to_string(max_extended_header_bytes_));
    }
    extended_.total += static_cast<size_t>(ext_size);
    extended_type_ = typeflag;
    extended_size_ = ext_size;
    padding_ = paddingFor(ext_size);
    block_.clear();
    header_offset_ = offset_;
    state_ = State::kExtended;
    if (ext_size == 0) return onExtendedHeader();
    return {};
  }

  auto decoded = decodeEntry(block);
  if (!decoded) return fail(at + decoded.error().message);
  TarEntry entry = std::move(decoded).value();
  // Extended headers override the block's fields: pax first, then GNU's long names.
  const Extended& ext = extended_;
  if (ext.pax_path) {
    entry.name = *ext.pax_path;
  } else if (ext.long_name) {
    entry.name = *ext.long_name;
  }
  if (ext.pax_linkpath) {
    entry.linkname = *ext.pax_linkpath;
  } else if (ext.long_link) {
    entry.linkname = *ext.long_link;
  }
  if (ext.pax_uid) entry.uid = *ext.pax_uid;
  if (ext.pax_gid) entry.gid = *ext.pax_gid;
  if (ext.pax_mtime) entry.mtime = *ext.pax_mtime;
  // A GNU sparse file in pax form: its data is a map plus the stored pieces, not the file's
  // bytes, so it is not offered as a regular file.
  if (ext.pax_sparse && entry.type == TarEntryType::kFile) {
    entry.type = TarEntryType::kOther;
    entry.typeflag = 'S';
  }
  const uint64_t data_size =
      isHeaderOnly(typeflag) ? 0 : ext.pax_size.value_or(static_cast<uint64_t>(*size));
  entry.size = data_size;

  extended_ = Extended{};
  block_.clear();
  return startEntry(std::move(entry), data_size);
}

Result<void> TarReader::startEntry(TarEntry entry, uint64_t data_size) {
  if (auto r = handler_.onEntry(entry); !r.ok()) {
    state_ = State::kFailed;
    error_ = r.error();
    return r;
  }
  remaining_ = data_size;
  padding_ = paddingFor(data_size);
  if (data_size > 0) {
    state_ = State::kData;
    return {};
  }
  return endEntry();
}

Result<void> TarReader::endEntry() {
  state_ = padding_ > 0 ? State::kPadding : State::kHeader;
  if (auto r = handler_.onEntryEnd(); !r.ok()) {
    state_ = State::kFailed;
    error_ = r.error();
    return r;
  }
  return {};
}

Result<void> TarReader::onExtendedHeader() {
  const std::string data = std::move(block_);
  block_.clear();
  const std::string at = "extended header at offset " + std::to_string(header_offset_) + ": ";
  state_ = padding_ > 0 ? State::kPadding : State::kHeader;
  if (extended_type_ == 'L' || extended_type_ == 'K') {
    // GNU long name/link: a NUL-terminated string.
    const size_t nul = data.find('\0');
    std::string value = data.substr(0, nul);
    (extended_type_ == 'L' ? extended_.long_name : extended_.long_link) = std::move(value);
    return {};
  }
  // pax: records "<length> <key>=<value>\n". A global header ('g') is validated but not
  // applied: the engines never write one, and Go's reader does not apply them either.
  std::string_view rest = data;
  while (!rest.empty()) {
    const size_t space = rest.find(' ');
    if (space == std::string_view::npos || space == 0 || space > 20) {
      return fail(at + "malformed pax record length");
    }
    const auto length = parseDecimal(rest.substr(0, space));
    if (!length || *length <= space + 1 || *length > rest.size()) {
      return fail(at + "pax record length out of range");
    }
    const std::string_view record = rest.substr(0, static_cast<size_t>(*length));
    rest.remove_prefix(static_cast<size_t>(*length));
    if (record.back() != '\n') return fail(at + "pax record does not end in a newline");
    const std::string_view body = record.substr(space + 1, record.size() - space - 2);
    const size_t eq = body.find('=');
    if (eq == std::string_view::npos || eq == 0) return fail(at + "pax record without a key");
    const std::string_view key = body.substr(0, eq);
    const std::string_view value = body.substr(eq + 1);
    if (extended_type_ != 'x') continue;
    if (key.substr(0, 11) == "GNU.sparse.") {
      extended_.pax_sparse = true;
    } else if (key == "path") {
      extended_.pax_path = std::string(value);
    } else if (key == "linkpath") {
      extended_.pax_linkpath = std::string(value);
    } else if (key == "size") {
      const auto size = parseDecimal(value);
      if (!size || *size >= kMaxEntrySize) return fail(at + "invalid pax size " + shown(value));
      extended_.pax_size = *size;
    } else if (key == "mtime") {
      const auto mtime = parsePaxTime(value);
      if (!mtime) return fail(at + "invalid pax mtime " + shown(value));
      extended_.pax_mtime = *mtime;
    } else if (key == "uid" || key == "gid") {
      const auto id = parseDecimal(value);
      if (!id) return fail(at + "invalid pax " + std::string(key) + " " + shown(value));
      (key == "uid" ? extended_.pax_uid : extended_.pax_gid) = *id;
    }
  }
  return {};
}

// ---------------------------------------------------------------------------------------------
// TarSingleFileReader

TarSingleFileReader::TarSingleFileReader(std::string path, Sink sink)
    : path_(std::move(path)), sink_(std::move(sink)) {}

Result<void> TarSingleFileReader::onEntry(const TarEntry& entry) {
  if (entry_) {
    return fail(
        ErrorCode::kInternal,
        "archive of " + path_ + " holds more than one entry (second: " + shown(entry.name) + ")");
  }
  entry_ = entry;
  switch (entry.type) {
    case TarEntryType::kFile:
    case TarEntryType::kSymlink:
      return {};
    case TarEntryType::kDirectory:
      return fail(ErrorCode::kInvalidArgument, "is a directory: " + path_);
    case TarEntryType::kHardlink:
    case TarEntryType::kOther:
      break;
  }
  return fail(ErrorCode::kInvalidArgument, "not a regular file: " + path_ + " (tar type '" +
                                               shown(std::string(1, entry.typeflag)) + "')");
}

Result<void> TarSingleFileReader::onData(std::string_view chunk) {
  if (!entry_ || entry_->type != TarEntryType::kFile) return {};
  return sink_(chunk);
}

Result<void> TarSingleFileReader::onEntryEnd() {
  if (entry_ && entry_->type == TarEntryType::kFile) complete_ = true;
  return {};
}

std::optional<std::string> TarSingleFileReader::symlinkTarget() const {
  if (!entry_ || entry_->type != TarEntryType::kSymlink) return std::nullopt;
  return entry_->linkname;
}

}  // namespace grid
