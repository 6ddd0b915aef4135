#pragma once
// Byte encodings used on the wire and in keys, and SHA-256.

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace ledger {

constexpr size_t kSha256Bytes = 32;
using Sha256Digest = std::array<uint8_t, kSha256Bytes>;

// SHA-256 of the concatenation of the given parts (OpenSSL libcrypto).
Sha256Digest Sha256(std::string_view first, std::string_view second = {});

std::string HexEncode(std::string_view bytes);
inline std::string HexEncode(const Sha256Digest& digest) {
  return HexEncode(std::string_view(reinterpret_cast<const char*>(digest.data()), digest.size()));
}
inline std::string_view AsBytes(const Sha256Digest& digest) {
  return std::string_view(reinterpret_cast<const char*>(digest.data()), digest.size());
}

// Standard base64 with padding (RFC 4648 section 4).
std::string Base64Encode(std::string_view bytes);
// Strict inverse of Base64Encode: padding required, no whitespace; nullopt
// for anything else.
std::optional<std::string> Base64Decode(std::string_view text);
// Lower- or upper-case hex; nullopt for odd lengths or other characters.
std::optional<std::string> HexDecode(std::string_view text);

// Big-endian fixed 8 bytes, so that bytewise key order is numeric order.
void AppendBigEndian64(std::string* out, uint64_t value);
uint64_t ReadBigEndian64(std::string_view bytes);  // bytes.size() must be >= 8

// True when `text` is well-formed UTF-8 (no overlongs, no surrogates).
bool IsValidUtf8(std::string_view text);
// `text` itself when it is well-formed UTF-8; otherwise its ASCII bytes,
// with '?' for every other byte (for places that must put out UTF-8
// whatever they were given: mail headers, calendars).
std::string Utf8OrAscii(std::string_view text);

// Length of the well-formed UTF-8 sequence of 2 to 4 bytes starting at
// text[i], or 0 when none starts there (ASCII included: callers handle it).
size_t Utf8SequenceLength(std::string_view text, size_t i);

// Where a piece of text typed by people goes, which decides what it may hold.
enum class TextShape {
  kOneLine,    // titles, names, systems, actors, ids: shown on one line, in subjects
  kMultiLine,  // descriptions and notes
};

// The first code point of `text` that text of this shape refuses, or nullopt
// when there is none. `text` should be valid UTF-8 (IsValidUtf8); a byte that
// starts no well-formed sequence is skipped here.
//
// Both shapes refuse the C0 controls (a multi-line text keeps TAB, LF and
// CR), DEL, the C1 controls U+0080 to U+009F (NEL, U+0085, among them) and
// the bidirectional embeddings, overrides and isolates U+202A to U+202E and
// U+2066 to U+2069: they reorder the text around them when it is shown, so
// a title or a note could read as something other than what was stored.
// One line also refuses U+2028 LINE SEPARATOR and U+2029 PARAGRAPH SEPARATOR
// (a line break to some readers, invisible to others) and the direction
// marks U+200E, U+200F, U+061C and the format characters that show nothing
// (U+200B, U+FEFF, tags; encoding.cc lists them). Multi-line text keeps those.
std::optional<char32_t> FirstRefusedCodePoint(std::string_view text, TextShape shape);

// "U+202E": a code point as Unicode writes it (at least four hex digits).
std::string CodePointName(char32_t code_point);

// What a code point that FirstRefusedCodePoint names is, for a message:
// "a control character", "a line separator", "a text-direction control", "an invisible character".
std::string_view RefusedCodePointKind(char32_t code_point);

// Text from a request, made fit to quote in an error message (which ends up
// in JSON, pages and logs): control characters, the code points one-line
// text refuses (FirstRefusedCodePoint) and every byte that is not part of
// well-formed UTF-8 become '?', and it is cut to at most `bytes_max` bytes
// without splitting a character.
std::string QuotableText(std::string_view text, size_t bytes_max);

}  // namespace ledger
