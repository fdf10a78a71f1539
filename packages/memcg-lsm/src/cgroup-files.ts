// The cgroup v2 interface files of the memory controller (memory.max, memory.current, memory.stat).
import { KernelError, PAGE_SIZE, type Cgroup, type Kernel } from "@dmabuf-sdk/dmabuf-core";
import { GFP_KERNEL } from "./gfp.js";
import { oomDeliverPendingKill, taskIsDying } from "./oom-kill.js";
import {
  MAX_RECLAIM_RETRIES,
  MEMCG_MEMORY_EVENTS,
  PAGE_COUNTER_MAX,
  _memCgroupSetMax,
  memCgroupFromCgroup,
  memCgroupIsRoot,
  memCgroupOutOfMemory,
  memcgMemoryEvent,
  memcgMemoryEvents,
  memcgPageState,
  type MemCgroup,
} from "./memcontrol.js";

/** Interface files of a cgroup v2 directory the model serves. @public */
export type CgroupFile =
  | "cgroup.procs"
  | "memory.current"
  | "memory.max"
  | "memory.peak"
  | "memory.stat"
  | "memory.events"
  | "memory.events.local";

/** Files that exist on non-root cgroups only (`CFTYPE_NOT_ON_ROOT`). */
const NOT_ON_ROOT = new Set<CgroupFile>(["memory.current", "memory.max", "memory.peak", "memory.events", "memory.events.local"]);

function resolve(kernel: Kernel, cg: Cgroup | string): Cgroup {
  const c = typeof cg === "string" ? kernel.cgroups.lookup(cg) : cg;
  if (!c || c.removed) throw new KernelError("ENOENT", "kernfs_iop_lookup", `cgroup ${typeof cg === "string" ? cg : cg.path}`);
  return c;
}

function memcgFile(kernel: Kernel, c: Cgroup, file: CgroupFile): MemCgroup {
  const memcg = memCgroupFromCgroup(kernel, c);
  if (!memcg || (NOT_ON_ROOT.has(file) && memCgroupIsRoot(memcg))) throw new KernelError("ENOENT", "kernfs_iop_lookup", `${c.path}/${file}`);
  return memcg;
}

const bytes = (pages: number): string => String(BigInt(pages) * BigInt(PAGE_SIZE));

/**
 * Reads a cgroup interface file as `cat` would, e.g.
 * `cgroupRead(kernel, "/client", "memory.stat")` → `"dmabuf 8192\n"`.
 * `memory.max` reads `max` or bytes; `memory.stat` carries the counters the
 * model keeps (`dmabuf`, hierarchical, in bytes); `memory.events` is
 * hierarchical, `memory.events.local` the cgroup's own. The root has
 * `memory.stat` (the system-wide view) and `cgroup.procs` only.
 * @throws KernelError `ENOENT` for a missing or removed cgroup, a file the
 * root does not have, or memory files while memcg is disabled.
 * @public
 */
export function cgroupRead(kernel: Kernel, cgroup: Cgroup | string, file: CgroupFile): string {
  const c = resolve(kernel, cgroup);
  if (file === "cgroup.procs") return c.procs().filter((t) => t.state !== "dead").map((t) => `${t.pid}\n`).join("");
  const memcg = memcgFile(kernel, c, file);
  switch (file) {
    case "memory.current":
      return `${bytes(memcg.memory.usage)}\n`;
    case "memory.max":
      return memcg.memory.max >= PAGE_COUNTER_MAX ? "max\n" : `${bytes(memcg.memory.max)}\n`;
    case "memory.peak":
      return `${bytes(memcg.memory.watermark)}\n`;
    case "memory.stat":
      return `dmabuf ${bytes(memcgPageState(memcg, "MEMCG_DMABUF"))}\n`;
    case "memory.events":
    case "memory.events.local": {
      const ev = memcgMemoryEvents(memcg, file === "memory.events.local");
      return MEMCG_MEMORY_EVENTS.map((e) => `${e} ${ev[e]}\n`).join("");
    }
    default:
      throw new KernelError("ENOENT", "kernfs_iop_lookup", `${c.path}/${String(file)}`);
  }
}

const SUFFIX: Record<string, bigint> = { k: 10n, m: 20n, g: 30n, t: 40n, p: 50n, e: 60n };

/**
 * `page_counter_memparse(buf, "max", &nr_pages)`: `max`, or bytes with an
 * optional K/M/G/T/P/E suffix (`memparse()`), rounded down to pages and capped
 * at {@link PAGE_COUNTER_MAX}. @throws KernelError `EINVAL`.
 * @public
 */
export function pageCounterMemparse(buf: string): number {
  const s = buf.trim();
  if (s === "max") return PAGE_COUNTER_MAX;
  const m = /^(0x[0-9a-f]+|0[0-7]*|[1-9][0-9]*)([kmgtpe]?)$/i.exec(s);
  if (!m) throw new KernelError("EINVAL", "page_counter_memparse", JSON.stringify(buf));
  const n = BigInt.asUintN(64, BigInt(m[1]!.startsWith("0") && !m[1]!.startsWith("0x") && m[1]!.length > 1 ? `0o${m[1]!.slice(1)}` : m[1]!) << (SUFFIX[m[2]!.toLowerCase()] ?? 0n));
  const pages = n / BigInt(PAGE_SIZE);
  return pages >= BigInt(PAGE_COUNTER_MAX) ? PAGE_COUNTER_MAX : Number(pages);
}

/**
 * `memory_max_write()`: sets the limit, then, while the usage is above it,
 * counts `oom` and runs the memcg OOM killer until the usage fits or nothing
 * is killable (dma-buf memory cannot be reclaimed). The write itself succeeds.
 */
function memoryMaxWrite(memcg: MemCgroup, buf: string): void {
  const max = pageCounterMemparse(buf);
  _memCgroupSetMax(memcg, max);
  let drained = false;
  let nrReclaims = MAX_RECLAIM_RETRIES;
  for (;;) {
    if (memcg.memory.usage <= max) break;
    if (taskIsDying(memcg.kernel.current)) break; // signal_pending(current)
    if (!drained) {
      drained = true;
      continue;
    }
    if (nrReclaims) {
      nrReclaims--; // try_to_free_mem_cgroup_pages() reclaims nothing
      continue;
    }
    memcgMemoryEvent(memcg, "oom");
    if (!memCgroupOutOfMemory(memcg, GFP_KERNEL, 0)) break;
  }
  oomDeliverPendingKill(memcg.kernel);
}

/**
 * Writes a cgroup interface file as `echo value > file` would:
 * `memory.max` (`max` or bytes, K/M/G suffixes) and `cgroup.procs` (a pid:
 * migrates the process; its charges stay where they are).
 * @throws KernelError `ENOENT` (no such cgroup or file), `EINVAL` (bad
 * value), `ESRCH` (no such process), `EACCES` (a read-only file).
 * @public
 */
export function cgroupWrite(kernel: Kernel, cgroup: Cgroup | string, file: CgroupFile, value: string): void {
  const c = resolve(kernel, cgroup);
  if (file === "cgroup.procs") {
    const s = value.trim();
    if (!/^\d+$/.test(s)) throw new KernelError("EINVAL", "cgroup_procs_write", JSON.stringify(value));
    const t = kernel.findPid(Number(s))?.task;
    if (!t || t.state === "dead") throw new KernelError("ESRCH", "cgroup_procs_write", `pid ${s}`);
    if (t.state === "zombie") return; // cgroup_migrate_add_task() skips exiting tasks
    kernel.cgroups.migrate(t, c);
    return;
  }
  const memcg = memcgFile(kernel, c, file);
  if (file !== "memory.max") throw new KernelError("EACCES", "kernfs_fop_write", `${c.path}/${file} is read-only`);
  memoryMaxWrite(memcg, value);
}
