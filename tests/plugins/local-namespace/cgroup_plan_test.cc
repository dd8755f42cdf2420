// Pure cgroup plans: which files get which values, for v1 and v2. No root needed.
#include "cgroup/cgroup_plan.h"

#include <gtest/gtest.h>

#include <algorithm>

#include "kernel/rlimits.h"

namespace grid::localns {
namespace {

TEST(CgroupPlanTest, NoLimitsWritesNothing) {
  EXPECT_TRUE(planCgroupV1({}).empty());
  EXPECT_TRUE(planCgroupV2({}).empty());
}

TEST(CgroupPlanTest, V1AllLimits) {
  ResourceLimits limits;
  limits.memory_mb = 64;
  limits.pids = 32;
  limits.cpus = 1.5;
  std::vector<CgroupWrite> expected = {
      {"memory", "memory.limit_in_bytes", "67108864", false},
      {"memory", "memory.memsw.limit_in_bytes", "67108864", true},
      {"pids", "pids.max", "32", false},
      {"cpu", "cpu.cfs_period_us", "100000", false},
      {"cpu", "cpu.cfs_quota_us", "150000", false},
  };
  EXPECT_EQ(planCgroupV1(limits), expected);
}

TEST(CgroupPlanTest, V2AllLimits) {
  ResourceLimits limits;
  limits.memory_mb = 512;
  limits.pids = 100;
  limits.cpus = 0.25;
  std::vector<CgroupWrite> expected = {
      {"", "memory.max", "536870912", false},
      {"", "memory.swap.max", "0", true},
      {"", "pids.max", "100", false},
      {"", "cpu.max", "25000 100000", false},
  };
  EXPECT_EQ(planCgroupV2(limits), expected);
}

TEST(CgroupPlanTest, TinyCpuQuotaIsClampedToKernelMinimum) {
  ResourceLimits limits;
  limits.cpus = 0.001;
  auto v1 = planCgroupV1(limits);
  ASSERT_EQ(v1.size(), 2u);
  EXPECT_EQ(v1[1].value, "1000");
  EXPECT_EQ(planCgroupV2(limits).at(0).value, "1000 100000");
}

TEST(CgroupPlanTest, OnlyPidsLimit) {
  ResourceLimits limits;
  limits.pids = 7;
  EXPECT_EQ(planCgroupV1(limits), (std::vector<CgroupWrite>{{"pids", "pids.max", "7", false}}));
  EXPECT_EQ(planCgroupV2(limits), (std::vector<CgroupWrite>{{"", "pids.max", "7", false}}));
}

TEST(FreezerPlanTest, V1WritesFreezerStateAndReadsItBack) {
  const FreezerPlan freeze = planFreezerV1(true);
  EXPECT_EQ(freeze.write, (CgroupWrite{"freezer", "freezer.state", "FROZEN", false}));
  EXPECT_EQ(freeze.state_file, "freezer.state");
  EXPECT_TRUE(freezerReached(freeze, "FROZEN\n"));
  // Still on the way: some task has not stopped yet.
  EXPECT_FALSE(freezerReached(freeze, "FREEZING\n"));
  EXPECT_FALSE(freezerReached(freeze, "THAWED\n"));
  const FreezerPlan thaw = planFreezerV1(false);
  EXPECT_EQ(thaw.write.value, "THAWED");
  EXPECT_TRUE(freezerReached(thaw, "THAWED\n"));
  EXPECT_FALSE(freezerReached(thaw, "FROZEN\n"));
}

TEST(FreezerPlanTest, V2WritesCgroupFreezeAndWaitsForTheEvent) {
  const FreezerPlan freeze = planFreezerV2(true);
  EXPECT_EQ(freeze.write, (CgroupWrite{"", "cgroup.freeze", "1", false}));
  EXPECT_EQ(freeze.state_file, "cgroup.events");
  EXPECT_TRUE(freezerReached(freeze, "populated 1\nfrozen 1\n"));
  EXPECT_FALSE(freezerReached(freeze, "populated 1\nfrozen 0\n"));
  // Whole lines only.
  EXPECT_FALSE(freezerReached(freeze, "populated 1\nfrozen 10\n"));
  EXPECT_FALSE(freezerReached(freeze, ""));
  const FreezerPlan thaw = planFreezerV2(false);
  EXPECT_EQ(thaw.write.value, "0");
  EXPECT_TRUE(freezerReached(thaw, "populated 0\nfrozen 0"));
}

TEST(RlimitPlanTest, NeverRaisesNofileAboveTheCurrentHardLimit) {
  auto low = planRlimits(4096);
  ASSERT_EQ(low.size(), 2u);
  EXPECT_EQ(low[0].resource, RLIMIT_CORE);
  EXPECT_EQ(low[0].hard, 0u);
  EXPECT_EQ(low[1].resource, RLIMIT_NOFILE);
  EXPECT_EQ(low[1].hard, 4096u);
  EXPECT_EQ(planRlimits(RLIM_INFINITY)[1].hard, 65536u);
}

TEST(CgroupUsage, ParsesSingleCounters) {
  EXPECT_EQ(parseCgroupCounter("123456\n"), 123456u);
  EXPECT_EQ(parseCgroupCounter("0"), 0u);
  EXPECT_EQ(parseCgroupCounter("18446744073709551615\n"), UINT64_MAX);
  EXPECT_FALSE(parseCgroupCounter("18446744073709551616"));
  EXPECT_FALSE(parseCgroupCounter("max\n"));
  EXPECT_FALSE(parseCgroupCounter(""));
  EXPECT_FALSE(parseCgroupCounter("-1"));
  EXPECT_FALSE(parseCgroupCounter("12 34"));
}

TEST(CgroupUsage, ParsesKeyedFiles) {
  const std::string cpu_stat =
      "usage_usec 2500000\nuser_usec 2000000\nsystem_usec 500000\nnr_periods 0\n";
  EXPECT_EQ(parseCgroupKeyed(cpu_stat, "usage_usec"), 2500000u);
  EXPECT_EQ(parseCgroupKeyed(cpu_stat, "system_usec"), 500000u);
  EXPECT_FALSE(parseCgroupKeyed(cpu_stat, "usage"));  // a prefix of a key is not the key
  EXPECT_FALSE(parseCgroupKeyed(cpu_stat, "missing"));
  EXPECT_FALSE(parseCgroupKeyed("usage_usec lots\n", "usage_usec"));
  EXPECT_FALSE(parseCgroupKeyed("", "usage_usec"));
}

TEST(CgroupUsage, V1JoinsCpuacctForCpuTime) {
  const auto hierarchies = cgroupV1Hierarchies();
  EXPECT_NE(std::find(hierarchies.begin(), hierarchies.end(), "cpuacct"), hierarchies.end());
}

}  // namespace
}  // namespace grid::localns
