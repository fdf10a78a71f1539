// mm/oom_kill.c: the memcg OOM killer and oom_score_adj.
import { KernelError, PAGE_SIZE, type Cgroup, type Kernel, type Task } from "@dmabuf-sdk/dmabuf-core";
import { formatGfp, type GfpFlags } from "./gfp.js";
import { memCgroupFromTask, memcgMemoryEvent, type MemCgroup } from "./memcontrol.js";

/** `OOM_SCORE_ADJ_MIN`: a task with this adjustment is never chosen. @public */
export const OOM_SCORE_ADJ_MIN = -1000;
/** `OOM_SCORE_ADJ_MAX`. @public */
export const OOM_SCORE_ADJ_MAX = 1000;
/** Exit code the model gives an OOM-killed task (128 + `SIGKILL`, as a shell reports it). @public */
export const OOM_KILL_EXIT_CODE = 137;

const SCORE_ADJ = new WeakMap<Task, number>();
const DYING = new WeakSet<Task>();
// Kills marked and not yet delivered (an upper bound: a task collected while marked stays counted), so the
// charge path skips the WeakSet lookup when no kill is pending.
let pendingKills = 0;

/** `/proc/<pid>/oom_score_adj` (default 0). @public */
export function oomScoreAdj(task: Task): number {
  return SCORE_ADJ.get(task) ?? 0;
}

/**
 * Writes `/proc/<pid>/oom_score_adj`.
 * @throws KernelError `EINVAL` outside [-1000, 1000].
 * @public
 */
export function setOomScoreAdj(task: Task, adj: number): void {
  if (!Number.isInteger(adj) || adj < OOM_SCORE_ADJ_MIN || adj > OOM_SCORE_ADJ_MAX) throw new KernelError("EINVAL", "oom_score_adj_write", String(adj));
  SCORE_ADJ.set(task, adj);
}

/** `task_is_dying()`: exiting, or killed with the kill not delivered yet. @public */
export function taskIsDying(task: Task): boolean {
  return task.state !== "running" || DYING.has(task);
}

/** `struct oom_control` of a memcg OOM. @public */
export interface OomControl {
  readonly memcg: MemCgroup;
  readonly gfp: GfpFlags;
  readonly order: number;
}

/** Cgroups of the memcg's subtree in `css_next_descendant_pre()` order. */
function* subtreePre(c: Cgroup): Generator<Cgroup> {
  yield c;
  for (const child of c.children.values()) yield* subtreePre(child);
}

/**
 * `oom_badness()`: null (`LONG_MIN`) for init, a task without an mm and
 * `OOM_SCORE_ADJ_MIN`; otherwise RSS + swap + page tables (0 in the model:
 * dma-buf memory is not RSS) plus the scaled `oom_score_adj`.
 */
function oomBadness(task: Task, totalpages: number): number | null {
  if (task.pid === 1 || task.state !== "running" || !task.mm) return null;
  const adj = oomScoreAdj(task);
  if (adj === OOM_SCORE_ADJ_MIN) return null;
  return adj * Math.floor(totalpages / 1000);
}

/** `select_bad_process()` over the memcg's tasks: the highest badness, the last one on a tie (`points < chosen_points` skips). */
function selectBadProcess(oc: OomControl): Task | null {
  const totalpages = oc.memcg.memory.max || 1;
  let chosen: Task | null = null;
  let chosenPoints = Number.NEGATIVE_INFINITY;
  for (const c of subtreePre(oc.memcg.cgroup)) {
    for (const t of c.procs()) {
      const points = oomBadness(t, totalpages);
      if (points === null || points < chosenPoints) continue;
      chosen = t;
      chosenPoints = points;
    }
  }
  return chosen;
}

function dumpHeader(kernel: Kernel, oc: OomControl): void {
  const cur = kernel.current;
  const p = kernel.printk;
  const c = oc.memcg.memory;
  p.warn(`${cur.comm} invoked oom-killer: gfp_mask=${formatGfp(oc.gfp)}, order=${oc.order}, oom_score_adj=${oomScoreAdj(cur)}`);
  p.info(`memory: usage ${c.usage * (PAGE_SIZE / 1024)}kB, limit ${c.max * (PAGE_SIZE / 1024)}kB, failcnt ${c.failcnt}`);
}

/**
 * `oom_kill_process()` + `__oom_kill_process()`: counts `oom_kill` on the
 * victim's memcg, logs the kernel's lines and kills it. A victim other than
 * `current` exits at once (the model has no scheduler: its fds are closed and
 * what they held is released before the charge is retried); `current` is
 * marked dying and exits when the charge returns.
 */
function oomKillProcess(kernel: Kernel, oc: OomControl, victim: Task, message: string): void {
  const memcg = oc.memcg;
  const victimMemcg = memCgroupFromTask(victim);
  kernel.printk.info(
    `oom-kill:constraint=CONSTRAINT_MEMCG,nodemask=(null),cpuset=/,mems_allowed=0,oom_memcg=${memcg.cgroup.path},task_memcg=${victim.cgroup.path},task=${victim.comm},pid=${victim.pid},uid=${victim.cred.uid}`,
  );
  if (victimMemcg) memcgMemoryEvent(victimMemcg, "oom_kill");
  kernel.printk.err(
    `${message}: Killed process ${victim.pid} (${victim.comm}) total-vm:0kB, anon-rss:0kB, file-rss:0kB, shmem-rss:0kB, UID:${victim.cred.uid} pgtables:0kB oom_score_adj:${oomScoreAdj(victim)}`,
  );
  kernel.trace.emit("mark_victim", { pid: victim.pid, comm: victim.comm });
  if (victim === kernel.current) {
    if (!DYING.has(victim)) pendingKills++;
    DYING.add(victim);
  }
  else kernel.exitTask(victim, OOM_KILL_EXIT_CODE);
}

/**
 * `out_of_memory()` for a memcg OOM: a dying `current` frees its own memory
 * (true without a kill); otherwise the worst task of the memcg's subtree is
 * killed (true), or nothing is killable ("Out of memory and no killable
 * processes...", false).
 * @public
 */
export function outOfMemory(oc: OomControl): boolean {
  const kernel = oc.memcg.kernel;
  if (DYING.has(kernel.current)) return true; // task_will_free_mem(current)
  const victim = selectBadProcess(oc);
  dumpHeader(kernel, oc);
  if (!victim) {
    kernel.printk.warn("Out of memory and no killable processes...");
    return false;
  }
  oomKillProcess(kernel, oc, victim, "Memory cgroup out of memory");
  return true;
}

/** Delivers the SIGKILL of an OOM-killed `current` (on the way back to user space). */
export function oomDeliverPendingKill(kernel: Kernel): void {
  if (pendingKills === 0) return;
  const cur = kernel.current;
  if (!DYING.has(cur)) return;
  DYING.delete(cur);
  pendingKills--;
  if (cur.state === "running") kernel.exitTask(cur, OOM_KILL_EXIT_CODE);
}
