// Tests of mm/memcontrol.c: hierarchical charging, the charge path over a limit and the memcg OOM killer.
import { describe, expect, it } from "vitest";
import { Kernel, PAGE_SIZE, buildTopology, topologyKernelOptions } from "@dmabuf-sdk/dmabuf-core";
import {
  GFP_KERNEL,
  GFP_NOWAIT,
  MAX_RECLAIM_RETRIES,
  PAGE_COUNTER_MAX,
  __GFP_NOFAIL,
  __GFP_NORETRY,
  __GFP_RETRY_MAYFAIL,
  cgroupRead,
  cgroupWrite,
  cssGet,
  getMemCgroupFromMm,
  memCgroupChargeDmabuf,
  memCgroupDisabled,
  memCgroupFromCgroup,
  memCgroupFromTask,
  memCgroupIsRoot,
  memCgroupPut,
  memCgroupUnchargeDmabuf,
  memcgMemoryEvents,
  memcgModule,
  memcgModuleWithParams,
  memcgPageState,
  memcgPageStateLocal,
  pageCounterMemparse,
  rootMemCgroup,
  setOomScoreAdj,
  type MemCgroup,
} from "@dmabuf-sdk/memcg-lsm";
import { current, dmabuf, spawn } from "@dmabuf-sdk/memcg-lsm/testing";

function bootMemcg() {
  const k = new Kernel(topologyKernelOptions("same-switch"));
  buildTopology(k, "same-switch");
  k.loadModule(memcgModule);
  return k;
}

const memcgAt = (k: Kernel, path: string): MemCgroup => memCgroupFromCgroup(k, k.cgroups.mkdirP(path))!;
const PAGES = (n: number): bigint => BigInt(n * PAGE_SIZE);
const CHAIN = ["/a", "/a/b", "/a/b/c", "/a/b/c/d", "/a/b/c/d/e"];

describe("memcg", () => {
  describe("hierarchical charging", () => {
    it("a charge five levels deep counts in every level and in the root's stat; the uncharge gives it all back", () => {
      const k = bootMemcg();
      const leaf = memcgAt(k, "/a/b/c/d/e");
      expect(memCgroupChargeDmabuf(leaf, 3, GFP_KERNEL)).toBe(true);
      for (const p of CHAIN) {
        expect(current(k, p)).toBe(PAGES(3));
        expect(dmabuf(k, p)).toBe(PAGES(3));
      }
      expect(memcgPageStateLocal(leaf, "MEMCG_DMABUF")).toBe(3);
      expect(memcgPageStateLocal(memcgAt(k, "/a/b"), "MEMCG_DMABUF")).toBe(0);
      expect(dmabuf(k, "/")).toBe(PAGES(3));
      expect(rootMemCgroup(k)!.memory.usage).toBe(3);
      expect(k.leakReport().entries.map((e) => [e.kind, e.count])).toEqual([["memcg_dmabuf", 3]]);
      memCgroupUnchargeDmabuf(leaf, 3);
      for (const p of [...CHAIN, "/"]) expect(dmabuf(k, p)).toBe(0n);
      for (const p of CHAIN) expect(current(k, p)).toBe(0n);
      expect(k.leakReport().empty).toBe(true);
      expect(k.warnings()).toEqual([]);
    });

    it.each(CHAIN.map((limited, level) => ({ desc: `limit at level ${level + 1} (${limited})`, limited })))(
      "$desc: a charge that would go over it fails and leaves every level where it was",
      ({ limited }) => {
        const k = bootMemcg();
        const leaf = memcgAt(k, "/a/b/c/d/e");
        const sibling = memcgAt(k, `${limited}/sib`);
        expect(memCgroupChargeDmabuf(sibling, 10, GFP_KERNEL)).toBe(true);
        cgroupWrite(k, limited, "memory.max", String(PAGES(26)));
        const before = CHAIN.map((p) => current(k, p));
        expect(memCgroupChargeDmabuf(leaf, 17, GFP_KERNEL)).toBe(false);
        expect(CHAIN.map((p) => current(k, p))).toEqual(before);
        expect(dmabuf(k, "/")).toBe(PAGES(10));
        expect(memCgroupFromCgroup(k, k.cgroups.lookup(limited)!)!.memory.failcnt).toBeGreaterThan(0);
        // 16 pages still fit under 26 with the sibling's 10.
        expect(memCgroupChargeDmabuf(leaf, 16, GFP_KERNEL)).toBe(true);
        expect(current(k, limited)).toBe(PAGES(26));
        memCgroupUnchargeDmabuf(leaf, 16);
        memCgroupUnchargeDmabuf(sibling, 10);
        expect(k.leakReport().empty).toBe(true);
      },
    );

    it("the root is never limited and is not charged for its own tasks, but its stat counts everything (the system-wide view)", () => {
      const k = bootMemcg();
      const root = rootMemCgroup(k)!;
      expect(memCgroupIsRoot(root)).toBe(true);
      expect(memCgroupChargeDmabuf(root, 1_000_000, GFP_KERNEL)).toBe(true);
      expect(root.memory.usage).toBe(0); // try_charge() returns early for the root
      expect(memCgroupChargeDmabuf(memcgAt(k, "/x"), 5, GFP_KERNEL)).toBe(true);
      expect(memCgroupChargeDmabuf(memcgAt(k, "/y/z"), 7, GFP_KERNEL)).toBe(true);
      expect(root.memory.usage).toBe(12); // children's charges reach the root's counter
      expect(memcgPageState(root, "MEMCG_DMABUF")).toBe(1_000_012);
      expect(cgroupRead(k, "/", "memory.stat")).toBe(`dmabuf ${PAGES(1_000_012)}\n`);
      memCgroupUnchargeDmabuf(root, 1_000_000);
      memCgroupUnchargeDmabuf(memcgAt(k, "/x"), 5);
      memCgroupUnchargeDmabuf(memcgAt(k, "/y/z"), 7);
      expect(root.memory.usage).toBe(0);
      expect(k.leakReport().empty).toBe(true);
    });

    it("an uncharge of more than was charged WARNs (page_counter underflow) and shows in the leak report", () => {
      const k = bootMemcg();
      const m = memcgAt(k, "/u");
      memCgroupChargeDmabuf(m, 2, GFP_KERNEL);
      memCgroupUnchargeDmabuf(m, 2);
      memCgroupUnchargeDmabuf(m, 2);
      expect(k.warnings().some((w) => w.includes("page_counter underflow"))).toBe(true);
      expect(k.leakReport().entries.map((e) => e.kind)).toEqual(["memcg_dmabuf_underflow"]);
      expect(dmabuf(k, "/u")).toBe(0n); // memcg_page_state() reads a negative value as 0
    });
  });

  describe("the charge path over a limit (try_charge)", () => {
    it.each([
      { desc: "GFP_KERNEL, costly order: 18 max events (1 + drain + 16 retries), no OOM", gfp: GFP_KERNEL, nr: 16, ok: false, max: 2 + MAX_RECLAIM_RETRIES, oom: 0 },
      { desc: "GFP_KERNEL, order 3, nobody to kill: the OOM killer runs and gives up", gfp: GFP_KERNEL, nr: 8, ok: false, max: 2 + MAX_RECLAIM_RETRIES, oom: 1 },
      { desc: "GFP_NOWAIT: cannot reclaim, fails at once", gfp: GFP_NOWAIT, nr: 8, ok: false, max: 0, oom: 0 },
      { desc: "__GFP_NORETRY: fails after the drain retry", gfp: GFP_KERNEL | __GFP_NORETRY, nr: 8, ok: false, max: 2, oom: 0 },
      { desc: "__GFP_RETRY_MAYFAIL: all retries, no OOM", gfp: GFP_KERNEL | __GFP_RETRY_MAYFAIL, nr: 2, ok: false, max: 2 + MAX_RECLAIM_RETRIES, oom: 0 },
      { desc: "__GFP_NOFAIL: forced over the limit", gfp: GFP_KERNEL | __GFP_NOFAIL, nr: 16, ok: true, max: 2 + MAX_RECLAIM_RETRIES, oom: 0 },
    ])("$desc", ({ gfp, nr, ok, max, oom }) => {
      const k = bootMemcg();
      const m = memcgAt(k, "/lim/leaf");
      cgroupWrite(k, "/lim", "memory.max", "4096");
      expect(memCgroupChargeDmabuf(m, nr, gfp)).toBe(ok);
      const ev = memcgMemoryEvents(memcgAt(k, "/lim"));
      expect({ max: ev.max, oom: ev.oom }).toEqual({ max, oom });
      expect(memcgMemoryEvents(memcgAt(k, "/lim"), true).max).toBe(max);
      expect(memcgMemoryEvents(m).max).toBe(0); // raised on the memcg that refused, and its ancestors
      expect(current(k, "/lim")).toBe(ok ? PAGES(nr) : 0n);
      if (ok) memCgroupUnchargeDmabuf(m, nr);
      expect(k.leakReport().empty).toBe(true);
    });

    it("events are hierarchical up to (not including) the root; memory.events.local only counts the memcg that refused", () => {
      const k = bootMemcg();
      k.cgroups.mkdirP("/a/b/c");
      cgroupWrite(k, "/a/b", "memory.max", "0");
      expect(memCgroupChargeDmabuf(memcgAt(k, "/a/b/c"), 1, GFP_KERNEL | __GFP_NORETRY)).toBe(false);
      expect(cgroupRead(k, "/a/b", "memory.events")).toBe("low 0\nhigh 0\nmax 2\noom 0\noom_kill 0\noom_group_kill 0\n");
      expect(cgroupRead(k, "/a", "memory.events")).toBe("low 0\nhigh 0\nmax 2\noom 0\noom_kill 0\noom_group_kill 0\n");
      expect(cgroupRead(k, "/a", "memory.events.local")).toBe("low 0\nhigh 0\nmax 0\noom 0\noom_kill 0\noom_group_kill 0\n");
      expect(cgroupRead(k, "/a/b/c", "memory.events")).toContain("max 0\n");
    });

    it("an injected memcg_charge failure fails the charge without touching a counter", () => {
      const k = bootMemcg();
      const m = memcgAt(k, "/f");
      k.faults.inject({ site: "memcg_charge", nth: 1 });
      expect(memCgroupChargeDmabuf(m, 4, GFP_KERNEL)).toBe(false);
      expect(current(k, "/f")).toBe(0n);
      expect(memcgMemoryEvents(m).max).toBe(0);
      expect(memCgroupChargeDmabuf(m, 4, GFP_KERNEL)).toBe(true);
      expect(k.faults.records().map((r) => [r.site, r.failed])).toEqual([
        ["memcg_charge", true],
        ["memcg_charge", false],
      ]);
      memCgroupUnchargeDmabuf(m, 4);
    });
    it.each([
      { desc: "recording on, no rule", recordLimit: 10, rule: false, label: "dmabuf 2 page(s) to /g/h", fails: false },
      { desc: "recording off, a rule on the label", recordLimit: 0, rule: true, label: undefined, fails: true },
      { desc: "recording off, no rule: the label is not built", recordLimit: 0, rule: false, label: undefined, fails: false },
    ])("memcg_charge fault-injection label: $desc", ({ recordLimit, rule, label, fails }) => {
      const k = bootMemcg();
      const m = memcgAt(k, "/g/h");
      k.faults.recordLimit = recordLimit;
      if (rule) k.faults.inject({ site: "memcg_charge", what: "dmabuf 2 page(s) to /g/h" });
      const before = k.faults.attempts;
      expect(memCgroupChargeDmabuf(m, 2, GFP_KERNEL)).toBe(!fails);
      expect(k.faults.attempts).toBe(before + 1);
      expect(k.faults.records().at(-1)?.what).toBe(label);
      expect(memcgPageState(memcgAt(k, "/g"), "MEMCG_DMABUF")).toBe(fails ? 0 : 2);
      if (!fails) memCgroupUnchargeDmabuf(m, 2);
      expect(memcgPageState(memcgAt(k, "/g"), "MEMCG_DMABUF")).toBe(0);
    });

    it("the hierarchical MEMCG_DMABUF is flushed on read and before an offline memcg is freed", () => {
      const k = bootMemcg();
      const leaf = memcgAt(k, "/p/q");
      const p = memcgAt(k, "/p");
      expect(memCgroupChargeDmabuf(leaf, 3, GFP_KERNEL)).toBe(true);
      expect(memcgPageState(p, "MEMCG_DMABUF")).toBe(3);
      expect(memcgPageStateLocal(p, "MEMCG_DMABUF")).toBe(0);
      k.cgroups.rmdir(k.cgroups.lookup("/p/q")!);
      memCgroupUnchargeDmabuf(leaf, 3);
      expect(memcgPageState(p, "MEMCG_DMABUF")).toBe(0);
      expect(memcgPageState(rootMemCgroup(k)!, "MEMCG_DMABUF")).toBe(0);
    });
  });

  describe("memcg OOM killer", () => {
    it.each([
      { desc: "oom_score_adj -1000 protects every task: nothing is killable", adj: [-1000, -1000], order: [] as number[] },
      { desc: "the highest oom_score_adj goes first", adj: [500, 0], order: [0, 1] },
      { desc: "oom_score_adj is scaled by limit/1000 pages: under a 999-page limit it has no weight, so the tie rule decides", adj: [500, 0], order: [1, 0], limit: 999 },
      { desc: "on a tie the last task evaluated goes first", adj: [0, 0], order: [1, 0] },
      { desc: "a protected task survives", adj: [0, -1000], order: [0] },
    ])("$desc; killing does not free memory held elsewhere, so the charge still fails", ({ adj, order, limit = 2000 }) => {
      const k = bootMemcg();
      const cg = k.cgroups.mkdirP("/v");
      const tasks = adj.map((a, i) => {
        const t = spawn(k, `t${i}`, "u:r:t:s0", cg);
        setOomScoreAdj(t, a);
        return t;
      });
      const m = memCgroupFromCgroup(k, cg)!;
      cgroupWrite(k, cg, "memory.max", String(PAGES(limit)));
      expect(memCgroupChargeDmabuf(m, limit, GFP_KERNEL)).toBe(true);
      expect(memCgroupChargeDmabuf(m, 1, GFP_KERNEL)).toBe(false);
      const killed = k.printk
        .records()
        .map((r) => /^Memory cgroup out of memory: Killed process (\d+) /.exec(r.text)?.[1])
        .filter((p): p is string => p !== undefined)
        .map((p) => tasks.findIndex((t) => t.pid === Number(p)));
      expect(killed).toEqual(order);
      expect(tasks.map((t, i) => (t.state === "running" ? null : i)).filter((i) => i !== null).sort()).toEqual([...order].sort());
      expect(memcgMemoryEvents(m)).toMatchObject({ oom: order.length + 1, oom_kill: order.length });
      expect(k.printk.contains("Out of memory and no killable processes...")).toBe(true);
      expect(k.printk.contains("init invoked oom-killer: gfp_mask=0xcc0(GFP_KERNEL), order=0, oom_score_adj=0")).toBe(true);
      if (order.length) {
        const v = tasks[order[0]!]!;
        expect(k.printk.contains(`oom-kill:constraint=CONSTRAINT_MEMCG,nodemask=(null),cpuset=/,mems_allowed=0,oom_memcg=/v,task_memcg=/v,task=${v.comm},pid=${v.pid},uid=0`)).toBe(true);
        expect(k.printk.contains(`Memory cgroup out of memory: Killed process ${v.pid} (${v.comm}) total-vm:0kB, anon-rss:0kB, file-rss:0kB, shmem-rss:0kB, UID:0 pgtables:0kB oom_score_adj:${adj[order[0]!]}`)).toBe(true);
      }
      expect(() => setOomScoreAdj(tasks[0]!, 1001)).toThrow(expect.objectContaining({ errno: "EINVAL" }));
      memCgroupUnchargeDmabuf(m, limit);
    });

    it("writing memory.max below the usage OOM-kills the cgroup's tasks until nothing is left to kill; the write succeeds", () => {
      const k = bootMemcg();
      const cg = k.cgroups.mkdirP("/shrink");
      const t = spawn(k, "t", "u:r:t:s0", cg);
      const m = memCgroupFromCgroup(k, cg)!;
      memCgroupChargeDmabuf(m, 8, GFP_KERNEL);
      cgroupWrite(k, cg, "memory.max", "4096");
      expect(t.state).not.toBe("running");
      expect(cgroupRead(k, cg, "memory.max")).toBe("4096\n");
      expect(memcgMemoryEvents(m)).toMatchObject({ oom: 2, oom_kill: 1 });
      memCgroupUnchargeDmabuf(m, 8);
    });
    it("a process that lowers its own cgroup's memory.max below the usage can be the victim: it is killed when the write returns", () => {
      const k = bootMemcg();
      const cg = k.cgroups.mkdirP("/self");
      const t = spawn(k, "t", "u:r:t:s0", cg);
      const m = memCgroupFromCgroup(k, cg)!;
      memCgroupChargeDmabuf(m, 8, GFP_KERNEL);
      k.runAs(t, () => cgroupWrite(k, cg, "memory.max", "4096"));
      expect(t.state).not.toBe("running");
      expect(memcgMemoryEvents(m)).toMatchObject({ oom: 1, oom_kill: 1 });
      memCgroupUnchargeDmabuf(m, 8);
    });
  });

  describe("interface files", () => {
    it.each([
      { input: "max", pages: PAGE_COUNTER_MAX },
      { input: "max\n", pages: PAGE_COUNTER_MAX },
      { input: "0", pages: 0 },
      { input: "4096", pages: 1 },
      { input: "8191", pages: 1 },
      { input: "1k", pages: 0 },
      { input: "64K", pages: 16 },
      { input: "1M\n", pages: 256 },
      { input: "2G", pages: 524288 },
      { input: "0x2000", pages: 2 },
      { input: "020000", pages: 2 },
      { input: "9223372036854775807", pages: PAGE_COUNTER_MAX },
      { input: "-1", pages: "EINVAL" },
      { input: "12 pages", pages: "EINVAL" },
      { input: "", pages: "EINVAL" },
    ])("memory.max accepts $input", ({ input, pages }) => {
      if (pages === "EINVAL") expect(() => pageCounterMemparse(input)).toThrow(expect.objectContaining({ errno: "EINVAL" }));
      else expect(pageCounterMemparse(input)).toBe(pages);
    });

    it("memory.max reads back as max or bytes; memory.peak keeps the highest usage", () => {
      const k = bootMemcg();
      const m = memcgAt(k, "/files");
      expect(cgroupRead(k, "/files", "memory.max")).toBe("max\n");
      cgroupWrite(k, "/files", "memory.max", "1M");
      expect(cgroupRead(k, "/files", "memory.max")).toBe("1048576\n");
      memCgroupChargeDmabuf(m, 5, GFP_KERNEL);
      memCgroupUnchargeDmabuf(m, 5);
      memCgroupChargeDmabuf(m, 2, GFP_KERNEL);
      expect(cgroupRead(k, "/files", "memory.current")).toBe(`${PAGES(2)}\n`);
      expect(cgroupRead(k, "/files", "memory.peak")).toBe(`${PAGES(5)}\n`);
      memCgroupUnchargeDmabuf(m, 2);
    });

    it.each([
      { path: "/", file: "memory.current" as const, errno: "ENOENT" },
      { path: "/", file: "memory.max" as const, errno: "ENOENT" },
      { path: "/", file: "memory.events" as const, errno: "ENOENT" },
      { path: "/", file: "memory.stat" as const, errno: null },
      { path: "/", file: "cgroup.procs" as const, errno: null },
      { path: "/nope", file: "memory.stat" as const, errno: "ENOENT" },
    ])("$path $file: $errno", ({ path, file, errno }) => {
      const k = bootMemcg();
      if (errno) expect(() => cgroupRead(k, path, file)).toThrow(expect.objectContaining({ errno }));
      else expect(typeof cgroupRead(k, path, file)).toBe("string");
    });

    it.each([
      { file: "memory.stat" as const, value: "1", errno: "EACCES" },
      { file: "memory.max" as const, value: "lots", errno: "EINVAL" },
      { file: "cgroup.procs" as const, value: "x", errno: "EINVAL" },
      { file: "cgroup.procs" as const, value: "4242", errno: "ESRCH" },
    ])("writing $value to $file: $errno", ({ file, value, errno }) => {
      const k = bootMemcg();
      k.cgroups.mkdirP("/w");
      expect(() => cgroupWrite(k, "/w", file, value)).toThrow(expect.objectContaining({ errno }));
    });
  });

  describe("membership, migration and removal", () => {
    it("get_mem_cgroup_from_mm() follows the mm's owner, falls back to current->mm, then to the root; each lookup takes a css reference", () => {
      const k = bootMemcg();
      const t = spawn(k, "t", "u:r:t:s0", "/owner");
      const z = spawn(k, "z", "u:r:t:s0", "/zombie", t);
      k.exitTask(z, 0);
      const m1 = getMemCgroupFromMm(k, t.mm);
      expect(m1!.cgroup.path).toBe("/owner");
      expect(m1!.css.refcnt).toBe(1);
      expect(k.leakReport().entries.filter((e) => e.kind.startsWith("mem")).map((e) => [e.kind, e.count])).toEqual([["mem_cgroup_css", 1]]);
      const m2 = k.runAs(t, () => getMemCgroupFromMm(k, null));
      expect(m2).toBe(m1);
      const m3 = k.runAs(z, () => getMemCgroupFromMm(k, null));
      expect(memCgroupIsRoot(m3!)).toBe(true);
      for (const m of [m1, m2, m3]) memCgroupPut(m);
      expect(k.leakReport().entries.filter((e) => e.kind.startsWith("mem"))).toEqual([]);
      memCgroupPut(m1);
      expect(k.warnings().some((w) => w.includes("css_put: reference count underflow"))).toBe(true);
    });

    it("migration (cgroup.procs) moves the process, not its charges", () => {
      const k = bootMemcg();
      const t = spawn(k, "t", "u:r:t:s0", "/old");
      k.cgroups.mkdirP("/new");
      const old = memCgroupFromTask(t)!;
      memCgroupChargeDmabuf(old, 3, GFP_KERNEL);
      cgroupWrite(k, "/new", "cgroup.procs", `${t.pid}\n`);
      expect(cgroupRead(k, "/new", "cgroup.procs")).toBe(`${t.pid}\n`);
      expect(cgroupRead(k, "/old", "cgroup.procs")).toBe("");
      expect(memCgroupFromTask(t)!.cgroup.path).toBe("/new");
      expect(dmabuf(k, "/old")).toBe(PAGES(3));
      expect(dmabuf(k, "/new")).toBe(0n);
      memCgroupUnchargeDmabuf(old, 3);
    });

    it("a cgroup removed while charged goes offline; its charge stays counted in the parent and is released once later", () => {
      const k = bootMemcg();
      const parent = k.cgroups.mkdirP("/p");
      const child = k.cgroups.mkdirP("/p/gone");
      const m = memCgroupFromCgroup(k, child)!;
      cssGet(m.css);
      memCgroupChargeDmabuf(m, 6, GFP_KERNEL);
      k.cgroups.rmdir(child);
      expect(m.css.online).toBe(false);
      expect(() => cgroupRead(k, child, "memory.stat")).toThrow(expect.objectContaining({ errno: "ENOENT" }));
      expect(dmabuf(k, parent)).toBe(PAGES(6));
      expect(current(k, parent)).toBe(PAGES(6));
      expect(k.leakReport().text()).toContain("memcg /p/gone (offline): dmabuf 24576 bytes still charged");
      memCgroupUnchargeDmabuf(m, 6);
      memCgroupPut(m);
      expect(dmabuf(k, parent)).toBe(0n);
      expect(current(k, parent)).toBe(0n);
      expect(k.leakReport().empty).toBe(true);
      expect(k.warnings()).toEqual([]);
    });
  });

  it("cgroup_disable=memory: nothing is charged, lookups give NULL, the memory files do not exist", () => {
    const k = new Kernel(topologyKernelOptions("same-switch"));
    k.loadModule(memcgModuleWithParams({ cgroupDisableMemory: true }));
    const t = spawn(k, "t", "u:r:t:s0", "/d");
    expect(memCgroupDisabled(k)).toBe(true);
    expect(getMemCgroupFromMm(k, t.mm)).toBeNull();
    expect(memCgroupFromTask(t)).toBeNull();
    expect(rootMemCgroup(k)).toBeNull();
    expect(() => cgroupRead(k, "/d", "memory.stat")).toThrow(expect.objectContaining({ errno: "ENOENT" }));
    expect(cgroupRead(k, "/d", "cgroup.procs")).toBe(`${t.pid}\n`);
    expect(k.printk.contains("cgroup: Disabling memory control group subsystem")).toBe(true);
  });

  it("without the memory controller loaded, memcg counts as disabled", () => {
    const k = new Kernel(topologyKernelOptions("same-switch"));
    expect(memCgroupDisabled(k)).toBe(true);
    expect(getMemCgroupFromMm(k, k.init.mm)).toBeNull();
  });
});
