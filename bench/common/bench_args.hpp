#pragma once
// Command-line arguments of the bench programs: -h/--help prints the usage
// (exit 0); a count that is not a whole number in its range, or an argument
// too many, is a precise error followed by the usage (exit 2) — never an
// uncaught exception.

#include <charconv>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

namespace aqua::bench {

class args {
 public:
  // `usage`: the line after "usage: ", e.g. "bench_durable [group=200000] [single=3000]".
  args(int argc, char** argv, std::string usage) : argc_(argc), argv_(argv), usage_(std::move(usage)) {
    for (int i = 1; i < argc; ++i)
      if (std::string_view(argv[i]) == "-h" || std::string_view(argv[i]) == "--help") {
        std::printf("usage: %s\n", usage_.c_str());
        std::exit(0);
      }
  }
  int size() const { return argc_; }
  const char* operator[](int i) const { return argv_[i]; }
  // Positional argument `i` (1-based) as a count in [min, max]; `fallback` when it is not given.
  std::size_t count(int i, const char* name, std::size_t fallback, std::size_t min, std::size_t max) const {
    return i < argc_ ? parse(argv_[i], name, min, max) : fallback;
  }
  std::size_t parse(const char* text, const char* name, std::size_t min, std::size_t max) const {
    std::size_t v = 0;
    const std::string_view s(text);
    auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (s.empty() || ec != std::errc() || end != s.data() + s.size() || v < min || v > max)
      fail(std::string(name) + " must be a whole number from " + std::to_string(min) + " to " + std::to_string(max) +
           ", got '" + std::string(s) + "'");
    return v;
  }
  // At most `n` positional arguments.
  void at_most(int n) const {
    if (argc_ - 1 > n) fail("at most " + std::to_string(n) + " arguments, got " + std::to_string(argc_ - 1));
  }
  [[noreturn]] void fail(const std::string& why) const {
    std::fprintf(stderr, "%s: %s\nusage: %s\n", argc_ > 0 ? argv_[0] : "bench", why.c_str(), usage_.c_str());
    std::exit(2);
  }

 private:
  int argc_;
  char** argv_;
  std::string usage_;
};

} // namespace aqua::bench
