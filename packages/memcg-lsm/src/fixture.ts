// The memcg-lsm conformance fixtures: a system-heap buffer allocated by the case's task, and the charge scenarios.
import {
  KernelError,
  O_CLOEXEC,
  O_RDONLY,
  PAGE_SIZE,
  errnoName,
  type Cgroup,
  type ConformanceFixtures,
  type ConformanceScenario,
  type DmaBuf,
  type ExportedBuffer,
  type ExporterFixture,
  type FixtureContext,
  type Kernel,
  type KernelModule,
  type Task,
} from "@dmabuf-sdk/dmabuf-core";
import { cgroupRead, cgroupWrite } from "./cgroup-files.js";
import { dmaBufMemcg } from "./dma-buf-memcg.js";
import { dmaHeapAllocFd } from "./dma-heap-user.js";
import { systemHeapModule, systemHeapRead, systemHeapWrite, isSystemHeapBuffer } from "./heaps/system-heap.js";
import { memcgMemoryEvents, memCgroupFromCgroup } from "./memcontrol.js";
import { selinuxAuditRecords, selinuxLoadPolicy, selinuxModule, selinuxSetEnforce } from "./selinux/selinux.js";

const errno = (ret: number): string => (ret >= 0 ? "ok" : (errnoName(ret) ?? `errno ${-ret}`));

/**
 * Conformance fixture: a buffer of the system heap, allocated by the case's
 * task through `/dev/dma_heap/system` (the task holds the fd until
 * `release()`). Page-backed, SGT without P2P, placeable on any topology; the
 * heap cannot move or revoke its buffers, so it has no `invalidate`.
 * @public
 */
export const systemHeapFixture: ExporterFixture = {
  name: "system-heap",
  description: "dma-heap system heap: page-backed buffer exported as SGT (DMA_BUF_SIMPLE_SGT_EXP_MATCH)",
  get modules() {
    return [systemHeapModule];
  },
  placeable: () => true,
  export(ctx: FixtureContext, size: bigint): ExportedBuffer {
    const { kernel, task } = ctx;
    const fd = dmaHeapAllocFd(task, "system", size);
    if (fd < 0) throw new KernelError(errnoName(fd) ?? "EINVAL", "DMA_HEAP_IOCTL_ALLOC", `system heap, ${size} bytes`);
    const dmabuf = task.files.lookup(fd)!.privateData as DmaBuf;
    if (!isSystemHeapBuffer(dmabuf)) throw new KernelError("EINVAL", "system-heap fixture", "not a system-heap buffer");
    const buffer = dmabuf.priv;
    return {
      dmabuf,
      write: (offset, data) => systemHeapWrite(kernel, buffer, offset, data),
      read: (offset, len) => systemHeapRead(kernel, buffer, offset, len),
      release: () => void task.sys.close(fd),
    };
  },
};

/** Labels of the scenario processes. */
const ALLOCATOR_CTX = "u:r:allocator_app_t:s0";
const CLIENT_CTX = "u:r:client_app_t:s0";
const SIZE = 64n * 1024n;

/** The processes and cgroups of a charging scenario: an allocator service and its client, each in its own cgroup. */
interface World {
  readonly kernel: Kernel;
  readonly base: Cgroup;
  readonly gAlloc: Cgroup;
  readonly gClient: Cgroup;
  readonly allocator: Task;
  readonly client: Task;
  /** A pidfd for the client in the allocator's fd table. */
  readonly pidfd: number;
  bytes(c: Cgroup): bigint;
}

function world(kernel: Kernel, opts: { clientParent?: "allocator" } = {}): World {
  const base = kernel.cgroups.mkdirP("/memcg-lsm-scenario");
  const gAlloc = kernel.cgroups.mkdir(base, "allocator");
  const gClient = kernel.cgroups.mkdir(base, "client");
  const allocator = kernel.fork({ comm: "allocator", cred: { security: ALLOCATOR_CTX }, cgroup: gAlloc, parent: kernel.init });
  const client = kernel.fork({ comm: "client", cred: { security: CLIENT_CTX }, cgroup: gClient, parent: opts.clientParent ? allocator : kernel.init });
  // An allocator service keeps its heap open; the pidfd is then never fd 0 ("not set" for charge_pid_fd).
  allocator.sys.open("/dev/dma_heap/system", O_RDONLY | O_CLOEXEC);
  const pidfd = allocator.sys.pidfdOpen(client.pid);
  const bytes = (c: Cgroup): bigint => BigInt(/^dmabuf (\d+)$/m.exec(cgroupRead(kernel, c, "memory.stat"))![1]!);
  return { kernel, base, gAlloc, gClient, allocator, client, pidfd, bytes };
}

function teardown(w: World): void {
  for (const t of [w.client, w.allocator]) if (t.state === "running") w.kernel.exitTask(t, 0);
  for (const t of [w.client, w.allocator]) if (t.state === "zombie") w.kernel.reap(t);
  for (const c of [w.gClient, w.gAlloc, w.base]) if (!c.removed) w.kernel.cgroups.rmdir(c);
}

type Result = ReturnType<ConformanceScenario["run"]>;

/** What a scenario's action reports: one allocation for `runCharge` to check, or a self-checked sequence. */
type Act =
  | { readonly ret: number; readonly expect: "client" | "allocator" | "none"; readonly broken?: readonly string[]; readonly extra?: Record<string, string | number> }
  | { readonly selfChecked: true; readonly broken: readonly string[]; readonly extra?: Record<string, string | number> };

/**
 * Runs `act` in a fresh world and checks the charge afterwards: `expect`
 * names the cgroup that must hold `SIZE` bytes of `dmabuf` while the buffer
 * lives (none when the allocation must fail). Any broken invariant replaces
 * the outcome with `invariant: …`, so the oracle sees a mismatch.
 */
function runCharge(ctx: FixtureContext, policy: string | null, act: (w: World) => Act, opts: { clientParent?: "allocator"; enforcing?: boolean } = {}): Result {
  const kernel = ctx.kernel;
  if (policy !== null) selinuxLoadPolicy(kernel, policy);
  if (opts.enforcing === false) selinuxSetEnforce(kernel, false);
  const w = world(kernel, opts);
  const buffersBefore = kernel.dmaBuf.list.size;
  const fdsBefore = w.allocator.files.fds().length;
  const broken: string[] = [];
  let outcome = "ok";
  let details: Record<string, string | number> = {};
  try {
    const r = act(w);
    broken.push(...r.broken ?? []);
    details = { ...r.extra };
    if (!("selfChecked" in r)) {
      const { ret, expect } = r;
      outcome = errno(ret);
      const got = { client: w.bytes(w.gClient), allocator: w.bytes(w.gAlloc) };
      details = { ...details, client_dmabuf: Number(got.client), allocator_dmabuf: Number(got.allocator) };
      if (ret >= 0) {
        const d = (w.allocator.files.lookup(ret)?.privateData as DmaBuf | undefined) ?? null;
        const charged = d ? dmaBufMemcg(d) : null;
        if (expect === "none" ? charged !== null : charged?.cgroup !== (expect === "client" ? w.gClient : w.gAlloc)) broken.push(`charged to ${charged?.cgroup.path ?? "nothing"}, expected ${expect}`);
        if (expect !== "none" && got[expect] !== SIZE) broken.push(`${expect} dmabuf ${got[expect]}, expected ${SIZE}`);
        if (w.bytes(w.base) !== got.client + got.allocator) broken.push("parent dmabuf is not the sum of its children");
        w.allocator.sys.close(ret);
      } else {
        if (kernel.dmaBuf.list.size !== buffersBefore) broken.push("a failed allocation left a dma-buf");
        if (w.allocator.files.fds().length !== fdsBefore) broken.push("a failed allocation left an fd");
      }
    }
    if (!w.base.removed && w.bytes(w.base) !== 0n) broken.push(`after release the cgroups still hold ${w.bytes(w.base)} bytes`);
  } finally {
    teardown(w);
  }
  return { outcome: broken.length ? `invariant: ${broken.join("; ")}` : outcome, details };
}

/** A function, not a constant: `system_heap` provides these scenarios, so the import is cyclic. */
const scenarioModules = (): KernelModule[] => [systemHeapModule, selinuxModule];

const allow = (rule: string): string => `class dma_heap { charge_to }\n${rule}\n`;

function lastAvc(kernel: Kernel): string {
  return selinuxAuditRecords(kernel).at(-1)?.text ?? "";
}

/** A scenario on `same-switch` with the heap and SELinux modules loaded. */
function scenario(name: string, description: string, run: ConformanceScenario["run"]): ConformanceScenario {
  return {
    name,
    description,
    get modules() {
      return scenarioModules();
    },
    topology: "same-switch",
    run,
  };
}

/** The memcg/LSM scenarios (expected outcome in each description). @public */
export const memcgLsmScenarios: readonly ConformanceScenario[] = [
  scenario("memcg-lsm/charge-other-allowed", "allocator charges a buffer to its client's cgroup; policy allows allocator_app_t client_app_t:dma_heap charge_to (expected: ok)", (ctx) =>
    runCharge(ctx, allow("allow allocator_app_t client_app_t:dma_heap charge_to;"), (w) => ({
      ret: dmaHeapAllocFd(w.allocator, "system", SIZE, { chargePidFd: w.pidfd }),
      expect: "client",
    })),
  ),
  scenario("memcg-lsm/charge-other-denied", "no rule for allocator_app_t -> client_app_t in enforcing mode: EACCES, no buffer, no charge, no fd, avc denied permissive=0 (expected: EACCES)", (ctx) =>
    runCharge(ctx, allow("allow allocator_app_t allocator_app_t:dma_heap charge_to;"), (w) => {
      const ret = dmaHeapAllocFd(w.allocator, "system", SIZE, { chargePidFd: w.pidfd });
      const avc = lastAvc(w.kernel);
      const logged = avc.startsWith("avc:  denied  { charge_to } for ") && avc.includes(`scontext=${ALLOCATOR_CTX} tcontext=${CLIENT_CTX} tclass=dma_heap permissive=0`);
      return { ret, expect: "none", broken: logged ? [] : [`no avc denial record (${avc})`], extra: { avc } };
    }),
  ),
  scenario("memcg-lsm/charge-other-permissive", "same denial with SELinux permissive: logged with permissive=1 and allowed (expected: ok)", (ctx) =>
    runCharge(
      ctx,
      allow(""),
      (w) => {
        const ret = dmaHeapAllocFd(w.allocator, "system", SIZE, { chargePidFd: w.pidfd });
        const avc = lastAvc(w.kernel);
        return { ret, expect: "client", broken: avc.endsWith("permissive=1") ? [] : [`no permissive=1 record (${avc})`], extra: { avc } };
      },
      { enforcing: false },
    ),
  ),
  scenario("memcg-lsm/charge-other-permissive-domain", "enforcing, but allocator_app_t is a permissive domain: logged with permissive=1 and allowed (expected: ok)", (ctx) =>
    runCharge(ctx, allow("permissive allocator_app_t;"), (w) => {
      const ret = dmaHeapAllocFd(w.allocator, "system", SIZE, { chargePidFd: w.pidfd });
      const avc = lastAvc(w.kernel);
      return { ret, expect: "client", broken: avc.endsWith("permissive=1") ? [] : [`no permissive=1 record (${avc})`] };
    }),
  ),
  scenario("memcg-lsm/charge-self-pidfd", "charge_pid_fd is the allocator's own pidfd: the hook still runs; allowed by allocator_app_t self:dma_heap charge_to (expected: ok)", (ctx) =>
    runCharge(ctx, allow("allow allocator_app_t self:dma_heap charge_to;"), (w) => {
      const self = w.allocator.sys.pidfdOpen(w.allocator.pid);
      const ret = dmaHeapAllocFd(w.allocator, "system", SIZE, { chargePidFd: self });
      w.allocator.sys.close(self);
      return { ret, expect: "allocator" };
    }),
  ),
  scenario("memcg-lsm/handle-unknown-allow", "a policy that does not define dma_heap, with handle_unknown allow: the charge is allowed (expected: ok)", (ctx) => runCharge(ctx, "handle_unknown allow;\n", (w) => ({ ret: dmaHeapAllocFd(w.allocator, "system", SIZE, { chargePidFd: w.pidfd }), expect: "client" })),
  ),
  scenario("memcg-lsm/bad-pidfd", "charge_pid_fd is an open fd that is not a pidfd (the heap device): EBADF before the LSM hook (expected: EBADF)", (ctx) =>
    runCharge(ctx, allow(""), (w) => {
      const notPidfd = w.allocator.sys.open("/dev/dma_heap/system", O_RDONLY | O_CLOEXEC);
      const avcBefore = selinuxAuditRecords(w.kernel).length;
      const ret = dmaHeapAllocFd(w.allocator, "system", SIZE, { chargePidFd: notPidfd });
      w.allocator.sys.close(notPidfd);
      return { ret, expect: "none", broken: selinuxAuditRecords(w.kernel).length === avcBefore ? [] : ["the LSM hook ran before the pidfd was resolved"] };
    }),
  ),
  scenario("memcg-lsm/reaped-target", "the client exited and was reaped: pidfd_get_task() fails with ESRCH (expected: ESRCH)", (ctx) =>
    runCharge(ctx, allow("allow allocator_app_t client_app_t:dma_heap charge_to;"), (w) => {
      w.kernel.exitTask(w.client, 0);
      return { ret: dmaHeapAllocFd(w.allocator, "system", SIZE, { chargePidFd: w.pidfd }), expect: "none" };
    }),
  ),
  scenario("memcg-lsm/zombie-target", "the client exited but is not reaped: no mm, so get_mem_cgroup_from_mm() falls back to the caller, who is charged (expected: ok)", (ctx) =>
    runCharge(
      ctx,
      allow("allow allocator_app_t client_app_t:dma_heap charge_to;"),
      (w) => {
        w.kernel.exitTask(w.client, 0);
        return { ret: dmaHeapAllocFd(w.allocator, "system", SIZE, { chargePidFd: w.pidfd }), expect: "allocator" };
      },
      { clientParent: "allocator" },
    ),
  ),
  scenario("memcg-lsm/over-limit", "the client's memory.max is below the buffer (a costly order, so no OOM kill): ENOMEM, nothing left (expected: ENOMEM)", (ctx) =>
    runCharge(ctx, allow("allow allocator_app_t client_app_t:dma_heap charge_to;"), (w) => {
      cgroupWrite(w.kernel, w.gClient, "memory.max", String(SIZE - BigInt(PAGE_SIZE)));
      const ret = dmaHeapAllocFd(w.allocator, "system", SIZE, { chargePidFd: w.pidfd });
      const ev = memcgMemoryEvents(memCgroupFromCgroup(w.kernel, w.gClient)!);
      return { ret, expect: "none", broken: w.client.state === "running" ? [] : ["the client was OOM-killed for a costly charge"], extra: { max_events: ev.max, oom_kill: ev.oom_kill } };
    }),
  ),
  scenario("memcg-lsm/oom-kill-in-target", "a small (order <= 3) charge over the client's limit OOM-kills the client, whose own buffer is freed; the retried charge succeeds (expected: ok)", (ctx) =>
    runCharge(ctx, allow("allow allocator_app_t client_app_t:dma_heap charge_to;"), (w) => {
      const small = 8n * BigInt(PAGE_SIZE);
      cgroupWrite(w.kernel, w.gClient, "memory.max", String(SIZE));
      // The client holds a buffer that fills its cgroup.
      const held = dmaHeapAllocFd(w.allocator, "system", SIZE, { chargePidFd: w.pidfd });
      w.allocator.sys.sendFd(w.client, held);
      w.allocator.sys.close(held);
      const ret = dmaHeapAllocFd(w.allocator, "system", small, { chargePidFd: w.pidfd });
      const ev = memcgMemoryEvents(memCgroupFromCgroup(w.kernel, w.gClient)!);
      const broken: string[] = [];
      if (ret < 0) broken.push(`allocation failed: ${errno(ret)}`);
      if (w.client.state === "running") broken.push("the client was not OOM-killed");
      if (ev.oom_kill !== 1) broken.push(`oom_kill ${ev.oom_kill}`);
      if (w.bytes(w.gClient) !== small) broken.push(`client dmabuf ${w.bytes(w.gClient)}, expected ${small}`);
      if (ret >= 0) w.allocator.sys.close(ret);
      return { selfChecked: true, broken, extra: { oom_kill: ev.oom_kill, client: w.client.state } };
    }),
  ),
  scenario("memcg-lsm/release-after-handoff", "the buffer charged to the client is passed to the client, imported with pidfd_getfd by a third process, the allocator and the client exit and the client's cgroup is removed; the charge is released once, with the last reference (expected: ok)", (ctx) =>
    runCharge(ctx, allow("allow allocator_app_t client_app_t:dma_heap charge_to;"), (w) => {
      const k = w.kernel;
      const fd = dmaHeapAllocFd(w.allocator, "system", SIZE, { chargePidFd: w.pidfd });
      if (fd < 0) return { selfChecked: true, broken: [`allocation failed: ${errno(fd)}`] };
      const cfd = w.allocator.sys.sendFd(w.client, fd);
      w.allocator.sys.close(fd);
      const third = k.fork({ comm: "compositor", cgroup: k.cgroups.root, parent: k.init });
      const pfd = third.sys.pidfdOpen(w.client.pid);
      const tfd = third.sys.pidfdGetfd(pfd, cfd);
      third.sys.close(pfd);
      const memcg = dmaBufMemcg(third.files.lookup(tfd)!.privateData as DmaBuf)!;
      k.exitTask(w.client, 0);
      k.cgroups.rmdir(w.gClient);
      const broken: string[] = [];
      if (w.bytes(w.base) !== SIZE || memcg.cgroup !== w.gClient) broken.push("the charge moved or went away while the buffer was still held");
      third.sys.close(tfd);
      if (w.bytes(w.base) !== 0n) broken.push("the last close did not uncharge");
      k.exitTask(third, 0);
      return { selfChecked: true, broken };
    }),
  ),
];

/** What the package offers the conformance matrix. @public */
export const memcgLsmFixtures: ConformanceFixtures = {
  package: "@dmabuf-sdk/memcg-lsm",
  exporters: [systemHeapFixture],
  importers: [],
  scenarios: memcgLsmScenarios,
};
