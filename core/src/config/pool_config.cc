#include "config/pool_config.h"

#include <Poco/NumberParser.h>
#include <Poco/Util/AbstractConfiguration.h>

#include <set>

namespace grid {
namespace {

const char* const kPoolKeys = "image, size, cpus, memory_mb, pids, network, isolation, env.NAME";

std::string trim(const std::string& s) {
  const auto b = s.find_first_not_of(" \t");
  const auto e = s.find_last_not_of(" \t");
  return b == std::string::npos ? "" : s.substr(b, e - b + 1);
}

bool validPoolName(const std::string& name) {
  if (name.empty() || name.size() > 64) return false;
  for (const char c : name) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '-' || c == '_';
    if (!ok) return false;
  }
  return true;
}

class PoolReader {
 public:
  PoolReader(const Poco::Util::AbstractConfiguration& config, std::string section,
             std::string prefix, std::string& errors)
      : config_(config),
        section_(std::move(section)),
        prefix_(std::move(prefix)),
        errors_(errors) {}

  bool has(const std::string& key) const { return config_.hasProperty(prefix_ + key); }
  std::string raw(const std::string& key) const { return config_.getString(prefix_ + key); }

  void add(const std::string& message) {
    if (!errors_.empty()) errors_ += "; ";
    errors_ += section_ + " " + message;
  }

  template <typename Int>
  bool integer(const std::string& key, Int& out, long long min, long long max) {
    if (!has(key)) return false;
    const std::string value = raw(key);
    Poco::Int64 parsed;
    if (!Poco::NumberParser::tryParse64(trim(value), parsed) || parsed < min || parsed > max) {
      add(key + " = '" + value + "' is not a whole number from " + std::to_string(min) + " to " +
          std::to_string(max));
      return false;
    }
    out = static_cast<Int>(parsed);
    return true;
  }

 private:
  const Poco::Util::AbstractConfiguration& config_;
  const std::string section_;
  const std::string prefix_;
  std::string& errors_;
};

}  // namespace

std::vector<PoolConfig> readPoolSections(const Poco::Util::AbstractConfiguration& config,
                                         std::string& errors) {
  std::vector<PoolConfig> pools;
  Poco::Util::AbstractConfiguration::Keys names;
  config.keys("pool", names);
  for (const auto& name : names) {
    const std::string section = "[pool." + name + "]";
    PoolReader read(config, section, "pool." + name + ".", errors);
    if (!validPoolName(name)) {
      read.add("has a bad name: use letters, digits, '-' and '_' (at most 64)");
      continue;
    }
    PoolConfig pool;
    pool.name = name;
    Poco::Util::AbstractConfiguration::Keys keys;
    config.keys("pool." + name, keys);
    static const std::set<std::string> kKnown = {"image", "size",    "cpus",      "memory_mb",
                                                 "pids",  "network", "isolation", "env"};
    for (const auto& key : keys) {
      if (!kKnown.count(key)) read.add("unknown key '" + key + "' (known: " + kPoolKeys + ")");
    }
    if (!read.integer("size", pool.size, 0, static_cast<long long>(kMaxPoolSize)) &&
        !read.has("size")) {
      read.add("needs size = N (sandboxes kept ready)");
    }
    if (read.has("image")) {
      const std::string image = trim(read.raw("image"));
      if (image.empty()) {
        read.add("image is empty");
      } else {
        pool.image = image;
      }
    }
    if (read.has("cpus")) {
      const std::string value = read.raw("cpus");
      double cpus = -1;
      if (!Poco::NumberParser::tryParseFloat(trim(value), cpus) || !(cpus >= 0) || cpus > 4096) {
        read.add("cpus = '" + value + "' is not a number from 0 to 4096");
      } else {
        pool.limits.cpus = cpus;
      }
    }
    read.integer("memory_mb", pool.limits.memory_mb, 0, 1LL << 40);
    read.integer("pids", pool.limits.pids, 0, 1LL << 31);
    if (read.has("network")) {
      const std::string value = trim(read.raw("network"));
      if (value == "true" || value == "1" || value == "yes") {
        pool.network = true;
      } else if (value != "false" && value != "0" && value != "no" && !value.empty()) {
        read.add("network = '" + value + "' is not true or false");
      }
    }
    if (read.has("isolation")) {
      const std::string value = trim(read.raw("isolation"));
      if (const auto level = isolationFromName(value)) {
        pool.isolation = *level;
      } else {
        read.add("isolation = '" + value + "' is not one of " + kIsolationNames);
      }
    }
    Poco::Util::AbstractConfiguration::Keys env_keys;
    config.keys("pool." + name + ".env", env_keys);
    for (const auto& key : env_keys) {
      const std::string full = "pool." + name + ".env." + key;
      if (config.hasProperty(full)) pool.env[key] = config.getString(full);
    }
    pools.push_back(std::move(pool));
  }
  return pools;
}

}  // namespace grid
