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
  DrmSchedRq,
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
  drmSchedEntityIsReady,
  drmSchedEntitySelectRq,
  drmSchedEntityKill,
  drmSchedEntityFlush,
  drmSchedEntityFini,
  drmSchedEntityDestroy,
  drmSchedEntitySetPriority,
  drmSchedEntityModifySched,
  MAX_WAIT_SCHED_ENTITY_Q_EMPTY_NS,
} from "./sched-entity.js";
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
