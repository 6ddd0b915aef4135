#include "common/encoding.h"

// SHA256_Init/Update/Final are deprecated in OpenSSL 3 in favour of the EVP
// interface, but remain part of libcrypto; see Sha256 below for why they are
// used here.
#define OPENSSL_SUPPRESS_DEPRECATED

#include <cstdio>

#include <openssl/evp.h>
#include <openssl/sha.h>

#include "common/result.h"

namespace ledger {

Sha256Digest Sha256(std::string_view first, std::string_view second) {
  // libcrypto's SHA256_* functions on a context on the stack: the EVP
  // interface allocates and frees its context state at every
  // EVP_DigestInit_ex2 (OpenSSL 3.0), one malloc and free per hash, which a
  // rebuild makes a million times, on a thread that allocates heavily
  // anyway. Same code underneath (SHA extensions where the CPU has them).
  SHA256_CTX context;
  Sha256Digest digest{};
  LEDGER_ASSERT(SHA256_Init(&context) == 1);
  LEDGER_ASSERT(SHA256_Update(&context, first.data(), first.size()) == 1);
  LEDGER_ASSERT(SHA256_Update(&context, second.data(), second.size()) == 1);
  LEDGER_ASSERT(SHA256_Final(digest.data(), &context) == 1);
  return digest;
}

std::string HexEncode(std::string_view bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string text;
  text.reserve(bytes.size() * 2);
  for (const char c : bytes) {
    const auto byte = static_cast<uint8_t>(c);
    text += kDigits[byte >> 4];
    text += kDigits[byte & 0xf];
  }
  return text;
}

std::string Base64Encode(std::string_view bytes) {
  std::string text(4 * ((bytes.size() + 2) / 3), '\0');
  const int length = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(text.data()),
                                     reinterpret_cast<const unsigned char*>(bytes.data()),
                                     static_cast<int>(bytes.size()));
  LEDGER_ASSERT(length >= 0 && static_cast<size_t>(length) == text.size());
  return text;
}

std::optional<std::string> Base64Decode(std::string_view text) {
  if (text.size() % 4 != 0) return std::nullopt;
  const auto value_of = [](char c) -> int {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
  };
  std::string bytes;
  bytes.reserve(text.size() / 4 * 3);
  for (size_t i = 0; i < text.size(); i += 4) {
    const bool last = i + 4 == text.size();
    const int padding = (text[i + 3] == '=') + (text[i + 2] == '=');
    if (padding > 0 && !last) return std::nullopt;
    if (text[i + 2] == '=' && text[i + 3] != '=') return std::nullopt;
    uint32_t group = 0;
    for (size_t k = 0; k < 4; ++k) {
      int value = 0;
      if (k >= static_cast<size_t>(4 - padding)) {
        value = 0;
      } else {
        value = value_of(text[i + k]);
        if (value < 0) return std::nullopt;
      }
      group = (group << 6) | static_cast<uint32_t>(value);
    }
    bytes.push_back(static_cast<char>((group >> 16) & 0xff));
    if (padding < 2) bytes.push_back(static_cast<char>((group >> 8) & 0xff));
    if (padding < 1) bytes.push_back(static_cast<char>(group & 0xff));
  }
  return bytes;
}

std::optional<std::string> HexDecode(std::string_view text) {
  if (text.size() % 2 != 0) return std::nullopt;
  const auto value_of = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  std::string bytes;
  bytes.reserve(text.size() / 2);
  for (size_t i = 0; i < text.size(); i += 2) {
    const int high = value_of(text[i]);
    const int low = value_of(text[i + 1]);
    if (high < 0 || low < 0) return std::nullopt;
    bytes.push_back(static_cast<char>(high * 16 + low));
  }
  return bytes;
}

void AppendBigEndian64(std::string* out, uint64_t value) {
  for (int shift = 56; shift >= 0; shift -= 8) out->push_back(static_cast<char>((value >> shift) & 0xff));
}

uint64_t ReadBigEndian64(std::string_view bytes) {
  LEDGER_ASSERT(bytes.size() >= 8);
  uint64_t value = 0;
  for (size_t i = 0; i < 8; ++i) value = (value << 8) | static_cast<uint8_t>(bytes[i]);
  return value;
}

std::string Utf8OrAscii(std::string_view text) {
  if (IsValidUtf8(text)) return std::string(text);
  std::string ascii;
  ascii.reserve(text.size());
  for (const char c : text) ascii += static_cast<unsigned char>(c) < 0x80 ? c : '?';
  return ascii;
}

bool IsValidUtf8(std::string_view text) {
  size_t i = 0;
  const size_t size = text.size();
  while (i < size) {
    const auto byte = static_cast<uint8_t>(text[i]);
    if (byte < 0x80) {
      ++i;
      continue;
    }
    size_t extra = 0;
    uint32_t code_point = 0;
    if ((byte & 0xe0) == 0xc0) {
      extra = 1;
      code_point = byte & 0x1f;
    } else if ((byte & 0xf0) == 0xe0) {
      extra = 2;
      code_point = byte & 0x0f;
    } else if ((byte & 0xf8) == 0xf0) {
      extra = 3;
      code_point = byte & 0x07;
    } else {
      return false;
    }
    if (i + extra >= size) return false;
    for (size_t k = 1; k <= extra; ++k) {
      const auto next = static_cast<uint8_t>(text[i + k]);
      if ((next & 0xc0) != 0x80) return false;
      code_point = (code_point << 6) | (next & 0x3f);
    }
    static constexpr uint32_t kMinimum[] = {0, 0x80, 0x800, 0x10000};
    if (code_point < kMinimum[extra] || code_point > 0x10ffff ||
        (code_point >= 0xd800 && code_point <= 0xdfff)) {
      return false;
    }
    i += extra + 1;
  }
  return true;
}

size_t Utf8SequenceLength(std::string_view text, size_t i) {
  const auto byte = static_cast<uint8_t>(text[i]);
  size_t length = 0;
  if (byte >= 0xc2 && byte <= 0xdf) {
    length = 2;
  } else if (byte >= 0xe0 && byte <= 0xef) {
    length = 3;
  } else if (byte >= 0xf0 && byte <= 0xf4) {
    length = 4;
  } else {
    return 0;
  }
  if (i + length > text.size() || !IsValidUtf8(text.substr(i, length))) return 0;
  return length;
}

namespace {

// The code point of the well-formed sequence of `length` bytes at text[i].
char32_t DecodeAt(std::string_view text, size_t i, size_t length) {
  const auto byte = static_cast<uint8_t>(text[i]);
  if (length == 1) return byte;
  static constexpr uint8_t kLeadBits[] = {0, 0, 0x1f, 0x0f, 0x07};
  char32_t code_point = byte & kLeadBits[length];
  for (size_t k = 1; k < length; ++k) code_point = (code_point << 6) | (static_cast<uint8_t>(text[i + k]) & 0x3f);
  return code_point;
}

bool IsC0OrC1Control(char32_t c) { return c < 0x20 || (c >= 0x7f && c <= 0x9f); }
bool IsLineSeparator(char32_t c) { return c == 0x2028 || c == 0x2029; }
bool IsDirectionOverride(char32_t c) { return (c >= 0x202a && c <= 0x202e) || (c >= 0x2066 && c <= 0x2069); }
bool IsDirectionMark(char32_t c) { return c == 0x200e || c == 0x200f || c == 0x061c; }

// Format characters that show nothing at all, so "ma" U+200B "il" reads as
// "mail" but is another system, and "Ana" with a tag character appended is
// another actor: the soft hyphen, the combining grapheme joiner, the Hangul
// and Mongolian fillers, the zero-width space, the word joiner and the
// invisible operators, the deprecated format characters U+206A to U+206F,
// the byte order mark, the interlinear annotation controls, the musical
// format characters and the tag characters (which can carry hidden ASCII).
// The zero-width joiner and non-joiner (U+200C, U+200D) are not among them:
// emoji and several scripts need them, and they join or part what is seen.
bool IsInvisibleFormat(char32_t c) {
  return c == 0x00ad || c == 0x034f || c == 0x115f || c == 0x1160 || c == 0x180e || c == 0x200b ||
         (c >= 0x2060 && c <= 0x2064) || (c >= 0x206a && c <= 0x206f) || c == 0x3164 || c == 0xfeff ||
         c == 0xffa0 || (c >= 0xfff9 && c <= 0xfffb) || (c >= 0x1d173 && c <= 0x1d17a) ||
         (c >= 0xe0000 && c <= 0xe007f);
}

// Multi-line text keeps the line separators, the direction marks and the
// invisible format characters: it breaks lines anyway, right-to-left writing
// uses the marks, and a hidden character inside a note spoofs no name.
bool Refused(char32_t c, TextShape shape) {
  if (shape == TextShape::kMultiLine) {
    if (c == '\t' || c == '\n' || c == '\r') return false;
    return IsC0OrC1Control(c) || IsDirectionOverride(c);
  }
  return IsC0OrC1Control(c) || IsDirectionOverride(c) || IsLineSeparator(c) || IsDirectionMark(c) ||
         IsInvisibleFormat(c);
}

}  // namespace

std::optional<char32_t> FirstRefusedCodePoint(std::string_view text, TextShape shape) {
  size_t i = 0;
  while (i < text.size()) {
    const auto byte = static_cast<uint8_t>(text[i]);
    const size_t length = byte < 0x80 ? 1 : Utf8SequenceLength(text, i);
    if (length == 0) {
      ++i;
      continue;
    }
    const char32_t code_point = DecodeAt(text, i, length);
    if (Refused(code_point, shape)) return code_point;
    i += length;
  }
  return std::nullopt;
}

std::string CodePointName(char32_t code_point) {
  char buffer[16];
  const int length = std::snprintf(buffer, sizeof buffer, "U+%04X", static_cast<unsigned>(code_point));
  return std::string(buffer, static_cast<size_t>(length));
}

std::string_view RefusedCodePointKind(char32_t code_point) {
  if (IsLineSeparator(code_point)) return "a line separator";
  if (IsDirectionOverride(code_point) || IsDirectionMark(code_point)) return "a text-direction control";
  if (IsInvisibleFormat(code_point)) return "an invisible character";
  return "a control character";
}

std::string QuotableText(std::string_view text, size_t bytes_max) {
  std::string shown;
  size_t i = 0;
  while (i < text.size()) {
    const auto byte = static_cast<uint8_t>(text[i]);
    size_t length = byte < 0x80 ? 1 : Utf8SequenceLength(text, i);
    std::string_view piece = text.substr(i, length);
    if (length == 0) {
      piece = "?";
      length = 1;
    } else if (Refused(DecodeAt(text, i, length), TextShape::kOneLine)) {
      piece = "?";
    }
    if (shown.size() + piece.size() > bytes_max) break;
    shown += piece;
    i += length;
  }
  return shown;
}

}  // namespace ledger
