// Writes the seed corpus of stored_event_fuzz: the stored values, records,
// saved tickets and outlines of a real ledger, in the target's input format (see
// stored_event_fuzz.cc). The ledger gets every kind of event the service
// appends: incidents opened, updated, closed and reopened through the
// command processor, subscriptions added and removed through theirs, a
// delivered and a failed notification receipt as the delivery worker
// appends them (one alone, and a batch of receipts as one event), and a maintenance window scheduled, updated, started and
// ended, and another cancelled.
//
//   stored_event_seeds OUTPUT_DIR     (tests/fuzz/make_corpus.py runs it)

#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "common/encoding.h"
#include "ingest/command.h"
#include "ingest/maintenance.h"
#include "ingest/processor.h"
#include "ingest/sheet_refusals.h"
#include "ingest/systems.h"
#include "ingest/subscriptions.h"
#include "ledger/ledger.h"
#include "projections/read_model.h"
#include "projections/ticket_codec.h"
#include "projections/tickets.h"

namespace {

[[noreturn]] void Fail(const std::string& what) {
  std::fprintf(stderr, "stored_event_seeds: %s\n", what.c_str());
  std::exit(1);
}

template <class T>
T Must(ledger::Result<T> result, const std::string& what) {
  if (!result) Fail(what + ": " + result.error().message);
  return std::move(*result);
}

void Write(const std::filesystem::path& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary);
  out << bytes;
  if (!out) Fail("cannot write " + path.string());
}

void Submit(ledger::ingest::CommandProcessor& processor, const char* json) {
  (void)Must(processor.Submit(Must(ledger::ingest::ParseJsonSubmission(json), json)), json);
}

void Subscribe(ledger::ingest::SubscriptionProcessor& processor, const char* json,
               ledger::ingest::SubscriptionAction action) {
  (void)Must(processor.Submit(Must(ledger::ingest::ParseSubscriptionJson(json, action), json)), json);
}

void AppendReceipt(ledger::Ledger& log, bool delivered) {
  ledger::proto::Event event;
  event.set_type(delivered ? ledger::proto::NOTIFICATION_DELIVERED : ledger::proto::NOTIFICATION_FAILED);
  event.set_actor("notifier");
  ledger::proto::NotificationReceipt* receipt = event.mutable_notification();
  receipt->set_incident_seq(1);
  receipt->set_recipient("ana.ruiz@example.org");
  receipt->set_ticket("INC-1");
  receipt->set_attempt(delivered ? 2 : 1);
  receipt->set_message_id("<1.ana@incident-ledger>");
  receipt->set_smtp_code(delivered ? 250 : 451);
  if (!delivered) receipt->set_error("451 4.3.0 try again later");
  (void)Must(log.Append([&event](ledger::AppendContext&) -> ledger::Result<ledger::Decision> {
               return ledger::Decision{.event = event, .repeat_of_seq = {}};
             }),
             "append a receipt");
}

void AppendReceiptBatch(ledger::Ledger& log) {
  ledger::proto::Event event;
  event.set_type(ledger::proto::NOTIFICATION_RECEIPTS);
  event.set_actor("notifier");
  ledger::proto::NotificationReceipts* receipts = event.mutable_receipts();
  for (const char* recipient : {"bo@example.org", "cy@example.org"}) {
    ledger::proto::NotificationReceipt* receipt = receipts->add_delivered();
    receipt->set_incident_seq(1);
    receipt->set_recipient(recipient);
    receipt->set_ticket("INC-1");
    receipt->set_attempt(1);
    receipt->set_message_id(std::string("<1.") + recipient + ">");
    receipt->set_smtp_code(250);
  }
  ledger::proto::NotificationReceipt* failed = receipts->add_failed();
  failed->set_incident_seq(1);
  failed->set_recipient("dee@example.org");
  failed->set_ticket("INC-1");
  failed->set_attempt(1);
  failed->set_smtp_code(550);
  failed->set_error("550 5.1.1 <dee@example.org>: no such user");
  failed->set_gave_up(true);
  (void)Must(log.Append([&event](ledger::AppendContext&) -> ledger::Result<ledger::Decision> {
               return ledger::Decision{.event = event, .repeat_of_seq = {}};
             }),
             "append a batch of receipts");
}

void AppendRetry(ledger::Ledger& log) {
  ledger::proto::Event event;
  event.set_type(ledger::proto::NOTIFICATION_RETRY_REQUESTED);
  event.set_actor("admin");
  ledger::proto::RetriedJob* job = event.mutable_retry()->add_jobs();
  job->set_incident_seq(2);
  job->set_recipient("ana.ruiz@example.org");
  job->set_ticket("INC-1");
  (void)Must(log.Append([&event](ledger::AppendContext&) -> ledger::Result<ledger::Decision> {
               return ledger::Decision{.event = event, .repeat_of_seq = {}};
             }),
             "append a retry");
}

std::string TypeName(ledger::proto::EventType type) {
  std::string name = ledger::proto::EventType_Name(type);
  for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return name;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) Fail("usage: stored_event_seeds OUTPUT_DIR");
  const std::filesystem::path output = argv[1];
  std::filesystem::create_directories(output);
  std::string pattern = (std::filesystem::temp_directory_path() / "ledger-seeds-XXXXXX").string();
  if (::mkdtemp(pattern.data()) == nullptr) Fail("mkdtemp");
  const std::filesystem::path folder = pattern;
  {
    std::unique_ptr<ledger::Ledger> log =
        Must(ledger::Ledger::Open(ledger::LedgerOptions{.path = (folder / "ledger").string(), .sync_writes = false}),
             "open the ledger");
    std::unique_ptr<ledger::ingest::CommandProcessor> processor =
        Must(ledger::ingest::CommandProcessor::Create(log.get()), "create the processor");
    std::unique_ptr<ledger::ingest::SubscriptionProcessor> subscriptions =
        Must(ledger::ingest::SubscriptionProcessor::Create(log.get()), "create the subscription processor");
    Subscribe(*subscriptions, R"({"email":"ana.ruiz@example.org","systems":["mail","*"]})",
              ledger::ingest::SubscriptionAction::kAdd);
    Submit(*processor,
           R"({"action":"create","title":"Mail delayed","systems":["mail","vpn"],"engineer":"Ana Ruiz",)"
           R"("severity":"major","started_at":"2026-11-24T08:40:00+01:00","link":"https://helpdesk.example.org/t/4711",)"
           R"("description":"Queue backs up\nafter the relay restart","submission_id":"form-4711-1","actor":"desk"})");
    Submit(*processor,
           R"({"action":"update","ticket":"INC-1","note":"MX queue draining","systems":["mail"],"expected_version":1})");
    Submit(*processor, R"({"action":"close","ticket":"INC-1","ended_at":"2026-11-24T10:05:00.250+01:00"})");
    Submit(*processor, R"({"action":"reopen","ticket":"INC-1","started_at":"2026-11-24T11:00:00Z"})");
    Submit(*processor, R"({"action":"update","ticket":"INC-1","started_at":"2026-11-24T10:59:00Z","severity":"critical"})");
    Submit(*processor, R"({"action":"create","title":"Ünïcode – ✓","systems":["Zeiterfassung"],"engineer":"Zoë"})");
    AppendReceipt(*log, /*delivered=*/false);
    AppendReceipt(*log, /*delivered=*/true);
    AppendReceiptBatch(*log);
    Subscribe(*subscriptions, R"({"email":"ana.ruiz@example.org","systems":["*"]})",
              ledger::ingest::SubscriptionAction::kRemove);
    AppendRetry(*log);
    // The second stage's events, after the first stage's (so that those
    // seeds keep their names): impact and phase, and a maintenance window
    // through its life, decided against a read model as the service does.
    Submit(*processor, R"({"action":"update","ticket":"INC-2","impact":"degraded","phase":"identified"})");
    {
      ledger::projections::ReadModel model;
      (void)Must(model.Open(*log, nullptr), "open a read model");
      log->SetCommitListener([&model](const std::vector<ledger::StoredEvent>& committed) { model.Apply(committed); });
      std::unique_ptr<ledger::ingest::MaintenanceProcessor> maintenance =
          ledger::ingest::MaintenanceProcessor::Create(log.get(), &model);
      for (const char* json :
           {R"({"action":"schedule","title":"Patch mail","systems":["mail","smtp"],"starts_at":"2026-11-28T22:00:00+01:00",)"
            R"("ends_at":"2026-11-29T01:00:00+01:00","description":"relays restart","link":"https://change.example/9"})",
            R"({"action":"update","window":"MNT-1","title":"Patch the mail relays"})",
            R"({"action":"start","window":"MNT-1","at":"2026-11-28T22:20:00+01:00"})",
            R"({"action":"end","window":"MNT-1","at":"2026-11-29T00:30:00Z"})",
            R"({"action":"schedule","title":"Move the DNS","systems":["dns"],"starts_at":"2026-12-01T06:00:00Z",)"
            R"("ends_at":"2026-12-01T07:00:00Z"})",
            R"({"action":"cancel","window":"MNT-2"})"}) {
        (void)Must(maintenance->Submit(Must(ledger::ingest::ParseMaintenanceJson(json), json)), json);
      }
      log->SetCommitListener({});
    }
    // Then an incident made internal, and a refused sheet row (with a
    // hostile cell), as the poller records one.
    Submit(*processor, R"({"action":"update","ticket":"INC-2","visibility":"internal"})");
    {
      ledger::proto::SheetRowRefusal refusal;
      refusal.set_content_id("0123456789abcdef0123456789abcdef");
      refusal.set_row(4);
      refusal.set_column("Ticket Number");
      refusal.set_column_letters("D");
      refusal.set_field("ticket");
      refusal.set_rule("no incident has this ticket number");
      refusal.set_submitter("bo@example.org");
      refusal.set_file("responses.csv");
      ledger::proto::SheetCell* cell = refusal.add_cells();
      cell->set_column("Ticket Number");
      cell->set_text("INC-999 <b>\r\nBcc: x@example.org");
      (void)Must(ledger::ingest::LedgerRefusalRecorder(log.get()).Record(refusal), "record a refused row");
    }
    // The catalog of systems: a definition with a group and a hostile
    // description, and an alias merging a used spelling into it.
    {
      ledger::projections::ReadModel model;
      (void)Must(model.Open(*log, nullptr), "fold the log");
      log->SetCommitListener([&model](const std::vector<ledger::StoredEvent>& committed) { model.Apply(committed); });
      std::unique_ptr<ledger::ingest::SystemProcessor> systems = ledger::ingest::SystemProcessor::Create(log.get(), &model);
      for (const char* json :
           {R"({"action":"define","name":"E-mail","group":"Mail services","owner":"mail@example.org",)"
            R"("description":"<b>IMAP</b>\r\nBcc: x@example.org"})",
            R"({"action":"alias","name":"e-mail","alias":"Mail"})"}) {
        (void)Must(systems->Submit(Must(ledger::ingest::ParseSystemJson(json), json)), json);
      }
      log->SetCommitListener({});
    }

    ledger::projections::TicketStore tickets;
    const std::vector<ledger::StoredEvent> events = Must(log->ReadAfter(0, 1000), "read the events");
    for (const ledger::StoredEvent& stored : events) {
      char number[8];
      std::snprintf(number, sizeof number, "%02llu", static_cast<unsigned long long>(stored.seq));
      const std::string stem = std::string(number) + "-" + TypeName(stored.event.type());
      std::string value(1, '\0');
      ledger::AppendBigEndian64(&value, stored.seq);
      value += ledger::AsBytes(stored.prev_hash);
      value += ledger::AsBytes(stored.hash);
      value += stored.record;
      Write(output / ("value-" + stem), value);
      Write(output / ("record-" + stem), std::string(1, '\1') + stored.record);
      (void)tickets.Apply(stored.event);  // which ticket changed does not matter here
    }
    for (const auto& [number, state] : tickets.all()) {
      std::string saved(1, '\2');
      ledger::projections::EncodeTicket(state, &saved);
      Write(output / ("ticket-" + state.ticket), saved);
      std::string outline(1, '\3');
      ledger::projections::EncodePeriods(state.periods, &outline);
      Write(output / ("outline-" + state.ticket), outline);
    }
    std::printf("stored_event_seeds: %zu events, %zu tickets written to %s\n", events.size(), tickets.size(),
                output.c_str());
  }
  std::filesystem::remove_all(folder);
  return 0;
}
