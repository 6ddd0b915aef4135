#include "notify/smtp.h"

#include <algorithm>
#include <cstring>

#include <mutex>

#include <curl/curl.h>

namespace ledger::notify {
namespace {

// curl_global_init is not thread-safe and must precede every handle; it is
// reference counted here so that the last user cleans up.
std::mutex curl_global_mutex;
int curl_global_users = 0;

// Where a transfer reads the message from.
struct Upload {
  const std::string* text = nullptr;
  size_t offset = 0;
};

size_t ReadUpload(char* buffer, size_t size, size_t count, void* user) {
  auto* upload = static_cast<Upload*>(user);
  const size_t room = size * count;
  const size_t left = upload->text->size() - upload->offset;
  const size_t bytes = std::min(room, left);
  std::memcpy(buffer, upload->text->data() + upload->offset, bytes);
  upload->offset += bytes;
  return bytes;
}

int Progress(void* user, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
  const auto* abort = static_cast<const std::atomic<bool>*>(user);
  return abort != nullptr && abort->load() ? 1 : 0;
}

class CurlSmtpSender final : public MailSender {
 public:
  CurlSmtpSender(SmtpOptions options, const std::atomic<bool>* abort)
      : options_(std::move(options)), abort_(abort), handle_(curl_easy_init()) {}
  ~CurlSmtpSender() override {
    if (handle_ != nullptr) curl_easy_cleanup(handle_);
  }
  CurlSmtpSender(const CurlSmtpSender&) = delete;
  CurlSmtpSender& operator=(const CurlSmtpSender&) = delete;

  SendResult Send(const Mail& mail) override {
    if (handle_ == nullptr) return {SendOutcome::kServerUnavailable, 0, "libcurl could not make a handle"};
    CURL* curl = handle_;
    // Options persist on the handle between transfers; set all of them each time.
    const std::string envelope_from = "<" + mail.envelope_from + ">";
    const std::string envelope_to = "<" + mail.envelope_to + ">";
    curl_slist* recipients = curl_slist_append(nullptr, envelope_to.c_str());
    Upload upload{&mail.text, 0};
    char error_text[CURL_ERROR_SIZE] = {};
    curl_easy_setopt(curl, CURLOPT_URL, options_.url.c_str());
    curl_easy_setopt(curl, CURLOPT_MAIL_FROM, envelope_from.c_str());
    curl_easy_setopt(curl, CURLOPT_MAIL_RCPT, recipients);
    curl_easy_setopt(curl, CURLOPT_UPLOAD, 1L);
    curl_easy_setopt(curl, CURLOPT_READFUNCTION, ReadUpload);
    curl_easy_setopt(curl, CURLOPT_READDATA, &upload);
    curl_easy_setopt(curl, CURLOPT_INFILESIZE_LARGE, static_cast<curl_off_t>(mail.text.size()));
    curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, error_text);
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(options_.connect_timeout_ms));
    curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, static_cast<long>(options_.transfer_timeout_ms));
    curl_easy_setopt(curl, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(curl, CURLOPT_XFERINFOFUNCTION, Progress);
    curl_easy_setopt(curl, CURLOPT_XFERINFODATA, abort_);
    if (options_.starttls) curl_easy_setopt(curl, CURLOPT_USE_SSL, static_cast<long>(CURLUSESSL_ALL));
    if (!options_.username.empty()) {
      curl_easy_setopt(curl, CURLOPT_USERNAME, options_.username.c_str());
      curl_easy_setopt(curl, CURLOPT_PASSWORD, options_.password.c_str());
    }
    const CURLcode code = curl_easy_perform(curl);
    long reply = 0;
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &reply);
    curl_easy_setopt(curl, CURLOPT_MAIL_RCPT, nullptr);
    curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, nullptr);
    curl_slist_free_all(recipients);

    SendResult result;
    result.smtp_code = reply > 0 && reply < 1000 ? static_cast<uint32_t>(reply) : 0;
    if (code == CURLE_OK) return result;
    std::string message = error_text[0] != '\0' ? std::string(error_text) : std::string(curl_easy_strerror(code));
    result.outcome = ClassifySmtpFailure(static_cast<int>(code), result.smtp_code, message);
    result.error = std::move(message);
    return result;
  }

 private:
  SmtpOptions options_;
  const std::atomic<bool>* abort_;
  CURL* handle_;
};

}  // namespace

SendOutcome ClassifySmtpFailure(int curl_code, uint32_t smtp_code, const std::string& message) {
  if (curl_code == CURLE_ABORTED_BY_CALLBACK) return SendOutcome::kAborted;
  if (curl_code == CURLE_LOGIN_DENIED || curl_code == CURLE_USE_SSL_FAILED) return SendOutcome::kServerUnavailable;
  // A refused sender fails every job alike: a server (or configuration)
  // problem, not this recipient's.
  if (message.starts_with("MAIL failed")) return SendOutcome::kServerUnavailable;
  if (smtp_code == 421) return SendOutcome::kServerUnavailable;
  // Authentication and TLS replies.
  if (smtp_code == 454 || smtp_code == 530 || smtp_code == 534 || smtp_code == 535 || smtp_code == 538) {
    return SendOutcome::kServerUnavailable;
  }
  if (smtp_code >= 400 && smtp_code < 500) return SendOutcome::kTransient;
  if (smtp_code >= 500 && smtp_code < 600) return SendOutcome::kPermanent;
  // No reply code: the connection failed, timed out or dropped.
  return SendOutcome::kServerUnavailable;
}

std::unique_ptr<MailSender> MakeCurlSmtpSender(const SmtpOptions& options, const std::atomic<bool>* abort) {
  return std::make_unique<CurlSmtpSender>(options, abort);
}

Status CurlGlobalAcquire() {
  std::lock_guard lock(curl_global_mutex);
  if (curl_global_users == 0 && curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
    return MakeError(ErrorCode::kUnavailable, "libcurl could not be initialised");
  }
  curl_global_users += 1;
  return {};
}

void CurlGlobalRelease() {
  std::lock_guard lock(curl_global_mutex);
  curl_global_users -= 1;
  if (curl_global_users == 0) curl_global_cleanup();
}

}  // namespace ledger::notify
