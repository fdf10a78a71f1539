// Benchmarks of memcg-lsm (`pnpm bench`): memcg charge/uncharge through a deep
// hierarchy, SELinux policy checks with 1,000 rules, and the whole ioctl.
import { loadavg } from "node:os";
import { writeFileSync } from "node:fs";
import { paired, recordRatio } from "../../../scripts/bench-lib.mjs";
import { INIT_CRED, Kernel, buildTopology, prepareCreds, topologyKernelOptions } from "@dmabuf-sdk/dmabuf-core";
import {
  GFP_KERNEL,
  dmaHeapAllocFd,
  memCgroupChargeDmabuf,
  memCgroupFromCgroup,
  memCgroupUnchargeDmabuf,
  memcgPageState,
  securityDmaHeapAlloc,
  selinuxAvcStats,
  selinuxLoadPolicy,
  selinuxModule,
  systemHeapModule,
} from "@dmabuf-sdk/memcg-lsm";

const results = {};
const ratios = {};
const record = (name, value, unit, target) => {
  results[name] = { value, unit, ...(target ? { target } : {}) };
  console.log(`${name.padEnd(70)} ${value.toLocaleString("en-US", { maximumFractionDigits: value >= 100 ? 0 : 2 }).padStart(14)} ${unit}${target ? `  (target ${target})` : ""}`);
};

/** Best of `rounds` timed runs of `n` iterations of `fn` (after one warm-up run); returns operations per second. */
function opsPerSec(n, fn, rounds = 5) {
  fn(n);
  let best = Infinity;
  for (let r = 0; r < rounds; r++) {
    const t0 = performance.now();
    fn(n);
    best = Math.min(best, performance.now() - t0);
  }
  return n / (best / 1000);
}

function quietKernel() {
  const k = new Kernel(topologyKernelOptions("same-switch"));
  buildTopology(k, "same-switch");
  k.trace.enabled = false;
  k.faults.recordLimit = 0;
  return k;
}

console.log(`node ${process.version}, load average ${loadavg().map((l) => l.toFixed(2)).join(" ")} (2 shared cores)`);

// 1. memcg: charge + uncharge of one page at the leaf of /a/b/c/d/e (every level counts it).
{
  const k = quietKernel();
  k.modprobe(systemHeapModule);
  const leaf = memCgroupFromCgroup(k, k.cgroups.mkdirP("/a/b/c/d/e"));
  const root = memCgroupFromCgroup(k, k.cgroups.root);
  // Anchor: a plain JS page counter of the same 6 levels (root included), try-charge with a
  // limit check and watermark, uncharge, measured alternately in the same process.
  const plain = [];
  for (let i = 0, p = null; i < 6; i++) plain.push((p = { usage: 0, max: 2 ** 52, watermark: 0, parent: p }));
  const plainLeaf = plain[5];
  const { project, anchor } = paired(
    1_000_000,
    (n) => {
      for (let i = 0; i < n; i++) {
        if (!memCgroupChargeDmabuf(leaf, 1, GFP_KERNEL)) throw new Error("charge failed");
        memCgroupUnchargeDmabuf(leaf, 1);
      }
    },
    (n) => {
      for (let i = 0; i < n; i++) {
        for (let c = plainLeaf; c; c = c.parent) {
          const next = c.usage + 1;
          if (next > c.max) throw new Error("over");
          c.usage = next;
          if (next > c.watermark) c.watermark = next;
        }
        for (let c = plainLeaf; c; c = c.parent) c.usage -= 1;
      }
    },
    7,
  );
  if (memcgPageState(root, "MEMCG_DMABUF") !== 0) throw new Error("unbalanced");
  record("memcg: charge + uncharge, 1 page, 5-level hierarchy", project, "pairs/s", ">= 15,000,000 pairs/s");
  recordRatio(ratios, "memcg charge+uncharge depth 5 (median of 7)", project, "pairs/s", "plain JS page counter", anchor);
}

// 2. SELinux: security_dma_heap_alloc() with a policy of 1,000 allow rules.
{
  const k = quietKernel();
  k.modprobe(selinuxModule);
  const rules = ["class dma_heap { charge_to }"];
  for (let i = 0; i < 999; i++) rules.push(`allow svc${i}_t app${i}_t:dma_heap charge_to;`);
  rules.push("allow allocator_app_t client_app_t:dma_heap charge_to;");
  const text = rules.join("\n");
  const loads = opsPerSec(20, (n) => {
    for (let i = 0; i < n; i++) selinuxLoadPolicy(k, text);
  });
  record("selinux: load_policy of 1,000 allow rules", 1000 / loads, "ms/load");
  const from = prepareCreds(INIT_CRED, { security: "u:r:allocator_app_t:s0" });
  const to = prepareCreds(INIT_CRED, { security: "u:r:client_app_t:s0" });
  const hit = opsPerSec(1_000_000, (n) => {
    for (let i = 0; i < n; i++) securityDmaHeapAlloc(k, from, to);
  });
  record("selinux: security_dma_heap_alloc, 1,000 rules, AVC hit", hit, "checks/s");
  const pairs = Array.from({ length: 999 }, (_, i) => [prepareCreds(INIT_CRED, { security: `u:r:svc${i}_t:s0` }), prepareCreds(INIT_CRED, { security: `u:r:app${i}_t:s0` })]);
  let missTime = Infinity;
  for (let r = 0; r < 5; r++) {
    selinuxLoadPolicy(k, text); // empties the AVC
    const t0 = performance.now();
    for (const [f, t] of pairs) securityDmaHeapAlloc(k, f, t);
    missTime = Math.min(missTime, performance.now() - t0);
  }
  if (selinuxAvcStats(k).entries !== pairs.length) throw new Error("expected one AVC entry per pair");
  record("selinux: security_dma_heap_alloc, 1,000 rules, AVC miss (compute_av)", pairs.length / (missTime / 1000), "checks/s");
}

// 3. End to end: DMA_HEAP_IOCTL_ALLOC of 64 KiB charged to another cgroup through a pidfd, then close.
{
  const k = quietKernel();
  k.modprobe(systemHeapModule);
  k.modprobe(selinuxModule);
  selinuxLoadPolicy(k, "class dma_heap { charge_to }\nallow allocator_app_t client_app_t:dma_heap charge_to;\n");
  const allocator = k.fork({ comm: "allocator", cred: { security: "u:r:allocator_app_t:s0" }, cgroup: k.cgroups.mkdirP("/svc/alloc"), parent: k.init });
  const client = k.fork({ comm: "client", cred: { security: "u:r:client_app_t:s0" }, cgroup: k.cgroups.mkdirP("/apps/a/b/c/client"), parent: k.init });
  allocator.sys.open("/dev/dma_heap/system", 0);
  const pidfd = allocator.sys.pidfdOpen(client.pid);
  const ops = opsPerSec(20_000, (n) => {
    for (let i = 0; i < n; i++) {
      const fd = dmaHeapAllocFd(allocator, "system", 65536n, { chargePidFd: pidfd });
      if (fd < 0) throw new Error(`alloc failed: ${fd}`);
      allocator.sys.close(fd);
    }
  });
  record("dma-heap: DMA_HEAP_IOCTL_ALLOC 64 KiB with charge_pid_fd + close", ops, "allocs/s");
  k.exitTask(allocator, 0);
  k.exitTask(client, 0);
  if (!k.leakReport().empty) throw new Error(k.leakReport().text());
}

writeFileSync(new URL("./results.json", import.meta.url), JSON.stringify({ node: process.version, date: new Date().toISOString(), loadavg: loadavg(), results, ratios }, null, 2) + "\n");
