// Unit tests of the browser side's pure parts: escaping, gzip, asset
// answers (ETag, 304), the event hub that fans committed events out to
// Server-Sent Events streams (ordering, catch-up from the ledger, the cap,
// cancellation), and the /metrics text rendered from other parts' figures.
#include <zlib.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "http/answer_cache.h"
#include "http/auth.h"
#include "http/event_hub.h"
#include "http/feed.h"
#include "http/gzip.h"
#include "http/html.h"
#include "http/metrics.h"
#include "http/query_params.h"
#include "http/static_assets.h"
#include "ledger/ledger.h"
#include "projections/ticket_name.h"
#include "test_util.h"
#include "tests/http_test_support.h"

namespace ledger::http {
namespace {

using testing::TempDir;

std::string Gunzip(const std::string& compressed) {
  z_stream stream{};
  EXPECT_EQ(inflateInit2(&stream, 15 + 16), Z_OK);
  std::string out(1 << 20, '\0');
  stream.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(compressed.data()));
  stream.avail_in = static_cast<uInt>(compressed.size());
  stream.next_out = reinterpret_cast<Bytef*>(out.data());
  stream.avail_out = static_cast<uInt>(out.size());
  EXPECT_EQ(inflate(&stream, Z_FINISH), Z_STREAM_END);
  out.resize(stream.total_out);
  inflateEnd(&stream);
  return out;
}

TEST(AccessLog, RedactsSecretsAndAddressesInTheQuery) {
  EXPECT_EQ(RedactedTarget("/api/v1/incidents"), "/api/v1/incidents");
  EXPECT_EQ(RedactedTarget("/unsubscribe?token=abc.def&x=1"), "/unsubscribe?token=redacted&x=1");
  EXPECT_EQ(RedactedTarget("/a?email=a%40b&from=2026-01-01&t%6Fken=s"), "/a?email=redacted&from=2026-01-01&t%6Fken=redacted");
  EXPECT_EQ(RedactedTarget("/a?password"), "/a?password");
  EXPECT_EQ(RedactedTarget("/a?%zz=1&token=s"), "/a?(query not decodable: redacted)");
  // A URL's userinfo never reaches the log: an absolute target, a query
  // value, plain or percent-encoded, and one that does not decode.
  EXPECT_EQ(RedactedTarget("http://ops:pw@127.0.0.1/healthz"), "http://***@127.0.0.1/healthz");
  EXPECT_EQ(RedactedTarget("http://ops%40corp:p@w@h:8080?x=1"), "http://***@h:8080?x=1");
  EXPECT_EQ(RedactedTarget("/a?url=smtp://ops:pw@mail:25&x=1"), "/a?url=smtp://***@mail:25&x=1");
  EXPECT_EQ(RedactedTarget("/a?url=smtp%3a%2F%2Fops%3Apw%40mail%2Fx&y=a://b@c"),
            "/a?url=smtp%3a%2F%2F***%40mail%2Fx&y=a://***@c");
  EXPECT_EQ(RedactedTarget("http://u:p@h/?%zz"), "http://***@h/?(query not decodable: redacted)");
  EXPECT_EQ(RedactedTarget("/a?url=https://example.org/x@y&m=a@b"), "/a?url=https://example.org/x@y&m=a@b");
}

TEST(Html, EscapesEveryCharacterThatCouldEndTextOrAnAttribute) {
  EXPECT_EQ(HtmlEscape("<img src=x onerror=\"alert('1')\">&amp;"),
            "&lt;img src=x onerror=&quot;alert(&#39;1&#39;)&quot;&gt;&amp;amp;");
  EXPECT_EQ(HtmlEscape("plain ünïcode"), "plain ünïcode");
  // Found by http_request_fuzz: /submit?action=upd%E1te put the byte into the
  // form page as it was. Pages are UTF-8; other bytes show as U+FFFD.
  EXPECT_EQ(HtmlEscape("upd\xe1te \xc3\x28 \xed\xa0\x80 ok\xe2\x82"),
            "upd\uFFFDte \uFFFD( \uFFFD\uFFFD\uFFFD ok\uFFFD\uFFFD");
}

TEST(Feed, XmlEscapeKeepsUntrustedTextToCharacterData) {
  EXPECT_EQ(XmlEscape("a&b<c>d\"e'f"), "a&amp;b&lt;c&gt;d&quot;e&apos;f");
  // Tab, LF and CR stay; other C0 controls, U+FFFE and U+FFFF cannot be in
  // an XML 1.0 document and become spaces.
  EXPECT_EQ(XmlEscape(std::string("t\tl\nc\rnul") + '\0' + "\x01\x1f!"), "t\tl\nc\rnul   !");
  EXPECT_EQ(XmlEscape("x\xEF\xBF\xBEy\xEF\xBF\xBFz"), "x y z");
  // Not UTF-8: its ASCII, '?' for every other byte.
  EXPECT_EQ(XmlEscape("caf\xE9 <\xFF>"), "caf? &lt;?&gt;");
  EXPECT_EQ(XmlEscape("caf\xC3\xA9"), "caf\xC3\xA9");
}

TEST(Html, UrlEncodesAllButUnreserved) {
  EXPECT_EQ(UrlEncodeComponent("INC-7"), "INC-7");
  EXPECT_EQ(UrlEncodeComponent("a b&c=d/é"), "a%20b%26c%3Dd%2F%C3%A9");
}

TEST(Gzip, RoundTripsThroughZlib) {
  std::string text;
  for (int i = 0; i < 1000; ++i) text += "incident " + std::to_string(i) + "\n";
  Result<std::string> compressed = GzipCompress(text);
  ASSERT_TRUE(compressed);
  EXPECT_LT(compressed->size(), text.size() / 4);
  EXPECT_EQ(Gunzip(*compressed), text);
  Result<std::string> empty = GzipCompress("");
  ASSERT_TRUE(empty);
  EXPECT_EQ(Gunzip(*empty), "");
}

TEST(Gzip, ReadsAcceptEncoding) {
  EXPECT_TRUE(AcceptsGzip("gzip, deflate, br"));
  EXPECT_TRUE(AcceptsGzip("br;q=1.0, GZIP;q=0.5"));
  EXPECT_TRUE(AcceptsGzip("*"));
  EXPECT_FALSE(AcceptsGzip(""));
  EXPECT_FALSE(AcceptsGzip("br, identity"));
  EXPECT_FALSE(AcceptsGzip("gzip;q=0"));
  EXPECT_FALSE(AcceptsGzip("gzip;q=0.000"));
  EXPECT_FALSE(AcceptsGzip("gzipx"));
}

TEST(StaticAssets, MatchesIfNoneMatchWeaklyInLists) {
  EXPECT_TRUE(IfNoneMatchMatches("\"abc\"", "\"abc\""));
  EXPECT_TRUE(IfNoneMatchMatches("\"x\", W/\"abc\"", "\"abc\""));
  EXPECT_TRUE(IfNoneMatchMatches("*", "\"abc\""));
  EXPECT_FALSE(IfNoneMatchMatches("\"abcd\"", "\"abc\""));
  EXPECT_FALSE(IfNoneMatchMatches("", "\"abc\""));
}

TEST(StaticAssets, AnswersWithTypeEtagGzipAnd304) {
  StaticAssets assets;
  EXPECT_EQ(ContentTypeFor("static/app.css"), "text/css; charset=utf-8");
  EXPECT_EQ(ContentTypeFor("static/x.js"), "text/javascript; charset=utf-8");
  EXPECT_EQ(ContentTypeFor("static/x.unknown"), "application/octet-stream");
  ASSERT_TRUE(assets.Contains("static/timeline.js"));
  ASSERT_TRUE(assets.Contains("static/app.css"));
  EXPECT_FALSE(assets.Answer("static/../CMakeLists.txt", HttpRequest{}));

  const auto header = [](const HttpResponse& response, const std::string& name) -> std::string {
    for (const auto& [key, value] : response.headers) {
      if (key == name) return value;
    }
    return "";
  };
  HttpRequest plain;
  std::optional<HttpResponse> identity = assets.Answer("static/app.css", plain);
  ASSERT_TRUE(identity);
  EXPECT_EQ(identity->status, 200u);
  EXPECT_EQ(header(*identity, "Content-Encoding"), "");
  EXPECT_NE(identity->body.find(":root"), std::string::npos);

  HttpRequest gzip_request;
  gzip_request.accept_encoding = "gzip";
  std::optional<HttpResponse> gzipped = assets.Answer("static/app.css", gzip_request);
  ASSERT_TRUE(gzipped);
  EXPECT_EQ(header(*gzipped, "Content-Encoding"), "gzip");
  EXPECT_EQ(Gunzip(gzipped->body), identity->body);
  EXPECT_NE(header(*gzipped, "ETag"), header(*identity, "ETag"));
  EXPECT_EQ(header(*gzipped, "Vary"), "Accept-Encoding");

  gzip_request.if_none_match = header(*gzipped, "ETag");
  std::optional<HttpResponse> unchanged = assets.Answer("static/app.css", gzip_request);
  ASSERT_TRUE(unchanged);
  EXPECT_EQ(unchanged->status, 304u);
  EXPECT_TRUE(unchanged->body.empty());
  // The identity ETag does not validate the gzip representation.
  gzip_request.if_none_match = header(*identity, "ETag");
  EXPECT_EQ(assets.Answer("static/app.css", gzip_request)->status, 200u);
}

// ---------------------------------------------------------------- EventHub

DecideFn Open(std::string title) {
  return [title](AppendContext& context) -> Result<Decision> {
    proto::Event event;
    event.set_ticket(projections::TicketName::Format(context.AllocateTicketNumber()));
    event.set_type(proto::INCIDENT_OPENED);
    event.set_version(1);
    event.mutable_incident()->set_title(title);
    return Decision{.event = event, .repeat_of_seq = {}};
  };
}

struct HubFixture {
  explicit HubFixture(EventHub::Options options = {}) {
    Result<std::unique_ptr<Ledger>> opened = Ledger::Open(LedgerOptions{.path = dir.path()});
    EXPECT_TRUE(opened);
    log = std::move(*opened);
    hub = std::make_unique<EventHub>(log.get(), options);
    log->SetCommitListener([this](const std::vector<StoredEvent>& events) {
      if (publish) hub->Publish(events);
    });
  }
  void Append(const std::string& title) { ASSERT_TRUE(log->Append(Open(title))); }

  TempDir dir;
  std::unique_ptr<Ledger> log;
  std::unique_ptr<EventHub> hub;
  bool publish = true;
};

// Pulls one chunk; nullopt when the stream is waiting (deliver not called).
std::optional<std::optional<std::string>> Pull(ResponseStream& stream) {
  std::optional<std::optional<std::string>> got;
  stream.Next([&](std::optional<std::string> bytes) { got = std::move(bytes); });
  return got;
}

// Pulls chunks until the stream waits (caught up), at most `pulls_max`;
// every chunk must be bytes (an ended stream fails the test).
std::string PullUntilWaiting(ResponseStream& stream, int pulls_max = 20) {
  std::string received;
  for (int pulls = 0; pulls < pulls_max; ++pulls) {
    auto chunk = Pull(stream);
    if (!chunk) break;  // waiting: caught up
    EXPECT_TRUE(*chunk) << "the stream ended";
    if (!*chunk) break;
    received += **chunk;
  }
  return received;
}

TEST(EventHub, FramesCarryTheSeqAsIdAndTheEventJsonOnOneLine) {
  HubFixture fixture;
  fixture.Append("line one\nline two");
  Result<std::vector<StoredEvent>> events = fixture.log->ReadAfter(0, 10);
  ASSERT_TRUE(events);
  const std::string frame = EventStreamFrame(events->at(0));
  EXPECT_TRUE(frame.starts_with("id: 1\ndata: {\"seq\":1,"));
  EXPECT_TRUE(frame.ends_with("}\n\n"));
  EXPECT_EQ(std::count(frame.begin(), frame.end(), '\n'), 3);
}

TEST(EventHub, StartsAtTheHeadAndDeliversNewEventsToAWaitingStream) {
  HubFixture fixture;
  fixture.Append("before");
  Result<std::shared_ptr<ResponseStream>> stream = fixture.hub->Open(std::nullopt);
  ASSERT_TRUE(stream);
  auto greeting = Pull(**stream);
  ASSERT_TRUE(greeting && *greeting);
  EXPECT_NE((*greeting)->find("retry: "), std::string::npos);

  std::optional<std::optional<std::string>> delivered;
  (*stream)->Next([&](std::optional<std::string> bytes) { delivered = std::move(bytes); });
  EXPECT_FALSE(delivered) << "nothing new yet: the stream waits";
  fixture.Append("after");
  ASSERT_TRUE(delivered && *delivered);
  EXPECT_TRUE((*delivered)->starts_with("id: 2\n")) << **delivered;
  EXPECT_EQ((*delivered)->find("id: 1\n"), std::string::npos);
}

TEST(EventHub, ResumesAfterAGivenSeqFromRecentEventsInOrder) {
  HubFixture fixture;
  for (int i = 0; i < 5; ++i) fixture.Append("e" + std::to_string(i));
  Result<std::shared_ptr<ResponseStream>> stream = fixture.hub->Open(2);
  ASSERT_TRUE(stream);
  Pull(**stream);  // greeting
  auto chunk = Pull(**stream);
  ASSERT_TRUE(chunk && *chunk);
  const size_t three = (*chunk)->find("id: 3\n");
  const size_t four = (*chunk)->find("id: 4\n");
  const size_t five = (*chunk)->find("id: 5\n");
  EXPECT_EQ(three, 0u);
  EXPECT_LT(three, four);
  EXPECT_LT(four, five);
  EXPECT_EQ((*chunk)->find("id: 2\n"), std::string::npos);
  EXPECT_FALSE(Pull(**stream)) << "caught up: waits";
}

TEST(EventHub, AStreamBehindTheRecentEventsCatchesUpFromTheLedger) {
  HubFixture fixture(EventHub::Options{.recent_events_max = 2});
  Result<std::shared_ptr<ResponseStream>> stream = fixture.hub->Open(0);
  ASSERT_TRUE(stream);
  Pull(**stream);  // greeting
  for (int i = 0; i < 6; ++i) fixture.Append("e" + std::to_string(i));
  std::string received = PullUntilWaiting(**stream);
  for (int seq = 1; seq <= 6; ++seq) {
    EXPECT_EQ(std::count(received.begin(), received.end(), '\n') % 3, 0);
    const size_t at = received.find("id: " + std::to_string(seq) + "\n");
    EXPECT_NE(at, std::string::npos) << "missing seq " << seq << " in " << received;
    if (seq > 1) {
      EXPECT_GT(at, received.find("id: " + std::to_string(seq - 1) + "\n"));
    }
  }
}

// Frames are bounded by bytes too (a batch of receipts is tens of
// kilobytes): the hub keeps at most recent_bytes_max of them, or the one
// newest, and a stream from the start still gets every event, in order.
TEST(EventHub, TheRecentFramesAreBoundedByBytesAndAStreamStillGetsEveryEvent) {
  HubFixture fixture(EventHub::Options{.recent_bytes_max = 3000});
  for (int i = 0; i < 40; ++i) {
    fixture.Append("event " + std::to_string(i) + " " + std::string(static_cast<size_t>(i) * 7, 'x'));
    EXPECT_LE(fixture.hub->recent_bytes(), 3000u) << "after event " << i;
    EXPECT_GT(fixture.hub->recent_bytes(), 0u) << "the newest frame is kept";
  }
  Result<std::shared_ptr<ResponseStream>> stream = fixture.hub->Open(0);
  ASSERT_TRUE(stream);
  Pull(**stream);  // greeting
  std::string received = PullUntilWaiting(**stream);
  size_t previous = 0;
  for (int seq = 1; seq <= 40; ++seq) {
    const size_t at = received.find("id: " + std::to_string(seq) + "\n");
    ASSERT_NE(at, std::string::npos) << "missing seq " << seq;
    if (seq > 1) {
      EXPECT_GT(at, previous) << "seq " << seq << " out of order";
    }
    previous = at;
  }
}

TEST(EventHub, AStreamThatFellBehindWhileWaitingIsWokenAndReadsTheLedger) {
  HubFixture fixture(EventHub::Options{.recent_events_max = 1});
  Result<std::shared_ptr<ResponseStream>> stream = fixture.hub->Open(std::nullopt);
  ASSERT_TRUE(stream);
  Pull(**stream);  // greeting
  std::optional<std::optional<std::string>> delivered;
  (*stream)->Next([&](std::optional<std::string> bytes) { delivered = std::move(bytes); });
  // Two events in one batch overflow the single recent slot.
  fixture.publish = false;
  fixture.Append("a");
  fixture.Append("b");
  fixture.publish = true;
  std::vector<StoredEvent> both = *fixture.log->ReadAfter(0, 10);
  fixture.hub->Publish(both);
  ASSERT_TRUE(delivered && *delivered);
  std::string received = **delivered;  // empty: ask again
  auto chunk = Pull(**stream);
  ASSERT_TRUE(chunk && *chunk);
  received += **chunk;
  EXPECT_NE(received.find("id: 1\n"), std::string::npos) << received;
  EXPECT_NE(received.find("id: 2\n"), std::string::npos) << received;
}

DecideFn Subscribe(std::string email) {
  return [email](AppendContext&) -> Result<Decision> {
    proto::Event event;
    event.set_type(proto::SUBSCRIPTION_ADDED);
    event.mutable_subscription()->set_email(email);
    return Decision{.event = event, .repeat_of_seq = {}};
  };
}

DecideFn AliasSystem(std::string alias, std::string name) {
  return [alias, name](AppendContext&) -> Result<Decision> {
    proto::Event event;
    event.set_type(proto::SYSTEM_ALIASED);
    event.mutable_system()->set_name(name);
    event.mutable_system()->set_alias(alias);
    return Decision{.event = event, .repeat_of_seq = {}};
  };
}

// The dashboard follows the catalog (a merge changes its rows): a reader
// below auditor gets the catalog's events, from the ledger and live.
TEST(EventHub, AnIncidentsOnlyStreamCarriesTheCatalogOfSystems) {
  HubFixture fixture(EventHub::Options{.recent_events_max = 1});
  ASSERT_TRUE(fixture.log->Append(AliasSystem("Mail", "E-mail")));  // 1, read back from the ledger
  fixture.Append("a");                                                // 2
  Result<std::shared_ptr<ResponseStream>> stream = fixture.hub->Open(0, /*incidents_only=*/true);
  ASSERT_TRUE(stream);
  Pull(**stream);  // greeting
  std::string received = PullUntilWaiting(**stream);
  EXPECT_NE(received.find("id: 1\n"), std::string::npos) << received;
  EXPECT_NE(received.find("SYSTEM_ALIASED"), std::string::npos) << received;
  EXPECT_NE(received.find("id: 2\n"), std::string::npos) << received;

  std::optional<std::optional<std::string>> delivered;
  (*stream)->Next([&](std::optional<std::string> bytes) { delivered = std::move(bytes); });
  ASSERT_TRUE(fixture.log->Append(AliasSystem("Exchange", "E-mail")));  // 3
  ASSERT_TRUE(delivered && *delivered);
  EXPECT_TRUE((*delivered)->starts_with("id: 3\n")) << **delivered;
  EXPECT_NE((*delivered)->find("Exchange"), std::string::npos) << **delivered;
}

TEST(EventHub, AnIncidentsOnlyStreamLeavesOutSubscriptionsLiveAndFromTheLedger) {
  HubFixture fixture(EventHub::Options{.recent_events_max = 2});
  ASSERT_TRUE(fixture.log->Append(Subscribe("early@example.org")));  // 1
  fixture.Append("a");                                                  // 2
  ASSERT_TRUE(fixture.log->Append(Subscribe("mid@example.org")));    // 3
  ASSERT_TRUE(fixture.log->Append(Subscribe("late@example.org")));   // 4 (only 3 and 4 are recent)
  Result<std::shared_ptr<ResponseStream>> stream = fixture.hub->Open(0, /*incidents_only=*/true);
  ASSERT_TRUE(stream);
  Pull(**stream);  // greeting
  std::string received = PullUntilWaiting(**stream);
  EXPECT_NE(received.find("id: 2\n"), std::string::npos) << received;
  EXPECT_EQ(received.find("@example.org"), std::string::npos) << received;

  // Live: a waiting stream stays waiting through a subscription, then gets the incident.
  std::optional<std::optional<std::string>> delivered;
  (*stream)->Next([&](std::optional<std::string> bytes) { delivered = std::move(bytes); });
  ASSERT_TRUE(fixture.log->Append(Subscribe("live@example.org")));  // 5
  EXPECT_FALSE(delivered);
  fixture.Append("b");  // 6
  ASSERT_TRUE(delivered && *delivered);
  EXPECT_TRUE((*delivered)->starts_with("id: 6\n")) << **delivered;

  // An auditor's stream gets everything.
  Result<std::shared_ptr<ResponseStream>> full = fixture.hub->Open(4);
  ASSERT_TRUE(full);
  Pull(**full);
  auto chunk = Pull(**full);
  ASSERT_TRUE(chunk && *chunk);
  EXPECT_NE((*chunk)->find("live@example.org"), std::string::npos);
}

TEST(EventHub, RefusesStreamsBeyondTheCapUntilOneCloses) {
  HubFixture fixture(EventHub::Options{.streams_max = 1});
  Result<std::shared_ptr<ResponseStream>> first = fixture.hub->Open(std::nullopt);
  ASSERT_TRUE(first);
  Result<std::shared_ptr<ResponseStream>> second = fixture.hub->Open(std::nullopt);
  ASSERT_FALSE(second);
  EXPECT_EQ(second.error().code, ErrorCode::kUnavailable);
  EXPECT_EQ(fixture.hub->open_streams(), 1u);
  first->reset();
  EXPECT_EQ(fixture.hub->open_streams(), 0u);
  EXPECT_TRUE(fixture.hub->Open(std::nullopt));
}

TEST(EventHub, ACancelledStreamIsNeverDelivered) {
  HubFixture fixture;
  Result<std::shared_ptr<ResponseStream>> stream = fixture.hub->Open(std::nullopt);
  ASSERT_TRUE(stream);
  Pull(**stream);
  bool called = false;
  (*stream)->Next([&](std::optional<std::string>) { called = true; });
  (*stream)->Cancel();
  fixture.Append("x");
  EXPECT_FALSE(called);
  EXPECT_FALSE(Pull(**stream));
  EXPECT_FALSE(called);
}

TEST(EventHub, ClampsAResumePointBeyondTheHead) {
  HubFixture fixture;
  fixture.Append("a");
  Result<std::shared_ptr<ResponseStream>> stream = fixture.hub->Open(99);
  ASSERT_TRUE(stream);
  Pull(**stream);
  std::optional<std::optional<std::string>> delivered;
  (*stream)->Next([&](std::optional<std::string> bytes) { delivered = std::move(bytes); });
  fixture.Append("b");
  ASSERT_TRUE(delivered && *delivered);
  EXPECT_TRUE((*delivered)->starts_with("id: 2\n"));
}

// What a stream's reader may see, changed by the test as a reload would.
struct ChangingAccess {
  std::shared_ptr<std::atomic<StreamAccess>> now = std::make_shared<std::atomic<StreamAccess>>(StreamAccess::kEverything);
  StreamReader Reader(std::string principal = {}) const {
    return StreamReader{.principal = std::move(principal), .access = [now = now] { return now->load(); }};
  }
};

// A deliver that may run on the hub's thread.
struct Delivered {
  std::mutex mutex;
  std::optional<std::optional<std::string>> got;
  DeliverChunk Deliver() {
    return [this](std::optional<std::string> bytes) {
      std::lock_guard lock(mutex);
      got = std::move(bytes);
    };
  }
  std::optional<std::optional<std::string>> Wait(std::chrono::milliseconds at_most) {
    const auto deadline = std::chrono::steady_clock::now() + at_most;
    while (std::chrono::steady_clock::now() < deadline) {
      {
        std::lock_guard lock(mutex);
        if (got) return got;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    std::lock_guard lock(mutex);
    return got;
  }
};

TEST(EventHub, AStreamLeavesOutWhatItsReaderMayNoLongerSeeAndEndsWithTheRight) {
  HubFixture fixture;
  ChangingAccess access;
  Result<std::shared_ptr<ResponseStream>> stream = fixture.hub->Open(std::nullopt, access.Reader("audit"));
  ASSERT_TRUE(stream);
  Pull(**stream);  // greeting
  ASSERT_TRUE(fixture.log->Append(Subscribe("before@example.org")));  // 1
  auto chunk = Pull(**stream);
  ASSERT_TRUE(chunk && *chunk);
  EXPECT_NE((*chunk)->find("before@example.org"), std::string::npos);

  // Lowered to viewer while waiting: the next subscription is left out.
  Delivered delivered;
  (*stream)->Next(delivered.Deliver());
  access.now->store(StreamAccess::kIncidents);
  ASSERT_TRUE(fixture.log->Append(Subscribe("after@example.org")));  // 2
  fixture.Append("incident");                                         // 3
  std::optional<std::optional<std::string>> got = delivered.Wait(std::chrono::seconds(5));
  ASSERT_TRUE(got && *got);
  EXPECT_TRUE((*got)->starts_with("id: 3\n")) << **got;
  EXPECT_EQ((*got)->find("after@example.org"), std::string::npos);

  // The right gone: the next event ends the stream instead of reaching it.
  Delivered ended;
  (*stream)->Next(ended.Deliver());
  access.now->store(StreamAccess::kNothing);
  fixture.Append("not for you");
  got = ended.Wait(std::chrono::seconds(5));
  ASSERT_TRUE(got);
  EXPECT_FALSE(*got) << **got;
  EXPECT_FALSE(*Pull(**stream)) << "ended for good";
}

TEST(EventHub, AnIdleStreamEndsWithinTheCheckIntervalWhenItsRightGoes) {
  HubFixture fixture(EventHub::Options{.access_check_interval = std::chrono::milliseconds(20)});
  ChangingAccess access;
  Result<std::shared_ptr<ResponseStream>> stream = fixture.hub->Open(std::nullopt, access.Reader("gone"));
  ASSERT_TRUE(stream);
  Pull(**stream);  // greeting
  Delivered delivered;
  (*stream)->Next(delivered.Deliver());
  EXPECT_FALSE(delivered.Wait(std::chrono::milliseconds(100))) << "nothing to send: it waits";
  access.now->store(StreamAccess::kNothing);
  std::optional<std::optional<std::string>> got = delivered.Wait(std::chrono::seconds(5));
  ASSERT_TRUE(got) << "no event came, yet the stream must end";
  EXPECT_FALSE(*got);
  // A reader without the right gets no stream at all.
  Result<std::shared_ptr<ResponseStream>> refused = fixture.hub->Open(std::nullopt, access.Reader("gone"));
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, ErrorCode::kUnauthenticated);
}

TEST(EventHub, CapsTheStreamsOfOnePrincipal) {
  HubFixture fixture(EventHub::Options{.streams_per_principal_max = 2});
  ChangingAccess access;
  Result<std::shared_ptr<ResponseStream>> first = fixture.hub->Open(std::nullopt, access.Reader("wall"));
  Result<std::shared_ptr<ResponseStream>> second = fixture.hub->Open(std::nullopt, access.Reader("wall"));
  ASSERT_TRUE(first && second);
  Result<std::shared_ptr<ResponseStream>> third = fixture.hub->Open(std::nullopt, access.Reader("wall"));
  ASSERT_FALSE(third);
  EXPECT_EQ(third.error().field, kEventStreamsPerPrincipalField);
  EXPECT_NE(third.error().message.find("'wall' already has 2 event streams open"), std::string::npos)
      << third.error().message;
  EXPECT_TRUE(fixture.hub->Open(std::nullopt, access.Reader("desk"))) << "another principal still gets one";
  // Without a principal (open mode) only the global cap counts.
  for (int i = 0; i < 3; ++i) EXPECT_TRUE(fixture.hub->Open(std::nullopt, access.Reader()));
  first->reset();
  EXPECT_TRUE(fixture.hub->Open(std::nullopt, access.Reader("wall")));
}

// -- /metrics text, rendered from the other parts' plain figures -------------

bool HasLine(const std::string& text, const std::string& line) {
  return text.starts_with(line + "\n") || text.find("\n" + line + "\n") != std::string::npos;
}

TEST(Metrics, RendersTheNotificationQueueFromItsFigures) {
  projections::NotificationStats stats;
  stats.queue = projections::NotificationQueueStats{.jobs = {.pending = 2, .sent = 7, .failed = 1},
                                                    .oldest_pending_recorded_at_micros = 1'000'000,
                                                    .orphan_receipts = 3,
                                                    .duplicate_deliveries = 4,
                                                    .jobs_in_memory = 5};
  EXPECT_EQ(RenderNotificationMetrics(stats, 3'500'000),
            "# HELP ledger_notification_jobs Notification jobs in the queue, by state.\n"
            "# TYPE ledger_notification_jobs gauge\n"
            "ledger_notification_jobs{state=\"pending\"} 2\n"
            "ledger_notification_jobs{state=\"sent\"} 7\n"
            "ledger_notification_jobs{state=\"failed\"} 1\n"
            "# HELP ledger_notification_oldest_pending_seconds Age of the oldest pending job's incident event.\n"
            "# TYPE ledger_notification_oldest_pending_seconds gauge\n"
            "ledger_notification_oldest_pending_seconds 2.500\n"
            "# HELP ledger_notification_orphan_receipts Receipts in the log naming no known job.\n"
            "# TYPE ledger_notification_orphan_receipts gauge\n"
            "ledger_notification_orphan_receipts 3\n"
            "# HELP ledger_notification_duplicate_deliveries DELIVERED receipts for jobs already sent.\n"
            "# TYPE ledger_notification_duplicate_deliveries gauge\n"
            "ledger_notification_duplicate_deliveries 4\n"
            "# HELP ledger_notification_jobs_in_memory Jobs held in memory: pending, failed, and sent ones not yet "
            "saved to disk.\n"
            "# TYPE ledger_notification_jobs_in_memory gauge\n"
            "ledger_notification_jobs_in_memory 5\n"
            "# HELP ledger_notification_worker_running 1 when an SMTP server is configured.\n"
            "# TYPE ledger_notification_worker_running gauge\n"
            "ledger_notification_worker_running 0\n");
  // An event recorded after the clock's reading (another host's clock) is no
  // negative age, and nothing pending is age 0.
  EXPECT_TRUE(HasLine(RenderNotificationMetrics(stats, 0), "ledger_notification_oldest_pending_seconds 0.000"));
  stats.queue.oldest_pending_recorded_at_micros = 0;
  EXPECT_TRUE(HasLine(RenderNotificationMetrics(stats, 3'500'000), "ledger_notification_oldest_pending_seconds 0.000"));
}

TEST(Metrics, RendersTheDeliveryWorkerOnlyWhenOneRuns) {
  Histogram send_seconds(LatencyBucketsSeconds());
  send_seconds.Observe(0.003);
  send_seconds.Observe(0.2);
  projections::NotificationStats stats;
  stats.delivery = projections::DeliveryStats{
      .attempts = {.delivered = 5, .server_unavailable = 1, .transient = 2, .permanent = 0, .aborted = 0},
      .given_up = 1,
      .receipt_append_failures = 6,
      .send_seconds = send_seconds.Snapshot(),
      .in_flight = 8,
      .receipts_unrecorded = 9,
      .smtp_available = false};
  const std::string text = RenderNotificationMetrics(stats, 0);
  for (const char* line : {
           "ledger_notification_worker_running 1",
           "# HELP ledger_notification_attempts_total SMTP attempts since start, by outcome.",
           "# TYPE ledger_notification_attempts_total counter",
           "ledger_notification_attempts_total{outcome=\"delivered\"} 5",
           "ledger_notification_attempts_total{outcome=\"server_unavailable\"} 1",
           "ledger_notification_attempts_total{outcome=\"transient\"} 2",
           "ledger_notification_attempts_total{outcome=\"aborted\"} 0",
           "ledger_notification_given_up_total 1",
           "ledger_notification_receipt_append_failures_total 6",
           "# TYPE ledger_notification_send_duration_seconds histogram",
           "ledger_notification_send_duration_seconds_bucket{le=\"0.0025\"} 0",
           "ledger_notification_send_duration_seconds_bucket{le=\"0.005\"} 1",
           "ledger_notification_send_duration_seconds_bucket{le=\"0.25\"} 2",
           "ledger_notification_send_duration_seconds_bucket{le=\"+Inf\"} 2",
           "ledger_notification_send_duration_seconds_sum 0.203000",
           "ledger_notification_send_duration_seconds_count 2",
           "ledger_notification_in_flight 8",
           "ledger_notification_receipts_unrecorded 9",
           "ledger_notification_smtp_available 0",
       }) {
    EXPECT_TRUE(HasLine(text, line)) << line << "\n" << text;
  }
}

TEST(Metrics, RendersTheSheetPollerFromItsFigures) {
  const ingest::SheetPollerStats stats{.imports = 4,
                                       .file_errors = 1,
                                       .rows_appended = 10,
                                       .rows_already_present = 20,
                                       .rows_rejected = 2,
                                       .last_import_rows_read = 12,
                                       .last_import_rows_appended = 1,
                                       .last_import_rows_already_present = 10,
                                       .last_import_rows_rejected = 1,
                                       .last_import_file_ok = true,
                                       .last_import_unix_seconds = 1764000000};
  EXPECT_EQ(RenderSheetPollerMetrics(stats),
            "# HELP ledger_sheet_imports_total Imports of the polled CSV sheet (one per changed file).\n"
            "# TYPE ledger_sheet_imports_total counter\n"
            "ledger_sheet_imports_total 4\n"
            "# HELP ledger_sheet_file_errors_total Looks at the polled CSV sheet that found it unreadable or "
            "malformed.\n"
            "# TYPE ledger_sheet_file_errors_total counter\n"
            "ledger_sheet_file_errors_total 1\n"
            "# HELP ledger_sheet_rows_total Rows of the polled CSV sheet, by outcome, over all imports.\n"
            "# TYPE ledger_sheet_rows_total counter\n"
            "ledger_sheet_rows_total{outcome=\"appended\"} 10\n"
            "ledger_sheet_rows_total{outcome=\"already_present\"} 20\n"
            "ledger_sheet_rows_total{outcome=\"rejected\"} 2\n"
            "# HELP ledger_sheet_last_import_rows Rows of the latest import of the polled CSV sheet, by outcome.\n"
            "# TYPE ledger_sheet_last_import_rows gauge\n"
            "ledger_sheet_last_import_rows{outcome=\"read\"} 12\n"
            "ledger_sheet_last_import_rows{outcome=\"appended\"} 1\n"
            "ledger_sheet_last_import_rows{outcome=\"already_present\"} 10\n"
            "ledger_sheet_last_import_rows{outcome=\"rejected\"} 1\n"
            "# HELP ledger_sheet_last_import_file_ok 1 when the latest import could read the file, 0 when not.\n"
            "# TYPE ledger_sheet_last_import_file_ok gauge\n"
            "ledger_sheet_last_import_file_ok 1\n"
            "# HELP ledger_sheet_last_import_timestamp_seconds Unix time of the latest import of the polled CSV "
            "sheet.\n"
            "# TYPE ledger_sheet_last_import_timestamp_seconds gauge\n"
            "ledger_sheet_last_import_timestamp_seconds 1764000000\n");
}

TEST(Metrics, RenderAddsEachSourceSetInAFixedOrder) {
  Metrics metrics;
  metrics.CountRequest("health", 200, 0.002);
  std::string text = metrics.Render(LedgerStats{.events_appended = 3, .batches_failed = 0}, 5, 4);
  EXPECT_TRUE(HasLine(text, "ledger_http_requests_total{route=\"health\",status=\"200\"} 1")) << text;
  EXPECT_TRUE(HasLine(text, "ledger_http_request_duration_seconds_bucket{route=\"health\",le=\"0.0025\"} 1")) << text;
  EXPECT_TRUE(HasLine(text, "ledger_http_request_duration_seconds_count{route=\"health\"} 1")) << text;
  EXPECT_TRUE(HasLine(text, "ledger_head_seq 5")) << text;
  EXPECT_TRUE(HasLine(text, "ledger_projection_applied_seq 4")) << text;
  for (const char* family : {"ledger_notification_", "ledger_sheet_", "ledger_work_"}) {
    EXPECT_EQ(text.find(family), std::string::npos) << family;  // no source set: left out
  }

  int calls = 0;
  metrics.SetSources(MetricsSources{.notifications = [&calls] { ++calls; return projections::NotificationStats{}; },
                                    .sheet_poller = [&calls] { ++calls; return ingest::SheetPollerStats{}; },
                                    .work_pool = [&calls] { ++calls; return WorkPoolStats{.queued = 2}; }});
  text = metrics.Render(LedgerStats{}, 5, 4);
  EXPECT_EQ(calls, 3);
  const size_t http = text.find("# HELP ledger_http_open_connections");
  const size_t notifications = text.find("# HELP ledger_notification_jobs");
  const size_t sheet = text.find("# HELP ledger_sheet_imports_total");
  const size_t work = text.find("# HELP ledger_work_queued");
  ASSERT_NE(work, std::string::npos) << text;
  EXPECT_LT(http, notifications);
  EXPECT_LT(notifications, sheet);
  EXPECT_LT(sheet, work);
  EXPECT_TRUE(HasLine(text, "ledger_work_queued 2")) << text;
}

}  // namespace
}  // namespace ledger::http

// ------------------------------------------------------------ access control

namespace {

using ledger::http::AccessControl;
using ledger::http::AuthFile;
using ledger::http::HttpRequest;
using ledger::http::Role;
using ledger::http::RequiredAccess;

using ledger::http::test_support::HashLine;
using ledger::http::test_support::Request;

}  // namespace

TEST(Auth, ParsesTheFileAndFindsTokensByHash) {
  const std::string text = "# tokens\n\n" + HashLine("ana", "helpdesk", "token-ana") + "\r\n" +
                           HashLine("audit-bot", "auditor,viewer", "token-audit") + "\n";
  ledger::Result<AuthFile> file = AuthFile::Parse(text);
  ASSERT_TRUE(file) << file.error().message;
  ASSERT_EQ(file->entries().size(), 2u);
  ASSERT_NE(file->Find("token-ana"), nullptr);
  EXPECT_EQ(file->Find("token-ana")->name, "ana");
  EXPECT_EQ(file->Find("token-audit")->name, "audit-bot");
  EXPECT_EQ(file->Find("token-an"), nullptr);
  EXPECT_EQ(file->Find(""), nullptr);
}

TEST(Auth, RefusesBadFilesNamingTheLine) {
  const std::string good = HashLine("ana", "viewer", "t1");
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"", "no tokens"},
      {good + "\nbob viewer\n", "line 2: expected NAME ROLES"},
      {"b\xff" "b viewer sha256:" + std::string(64, '0'), "line 1: not valid UTF-8"},
      {"bob boss sha256:" + std::string(64, '0'), "unknown role 'boss'"},
      {"bob viewer plain-token", "never the token itself"},
      {"bob viewer sha256:abcd", "64 hex digits"},
      {"bo/b viewer sha256:" + std::string(64, '0'), "token name"},
      {good + "\n" + HashLine("ana", "admin", "t2"), "line 2: the name 'ana' is given twice"},
      {good + "\n" + HashLine("bob", "admin", "t1"), "same token hash"},
  };
  for (const auto& [text, expected] : cases) {
    ledger::Result<AuthFile> file = AuthFile::Parse(text);
    ASSERT_FALSE(file) << text;
    EXPECT_NE(file.error().message.find(expected), std::string::npos) << file.error().message;
  }
}

TEST(Auth, MadeTokensAreRandomAndAdmittedByTheirLine) {
  ledger::Result<ledger::http::NewToken> first = ledger::http::MakeToken("ana", "helpdesk");
  ledger::Result<ledger::http::NewToken> second = ledger::http::MakeToken("bob", "admin");
  ASSERT_TRUE(first && second);
  EXPECT_NE(first->token, second->token);
  EXPECT_EQ(first->token.size(), 4u + 43u);
  EXPECT_EQ(first->line.find(first->token), std::string::npos) << "the line holds the token itself";
  ledger::Result<AuthFile> file = AuthFile::Parse(first->line + "\n" + second->line + "\n");
  ASSERT_TRUE(file);
  EXPECT_EQ(file->Find(second->token)->name, "bob");
  EXPECT_FALSE(ledger::http::MakeToken("ana", "root"));
  EXPECT_FALSE(ledger::http::MakeToken("", "viewer"));
}

TEST(Auth, RolesGrantWhatTheyShould) {
  using ledger::http::Grants;
  const auto set = [](Role role) { return static_cast<ledger::http::RoleSet>(role); };
  EXPECT_TRUE(Grants(set(Role::kHelpdesk), Role::kViewer));
  EXPECT_TRUE(Grants(set(Role::kAuditor), Role::kViewer));
  EXPECT_FALSE(Grants(set(Role::kViewer), Role::kHelpdesk));
  EXPECT_FALSE(Grants(set(Role::kHelpdesk), Role::kAuditor));
  EXPECT_FALSE(Grants(set(Role::kAuditor), Role::kAdmin));
  EXPECT_TRUE(Grants(set(Role::kAdmin), Role::kAuditor));
  EXPECT_FALSE(Grants(0, Role::kViewer));
}

TEST(Auth, ChecksBearerSessionsCsrfAndOrigin) {
  ledger::Result<AuthFile> file =
      AuthFile::Parse(HashLine("desk", "helpdesk", "token-desk") + "\n" + HashLine("wall", "viewer", "token-wall"));
  ASSERT_TRUE(file);
  AccessControl access(std::move(*file));

  HttpRequest request = Request("POST", "/api/v1/submissions");
  EXPECT_EQ(access.Check(request, RequiredAccess::Needs(Role::kHelpdesk)).error().code, ledger::ErrorCode::kUnauthenticated);
  request.authorization = "Bearer token-wall";
  EXPECT_EQ(access.Check(request, RequiredAccess::Needs(Role::kHelpdesk)).error().code, ledger::ErrorCode::kPermissionDenied);
  request.authorization = "bearer token-desk";
  ASSERT_TRUE(access.Check(request, RequiredAccess::Needs(Role::kHelpdesk)));
  EXPECT_EQ(access.Check(request, RequiredAccess::Needs(Role::kHelpdesk))->name, "desk");
  request.authorization = "Bearer ";
  EXPECT_EQ(access.Check(request, RequiredAccess::Needs(Role::kHelpdesk)).error().code, ledger::ErrorCode::kUnauthenticated);
  request.authorization = "Bearer " + std::string(10'000, 'a');
  EXPECT_EQ(access.Check(request, RequiredAccess::Needs(Role::kHelpdesk)).error().code, ledger::ErrorCode::kUnauthenticated);

  std::optional<ledger::http::NewSession> session = access.SignIn("token-desk");
  ASSERT_TRUE(session);
  EXPECT_FALSE(access.SignIn("token-nobody"));
  HttpRequest from_page = Request("POST", "/submit");
  from_page.cookie = "other=1; ledger_session=" + session->cookie_value + "; x=y";
  EXPECT_EQ(access.Check(from_page, RequiredAccess::Needs(Role::kHelpdesk)).error().field, "csrf_token");
  from_page.csrf_token = session->csrf_token;
  ASSERT_TRUE(access.Check(from_page, RequiredAccess::Needs(Role::kHelpdesk)));
  from_page.origin = "http://evil.example";
  EXPECT_EQ(access.Check(from_page, RequiredAccess::Needs(Role::kHelpdesk)).error().code, ledger::ErrorCode::kPermissionDenied);
  from_page.origin = "http://127.0.0.1:8080";
  EXPECT_TRUE(access.Check(from_page, RequiredAccess::Needs(Role::kHelpdesk)));
  from_page.csrf_token.clear();
  from_page.content_type = "application/x-www-form-urlencoded";
  from_page.body = "action=create&csrf_token=" + session->csrf_token;
  EXPECT_TRUE(access.Check(from_page, RequiredAccess::Needs(Role::kHelpdesk)));

  HttpRequest read = Request("GET", "/api/v1/incidents");
  read.cookie = "ledger_session=" + session->cookie_value;
  EXPECT_TRUE(access.Check(read, RequiredAccess::Needs(Role::kViewer)));  // reads need no CSRF token
  access.SignOut(read);
  EXPECT_EQ(access.Check(read, RequiredAccess::Needs(Role::kViewer)).error().code, ledger::ErrorCode::kUnauthenticated);

  EXPECT_TRUE(access.Check(Request("GET", "/healthz"), RequiredAccess::Public()));
  EXPECT_TRUE(access.Check(Request("GET", "/static/app.css"), RequiredAccess::Public()));
}

TEST(Auth, ReloadEndsTheSessionsOfRemovedTokensAndRenewsRoles) {
  ledger::Result<AuthFile> first =
      AuthFile::Parse(HashLine("desk", "helpdesk", "token-desk") + "\n" + HashLine("wall", "viewer", "token-wall"));
  ASSERT_TRUE(first);
  AccessControl access(std::move(*first));
  std::optional<ledger::http::NewSession> desk = access.SignIn("token-desk");
  std::optional<ledger::http::NewSession> wall = access.SignIn("token-wall");
  ASSERT_TRUE(desk && wall);
  const auto with_cookie = [](const ledger::http::NewSession& session) {
    HttpRequest read = Request("GET", "/api/v1/notifications");
    read.cookie = "ledger_session=" + session.cookie_value;
    return read;
  };
  EXPECT_EQ(access.Check(with_cookie(*wall), RequiredAccess::Needs(Role::kAdmin)).error().code, ledger::ErrorCode::kPermissionDenied);

  // "desk" is gone; "wall" (same token) is now an admin, under a new name.
  ledger::Result<AuthFile> second =
      AuthFile::Parse(HashLine("wall-board", "admin", "token-wall") + "\n" + HashLine("new", "viewer", "token-new"));
  ASSERT_TRUE(second);
  ledger::Result<ledger::http::SessionsRetained> retained = access.Reload(std::move(*second));
  ASSERT_TRUE(retained);
  EXPECT_EQ(retained->kept, 1u);
  EXPECT_EQ(retained->ended, 1u);
  EXPECT_EQ(access.Check(with_cookie(*desk), RequiredAccess::Needs(Role::kAdmin)).error().code, ledger::ErrorCode::kUnauthenticated);
  ledger::Result<ledger::http::Principal> renewed = access.Check(with_cookie(*wall), RequiredAccess::Needs(Role::kAdmin));
  ASSERT_TRUE(renewed);
  EXPECT_EQ(renewed->name, "wall-board");
  HttpRequest bearer = Request("GET", "/api/v1/incidents");
  bearer.authorization = "Bearer token-desk";
  EXPECT_EQ(access.Check(bearer, RequiredAccess::Needs(Role::kViewer)).error().code, ledger::ErrorCode::kUnauthenticated);
  bearer.authorization = "Bearer token-new";
  EXPECT_TRUE(access.Check(bearer, RequiredAccess::Needs(Role::kViewer)));
  EXPECT_FALSE(access.SignIn("token-desk"));
  EXPECT_TRUE(access.SignIn("token-new"));

  AccessControl open(std::nullopt);
  ledger::Result<AuthFile> any = AuthFile::Parse(HashLine("x", "viewer", "token-x"));
  ASSERT_TRUE(any);
  EXPECT_FALSE(open.Reload(std::move(*any))) << "open mode stays open";
  EXPECT_TRUE(open.open_mode());
}

TEST(Auth, SessionsOutliveARestartThroughTheirFile) {
  ledger::testing::TempDir dir;
  const std::string path = dir.Sub("sessions");
  const auto auth = [](const std::string& text) {
    ledger::Result<AuthFile> file = AuthFile::Parse(text);
    EXPECT_TRUE(file);
    return std::move(*file);
  };
  const std::string tokens = HashLine("desk", "helpdesk", "token-desk") + "\n" + HashLine("wall", "viewer", "token-wall");
  const auto with_cookie = [](const ledger::http::NewSession& session) {
    HttpRequest read = Request("GET", "/api/v1/incidents");
    read.cookie = "ledger_session=" + session.cookie_value;
    return read;
  };

  std::optional<ledger::http::NewSession> desk, wall, gone;
  {
    AccessControl before(auth(tokens));
    ledger::Result<ledger::http::SessionsRestored> none = before.PersistSessions(path);
    ASSERT_TRUE(none) << none.error().message;  // no file yet
    EXPECT_EQ(none->restored, 0u);
    desk = before.SignIn("token-desk");
    wall = before.SignIn("token-wall");
    gone = before.SignIn("token-wall");
    ASSERT_TRUE(desk && wall && gone);
    HttpRequest sign_out = Request("POST", "/signout");
    sign_out.cookie = "ledger_session=" + gone->cookie_value;
    before.SignOut(sign_out);
  }
  // The file holds hashes, never a cookie value; only its owner reads it.
  std::ifstream in(path);
  const std::string saved((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_EQ(saved.find(desk->cookie_value), std::string::npos);
  EXPECT_EQ(std::filesystem::status(path).permissions() & std::filesystem::perms::all,
            std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);

  // Restarted with "wall" removed from the auth file: desk stays signed in,
  // with its CSRF token; wall's session ends; the signed-out one stays out.
  AccessControl after(auth(HashLine("desk", "helpdesk,auditor", "token-desk")));
  ledger::Result<ledger::http::SessionsRestored> restored = after.PersistSessions(path);
  ASSERT_TRUE(restored) << restored.error().message;
  EXPECT_EQ(restored->restored, 1u);
  EXPECT_EQ(restored->ended, 1u);
  ledger::Result<ledger::http::Principal> principal = after.Check(with_cookie(*desk), RequiredAccess::Needs(Role::kViewer));
  ASSERT_TRUE(principal) << principal.error().message;
  EXPECT_EQ(principal->name, "desk");
  EXPECT_TRUE(principal->Has(Role::kAuditor));  // the roles the auth file gives now
  EXPECT_EQ(principal->csrf_token, desk->csrf_token);
  EXPECT_EQ(after.Check(with_cookie(*wall), RequiredAccess::Needs(Role::kViewer)).error().code, ledger::ErrorCode::kUnauthenticated);
  EXPECT_EQ(after.Check(with_cookie(*gone), RequiredAccess::Needs(Role::kViewer)).error().code, ledger::ErrorCode::kUnauthenticated);

  // Expired lines are dropped; a malformed file names its line and signs
  // nobody in.
  const std::string header = "# incident-ledger sessions 1\n";
  const std::string key = ledger::HexEncode(ledger::Sha256("cookie"));
  const std::string token_hash = ledger::HexEncode(ledger::Sha256("token-desk"));
  const auto write = [&](const std::string& text) { std::ofstream(path, std::ios::trunc) << text; };
  write(header + key + " " + token_hash + " 1000 csrfcsrf\n");
  AccessControl expired(auth(tokens));
  restored = expired.PersistSessions(path);
  ASSERT_TRUE(restored);
  EXPECT_EQ(restored->expired, 1u);
  EXPECT_EQ(restored->restored, 0u);
  const std::vector<std::pair<std::string, std::string>> malformed = {
      {"not the header\n", "does not start with"},
      {header + key + " " + token_hash + " 99999999999\n", "line 2"},
      {header + "\n" + key + " zz 99999999999 csrf\n", "line 3"},
      {header + key + " " + token_hash + " soon csrf\n", "expiry"},
      {header + key + " " + token_hash + " 99999999999 bad<csrf>\n", "CSRF"},
      {header + std::string(ledger::http::kSessionsFileBytesMax, 'x'), "larger than"},
  };
  for (const auto& [text, named] : malformed) {
    write(text);
    AccessControl refused(auth(tokens));
    ledger::Result<ledger::http::SessionsRestored> outcome = refused.PersistSessions(path);
    ASSERT_FALSE(outcome) << text.substr(0, 80);
    EXPECT_NE(outcome.error().message.find(named), std::string::npos) << outcome.error().message;
    EXPECT_NE(outcome.error().message.find(path), std::string::npos) << outcome.error().message;
    // The next sign-in replaces the file with a sound one.
    ASSERT_TRUE(refused.SignIn("token-desk"));
    AccessControl again(auth(tokens));
    ledger::Result<ledger::http::SessionsRestored> reread = again.PersistSessions(path);
    ASSERT_TRUE(reread) << reread.error().message;
    EXPECT_EQ(reread->restored, 1u);
  }

  AccessControl open(std::nullopt);
  EXPECT_FALSE(open.PersistSessions(path)) << "nobody signs in in open mode";
}

TEST(Auth, OpenModeGrantsEverythingButCrossSiteWrites) {
  AccessControl access(std::nullopt);
  HttpRequest request = Request("POST", "/api/v1/subscriptions");
  ASSERT_TRUE(access.Check(request, RequiredAccess::Needs(Role::kAdmin)));
  EXPECT_TRUE(access.Check(request, RequiredAccess::Needs(Role::kAdmin))->Has(Role::kAdmin));
  request.sec_fetch_site = "cross-site";
  EXPECT_EQ(access.Check(request, RequiredAccess::Needs(Role::kAdmin)).error().code, ledger::ErrorCode::kPermissionDenied);
  request.sec_fetch_site = "same-origin";
  request.origin = "null";
  EXPECT_EQ(access.Check(request, RequiredAccess::Needs(Role::kAdmin)).error().code, ledger::ErrorCode::kPermissionDenied);
  EXPECT_FALSE(access.SignIn("anything"));
}

TEST(Auth, ReadsCookiesAndComparesInConstantTime) {
  using ledger::http::CookieValue;
  EXPECT_EQ(CookieValue("a=1; ledger_session=abc; b=2", "ledger_session"), "abc");
  EXPECT_EQ(CookieValue("xledger_session=abc", "ledger_session"), std::nullopt);
  EXPECT_EQ(CookieValue("", "ledger_session"), std::nullopt);
  EXPECT_TRUE(ledger::http::ConstantTimeEquals("abc", "abc"));
  EXPECT_FALSE(ledger::http::ConstantTimeEquals("abc", "abd"));
  EXPECT_FALSE(ledger::http::ConstantTimeEquals("abc", "ab"));
}

TEST(Auth, ATokenSigningInAgainAndAgainEndsOnlyItsOwnOldestSessions) {
  ledger::Result<AuthFile> file =
      AuthFile::Parse(HashLine("boss", "admin", "token-boss") + "\n" + HashLine("wall", "viewer", "token-wall"));
  ASSERT_TRUE(file);
  AccessControl access(std::move(*file));
  std::optional<ledger::http::NewSession> boss = access.SignIn("token-boss");
  ASSERT_TRUE(boss);
  std::vector<ledger::http::NewSession> wall;
  for (size_t i = 0; i < ledger::http::kSessionsPerTokenMax + 5; ++i) wall.push_back(*access.SignIn("token-wall"));
  const auto check = [&](const ledger::http::NewSession& session) {
    HttpRequest read = Request("GET", "/api/v1/incidents");
    read.cookie = "ledger_session=" + session.cookie_value;
    return access.Check(read, RequiredAccess::Needs(Role::kViewer));
  };
  EXPECT_TRUE(check(*boss));
  for (size_t i = 0; i < wall.size(); ++i) EXPECT_EQ(static_cast<bool>(check(wall[i])), i >= 5) << i;
}

TEST(Auth, AFullStoreTakesFromTheTokenHoldingTheMost) {
  // Enough tokens, each at its own limit, to fill the store twice over.
  const size_t tokens = 2 * ledger::http::kSessionsMax / ledger::http::kSessionsPerTokenMax + 1;
  std::string text = HashLine("boss", "admin", "token-boss");
  for (size_t i = 0; i < tokens; ++i) text += "\n" + HashLine("t" + std::to_string(i), "viewer", "token-" + std::to_string(i));
  AccessControl access(*AuthFile::Parse(text));
  std::optional<ledger::http::NewSession> boss = access.SignIn("token-boss");
  ASSERT_TRUE(boss);
  for (size_t i = 0; i < tokens; ++i) {
    for (size_t n = 0; n < ledger::http::kSessionsPerTokenMax; ++n) ASSERT_TRUE(access.SignIn("token-" + std::to_string(i)));
  }
  HttpRequest read = Request("GET", "/api/v1/incidents");
  read.cookie = "ledger_session=" + boss->cookie_value;
  EXPECT_TRUE(access.Check(read, RequiredAccess::Needs(Role::kAdmin))) << "the admin's one session stays";
}

TEST(Auth, TheSessionsFileGrowsByALinePerChangeAndIsCompacted) {
  ledger::testing::TempDir dir;
  const std::string path = dir.Sub("sessions");
  const std::string tokens = HashLine("boss", "admin", "token-boss") + "\n" + HashLine("wall", "viewer", "token-wall");
  const auto lines = [&] {
    std::ifstream in(path);
    std::vector<std::string> read;
    for (std::string line; std::getline(in, line);) read.push_back(line);
    return read;
  };
  std::optional<ledger::http::NewSession> boss;
  {
    AccessControl access(*AuthFile::Parse(tokens));
    ASSERT_TRUE(access.PersistSessions(path));
    boss = access.SignIn("token-boss");
    ASSERT_TRUE(boss);
    EXPECT_EQ(lines(), (std::vector<std::string>{"# incident-ledger sessions 2", lines()[1]}));
    EXPECT_TRUE(lines()[1].starts_with("+ "));
    size_t before = lines().size();
    bool compacted = false;
    for (size_t i = 0; i < 4 * ledger::http::kSessionsPerTokenMax; ++i) {
      ASSERT_TRUE(access.SignIn("token-wall"));
      const size_t now = lines().size();
      if (now < before) {
        compacted = true;
      } else {
        EXPECT_LE(now - before, 2u);  // its line, and the end of the oldest once the token is full
        EXPECT_GE(now - before, 1u);
      }
      before = now;
    }
    EXPECT_TRUE(compacted);
    EXPECT_LE(lines().size(), 1 + ledger::http::kSessionsFileCompactFactor * (1 + ledger::http::kSessionsPerTokenMax) +
                                  ledger::http::kSessionsFileCompactSlackLines);
  }
  // A crash in the middle of an append leaves half a line: left out.
  std::ofstream(path, std::ios::app) << "+ 0123";
  AccessControl after(*AuthFile::Parse(tokens));
  ledger::Result<ledger::http::SessionsRestored> restored = after.PersistSessions(path);
  ASSERT_TRUE(restored) << restored.error().message;
  EXPECT_TRUE(restored->torn_line);
  EXPECT_EQ(restored->restored, 1 + ledger::http::kSessionsPerTokenMax);
  EXPECT_EQ(lines().size(), 2 + ledger::http::kSessionsPerTokenMax) << "rewritten at the start";
  HttpRequest sign_out = Request("POST", "/signout");
  sign_out.cookie = "ledger_session=" + boss->cookie_value;
  after.SignOut(sign_out);
  EXPECT_EQ(lines().back(), "- " + ledger::HexEncode(ledger::Sha256(boss->cookie_value)));
  AccessControl again(*AuthFile::Parse(tokens));
  restored = again.PersistSessions(path);
  ASSERT_TRUE(restored);
  EXPECT_FALSE(restored->torn_line);
  EXPECT_EQ(restored->restored, ledger::http::kSessionsPerTokenMax);
}

TEST(Auth, AHeldCredentialFollowsReloadsSignOutAndRoles) {
  const auto auth = [](const std::string& text) { return *AuthFile::Parse(text); };
  AccessControl access(auth(HashLine("audit", "auditor", "token-audit")));
  HttpRequest by_bearer = Request("GET", "/api/v1/events/stream");
  by_bearer.authorization = "Bearer token-audit";
  std::shared_ptr<ledger::http::HeldCredential> bearer = access.Hold(by_bearer);
  std::optional<ledger::http::NewSession> session = access.SignIn("token-audit");
  ASSERT_TRUE(session);
  HttpRequest by_cookie = Request("GET", "/api/v1/events/stream");
  by_cookie.cookie = "ledger_session=" + session->cookie_value;
  std::shared_ptr<ledger::http::HeldCredential> cookie = access.Hold(by_cookie);
  std::optional<ledger::http::NewSession> other = access.SignIn("token-audit");
  HttpRequest by_other = Request("GET", "/api/v1/events/stream");
  by_other.cookie = "ledger_session=" + other->cookie_value;
  std::shared_ptr<ledger::http::HeldCredential> other_cookie = access.Hold(by_other);
  EXPECT_EQ(bearer->Roles(), static_cast<ledger::http::RoleSet>(Role::kAuditor));
  EXPECT_EQ(cookie->Roles(), static_cast<ledger::http::RoleSet>(Role::kAuditor));

  const uint64_t generation = access.generation();
  ASSERT_TRUE(access.Reload(auth(HashLine("audit", "viewer", "token-audit"))));
  EXPECT_GT(access.generation(), generation);
  EXPECT_EQ(bearer->Roles(), static_cast<ledger::http::RoleSet>(Role::kViewer));
  EXPECT_EQ(cookie->Roles(), static_cast<ledger::http::RoleSet>(Role::kViewer));

  HttpRequest sign_out = Request("POST", "/signout");
  sign_out.cookie = by_cookie.cookie;
  access.SignOut(sign_out);
  EXPECT_EQ(cookie->Roles(), std::nullopt);
  EXPECT_TRUE(other_cookie->Roles()) << "another session of the token stays";
  EXPECT_TRUE(bearer->Roles());

  ASSERT_TRUE(access.Reload(auth(HashLine("someone", "admin", "token-else"))));
  EXPECT_EQ(bearer->Roles(), std::nullopt);
  EXPECT_EQ(other_cookie->Roles(), std::nullopt);
  ASSERT_TRUE(access.Reload(auth(HashLine("audit", "auditor", "token-audit"))));
  EXPECT_EQ(bearer->Roles(), std::nullopt) << "a stream once ended stays ended";

  AccessControl open(std::nullopt);
  EXPECT_EQ(open.Hold(Request("GET", "/"))->Roles(), ledger::http::kAllRoles);
}

TEST(Auth, RefusedCredentialsAreLoggedOncePerAddressPerInterval) {
  std::vector<std::string> said;
  ledger::http::AuthFailureLog log([&](const std::string& line) { said.push_back(line); });
  const auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < 5; ++i) log.Note("10.0.0.1", "a Bearer token that is not valid", start);
  log.Note("10.0.0.2", "a sign-in with a token that is not valid", start);
  ASSERT_EQ(said.size(), 2u);
  EXPECT_EQ(said[0], "incident-ledger: refused credentials: a Bearer token that is not valid, from 10.0.0.1");
  log.Note("10.0.0.1", "a Bearer token that is not valid", start + ledger::http::kAuthFailureLogInterval / 2);
  EXPECT_EQ(said.size(), 2u);
  log.Note("10.0.0.1", "a sign-in with a token that is not valid", start + ledger::http::kAuthFailureLogInterval);
  ASSERT_EQ(said.size(), 3u);
  EXPECT_EQ(said[2], "incident-ledger: refused credentials: a sign-in with a token that is not valid, from 10.0.0.1 "
                     "(and 5 more from there since the last line, not shown)");

  // Many addresses: the map stays bounded, and nothing is lost silently.
  for (size_t i = 0; i < 2 * ledger::http::kAuthFailureAddressesMax; ++i) {
    log.Note("10.1." + std::to_string(i), "x", start);
    log.Note("10.1." + std::to_string(i), "x", start);
  }
  EXPECT_LE(said.size(), 3 + ledger::http::kAuthFailureAddressesMax + 1);

  // Through AccessControl: Bearer and sign-in refusals name the address, never the token.
  std::vector<std::string> from_access;
  AccessControl access(*AuthFile::Parse(HashLine("boss", "admin", "token-boss")),
                       [&](const std::string& line) { from_access.push_back(line); });
  HttpRequest guess = Request("GET", "/api/v1/incidents");
  guess.authorization = "Bearer ilt_guess";
  guess.client_address = "192.0.2.7";
  EXPECT_FALSE(access.Check(guess, RequiredAccess::Needs(Role::kViewer)));
  EXPECT_FALSE(access.SignIn("ilt_other_guess", "192.0.2.8"));
  EXPECT_FALSE(access.SignIn("", "192.0.2.9"));  // an empty form is no guess
  ASSERT_EQ(from_access.size(), 2u);
  EXPECT_NE(from_access[0].find("192.0.2.7"), std::string::npos);
  EXPECT_NE(from_access[1].find("sign-in"), std::string::npos);
  for (const std::string& line : from_access) EXPECT_EQ(line.find("guess"), std::string::npos) << line;
}

TEST(Auth, OverHttpsTheCookieIsHostPrefixedAndSecure) {
  HttpRequest request = Request("POST", "/signin");
  EXPECT_FALSE(ledger::http::ServedOverHttps(request));
  EXPECT_EQ(ledger::http::SessionCookieName(request), "ledger_session");
  for (const std::string proto : {"https", "HTTPS", " https , http"}) {
    request.forwarded_proto = proto;
    EXPECT_TRUE(ledger::http::ServedOverHttps(request)) << proto;
  }
  request.forwarded_proto = "http, https";
  EXPECT_FALSE(ledger::http::ServedOverHttps(request));
  EXPECT_EQ(AccessControl::SessionCookieHeader("v", true).substr(0, 33), "__Host-ledger_session=v; Path=/; ");
  EXPECT_NE(AccessControl::SessionCookieHeader("v", true).find("; Secure;"), std::string::npos);
  EXPECT_EQ(AccessControl::SessionCookieHeader("v", false).find("Secure"), std::string::npos);
  EXPECT_NE(AccessControl::ClearedCookieHeader(true).find("__Host-ledger_session=;"), std::string::npos);

  AccessControl access(*AuthFile::Parse(HashLine("boss", "admin", "token-boss")));
  std::optional<ledger::http::NewSession> session = access.SignIn("token-boss");
  ASSERT_TRUE(session);
  HttpRequest read = Request("GET", "/api/v1/incidents");
  read.forwarded_proto = "https";
  read.cookie = "ledger_session=" + session->cookie_value;
  EXPECT_FALSE(access.Check(read, RequiredAccess::Needs(Role::kViewer))) << "a plain name is not taken over HTTPS";
  read.cookie = "__Host-ledger_session=" + session->cookie_value;
  EXPECT_TRUE(access.Check(read, RequiredAccess::Needs(Role::kViewer)));
}

TEST(Auth, RecordsWhoSubmitted) {
  ledger::http::Principal principal{.name = "form-bot", .roles = 2};
  EXPECT_EQ(principal.RecordedActor("anonymous", "anonymous"), "form-bot");
  EXPECT_EQ(principal.RecordedActor("Maria", "anonymous"), "Maria (via form-bot)");
  EXPECT_EQ(principal.RecordedActor("form-bot", "anonymous"), "form-bot");
  ledger::http::Principal open{.roles = 15, .open_mode = true};
  EXPECT_EQ(open.RecordedActor("Maria", "anonymous"), "Maria");
}

TEST(AnswerCache, ServesOneSeqAndForgetsOnTheNext) {
  ledger::http::AnswerCache cache;
  EXPECT_EQ(cache.Find("a", 5), nullptr);
  cache.Store("a", 5, std::make_shared<const std::string>("five"));
  ASSERT_NE(cache.Find("a", 5), nullptr);
  EXPECT_EQ(*cache.Find("a", 5), "five");
  EXPECT_EQ(cache.Find("b", 5), nullptr);
  // A reader still on seq 5 after the cache moved to 6 neither reads nor stores.
  EXPECT_EQ(cache.Find("a", 6), nullptr);
  cache.Store("a", 5, std::make_shared<const std::string>("stale"));
  EXPECT_EQ(cache.Find("a", 6), nullptr);
  EXPECT_EQ(cache.Find("a", 5), nullptr);
  cache.Store("a", 6, std::make_shared<const std::string>("six"));
  EXPECT_EQ(*cache.Find("a", 6), "six");
  EXPECT_EQ(cache.hits(), 3u);
}

TEST(AnswerCache, StaysWithinItsEntryLimit) {
  ledger::http::AnswerCache cache;
  for (size_t i = 0; i < ledger::http::kAnswerCacheEntriesMax + 10; ++i) {
    cache.Store(std::to_string(i), 1, std::make_shared<const std::string>("x"));
  }
  EXPECT_EQ(cache.Find("0", 1), nullptr);  // the oldest went first
  EXPECT_NE(cache.Find(std::to_string(ledger::http::kAnswerCacheEntriesMax + 9), 1), nullptr);
}
