/**
 * The DRM core subsystem of dmabuf-sdk: the GPU scheduler (drm_sched) with
 * its entities, jobs and fences, DRM devices, files and sync objects.
 *
 * @packageDocumentation
 */
export { drmModule } from "./module.js";
export {
  DrmGpuScheduler,
  DrmSchedJob,
  drmSchedInit,
  drmSchedFini,
  drmSchedWqueueStop,
  drmSchedWqueueStart,
  drmSchedWakeup,
  drmSchedJobInit,
  drmSchedJobArm,
  drmSchedJobAddDependency,
  drmSchedJobAddResvDependencies,
  drmSchedJobHasDependency,
  drmSchedJobCleanup,
  drmSchedJobDependency,
  drmSchedPendingJobs,
  drmSchedStop,
  drmSchedStart,
  drmSchedResubmitJobs,
  drmSchedIncreaseKarma,
  drmSchedFault,
  drmSchedTdrQueueImm,
  drmSchedIsStopped,
  drmSchedWqueueReady,
  drmSchedJobIsSignaled,
  drmSchedForEachPendingJob,
  drmSchedPickBest,
  DRM_SCHED_PRIORITY_KERNEL,
  DRM_SCHED_PRIORITY_HIGH,
  DRM_SCHED_PRIORITY_NORMAL,
  DRM_SCHED_PRIORITY_LOW,
  DRM_SCHED_PRIORITY_COUNT,
  type DrmGpuSchedStat,
  type DrmSchedKillVersion,
  type DrmSchedBackendOps,
  type DrmSchedInitArgs,
} from "./sched-main.js";
export {
  DrmSchedEntity,
  drmSchedEntityInit,
  drmSchedEntityPushJob,
  drmSchedEntityPopJob,
  drmSchedEntityIsIdle,
  drmSchedEntitySelectRq,
  drmSchedEntityKill,
  drmSchedEntityFlush,
  drmSchedEntityFini,
  drmSchedEntityDestroy,
  drmSchedEntitySetPriority,
  drmSchedEntityModifySched,
  MAX_WAIT_SCHED_ENTITY_Q_EMPTY_NS,
} from "./sched-entity.js";
export { DrmSchedRq, DRM_SCHED_POLICY_RR, DRM_SCHED_POLICY_FIFO, drmSchedPolicy, drmSchedSetPolicy, drmSchedEntityIsReady } from "./sched-rq.js";
export {
  DrmSchedFence,
  drmSchedFenceAlloc,
  drmSchedFenceInit,
  drmSchedFenceFree,
  drmSchedFenceScheduled,
  drmSchedFenceFinished,
  toDrmSchedFence,
  isScheduledFence,
} from "./sched-fence.js";
