// Demo agent "data": on `data.stats` computes price statistics from the
// bundled CSV (settings.csv: maker,model,segment,price_usd,range_km,year;
// '#' lines are comments) and replies with JSON: overall count, min, max,
// mean, median price, the cheapest and priciest model, the best value
// (lowest price per km of range), and per maker: models, min, max, mean.

#include <aqua/agent.hpp>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <fstream>
#include <map>
#include <sstream>

namespace {

struct row {
  std::string maker, model, segment;
  long price = 0, range = 0, year = 0;
};

aqua::result<std::vector<row>> read_csv(const std::filesystem::path& file) {
  std::ifstream in(file);
  if (!in) return aqua::error{aqua::errc::not_found, "cannot read " + file.string()};
  std::vector<row> rows;
  std::string line;
  bool header = true;
  for (int n = 1; n <= 100000 && std::getline(in, line); ++n) {
    if (line.empty() || line[0] == '#') continue;
    if (header) {
      header = false;
      continue;
    }
    std::vector<std::string> f;
    std::stringstream ss(line);
    for (std::string cell; std::getline(ss, cell, ',');) f.push_back(cell);
    if (f.size() != 6) return aqua::error{aqua::errc::bad_frame, file.string() + ":" + std::to_string(n) + ": expected 6 fields"};
    try {
      rows.push_back({f[0], f[1], f[2], std::stol(f[3]), std::stol(f[4]), std::stol(f[5])});
    } catch (const std::exception&) {
      return aqua::error{aqua::errc::bad_frame, file.string() + ":" + std::to_string(n) + ": not a number"};
    }
  }
  if (rows.empty()) return aqua::error{aqua::errc::not_found, file.string() + " has no rows"};
  return rows;
}

// sum / count rounded to the nearest integer, halves away from zero: the means (and the median of an even
// count, the price per km) in whole dollars. Integer division truncated: $37,266.67 became $37,266.
long rounded_mean(long sum, long count) {
  if (count <= 0) return 0;
  const long half_up = (2 * (sum < 0 ? -sum : sum) + count) / (2 * count);
  return sum < 0 ? -half_up : half_up;
}

class data final : public aqua::agent {
 public:
  aqua::result<aqua::agent_payload> on_request(aqua::agent_context& ctx, const aqua::agent_message& m) override {
    if (m.payload.type != "data.stats")
      return aqua::error{aqua::errc::invalid_argument, "data does not handle '" + m.payload.type + "'"};
    auto file = ctx.path_setting("csv", "ev_prices.csv");
    auto rows = read_csv(file);
    if (!rows) return rows.err();
    std::vector<long> prices;
    for (auto& r : *rows) prices.push_back(r.price);
    std::sort(prices.begin(), prices.end());
    long sum = 0;
    for (auto p : prices) sum += p;
    auto n = static_cast<long>(prices.size());
    long median = n % 2 ? prices[n / 2] : rounded_mean(prices[n / 2 - 1] + prices[n / 2], 2);
    auto by_price = [](const row& a, const row& b) { return a.price < b.price; };
    auto cheapest = *std::min_element(rows->begin(), rows->end(), by_price);
    auto priciest = *std::max_element(rows->begin(), rows->end(), by_price);
    auto best = *std::min_element(rows->begin(), rows->end(), [](const row& a, const row& b) {
      return a.price * b.range < b.price * a.range;  // price per km, without floating point
    });
    std::map<std::string, std::vector<long>> makers;
    for (auto& r : *rows) makers[r.maker].push_back(r.price);
    nlohmann::json per = nlohmann::json::array();
    for (auto& [maker, ps] : makers) {
      long s = 0;
      for (auto p : ps) s += p;
      per.push_back({{"maker", maker}, {"models", ps.size()}, {"min", *std::min_element(ps.begin(), ps.end())},
                     {"max", *std::max_element(ps.begin(), ps.end())}, {"mean", rounded_mean(s, static_cast<long>(ps.size()))}});
    }
    auto model = [](const row& r) { return r.maker + " " + r.model; };
    nlohmann::json out{{"source", file.filename().string()}, {"count", n}, {"min", prices.front()},
                       {"max", prices.back()}, {"mean", rounded_mean(sum, n)}, {"median", median},
                       {"cheapest", model(cheapest)}, {"priciest", model(priciest)},
                       {"best_value", model(best)}, {"best_value_usd_per_km", rounded_mean(best.price, best.range)},
                       {"makers", per}};
    ctx.note("computed statistics over " + std::to_string(n) + " rows of " + file.filename().string());
    return aqua::agent_payload::text("data.stats", out.dump());
  }
};

aqua::result<std::unique_ptr<aqua::agent>> make(const aqua::agent_config& cfg) {
  if (auto r = aqua::check_setting_keys(cfg, {"csv"}); !r) return r.err();
  return std::unique_ptr<aqua::agent>(new data());
}

} // namespace

AQUA_AGENT_PLUGIN(data, make)
