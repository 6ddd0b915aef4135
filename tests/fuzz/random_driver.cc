// Runs LLVMFuzzerTestOneInput without libFuzzer: seeded random inputs built
// from CSV-ish fragments (quotes, commas, line breaks, BOMs, invalid UTF-8,
// sheet times, action words), each also mutated byte by byte. Prints the
// seed; `csv_reader_fuzz --seed N` repeats a run.
//
//   csv_reader_fuzz [--iterations N] [--seed N] [FILE...]
// FILE arguments are run as they are (a crash input from libFuzzer, say).

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

namespace {

const std::vector<std::string> kFragments = {
    ",", "\"", "\"\"", "\r\n", "\n", "\r", "\xEF\xBB\xBF", "a", " ", "Timestamp", "Action", "Title",
    "Ticket Number", "Email Address", "Affected Systems", "Engineer Responsible", "Outage Start", "Create new incident",
    "close", "INC-1", "11/24/2025 8:40:00", "3/30/2025 2:30", "2025-11-24T08:40:00Z", "=HYPERLINK(\"x\")", "\xC3\x28",
    "\xFF", std::string(1, '\0'), "\t", "Mail, VPN", "major", "\xE2\x80\xA8", std::string(300, 'x')};

int RunOne(const std::string& input) {
  return LLVMFuzzerTestOneInput(reinterpret_cast<const uint8_t*>(input.data()), input.size());
}

}  // namespace

int main(int argc, char** argv) {
  uint64_t seed = std::random_device{}();
  long iterations = 20000;
  std::vector<std::string> files;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--seed") == 0 && i + 1 < argc) {
      seed = std::strtoull(argv[++i], nullptr, 10);
    } else if (std::strcmp(argv[i], "--iterations") == 0 && i + 1 < argc) {
      iterations = std::strtol(argv[++i], nullptr, 10);
    } else {
      files.push_back(argv[i]);
    }
  }
  if (!files.empty()) {
    for (const std::string& file : files) {
      std::ifstream in(file, std::ios::binary);
      std::ostringstream content;
      content << in.rdbuf();
      RunOne(content.str());
    }
    return 0;
  }
  std::printf("csv_reader_fuzz: seed %llu, %ld iterations (repeat with --seed %llu)\n",
              static_cast<unsigned long long>(seed), iterations, static_cast<unsigned long long>(seed));
  std::fflush(stdout);
  std::mt19937_64 random(seed);
  for (long n = 0; n < iterations; ++n) {
    std::string input;
    const size_t pieces = random() % 40;
    for (size_t i = 0; i < pieces; ++i) input += kFragments[random() % kFragments.size()];
    RunOne(input);
    for (int mutation = 0; mutation < 4 && !input.empty(); ++mutation) {
      input[random() % input.size()] = static_cast<char>(random() % 256);
      RunOne(input);
    }
  }
  std::printf("csv_reader_fuzz: ok\n");
  return 0;
}
