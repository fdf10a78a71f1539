// mm/memcontrol.c: struct mem_cgroup, page counters, try_charge and memory.max/current.
import {
  KernelBug,
  LeakSource,
  PAGE_SIZE,
  exportSymbol,
  exportSymbolGpl,
  isKernelError,
  provideSymbol,
  type Cgroup,
  type Kernel,
  type KernelModule,
  type LeakEntry,
  type Mm,
  type Task,
} from "@dmabuf-sdk/dmabuf-core";
import type { InjectionToken } from "tsyringe";
import { GFP_KERNEL, __GFP_HIGH, __GFP_NOFAIL, __GFP_NORETRY, __GFP_RETRY_MAYFAIL, gfpflagsAllowBlocking, type GfpFlags } from "./gfp.js";
import { oomDeliverPendingKill, outOfMemory, taskIsDying } from "./oom-kill.js";

/** `PAGE_COUNTER_MAX` (`LONG_MAX / PAGE_SIZE`): `memory.max` reads `max` at this value. @public */
export const PAGE_COUNTER_MAX = 2 ** 51 - 1;
/** `MAX_RECLAIM_RETRIES`: reclaim rounds of a charge before the OOM killer. @public */
export const MAX_RECLAIM_RETRIES = 16;
/** `PAGE_ALLOC_COSTLY_ORDER`: charges above this order never invoke the memcg OOM killer. @public */
export const PAGE_ALLOC_COSTLY_ORDER = 3;

/** `enum memcg_stat_item` entries the model keeps (patch 1/5 adds `MEMCG_DMABUF`). @public */
export type MemcgStatItem = "MEMCG_DMABUF";

/** `enum memcg_memory_event`, as `memory.events` names them. @public */
export type MemcgMemoryEvent = "low" | "high" | "max" | "oom" | "oom_kill" | "oom_group_kill";

/** Every `memory.events` key, in the file's order. @public */
export const MEMCG_MEMORY_EVENTS: readonly MemcgMemoryEvent[] = ["low", "high", "max", "oom", "oom_kill", "oom_group_kill"];

/** `struct page_counter`, read-only view (all values in pages). @public */
export interface PageCounter {
  /** `page_counter_read()`: pages charged here and below (hierarchical). */
  readonly usage: number;
  /** Limit in pages (`memory.max`); {@link PAGE_COUNTER_MAX} for none. */
  readonly max: number;
  /** Highest usage seen (`memory.peak`). */
  readonly watermark: number;
  /** Charges refused at this counter. */
  readonly failcnt: number;
  readonly parent: PageCounter | null;
}

/** `struct cgroup_subsys_state` of a memcg: its reference count. @public */
export interface CgroupSubsysState {
  /**
   * References taken with `css_get()` / `get_mem_cgroup_from_mm()` and not
   * yet put. The base reference of an online cgroup is not counted.
   */
  readonly refcnt: number;
  /** False once the cgroup was removed (`rmdir`): the css is offline but lives while referenced. */
  readonly online: boolean;
}

/**
 * `struct mem_cgroup`: the memory controller's state of one cgroup. Obtain
 * one with {@link memCgroupFromCgroup}, {@link memCgroupFromTask} or
 * {@link getMemCgroupFromMm}.
 * @public
 */
export interface MemCgroup {
  readonly kernel: Kernel;
  /** `mem_cgroup_id()`: unique for the life of the kernel. */
  readonly id: number;
  readonly cgroup: Cgroup;
  /** `parent_mem_cgroup()`. */
  readonly parent: MemCgroup | null;
  /** `memcg->memory`: the hierarchical page counter. */
  readonly memory: PageCounter;
  readonly css: CgroupSubsysState;
}

class PageCounterImpl implements PageCounter {
  usage = 0;
  max = PAGE_COUNTER_MAX;
  watermark = 0;
  failcnt = 0;
  constructor(
    readonly parent: PageCounterImpl | null,
    readonly memcg: MemCgroupImpl,
  ) {}
}

/** `page_counter_try_charge()`: the counter that would go over, or null after charging every level. */
function pageCounterTryCharge(counter: PageCounterImpl, nr: number): PageCounterImpl | null {
  for (let c: PageCounterImpl | null = counter; c; c = c.parent) {
    const next = c.usage + nr;
    if (next > c.max) {
      c.failcnt++;
      for (let u: PageCounterImpl = counter; u !== c; u = u.parent!) u.usage -= nr;
      return c;
    }
    c.usage = next;
    if (next > c.watermark) c.watermark = next;
  }
  return null;
}

/** `page_counter_charge()`: charges every level regardless of the limits. */
function pageCounterCharge(counter: PageCounterImpl, nr: number): void {
  for (let c: PageCounterImpl | null = counter; c; c = c.parent) {
    c.usage += nr;
    if (c.usage > c.watermark) c.watermark = c.usage;
  }
}

/** `page_counter_uncharge()`, with `page_counter_cancel()`'s underflow WARN. */
function pageCounterUncharge(counter: PageCounterImpl, nr: number, kernel: Kernel): void {
  for (let c: PageCounterImpl | null = counter; c; c = c.parent) {
    c.usage -= nr;
    if (c.usage < 0) {
      kernel.warnOnce("page_counter_cancel", `page_counter underflow: ${c.usage} nr_pages=${nr}`);
      c.usage = 0;
    }
  }
}

class CssImpl implements CgroupSubsysState {
  refcnt = 0;
  constructor(readonly memcg: MemCgroupImpl) {}
  get online(): boolean {
    return !this.memcg.cgroup.removed;
  }
}

class MemCgroupImpl implements MemCgroup {
  readonly memory: PageCounterImpl;
  readonly css = new CssImpl(this);
  /** `MEMCG_DMABUF` of this memcg alone, in pages. */
  dmabufLocal = 0;
  /** `MEMCG_DMABUF` of this memcg and its descendants (the rstat-flushed value). */
  dmabufHier = 0;
  /** Change of `dmabufLocal` not yet propagated to the ancestors (the rstat per-cpu delta). */
  dmabufPending = 0;
  /** On the controller's updated list (`css_rstat_updated()`). */
  rstatQueued = false;
  readonly events = new Map<MemcgMemoryEvent, number>();
  readonly eventsLocal = new Map<MemcgMemoryEvent, number>();

  constructor(
    readonly ctl: MemcgController,
    readonly id: number,
    readonly cgroup: Cgroup,
    readonly parent: MemCgroupImpl | null,
  ) {
    this.memory = new PageCounterImpl(parent?.memory ?? null, this);
  }

  get kernel(): Kernel {
    return this.ctl.kernel;
  }

  get isRoot(): boolean {
    return this.parent === null;
  }

  describe(): string {
    return `memcg ${this.cgroup.path}${this.cgroup.removed ? " (offline)" : ""}`;
  }
}

/** Boot parameters of the memory controller. @public */
export interface MemcgParams {
  /** `cgroup_disable=memory`: `mem_cgroup_disabled()` is true; nothing is charged and the lookups return NULL. */
  readonly cgroupDisableMemory?: boolean;
}

/** The memory controller of one kernel (`memory_cgrp_subsys`). */
class MemcgController implements LeakSource {
  readonly name = "memcg";
  readonly all = new Set<MemCgroupImpl>();
  readonly root: MemCgroupImpl;
  #nextId = 1;

  constructor(
    readonly kernel: Kernel,
    readonly disabled: boolean,
  ) {
    this.root = this.of(kernel.cgroups.root);
  }

  of(cgroup: Cgroup): MemCgroupImpl {
    return cgroup.state(this, () => {
      const parent = cgroup.parent ? this.of(cgroup.parent) : null;
      const m = new MemCgroupImpl(this, this.#nextId++, cgroup, parent);
      this.all.add(m);
      return m;
    });
  }

  /** Memcgs with a pending stat delta (`css_rstat_updated()` list). */
  readonly rstatUpdated: MemCgroupImpl[] = [];

  /**
   * `mem_cgroup_flush_stats()` / `css_rstat_flush()`: propagates every pending
   * `MEMCG_DMABUF` delta to the hierarchical values of the memcg and its
   * ancestors. Updates only queue, as in the kernel, so a charge does not walk
   * the tree twice more.
   */
  flushStats(): void {
    const list = this.rstatUpdated;
    for (let i = 0; i < list.length; i++) {
      const m = list[i]!;
      const d = m.dmabufPending;
      m.dmabufPending = 0;
      m.rstatQueued = false;
      if (d !== 0) for (let a: MemCgroupImpl | null = m; a; a = a.parent) a.dmabufHier += d;
    }
    list.length = 0;
  }

  /** Drops an offline memcg nothing refers to any more (`mem_cgroup_free()`). */
  maybeFree(m: MemCgroupImpl): void {
    if (m.dmabufPending !== 0 && m.cgroup.removed) this.flushStats();
    if (m.cgroup.removed && m.css.refcnt === 0 && m.dmabufLocal === 0 && m.memory.usage === 0) this.all.delete(m);
  }

  collect(): LeakEntry[] {
    const out: LeakEntry[] = [];
    for (const m of this.all) {
      if (m.dmabufLocal > 0) {
        out.push({
          kind: "memcg_dmabuf",
          key: `memcg#${m.id}`,
          count: m.dmabufLocal,
          detail: `${m.describe()}: dmabuf ${m.dmabufLocal * PAGE_SIZE} bytes still charged`,
        });
      } else if (m.dmabufLocal < 0) {
        out.push({
          kind: "memcg_dmabuf_underflow",
          key: `memcg#${m.id}`,
          count: -m.dmabufLocal,
          detail: `${m.describe()}: dmabuf uncharged ${-m.dmabufLocal * PAGE_SIZE} bytes more than charged`,
        });
      }
      if (m.css.refcnt !== 0) {
        out.push({ kind: "mem_cgroup_css", key: `memcg#${m.id}`, count: m.css.refcnt, detail: `${m.describe()}: ${m.css.refcnt} css reference(s) not put` });
      }
    }
    return out;
  }
}

const MemcgControllerToken: InjectionToken<MemcgController> = Symbol.for("@dmabuf-sdk/memcg-lsm/MemcgController");

function controllerOf(kernel: Kernel): MemcgController | undefined {
  return kernel.providers(MemcgControllerToken)[0];
}

function impl(memcg: MemCgroup): MemCgroupImpl {
  if (!(memcg instanceof MemCgroupImpl)) throw new KernelBug("memcg", "not a mem_cgroup of this model");
  return memcg;
}

function checkNrPages(op: string, nr: number): void {
  if (!Number.isInteger(nr) || nr < 0 || nr > 0xffff_ffff) throw new KernelBug("memcg", `${op}: nr_pages ${nr} is not an unsigned int`);
}

/** `mem_cgroup_disabled()`: booted with `cgroup_disable=memory`, or the memory controller is not loaded. @public */
export function memCgroupDisabled(kernel: Kernel): boolean {
  const ctl = controllerOf(kernel);
  return !ctl || ctl.disabled;
}

/** `root_mem_cgroup`, or null when the memory controller is disabled. @public */
export function rootMemCgroup(kernel: Kernel): MemCgroup | null {
  const ctl = controllerOf(kernel);
  return ctl && !ctl.disabled ? ctl.root : null;
}

/** `mem_cgroup_from_css(cgroup_css(cgrp, memory_cgrp_subsys))`, without a reference; null when disabled. @public */
export function memCgroupFromCgroup(kernel: Kernel, cgroup: Cgroup): MemCgroup | null {
  const ctl = controllerOf(kernel);
  return ctl && !ctl.disabled ? ctl.of(cgroup) : null;
}

/** `mem_cgroup_from_task()`: the memcg of the task's cgroup, without a reference; null when disabled. @public */
export function memCgroupFromTask(task: Task): MemCgroup | null {
  return memCgroupFromCgroup(task.kernel, task.cgroup);
}

/** `mem_cgroup_is_root()`. @public */
export function memCgroupIsRoot(memcg: MemCgroup): boolean {
  return impl(memcg).isRoot;
}

/** `mem_cgroup_online()`. @public */
export function memCgroupOnline(memcg: MemCgroup): boolean {
  return memcg.css.online;
}

/** `css_get(&memcg->css)`. @public */
export function cssGet(css: CgroupSubsysState): void {
  (css as CssImpl).refcnt++;
}

/** `css_put(&memcg->css)`: WARNs on underflow. @public */
export function cssPut(css: CgroupSubsysState): void {
  const c = css as CssImpl;
  if (c.refcnt === 0) {
    c.memcg.kernel.warn(`css_put: reference count underflow on ${c.memcg.describe()}`);
    return;
  }
  c.refcnt--;
  c.memcg.ctl.maybeFree(c.memcg);
}

/** `mem_cgroup_put()`: NULL-safe `css_put()`. @public */
export function memCgroupPut(memcg: MemCgroup | null): void {
  if (memcg) cssPut(memcg.css);
}

/** The task that owns `mm` (`mm->owner`). */
function mmOwner(kernel: Kernel, mm: Mm): Task | undefined {
  return kernel.tasks().find((t) => t.mm === mm);
}

/**
 * `get_mem_cgroup_from_mm(mm)`: the memcg of `mm`'s owner, with a css
 * reference the caller puts with {@link memCgroupPut}. NULL when memcg is
 * disabled. Without an `mm` (a kernel thread, or a task past `exit_mm()`) it
 * falls back to `current->mm`, and without that to the root memcg
 * (`set_active_memcg()` is not modelled).
 * @public
 */
export function getMemCgroupFromMm(kernel: Kernel, mm: Mm | null): MemCgroup | null {
  const ctl = controllerOf(kernel);
  if (!ctl || ctl.disabled) return null;
  let m = mm;
  let memcg: MemCgroupImpl;
  if (!m) m = kernel.current.mm;
  if (!m) memcg = ctl.root;
  else {
    const owner = mmOwner(kernel, m);
    memcg = owner ? ctl.of(owner.cgroup) : ctl.root;
  }
  cssGet(memcg.css);
  return memcg;
}

/** `memcg_page_state()`: the hierarchical value of a stat item, in pages (negative values read as 0). @public */
export function memcgPageState(memcg: MemCgroup, _item: MemcgStatItem): number {
  const m = impl(memcg);
  m.ctl.flushStats();
  return Math.max(0, m.dmabufHier);
}

/** `memcg_page_state_local()`: the memcg's own value of a stat item, in pages. @public */
export function memcgPageStateLocal(memcg: MemCgroup, _item: MemcgStatItem): number {
  return Math.max(0, impl(memcg).dmabufLocal);
}

/** `mod_memcg_state()`: adds `val` pages to the memcg's own value and queues it for rstat (the ancestors' on the next flush). */
function modMemcgState(m: MemCgroupImpl, _item: MemcgStatItem, val: number): void {
  m.dmabufLocal += val;
  m.dmabufPending += val;
  if (!m.rstatQueued) {
    m.rstatQueued = true;
    m.ctl.rstatUpdated.push(m);
  }
}

/** The `memory.events` (hierarchical) or `memory.events.local` counters of a memcg. @public */
export function memcgMemoryEvents(memcg: MemCgroup, local = false): Readonly<Record<MemcgMemoryEvent, number>> {
  const m = impl(memcg);
  const src = local ? m.eventsLocal : m.events;
  return Object.fromEntries(MEMCG_MEMORY_EVENTS.map((e) => [e, src.get(e) ?? 0])) as Record<MemcgMemoryEvent, number>;
}

/** `memcg_memory_event()`: counts in the memcg's local events and in its and every non-root ancestor's hierarchical events. @public */
export function memcgMemoryEvent(memcg: MemCgroup, event: MemcgMemoryEvent): void {
  const m = impl(memcg);
  m.eventsLocal.set(event, (m.eventsLocal.get(event) ?? 0) + 1);
  for (let a: MemCgroupImpl | null = m; a && !a.isRoot; a = a.parent) a.events.set(event, (a.events.get(event) ?? 0) + 1);
}

/** `mem_cgroup_margin()`: pages left below `memory.max`. @public */
export function memCgroupMargin(memcg: MemCgroup): number {
  const c = memcg.memory;
  return c.usage < c.max ? c.max - c.usage : 0;
}

/** `get_order(size)` for a size in pages. */
function getOrder(nrPages: number): number {
  let order = 0;
  while (2 ** order < nrPages) order++;
  return order;
}

/**
 * `try_charge_memcg()` without the per-cpu stock: charge the hierarchy; over
 * a limit, raise `max` on the memcg that refused, "reclaim" (dma-buf memory
 * is not reclaimable), retry `MAX_RECLAIM_RETRIES` times, then invoke the
 * memcg OOM killer for charges up to `PAGE_ALLOC_COSTLY_ORDER`, retrying
 * while it makes progress. `__GFP_NOFAIL`/`__GFP_HIGH` force a refused charge.
 */
function tryCharge(m: MemCgroupImpl, gfp: GfpFlags, nr: number): boolean {
  if (m.isRoot) return true;
  const kernel = m.kernel;
  let nrRetries = MAX_RECLAIM_RETRIES;
  let drained = false;
  let passedOom = false;
  for (;;) {
    const over = pageCounterTryCharge(m.memory, nr);
    if (!over) return true;
    const memOverLimit = over.memcg;
    if (!gfpflagsAllowBlocking(gfp)) break;
    memcgMemoryEvent(memOverLimit, "max");
    const nrReclaimed = 0; // try_to_free_mem_cgroup_pages(): nothing a memcg holds in the model can be reclaimed
    if (memCgroupMargin(memOverLimit) >= nr) continue;
    if (!drained) {
      drained = true; // drain_all_stock(): the model keeps no per-cpu stock
      continue;
    }
    if (gfp & __GFP_NORETRY) break;
    if (nrReclaimed && nr <= 1 << PAGE_ALLOC_COSTLY_ORDER) continue;
    if (nrRetries-- > 0) continue;
    if (gfp & __GFP_RETRY_MAYFAIL) break;
    if (passedOom && taskIsDying(kernel.current)) break;
    if (memCgroupOom(memOverLimit, gfp, getOrder(nr))) {
      passedOom = true;
      nrRetries = MAX_RECLAIM_RETRIES;
      continue;
    }
    break;
  }
  // nomem:
  if (!(gfp & (__GFP_NOFAIL | __GFP_HIGH))) return false;
  // force:
  pageCounterCharge(m.memory, nr);
  return true;
}

/** `mem_cgroup_oom()`: costly orders never OOM-kill; otherwise count `oom` and run the memcg OOM killer. */
function memCgroupOom(memcg: MemCgroupImpl, gfp: GfpFlags, order: number): boolean {
  if (order > PAGE_ALLOC_COSTLY_ORDER) return false;
  memcgMemoryEvent(memcg, "oom");
  return memCgroupOutOfMemory(memcg, gfp, order);
}

/** `mem_cgroup_out_of_memory()`: true when a victim was chosen (or the caller is dying, or room appeared). @public */
export function memCgroupOutOfMemory(memcg: MemCgroup, gfp: GfpFlags, order: number): boolean {
  if (memCgroupMargin(memcg) >= 2 ** order) return true;
  return taskIsDying(memcg.kernel.current) || outOfMemory({ memcg, gfp, order });
}

/**
 * `mem_cgroup_charge_dmabuf(memcg, nr_pages, gfp)` (patch 1/5): charges
 * `nr_pages` to `memcg` and every ancestor (`try_charge()`; the root is never
 * limited, and is not charged for its own tasks) and adds them to the
 * `MEMCG_DMABUF` stat. Returns true when charged, false when the charge
 * failed (a limit, after reclaim and the memcg OOM killer; or an injected
 * `memcg_charge` failure). Always true when memcg is disabled.
 * @public
 */
export function memCgroupChargeDmabuf(memcg: MemCgroup, nrPages: number, gfp: GfpFlags = GFP_KERNEL): boolean {
  const m = impl(memcg);
  if (m.ctl.disabled) return true;
  checkNrPages("mem_cgroup_charge_dmabuf", nrPages);
  const kernel = m.kernel;
  const alloc = kernel.alloc;
  try {
    // The label is read only by an armed fault rule or the attempt record: build it only then.
    alloc.attempt("memcg_charge", alloc.wantsLabel ? `dmabuf ${nrPages} page(s) to ${m.cgroup.path}` : "", "mem_cgroup_charge_dmabuf");
  } catch (e) {
    if (isKernelError(e)) return false;
    throw e;
  }
  let ok: boolean;
  try {
    ok = tryCharge(m, gfp, nrPages);
    if (ok) modMemcgState(m, "MEMCG_DMABUF", nrPages);
  } finally {
    oomDeliverPendingKill(kernel);
  }
  return ok;
}

/**
 * `mem_cgroup_uncharge_dmabuf(memcg, nr_pages)`: removes `nr_pages` from the
 * `MEMCG_DMABUF` stat and gives them back to the page counters (at once: the
 * model has no per-cpu stock). No-op when memcg is disabled.
 * @public
 */
export function memCgroupUnchargeDmabuf(memcg: MemCgroup, nrPages: number): void {
  const m = impl(memcg);
  if (m.ctl.disabled) return;
  checkNrPages("mem_cgroup_uncharge_dmabuf", nrPages);
  modMemcgState(m, "MEMCG_DMABUF", -nrPages);
  if (!m.isRoot) pageCounterUncharge(m.memory, nrPages, m.kernel);
  m.ctl.maybeFree(m);
}

/** @internal Sets `memory.max` (pages); used by the `memory.max` file. */
export function _memCgroupSetMax(memcg: MemCgroup, max: number): void {
  impl(memcg).memory.max = max;
}

/** @internal Every memcg of the kernel that still exists (online, or offline and referenced). */
export function _memCgroupAll(kernel: Kernel): readonly MemCgroup[] {
  return [...(controllerOf(kernel)?.all ?? [])];
}

function defineMemcgModule(params: MemcgParams): KernelModule {
  return {
    name: "memcg",
    license: "GPL",
    description: "cgroup v2 memory controller with the MEMCG_DMABUF stat (mm/memcontrol.c)",
    exports: [exportSymbolGpl("mem_cgroup_charge_dmabuf"), exportSymbolGpl("mem_cgroup_uncharge_dmabuf"), exportSymbol("get_mem_cgroup_from_mm")],
    init(ctx) {
      const ctl = new MemcgController(ctx.kernel, params.cgroupDisableMemory ?? false);
      ctx.provide(MemcgControllerToken, ctl);
      ctx.provide(LeakSource, ctl);
      provideSymbol(ctx, "mem_cgroup_charge_dmabuf", memCgroupChargeDmabuf);
      provideSymbol(ctx, "mem_cgroup_uncharge_dmabuf", memCgroupUnchargeDmabuf);
      provideSymbol(ctx, "get_mem_cgroup_from_mm", getMemCgroupFromMm);
      if (ctl.disabled) ctx.kernel.printk.info("cgroup: Disabling memory control group subsystem");
    },
    exit(ctx) {
      const left = controllerOf(ctx.kernel)?.collect() ?? [];
      if (left.length) ctx.kernel.warn(`memcg: unloaded with ${left.length} charge(s) or reference(s) outstanding`);
    },
  };
}

/**
 * The memory controller (`mm/memcontrol.c`, built in): per-cgroup
 * `memory.current`/`max`/`peak`/`stat`/`events`, `mem_cgroup_charge_dmabuf()`
 * and `get_mem_cgroup_from_mm()`. Its charges appear in `kernel.leakReport()`.
 * @public
 */
export const memcgModule: KernelModule = defineMemcgModule({});

/**
 * The memory controller booted with parameters, e.g.
 * `memcgModuleWithParams({ cgroupDisableMemory: true })` for
 * `cgroup_disable=memory`. Same module name as {@link memcgModule}: load it
 * before anything that requires the memory controller.
 * @public
 */
export function memcgModuleWithParams(params: MemcgParams): KernelModule {
  return defineMemcgModule(params);
}
