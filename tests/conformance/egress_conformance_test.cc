// Egress policies against real traffic (docs/networking.md): servers in a network namespace the
// test makes ("upstream"), reached from sandboxes under a policy, each case checked from both
// ends (the sandbox's client and the server's count).
#include <gtest/gtest.h>

#include <future>

#include "api/api_requests.h"
#include "conformance_fixture.h"
#include "egress_upstream.h"
#include "network/egress_controller.h"

namespace grid::testing {
namespace {

class EgressTest : public ConformanceTest {
 protected:
  static void SetUpTestSuite() {
    if (conformanceTarget().instance == nullptr) return;
    upstream_ = new Upstream();
  }
  static void TearDownTestSuite() {
    delete upstream_;
    upstream_ = nullptr;
  }

  void SetUp() override {
    ConformanceTest::SetUp();
    if (HasFatalFailure() || IsSkipped()) return;
    ASSERT_NE(upstream_, nullptr);
    ASSERT_EQ(upstream_->error(), "");
    manager_->shutdown();
    EgressOptions options;
    options.upstream_dns = {upstream_->dnsAddress()};
    options.ttl_floor = std::chrono::seconds(30);
    egress_ = std::make_unique<EgressController>(backend(), options);
    ASSERT_TRUE(egress_->init().ok()) << egress_->unavailableReason();
    ManagerOptions manager_options = managerOptions();
    manager_options.egress = egress_.get();
    manager_ = std::make_unique<SandboxManager>(backend(), manager_options);
  }

  void TearDown() override {
    ConformanceTest::TearDown();
    manager_.reset();
    egress_.reset();
  }

  // Starts a networked sandbox under `policy`; skips where the backend has no network.
  std::string startNetworked(std::optional<EgressPolicy> policy) {
    if (conformanceTarget().config.default_isolation == Isolation::kGvisor) {
      skip_reason_ = "gVisor's own network stack carries the traffic: no egress rule applies";
      return "";
    }
    CreateRequest request;
    request.network = true;
    request.egress = std::move(policy);
    auto created = manager_->create(std::move(request));
    if (!created.ok() && created.error().code == ErrorCode::kUnsupported) {
      skip_reason_ = created.error().message;
      return "";
    }
    EXPECT_TRUE(created.ok()) << created.error().message;
    if (!created.ok()) return "";
    const std::string id = created.value()->spec().id;
    auto started = manager_->start(id);
    EXPECT_TRUE(started.ok()) << started.error().message;
    return id;
  }

  // One TCP connection from the sandbox: the server's greeting, or why it failed. Never a hang:
  // 10 s is far beyond a refusal (reset or unreachable at once) and shows as "HANG".
  std::string connect(const std::string& id, const std::string& host, uint16_t port) {
    const auto r = run(id,
                       "timeout 10 bash -c 'exec 3<>/dev/tcp/" + host + "/" + std::to_string(port) +
                           " && head -1 <&3' 2>&1; echo rc=$?",
                       std::chrono::seconds(30));
    if (r.output.find("rc=124") != std::string::npos) return "HANG";
    if (r.output.find("hello ") == 0) return "ok";
    return "refused: " + r.output;
  }

  static EgressPolicy policy(std::vector<std::string> allow, std::vector<std::string> deny = {}) {
    EgressPolicy p;
    for (const auto& text : allow) p.allow.push_back(parseEgressRule(text).value());
    for (const auto& text : deny) p.deny.push_back(parseEgressRule(text).value());
    return p;
  }

  uint64_t refused(const std::string& id) { return egress_->status(id).value().refused; }

  static Upstream* upstream_;
  std::unique_ptr<EgressController> egress_;
  std::string skip_reason_;
};

Upstream* EgressTest::upstream_ = nullptr;

#define START_OR_SKIP(var, policy)                                        \
  const std::string var = startNetworked(policy);                         \
  if (var.empty() && !skip_reason_.empty()) GTEST_SKIP() << skip_reason_; \
  ASSERT_FALSE(var.empty())

TEST_F(EgressTest, AllowAndDenyByCidrAndPort) {
  auto& web = upstream_->tcpServer(upstream_->linkAddress(), 0);
  auto& other_port = upstream_->tcpServer(upstream_->linkAddress(), 0);
  auto& routed = upstream_->tcpServer(upstream_->routedAddress(), 0);
  auto& routed_denied = upstream_->tcpServer(upstream_->routedAddress(), 0);
  START_OR_SKIP(id,
                policy({upstream_->linkAddress() + ":" + std::to_string(web.port()),
                        upstream_->routedNetwork()},
                       {upstream_->routedAddress() + ":" + std::to_string(routed_denied.port())}));
  EXPECT_EQ(connect(id, upstream_->linkAddress(), web.port()), "ok");
  EXPECT_EQ(web.accepted(), 1);
  // Another port of an address allowed on one port only: refused at once, never arrives.
  EXPECT_NE(connect(id, upstream_->linkAddress(), other_port.port()).find("refused"),
            std::string::npos);
  EXPECT_EQ(other_port.accepted(), 0);
  EXPECT_EQ(connect(id, upstream_->routedAddress(), routed.port()), "ok");
  EXPECT_EQ(routed.accepted(), 1);
  // Deny wins over the allowed network around it.
  EXPECT_NE(connect(id, upstream_->routedAddress(), routed_denied.port()).find("refused"),
            std::string::npos);
  EXPECT_EQ(routed_denied.accepted(), 0);
  EXPECT_GE(refused(id), 2u);
}

TEST_F(EgressTest, DomainRulesResolveOnlyAllowedNamesAndOpenOnlyTheirAnswers) {
  auto& link = upstream_->tcpServer(upstream_->linkAddress(), 0);
  auto& routed = upstream_->tcpServer(upstream_->routedAddress(), 0);
  auto& routed_other = upstream_->tcpServer(upstream_->routedAddress(), 0);
  upstream_->dns().setRecord("www.allowed.test", upstream_->linkAddress());
  upstream_->dns().setRecord("exact.test", upstream_->routedAddress());
  upstream_->dns().setRecord("other.test", upstream_->linkAddress());
  START_OR_SKIP(id, policy({"*.allowed.test", "exact.test:" + std::to_string(routed.port())}));
  // Not resolved yet: the address is closed.
  EXPECT_NE(connect(id, upstream_->linkAddress(), link.port()).find("refused"), std::string::npos);
  EXPECT_EQ(link.accepted(), 0);
  // A name outside the policy does not resolve, and its query never leaves Grid.
  const auto other = run(id, "getent hosts other.test; echo rc=$?");
  EXPECT_NE(other.output.find("rc=2"), std::string::npos) << other.output;
  EXPECT_EQ(upstream_->dns().queriesFor("other.test"), 0);
  // An allowed name resolves through the upstream, and opens its answer (every port).
  const auto www = run(id, "getent hosts www.allowed.test");
  EXPECT_NE(www.output.find(upstream_->linkAddress()), std::string::npos) << www.output;
  EXPECT_GE(upstream_->dns().queriesFor("www.allowed.test"), 1);
  EXPECT_EQ(connect(id, "www.allowed.test", link.port()), "ok");
  EXPECT_EQ(link.accepted(), 1);
  // A name allowed on one port opens its address on that port only.
  EXPECT_EQ(connect(id, "exact.test", routed.port()), "ok");
  EXPECT_EQ(routed.accepted(), 1);
  EXPECT_NE(connect(id, "exact.test", routed_other.port()).find("refused"), std::string::npos);
  EXPECT_EQ(routed_other.accepted(), 0);
  // DNS goes to Grid's resolver only: the upstream server straight is refused.
  const auto direct = run(id, "timeout 10 bash -c 'exec 3<>/dev/tcp/" + upstream_->dnsAddress() +
                                  "/53' 2>&1; "
                                  "echo rc=$?");
  EXPECT_EQ(direct.output.find("rc=0"), std::string::npos) << direct.output;
  EXPECT_EQ(direct.output.find("rc=124"), std::string::npos) << direct.output;
}

TEST_F(EgressTest, DnsRebindingToADeniedAddressStaysDenied) {
  auto& first = upstream_->tcpServer(upstream_->linkAddress(), 0);
  auto& second = upstream_->tcpServer(upstream_->routedAddress(), 0);
  auto& host = upstream_->tcpServer(upstream_->hostAddress(), 0, /*on_host=*/true);
  upstream_->dns().setRecord("rebind.test", upstream_->linkAddress(), 1);
  START_OR_SKIP(id, policy({"rebind.test"}, {upstream_->routedNetwork()}));
  EXPECT_EQ(connect(id, "rebind.test", first.port()), "ok");
  // The name now answers a denied address: it resolves, but the address stays closed.
  upstream_->dns().setRecord("rebind.test", upstream_->routedAddress(), 1);
  const auto again = run(id, "getent hosts rebind.test");
  EXPECT_NE(again.output.find(upstream_->routedAddress()), std::string::npos) << again.output;
  EXPECT_NE(connect(id, "rebind.test", second.port()).find("refused"), std::string::npos);
  EXPECT_EQ(second.accepted(), 0);
  // And to the host itself: the base rules win over any answer.
  upstream_->dns().setRecord("rebind.test", upstream_->hostAddress(), 1);
  EXPECT_NE(connect(id, "rebind.test", host.port()).find("refused"), std::string::npos);
  EXPECT_EQ(host.accepted(), 0);
}

TEST_F(EgressTest, PolicyChangeCutsALongRunningConnection) {
  auto& server = upstream_->tcpServer(upstream_->linkAddress(), 0);
  START_OR_SKIP(id, policy({upstream_->linkAddress()}));
  const std::string client =
      "python3 -c '\n"
      "import socket, time\n"
      "s = socket.create_connection((\"" +
      upstream_->linkAddress() + "\", " + std::to_string(server.port()) +
      "), timeout=5)\n"
      "print(s.recv(100).decode().strip(), flush=True)\n"
      "try:\n"
      "    for i in range(600):\n"
      "        s.sendall(b\"ping\\n\")\n"
      "        if not s.recv(100):\n"
      "            print(\"closed\"); break\n"
      "        time.sleep(0.05)\n"
      "    else:\n"
      "        print(\"still open\")\n"
      "except OSError as e:\n"
      "    print(\"cut\", type(e).__name__)\n"
      "'";
  auto running = std::async(std::launch::async, [&] {
    return manager_->exec(id, client, false, std::chrono::seconds(60));
  });
  // The connection carries traffic before the change...
  ASSERT_TRUE(waitUntil([&] { return server.linesReceived() >= 5; }, std::chrono::seconds(30)));
  auto changed = egress_->update(id, policy({"192.0.2.0/24"}));
  ASSERT_TRUE(changed.ok()) << changed.error().message;
  // ...and is cut by it: the client sees a reset, well before its 30 s of pings end.
  auto result = running.get();
  ASSERT_TRUE(result.ok()) << result.error().message;
  EXPECT_NE(result.value().output.find("hello"), std::string::npos) << result.value().output;
  EXPECT_NE(result.value().output.find("cut"), std::string::npos) << result.value().output;
  const int lines_at_cut = server.linesReceived();
  EXPECT_LT(lines_at_cut, 600);
  // From the server's end: nothing more arrives, and a new connection is refused.
  EXPECT_NE(connect(id, upstream_->linkAddress(), server.port()).find("refused"),
            std::string::npos);
  EXPECT_EQ(server.accepted(), 1);
  EXPECT_EQ(server.linesReceived(), lines_at_cut);
  // Allowed again: a new connection works.
  ASSERT_TRUE(egress_->update(id, policy({upstream_->linkAddress()})).ok());
  EXPECT_EQ(connect(id, upstream_->linkAddress(), server.port()), "ok");
  EXPECT_EQ(server.accepted(), 2);
}

TEST_F(EgressTest, SandboxesCannotReachEachOtherNorTheHost) {
  auto& host = upstream_->tcpServer("0.0.0.0", 0, /*on_host=*/true);
  START_OR_SKIP(a, std::nullopt);
  START_OR_SKIP(b, std::nullopt);
  // b listens on every address; a tries it.
  run(b,
      "(python3 -c 'import socket\ns=socket.socket()\ns.bind((\"0.0.0.0\",7070))\n"
      "s.listen()\nc,_=s.accept()\nopen(\"/tmp/accepted\",\"w\").write(\"yes\")' &) ; sleep 0");
  const std::string b_address =
      run(b, "ip -4 -o addr show scope global | awk '{print $4}' | cut -d/ -f1 | head -1").output;
  ASSERT_FALSE(b_address.empty());
  const std::string address = b_address.substr(0, b_address.find('\n'));
  ASSERT_TRUE(
      waitUntil([&] { return run(b, "grep -c ':1B9E ' /proc/net/tcp || true").output != "0\n"; },
                std::chrono::seconds(20)));
  EXPECT_NE(connect(a, address, 7070).find("refused"), std::string::npos);
  EXPECT_EQ(run(b, "cat /tmp/accepted 2>/dev/null || echo none").output, "none\n");
  // The host: by its address on the upstream link, and by the sandbox's gateway.
  EXPECT_NE(connect(a, upstream_->hostAddress(), host.port()).find("refused"), std::string::npos);
  const std::string gateway = run(a, "ip route | awk '/^default/ {print $3}' | head -1").output;
  if (!gateway.empty()) {
    EXPECT_NE(connect(a, gateway.substr(0, gateway.find('\n')), host.port()).find("refused"),
              std::string::npos);
  }
  EXPECT_EQ(host.accepted(), 0);
  // Loopback inside the sandbox stays open.
  run(a,
      "(python3 -c 'import socket\ns=socket.socket()\ns.bind((\"127.0.0.1\",7071))\n"
      "s.listen()\nc,_=s.accept()\nc.send(b\"hello loop\\n\")' &) ; sleep 0");
  ASSERT_TRUE(
      waitUntil([&] { return run(a, "grep -c ':1B9F ' /proc/net/tcp || true").output != "0\n"; },
                std::chrono::seconds(20)));
  EXPECT_EQ(connect(a, "127.0.0.1", 7071), "ok");
  EXPECT_GE(refused(a), 2u);
}

TEST_F(EgressTest, BadPoliciesAreRefusedClearly) {
  // Too many rules, joined with the server default: refused before anything is made (where
  // the backend offers network at all).
  CreateRequest probe;
  probe.network = true;
  if (manager_->create(probe).ok()) {
    EgressPolicy big;
    for (int i = 0; i < 300; ++i) {
      big.deny.push_back(
          parseEgressRule("10.0." + std::to_string(i / 250) + "." + std::to_string(i % 250))
              .value());
    }
    CreateRequest request;
    request.network = true;
    request.egress = big;
    auto created = manager_->create(request);
    ASSERT_FALSE(created.ok());
    EXPECT_EQ(created.error().code, ErrorCode::kInvalidArgument);
  }
  // A sandbox without network has no rules to change.
  auto plain = manager_->create(CreateRequest{});
  ASSERT_TRUE(plain.ok());
  auto patched = egress_->update(plain.value()->spec().id, policy({"10.0.0.0/8"}));
  ASSERT_FALSE(patched.ok());
  EXPECT_EQ(patched.error().code, ErrorCode::kInvalidArgument);
  // On gVisor a policy cannot be enforced: a clear unsupported (400), not an ignored rule.
  if (conformanceTarget().config.default_isolation == Isolation::kGvisor) {
    CreateRequest gvisor;
    gvisor.network = true;
    gvisor.egress = policy({"10.0.0.0/8"});
    auto refused_create = manager_->create(gvisor);
    ASSERT_FALSE(refused_create.ok());
    EXPECT_EQ(refused_create.error().code, ErrorCode::kUnsupported);
    EXPECT_NE(refused_create.error().message.find("gVisor"), std::string::npos);
  }
}

// The attacks of a hostile client on PATCH /sandboxes/{id}/network and of a hostile tenant on
// its rules and resolver.
class ContainmentNetworkTest : public EgressTest {};

TEST_F(ContainmentNetworkTest, HostilePatchBodiesAreRefusedBounded) {
  const RequestLimits limits;
  std::string many = R"({"egress": {"deny": [)";
  for (int i = 0; i < 100000; ++i) many += std::string(i ? "," : "") + "\"10.0.0.1\"";
  many += "]}}";
  const std::string deep = std::string(5000, '[') + std::string(5000, ']');
  const std::string long_rule =
      R"({"egress": {"allow": [")" + std::string(1 << 20, 'a') + R"("]}})";
  const std::string nul_rule =
      std::string(R"({"egress": {"allow": ["a.test)") + '\0' + R"(.evil"]}})";
  for (const std::string& body :
       {many, deep, long_rule, nul_rule, std::string(R"({"egress": []})"),
        std::string(R"({"egress": {"allow": [{"cidr": "10.0.0.0/8"}]}})"),
        std::string(R"({"egress": {}, "ports": [80]})"), std::string(R"({})"),
        std::string(R"({"egress": {"allow": ["10.0.0.0/8;flush ruleset"]}})"),
        std::string(R"({"egress": {"allow": ["10.0.0.0/8 } ; table ip x {"]}})")}) {
    const auto started = std::chrono::steady_clock::now();
    const auto parsed = parseNetworkPatch(body, limits);
    EXPECT_FALSE(parsed.ok()) << body.substr(0, 80);
    if (!parsed.ok()) {
      EXPECT_EQ(parsed.error().code, ErrorCode::kInvalidArgument);
      EXPECT_LT(parsed.error().message.size(), 400u);  // no echo of megabytes
    }
    EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(10));
  }
}

TEST_F(ContainmentNetworkTest, TenantCannotTouchItsRulesNorHijackItsResolver) {
  auto& server = upstream_->tcpServer(upstream_->linkAddress(), 0);
  upstream_->dns().setRecord("ok.test", upstream_->linkAddress());
  START_OR_SKIP(id, policy({"ok.test"}));
  // No CAP_NET_ADMIN in its namespace: it cannot reconfigure the network (nor load rules).
  const auto link = run(id, "ip link set lo down 2>&1; echo rc=$?");
  EXPECT_EQ(link.output.find("rc=0"), std::string::npos) << link.output;
  // The resolver's address is taken: the tenant cannot answer its own queries.
  const auto bind = run(id,
                        "python3 -c 'import socket\ns=socket.socket(socket.AF_INET, "
                        "socket.SOCK_DGRAM)\ns.bind((\"127.0.0.53\", 53))' 2>&1; echo rc=$?");
  EXPECT_EQ(bind.output.find("rc=0"), std::string::npos) << bind.output;
  // Garbage at the resolver changes nothing: afterwards an allowed name still resolves.
  run(id,
      "python3 -c 'import socket, os\ns=socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n"
      "for i in range(2000): s.sendto(os.urandom(i % 700), (\"127.0.0.53\", 53))'");
  EXPECT_EQ(connect(id, "ok.test", server.port()), "ok");
  EXPECT_EQ(server.accepted(), 1);
}

}  // namespace
}  // namespace grid::testing
