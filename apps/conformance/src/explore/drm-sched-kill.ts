// Race: a producer's fence signalled from its IRQ against a process kill of a drm_sched entity (the kill_jobs_cb inversion fixed by 487df8b69834).
import { DmaFence, SpinLock, dmaFenceContextAlloc, dmaFenceGet, dmaFencePut, dmaFenceSignal, type ExploreScenario, type Kernel } from "@dmabuf-sdk/dmabuf-core";
import { DRM_SCHED_PRIORITY_NORMAL, drmSchedEntityFini, drmSchedEntityFlush, drmSchedJobAddDependency } from "@dmabuf-sdk/drm";
import {
  bootDrm,
  drmMockSchedEntityNew,
  drmMockSchedFini,
  drmMockSchedJobNew,
  drmMockSchedJobSetDurationUs,
  drmMockSchedJobSubmit,
  drmMockSchedJobWaitFinished,
  drmMockSchedNew,
  type DrmSchedKillVersion,
} from "@dmabuf-sdk/drm/testing";

const SEC = 1e9;
/**
 * How a job of the killed entity may end: `-ESRCH` when the kill found it
 * queued, `-ECANCELED` when it had already reached the (mock) hardware and
 * `drm_sched_fini()` cancelled it.
 */
const KILLED = new Set([-3, -125]);

function producerFence(k: Kernel): DmaFence {
  const lock = new SpinLock({ lockdep: k.lockdep, current: () => k.current }, "producer", "&producer->lock");
  return new DmaFence(k, { getDriverName: () => "producer", getTimelineName: () => "p" }, lock, dmaFenceContextAlloc(k, 1), 1n);
}

/**
 * Mesa issue 13908's shape: J0 ran (its completion, in hard IRQ, made
 * `&fence->lock` IRQ-safe), J1 and J2 wait on two producers' fences. One
 * task is the process being killed (`drm_sched_entity_flush` with SIGKILL,
 * then `drm_sched_entity_fini`); the producers' interrupts signal d1 and d2
 * in hard-IRQ context; the scheduler's run/free work and `kill_jobs_work`
 * are kworker events the explorer orders too. Pre-487df8b, the kill callback
 * walks `job->dependencies` (an xarray) under the signalled fence's lock; the
 * fix moves the walk into the work item.
 * @public
 */
export function drmSchedKillVsIrq(version: DrmSchedKillVersion): ExploreScenario {
  return {
    name: `drm-sched-kill-vs-irq/${version}`,
    boot: () => bootDrm(),
    build(k) {
      const mock = drmMockSchedNew(k, { killJobsVersion: version });
      const entity = drmMockSchedEntityNew(mock, DRM_SCHED_PRIORITY_NORMAL);
      const j0 = drmMockSchedJobNew(mock, entity);
      drmMockSchedJobSetDurationUs(j0, 100);
      drmMockSchedJobSubmit(j0);
      drmMockSchedJobWaitFinished(j0, SEC);
      const d1 = producerFence(k);
      const d2 = producerFence(k);
      const jobs = [d1, d2].map((d) => {
        const j = drmMockSchedJobNew(mock, entity);
        drmSchedJobAddDependency(j, dmaFenceGet(d));
        drmMockSchedJobSubmit(j);
        return j;
      });
      const proc = k.fork({ comm: "mesa" });
      const signal = (d: DmaFence) => () => k.sched.irq(() => dmaFenceSignal(d));
      return {
        tasks: [
          {
            name: "mesa (SIGKILL)",
            task: proc,
            steps: [
              { label: "drm_sched_entity_flush (exiting, SIGKILL)", run: () => drmSchedEntityFlush(entity, SEC, { exiting: true, sigkill: true }) },
              { label: "drm_sched_entity_fini", run: () => drmSchedEntityFini(entity) },
            ],
          },
          { name: "irq/producer-1", steps: [{ label: "producer 1 IRQ: dma_fence_signal(d1)", run: signal(d1) }] },
          { name: "irq/producer-2", steps: [{ label: "producer 2 IRQ: dma_fence_signal(d2)", run: signal(d2) }] },
        ],
        finish() {
          dmaFencePut(d1);
          dmaFencePut(d2);
          drmMockSchedFini(mock);
          k.exitTask(proc, 0);
        },
        check: () =>
          jobs.flatMap((j, i) => [
            ...(j.freed ? [] : [`J${i + 1} was never freed`]),
            ...(j.finishedFence?.signaledFlag && KILLED.has(j.finishedFence.error) ? [] : [`J${i + 1}'s finished fence is not signalled with -ESRCH or -ECANCELED (error ${j.finishedFence?.error})`]),
          ]),
      };
    },
  };
}
