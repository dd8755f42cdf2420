#include "runtime/sandbox_state.h"

#include <cerrno>
#include <cstdio>
#include <fstream>
#include <sstream>

#include "util/syscall_error.h"

namespace grid::localns {

std::string formatRecord(const SandboxRecord& record) {
  std::ostringstream out;
  out << "id=" << record.id << "\ninstance=" << record.instance << "\ninit_pid=" << record.init_pid
      << "\ninit_start_time=" << record.init_start_time
      << "\ncgroup_version=" << record.cgroup_version << "\ncgroup_root=" << record.cgroup_root
      << "\nuid_start=" << record.uid_start << "\ngid_start=" << record.gid_start
      << "\nnet_link=" << record.net_link << "\nnet_subnet=" << record.net_subnet << "\n";
  return out.str();
}

std::optional<SandboxRecord> parseRecord(const std::string& text) {
  SandboxRecord record;
  std::istringstream in(text);
  std::string line;
  try {
    while (std::getline(in, line)) {
      size_t eq = line.find('=');
      if (eq == std::string::npos) continue;
      std::string key = line.substr(0, eq);
      std::string value = line.substr(eq + 1);
      if (key == "id") record.id = value;
      if (key == "instance") record.instance = value;
      if (key == "init_pid") record.init_pid = std::stoi(value);
      if (key == "init_start_time") record.init_start_time = std::stoull(value);
      if (key == "cgroup_version") record.cgroup_version = value;
      if (key == "cgroup_root") record.cgroup_root = value;
      if (key == "uid_start") record.uid_start = static_cast<uint32_t>(std::stoul(value));
      if (key == "gid_start") record.gid_start = static_cast<uint32_t>(std::stoul(value));
      if (key == "net_link") record.net_link = value;
      if (key == "net_subnet") record.net_subnet = value;
    }
  } catch (const std::exception&) {
    return std::nullopt;
  }
  if (record.id.empty() || record.cgroup_root.empty()) return std::nullopt;
  return record;
}

unsigned long long processStartTime(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string stat;
  if (!std::getline(in, stat)) return 0;
  // Field 2 (comm) may contain spaces and parentheses: count fields after the last ')'.
  size_t paren = stat.rfind(')');
  if (paren == std::string::npos) return 0;
  std::istringstream fields(stat.substr(paren + 2));
  std::string field;
  for (int i = 3; i <= 22 && fields >> field; ++i) {
    if (i == 22) return std::stoull(field);
  }
  return 0;
}

Result<void> writeRecord(const std::string& path, const SandboxRecord& record) {
  std::string temp = path + ".tmp";
  {
    std::ofstream out(temp, std::ios::trunc);
    out << formatRecord(record);
    if (!out) return sysFail(ErrorCode::kInternal, "write", temp, errno);
  }
  if (std::rename(temp.c_str(), path.c_str()) != 0) {
    return sysFail(ErrorCode::kInternal, "rename", temp, errno);
  }
  return {};
}

std::optional<SandboxRecord> readRecord(const std::string& path) {
  std::ifstream in(path);
  if (!in) return std::nullopt;
  std::stringstream text;
  text << in.rdbuf();
  return parseRecord(text.str());
}

}  // namespace grid::localns
