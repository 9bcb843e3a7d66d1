#include <gtest/gtest.h>

#include <fstream>
#include <sys/stat.h>

#include <cstdlib>

#include "identity/key_store.hpp"
#include "support/test_dirs.hpp"

using namespace aqua;

namespace {
unsigned mode_of(const fs::path& p) {
  struct stat st {};
  ::stat(p.c_str(), &st);
  return st.st_mode & 0777;
}

class env_guard {
 public:
  explicit env_guard(const char* name) : name_(name) {
    if (const char* v = std::getenv(name)) old_ = v;
  }
  ~env_guard() {
    if (old_) ::setenv(name_, old_->c_str(), 1);
    else ::unsetenv(name_);
  }

 private:
  const char* name_;
  std::optional<std::string> old_;
};
} // namespace

TEST(key_store, writes_key_0600_in_dir_0700_and_reads_it_back) {
  test::temp_dir tmp("ks");
  auto dir = tmp.path() / "data";
  ASSERT_TRUE(ensure_private_dir(dir));
  EXPECT_EQ(mode_of(dir), 0700u);
  auto kp = keypair::generate();
  ASSERT_TRUE(write_key_file(dir / key_file_name, kp, false));
  EXPECT_EQ(mode_of(dir / key_file_name), 0600u);
  auto back = read_key_file(dir / key_file_name);
  ASSERT_TRUE(back) << back.err().what();
  EXPECT_EQ(back->id().str(), kp.id().str());
}

TEST(key_store, refuses_to_overwrite_without_force) {
  test::temp_dir tmp("ks");
  auto file = tmp.path() / key_file_name;
  ASSERT_TRUE(write_key_file(file, keypair::generate(), false));
  auto again = write_key_file(file, keypair::generate(), false);
  ASSERT_FALSE(again);
  EXPECT_EQ(again.err().code(), errc::already_exists);
  EXPECT_TRUE(write_key_file(file, keypair::generate(), true));
}

TEST(key_store, refuses_key_readable_by_group_or_others_and_says_how_to_fix) {
  test::temp_dir tmp("ks");
  auto file = tmp.path() / key_file_name;
  ASSERT_TRUE(write_key_file(file, keypair::generate(), false));
  for (unsigned mode : {0644u, 0640u, 0604u, 0660u}) {
    ::chmod(file.c_str(), mode);
    auto r = read_key_file(file);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.err().code(), errc::insecure_permissions);
    EXPECT_NE(r.err().message().find("chmod 600 " + file.string()), std::string::npos) << r.err().message();
  }
  ::chmod(file.c_str(), 0400);
  EXPECT_TRUE(read_key_file(file));
}

TEST(key_store, rejects_malformed_key_files_precisely) {
  test::temp_dir tmp("ks");
  auto file = tmp.path() / key_file_name;
  struct kase {
    std::string content;
    std::string expect;
  } cases[] = {
    {"", "holds no key line"},
    {"# only a comment\n", "holds no key line"},
    {"ssh-ed25519 AAAA\n", "expected 'aqua-ed25519-seed-v1"},
    {"aqua-ed25519-seed-v1 abcd\n", "64 hex digits, got 4"},
    {"aqua-ed25519-seed-v1 " + std::string(64, 'g') + "\n", "invalid hex character"},
    {"aqua-ed25519-seed-v1 " + std::string(64, 'a') + " extra\n", "unexpected text"},
    // Which key a file holds must not depend on which line a reader takes: one key line only.
    {"aqua-ed25519-seed-v1 " + std::string(64, 'a') + "\naqua-ed25519-seed-v1 " + std::string(64, 'b') + "\n",
     "line 2: unexpected text after the key (line 1): a key file holds one key line"},
    {"aqua-ed25519-seed-v1 " + std::string(64, 'a') + "\n" + std::string(10, '\0'), "line 2: unexpected text after"},
    {"aqua-ed25519-seed-v1 " + std::string(64, 'a') + std::string(16, '\0') + "\n", "line 1: unexpected text after the key"},
  };
  for (auto& c : cases) {
    ASSERT_TRUE(write_file_atomic(file, c.content, 0600));
    auto r = read_key_file(file);
    ASSERT_FALSE(r) << c.content;
    EXPECT_EQ(r.err().code(), errc::bad_key_file) << c.content;
    EXPECT_NE(r.err().message().find(c.expect), std::string::npos) << r.err().message();
  }
}

TEST(key_store, comments_and_blank_lines_around_the_key_line_are_fine) {
  test::temp_dir tmp("ks");
  auto file = tmp.path() / key_file_name;
  ASSERT_TRUE(write_file_atomic(file, "# mine\n\naqua-ed25519-seed-v1 " + std::string(64, 'a') + "\n  \n# end\n\r\n", 0600));
  auto r = read_key_file(file);
  ASSERT_TRUE(r) << r.err().what();
}

TEST(key_store, missing_key_says_to_run_init) {
  test::temp_dir tmp("ks");
  auto r = read_key_file(tmp.path() / "nope.key");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.err().code(), errc::no_identity);
  EXPECT_NE(r.err().message().find("aqua init"), std::string::npos);
  // Beside a config, the key was lost: 'aqua init' alone would refuse the dir (already_exists).
  std::ofstream(tmp.path() / "config.yaml") << "components: {}\ntransports: []\n";
  auto lost = read_key_file(tmp.path() / "identity.key");
  ASSERT_FALSE(lost);
  EXPECT_EQ(lost.err().code(), errc::no_identity);
  EXPECT_NE(lost.err().message().find("put the key back, or run 'aqua --dir " + tmp.path().string() + " init --force'"),
            std::string::npos) << lost.err().what();
}

TEST(key_store, data_dir_prefers_flag_then_env_then_home) {
  env_guard g1("AQUA_DIR"), g2("HOME");
  ::setenv("AQUA_DIR", "/from/env", 1);
  ::setenv("HOME", "/home/someone", 1);
  EXPECT_EQ(resolve_data_dir(std::string("/from/flag")).value(), fs::path("/from/flag"));
  EXPECT_EQ(resolve_data_dir(std::string("")).err().code(), errc::invalid_argument);  // --dir "": not ~/.aqua
  EXPECT_EQ(resolve_data_dir(std::nullopt).value(), fs::path("/from/env"));
  ::unsetenv("AQUA_DIR");
  EXPECT_EQ(resolve_data_dir(std::nullopt).value(), fs::path("/home/someone/.aqua"));
  ::unsetenv("HOME");
  EXPECT_FALSE(resolve_data_dir(std::nullopt));
}
