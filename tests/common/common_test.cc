#include <gtest/gtest.h>

#include <sys/stat.h>

#include <filesystem>
#include <optional>
#include <random>
#include <set>
#include <utility>

#include "common/encoding.h"
#include "common/file.h"
#include "common/json_writer.h"
#include "common/log.h"
#include "common/memory.h"
#include "common/number_set.h"
#include "common/signing.h"
#include "common/time.h"
#include "tests/test_util.h"

namespace ledger {
namespace {

TEST(Rfc3339, ParsesUtcAndOffsets) {
  Result<Instant> utc = ParseRfc3339("2026-11-24T09:30:00Z", "t");
  ASSERT_TRUE(utc);
  EXPECT_EQ(utc->unix_micros, 1795512600LL * 1'000'000);
  EXPECT_EQ(utc->offset_minutes, 0);

  Result<Instant> plus = ParseRfc3339("2026-11-24T10:30:00+01:00", "t");
  ASSERT_TRUE(plus);
  EXPECT_EQ(plus->unix_micros, utc->unix_micros);
  EXPECT_EQ(plus->offset_minutes, 60);

  Result<Instant> minus = ParseRfc3339("2026-11-24T04:00:00.25-05:30", "t");
  ASSERT_TRUE(minus);
  EXPECT_EQ(minus->unix_micros, utc->unix_micros + 250'000);
  EXPECT_EQ(minus->offset_minutes, -330);
}

TEST(Rfc3339, FormatsInTheWritersOffset) {
  EXPECT_EQ(FormatRfc3339(Instant{1795512600LL * 1'000'000, 60}), "2026-11-24T10:30:00+01:00");
  EXPECT_EQ(FormatRfc3339(Instant{1795512600LL * 1'000'000 + 250, 0}), "2026-11-24T09:30:00.000250Z");
  EXPECT_EQ(FormatRfc3339(Instant{0, -330}), "1969-12-31T18:30:00-05:30");
  EXPECT_EQ(FormatRfc3339(Instant{-1, 0}), "1969-12-31T23:59:59.999999Z");
}

TEST(Rfc3339, RoundTripsAcrossYears) {
  for (const char* text : {"2024-02-29T23:59:59Z", "2000-01-01T00:00:00+14:00", "1999-12-31T23:59:59.999999-12:00",
                           "2100-03-01T00:00:00Z", "0001-01-01T00:00:00Z", "9999-12-31T23:59:59Z"}) {
    Result<Instant> parsed = ParseRfc3339(text, "t");
    ASSERT_TRUE(parsed) << text << ": " << parsed.error().message;
    EXPECT_EQ(FormatRfc3339(*parsed), text);
  }
}

// What the ledger accepts back from disk (IsRepresentable) covers every
// time the parser can produce, and not much more.
TEST(Rfc3339, EveryParsedTimeIsRepresentable) {
  for (const char* text : {"0001-01-01T00:00:00+23:59", "0001-01-01T00:00:00-23:59", "9999-12-31T23:59:59.999999-23:59",
                           "9999-12-31T23:59:59.999999+23:59", "1970-01-01T00:00:00Z"}) {
    Result<Instant> parsed = ParseRfc3339(text, "t");
    ASSERT_TRUE(parsed) << text;
    EXPECT_TRUE(IsRepresentable(*parsed)) << text;
    EXPECT_EQ(FormatRfc3339(*parsed), text);
  }
  EXPECT_FALSE(IsRepresentable(Instant{INT64_MIN, 0}));
  EXPECT_FALSE(IsRepresentable(Instant{kInstantMicrosMax + 1, 0}));
  EXPECT_FALSE(IsRepresentable(Instant{0, 24 * 60}));
  EXPECT_FALSE(IsRepresentable(Instant{0, INT32_MIN}));
}

TEST(Rfc3339, RejectsWithTheFieldName) {
  for (const char* text : {"2026-11-24T09:30:00", "2026-11-24", "2026-13-01T00:00:00Z", "2026-02-29T00:00:00Z",
                           "2026-11-24T24:00:00Z", "2026-11-24T09:30:60Z", "2026-11-24T09:30:00.Z",
                           "2026-11-24T09:30:00.1234567Z", "2026-11-24T09:30:00+1:00", "2026-11-24T09:30:00+24:00",
                           "2026-11-24T09:30:00Zjunk", "", "yesterday", "2026-11-24T09:30:00+01:00:00"}) {
    Result<Instant> parsed = ParseRfc3339(text, "started_at");
    ASSERT_FALSE(parsed) << text;
    EXPECT_EQ(parsed.error().field, "started_at");
    EXPECT_EQ(parsed.error().code, ErrorCode::kInvalidArgument);
    EXPECT_NE(parsed.error().message.find("started_at"), std::string::npos);
  }
}

TEST(Encoding, HexBase64AndSha256) {
  EXPECT_EQ(HexEncode(std::string_view("\x00\xff\x10", 3)), "00ff10");
  EXPECT_EQ(Base64Encode("hello"), "aGVsbG8=");
  EXPECT_EQ(Base64Encode(""), "");
  // SHA-256("abc"), split across the two parts.
  EXPECT_EQ(HexEncode(Sha256("a", "bc")), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  std::string big_endian;
  AppendBigEndian64(&big_endian, 0x0102030405060708ULL);
  EXPECT_EQ(HexEncode(big_endian), "0102030405060708");
  EXPECT_EQ(ReadBigEndian64(big_endian), 0x0102030405060708ULL);
}

TEST(Encoding, Utf8Validation) {
  EXPECT_TRUE(IsValidUtf8("plain ascii"));
  EXPECT_TRUE(IsValidUtf8("Zürich – 東京 🚀"));
  EXPECT_FALSE(IsValidUtf8("\xff"));
  EXPECT_FALSE(IsValidUtf8("\xc3"));              // truncated
  EXPECT_FALSE(IsValidUtf8("\xc0\xaf"));          // overlong '/'
  EXPECT_FALSE(IsValidUtf8("\xed\xa0\x80"));      // surrogate
  EXPECT_FALSE(IsValidUtf8("\xf4\x90\x80\x80"));  // beyond U+10FFFF
  EXPECT_FALSE(IsValidUtf8("ok\xe2\x82"));        // truncated at the end
}

// Found by submission_form_fuzz: a form field name of invalid UTF-8 was
// echoed as it was into the error message (and from there into pages).
TEST(Encoding, QuotableTextIsValidUtf8AndCutAtCharacters) {
  EXPECT_EQ(QuotableText("plain", 64), "plain");
  EXPECT_EQ(QuotableText("a\x07" "b\x7f", 64), "a?b?");
  EXPECT_EQ(QuotableText("sy\xd2stems\xff\xc0\xaf", 64), "sy?stems???");
  EXPECT_EQ(QuotableText("\xed\xa0\x80", 64), "???");          // a surrogate is not a character
  EXPECT_EQ(QuotableText("Z\xc3\xbcrich \xe6\x9d\xb1", 64), "Z\xc3\xbcrich \xe6\x9d\xb1");
  EXPECT_EQ(QuotableText("ab\xe6\x9d\xb1", 4), "ab");              // never half a character
  EXPECT_EQ(QuotableText("ok\xe2\x82", 64), "ok??");              // truncated at the end
  EXPECT_TRUE(IsValidUtf8(QuotableText(std::string(63, 'x') + "\xc3\xbc", 64)));
}

TEST(Encoding, RefusedCodePointsByTextShape) {
  EXPECT_EQ(FirstRefusedCodePoint("Mail delayed – Zürich 東京 🚀", TextShape::kOneLine), std::nullopt);
  EXPECT_EQ(FirstRefusedCodePoint("", TextShape::kOneLine), std::nullopt);
  // One line: C0, DEL, C1 (NEL), line and paragraph separators, direction marks,
  // embeddings, overrides and isolates.
  const std::pair<const char*, char32_t> kOneLine[] = {
      {"a\tb", 0x09},         {"a\nb", 0x0a},         {"a\x7f", 0x7f},        {"a\xc2\x85z", 0x85},
      {"a\xc2\x9f", 0x9f},    {"a\xe2\x80\xa8z", 0x2028}, {"a\xe2\x80\xa9", 0x2029}, {"a\xe2\x80\x8e", 0x200e},
      {"a\xe2\x80\x8f", 0x200f}, {"a\xd8\x9c", 0x061c}, {"a\xe2\x80\xaa", 0x202a}, {"x\xe2\x80\xaeTXT.exe", 0x202e},
      {"a\xe2\x81\xa6", 0x2066}, {"a\xe2\x81\xa9", 0x2069},
  };
  for (const auto& [text, code_point] : kOneLine) {
    SCOPED_TRACE(text);
    EXPECT_EQ(FirstRefusedCodePoint(text, TextShape::kOneLine), code_point);
  }
  // Multi-line text keeps line breaks, tabs, U+2028/U+2029 and the marks, but
  // not C1 controls or overrides.
  EXPECT_EQ(FirstRefusedCodePoint("a\r\n\tb\xe2\x80\xa8 \xe2\x80\x8f \xd8\x9c", TextShape::kMultiLine), std::nullopt);
  EXPECT_EQ(FirstRefusedCodePoint("a\xc2\x85", TextShape::kMultiLine), 0x85);
  EXPECT_EQ(FirstRefusedCodePoint("a\xe2\x80\xae", TextShape::kMultiLine), 0x202e);
  EXPECT_EQ(FirstRefusedCodePoint("a\xe2\x81\xa7", TextShape::kMultiLine), 0x2067);
  EXPECT_EQ(FirstRefusedCodePoint("a\x01", TextShape::kMultiLine), 0x01);
  // Neighbours that are fine: zero-width joiner (emoji), U+2030, U+2065.
  EXPECT_EQ(FirstRefusedCodePoint("\xe2\x80\x8d\xe2\x80\xb0\xe2\x81\xa5\xc2\xa0", TextShape::kOneLine), std::nullopt);
  // One line refuses what shows nothing at all: "ma" U+200B "il" is not "mail".
  const std::pair<const char*, char32_t> kInvisible[] = {
      {"ma\xe2\x80\x8bil", 0x200b},      {"\xef\xbb\xbfmail", 0xfeff},        {"mail\xc2\xad", 0x00ad},
      {"a\xcd\x8f", 0x034f},             {"a\xe1\xa0\x8e", 0x180e},           {"a\xe2\x81\xa0", 0x2060},
      {"a\xe2\x81\xa4", 0x2064},         {"a\xe2\x81\xaa", 0x206a},           {"a\xe2\x81\xaf", 0x206f},
      {"a\xe3\x85\xa4", 0x3164},         {"a\xef\xbe\xa0", 0xffa0},           {"a\xef\xbf\xb9", 0xfff9},
      {"a\xef\xbf\xbb", 0xfffb},         {"a\xf0\x9d\x85\xb3", 0x1d173},      {"Ana\xf3\xa0\x81\x81", 0xe0041},
      {"a\xf3\xa0\x80\x80", 0xe0000},    {"a\xf3\xa0\x81\xbf", 0xe007f},      {"a\xe1\x85\x9f", 0x115f},
  };
  for (const auto& [text, code_point] : kInvisible) {
    SCOPED_TRACE(text);
    EXPECT_EQ(FirstRefusedCodePoint(text, TextShape::kOneLine), code_point);
    EXPECT_EQ(FirstRefusedCodePoint(text, TextShape::kMultiLine), std::nullopt);
    EXPECT_EQ(RefusedCodePointKind(code_point), "an invisible character");
  }
  // Their neighbours stay: the joiners (emoji, Persian, Indic scripts), a
  // variation selector, U+2065 (unassigned), U+FFFC, U+E0080 and U+E0100 (a
  // variation selector), and the emoji sequence "woman technologist".
  EXPECT_EQ(FirstRefusedCodePoint("\xe2\x80\x8c\xe2\x80\x8d\xef\xb8\x8f\xe2\x81\xa5\xef\xbf\xbc\xf3\xa0\x82\x80"
                                  "\xf3\xa0\x84\x80\xf0\x9f\x91\xa9\xe2\x80\x8d\xf0\x9f\x92\xbb",
                                  TextShape::kOneLine),
            std::nullopt);
  EXPECT_EQ(QuotableText("ma\xe2\x80\x8bil", 100), "ma?il");

  EXPECT_EQ(CodePointName(0x85), "U+0085");
  EXPECT_EQ(CodePointName(0x202e), "U+202E");
  EXPECT_EQ(CodePointName(0x1f680), "U+1F680");
  EXPECT_EQ(RefusedCodePointKind(0x202e), "a text-direction control");
  EXPECT_EQ(RefusedCodePointKind(0x2028), "a line separator");
  EXPECT_EQ(RefusedCodePointKind(0x85), "a control character");
  EXPECT_EQ(QuotableText("a\xe2\x80\xaez\xc2\x85", 100), "a?z?");
}

TEST(JsonWriter, EscapesEverythingHostile) {
  JsonWriter json;
  json.BeginObject().Key("k\"").String("<script>&\n\x01\xe2\x80\xa8").Key("n").Int(-3).Key("a").BeginArray().Bool(true).Null().EndArray().EndObject();
  EXPECT_EQ(json.text(), R"({"k\"":"\u003cscript\u003e\u0026\n\u0001\u2028","n":-3,"a":[true,null]})");
}

TEST(BackupDestination, RefusesTheDataFolderExistingPathsAndEscapes) {
  namespace fs = std::filesystem;
  testing::TempDir dir;
  const std::string root = fs::canonical(dir.path()).string();
  fs::create_directories(root + "/data/sub");
  fs::create_directories(root + "/backups/nested");
  fs::create_directories(root + "/elsewhere");
  fs::create_directories(root + "/backupsX");
  fs::create_directory_symlink(root + "/elsewhere", root + "/backups/out");
  fs::create_directory_symlink(root + "/data", root + "/backups/into-data");
  fs::create_symlink(root + "/missing-target", root + "/backups/dangling");
  const BackupDestinationRules open{.field = "to", .data_folder = root + "/data"};
  const BackupDestinationRules confined{.field = "to", .data_folder = root + "/data", .allowed_parent = root + "/backups"};

  const auto refusal = [](const Result<std::string>& result) {
    return result ? std::string("(accepted: ") + *result + ")" : result.error().message;
  };
  Result<std::string> fine = CheckBackupDestination(root + "/backups/b1", confined);
  ASSERT_TRUE(fine) << fine.error().message;
  EXPECT_EQ(*fine, root + "/backups/b1");
  EXPECT_EQ(CheckBackupDestination(root + "/backups/nested/b2/", confined).value_or(""), root + "/backups/nested/b2");
  EXPECT_EQ(CheckBackupDestination(root + "/elsewhere/b", open).value_or(""), root + "/elsewhere/b");

  EXPECT_NE(refusal(CheckBackupDestination(root + "/data/b", open)).find("inside the data folder"), std::string::npos);
  EXPECT_NE(refusal(CheckBackupDestination(root + "/data/sub/b", open)).find("inside the data folder"), std::string::npos);
  EXPECT_NE(refusal(CheckBackupDestination(root + "/backups/into-data/b", confined)).find("inside the data folder"),
            std::string::npos);
  EXPECT_NE(refusal(CheckBackupDestination(root + "/data", open)).find("does not exist yet"), std::string::npos);
  EXPECT_NE(refusal(CheckBackupDestination(root + "/backups/nested", confined)).find("does not exist yet"),
            std::string::npos);
  EXPECT_NE(refusal(CheckBackupDestination(root + "/backups/dangling", confined)).find("does not exist yet"),
            std::string::npos);
  fs::create_directory(root + "/backups/staged.tmp");
  EXPECT_NE(refusal(CheckBackupDestination(root + "/backups/staged", confined)).find("staged.tmp exists"),
            std::string::npos);
  EXPECT_NE(refusal(CheckBackupDestination(root + "/backups/../elsewhere/b", confined)).find("'..'"), std::string::npos);
  EXPECT_NE(refusal(CheckBackupDestination(root + "/backups/./b", confined)).find("'..'"), std::string::npos);
  EXPECT_NE(refusal(CheckBackupDestination(root + "/backups/out/b", confined)).find("must be inside the backup folder"),
            std::string::npos);
  EXPECT_NE(refusal(CheckBackupDestination(root + "/elsewhere/b", confined)).find("must be inside the backup folder"),
            std::string::npos);
  EXPECT_NE(refusal(CheckBackupDestination(root + "/backupsX/b", confined)).find("must be inside the backup folder"),
            std::string::npos);
  EXPECT_NE(refusal(CheckBackupDestination("relative/b", open)).find("absolute"), std::string::npos);
  EXPECT_NE(refusal(CheckBackupDestination("", open)).find("required"), std::string::npos);
  EXPECT_NE(refusal(CheckBackupDestination(std::string("/tmp/a\0b", 8), open)).find("absolute"), std::string::npos);
  EXPECT_NE(refusal(CheckBackupDestination(root + "/no/such/b", open)).find("must exist"), std::string::npos);
  EXPECT_NE(refusal(CheckBackupDestination("/", open)).find("not the root"), std::string::npos);
  EXPECT_EQ(CheckBackupDestination(root + "/data/b", open).error().field, "to");

  EXPECT_TRUE(IsSameOrBelow("/a/b/c", "/a/b"));
  EXPECT_TRUE(IsSameOrBelow("/a/b", "/a/b"));
  EXPECT_TRUE(IsSameOrBelow("/a/b/c", "/a/b/"));
  EXPECT_FALSE(IsSameOrBelow("/a/bc", "/a/b"));
  EXPECT_FALSE(IsSameOrBelow("/a", "/a/b"));
}

TEST(BackupDestination, FolderAccessBeyondOwner) {
  testing::TempDir dir;
  ASSERT_EQ(::chmod(dir.path().c_str(), 0700), 0);
  EXPECT_EQ(FolderAccessBeyondOwner(dir.path()), 0u);
  ASSERT_EQ(::chmod(dir.path().c_str(), 0755), 0);
  EXPECT_EQ(FolderAccessBeyondOwner(dir.path()), 0055u);
  EXPECT_EQ(FolderAccessBeyondOwner(dir.Sub("missing")), 0u);
}

TEST(Log, TextLinesKeepUserTextOnOneLineAndQuoteValuesThatNeedIt) {
  SetLogFormat(LogFormat::kText);
  EXPECT_EQ(FormatLogLine("access", "GET /", {{"status", "200"}, {"principal", "-"}}),
            "access: GET / status=200 principal=-");
  EXPECT_EQ(FormatLogLine("auth", "refused\nforged line", {{"name", "a b"}, {"q", "say \"hi\"=\\"}}),
            "auth: refused\\x0aforged line name=\"a b\" q=\"say \\\"hi\\\"=\\\\\"");
  EXPECT_EQ(FormatLogLine("x", "m", {{"empty", ""}}), "x: m empty=\"\"");
}

TEST(Log, JsonLinesAreOneObjectWithTimeComponentMessageAndFields) {
  SetLogFormat(LogFormat::kJson);
  const std::string line = FormatLogLine("access", "GET /\n<x>", {{"status", "200"}});
  SetLogFormat(LogFormat::kText);
  EXPECT_EQ(line.find('\n'), std::string::npos);
  EXPECT_EQ(line.rfind("{\"time\":\"", 0), 0u) << line;
  EXPECT_NE(line.find("\"component\":\"access\",\"message\":\"GET /\\n\\u003cx\\u003e\",\"status\":\"200\"}"),
            std::string::npos)
      << line;
  EXPECT_EQ(ParseLogFormat("json"), LogFormat::kJson);
  EXPECT_EQ(ParseLogFormat("text"), LogFormat::kText);
  EXPECT_EQ(ParseLogFormat("JSON"), std::nullopt);
}

TEST(Signing, MakesAPrivateKeyOnceAndSignsWithIt) {
  testing::TempDir dir;
  const std::string path = dir.Sub("key.pem");
  Result<SigningKey> made = SigningKey::LoadOrCreate(path);
  ASSERT_TRUE(made) << made.error().message;
  struct stat status {};
  ASSERT_EQ(::stat(path.c_str(), &status), 0);
  EXPECT_EQ(status.st_mode & 0777, 0600u);
  Result<SigningKey> again = SigningKey::LoadOrCreate(path);
  ASSERT_TRUE(again);
  EXPECT_EQ(again->public_key().Pem(), made->public_key().Pem());
  EXPECT_EQ(made->public_key().KeyId(), HexEncode(Sha256(made->public_key().Der())));

  const std::string signature = made->Sign("a message");
  EXPECT_EQ(signature.size(), kEd25519SignatureBytes);
  EXPECT_EQ(again->Sign("a message"), signature);  // Ed25519 is deterministic
  EXPECT_TRUE(made->public_key().Verify("a message", signature));
  EXPECT_FALSE(made->public_key().Verify("a message.", signature));
  std::string bent = signature;
  bent[10] ^= 0x01;
  EXPECT_FALSE(made->public_key().Verify("a message", bent));
  EXPECT_FALSE(made->public_key().Verify("a message", signature.substr(1)));

  // The PEM the service hands out reads back as the same key.
  Result<PublicKey> read = PublicKey::FromPem(made->public_key().Pem());
  ASSERT_TRUE(read) << read.error().message;
  EXPECT_TRUE(read->Verify("a message", signature));
  EXPECT_EQ(read->KeyId(), made->public_key().KeyId());

  // A second key is another key.
  Result<SigningKey> other = SigningKey::LoadOrCreate(dir.Sub("other.pem"));
  ASSERT_TRUE(other);
  EXPECT_NE(other->public_key().KeyId(), made->public_key().KeyId());
  EXPECT_FALSE(other->public_key().Verify("a message", signature));
}

TEST(Signing, RefusesAKeyOthersMayReadAndTextThatIsNoKey) {
  testing::TempDir dir;
  const std::string path = dir.Sub("key.pem");
  ASSERT_TRUE(SigningKey::LoadOrCreate(path));
  ASSERT_EQ(::chmod(path.c_str(), 0640), 0);
  Result<SigningKey> refused = SigningKey::Load(path);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, ErrorCode::kPermissionDenied);
  EXPECT_NE(refused.error().message.find("chmod 600"), std::string::npos) << refused.error().message;
  EXPECT_FALSE(SigningKey::LoadOrCreate(path)) << "an unsafe key is never replaced by a new one";

  ASSERT_TRUE(WriteFileAtomically(dir.Sub("junk.pem"), "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"));
  Result<SigningKey> junk = SigningKey::Load(dir.Sub("junk.pem"));
  ASSERT_FALSE(junk);
  EXPECT_EQ(junk.error().code, ErrorCode::kCorruption);
  EXPECT_EQ(SigningKey::Load(dir.Sub("none.pem")).error().code, ErrorCode::kNotFound);
  EXPECT_FALSE(PublicKey::FromPem("not a key"));
  EXPECT_FALSE(PublicKey::FromPem(""));
}

TEST(NumberSet, KeepsRunsAndAnswersLikeASet) {
  NumberSet runs;
  EXPECT_TRUE(runs.empty());
  for (uint32_t n = 1; n <= 2000; ++n) EXPECT_TRUE(runs.Insert(n));
  EXPECT_EQ(runs.runs().size(), 1u);  // everyone told: one run
  EXPECT_EQ(runs.size(), 2000u);
  EXPECT_FALSE(runs.Insert(7));
  EXPECT_TRUE(runs.Contains(1));
  EXPECT_TRUE(runs.Contains(2000));
  EXPECT_FALSE(runs.Contains(0));
  EXPECT_FALSE(runs.Contains(2001));
  // The ends of the range of numbers.
  NumberSet ends;
  EXPECT_TRUE(ends.Insert(UINT32_MAX));
  EXPECT_TRUE(ends.Insert(0));
  EXPECT_TRUE(ends.Insert(UINT32_MAX - 1));
  EXPECT_TRUE(ends.Insert(1));
  EXPECT_EQ(ends.runs(), (std::vector<NumberSet::Run>{{0, 1}, {UINT32_MAX - 1, UINT32_MAX}}));
  EXPECT_FALSE(ends.Contains(2));

  const uint64_t seed = std::random_device{}();
  SCOPED_TRACE("seed " + std::to_string(seed));
  std::mt19937_64 random(seed);
  for (const uint32_t span : {8u, 300u, 100000u}) {
    NumberSet set;
    std::set<uint32_t> expected;
    for (int i = 0; i < 5000; ++i) {
      const uint32_t number = static_cast<uint32_t>(random() % span);
      ASSERT_EQ(set.Insert(number), expected.insert(number).second) << number;
      const uint32_t probe = static_cast<uint32_t>(random() % (span + 2));
      ASSERT_EQ(set.Contains(probe), expected.contains(probe)) << probe;
    }
    ASSERT_EQ(set.size(), expected.size());
    // Runs are sorted, disjoint and never adjacent, and hold exactly the set.
    std::vector<uint32_t> listed;
    for (size_t i = 0; i < set.runs().size(); ++i) {
      const NumberSet::Run& run = set.runs()[i];
      ASSERT_LE(run.first, run.last);
      if (i > 0) {
        ASSERT_GT(run.first, set.runs()[i - 1].last + 1);
      }
      for (uint64_t n = run.first; n <= run.last; ++n) listed.push_back(static_cast<uint32_t>(n));
    }
    ASSERT_EQ(listed, std::vector<uint32_t>(expected.begin(), expected.end()));
    std::vector<uint32_t> visited;
    set.ForEach([&](uint32_t number) { visited.push_back(number); });
    ASSERT_EQ(visited, listed);
  }
}

// Large buffers are mapped on their own, aligned for huge pages, and keep
// their contents as a vector grows across the threshold in both directions.
TEST(LargeBuffer, VectorsKeepTheirContentsAcrossTheThreshold) {
  std::vector<uint64_t, LargeBufferAllocator<uint64_t>> numbers;
  const size_t count = 3 * kLargeBufferBytes / sizeof(uint64_t);
  for (uint64_t i = 0; i < count; ++i) numbers.push_back(i * 7);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(numbers.data()) % kLargeBufferBytes, 0u);
  for (uint64_t i = 0; i < count; i += 4099) ASSERT_EQ(numbers[i], i * 7);
  numbers.resize(10);
  numbers.shrink_to_fit();  // back below the threshold: from operator new
  EXPECT_EQ(numbers.back(), 63u);

  using Block = std::basic_string<char, std::char_traits<char>, LargeBufferAllocator<char>>;
  Block block;
  block.reserve(kLargeBufferBytes + 1);
  block.append(std::string(kLargeBufferBytes + 1, 'x'));
  EXPECT_EQ(std::string_view(block).substr(kLargeBufferBytes - 1), "xx");
  Block().swap(block);
  EXPECT_TRUE(block.empty());
}

}  // namespace
}  // namespace ledger
