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

// Length of the well-formed UTF-8 sequence of 2 to 4 bytes starting at
// text[i], or 0 when none starts there (ASCII included: callers handle it).
size_t Utf8SequenceLength(std::string_view text, size_t i);

// Text from a request, made fit to quote in an error message (which ends up
// in JSON, pages and logs): control characters and every byte that is not
// part of well-formed UTF-8 become '?', and it is cut to at most `bytes_max`
// bytes without splitting a character.
std::string QuotableText(std::string_view text, size_t bytes_max);

}  // namespace ledger
