#include "common/signing.h"


#include <cerrno>
#include <cstring>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "common/file.h"

namespace ledger {
namespace {

std::shared_ptr<EVP_PKEY> Own(EVP_PKEY* key) { return std::shared_ptr<EVP_PKEY>(key, EVP_PKEY_free); }

// OpenSSL's reason for the last failure, and its queue emptied.
std::string OpenSslReason() {
  const unsigned long code = ERR_get_error();
  ERR_clear_error();
  if (code == 0) return "unknown reason";
  char text[256];
  ERR_error_string_n(code, text, sizeof text);
  return text;
}

// Runs `write` on a memory BIO and answers what it wrote.
template <class Write>
std::string WrittenBy(Write write) {
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new(BIO_s_mem()), BIO_free);
  LEDGER_ASSERT(bio != nullptr);
  LEDGER_ASSERT(write(bio.get()) == 1);
  char* data = nullptr;
  const long length = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<size_t>(length));
}

Result<PublicKey> PublicKeyOf(EVP_PKEY* private_key);

}  // namespace

Result<PublicKey> PublicKey::FromPem(std::string_view pem) {
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())), BIO_free);
  if (bio == nullptr || pem.size() > kKeyFileBytesMax) return InvalidArgument("public_key", "not a PEM public key");
  EVP_PKEY* raw = PEM_read_bio_PUBKEY(bio.get(), nullptr, nullptr, nullptr);
  if (raw == nullptr) {
    return InvalidArgument("public_key", "not a PEM public key (-----BEGIN PUBLIC KEY-----): " + OpenSslReason());
  }
  std::shared_ptr<EVP_PKEY> key = Own(raw);
  if (EVP_PKEY_get_id(raw) != EVP_PKEY_ED25519) return InvalidArgument("public_key", "the public key is not Ed25519");
  return PublicKey(std::move(key));
}

std::string PublicKey::Pem() const {
  return WrittenBy([this](BIO* bio) { return PEM_write_bio_PUBKEY(bio, key_.get()); });
}

std::string PublicKey::Der() const {
  unsigned char* der = nullptr;
  const int length = i2d_PUBKEY(key_.get(), &der);
  LEDGER_ASSERT(length > 0);
  std::string bytes(reinterpret_cast<const char*>(der), static_cast<size_t>(length));
  OPENSSL_free(der);
  return bytes;
}

std::string PublicKey::KeyId() const { return HexEncode(Sha256(Der())); }

bool PublicKey::Verify(std::string_view message, std::string_view signature) const {
  if (signature.size() != kEd25519SignatureBytes) return false;
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> context(EVP_MD_CTX_new(), EVP_MD_CTX_free);
  LEDGER_ASSERT(context != nullptr);
  if (EVP_DigestVerifyInit(context.get(), nullptr, nullptr, nullptr, key_.get()) != 1) return false;
  const int verified = EVP_DigestVerify(context.get(), reinterpret_cast<const unsigned char*>(signature.data()),
                                        signature.size(), reinterpret_cast<const unsigned char*>(message.data()),
                                        message.size());
  ERR_clear_error();
  return verified == 1;
}

namespace {

Result<PublicKey> PublicKeyOf(EVP_PKEY* private_key) {
  unsigned char raw[32];
  size_t length = sizeof raw;
  if (EVP_PKEY_get_raw_public_key(private_key, raw, &length) != 1 || length != sizeof raw) {
    return MakeError(ErrorCode::kCorruption, "cannot derive the public key: " + OpenSslReason());
  }
  EVP_PKEY* key = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, nullptr, raw, length);
  if (key == nullptr) return MakeError(ErrorCode::kCorruption, "cannot derive the public key: " + OpenSslReason());
  return PublicKey(Own(key));
}

}  // namespace

Result<SigningKey> SigningKey::Load(const std::string& path) {
  Result<std::string> pem = ReadPrivateFile(path, kKeyFileBytesMax, "signing key");
  if (!pem) return pem.error();
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new_mem_buf(pem->data(), static_cast<int>(pem->size())), BIO_free);
  LEDGER_ASSERT(bio != nullptr);
  EVP_PKEY* raw = PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr);
  if (raw == nullptr) {
    return MakeError(ErrorCode::kCorruption, "the signing key " + path + " is not a PEM private key: " + OpenSslReason());
  }
  std::shared_ptr<EVP_PKEY> key = Own(raw);
  if (EVP_PKEY_get_id(raw) != EVP_PKEY_ED25519) {
    return MakeError(ErrorCode::kCorruption, "the signing key " + path + " is not an Ed25519 key");
  }
  Result<PublicKey> public_key = PublicKeyOf(raw);
  if (!public_key) return public_key.error();
  return SigningKey(std::move(key), std::move(*public_key));
}

Result<SigningKey> SigningKey::LoadOrCreate(const std::string& path) {
  Result<SigningKey> loaded = Load(path);
  if (loaded || loaded.error().code != ErrorCode::kNotFound) return loaded;
  EVP_PKEY* raw = EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519");
  if (raw == nullptr) return MakeError(ErrorCode::kIoError, "cannot make an Ed25519 key: " + OpenSslReason());
  std::shared_ptr<EVP_PKEY> key = Own(raw);
  const std::string pem = WrittenBy([raw](BIO* bio) {
    return PEM_write_bio_PrivateKey(bio, raw, nullptr, nullptr, 0, nullptr, nullptr);
  });
  if (Status written = WriteFileAtomically(path, pem); !written) return written.error();
  // What is on disk is what signs: read it back.
  return Load(path);
}

std::string SigningKey::Sign(std::string_view message) const {
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> context(EVP_MD_CTX_new(), EVP_MD_CTX_free);
  LEDGER_ASSERT(context != nullptr);
  LEDGER_ASSERT(EVP_DigestSignInit(context.get(), nullptr, nullptr, nullptr, key_.get()) == 1);
  std::string signature(kEd25519SignatureBytes, '\0');
  size_t length = signature.size();
  LEDGER_ASSERT(EVP_DigestSign(context.get(), reinterpret_cast<unsigned char*>(signature.data()), &length,
                               reinterpret_cast<const unsigned char*>(message.data()), message.size()) == 1);
  LEDGER_ASSERT(length == kEd25519SignatureBytes);
  return signature;
}

}  // namespace ledger
