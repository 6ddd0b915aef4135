// Refused sheet rows (projections/sheet_refusals.h): the fold keeps the first
// event per content id; the saved form round-trips and refuses damage; in
// the read model over a real ledger and checkpoint database, a resumed,
// rebuilt and incremental model agree, a damaged record means a rebuild,
// and each refusal with a submitter is one notification job (none without).

#include <gtest/gtest.h>

#include <rocksdb/db.h>

#include <cstdio>
#include <map>
#include <random>

#include "common/encoding.h"
#include "ledger/ledger.h"
#include "projections/checkpoint.h"
#include "projections/read_model.h"
#include "projections/sheet_refusals.h"
#include "test_util.h"

namespace ledger::projections {
namespace {

constexpr int64_t kBase = 1'795'000'000LL * 1'000'000;

std::string ContentId(int n) {
  std::string id = HexEncode(Sha256("row " + std::to_string(n))).substr(0, 32);
  return id;
}

proto::SheetRowRefusal Refusal(int n, std::string submitter) {
  proto::SheetRowRefusal refusal;
  refusal.set_content_id(ContentId(n));
  refusal.set_row(static_cast<uint64_t>(n) + 1);
  refusal.set_column("Ticket Number");
  refusal.set_column_letters("D");
  refusal.set_field("ticket");
  refusal.set_rule("ticket INC-99" + std::to_string(n) + " does not exist");
  refusal.set_submitter(std::move(submitter));
  refusal.set_file("responses.csv");
  proto::SheetCell* cell = refusal.add_cells();
  cell->set_column("Update Notes");
  cell->set_text("<b>hi</b>\r\nBcc: x@example.org");
  return refusal;
}

proto::Event Event(uint64_t seq, const proto::SheetRowRefusal& refusal) {
  proto::Event event;
  event.set_seq(seq);
  event.set_recorded_at_micros(kBase + static_cast<int64_t>(seq));
  event.set_type(proto::SHEET_ROW_REFUSED);
  event.set_actor("incident-ledger");
  *event.mutable_sheet_row_refused() = refusal;
  return event;
}

TEST(SheetRefusalFold, KeepsTheFirstEventPerContentAndIgnoresTheRest) {
  SheetRefusalProjection projection;
  const Sha256Digest hash{};
  projection.Apply(Event(1, Refusal(1, "ana@example.org")), hash);
  proto::SheetRowRefusal later = Refusal(1, "bo@example.org");
  later.set_rule("another rule");
  projection.Apply(Event(2, later), hash);  // same content id: changes nothing
  proto::SheetRowRefusal bad = Refusal(3, "");
  bad.set_content_id("not hex");
  projection.Apply(Event(3, bad), hash);
  proto::Event other = Event(4, Refusal(4, ""));
  other.set_type(proto::INCIDENT_UPDATED);
  projection.Apply(other, hash);  // not a refusal
  projection.Apply(Event(5, Refusal(5, "")), hash);

  ASSERT_EQ(projection.all().size(), 2u);
  const RecordedRefusal* first = projection.Find(ContentId(1));
  ASSERT_NE(first, nullptr);
  EXPECT_EQ(first->seq, 1u);
  EXPECT_EQ(first->refusal.submitter(), "ana@example.org");
  EXPECT_EQ(first->refusal.rule(), "ticket INC-991 does not exist");
  EXPECT_EQ(projection.Find(ContentId(4)), nullptr);
  const std::vector<const RecordedRefusal*> newest = projection.Newest(10);
  ASSERT_EQ(newest.size(), 2u);
  EXPECT_EQ(newest[0]->seq, 5u);
  EXPECT_EQ(newest[1]->seq, 1u);
  EXPECT_EQ(projection.Newest(1).size(), 1u);
  projection.Clear();
  EXPECT_TRUE(projection.all().empty());
}

TEST(SheetRefusalFold, SavedFormRoundTripsAndRefusesDamage) {
  const RecordedRefusal recorded{.seq = 7, .recorded_at_micros = kBase, .refusal = Refusal(2, "ana@example.org")};
  const std::string bytes = EncodeRecordedRefusal(recorded);
  RecordedRefusal decoded;
  ASSERT_TRUE(DecodeRecordedRefusal(bytes, &decoded));
  EXPECT_EQ(decoded.seq, 7u);
  EXPECT_EQ(decoded.recorded_at_micros, kBase);
  EXPECT_EQ(decoded.refusal.SerializeAsString(), recorded.refusal.SerializeAsString());

  // Every cut of the record fails (the payload's own cuts may parse, but
  // then its content id is gone or wrong) or reads back something else.
  for (size_t size = 0; size < bytes.size(); ++size) {
    RecordedRefusal cut;
    if (DecodeRecordedRefusal(bytes.substr(0, size), &cut)) {
      EXPECT_NE(cut.refusal.SerializeAsString(), recorded.refusal.SerializeAsString()) << size;
    }
  }
  RecordedRefusal zero_seq = recorded;
  zero_seq.seq = 0;
  EXPECT_FALSE(DecodeRecordedRefusal(EncodeRecordedRefusal(zero_seq), &decoded));
  RecordedRefusal no_id = recorded;
  no_id.refusal.set_content_id("");
  EXPECT_FALSE(DecodeRecordedRefusal(EncodeRecordedRefusal(no_id), &decoded));
  std::string garbage = bytes;
  garbage.back() = static_cast<char>(0xff);
  garbage += "\xff\xff";
  EXPECT_FALSE(DecodeRecordedRefusal(garbage, &decoded));
}

// What a read model holds of the refusals and of their mail.
struct Seen {
  std::map<std::string, std::string> refusals;  // content id -> saved form
  std::map<std::pair<uint64_t, std::string>, std::string> jobs;  // (seq, recipient) -> state
  bool operator==(const Seen&) const = default;
};

Seen SeenIn(const ReadModel& model) {
  Seen seen;
  model.ReadProjection<SheetRefusalProjection>([&](const SheetRefusalProjection& projection, uint64_t) {
    for (const auto& [id, recorded] : projection.all()) seen.refusals[id] = EncodeRecordedRefusal(recorded);
  });
  model.ReadNotifications([&](const NotificationQueue& queue, uint64_t) {
    for (const auto& [key, job] : queue.jobs()) seen.jobs[{key.seq, key.recipient}] = JobStateName(job.state);
  });
  return seen;
}

Status Append(Ledger& log, const proto::Event& event) {
  Result<Appended> appended =
      log.Append([&event](AppendContext&) -> Result<Decision> { return Decision{.event = event, .repeat_of_seq = {}}; });
  if (!appended) return appended.error();
  return {};
}

TEST(SheetRefusalReadModel, ResumedRebuiltAndIncrementalAgreeAndEachSubmitterHasOneJob) {
  testing::TempDir dir;
  auto log = std::move(*Ledger::Open(LedgerOptions{.path = dir.Sub("ledger"), .sync_writes = false}));
  std::unique_ptr<ProjectionCheckpoints> checkpoints = std::move(*ProjectionCheckpoints::Open(dir.Sub("projections")));
  ReadModel incremental;
  ASSERT_TRUE(incremental.Open(*log, checkpoints.get()));
  log->SetCommitListener([&](const std::vector<StoredEvent>& events) { incremental.Apply(events); });

  const unsigned seed = std::random_device{}();
  std::printf("seed %u\n", seed);
  std::mt19937 rng(seed);
  std::map<std::string, std::string> submitter_of;  // content id -> submitter of its first event
  for (int i = 0; i < 40; ++i) {
    const int n = static_cast<int>(rng() % 15);
    const std::string submitter = rng() % 4 == 0 ? "" : "person" + std::to_string(rng() % 5) + "@example.org";
    proto::Event event = Event(0, Refusal(n, submitter));
    event.clear_seq();
    event.clear_recorded_at_micros();
    ASSERT_TRUE(Append(*log, event));
    submitter_of.emplace(ContentId(n), submitter);
  }
  const Seen seen = SeenIn(incremental);
  ASSERT_EQ(seen.refusals.size(), submitter_of.size());
  size_t with_submitter = 0;
  for (const auto& [id, submitter] : submitter_of) {
    RecordedRefusal recorded;
    ASSERT_TRUE(DecodeRecordedRefusal(seen.refusals.at(id), &recorded));
    EXPECT_EQ(recorded.refusal.submitter(), submitter);
    if (submitter.empty()) continue;
    ++with_submitter;
    EXPECT_EQ(seen.jobs.count({recorded.seq, submitter}), 1u) << id;
  }
  // Also the later events of a content have a job each: the mail side
  // follows events, and the ledger's recorder never appends them twice
  // (ingest/sheet_refusals.h). Here: every job is of a refusal with a
  // submitter, pending (nobody sends).
  for (const auto& [key, state] : seen.jobs) {
    EXPECT_FALSE(key.second.empty());
    EXPECT_EQ(state, "pending");
  }
  EXPECT_GE(seen.jobs.size(), with_submitter);

  ReadModel rebuilt;
  ASSERT_TRUE(rebuilt.Open(*log, nullptr));
  EXPECT_EQ(SeenIn(rebuilt), seen);
  {
    ReadModel resumed;
    Result<OpenReport> report = resumed.Open(*log, checkpoints.get());
    ASSERT_TRUE(report);
    EXPECT_FALSE(report->rebuilt) << report->reason;
    EXPECT_EQ(SeenIn(resumed), seen);
  }
  checkpoints.reset();

  // A damaged record: the checkpoint is not used, and the rebuild agrees.
  {
    rocksdb::DB* raw = nullptr;
    ASSERT_TRUE(rocksdb::DB::Open(rocksdb::Options(), dir.Sub("projections"), &raw).ok());
    std::unique_ptr<rocksdb::DB> db(raw);
    ASSERT_TRUE(db->Put(rocksdb::WriteOptions(), "f" + seen.refusals.begin()->first, "\x01\x02garbage").ok());
  }
  checkpoints = std::move(*ProjectionCheckpoints::Open(dir.Sub("projections")));
  ReadModel repaired;
  Result<OpenReport> report = repaired.Open(*log, checkpoints.get());
  ASSERT_TRUE(report);
  EXPECT_TRUE(report->rebuilt);
  EXPECT_NE(report->reason.find("refused sheet row"), std::string::npos) << report->reason;
  EXPECT_EQ(SeenIn(repaired), seen);
  log->SetCommitListener({});
  log->Shutdown();
}

}  // namespace
}  // namespace ledger::projections
