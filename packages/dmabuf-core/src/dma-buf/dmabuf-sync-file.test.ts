// Port of igt-gpu-tools tests/dmabuf_sync_file.c (with lib/dmabuf_sync_file.c): sync_file export/import on a dma-buf, checked by poll.
import { beforeEach, describe, expect, it } from "vitest";
import {
  DMA_BUF_IOCTL_EXPORT_SYNC_FILE,
  DMA_BUF_IOCTL_IMPORT_SYNC_FILE,
  DMA_BUF_SYNC_READ,
  DMA_BUF_SYNC_RW,
  DMA_BUF_SYNC_WRITE,
  DmaFence,
  Kernel,
  LibSync,
  O_CLOEXEC,
  O_RDWR,
  POLLIN,
  POLLOUT,
  SpinLock,
  dmaBufExport,
  dmaBufFd,
  dmaBufSyncFile,
  dmaFenceContextAlloc,
  dmaFencePut,
  dmaFenceSignal,
  dmaResvAddFence,
  dmaResvLock,
  dmaResvReserveFences,
  dmaResvTestSignaled,
  dmaResvUnlock,
  dmaResvUsageRw,
  swSyncDebugfsInit,
  type DmaBuf,
  type Task,
} from "@dmabuf-sdk/dmabuf-core";

/** `VGEM_FENCE_WRITE`. */
const VGEM_FENCE_WRITE = 0x1;

let k: Kernel;
let t: Task;
let lib: LibSync;
const fences: DmaFence[] = [];

/** vgem's part: a bo exported as a dma-buf (`prime_handle_to_fd`), and fences attached to it. */
interface VgemBo {
  readonly dmabuf: DmaBuf;
  readonly fd: number;
}

function vgemCreateAndExport(): VgemBo {
  const dmabuf = dmaBufExport(k, {
    owner: k.modules.vmlinux,
    expName: "vgem",
    ops: { mapDmaBuf: () => ({}), unmapDmaBuf: () => undefined, release: () => undefined },
    size: 0x1000n,
    flags: O_RDWR,
    priv: {},
  });
  return { dmabuf, fd: k.runAs(t, () => dmaBufFd(dmabuf, O_CLOEXEC)) };
}

/**
 * `vgem_fence_attach()` (vgem_fence_attach_ioctl): a fence on a context of its
 * own, added as a writer with `VGEM_FENCE_WRITE`, else as a reader; refused
 * (`EBUSY`) when it would conflict with an unsignaled fence.
 */
function vgemFenceAttach(bo: VgemBo, flags: number): DmaFence {
  const lock = new SpinLock({ lockdep: k.lockdep, current: () => k.current }, "vgem fence lock");
  const f = new DmaFence(k, { getDriverName: () => "vgem", getTimelineName: () => "file" }, lock, dmaFenceContextAlloc(k, 1), 1n);
  const write = (flags & VGEM_FENCE_WRITE) !== 0;
  expect(dmaResvTestSignaled(bo.dmabuf.resv, dmaResvUsageRw(write))).toBe(true);
  dmaResvLock(bo.dmabuf.resv);
  dmaResvReserveFences(bo.dmabuf.resv, 1);
  dmaResvAddFence(bo.dmabuf.resv, f, write ? "DMA_RESV_USAGE_WRITE" : "DMA_RESV_USAGE_READ");
  dmaResvUnlock(bo.dmabuf.resv);
  fences.push(f);
  return f;
}

/** `vgem_fence_signal()`. */
function vgemFenceSignal(f: DmaFence): void {
  dmaFenceSignal(f);
}

// ---- lib/dmabuf_sync_file.c ---------------------------------------------------

/** `dmabuf_busy()`: a 0-timeout poll for POLLOUT (WRITE) or POLLIN (READ) finds nothing ready. */
function dmabufBusy(dmabuf: number, flags: number): boolean {
  const events = flags & DMA_BUF_SYNC_WRITE ? POLLOUT : flags & DMA_BUF_SYNC_READ ? POLLIN : 0;
  return t.sys.poll([{ fd: dmabuf, events }], 0) === 0;
}

/** `sync_file_busy()`. */
function syncFileBusy(syncFile: number): boolean {
  return t.sys.poll([{ fd: syncFile, events: POLLIN }], 0) === 0;
}

/** `dmabuf_export_sync_file()`: asserts success and returns the new fd. */
function dmabufExportSyncFile(dmabuf: number, flags: number): number {
  const arg = dmaBufSyncFile(flags);
  expect(t.sys.ioctl(dmabuf, DMA_BUF_IOCTL_EXPORT_SYNC_FILE, arg)).toBe(0);
  return new DataView(arg.buffer).getInt32(4, true);
}

/** `dmabuf_sync_file_busy()`: export, poll, close. */
function dmabufSyncFileBusy(dmabuf: number, flags: number): boolean {
  const sf = dmabufExportSyncFile(dmabuf, flags);
  const busy = syncFileBusy(sf);
  expect(t.sys.close(sf)).toBe(0);
  return busy;
}

/** `dmabuf_import_sync_file()`. */
function dmabufImportSyncFile(dmabuf: number, flags: number, syncFile: number): void {
  expect(t.sys.ioctl(dmabuf, DMA_BUF_IOCTL_IMPORT_SYNC_FILE, dmaBufSyncFile(flags, syncFile))).toBe(0);
}

/** `dmabuf_import_timeline_fence()`: a sw_sync fence at `seqno` on `timeline`, imported, closed. */
function dmabufImportTimelineFence(dmabuf: number, flags: number, timeline: number, seqno: number): void {
  const fence = lib.createFence(timeline, seqno);
  expect(fence).toBeGreaterThanOrEqual(0);
  dmabufImportSyncFile(dmabuf, flags, fence);
  expect(t.sys.close(fence)).toBe(0);
}

/** Both views of busy-ness (poll on the buffer, poll on an exported sync_file) at once. */
function busy(fd: number): Record<"r" | "w" | "rw" | "sfR" | "sfW" | "sfRW", boolean> {
  return {
    r: dmabufBusy(fd, DMA_BUF_SYNC_READ),
    w: dmabufBusy(fd, DMA_BUF_SYNC_WRITE),
    rw: dmabufBusy(fd, DMA_BUF_SYNC_RW),
    sfR: dmabufSyncFileBusy(fd, DMA_BUF_SYNC_READ),
    sfW: dmabufSyncFileBusy(fd, DMA_BUF_SYNC_WRITE),
    sfRW: dmabufSyncFileBusy(fd, DMA_BUF_SYNC_RW),
  };
}
const IDLE = { r: false, w: false, rw: false, sfR: false, sfW: false, sfRW: false };
const READ_FENCE = { r: false, w: true, rw: true, sfR: false, sfW: true, sfRW: true };
const WRITE_FENCE = { r: true, w: true, rw: true, sfR: true, sfW: true, sfRW: true };

beforeEach(() => {
  k = new Kernel();
  swSyncDebugfsInit(k);
  t = k.fork({ comm: "dmabuf_sync_file" });
  lib = new LibSync(k, t.sys);
  fences.length = 0;
});

function done(): void {
  for (const f of fences.splice(0)) {
    dmaFenceSignal(f);
    dmaFencePut(f);
  }
  k.exitTask(t, 0);
  k.clock.flush();
  expect(k.leakReport().text()).toBe("");
  expect(k.warnings()).toEqual([]);
}

describe("igt dmabuf_sync_file", () => {
  it("export-basic", () => {
    const bo = vgemCreateAndExport();
    expect(busy(bo.fd)).toEqual(IDLE);
    let fence = vgemFenceAttach(bo, 0);
    expect(busy(bo.fd)).toEqual(READ_FENCE);
    vgemFenceSignal(fence);
    expect(busy(bo.fd)).toEqual(IDLE);
    fence = vgemFenceAttach(bo, VGEM_FENCE_WRITE);
    expect(busy(bo.fd)).toEqual(WRITE_FENCE);
    vgemFenceSignal(fence);
    expect(busy(bo.fd)).toEqual(IDLE);
    expect(t.sys.close(bo.fd)).toBe(0);
    done();
  });

  it("export-before-signal", () => {
    const bo = vgemCreateAndExport();
    expect(dmabufSyncFileBusy(bo.fd, DMA_BUF_SYNC_READ)).toBe(false);
    expect(dmabufSyncFileBusy(bo.fd, DMA_BUF_SYNC_WRITE)).toBe(false);
    for (const [flags, readBusy] of [
      [0, false],
      [VGEM_FENCE_WRITE, true],
    ] as const) {
      const fence = vgemFenceAttach(bo, flags);
      const readFd = dmabufExportSyncFile(bo.fd, DMA_BUF_SYNC_READ);
      const writeFd = dmabufExportSyncFile(bo.fd, DMA_BUF_SYNC_WRITE);
      expect(syncFileBusy(readFd)).toBe(readBusy);
      expect(syncFileBusy(writeFd)).toBe(true);
      vgemFenceSignal(fence);
      expect(syncFileBusy(readFd)).toBe(false);
      expect(syncFileBusy(writeFd)).toBe(false);
      expect(t.sys.close(readFd)).toBe(0);
      expect(t.sys.close(writeFd)).toBe(0);
    }
    expect(t.sys.close(bo.fd)).toBe(0);
    done();
  });

  it("export-multiwait", () => {
    const bo = vgemCreateAndExport();
    const fence1 = vgemFenceAttach(bo, 0);
    const fence2 = vgemFenceAttach(bo, 0);
    const syncFile = dmabufExportSyncFile(bo.fd, DMA_BUF_SYNC_WRITE);
    const fence3 = vgemFenceAttach(bo, 0);
    expect(syncFileBusy(syncFile)).toBe(true);
    vgemFenceSignal(fence1);
    expect(syncFileBusy(syncFile)).toBe(true);
    vgemFenceSignal(fence2);
    expect(syncFileBusy(syncFile)).toBe(false);
    vgemFenceSignal(fence3);
    expect(t.sys.close(syncFile)).toBe(0);
    expect(t.sys.close(bo.fd)).toBe(0);
    done();
  });

  it("export-wait-after-attach", () => {
    const bo = vgemCreateAndExport();
    let readSyncFile = dmabufExportSyncFile(bo.fd, DMA_BUF_SYNC_READ);
    let writeSyncFile = dmabufExportSyncFile(bo.fd, DMA_BUF_SYNC_WRITE);
    const fence1 = vgemFenceAttach(bo, VGEM_FENCE_WRITE);
    expect(syncFileBusy(readSyncFile)).toBe(false);
    expect(syncFileBusy(writeSyncFile)).toBe(false);
    expect(t.sys.close(readSyncFile)).toBe(0);
    expect(t.sys.close(writeSyncFile)).toBe(0);
    // These wait on fence1.
    readSyncFile = dmabufExportSyncFile(bo.fd, DMA_BUF_SYNC_READ);
    writeSyncFile = dmabufExportSyncFile(bo.fd, DMA_BUF_SYNC_WRITE);
    expect(syncFileBusy(readSyncFile)).toBe(true);
    expect(syncFileBusy(writeSyncFile)).toBe(true);
    vgemFenceSignal(fence1);
    const fence2 = vgemFenceAttach(bo, VGEM_FENCE_WRITE);
    // fence1 has signaled, fence2 has not.
    expect(syncFileBusy(readSyncFile)).toBe(false);
    expect(syncFileBusy(writeSyncFile)).toBe(false);
    expect(dmabufSyncFileBusy(bo.fd, DMA_BUF_SYNC_READ)).toBe(true);
    expect(dmabufSyncFileBusy(bo.fd, DMA_BUF_SYNC_WRITE)).toBe(true);
    vgemFenceSignal(fence2);
    expect(t.sys.close(readSyncFile)).toBe(0);
    expect(t.sys.close(writeSyncFile)).toBe(0);
    expect(t.sys.close(bo.fd)).toBe(0);
    done();
  });

  it("import-basic", () => {
    const bo = vgemCreateAndExport();
    expect(dmabufBusy(bo.fd, DMA_BUF_SYNC_READ)).toBe(false);
    expect(dmabufBusy(bo.fd, DMA_BUF_SYNC_WRITE)).toBe(false);
    const timeline = lib.timelineCreate();
    const steps = [
      { flags: DMA_BUF_SYNC_READ, seqno: 1, want: READ_FENCE },
      { flags: DMA_BUF_SYNC_WRITE, seqno: 2, want: WRITE_FENCE },
      { flags: DMA_BUF_SYNC_RW, seqno: 3, want: WRITE_FENCE },
    ];
    for (const { flags, seqno, want } of steps) {
      dmabufImportTimelineFence(bo.fd, flags, timeline, seqno);
      expect(busy(bo.fd)).toEqual(want);
      expect(lib.inc(timeline, 1)).toBe(0);
      expect(busy(bo.fd)).toEqual(IDLE);
    }
    expect(t.sys.close(timeline)).toBe(0);
    expect(t.sys.close(bo.fd)).toBe(0);
    done();
  });

  it.each([
    { name: "import-multiple-read-only", write: false },
    { name: "import-multiple-read-write", write: true },
  ])("$name", ({ write }) => {
    const bo = vgemCreateAndExport();
    expect(dmabufBusy(bo.fd, DMA_BUF_SYNC_READ)).toBe(false);
    expect(dmabufBusy(bo.fd, DMA_BUF_SYNC_WRITE)).toBe(false);
    const readTimelines: number[] = [];
    for (let i = 0; i < 32; i++) {
      readTimelines.push(lib.timelineCreate());
      dmabufImportTimelineFence(bo.fd, DMA_BUF_SYNC_READ, readTimelines[i]!, 1);
    }
    let writeTimeline = -1;
    if (write) {
      writeTimeline = lib.timelineCreate();
      dmabufImportTimelineFence(bo.fd, DMA_BUF_SYNC_WRITE, writeTimeline, 1);
    }
    const readSyncFile = dmabufExportSyncFile(bo.fd, DMA_BUF_SYNC_READ);
    const writeSyncFile = dmabufExportSyncFile(bo.fd, DMA_BUF_SYNC_WRITE);
    for (let i = readTimelines.length - 1; i >= 0; i--) {
      expect(dmabufBusy(bo.fd, DMA_BUF_SYNC_READ)).toBe(write);
      expect(syncFileBusy(readSyncFile)).toBe(write);
      expect(dmabufBusy(bo.fd, DMA_BUF_SYNC_WRITE)).toBe(true);
      expect(syncFileBusy(writeSyncFile)).toBe(true);
      expect(lib.inc(readTimelines[i]!, 1)).toBe(0);
    }
    expect(dmabufBusy(bo.fd, DMA_BUF_SYNC_READ)).toBe(write);
    expect(syncFileBusy(readSyncFile)).toBe(write);
    expect(dmabufBusy(bo.fd, DMA_BUF_SYNC_WRITE)).toBe(write);
    expect(syncFileBusy(writeSyncFile)).toBe(write);
    if (write) expect(lib.inc(writeTimeline, 1)).toBe(0);
    expect(dmabufBusy(bo.fd, DMA_BUF_SYNC_READ)).toBe(false);
    expect(syncFileBusy(readSyncFile)).toBe(false);
    expect(dmabufBusy(bo.fd, DMA_BUF_SYNC_WRITE)).toBe(false);
    expect(syncFileBusy(writeSyncFile)).toBe(false);
    done();
  });
});
