// drivers/dma-buf/dma-fence.c: struct dma_fence, its ops, signalling, callbacks, waits and deadlines.
import { KernelLocal } from "../kernel/kernel-local.js";
import { ERRNO, errnoName, type Errno } from "../kernel/errno.js";
import { KernelBug, KernelError } from "../kernel/kernel-error.js";
import { Kref } from "../kernel/kref.js";
import type { Kernel } from "../kernel/kernel.js";
import { SpinLock } from "../kernel/spinlock.js";
import { HZ, MAX_SCHEDULE_TIMEOUT } from "../kernel/time.js";

/** `struct dma_fence_ops`: what the fence's driver provides. @public */
export interface DmaFenceOps {
  /** `get_driver_name` (mandatory). */
  getDriverName(fence: DmaFence): string;
  /** `get_timeline_name` (mandatory). */
  getTimelineName(fence: DmaFence): string;
  /**
   * `enable_signaling`: first waiter or callback appeared; called with the
   * fence lock held. Return false when the fence already completed (the core
   * signals it on the spot).
   */
  enableSignaling?(fence: DmaFence): boolean;
  /** `signaled`: peek at the hardware; true makes the core signal the fence. */
  signaled?(fence: DmaFence): boolean;
  /** `release`: last reference dropped. */
  release?(fence: DmaFence): void;
  /** `set_deadline`: a waiter would like the fence signaled by `deadlineNs` (CLOCK_MONOTONIC). */
  setDeadline?(fence: DmaFence, deadlineNs: bigint): void;
}

/** `struct dma_fence_cb`: a callback node. `func` runs with the fence lock held, IRQs off. @public */
export interface DmaFenceCb {
  func: ((fence: DmaFence, cb: DmaFenceCb) => void) | null;
  /** @internal pending on a fence */
  _pending?: DmaFence | null;
}

/** Status of a fence: not signaled, signaled, or signaled with an error. @public */
export type DmaFenceStatus = "unsignaled" | "signaled" | Errno;

/**
 * `struct dma_fence`. The lock may be shared by many fences (a timeline);
 * callbacks run under it, which is why re-taking it from a callback is a
 * self-deadlock the lock model reports.
 * @public
 */
export class DmaFence {
  readonly #ref: Kref;
  #signaled = false;
  #enableSignal = false;
  /** 0 or a negative errno number, as `fence->error`. */
  error = 0;
  /** Signal time (ns), set with the SIGNALED bit. */
  timestamp: number | undefined;
  readonly cbList: DmaFenceCb[] = [];

  constructor(
    readonly kernel: Kernel,
    readonly ops: DmaFenceOps,
    readonly lock: SpinLock,
    readonly context: bigint,
    readonly seqno: bigint,
  ) {
    this.#ref = new Kref(() => this.#release(), (m) => kernel.warn(m));
    kernel.objects.track("dma_fence", this, () => `fence ${context}:${seqno} ${this.#signaled ? "signaled" : "unsignaled"}`);
  }

  /** The SIGNALED bit. */
  get signaledFlag(): boolean {
    return this.#signaled;
  }

  /** @internal */
  _setSignaled(): boolean {
    if (this.#signaled) return false;
    this.#signaled = true;
    return true;
  }

  /** @internal */
  _enableSignalingOnce(): boolean {
    if (this.#enableSignal) return false;
    this.#enableSignal = true;
    return true;
  }

  /** @internal */
  get _ref(): Kref {
    return this.#ref;
  }

  /** `kref_read(&fence->refcount)`: what `dma_fence_get_rcu()` checks before taking a reference. */
  get refcount(): number {
    return this.#ref.refcount;
  }

  #release(): void {
    if (this.cbList.length && !this.#signaled) {
      this.kernel.warn(`Fence ${this.ops.getDriverName(this)}:${this.ops.getTimelineName(this)}:${this.context}:${this.seqno} released with pending signals!`);
      this.error = -ERRNO.EDEADLK;
      dmaFenceSignal(this);
    }
    this.ops.release?.(this);
    this.kernel.objects.untrack(this);
  }
}

/** `dma_fence_context_alloc(num)`: the first of `num` consecutive new contexts. @public */
export function dmaFenceContextAlloc(kernel: Kernel, num: number): bigint {
  if (num === 0) kernel.warnOnce("dma_fence_context_alloc", "dma_fence_context_alloc(0)");
  return kernel.dmaBuf.allocFenceContexts(num);
}

/** `dma_fence_get()`. @public */
export function dmaFenceGet(fence: DmaFence): DmaFence {
  fence._ref.get();
  return fence;
}

/** `dma_fence_put()`; a release with callbacks pending WARNs and signals with `-EDEADLK`. @public */
export function dmaFencePut(fence: DmaFence | null | undefined): void {
  fence?._ref.put();
}

function signalLocked(fence: DmaFence, timestampNs: number): void {
  if (!fence._setSignaled()) return;
  const cbs = fence.cbList.splice(0);
  fence.timestamp = timestampNs;
  fence.kernel.trace.emit("dma_fence_signaled", { context: fence.context, seqno: fence.seqno, error: fence.error });
  for (const cb of cbs) {
    cb._pending = null;
    cb.func?.(fence, cb);
  }
}

/**
 * `dma_fence_signal()`: marks the fence signaled and runs its callbacks in
 * registration order with the fence lock held and IRQs off. Idempotent.
 * @public
 */
export function dmaFenceSignal(fence: DmaFence): void {
  dmaFenceSignalTimestamp(fence, fence.kernel.clock.nowNs);
}

/** `dma_fence_signal_timestamp()`. @public */
export function dmaFenceSignalTimestamp(fence: DmaFence, timestampNs: number): void {
  fence.lock.lockIrqsave();
  try {
    signalLocked(fence, timestampNs);
  } finally {
    fence.lock.unlock();
  }
}

/** `dma_fence_signal_locked()`: the caller holds `fence.lock` (asserted). @public */
export function dmaFenceSignalLocked(fence: DmaFence): void {
  fence.lock.assertHeld("dma_fence_signal_locked");
  signalLocked(fence, fence.kernel.clock.nowNs);
}

/** `dma_fence_check_and_signal()`: true if it was already signaled; signals it otherwise. @public */
export function dmaFenceCheckAndSignal(fence: DmaFence): boolean {
  if (fence.signaledFlag) return true;
  dmaFenceSignal(fence);
  return false;
}

/**
 * `dma_fence_set_error()`: must precede signaling. WARNs when the fence is
 * already signaled or `err` is not a valid errno, and stores it anyway.
 * @public
 */
export function dmaFenceSetError(fence: DmaFence, err: Errno): void {
  const n = ERRNO[err];
  if (fence.signaledFlag) fence.kernel.warn(`dma_fence_set_error on a signaled fence ${fence.context}:${fence.seqno}`);
  if (!(n > 0 && n <= 4095)) fence.kernel.warn(`dma_fence_set_error(${err}) out of range`);
  fence.error = -n;
}

/**
 * `dma_fence_is_signaled()`: the SIGNALED bit, or the driver's `signaled`
 * callback (which then signals the fence as a side effect).
 * @public
 */
export function dmaFenceIsSignaled(fence: DmaFence): boolean {
  if (fence.signaledFlag) return true;
  if (fence.ops.signaled?.(fence)) {
    dmaFenceSignal(fence);
    return true;
  }
  return false;
}

/** `dma_fence_get_status()` (takes the lock). @public */
export function dmaFenceGetStatus(fence: DmaFence): DmaFenceStatus {
  fence.lock.lockIrqsave();
  try {
    return dmaFenceGetStatusLocked(fence);
  } finally {
    fence.lock.unlock();
  }
}

/** `dma_fence_get_status_locked()`. @public */
export function dmaFenceGetStatusLocked(fence: DmaFence): DmaFenceStatus {
  if (!fence.signaledFlag) {
    if (!fence.ops.signaled?.(fence)) return "unsignaled";
    signalLocked(fence, fence.kernel.clock.nowNs);
  }
  return fence.error ? (errnoName(fence.error) ?? "EIO") : "signaled";
}

function enableSignalingLocked(fence: DmaFence): boolean {
  if (fence._enableSignalingOnce() && !fence.signaledFlag && fence.ops.enableSignaling && !fence.ops.enableSignaling(fence)) {
    signalLocked(fence, fence.kernel.clock.nowNs);
    return false;
  }
  return !fence.signaledFlag;
}

/** `dma_fence_enable_sw_signaling()`. @public */
export function dmaFenceEnableSwSignaling(fence: DmaFence): void {
  fence.lock.lockIrqsave();
  try {
    enableSignalingLocked(fence);
  } finally {
    fence.lock.unlock();
  }
}

/**
 * `dma_fence_add_callback()`: `func` runs when the fence signals. `kernel`
 * is the kernel the caller runs in: a missing fence or function is a WARN in
 * its log (`WARN_ON(!fence || !func)`), as on the machine that made the call.
 * @throws KernelError `ENOENT` when already signaled (callback not called),
 * `EINVAL` after the WARN for a missing fence or function.
 * @public
 */
export function dmaFenceAddCallback(
  kernel: Kernel,
  fence: DmaFence | null,
  cb: DmaFenceCb,
  func: ((fence: DmaFence, cb: DmaFenceCb) => void) | null,
): void {
  if (!fence || !func) {
    kernel.warn(`dma_fence_add_callback: WARN_ON(${!fence ? "!fence" : "!func"})`);
    throw new KernelError("EINVAL", "dma_fence_add_callback", !fence ? "NULL fence" : "NULL func");
  }
  if (fence.signaledFlag) {
    cb._pending = null;
    throw new KernelError("ENOENT", "dma_fence_add_callback", "already signaled");
  }
  fence.lock.lockIrqsave();
  try {
    if (enableSignalingLocked(fence)) {
      // cb->func is set only once the callback is queued (drivers/dma-buf/dma-fence.c).
      cb.func = func;
      cb._pending = fence;
      fence.cbList.push(cb);
      return;
    }
    cb._pending = null;
  } finally {
    fence.lock.unlock();
  }
  throw new KernelError("ENOENT", "dma_fence_add_callback", "signaled while enabling");
}

/** `dma_fence_remove_callback()`: true if it was still pending. @public */
export function dmaFenceRemoveCallback(fence: DmaFence, cb: DmaFenceCb): boolean {
  fence.lock.lockIrqsave();
  try {
    const i = fence.cbList.indexOf(cb);
    if (i < 0) return false;
    fence.cbList.splice(i, 1);
    cb._pending = null;
    return true;
  } finally {
    fence.lock.unlock();
  }
}

/**
 * `dma_fence_wait_timeout()`: waits (advancing virtual time) for the fence;
 * returns the jiffies left (> 0) once signaled, 0 on timeout. With timeout 0,
 * 1 if already signaled. Waiting forever on a fence nobody will signal is a
 * hung task and reported as such.
 * @throws KernelError `EINVAL` for a negative timeout.
 * @public
 */
export function dmaFenceWaitTimeout(fence: DmaFence, _intr: boolean, timeoutJiffies: number): number {
  const k = fence.kernel;
  if (timeoutJiffies < 0) {
    k.warn("dma_fence_wait_timeout with a negative timeout");
    throw new KernelError("EINVAL", "dma_fence_wait_timeout");
  }
  k.lockdep.mightSleep("dma_fence_wait_timeout");
  if (k.dmaBuf.inFenceSignalling()) {
    k.printk.warn("WARNING: possible circular locking dependency detected: dma_fence_wait inside a dma_fence_begin_signalling() section");
  }
  if (timeoutJiffies === 0) return dmaFenceIsSignaled(fence) ? 1 : 0;
  dmaFenceEnableSwSignaling(fence);
  const forever = timeoutJiffies >= MAX_SCHEDULE_TIMEOUT;
  const ns = forever ? MAX_SCHEDULE_TIMEOUT : (timeoutJiffies * 1e9) / HZ;
  const left = k.clock.waitUntil(() => dmaFenceIsSignaled(fence), ns);
  if (left === 0) {
    if (forever) throw new KernelBug("hung_task", `task ${k.current.comm}:${k.current.pid} blocked forever on fence ${fence.context}:${fence.seqno}`);
    return 0;
  }
  return forever ? MAX_SCHEDULE_TIMEOUT : Math.max(1, Math.ceil((left * HZ) / 1e9));
}

/** `dma_fence_wait()`: waits without timeout. @public */
export function dmaFenceWait(fence: DmaFence, intr: boolean): void {
  dmaFenceWaitTimeout(fence, intr, MAX_SCHEDULE_TIMEOUT);
}

/** `dma_fence_begin_signalling()`: marks a section on the path to signaling a fence. @public */
export function dmaFenceBeginSignalling(kernel: Kernel): void {
  kernel.dmaBuf.fenceSignalling(1);
}

/** `dma_fence_end_signalling()`. @public */
export function dmaFenceEndSignalling(kernel: Kernel): void {
  kernel.dmaBuf.fenceSignalling(-1);
}

/** `dma_fence_describe()`: `context:seqno timeline driver [un]signalled`. @public */
export function dmaFenceDescribe(fence: DmaFence): string {
  const signaled = dmaFenceIsSignaled(fence);
  const timeline = signaled ? "" : fence.ops.getTimelineName(fence);
  const driver = signaled ? "" : fence.ops.getDriverName(fence);
  return `${fence.context}:${fence.seqno} ${timeline} ${driver} ${signaled ? "" : "un"}signalled`;
}

/**
 * Which fence core the kernel models, for the behaviours that changed:
 * `"6.12"` always asks the driver for names; `"6.17-names"` (default) answers
 * signaled fences with the placeholders `"detached-driver"` /
 * `"signaled-timeline"` because the driver may already be gone.
 * @public
 */
export type FenceCoreVersion = "6.12" | "6.17-names";

const FENCE_CORE_VERSION = new KernelLocal<FenceCoreVersion>("FENCE_CORE_VERSION");

/** Selects the fence core version of `kernel` (see {@link FenceCoreVersion}). @public */
export function dmaFenceSetCoreVersion(kernel: Kernel, version: FenceCoreVersion): void {
  FENCE_CORE_VERSION.set(kernel, version);
}

/** The fence core version of `kernel`. */
export function dmaFenceCoreVersion(kernel: Kernel): FenceCoreVersion {
  return FENCE_CORE_VERSION.get(kernel) ?? "6.17-names";
}

/** `dma_fence_driver_name()`: the driver's name, or `"detached-driver"` once signaled (6.17+). @public */
export function dmaFenceDriverName(fence: DmaFence): string {
  if (fence.signaledFlag && dmaFenceCoreVersion(fence.kernel) !== "6.12") return "detached-driver";
  return fence.ops.getDriverName(fence);
}

/** `dma_fence_timeline_name()`: the timeline's name, or `"signaled-timeline"` once signaled (6.17+). @public */
export function dmaFenceTimelineName(fence: DmaFence): string {
  if (fence.signaledFlag && dmaFenceCoreVersion(fence.kernel) !== "6.12") return "signaled-timeline";
  return fence.ops.getTimelineName(fence);
}

/** `dma_fence_set_deadline()`: forwards to the `set_deadline` op, if any. @public */
export function dmaFenceSetDeadline(fence: DmaFence, deadlineNs: bigint): void {
  fence.ops.setDeadline?.(fence, deadlineNs);
}

/** `dma_fence_get_status()` as the kernel's int: 0 pending, 1 signaled, or the negative error. @public */
export function dmaFenceGetStatusNumber(fence: DmaFence): number {
  const s = dmaFenceGetStatus(fence);
  return s === "unsignaled" ? 0 : s === "signaled" ? 1 : -ERRNO[s];
}

/** `dma_fence_timestamp()`: the signal time, 0n while unsignaled. @public */
export function dmaFenceTimestamp(fence: DmaFence): bigint {
  return fence.signaledFlag && fence.timestamp !== undefined ? BigInt(Math.round(fence.timestamp)) : 0n;
}

/**
 * `__dma_fence_is_later(fence, f1, f2)`: with 64-bit seqnos (chains) a plain
 * comparison, else the low 32 bits with wrap-around.
 * @public
 */
export function dmaFenceSeqnoIsLater(seqno64: boolean, f1: bigint, f2: bigint): boolean {
  if (seqno64) return f1 > f2;
  const d = BigInt.asIntN(32, BigInt.asUintN(32, f1) - BigInt.asUintN(32, f2));
  return d > 0n;
}

/** Whether `fence` uses 64-bit seqnos (`DMA_FENCE_FLAG_SEQNO64_BIT`, set by `dma_fence_init64`). @public */
export function dmaFenceIsSeqno64(fence: DmaFence): boolean {
  return (fence as { readonly seqno64?: boolean }).seqno64 === true;
}

/** `dma_fence_is_later(f1, f2)`: both of one context; f1 is after f2. @public */
export function dmaFenceIsLater(f1: DmaFence, f2: DmaFence): boolean {
  if (f1.context !== f2.context) f1.kernel.warn("dma_fence_is_later on fences of different contexts");
  return dmaFenceSeqnoIsLater(dmaFenceIsSeqno64(f1), f1.seqno, f2.seqno);
}

const STUB_OPS: DmaFenceOps = { getDriverName: () => "stub", getTimelineName: () => "stub" };
const GLOBAL_STUB = new KernelLocal<DmaFence>("GLOBAL_STUB");

function stubLock(kernel: Kernel): SpinLock {
  return new SpinLock({ lockdep: kernel.lockdep, current: () => kernel.current }, "dma_fence_stub_lock");
}

/**
 * `dma_fence_get_stub()`: a new reference to the kernel's one static,
 * signaled fence (context 0, seqno 0). It is never freed, so it is not
 * reported by the leak checker.
 * @public
 */
export function dmaFenceGetStub(kernel: Kernel): DmaFence {
  let stub = GLOBAL_STUB.get(kernel);
  if (!stub) {
    stub = new DmaFence(kernel, STUB_OPS, stubLock(kernel), 0n, 0n);
    kernel.objects.untrack(stub);
    dmaFenceEnableSwSignaling(stub);
    dmaFenceSignal(stub);
    GLOBAL_STUB.set(kernel, stub);
  }
  return dmaFenceGet(stub);
}

/**
 * `dma_fence_allocate_private_stub(timestamp)`: a new signaled fence with the
 * stub ops, context 0 and seqno 0, signaled at `timestampNs`; null when the
 * allocation fails.
 * @public
 */
export function dmaFenceAllocatePrivateStub(kernel: Kernel, timestampNs: number): DmaFence | null {
  try {
    kernel.alloc.kzalloc("dma_fence stub");
  } catch {
    return null;
  }
  const f = new DmaFence(kernel, STUB_OPS, stubLock(kernel), 0n, 0n);
  dmaFenceEnableSwSignaling(f);
  dmaFenceSignalTimestamp(f, timestampNs);
  return f;
}
