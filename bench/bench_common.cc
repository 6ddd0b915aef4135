#include "bench/bench_common.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>

namespace ledger::bench {
namespace {

const std::array<std::string, 40> kSystems = {
    "mail",        "vpn",        "wifi",        "sso",        "payroll",   "erp",         "crm",
    "intranet",    "printing",   "dns",         "dhcp",       "file-share", "backup",     "telephony",
    "video-conf",  "ticketing",  "wiki",        "git",        "ci",         "artifact-repo", "monitoring",
    "logging",     "hr-portal",  "expenses",    "lms",        "library",   "webshop",     "payments",
    "warehouse",   "shipping",   "badge-access", "cctv",      "guest-wifi", "lab-cluster", "storage-san",
    "database-01", "database-02", "k8s-prod",   "k8s-staging", "edge-proxy"};

const std::array<std::string, 24> kEngineers = {
    "Ana Ruiz",      "Bo Chen",      "Chidi Okafor", "Dana Kowalski", "Eero Virtanen", "Fatima Zahra",
    "Giulia Rossi",  "Hiro Tanaka",  "Ines Duarte",  "Jonas Berg",    "Kavya Iyer",    "Lena Fischer",
    "Mateo Silva",   "Nadia Haddad", "Olu Adeyemi",  "Priya Nair",    "Quentin Moreau", "Rosa Jimenez",
    "Sven Larsen",   "Tomasz Nowak", "Uma Patel",    "Viktor Horvat", "Wen Li",        "Yusuf Demir"};

const std::array<std::string, 12> kSymptoms = {
    "delayed",          "unreachable",         "intermittent errors", "slow responses",
    "login failures",   "certificate expired", "disk full",           "packet loss",
    "replication lag",  "timeouts",            "partial outage",      "degraded performance"};

void AppendJsonString(std::string* out, const std::string& text) {
  out->push_back('"');
  for (const char c : text) {
    if (c == '"' || c == '\\') out->push_back('\\');
    out->push_back(c);
  }
  out->push_back('"');
}

}  // namespace

double Quantile(std::vector<double>* values, double q) {
  if (values->empty()) return 0;
  const size_t index = std::min(values->size() - 1, static_cast<size_t>(q * static_cast<double>(values->size())));
  std::nth_element(values->begin(), values->begin() + static_cast<ptrdiff_t>(index), values->end());
  return (*values)[index];
}

void PrintResult(const std::string& bench, const std::string& label, LoadResult result, const std::string& extra_json) {
  const double rate = result.seconds > 0 ? static_cast<double>(result.operations) / result.seconds : 0;
  const double p50 = Quantile(&result.latencies_seconds, 0.50) * 1e3;
  const double p99 = Quantile(&result.latencies_seconds, 0.99) * 1e3;
  std::printf(
      "{\"bench\":\"%s\",\"label\":\"%s\",\"ops\":%llu,\"errors\":%llu,\"seconds\":%.4f,\"ops_per_second\":%.2f,"
      "\"p50_ms\":%.4f,\"p99_ms\":%.4f%s%s}\n",
      bench.c_str(), label.c_str(), static_cast<unsigned long long>(result.operations),
      static_cast<unsigned long long>(result.errors), result.seconds, rate, p50, p99, extra_json.empty() ? "" : ",",
      extra_json.c_str());
  std::fflush(stdout);
}

const std::string& SystemName(uint64_t n) { return kSystems[n % kSystems.size()]; }
size_t SystemCount() { return kSystems.size(); }
const std::string& EngineerName(uint64_t n) { return kEngineers[n % kEngineers.size()]; }

std::string TitleFor(uint64_t n) {
  return SystemName(n * 7 + 3) + " " + kSymptoms[n % kSymptoms.size()] + " for site " + std::to_string(n % 97);
}

std::string DescriptionFor(uint64_t n) {
  std::string text = "Users report " + kSymptoms[(n / 3) % kSymptoms.size()] + " on " + SystemName(n) +
                     " since the morning change window. Affected: building " + std::to_string(n % 23) +
                     " and remote staff on the " + SystemName(n / 5) + " path.";
  const size_t extra_sentences = n % 3;
  for (size_t i = 0; i < extra_sentences; ++i) {
    text += " Monitoring shows error rate " + std::to_string((n >> i) % 40 + 2) +
            "% on the front-end pool; the vendor ticket is open.";
  }
  return text;
}

std::string NoteFor(uint64_t n) {
  return "Status " + std::to_string(n % 9 + 1) + ": " + kSymptoms[n % kSymptoms.size()] +
         " narrowed down to one node; mitigation in progress, next update in 30 minutes.";
}

std::string CreateSubmissionJson(const std::string& unique, uint64_t n) {
  std::string json = "{\"action\":\"create\",\"title\":";
  AppendJsonString(&json, TitleFor(n));
  json += ",\"description\":";
  AppendJsonString(&json, DescriptionFor(n));
  json += ",\"systems\":[";
  AppendJsonString(&json, SystemName(n));
  json += ",";
  AppendJsonString(&json, SystemName(n + 11));
  json += "],\"engineer\":";
  AppendJsonString(&json, EngineerName(n));
  json += ",\"severity\":\"major\",\"started_at\":\"2026-11-24T08:40:00+01:00\",\"link\":";
  AppendJsonString(&json, "https://helpdesk.example.org/t/" + unique);
  json += ",\"actor\":\"bench\",\"submission_id\":";
  AppendJsonString(&json, "bench-" + unique);
  json += "}";
  return json;
}

}  // namespace ledger::bench
