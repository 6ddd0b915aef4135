// Runs a fuzz target's LLVMFuzzerTestOneInput without libFuzzer, so that
// the gcc ASan+UBSan test build runs every target as a ctest (with clang and
// -DLEDGER_LIBFUZZER=ON the targets link libFuzzer instead; see
// tests/fuzz/README.md).
//
//   TARGET [--iterations N] [--seed N] [--seconds S] [--dict FILE] [--max-len BYTES] [FILE|DIR]...
//
// First every FILE, and every file of every DIR (a corpus folder), is run as
// it is. Then come N seeded random inputs: a corpus file or a string of
// dictionary tokens, changed by a few random mutations (bytes flipped,
// inserted or erased, tokens inserted, ranges repeated, pieces of other
// corpus files spliced in). The seed is printed; `--seed S` with the same
// corpus and dictionary repeats the run. Without FILE or DIR arguments the
// default is 20000 inputs; with them, 0 unless --iterations says otherwise.
// --seconds caps the random part (the count reached is printed, so that
// --iterations can repeat it).
//
// The dictionary is libFuzzer's format (one "token" per line, \\ \" \xNN
// escapes, # comments), so one file serves both drivers.
//
// When an input fails (an abort, a sanitizer report), it is written to
// TARGET-crash-input in the current folder: run it again with
// `TARGET TARGET-crash-input`, and commit it to the corpus once fixed.

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <optional>
#include <random>
#include <sstream>
#include <string>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);
// Present when linked with a sanitizer runtime: called before it exits.
extern "C" __attribute__((weak)) void __sanitizer_set_death_callback(void (*callback)(void));

namespace {

constexpr long kDefaultIterations = 20000;
constexpr size_t kDefaultMaxLen = 4096;
constexpr size_t kMutationsMax = 8;
constexpr size_t kFragmentsMax = 40;
constexpr size_t kRangeBytesMax = 64;

// What the crash handler writes: the input being run. Set before each run.
const std::string* current_input = nullptr;
char crash_path[4096] = "";

void WriteCrashInput() {
  if (current_input == nullptr || crash_path[0] == '\0') return;
  const int fd = ::open(crash_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (fd < 0) return;
  size_t written = 0;
  while (written < current_input->size()) {
    const ssize_t n = ::write(fd, current_input->data() + written, current_input->size() - written);
    if (n <= 0) break;
    written += static_cast<size_t>(n);
  }
  ::close(fd);
  constexpr char kNote[] = "random_driver: the failing input is in ";
  (void)!::write(STDERR_FILENO, kNote, sizeof kNote - 1);
  (void)!::write(STDERR_FILENO, crash_path, std::strlen(crash_path));
  (void)!::write(STDERR_FILENO, "\n", 1);
  current_input = nullptr;  // once
}

void OnFatalSignal(int signal_number) {
  WriteCrashInput();
  ::signal(signal_number, SIG_DFL);
  ::raise(signal_number);
}

void InstallCrashHandlers(const std::string& program) {
  const std::string name = std::filesystem::path(program).filename().string() + "-crash-input";
  std::error_code error;
  const std::string path = (std::filesystem::current_path(error) / name).string();
  std::snprintf(crash_path, sizeof crash_path, "%s", path.c_str());
  if (__sanitizer_set_death_callback != nullptr) __sanitizer_set_death_callback(WriteCrashInput);
  for (const int signal_number : {SIGABRT, SIGSEGV, SIGBUS, SIGFPE, SIGILL}) ::signal(signal_number, OnFatalSignal);
}

int RunOne(const std::string& input) {
  current_input = &input;
  const int result = LLVMFuzzerTestOneInput(reinterpret_cast<const uint8_t*>(input.data()), input.size());
  current_input = nullptr;
  return result;
}

std::optional<std::string> ReadFile(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  std::ostringstream content;
  content << in.rdbuf();
  return content.str();
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// One dictionary line: [name=]"token"; nullopt for comments and blank lines.
std::optional<std::string> ParseDictionaryLine(const std::string& line) {
  const size_t first = line.find_first_not_of(" \t\r");
  if (first == std::string::npos || line[first] == '#') return std::nullopt;
  const size_t open = line.find('"');
  const size_t close = line.rfind('"');
  if (open == std::string::npos || close <= open) return std::nullopt;
  std::string token;
  for (size_t i = open + 1; i < close; ++i) {
    if (line[i] != '\\' || i + 1 >= close) {
      token += line[i];
      continue;
    }
    const char escaped = line[++i];
    if (escaped == 'x' && i + 2 < close && HexValue(line[i + 1]) >= 0 && HexValue(line[i + 2]) >= 0) {
      token += static_cast<char>(HexValue(line[i + 1]) * 16 + HexValue(line[i + 2]));
      i += 2;
    } else {
      token += escaped;
    }
  }
  return token;
}

std::vector<std::string> ReadDictionary(const std::string& path) {
  std::vector<std::string> tokens;
  std::ifstream in(path);
  if (!in) {
    std::fprintf(stderr, "random_driver: cannot read dictionary %s\n", path.c_str());
    std::exit(2);
  }
  std::string line;
  while (std::getline(in, line)) {
    if (std::optional<std::string> token = ParseDictionaryLine(line)) tokens.push_back(std::move(*token));
  }
  return tokens;
}

class Mutator {
 public:
  Mutator(uint64_t seed, const std::vector<std::string>& corpus, const std::vector<std::string>& dictionary,
          size_t max_len)
      : random_(seed), corpus_(corpus), dictionary_(dictionary), max_len_(max_len) {}

  std::string Next() {
    std::string input;
    if (corpus_.empty() || Below(4) == 0) {
      const size_t pieces = Below(kFragmentsMax);
      for (size_t i = 0; i < pieces; ++i) input += Token();
    } else {
      input = corpus_[Below(corpus_.size())];
    }
    // Half the inputs get one mutation: structured formats (HTTP framing, a
    // Content-Length) survive one change far more often than several.
    const size_t mutations = Below(2) == 0 ? 1 : 1 + Below(kMutationsMax);
    for (size_t i = 0; i < mutations; ++i) Mutate(&input);
    if (input.size() > max_len_) input.resize(max_len_);
    return input;
  }

 private:
  size_t Below(size_t bound) { return bound == 0 ? 0 : static_cast<size_t>(random_() % bound); }
  char Byte() { return static_cast<char>(random_() % 256); }

  std::string Token() {
    if (dictionary_.empty()) return std::string(1, Byte());
    return dictionary_[Below(dictionary_.size())];
  }

  void Mutate(std::string* input) {
    const size_t position = Below(input->size() + 1);
    const size_t length = 1 + Below(kRangeBytesMax);
    switch (Below(8)) {
      case 0:
        if (!input->empty()) (*input)[Below(input->size())] = Byte();
        break;
      case 1: input->insert(position, 1, Byte()); break;
      case 2: input->insert(position, Token()); break;
      case 3: input->erase(position, length); break;
      case 4: input->replace(position, std::min(length, input->size() - position), Token()); break;
      case 5: {  // a range repeated somewhere else
        const std::string range = input->substr(Below(input->size() + 1), length);
        input->insert(Below(input->size() + 1), range);
        break;
      }
      case 6: {  // a piece of another corpus file
        if (corpus_.empty()) break;
        const std::string& other = corpus_[Below(corpus_.size())];
        input->insert(position, other.substr(Below(other.size() + 1), length * 4));
        break;
      }
      case 7: input->resize(position); break;
    }
  }

  std::mt19937_64 random_;
  const std::vector<std::string>& corpus_;
  const std::vector<std::string>& dictionary_;
  size_t max_len_;
};

}  // namespace

int main(int argc, char** argv) {
  uint64_t seed = std::random_device{}();
  std::optional<long> iterations;
  std::optional<double> seconds;
  size_t max_len = kDefaultMaxLen;
  std::string dictionary_path;
  std::vector<std::string> paths;
  for (int i = 1; i < argc; ++i) {
    const std::string argument = argv[i];
    const bool has_value = i + 1 < argc;
    if (argument == "--seed" && has_value) {
      seed = std::strtoull(argv[++i], nullptr, 10);
    } else if (argument == "--iterations" && has_value) {
      iterations = std::strtol(argv[++i], nullptr, 10);
    } else if (argument == "--seconds" && has_value) {
      seconds = std::strtod(argv[++i], nullptr);
    } else if (argument == "--dict" && has_value) {
      dictionary_path = argv[++i];
    } else if (argument == "--max-len" && has_value) {
      max_len = std::strtoul(argv[++i], nullptr, 10);
    } else if (argument.starts_with("--")) {
      std::fprintf(stderr, "random_driver: unknown option %s\n", argument.c_str());
      return 2;
    } else {
      paths.push_back(argument);
    }
  }
  InstallCrashHandlers(argv[0]);
  const std::string name = std::filesystem::path(argv[0]).filename().string();

  // The given files, and every file of the given folders, in name order.
  std::vector<std::filesystem::path> files;
  for (const std::string& path : paths) {
    std::error_code error;
    if (std::filesystem::is_directory(path, error)) {
      std::vector<std::filesystem::path> listed;
      for (const auto& entry : std::filesystem::directory_iterator(path)) {
        if (entry.is_regular_file()) listed.push_back(entry.path());
      }
      std::sort(listed.begin(), listed.end());
      files.insert(files.end(), listed.begin(), listed.end());
    } else {
      files.emplace_back(path);
    }
  }
  std::vector<std::string> corpus;
  for (const std::filesystem::path& file : files) {
    std::optional<std::string> content = ReadFile(file);
    if (!content) {
      std::fprintf(stderr, "%s: cannot read %s\n", name.c_str(), file.c_str());
      return 2;
    }
    RunOne(*content);
    corpus.push_back(std::move(*content));
  }
  if (!files.empty()) std::printf("%s: ran %zu corpus files\n", name.c_str(), files.size());

  const long count = iterations.value_or(paths.empty() ? kDefaultIterations : 0);
  if (count > 0) {
    const std::vector<std::string> dictionary =
        dictionary_path.empty() ? std::vector<std::string>() : ReadDictionary(dictionary_path);
    std::printf("%s: seed %llu, %ld random inputs (repeat with --seed %llu)\n", name.c_str(),
                static_cast<unsigned long long>(seed), count, static_cast<unsigned long long>(seed));
    std::fflush(stdout);
    Mutator mutator(seed, corpus, dictionary, max_len);
    const auto start = std::chrono::steady_clock::now();
    long done = 0;
    for (; done < count; ++done) {
      if (seconds && std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count() > *seconds) {
        std::printf("%s: time limit of %.0f s reached after %ld inputs (--iterations %ld repeats this run)\n",
                    name.c_str(), *seconds, done, done);
        break;
      }
      RunOne(mutator.Next());
    }
  }
  std::printf("%s: ok\n", name.c_str());
  return 0;
}
