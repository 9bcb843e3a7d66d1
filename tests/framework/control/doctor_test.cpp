#include <gtest/gtest.h>

#include "control/doctor.hpp"

using aqua::control::guess_nat;

TEST(doctor, no_observed_address_is_unknown) {
  EXPECT_EQ(guess_nat({}, {"10.0.0.2"}).verdict, "unknown");
  EXPECT_EQ(guess_nat({"/dns4/x/tcp/1"}, {"10.0.0.2"}).verdict, "unknown");
}

TEST(doctor, relay_seeing_one_of_our_addresses_means_public) {
  auto g = guess_nat({"/ip4/198.18.0.5/tcp/4001"}, {"127.0.0.1", "198.18.0.5"});
  EXPECT_EQ(g.verdict, "public") << g.why;
}

TEST(doctor, relay_seeing_a_foreign_address_means_behind_nat) {
  auto g = guess_nat({"/ip4/198.18.0.1/tcp/61000"}, {"127.0.0.1", "10.1.0.2"});
  EXPECT_EQ(g.verdict, "behind_nat");
  EXPECT_NE(g.why.find("198.18.0.1"), std::string::npos) << g.why;
}

TEST(doctor, relays_seeing_different_ports_means_symmetric_nat) {
  auto g = guess_nat({"/ip4/198.18.0.1/tcp/61000", "/ip4/198.18.0.1/tcp/61007"}, {"10.1.0.2"});
  EXPECT_EQ(g.verdict, "symmetric_nat") << g.why;
}

TEST(doctor, local_ipv4_addresses_include_loopback) {
  auto ips = aqua::control::local_ipv4_addresses();
  EXPECT_NE(std::find(ips.begin(), ips.end(), "127.0.0.1"), ips.end());
}
