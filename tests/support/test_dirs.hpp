#pragma once
// Test helpers: unique temp dirs removed at scope exit, and small file utils.

#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <string>

namespace aqua::test {

class temp_dir {
 public:
  explicit temp_dir(const std::string& tag = "t") {
    static std::atomic<int> counter{0};
    path_ = std::filesystem::temp_directory_path() /
            ("aqua-test-" + tag + "-" + std::to_string(::getpid()) + "-" + std::to_string(counter++));
    std::filesystem::remove_all(path_);
    std::filesystem::create_directories(path_);
  }
  ~temp_dir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

inline void write_text(const std::filesystem::path& p, const std::string& text) {
  std::ofstream out(p, std::ios::binary | std::ios::trunc);
  out << text;
}

// Build-tree locations, passed in by CMake.
inline std::filesystem::path plugin_build_dir() { return AQUA_TEST_PLUGIN_DIR; }
inline std::filesystem::path bad_plugin_dir() { return AQUA_TEST_BAD_PLUGIN_DIR; }

} // namespace aqua::test
