#pragma once
// The command line of incident-ledger: which subcommands there are, the
// options each takes (name, value, default, description), and where their
// values come from. Boost.Program_options does the parsing; the values'
// rules (a port from 0 to 65535, a known time zone, ...) are checked where
// each value is used (app/main.cc, app/delivery_options.cc, ...), once.
//
// Sources, highest first (the first one that gives an option wins; a
// repeatable option such as --allowed-host is taken whole from that one):
//   1. the command line: `--name value` or `--name=value`
//   2. the environment: LEDGER_NAME (upper case, '-' as '_'), e.g.
//      LEDGER_LISTEN for --listen, LEDGER_SMTP_URL for --smtp-url
//   3. a config file, named by --config FILE or LEDGER_CONFIG (none is read
//      otherwise): `name = value` lines, the name without dashes, '#'
//      starts a comment, a repeatable option on several lines, a switch as
//      `read-only = true`
//   4. the default
// A config key or LEDGER_ variable that names an option of another
// subcommand is left to that subcommand (one file or environment may serve
// several); one that names no option of any is refused (the config file,
// naming file and line) or warned about (the environment), with the
// closest option's name.
//
// Failures: an unknown subcommand or option, an option without its value, a
// value given twice in one source, an unreadable or malformed config file
// are kInvalidArgument with a message naming the option (and suggesting the
// closest name), the variable, or the file and line. Reads the environment
// and the config file; writes help text to the FILE given and warnings to
// the log. Call from main's thread only (it reads `environ`).

#include <cstdio>
#include <map>
#include <string>
#include <vector>

#include "common/result.h"

namespace ledger::app {

// What one run asks for. `options` maps "--name" to its value, only for the
// options given by some source (not their defaults: the code that reads an
// option applies its own default, the one the help shows). A switch
// (--read-only) that is on holds "on"; a repeatable option (--allowed-host)
// holds its values joined with ',' (a host name has no comma).
struct Invocation {
  std::string command;
  std::map<std::string, std::string> options;
  std::vector<std::string> positional;  // FILE of import-csv, HEADER of check-head, ...
  std::string config_file;              // the config file read (--config, LEDGER_CONFIG); empty: none
  bool help_printed = false;            // --help, help or version: printed to `out`; exit 0
};

// Parses argv (argv[1] the subcommand) with the environment and the config
// file. `out` gets the help (`incident-ledger --help`, `help [COMMAND]`,
// `COMMAND --help`) and the version.
Result<Invocation> ParseInvocation(int argc, char** argv, std::FILE* out);

// The list of subcommands, one line each (the top-level help).
void PrintCommands(std::FILE* out);

}  // namespace ledger::app
