#pragma once
// Sending one mail through an SMTP server with libcurl.
//
// A sender owns one libcurl easy handle, so consecutive mails reuse the SMTP
// connection; it is not thread-safe (the worker gives each of its sender
// threads its own). curl_global_init must have run before the first sender
// is made (DeliveryWorker::Start does it).
//
// Every failure is a SendResult, classified so the worker knows whose fault
// it was (see ClassifySmtpFailure).

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>

#include "notify/message.h"

namespace ledger::notify {

struct SmtpOptions {
  std::string url;             // smtp://host:port (or smtps:// for implicit TLS)
  std::string from;            // envelope and header sender, a bare address
  bool starttls = false;       // require STARTTLS on smtp:// (fail rather than send in clear)
  std::string username;        // empty: no authentication
  std::string password;
  int64_t connect_timeout_ms = 10'000;
  int64_t transfer_timeout_ms = 60'000;
};

enum class SendOutcome {
  kDelivered,          // the server accepted the message (250 after DATA)
  kServerUnavailable,  // could not connect, TLS/auth/sender refused, 421, dropped connection:
                       // not this job's fault, so it does not count against its retries
  kTransient,          // a 4xx reply for this message: retry later
  kPermanent,          // a 5xx reply for this message: give up
  kAborted,            // stopped by the caller's abort flag; nothing is known
};

struct SendResult {
  SendOutcome outcome = SendOutcome::kDelivered;
  uint32_t smtp_code = 0;  // the server's last reply code, 0 if none
  std::string error;       // empty when delivered
};

// Classifies a failed transfer. `curl_code` is the CURLcode, `smtp_code` the
// last reply (CURLINFO_RESPONSE_CODE), `message` libcurl's error text (it
// tells a refused MAIL FROM, which would fail every job, from a refused RCPT).
SendOutcome ClassifySmtpFailure(int curl_code, uint32_t smtp_code, const std::string& message);

// libcurl's global state, reference counted: Acquire before the first
// sender is made (kUnavailable when libcurl cannot start), Release once per
// Acquire after the last one is gone. Any thread.
Status CurlGlobalAcquire();
void CurlGlobalRelease();

class MailSender {
 public:
  virtual ~MailSender() = default;
  virtual SendResult Send(const Mail& mail) = 0;
};

// `abort` (may be null) is polled during a transfer; when it turns true the
// transfer stops with kAborted. It must outlive the sender.
std::unique_ptr<MailSender> MakeCurlSmtpSender(const SmtpOptions& options, const std::atomic<bool>* abort);

}  // namespace ledger::notify
