#include "init/init_message.h"

#include <cstring>

namespace grid::localns {
namespace {

constexpr char kMagic[8] = {'G', 'R', 'I', 'D', 'I', 'N', 'I', 'T'};
constexpr uint32_t kVersion = 1;
constexpr size_t kMaxSeccompInstructions = 4096;  // BPF_MAXINSNS

class Writer {
 public:
  void raw(const void* data, size_t size) { out_.append(static_cast<const char*>(data), size); }
  void u32(uint32_t v) { raw(&v, sizeof(v)); }
  void u64(uint64_t v) { raw(&v, sizeof(v)); }
  void str(const std::string& s) {
    u32(static_cast<uint32_t>(s.size()));
    raw(s.data(), s.size());
  }
  void strings(const std::vector<std::string>& list) {
    u32(static_cast<uint32_t>(list.size()));
    for (const auto& s : list) str(s);
  }
  std::string take() { return std::move(out_); }
  size_t size() const { return out_.size(); }

 private:
  std::string out_;
};

class Reader {
 public:
  explicit Reader(std::string_view in) : in_(in) {}
  bool raw(void* out, size_t size) {
    if (in_.size() - pos_ < size) return fail("truncated");
    // An empty vector's data() may be null, and memcpy from or to null is undefined even for 0.
    if (size != 0) std::memcpy(out, in_.data() + pos_, size);
    pos_ += size;
    return true;
  }
  bool u32(uint32_t* v) { return raw(v, sizeof(*v)); }
  bool u64(uint64_t* v) { return raw(v, sizeof(*v)); }
  bool count(size_t* n, size_t max) {
    uint32_t v = 0;
    if (!u32(&v)) return false;
    if (v > max) return fail("list too long");
    *n = v;
    return true;
  }
  bool str(std::string* s) {
    uint32_t len = 0;
    if (!u32(&len)) return false;
    if (in_.size() - pos_ < len) return fail("string runs past the end");
    s->assign(in_.data() + pos_, len);
    pos_ += len;
    return true;
  }
  bool cstr(std::string* s) {  // passed to syscalls as C strings: no NUL inside
    if (!str(s)) return false;
    if (s->find('\0') != std::string::npos) return fail("NUL inside a string");
    return true;
  }
  bool strings(std::vector<std::string>* list) {
    size_t n = 0;
    if (!count(&n, kMaxInitListItems)) return false;
    list->resize(n);
    for (auto& s : *list) {
      if (!cstr(&s)) return false;
    }
    return true;
  }
  bool atEnd() const { return pos_ == in_.size(); }
  bool fail(const char* why) {
    if (error_.empty()) error_ = why;
    return false;
  }
  const std::string& error() const { return error_; }

 private:
  std::string_view in_;
  size_t pos_ = 0;
  std::string error_;
};

bool validKind(uint32_t kind) {
  return kind <= static_cast<uint32_t>(MountStep::Kind::kAttachMount);
}

}  // namespace

bool InitMessage::operator==(const InitMessage& o) const {
  auto sameSteps = [](const std::vector<MountStep>& a, const std::vector<MountStep>& b) {
    if (a.size() != b.size()) return false;
    for (size_t i = 0; i < a.size(); ++i) {
      if (a[i].kind != b[i].kind || a[i].source != b[i].source || a[i].target != b[i].target ||
          a[i].fstype != b[i].fstype || a[i].flags != b[i].flags ||
          a[i].mount_attr != b[i].mount_attr || a[i].optional != b[i].optional ||
          a[i].data != b[i].data || a[i].mode != b[i].mode || a[i].dev != b[i].dev) {
        return false;
      }
    }
    return true;
  };
  auto sameLimits = [](const std::vector<RlimitSetting>& a, const std::vector<RlimitSetting>& b) {
    if (a.size() != b.size()) return false;
    for (size_t i = 0; i < a.size(); ++i) {
      if (a[i].resource != b[i].resource || a[i].soft != b[i].soft || a[i].hard != b[i].hard) {
        return false;
      }
    }
    return true;
  };
  return role == o.role && cgroup_fd_count == o.cgroup_fd_count &&
         mount_fd_count == o.mount_fd_count && held_fd_count == o.held_fd_count &&
         hostname == o.hostname && sameSteps(mount_steps, o.mount_steps) && argv == o.argv &&
         env == o.env && exec_candidates == o.exec_candidates && sameLimits(rlimits, o.rlimits) &&
         seccomp.size() == o.seccomp.size() &&
         (seccomp.empty() ||
          std::memcmp(seccomp.data(), o.seccomp.data(), seccomp.size() * sizeof(sock_filter)) == 0);
}

std::optional<std::string> encodeInitMessage(const InitMessage& m) {
  if (m.mount_steps.size() > kMaxInitListItems || m.argv.size() > kMaxInitListItems ||
      m.env.size() > kMaxInitListItems || m.exec_candidates.size() > kMaxInitListItems ||
      m.rlimits.size() > 64 || m.seccomp.size() > kMaxSeccompInstructions ||
      uint64_t{m.cgroup_fd_count} + m.mount_fd_count + m.held_fd_count > kMaxInitPassedFds) {
    return std::nullopt;
  }
  Writer w;
  w.raw(kMagic, sizeof(kMagic));
  w.u32(kVersion);
  w.u32(static_cast<uint32_t>(m.role));
  w.u32(m.cgroup_fd_count);
  w.u32(m.mount_fd_count);
  w.u32(m.held_fd_count);
  w.str(m.hostname);
  w.u32(static_cast<uint32_t>(m.mount_steps.size()));
  for (const auto& step : m.mount_steps) {
    w.u32(static_cast<uint32_t>(step.kind));
    w.str(step.source);
    w.str(step.target);
    w.str(step.fstype);
    w.u64(step.flags);
    w.u64(step.mount_attr);
    w.u32(step.optional ? 1 : 0);
    w.str(step.data);
    w.u32(step.mode);
    w.u64(step.dev);
  }
  w.strings(m.argv);
  w.strings(m.env);
  w.strings(m.exec_candidates);
  w.u32(static_cast<uint32_t>(m.rlimits.size()));
  for (const auto& limit : m.rlimits) {
    w.u32(static_cast<uint32_t>(limit.resource));
    w.u64(limit.soft);
    w.u64(limit.hard);
  }
  w.u32(static_cast<uint32_t>(m.seccomp.size()));
  w.raw(m.seccomp.data(), m.seccomp.size() * sizeof(sock_filter));
  if (w.size() > kMaxInitMessageBytes) return std::nullopt;
  return w.take();
}

std::optional<InitMessage> decodeInitMessage(std::string_view bytes, std::string* error) {
  auto failed = [&](const std::string& why) -> std::optional<InitMessage> {
    if (error != nullptr) *error = "init message: " + why;
    return std::nullopt;
  };
  if (bytes.size() > kMaxInitMessageBytes) return failed("larger than the cap");
  Reader r(bytes);
  char magic[sizeof(kMagic)];
  uint32_t version = 0, role = 0;
  InitMessage m;
  if (!r.raw(magic, sizeof(magic)) || std::memcmp(magic, kMagic, sizeof(kMagic)) != 0) {
    return failed("bad magic");
  }
  if (!r.u32(&version) || version != kVersion) return failed("unknown version");
  if (!r.u32(&role) || (role != 1 && role != 2)) return failed("unknown role");
  m.role = static_cast<InitMessage::Role>(role);
  if (!r.u32(&m.cgroup_fd_count) || !r.u32(&m.mount_fd_count) || !r.u32(&m.held_fd_count)) {
    return failed(r.error());
  }
  if (uint64_t{m.cgroup_fd_count} + m.mount_fd_count + m.held_fd_count > kMaxInitPassedFds) {
    return failed("too many passed fds");
  }
  if (!r.cstr(&m.hostname)) return failed(r.error());
  size_t steps = 0;
  if (!r.count(&steps, kMaxInitListItems)) return failed(r.error());
  m.mount_steps.resize(steps);
  size_t attach_steps = 0;
  for (auto& step : m.mount_steps) {
    uint32_t kind = 0, mode = 0;
    uint64_t flags = 0, dev = 0, attr = 0;
    uint32_t optional = 0;
    if (!r.u32(&kind) || !r.cstr(&step.source) || !r.cstr(&step.target) || !r.cstr(&step.fstype) ||
        !r.u64(&flags) || !r.u64(&attr) || !r.u32(&optional) || !r.cstr(&step.data) ||
        !r.u32(&mode) || !r.u64(&dev)) {
      return failed(r.error());
    }
    if (!validKind(kind)) return failed("unknown mount step kind");
    step.kind = static_cast<MountStep::Kind>(kind);
    step.flags = flags;
    step.mount_attr = attr;
    if (optional > 1) return failed("bad optional flag");
    step.optional = optional == 1;
    step.mode = mode;
    step.dev = dev;
    if (step.kind == MountStep::Kind::kAttachMount) ++attach_steps;
  }
  if (attach_steps != m.mount_fd_count) return failed("mount fd count differs from attach steps");
  if (!r.strings(&m.argv) || !r.strings(&m.env) || !r.strings(&m.exec_candidates)) {
    return failed(r.error());
  }
  size_t limits = 0;
  if (!r.count(&limits, 64)) return failed(r.error());
  m.rlimits.resize(limits);
  for (auto& limit : m.rlimits) {
    uint32_t resource = 0;
    uint64_t soft = 0, hard = 0;
    if (!r.u32(&resource) || !r.u64(&soft) || !r.u64(&hard)) return failed(r.error());
    if (resource >= RLIM_NLIMITS) return failed("unknown rlimit");
    limit.resource = static_cast<int>(resource);
    limit.soft = soft;
    limit.hard = hard;
  }
  size_t instructions = 0;
  if (!r.count(&instructions, kMaxSeccompInstructions)) return failed(r.error());
  m.seccomp.resize(instructions);
  if (!r.raw(m.seccomp.data(), instructions * sizeof(sock_filter))) return failed(r.error());
  if (!r.atEnd()) return failed("trailing bytes");
  if (m.role == InitMessage::Role::kEnter) {
    if (m.argv.empty() || m.argv[0].empty()) return failed("empty argv");
    if (m.exec_candidates.empty()) return failed("no exec candidate");
    if (m.seccomp.empty()) return failed("no seccomp program");
    if (!m.mount_steps.empty() || m.mount_fd_count != 0 || m.held_fd_count != 0) {
      return failed("mount steps or held fds on enter");
    }
  } else if (!m.argv.empty()) {
    return failed("argv on init");
  }
  return m;
}

}  // namespace grid::localns
