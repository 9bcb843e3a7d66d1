#include <gtest/gtest.h>

#include <fstream>
#include <iterator>

#include "plugin/elf_check.hpp"
#include "plugin/plugin_loader.hpp"
#include "support/test_dirs.hpp"

using namespace aqua;

namespace {
transport_config named(const std::string& plugin) {
  transport_config c;
  c.plugin = plugin;
  c.name = plugin;
  return c;
}
} // namespace

TEST(plugin_loader, loads_loopback_from_config_plugin_path) {
  plugin_loader loader({test::plugin_build_dir()});
  auto t = loader.load_transport(named("loopback"));
  ASSERT_TRUE(t) << t.err().what();
  EXPECT_EQ((*t)->plugin_name(), "loopback");
}

TEST(plugin_loader, missing_plugin_lists_every_dir_searched) {
  test::temp_dir a("pa"), b("pb");
  ::setenv("AQUA_PLUGIN_PATH", b.path().c_str(), 1);
  plugin_loader loader({a.path()});
  ::unsetenv("AQUA_PLUGIN_PATH");
  auto t = loader.load_transport(named("carrier_pigeon"));
  ASSERT_FALSE(t);
  EXPECT_EQ(t.err().code(), errc::plugin_not_found);
  const auto& m = t.err().message();
  EXPECT_NE(m.find("libaqua_transport_carrier_pigeon.so"), std::string::npos) << m;
  EXPECT_NE(m.find(a.path().string()), std::string::npos) << m;
  EXPECT_NE(m.find(b.path().string()), std::string::npos) << m;
  EXPECT_NE(m.find(AQUA_INSTALL_PLUGIN_DIR_ABS), std::string::npos) << m;
  // config dir first, then AQUA_PLUGIN_PATH
  EXPECT_LT(m.find(a.path().string()), m.find(b.path().string()));
}

TEST(plugin_loader, refuses_plugin_built_for_another_abi_naming_both_versions) {
  plugin_loader loader({test::bad_plugin_dir()});
  auto t = loader.load_transport(named("wrong_abi"));
  ASSERT_FALSE(t);
  EXPECT_EQ(t.err().code(), errc::plugin_abi_mismatch);
  EXPECT_NE(t.err().message().find("built for transport ABI 999"), std::string::npos) << t.err().message();
  EXPECT_NE(t.err().message().find("this aqua uses transport ABI " + std::to_string(transport_abi_version)),
            std::string::npos)
    << t.err().message();
}

TEST(plugin_loader, refuses_plugin_without_factory_symbol) {
  plugin_loader loader({test::bad_plugin_dir()});
  auto t = loader.load_transport(named("no_factory"));
  ASSERT_FALSE(t);
  EXPECT_EQ(t.err().code(), errc::plugin_missing_symbol);
  EXPECT_NE(t.err().message().find("aqua_transport_factory"), std::string::npos);
}

TEST(plugin_loader, refuses_plugin_whose_name_differs) {
  plugin_loader loader({test::bad_plugin_dir()});
  auto t = loader.load_transport(named("misnamed"));
  ASSERT_FALSE(t);
  EXPECT_EQ(t.err().code(), errc::plugin_name_mismatch);
}

TEST(plugin_loader, refuses_a_file_that_is_not_an_elf_shared_library) {
  test::temp_dir dir("pg");
  test::write_text(dir.path() / plugin_loader::file_name("garbage"), std::string(4096, 'x'));
  plugin_loader loader({dir.path()});
  auto t = loader.load_transport(named("garbage"));
  ASSERT_FALSE(t);
  EXPECT_EQ(t.err().code(), errc::plugin_load_failed);
  EXPECT_NE(t.err().message().find("cannot load plugin"), std::string::npos);
  EXPECT_NE(t.err().message().find("not an ELF file"), std::string::npos) << t.err().message();
}

TEST(plugin_loader, a_truncated_plugin_is_refused_before_the_loader_maps_it) {
  // glibc's dlopen maps segments past the end of a truncated file: touching them killed the process (SIGBUS).
  std::string whole;
  {
    std::ifstream in(test::plugin_build_dir() / plugin_loader::file_name("loopback"), std::ios::binary);
    whole.assign(std::istreambuf_iterator<char>(in), {});
  }
  ASSERT_GT(whole.size(), 20000u);
  for (std::size_t cut : {std::size_t{100}, std::size_t{1000}, std::size_t{10000}}) {
    test::temp_dir dir("pg");
    test::write_text(dir.path() / plugin_loader::file_name("loopback"), whole.substr(0, cut));
    plugin_loader loader({dir.path()});
    auto t = loader.load_transport(named("loopback"));
    ASSERT_FALSE(t) << cut;
    EXPECT_EQ(t.err().code(), errc::plugin_load_failed);
    EXPECT_NE(t.err().message().find("truncated"), std::string::npos) << t.err().message();
  }
}

TEST(plugin_loader, passes_factory_errors_through_with_context) {
  plugin_loader loader({test::plugin_build_dir()});
  auto cfg = named("loopback");
  cfg.settings["queue_franes"] = "10";
  auto t = loader.load_transport(cfg);
  ASSERT_FALSE(t);
  EXPECT_EQ(t.err().code(), errc::config_unknown_key);
  EXPECT_NE(t.err().message().find("unknown setting 'queue_franes'"), std::string::npos);
}

TEST(plugin_loader, a_factory_that_throws_its_own_exception_type_is_an_error_not_a_crash) {
  plugin_loader loader({test::bad_plugin_dir()});
  auto t = loader.load_transport(named("throwing"));
  ASSERT_FALSE(t);
  EXPECT_EQ(t.err().code(), errc::plugin_load_failed);
  EXPECT_NE(t.err().message().find("the factory threw: cannot open /dev/imaginary"), std::string::npos)
    << t.err().message();
  const auto& m = t.err().message();
  EXPECT_NE(m.find("libaqua_transport_throwing.so"), std::string::npos) << m;
  EXPECT_EQ(m.find("libaqua_transport_throwing.so"), m.rfind("libaqua_transport_throwing.so")) << m;  // said once
  auto cfg = named("throwing");
  cfg.settings["throw_int"] = "1";
  auto i = loader.load_transport(cfg);
  ASSERT_FALSE(i);
  EXPECT_NE(i.err().message().find("threw something that is not a std::exception"), std::string::npos);
}

TEST(plugin_loader, the_elf_check_reads_only_inside_the_image_whatever_its_bytes) {
  std::string whole;
  {
    std::ifstream in(test::plugin_build_dir() / plugin_loader::file_name("loopback"), std::ios::binary);
    whole.assign(std::istreambuf_iterator<char>(in), {});
  }
  auto problem = [](const std::string& s) {
    return detail::elf_image_problem(reinterpret_cast<const std::uint8_t*>(s.data()), s.size());
  };
  EXPECT_EQ(problem(whole), "");
  for (std::size_t cut = 0; cut < whole.size(); cut += 997) problem(whole.substr(0, cut));  // ASan: no read past the end
  std::uint32_t x = 7;
  for (int i = 0; i < 20000; ++i) {  // flipped bytes in the headers: an answer, never a crash
    auto copy = whole.substr(0, 4096);
    for (int k = 0; k < 4; ++k) {
      x = x * 1664525u + 1013904223u;
      copy[x % 1024] ^= static_cast<char>(x >> 24);
    }
    problem(copy);
  }
  EXPECT_EQ(problem(whole.substr(0, 63)), "not an ELF file");
}
