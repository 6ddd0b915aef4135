#pragma once
// Ed25519 signatures (RFC 8032) through OpenSSL's EVP interface, and the
// key files that hold them: the private key as PKCS#8 PEM, the public key
// as SubjectPublicKeyInfo PEM (what `openssl pkey -pubout` writes and every
// Ed25519 library reads).
//
// Thread safety: a loaded key is immutable; Sign and Verify may be called
// from many threads at once (each call makes its own EVP context).
//
// Failure: loading fails with kIoError when the file cannot be read or
// written, kPermissionDenied when a private key file is readable or
// writable by anyone but its owner (as ssh refuses such a key), and
// kCorruption / kInvalidArgument when the text is not an Ed25519 key.

#include <memory>
#include <string>
#include <string_view>

#include "common/encoding.h"
#include "common/result.h"

typedef struct evp_pkey_st EVP_PKEY;

namespace ledger {

constexpr size_t kEd25519SignatureBytes = 64;
constexpr size_t kKeyFileBytesMax = 16 * 1024;

class PublicKey {
 public:
  // A SubjectPublicKeyInfo PEM ("-----BEGIN PUBLIC KEY-----") of an Ed25519
  // key; kInvalidArgument for anything else.
  static Result<PublicKey> FromPem(std::string_view pem);

  std::string Pem() const;
  // The DER SubjectPublicKeyInfo, and its SHA-256 in lower-case hex: the
  // key's id (as RFC 6962 names a log by the hash of its key's DER).
  std::string Der() const;
  std::string KeyId() const;
  // True when `signature` is this key's Ed25519 signature of `message`.
  bool Verify(std::string_view message, std::string_view signature) const;

  // Wraps an Ed25519 public key (owned); for signing.cc.
  explicit PublicKey(std::shared_ptr<EVP_PKEY> key) : key_(std::move(key)) {}

 private:
  std::shared_ptr<EVP_PKEY> key_;
};

class SigningKey {
 public:
  // Reads the PKCS#8 PEM private key at `path`; refuses a file whose mode
  // lets anyone but its owner read or write it.
  static Result<SigningKey> Load(const std::string& path);
  // Load, or, when nothing is at `path`, makes a new key and writes it there
  // (mode 0600, through a synced temporary file and a rename).
  static Result<SigningKey> LoadOrCreate(const std::string& path);

  // The 64-byte Ed25519 signature of `message` (deterministic).
  std::string Sign(std::string_view message) const;
  const PublicKey& public_key() const { return public_key_; }

 private:
  SigningKey(std::shared_ptr<EVP_PKEY> key, PublicKey public_key)
      : key_(std::move(key)), public_key_(std::move(public_key)) {}
  std::shared_ptr<EVP_PKEY> key_;
  PublicKey public_key_;
};

}  // namespace ledger
