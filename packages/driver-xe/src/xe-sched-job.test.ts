// Tests of drivers/gpu/drm/xe/xe_sched_job.c: Xe jobs through drm_sched.
import { describe, expect, it } from "vitest";
import { dmaResvLock, dmaResvUnlock } from "@dmabuf-sdk/dmabuf-core";
import { XE_PL_TT, XE_PL_VRAM0, xeBoCreate, xeBoMigrate, xeBoPut, xeBoRead, xeBoWrite, xeVmBind, xeVmCreate, xeVmDestroy, xeVmRead, xeVmUnbind } from "@dmabuf-sdk/driver-xe";
import { boot, bytes, teardown, xeOn } from "./testing/machine.js";

describe("xe jobs through drm_sched", () => {
  it("clears, migrations and binds are jobs on the migration queue: run_job on its kworker, hardware fences signalled in the engine IRQ", () => {
    const { k, t } = boot("same-switch");
    const xe = xeOn(t.exporterSlot);
    const bo = xeBoCreate(xe, 0x2000n, { placements: [XE_PL_VRAM0, XE_PL_TT] }); // clear
    expect(xeBoRead(bo, 0n, 16)).toEqual(new Uint8Array(16));
    xeBoWrite(bo, 0n, bytes(0x2000));
    dmaResvLock(bo.resv);
    try {
      xeBoMigrate(bo, XE_PL_TT); // copy VRAM → TT
    } finally {
      dmaResvUnlock(bo.resv);
    }
    const vm = xeVmCreate(xe);
    const vma = xeVmBind(vm, bo, 0x10000n, 0n, 0x2000n); // bind
    expect(xeVmRead(vm, 0x10000n, 0x2000)).toEqual(bytes(0x2000));
    xeVmUnbind(vma);
    xeVmDestroy(vm);
    xeBoPut(bo);
    // the bind validates the BO back into VRAM first (a second copy)
    expect(k.trace.events("xe_sched_job_exec").map((e) => e.fields.kind)).toEqual(["migrate-clear", "migrate-copy", "migrate-copy", "bind"]);
    // run_job on the submit queue's kworker; the job completes from the engine interrupt on the idle CPU
    expect(k.trace.events("drm_sched_job_run").map((e) => `${e.fields.sched} ${e.comm}`)).toEqual(Array(4).fill("xe-migrate kworker/u4:0"));
    expect(k.trace.events("drm_sched_job_done").map((e) => e.comm)).toEqual(Array(4).fill("swapper/0"));
    expect(xe.migrateQ!.irqLock.lockClass.usage()).toContain("IN-HARDIRQ-W");
    expect(teardown(k)).toBe("");
    expect([k.warnings(), k.lockdep.reports()]).toEqual([[], []]);
  });
});
