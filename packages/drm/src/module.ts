// drivers/gpu/drm/drm_drv.c module_init(drm_core_init): the DRM core as one module (with gpu-sched built in).
import { exportSymbol, provideSymbol, type KernelModule, type SymbolExport } from "@dmabuf-sdk/dmabuf-core";
import {
  drmSchedEntityDestroy,
  drmSchedEntityFini,
  drmSchedEntityFlush,
  drmSchedEntityInit,
  drmSchedEntityModifySched,
  drmSchedEntityPushJob,
  drmSchedEntitySetPriority,
} from "./sched-entity.js";
import {
  drmSchedFini,
  drmSchedInit,
  drmSchedJobAddDependency,
  drmSchedJobAddResvDependencies,
  drmSchedJobArm,
  drmSchedJobCleanup,
  drmSchedJobHasDependency,
  drmSchedJobInit,
  drmSchedFault,
  drmSchedIncreaseKarma,
  drmSchedIsStopped,
  drmSchedJobIsSignaled,
  drmSchedPickBest,
  drmSchedResubmitJobs,
  drmSchedStart,
  drmSchedStop,
  drmSchedTdrQueueImm,
  drmSchedWakeup,
  drmSchedWqueueReady,
  drmSchedWqueueStart,
  drmSchedWqueueStop,
} from "./sched-main.js";

// gpu-sched exports with plain EXPORT_SYMBOL (drivers/gpu/drm/scheduler/).
const SCHED: readonly [SymbolExport, unknown][] = [
  [exportSymbol("drm_sched_init"), drmSchedInit],
  [exportSymbol("drm_sched_fini"), drmSchedFini],
  [exportSymbol("drm_sched_wakeup"), drmSchedWakeup],
  [exportSymbol("drm_sched_wqueue_stop"), drmSchedWqueueStop],
  [exportSymbol("drm_sched_wqueue_start"), drmSchedWqueueStart],
  [exportSymbol("drm_sched_wqueue_ready"), drmSchedWqueueReady],
  [exportSymbol("drm_sched_stop"), drmSchedStop],
  [exportSymbol("drm_sched_start"), drmSchedStart],
  [exportSymbol("drm_sched_resubmit_jobs"), drmSchedResubmitJobs],
  [exportSymbol("drm_sched_increase_karma"), drmSchedIncreaseKarma],
  [exportSymbol("drm_sched_fault"), drmSchedFault],
  [exportSymbol("drm_sched_tdr_queue_imm"), drmSchedTdrQueueImm],
  [exportSymbol("drm_sched_is_stopped"), drmSchedIsStopped],
  [exportSymbol("drm_sched_job_is_signaled"), drmSchedJobIsSignaled],
  [exportSymbol("drm_sched_pick_best"), drmSchedPickBest],
  [exportSymbol("drm_sched_job_init"), drmSchedJobInit],
  [exportSymbol("drm_sched_job_arm"), drmSchedJobArm],
  [exportSymbol("drm_sched_job_add_dependency"), drmSchedJobAddDependency],
  [exportSymbol("drm_sched_job_add_resv_dependencies"), drmSchedJobAddResvDependencies],
  [exportSymbol("drm_sched_job_has_dependency"), drmSchedJobHasDependency],
  [exportSymbol("drm_sched_job_cleanup"), drmSchedJobCleanup],
  [exportSymbol("drm_sched_entity_init"), drmSchedEntityInit],
  [exportSymbol("drm_sched_entity_push_job"), drmSchedEntityPushJob],
  [exportSymbol("drm_sched_entity_flush"), drmSchedEntityFlush],
  [exportSymbol("drm_sched_entity_fini"), drmSchedEntityFini],
  [exportSymbol("drm_sched_entity_destroy"), drmSchedEntityDestroy],
  [exportSymbol("drm_sched_entity_set_priority"), drmSchedEntitySetPriority],
  [exportSymbol("drm_sched_entity_modify_sched"), drmSchedEntityModifySched],
];

/**
 * The DRM core (`drm.ko`) as a kernel module. The GPU scheduler
 * (`gpu-sched.ko` upstream) is built into it here: one package, one module
 * descriptor, exporting the scheduler API drivers link against. Devices,
 * files and sync objects live in the DRM devices the drivers allocate; the
 * module itself holds no state.
 * @public
 */
export const drmModule: KernelModule = {
  name: "drm",
  license: "GPL and additional rights",
  description: "DRM shared core routines",
  uses: [
    "dma_fence_add_callback",
    "dma_fence_remove_callback",
    "dma_fence_set_deadline",
    "dma_fence_get_stub",
    "dma_fence_allocate_private_stub",
    "dma_fence_chain_init",
    "dma_fence_chain_walk",
    "dma_fence_chain_find_seqno",
    "__dma_fence_unwrap_merge",
    "sync_file_create",
    "sync_file_get_fence",
    "eventfd_ctx_fdget",
    "eventfd_signal",
    "eventfd_ctx_put",
  ],
  exports: SCHED.map(([decl]) => decl),
  init(ctx) {
    for (const [decl, impl] of SCHED) provideSymbol(ctx, decl.name, impl);
  },
};
