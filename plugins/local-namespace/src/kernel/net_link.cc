#include "kernel/net_link.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <linux/if_link.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/veth.h>
#include <net/if.h>
#include <sched.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <thread>
#include <vector>

#include "util/syscall_error.h"

namespace grid::localns {
namespace {

// One rtnetlink request: header, family struct, attributes (nests by offset).
class RtRequest {
 public:
  RtRequest(uint16_t type, uint16_t flags) {
    nlmsghdr header{};
    header.nlmsg_type = type;
    header.nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK | flags;
    append(&header, sizeof(header));
  }
  void append(const void* data, size_t size) {
    const size_t at = buffer_.size();
    buffer_.resize(at + NLMSG_ALIGN(size), 0);
    std::memcpy(buffer_.data() + at, data, size);
    header()->nlmsg_len = static_cast<uint32_t>(buffer_.size());
  }
  void attr(uint16_t type, const void* data, size_t size) {
    rtattr attribute{static_cast<unsigned short>(RTA_LENGTH(size)), type};
    const size_t at = buffer_.size();
    buffer_.resize(at + RTA_SPACE(size), 0);
    std::memcpy(buffer_.data() + at, &attribute, sizeof(attribute));
    if (size > 0) std::memcpy(buffer_.data() + at + RTA_LENGTH(0), data, size);
    header()->nlmsg_len = static_cast<uint32_t>(buffer_.size());
  }
  void attr(uint16_t type, const std::string& text) { attr(type, text.c_str(), text.size() + 1); }
  void attrU32(uint16_t type, uint32_t value) { attr(type, &value, sizeof(value)); }
  size_t beginNest(uint16_t type) {
    const size_t at = buffer_.size();
    attr(type, nullptr, 0);
    return at;
  }
  void endNest(size_t at) {
    reinterpret_cast<rtattr*>(buffer_.data() + at)->rta_len =
        static_cast<unsigned short>(buffer_.size() - at);
  }
  const std::vector<char>& bytes() const { return buffer_; }

 private:
  nlmsghdr* header() { return reinterpret_cast<nlmsghdr*>(buffer_.data()); }
  std::vector<char> buffer_;
};

Result<UniqueFd> openRtnetlink() {
  UniqueFd sock(::socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE));
  if (!sock.valid())
    return sysFail(ErrorCode::kInternal, "socket", "AF_NETLINK, NETLINK_ROUTE", errno);
  sockaddr_nl local{};
  local.nl_family = AF_NETLINK;
  if (::bind(sock.get(), reinterpret_cast<sockaddr*>(&local), sizeof(local)) != 0) {
    return sysFail(ErrorCode::kInternal, "bind", "AF_NETLINK", errno);
  }
  return sock;
}

// Sends `request` and waits for its ack; the kernel answers in-line, so no deadline is needed
// beyond the socket's own (a netlink request never waits on the tenant).
Result<void> transact(int sock, const RtRequest& request, const std::string& what, int* err_out) {
  *err_out = 0;
  const auto& bytes = request.bytes();
  if (::send(sock, bytes.data(), bytes.size(), 0) != static_cast<ssize_t>(bytes.size())) {
    return sysFail(ErrorCode::kInternal, "send", "rtnetlink " + what, errno);
  }
  alignas(nlmsghdr) char reply[8192];
  while (true) {
    ssize_t n = ::recv(sock, reply, sizeof(reply), 0);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return sysFail(ErrorCode::kInternal, "recv", "rtnetlink " + what, errno);
    for (auto* msg = reinterpret_cast<nlmsghdr*>(reply); NLMSG_OK(msg, static_cast<unsigned>(n));
         msg = NLMSG_NEXT(msg, n)) {
      if (msg->nlmsg_type != NLMSG_ERROR) continue;
      const int err = -reinterpret_cast<nlmsgerr*>(NLMSG_DATA(msg))->error;
      if (err == 0) return {};
      *err_out = err;
      return sysFail(ErrorCode::kInternal, "rtnetlink", what, err);
    }
  }
}

Result<void> transact(int sock, const RtRequest& request, const std::string& what) {
  int err = 0;
  return transact(sock, request, what, &err);
}

Result<void> addAddress(int sock, int ifindex, uint32_t address, const std::string& name) {
  RtRequest request(RTM_NEWADDR, NLM_F_CREATE | NLM_F_EXCL);
  ifaddrmsg info{};
  info.ifa_family = AF_INET;
  info.ifa_prefixlen = kLinkPrefixLength;
  info.ifa_index = static_cast<unsigned>(ifindex);
  request.append(&info, sizeof(info));
  const uint32_t wire = htonl(address);
  request.attr(IFA_LOCAL, &wire, sizeof(wire));
  request.attr(IFA_ADDRESS, &wire, sizeof(wire));
  return transact(sock, request, "RTM_NEWADDR " + formatIpv4(address) + "/30 on " + name);
}

// Inside the sandbox's namespace: eth0's address and the default route via the host end.
Result<void> configureSandboxEnd(const SandboxLinkPlan& plan) {
  GRID_ASSIGN_OR_RETURN(UniqueFd sock, openRtnetlink());
  const int ifindex = static_cast<int>(::if_nametoindex(kSandboxLinkName));
  if (ifindex == 0) return sysFail(ErrorCode::kInternal, "if_nametoindex", "eth0 (sandbox)", errno);
  RtRequest up(RTM_NEWLINK, 0);
  ifinfomsg link{};
  link.ifi_family = AF_UNSPEC;
  link.ifi_index = ifindex;
  link.ifi_flags = IFF_UP;
  link.ifi_change = IFF_UP;
  up.append(&link, sizeof(link));
  GRID_TRY(transact(sock.get(), up, "RTM_NEWLINK eth0 (sandbox) up"));
  GRID_TRY(addAddress(sock.get(), ifindex, plan.sandbox_address, "eth0 (sandbox)"));
  RtRequest route(RTM_NEWROUTE, NLM_F_CREATE | NLM_F_EXCL);
  rtmsg info{};
  info.rtm_family = AF_INET;
  info.rtm_table = RT_TABLE_MAIN;
  info.rtm_protocol = RTPROT_BOOT;
  info.rtm_scope = RT_SCOPE_UNIVERSE;
  info.rtm_type = RTN_UNICAST;
  route.append(&info, sizeof(info));
  const uint32_t gateway = htonl(plan.host_address);
  route.attr(RTA_GATEWAY, &gateway, sizeof(gateway));
  route.attrU32(RTA_OIF, static_cast<uint32_t>(ifindex));
  return transact(sock.get(), route, "RTM_NEWROUTE default via " + formatIpv4(plan.host_address));
}

}  // namespace

Result<LinkAllocation> allocateLink(const Ipv4Pool& pool, uint32_t hint,
                                    const std::string& sandbox_id, const std::string& lock_dir) {
  std::error_code ec;
  std::filesystem::create_directories(lock_dir, ec);
  if (ec) return sysFail(ErrorCode::kInternal, "mkdir", lock_dir, ec.value());
  const uint32_t count = pool.linkCount();
  for (uint32_t n = 0; n < count; ++n) {
    LinkAllocation link;
    link.plan = planSandboxLink(pool, (hint + n) % count, sandbox_id);
    const std::string path = lock_dir + "/" + link.plan.subnetText();
    link.lock.reset(::open(path.c_str(), O_RDONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600));
    if (!link.lock.valid()) return sysFail(ErrorCode::kInternal, "open", path, errno);
    if (::flock(link.lock.get(), LOCK_EX | LOCK_NB) == 0) return link;
    if (errno != EWOULDBLOCK) return sysFail(ErrorCode::kInternal, "flock", path, errno);
  }
  return fail(ErrorCode::kUnavailable, "local-namespace: every one of the " +
                                           std::to_string(count) + " /30 links of " + pool.cidr() +
                                           " is in use; widen network_subnet");
}

Result<void> createSandboxLink(const SandboxLinkPlan& plan, int netns_fd) {
  GRID_ASSIGN_OR_RETURN(UniqueFd sock, openRtnetlink());
  // The peer is created inside the sandbox's namespace right away, so "eth0" never
  // collides with a host interface and nothing is moved afterwards.
  RtRequest create(RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL);
  ifinfomsg host{};
  host.ifi_family = AF_UNSPEC;
  host.ifi_flags = IFF_UP;
  host.ifi_change = IFF_UP;
  create.append(&host, sizeof(host));
  create.attr(IFLA_IFNAME, plan.host_name);
  const size_t linkinfo = create.beginNest(IFLA_LINKINFO);
  create.attr(IFLA_INFO_KIND, std::string("veth"));
  const size_t data = create.beginNest(IFLA_INFO_DATA);
  const size_t peer = create.beginNest(VETH_INFO_PEER);
  // The peer's ifinfomsg: not up yet (veth refuses to open before its pair is linked,
  // ENOTCONN); it is brought up from inside.
  ifinfomsg peer_info{};
  peer_info.ifi_family = AF_UNSPEC;
  create.append(&peer_info, sizeof(peer_info));
  create.attr(IFLA_IFNAME, std::string(kSandboxLinkName));
  create.attrU32(IFLA_NET_NS_FD, static_cast<uint32_t>(netns_fd));
  create.endNest(peer);
  create.endNest(data);
  create.endNest(linkinfo);
  int err = 0;
  if (auto r = transact(sock.get(), create, "RTM_NEWLINK veth " + plan.host_name, &err); !r) {
    if (err == EEXIST) {
      return fail(ErrorCode::kConflict, "local-namespace: host interface " + plan.host_name +
                                            " exists (another sandbox's id starts alike)");
    }
    return r;
  }
  // A netlink socket belongs to the namespace it is created in: the sandbox side is set up
  // from a thread that joins the namespace (setns affects that thread only) and then ends,
  // while this thread addresses the host side.
  Result<void> inside = fail(ErrorCode::kInternal, "local-namespace: netns thread did not run");
  std::thread worker([&] {
    if (::setns(netns_fd, CLONE_NEWNET) != 0) {
      inside = sysFail(ErrorCode::kInternal, "setns", "sandbox netns, CLONE_NEWNET", errno);
      return;
    }
    inside = configureSandboxEnd(plan);
  });
  Result<void> outside;
  const int host_index = static_cast<int>(::if_nametoindex(plan.host_name.c_str()));
  if (host_index == 0) {
    outside = sysFail(ErrorCode::kInternal, "if_nametoindex", plan.host_name, errno);
  } else {
    outside = addAddress(sock.get(), host_index, plan.host_address, plan.host_name);
  }
  worker.join();
  Result<void> result = !outside.ok() ? outside : inside;
  if (!result.ok()) (void)deleteHostLink(plan.host_name);
  return result;
}

Result<void> deleteHostLink(const std::string& name) {
  GRID_ASSIGN_OR_RETURN(UniqueFd sock, openRtnetlink());
  RtRequest request(RTM_DELLINK, 0);
  ifinfomsg info{};
  info.ifi_family = AF_UNSPEC;
  request.append(&info, sizeof(info));
  request.attr(IFLA_IFNAME, name);
  int err = 0;
  if (auto r = transact(sock.get(), request, "RTM_DELLINK " + name, &err); !r) {
    if (err == ENODEV) return {};
    return r;
  }
  return {};
}

Result<void> enableIpForwarding(bool* changed) {
  constexpr const char* kPath = "/proc/sys/net/ipv4/ip_forward";
  *changed = false;
  UniqueFd fd(::open(kPath, O_RDWR | O_CLOEXEC));
  if (!fd.valid()) return sysFail(ErrorCode::kUnavailable, "open", kPath, errno);
  char value = 0;
  if (::read(fd.get(), &value, 1) != 1)
    return sysFail(ErrorCode::kUnavailable, "read", kPath, errno);
  if (value == '1') return {};
  if (::pwrite(fd.get(), "1\n", 2, 0) != 2)
    return sysFail(ErrorCode::kUnavailable, "write", kPath, errno);
  *changed = true;
  return {};
}

}  // namespace grid::localns
