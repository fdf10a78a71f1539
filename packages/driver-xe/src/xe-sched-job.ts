// drivers/gpu/drm/xe/xe_sched_job.c + xe_hw_fence.c: GPU jobs through drm_sched, hardware fences signalled from the engine IRQ.
import {
  KernelLocal,
  DmaFence,
  KernelError,
  MAX_SCHEDULE_TIMEOUT,
  SpinLock,
  dmaFenceContextAlloc,
  dmaFenceGet,
  dmaFencePut,
  dmaFenceSetError,
  dmaFenceSignalLocked,
  dmaFenceWait,
  freeIrq,
  isKernelError,
  raiseIrq,
  requestIrq,
  type Kernel,
} from "@dmabuf-sdk/dmabuf-core";
import {
  DRM_SCHED_PRIORITY_KERNEL,
  DrmSchedJob,
  drmSchedEntityDestroy,
  drmSchedEntityInit,
  drmSchedEntityPushJob,
  drmSchedFini,
  drmSchedInit,
  drmSchedJobArm,
  drmSchedJobCleanup,
  drmSchedJobInit,
  type DrmGpuScheduler,
  type DrmSchedEntity,
} from "@dmabuf-sdk/drm";
import type { XeDevice } from "./xe-device.js";

/** What a job asks the engine to do (its batch buffer), run when the job reaches the hardware. @public */
export type XeBatch = () => void;

/** The `spin_lock_init(&irq->lock)` site of `xe_hw_fence_irq_init()`. */
const HW_FENCE_LOCK_KEY = { site: "xe_hw_fence_irq_init" };

/** `struct xe_sched_job`. @public */
export class XeSchedJob extends DrmSchedJob {
  hwFence: DmaFence | undefined;
  /** What the batch threw (a DMA fault): the hardware fence signals `-EIO`, the waiter gets this back. */
  fault: unknown;
  constructor(
    readonly q: XeExecQueue,
    readonly kind: "migrate-copy" | "migrate-clear" | "bind",
    readonly batch: XeBatch,
  ) {
    super();
  }
}

/**
 * An engine with its exec queue: a drm_sched scheduler with one kernel
 * entity, and a hardware fence timeline whose fences the engine interrupt
 * (`xe_hw_fence_irq_run()`) signals in hard-IRQ context.
 * @public
 */
export class XeExecQueue {
  readonly sched: DrmGpuScheduler;
  readonly entity: DrmSchedEntity;
  /** `&irq->lock`: the hardware fences' lock. */
  readonly irqLock: SpinLock;
  readonly context: bigint;
  seqno = 0n;
  /** Jobs the engine has finished whose fences the next interrupt signals. */
  readonly #completed: XeSchedJob[] = [];
  readonly irq: number;

  constructor(
    readonly xe: XeDevice,
    readonly name: string,
  ) {
    const k = xe.kernel;
    this.irqLock = new SpinLock({ lockdep: k.lockdep, current: () => k.current }, `${name} irq lock`, "&irq->lock", HW_FENCE_LOCK_KEY);
    this.context = dmaFenceContextAlloc(k, 1);
    this.irq = nextIrq(k);
    requestIrq(k, this.irq, () => this.#irqHandler(), {}, `xe ${xe.pdev.name} ${name}`, this);
    this.sched = drmSchedInit(k, {
      ops: {
        runJob: (job) => this.#runJob(job as XeSchedJob),
        timedoutJob: () => "DRM_GPU_SCHED_STAT_NO_HANG",
        freeJob: (job) => {
          const j = job as XeSchedJob;
          drmSchedJobCleanup(j);
          dmaFencePut(j.hwFence);
          j.hwFence = undefined;
        },
      },
      creditLimit: 64,
      timeoutNs: MAX_SCHEDULE_TIMEOUT,
      name: `xe-${name}`,
    });
    this.entity = drmSchedEntityInit(k, DRM_SCHED_PRIORITY_KERNEL, [this.sched]);
  }

  /** `run_job`: the engine executes the batch; its completion interrupt follows. */
  #runJob(job: XeSchedJob): DmaFence {
    const k = this.xe.kernel;
    job.hwFence = new DmaFence(k, { getDriverName: () => "xe", getTimelineName: () => this.name }, this.irqLock, this.context, ++this.seqno);
    k.trace.emit("xe_sched_job_exec", { queue: this.name, kind: job.kind, seqno: this.seqno });
    try {
      job.batch();
    } catch (e) {
      if (!isKernelError(e)) throw e;
      job.fault = e;
    }
    this.#completed.push(job);
    raiseIrq(k, this.irq);
    return dmaFenceGet(job.hwFence);
  }

  /** `xe_hw_fence_irq_run()`: signal every finished job's hardware fence, in order. */
  #irqHandler(): "IRQ_HANDLED" | "IRQ_NONE" {
    if (!this.#completed.length) return "IRQ_NONE";
    this.irqLock.lockIrqsave();
    try {
      for (const job of this.#completed.splice(0)) {
        if (job.fault) dmaFenceSetError(job.hwFence!, "EIO");
        dmaFenceSignalLocked(job.hwFence!);
      }
    } finally {
      this.irqLock.unlock();
    }
    return "IRQ_HANDLED";
  }

  /** Tear down: the entity drains, finished jobs are freed, the scheduler stops, the interrupt is freed. */
  fini(): void {
    const k = this.xe.kernel;
    drmSchedEntityDestroy(this.entity);
    // xe_sched_fini() comes after the queue went idle: every job handed to the engine completed and was freed.
    if (k.clock.waitUntil(() => this.sched.pendingList.length === 0, MAX_SCHEDULE_TIMEOUT) === 0) {
      k.warn(`xe ${this.xe.pdev.name}: ${this.name} queue has jobs that never complete`);
    }
    drmSchedFini(this.sched);
    freeIrq(this.xe.kernel, this.irq, this);
  }
}

const IRQS = new KernelLocal<number>("IRQS");

function nextIrq(k: Kernel): number {
  const n = IRQS.get(k) ?? 128;
  IRQS.set(k, n + 1);
  return n;
}

/**
 * `xe_sched_job_create()` + arm + `xe_sched_job_push()`, then wait for the
 * finished fence: the model's callers (TTM moves, binds) want the result on
 * return, so they wait as `ttm_bo_wait()` would. A batch that faulted
 * rethrows its fault here.
 * @throws KernelError from `drm_sched_job_init()` or the batch.
 * @public
 */
export function xeSchedJobRun(q: XeExecQueue, kind: XeSchedJob["kind"], batch: XeBatch): void {
  const job = new XeSchedJob(q, kind, batch);
  drmSchedJobInit(job, q.entity, 1, q);
  drmSchedJobArm(job);
  const finished = dmaFenceGet(job.sFence!.finished!);
  drmSchedEntityPushJob(job);
  try {
    dmaFenceWait(finished, false);
    if (finished.error) {
      if (job.fault) throw job.fault;
      throw new KernelError("EIO", `xe_sched_job ${kind}`, `job failed with ${finished.error}`);
    }
  } finally {
    dmaFencePut(finished);
  }
}
