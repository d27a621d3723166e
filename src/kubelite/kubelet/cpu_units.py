"""CPU amounts as cgroup v1 settings (pkg/kubelet/cm/helpers_linux.go): millicores to
`cpu.shares` and to a CFS quota. The container configs, the pod cgroups and the statuses that
read the settings back all convert the same way.
"""

from __future__ import annotations

# Shares per CPU, the floor and cap of shares, the CFS period and the smallest quota.
SHARES_PER_CPU = 1024
MIN_SHARES = 2
MAX_SHARES = 262144
QUOTA_PERIOD = 100_000
MIN_QUOTA = 1000


def milli_cpu_to_shares(milli_cpu: int) -> int:
    if milli_cpu == 0:
        return MIN_SHARES
    shares = milli_cpu * SHARES_PER_CPU // 1000
    return min(max(shares, MIN_SHARES), MAX_SHARES)


def milli_cpu_to_quota(milli_cpu: int, period: int = QUOTA_PERIOD) -> int:
    if milli_cpu == 0:
        return 0
    return max(milli_cpu * period // 1000, MIN_QUOTA)
