// pg_driver: PostgreSQL, driven through libpq, doing the work the service does.
//
//   pg_driver setup  --conninfo C
//       Creates the tables (events, incidents, periods) unless they exist.
//   pg_driver load   --conninfo C --dir D
//       Loads D/incidents.csv and D/periods.csv (written by `ledger_bench
//       export`) with COPY, builds the indexes (a GiST index on the outage
//       ranges for the overlap query), derives the catalog of systems (every
//       system a current incident names, as the service lists them), ANALYZEs,
//       and reports the tables' size on disk.
//   pg_driver insert --conninfo C --connections N --seconds S [--warmup W] --run-id R
//       N connections, each inserting one event row per transaction
//       (autocommit, synchronous_commit=on): the same JSON body the service's
//       clients post, into an events table with a unique submission_id.
//   pg_driver query  --conninfo C --connections N --seconds S [--warmup W] --windows FILE
//       N connections answering the dashboard's question for the windows in
//       FILE ("FROM TO" a line): incidents with an outage period overlapping
//       [from, to), newest ticket first, the first 100, as one JSON document.
//   pg_driver availability --conninfo C --connections N --seconds S [--warmup W]
//                          [--days D] [--timezone Z] [--out FILE]
//       The dashboard's 90-day availability (GET /api/v1/availability?days=D
//       &timezone=Z, default 90 and UTC) in one statement: the local days
//       from generate_series, the GiST-indexed periods that overlap each day
//       (open ones stop at now), per system and day the union of the periods
//       (range_agg: overlaps merged) and its length, every system of the
//       catalog every day, and the tickets named, as the same JSON document.
//       Each statement may take 30 s (statement_timeout). --out writes the
//       last answer to FILE (to check it against the service's).
//
// Prints one JSON line per measurement (bench_common.h).

#include <libpq-fe.h>

#include <atomic>
#include <cstdio>
#include <fstream>
#include <functional>
#include <map>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "bench/bench_common.h"

namespace ledger::bench {
namespace {

using Options = std::map<std::string, std::string>;

[[noreturn]] void Die(const std::string& message) {
  std::fprintf(stderr, "pg_driver: %s\n", message.c_str());
  std::exit(2);
}

std::string Need(const Options& options, const std::string& name) {
  const auto found = options.find(name);
  if (found == options.end()) Die("missing " + name);
  return found->second;
}

PGconn* Connect(const std::string& conninfo) {
  PGconn* connection = PQconnectdb(conninfo.c_str());
  if (PQstatus(connection) != CONNECTION_OK) Die(std::string("cannot connect: ") + PQerrorMessage(connection));
  return connection;
}

void Exec(PGconn* connection, const std::string& sql) {
  PGresult* result = PQexec(connection, sql.c_str());
  const ExecStatusType status = PQresultStatus(result);
  if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) {
    Die("`" + sql.substr(0, 80) + "` failed: " + PQresultErrorMessage(result));
  }
  PQclear(result);
}

std::string Scalar(PGconn* connection, const std::string& sql) {
  PGresult* result = PQexec(connection, sql.c_str());
  if (PQresultStatus(result) != PGRES_TUPLES_OK || PQntuples(result) != 1) {
    Die("`" + sql.substr(0, 80) + "` failed: " + PQresultErrorMessage(result));
  }
  std::string value = PQgetvalue(result, 0, 0);
  PQclear(result);
  return value;
}

void CopyFile(PGconn* connection, const std::string& table, const std::string& path) {
  PGresult* result = PQexec(connection, ("COPY " + table + " FROM STDIN WITH (FORMAT csv)").c_str());
  if (PQresultStatus(result) != PGRES_COPY_IN) Die("COPY " + table + ": " + PQresultErrorMessage(result));
  PQclear(result);
  std::ifstream file(path, std::ios::binary);
  if (!file) Die("cannot read " + path);
  std::vector<char> chunk(1 << 20);
  while (file) {
    file.read(chunk.data(), static_cast<std::streamsize>(chunk.size()));
    const std::streamsize got = file.gcount();
    if (got > 0 && PQputCopyData(connection, chunk.data(), static_cast<int>(got)) != 1) {
      Die("COPY " + table + ": " + PQerrorMessage(connection));
    }
  }
  if (PQputCopyEnd(connection, nullptr) != 1) Die("COPY " + table + ": " + PQerrorMessage(connection));
  result = PQgetResult(connection);
  if (PQresultStatus(result) != PGRES_COMMAND_OK) Die("COPY " + table + ": " + PQresultErrorMessage(result));
  PQclear(result);
  while ((result = PQgetResult(connection)) != nullptr) PQclear(result);
}

int Setup(const Options& options) {
  PGconn* connection = Connect(Need(options, "--conninfo"));
  Exec(connection, "CREATE SEQUENCE IF NOT EXISTS tickets");
  Exec(connection,
       "CREATE TABLE IF NOT EXISTS events (seq bigserial PRIMARY KEY, recorded_at timestamptz NOT NULL DEFAULT now(), "
       "submission_id text UNIQUE, actor text NOT NULL, ticket text NOT NULL DEFAULT 'INC-' || nextval('tickets'), "
       "type text NOT NULL, payload jsonb NOT NULL)");
  Exec(connection,
       "CREATE TABLE IF NOT EXISTS incidents (ticket_number bigint PRIMARY KEY, ticket text NOT NULL, "
       "status text NOT NULL, title text NOT NULL, description text NOT NULL, systems text[] NOT NULL, "
       "engineer text NOT NULL, severity text NOT NULL, link text NOT NULL, version int NOT NULL)");
  Exec(connection,
       "CREATE TABLE IF NOT EXISTS periods (ticket_number bigint NOT NULL REFERENCES incidents, during tstzrange NOT NULL)");
  PQfinish(connection);
  return 0;
}

int Load(const Options& options) {
  PGconn* connection = Connect(Need(options, "--conninfo"));
  const std::string dir = Need(options, "--dir");
  const Clock::time_point start = Clock::now();
  CopyFile(connection, "incidents", dir + "/incidents.csv");
  CopyFile(connection, "periods", dir + "/periods.csv");
  Exec(connection, "CREATE INDEX periods_during ON periods USING gist (during)");
  Exec(connection, "CREATE INDEX periods_ticket ON periods (ticket_number)");
  Exec(connection, "CREATE TABLE systems AS SELECT DISTINCT unnest(systems) AS system FROM incidents");
  Exec(connection, "ALTER TABLE systems ADD PRIMARY KEY (system)");
  Exec(connection, "ANALYZE");
  const double seconds = SecondsBetween(start, Clock::now());
  const std::string incidents = Scalar(connection, "SELECT count(*) FROM incidents");
  const std::string bytes = Scalar(connection,
                                   "SELECT pg_total_relation_size('incidents') + pg_total_relation_size('periods')");
  PrintResult("pg_load", "postgresql COPY + index",
              LoadResult{.operations = std::stoull(incidents), .errors = 0, .seconds = seconds, .latencies_seconds = {}},
              "\"incidents\":" + incidents + ",\"table_bytes\":" + bytes);
  PQfinish(connection);
  return 0;
}

// Runs one connection per thread; `prepare` sets up a connection, `run`
// does one operation (false: it failed).
LoadResult RunConnections(const Options& options, const std::function<void(PGconn*)>& prepare,
                          const std::function<bool(PGconn*, uint64_t)>& run) {
  const size_t connections = std::stoul(Need(options, "--connections"));
  const double seconds = std::stod(Need(options, "--seconds"));
  const double warmup = options.contains("--warmup") ? std::stod(options.at("--warmup")) : 0.5;
  std::vector<PGconn*> opened;
  for (size_t i = 0; i < connections; ++i) {
    opened.push_back(Connect(Need(options, "--conninfo")));
    prepare(opened.back());
  }
  const Clock::time_point start = Clock::now();
  const Clock::time_point counted_from =
      start + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(warmup));
  const Clock::time_point end =
      counted_from + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(seconds));
  std::atomic<uint64_t> counter{0};
  std::mutex merge_mutex;
  LoadResult total;
  total.seconds = seconds;
  std::vector<std::thread> threads;
  for (PGconn* connection : opened) {
    threads.emplace_back([&, connection] {
      LoadResult mine;
      for (;;) {
        const Clock::time_point before = Clock::now();
        if (before >= end) break;
        const bool ok = run(connection, counter.fetch_add(1));
        const Clock::time_point after = Clock::now();
        if (before < counted_from || after >= end) continue;
        if (ok) {
          mine.operations += 1;
          mine.latencies_seconds.push_back(SecondsBetween(before, after));
        } else {
          mine.errors += 1;
        }
      }
      std::lock_guard lock(merge_mutex);
      total.operations += mine.operations;
      total.errors += mine.errors;
      total.latencies_seconds.insert(total.latencies_seconds.end(), mine.latencies_seconds.begin(),
                                     mine.latencies_seconds.end());
    });
  }
  for (std::thread& thread : threads) thread.join();
  for (PGconn* connection : opened) PQfinish(connection);
  return total;
}

bool RunPrepared(PGconn* connection, const char* name, const std::vector<std::string>& parameters,
                 ExecStatusType expected) {
  std::vector<const char*> values;
  for (const std::string& parameter : parameters) values.push_back(parameter.c_str());
  PGresult* result = PQexecPrepared(connection, name, static_cast<int>(values.size()), values.data(), nullptr, nullptr, 0);
  const bool ok = PQresultStatus(result) == expected;
  static std::atomic<bool> reported{false};
  if (!ok && !reported.exchange(true)) std::fprintf(stderr, "pg_driver: %s", PQresultErrorMessage(result));
  PQclear(result);
  return ok;
}

void Prepare(PGconn* connection, const char* name, const std::string& sql, int parameters) {
  PGresult* result = PQprepare(connection, name, sql.c_str(), parameters, nullptr);
  if (PQresultStatus(result) != PGRES_COMMAND_OK) Die(std::string("prepare: ") + PQresultErrorMessage(result));
  PQclear(result);
}

int Insert(const Options& options) {
  const std::string run_id = Need(options, "--run-id");
  LoadResult result = RunConnections(
      options,
      [](PGconn* connection) {
        Exec(connection, "SET synchronous_commit = on");
        Prepare(connection, "insert",
                "INSERT INTO events (submission_id, actor, type, payload) "
                "VALUES ($1, 'bench', 'INCIDENT_OPENED', $2::jsonb) RETURNING seq, ticket",
                2);
      },
      [&run_id](PGconn* connection, uint64_t n) {
        const std::string unique = run_id + "-" + std::to_string(n);
        return RunPrepared(connection, "insert", {"bench-" + unique, CreateSubmissionJson(unique, n)}, PGRES_TUPLES_OK);
      });
  PrintResult("submit", "postgresql c=" + Need(options, "--connections"), std::move(result),
              "\"connections\":" + Need(options, "--connections"));
  return 0;
}

int Query(const Options& options) {
  std::vector<std::pair<std::string, std::string>> windows;
  std::ifstream file(Need(options, "--windows"));
  for (std::string from, to; file >> from >> to;) windows.emplace_back(from, to);
  if (windows.empty()) Die("no windows");
  std::atomic<uint64_t> bytes{0};
  LoadResult result = RunConnections(
      options,
      [](PGconn* connection) {
        // After five executions PostgreSQL may switch a prepared statement
        // to a generic plan, which for this query walks every incident
        // backwards by ticket number (~250 ms for an old window). Planning
        // each execution with its window keeps the GiST range scan (~5 ms).
        Exec(connection, "SET plan_cache_mode = force_custom_plan");
        Prepare(connection, "overlap",
                "SELECT json_build_object('count', count(*), 'incidents', "
                "coalesce(json_agg(row_to_json(t) ORDER BY t.ticket_number DESC), '[]'))::text FROM ("
                " SELECT i.*, (SELECT json_agg(json_build_object('start', lower(q.during), 'end', upper(q.during))"
                "   ORDER BY lower(q.during)) FROM periods q WHERE q.ticket_number = i.ticket_number) AS periods"
                " FROM incidents i WHERE i.ticket_number IN"
                "  (SELECT p.ticket_number FROM periods p WHERE p.during && tstzrange($1::timestamptz, $2::timestamptz, '[)'))"
                " ORDER BY i.ticket_number DESC LIMIT 100) t",
                2);
      },
      [&windows, &bytes](PGconn* connection, uint64_t n) {
        const auto& [from, to] = windows[n % windows.size()];
        const char* values[2] = {from.c_str(), to.c_str()};
        PGresult* answer = PQexecPrepared(connection, "overlap", 2, values, nullptr, nullptr, 0);
        const bool ok = PQresultStatus(answer) == PGRES_TUPLES_OK && PQntuples(answer) == 1;
        if (ok && n < 64) bytes.fetch_add(static_cast<uint64_t>(PQgetlength(answer, 0, 0)));
        PQclear(answer);
        return ok;
      });
  PrintResult("dashboard", "postgresql overlap query", std::move(result),
              "\"connections\":" + Need(options, "--connections") + ",\"bytes_first_64\":" + std::to_string(bytes.load()));
  return 0;
}

// One statement for GET /api/v1/availability (web.cc: Availability; the
// figures as projections/durations.h DailyAvailability defines them).
// $1: the zone, $2: the number of days, ending today in the zone.
constexpr const char* kAvailabilitySql = R"sql(
WITH days AS (
  SELECT d::date AS date, d AT TIME ZONE $1 AS day_start, (d + interval '1 day') AT TIME ZONE $1 AS day_end
  FROM generate_series(date_trunc('day', now() AT TIME ZONE $1) - ($2::int - 1) * interval '1 day',
                       date_trunc('day', now() AT TIME ZONE $1), interval '1 day') AS d),
hits AS MATERIALIZED (
  SELECT s.system, days.date, p.ticket_number,
         p.during * tstzrange(days.day_start, least(days.day_end, now()), '[)') AS clipped
  FROM days
  JOIN periods p ON p.during && tstzrange(days.day_start, least(days.day_end, now()), '[)')
  CROSS JOIN LATERAL unnest((SELECT i.systems FROM incidents i WHERE i.ticket_number = p.ticket_number)) AS s(system)),
per_day AS (
  SELECT system, date, range_agg(clipped) AS down,
         array_agg(DISTINCT ticket_number ORDER BY ticket_number) AS numbers
  FROM hits GROUP BY system, date),
grid AS MATERIALIZED (
  SELECT c.system, days.date, days.day_start, days.day_end,
         coalesce((SELECT extract(epoch FROM sum(upper(r) - lower(r))) FROM unnest(pd.down) AS r), 0) AS down,
         extract(epoch FROM days.day_end - days.day_start) AS length,
         pd.numbers
  FROM systems c CROSS JOIN days
  LEFT JOIN per_day pd ON pd.system = c.system AND pd.date = days.date)
SELECT json_build_object(
  'timezone', $1::text, 'days', $2::int, 'now', now(),
  'systems', (SELECT coalesce(json_agg(json_build_object('system', system, 'days', days) ORDER BY system), '[]')
              FROM (SELECT system, json_agg(json_build_object(
                      'date', date, 'start', day_start, 'end', day_end,
                      'downtime_seconds', floor(down)::bigint,
                      'availability', CASE WHEN length > 0 THEN 1 - down / length ELSE 1 END,
                      'tickets', CASE WHEN numbers IS NULL THEN '[]'::json ELSE
                                   (SELECT json_agg(i.ticket ORDER BY i.ticket_number)
                                    FROM incidents i WHERE i.ticket_number = ANY (numbers)) END) ORDER BY date) AS days
                    FROM grid GROUP BY system) AS per_system),
  'incidents', (SELECT coalesce(json_object_agg(i.ticket, json_build_object(
                  'title', i.title, 'severity', i.severity, 'status', i.status,
                  'periods', (SELECT json_agg(json_build_object('started_at', lower(q.during), 'ended_at', upper(q.during))
                                              ORDER BY lower(q.during))
                              FROM periods q WHERE q.ticket_number = i.ticket_number))), '{}')
                FROM incidents i WHERE i.ticket_number IN (SELECT ticket_number FROM hits)))::text
)sql";

int Availability(const Options& options) {
  const std::string days = options.contains("--days") ? options.at("--days") : "90";
  const std::string timezone = options.contains("--timezone") ? options.at("--timezone") : "UTC";
  std::mutex last_mutex;
  std::string last;
  LoadResult result = RunConnections(
      options,
      [](PGconn* connection) {
        Exec(connection, "SET statement_timeout = '30s'");
        // The JIT compiles this statement for ~0.8 s on every execution
        // (its estimated cost is over jit_above_cost) to save a few ms: off,
        // as anyone serving this query would set it.
        Exec(connection, "SET jit = off");
        Prepare(connection, "availability", kAvailabilitySql, 2);
      },
      [&](PGconn* connection, uint64_t) {
        const char* values[2] = {timezone.c_str(), days.c_str()};
        PGresult* answer = PQexecPrepared(connection, "availability", 2, values, nullptr, nullptr, 0);
        const bool ok = PQresultStatus(answer) == PGRES_TUPLES_OK && PQntuples(answer) == 1;
        static std::atomic<bool> reported{false};
        if (!ok && !reported.exchange(true)) std::fprintf(stderr, "pg_driver: %s", PQresultErrorMessage(answer));
        if (ok) {
          std::lock_guard lock(last_mutex);
          last.assign(PQgetvalue(answer, 0, 0), static_cast<size_t>(PQgetlength(answer, 0, 0)));
        }
        PQclear(answer);
        return ok;
      });
  if (options.contains("--out")) {
    std::ofstream out(options.at("--out"), std::ios::binary);
    out << last;
  }
  PrintResult("availability", "postgresql availability, range_agg", std::move(result),
              "\"connections\":" + Need(options, "--connections") + ",\"bytes\":" + std::to_string(last.size()));
  return 0;
}

}  // namespace
}  // namespace ledger::bench

int main(int argc, char** argv) {
  using namespace ledger::bench;
  if (argc < 2) Die("usage: pg_driver setup|load|insert|query|availability --conninfo C ...");
  const std::string command = argv[1];
  Options options;
  for (int i = 2; i + 1 < argc; i += 2) options[argv[i]] = argv[i + 1];
  if (command == "setup") return Setup(options);
  if (command == "load") return Load(options);
  if (command == "insert") return Insert(options);
  if (command == "query") return Query(options);
  if (command == "availability") return Availability(options);
  Die("unknown command " + command);
}
