// drivers/dma-buf/dma-buf-io.c (v6; v3's lib/io_dmabuf_token.c as a version axis): long-term dma-buf I/O contexts and maps.
import {
  DmaFence,
  KernelBug,
  KernelError,
  MAX_SCHEDULE_TIMEOUT,
  Mutex,
  SpinLock,
  dmaBufPut,
  dmaFenceContextAlloc,
  dmaFencePut,
  dmaFenceSignal,
  dmaFenceWait,
  dmaResvAddFence,
  dmaResvAssertHeld,
  dmaResvLock,
  dmaResvLockInterruptible,
  dmaResvReserveFences,
  dmaResvUnlock,
  dmaResvWaitTimeout,
  getDmaBuf,
  isKernelError,
  type DmaBuf,
  type DmaDataDirection,
  type DmaFenceOps,
  type File,
  type FileOperations,
  type Kernel,
} from "@dmabuf-sdk/dmabuf-core";
import { queueWork, waitEvent, wouldBlock } from "./workqueue.js";

/**
 * Posted versions of the series that change behaviour here. `v3`
 * (2026-04-29): the fence-based token layer (`lib/io_dmabuf_token.c`),
 * invalidation adds a KERNEL fence and returns, the request drops its map
 * reference when it is freed. `v6` (2026-09-21): no fence, invalidation
 * waits until every request on a killed map completed, references are
 * dropped at completion, a killed context refuses new maps with `ENOENT`.
 * v4 is v3 plus the early reference drop; v5 renames v3's layer.
 * @public
 */
export type IoDmabufVersion = "v3" | "v6";

/** The version new registrations use unless told otherwise. @public */
export const IO_DMABUF_DEFAULT_VERSION: IoDmabufVersion = "v6";

/** `struct dma_buf_io_ops` (v3: `io_dmabuf_token_dev_ops`): the driver's callbacks, all three required. @public */
export interface DmaBufIoOps {
  /** Creates the driver's map with the resv lock held: maps the attachment and calls {@link dmaBufIoInitMap}. */
  map(ctx: DmaBufIoCtx): DmaBufIoMap;
  /** Undoes `map`, resv held (runs from a worker). */
  unmap(ctx: DmaBufIoCtx, map: DmaBufIoMap): void;
  /** Detaches and frees the driver state; resv not held. */
  release(ctx: DmaBufIoCtx): void;
}

/**
 * `file_operations->init_dma_buf_io_ctx` (v3: `create_dmabuf_token`): a file
 * that can do I/O against a long-term dma-buf map sets `ctx.devOps` and
 * `ctx.devPriv`, normally after a dynamic attach of `ctx.dmabuf` to its device.
 * @public
 */
export interface DmaBufIoFileOperations extends FileOperations {
  initDmaBufIoCtx?(file: File, ctx: DmaBufIoCtx): void;
}

/**
 * `struct dma_buf_io_map`: one long-term mapping. `refs` is the percpu_ref:
 * the initial reference is the "published" one, each request holds one more;
 * the kill drops the published reference and refuses new `tryget_live`.
 * @public
 */
export class DmaBufIoMap<TPriv = unknown> {
  refs = 1;
  /** `percpu_ref_kill()` done. */
  dead = false;
  /** log2 of the smallest DMA segment of the map (v6 `min_seg_shift`); 0 is invalid. */
  minSegShift = 0;
  /** v3: the map's fence, added to the dma-buf's resv (KERNEL) at invalidation and signalled at release. */
  fence: DmaFence | null = null;
  released = false;
  constructor(
    readonly ctx: DmaBufIoCtx,
    /** The driver's part (NVMe: its sg_table and DMA address list). */
    readonly priv: TPriv,
  ) {}
}

/**
 * `struct dma_buf_io_ctx` (v3: `struct io_dmabuf_token`): one registration's
 * link between a dma-buf and a file's device.
 * @public
 */
export class DmaBufIoCtx {
  /** The published map (`ctx->map`, RCU). */
  map: DmaBufIoMap | null = null;
  devPriv: unknown = null;
  devOps: DmaBufIoOps | null = null;
  /** v6: maps that still have users (killed or not). */
  activeMaps = 0;
  /** v6: maps not yet unmapped and freed. */
  allMaps = 0;
  /** v6: final kill done; new maps fail `ENOENT`. */
  mapsKilled = false;
  readonly mapMutex: Mutex;
  readonly mapCreateMutex: Mutex;
  /** v3: references on the token (the registration's one, one per live map, one per running worker). */
  refs = 1;
  /** v3: fence context of the maps' fences. */
  fenceContext = 0n;
  fenceSeq = 0n;
  readonly fenceLock: SpinLock;
  freed = false;
  /** Calls to the driver's `map` op (tests count them: registration makes none). */
  mapCalls = 0;

  constructor(
    readonly kernel: Kernel,
    readonly dmabuf: DmaBuf,
    readonly dir: DmaDataDirection,
    readonly version: IoDmabufVersion,
  ) {
    const env = { lockdep: kernel.lockdep, current: () => kernel.current };
    this.mapMutex = new Mutex(env, "dma_buf_io_ctx.map_mutex");
    this.mapCreateMutex = new Mutex(env, "dma_buf_io_ctx.map_create_mutex");
    this.fenceLock = new SpinLock(env, "io_dmabuf_token.fence_lock");
  }
}

const FENCE_OPS: DmaFenceOps = {
  getDriverName: () => "io_dmabuf_token",
  getTimelineName: () => "map",
};

/**
 * `dma_buf_io_create()` (v3: `io_dmabuf_token_create()`): a context for I/O
 * from `file` against `dmabuf`. `EOPNOTSUPP` when the file has no
 * `init_dma_buf_io_ctx`; the file op's errno otherwise; `EINVAL` (and a
 * WARN) when the driver did not set all three ops. Nothing is left behind
 * on failure (v3 leaked the dma-buf reference and the driver state in the
 * WARN branch; the model releases both).
 * @public
 */
export function dmaBufIoCreate(file: File, dmabuf: DmaBuf, dir: DmaDataDirection, version: IoDmabufVersion): DmaBufIoCtx {
  const fops = file.fops as DmaBufIoFileOperations;
  const k = file.kernel;
  if (!fops.initDmaBufIoCtx) throw new KernelError("EOPNOTSUPP", "dma_buf_io_create", `${fops.name} has no init_dma_buf_io_ctx`);
  if (version === "v6") k.alloc.kzalloc("dma_buf_io_ctx");
  const ctx = new DmaBufIoCtx(k, dmabuf, dir, version);
  if (version === "v3") ctx.fenceContext = dmaFenceContextAlloc(k, 1);
  getDmaBuf(dmabuf);
  try {
    fops.initDmaBufIoCtx(file, ctx);
  } catch (e) {
    dmaBufPut(dmabuf);
    throw e;
  }
  const ops = ctx.devOps;
  if (!ops || !ops.map || !ops.unmap || !ops.release) {
    k.warn(`dma_buf_io_create: ${fops.name} did not set all dma_buf_io_ops`);
    if (ops?.release) ops.release(ctx);
    dmaBufPut(dmabuf);
    throw new KernelError("EINVAL", "dma_buf_io_create", "incomplete ops");
  }
  k.objects.track("dma_buf_io_ctx", ctx, () => `dma_buf_io_ctx of ${dmabuf.expName} (${version}) maps ${ctx.allMaps} active ${ctx.activeMaps}`);
  return ctx;
}

/**
 * `dma_buf_io_init_map()`: the common part of a map the driver's `map` op
 * builds. `segLens` are the DMA segment lengths of its sg_table (v6 computes
 * `min_seg_shift` from them); v3 also allocates the map's fence.
 * @public
 */
export function dmaBufIoInitMap<TPriv>(ctx: DmaBufIoCtx, priv: TPriv, segLens: Iterable<number>): DmaBufIoMap<TPriv> {
  const k = ctx.kernel;
  k.alloc.kzalloc("dma_buf_io_map");
  const map = new DmaBufIoMap<TPriv>(ctx, priv);
  let min = Infinity;
  for (const len of segLens) {
    // The largest power of two dividing every segment length: ffs of the OR.
    const low = len & -len;
    if (low > 0 && low < min) min = low;
  }
  map.minSegShift = min === Infinity ? 0 : Math.log2(min);
  if (ctx.version === "v3") map.fence = new DmaFence(k, FENCE_OPS, ctx.fenceLock, ctx.fenceContext, ++ctx.fenceSeq);
  return map;
}

/** `dma_buf_io_tryget_map()` / the RCU fast path: a reference on the published live map, or null. @public */
export function dmaBufIoTrygetMap(ctx: DmaBufIoCtx): DmaBufIoMap | null {
  const m = ctx.map;
  if (!m || m.dead) return null;
  m.refs++;
  return m;
}

/** `dma_buf_io_put_map()`: drops a request's reference; the last one after a kill releases the map. @public */
export function dmaBufIoPutMap(map: DmaBufIoMap): void {
  if (map.refs <= 0) throw new KernelBug("WARN", "percpu_ref underflow on dma_buf_io_map");
  if (--map.refs === 0) mapRelease(map);
}

function killMap(map: DmaBufIoMap): void {
  map.dead = true;
  dmaBufIoPutMap(map);
}

/**
 * The percpu_ref release callback: runs where the last reference went
 * (often the device's completion path), so it never takes the resv lock;
 * the unmap is a work item that does.
 */
function mapRelease(map: DmaBufIoMap): void {
  const ctx = map.ctx;
  const k = ctx.kernel;
  if (ctx.version === "v6") {
    ctx.activeMaps--;
    queueWork(k, "dma_buf_io_map_release_work", () => {
      if (wouldBlock(k, ctx.dmabuf.resv.lock)) return false;
      dmaResvLock(ctx.dmabuf.resv);
      try {
        ctx.devOps!.unmap(ctx, map);
      } finally {
        dmaResvUnlock(ctx.dmabuf.resv);
      }
      freeMap(map);
      ctx.allMaps--;
      return true;
    });
    return;
  }
  // v3: take a token ref, signal the fence first (waiters may hold resv), then unmap under resv.
  ctx.refs++;
  let signalled = false;
  queueWork(k, "io_dmabuf_map_release_work", () => {
    if (!signalled) {
      dmaFenceSignal(map.fence!);
      signalled = true;
    }
    if (wouldBlock(k, ctx.dmabuf.resv.lock)) return false;
    dmaResvLock(ctx.dmabuf.resv);
    try {
      ctx.devOps!.unmap(ctx, map);
    } finally {
      dmaResvUnlock(ctx.dmabuf.resv);
    }
    dmaFencePut(map.fence!);
    freeMap(map);
    ctx.allMaps--;
    ctx.refs--; // the map's own reference
    tokenPut(ctx);
    return true;
  });
}

function freeMap(map: DmaBufIoMap): void {
  map.released = true;
  map.ctx.kernel.objects.untrack(map);
}

function publish(ctx: DmaBufIoCtx, map: DmaBufIoMap): void {
  map.refs++; // the caller's reference
  ctx.map = map;
  ctx.activeMaps++;
  ctx.allMaps++;
  if (ctx.version === "v3") ctx.refs++;
  ctx.kernel.objects.track("dma_buf_io_map", map, () => `dma_buf_io_map of ${ctx.dmabuf.expName} refs ${map.refs}${map.dead ? " (killed)" : ""}`);
}

/** True when {@link dmaBufIoGetMap} would sleep on a lock another task holds right now. @internal */
export function dmaBufIoGetMapWouldBlock(ctx: DmaBufIoCtx): boolean {
  const k = ctx.kernel;
  return wouldBlock(k, ctx.dmabuf.resv.lock) || wouldBlock(k, ctx.mapCreateMutex) || wouldBlock(k, ctx.mapMutex);
}

/**
 * `dma_buf_io_get_map(ctx, nowait)`: a reference on the published map, or a
 * new map. With `nowait` a missing map is `EAGAIN` (io_uring then punts the
 * request to io-wq, which calls again without it). v6: one creator at a
 * time, `ENOENT` after the final kill, waits for every killed map's
 * requests before mapping, waits the KERNEL fences under resv. v3: waits the
 * KERNEL fences unlocked (0 → `EAGAIN`), then maps under resv with a
 * re-check. The driver's errno (e.g. the exporter's `ENODEV` for a revoked
 * buffer) is returned as is.
 * @public
 */
export function dmaBufIoGetMap(ctx: DmaBufIoCtx, nowait: boolean): DmaBufIoMap {
  const fast = dmaBufIoTrygetMap(ctx);
  if (fast) return fast;
  if (nowait) throw new KernelError("EAGAIN", "dma_buf_io_get_map", "no map (nowait)");
  return ctx.version === "v6" ? createMapV6(ctx) : createMapV3(ctx);
}

function createMapV6(ctx: DmaBufIoCtx): DmaBufIoMap {
  const k = ctx.kernel;
  const resv = ctx.dmabuf.resv;
  ctx.mapCreateMutex.lock();
  try {
    ctx.mapMutex.lock();
    try {
      if (ctx.mapsKilled) throw new KernelError("ENOENT", "dma_buf_io_get_map", "context killed");
      const fast = dmaBufIoTrygetMap(ctx);
      if (fast) return fast;
    } finally {
      ctx.mapMutex.unlock();
    }
    // Never map while requests of a killed map are still in flight.
    waitEvent(k, "dma_buf_io_create_map (active_maps)", () => ctx.activeMaps === 0);
    dmaResvLockInterruptible(resv);
    let map: DmaBufIoMap;
    try {
      const r = dmaResvWaitTimeout(resv, "DMA_RESV_USAGE_KERNEL", true, MAX_SCHEDULE_TIMEOUT);
      if (r === 0) throw new KernelError("EAGAIN", "dma_buf_io_get_map", "KERNEL fences");
      ctx.mapCalls++;
      map = ctx.devOps!.map(ctx);
    } finally {
      dmaResvUnlock(resv);
    }
    if (map.minSegShift === 0) {
      // v6 WARNs and returns -EFAULT, leaking the map; the model unmaps it.
      k.warn("dma_buf_io_get_map: min_seg_shift == 0");
      dmaResvLock(resv);
      try {
        ctx.devOps!.unmap(ctx, map);
      } finally {
        dmaResvUnlock(resv);
      }
      throw new KernelError("EFAULT", "dma_buf_io_get_map", "min_seg_shift 0");
    }
    ctx.mapMutex.with(() => publish(ctx, map));
    return map;
  } finally {
    ctx.mapCreateMutex.unlock();
  }
}

function createMapV3(ctx: DmaBufIoCtx): DmaBufIoMap {
  const resv = ctx.dmabuf.resv;
  for (;;) {
    const r = dmaResvWaitTimeout(resv, "DMA_RESV_USAGE_KERNEL", true, MAX_SCHEDULE_TIMEOUT);
    if (r === 0) throw new KernelError("EAGAIN", "io_dmabuf_create_map", "KERNEL fences");
    dmaResvLock(resv);
    try {
      const fast = dmaBufIoTrygetMap(ctx);
      if (fast) return fast;
      // The timeout-0 re-check retries only on an error (a negative return), never in the model.
      if (dmaResvWaitTimeout(resv, "DMA_RESV_USAGE_KERNEL", true, 0) < 0) continue;
      ctx.mapCalls++;
      const map = ctx.devOps!.map(ctx);
      publish(ctx, map);
      return map;
    } finally {
      dmaResvUnlock(resv);
    }
  }
}

/**
 * The importer's `invalidate_mappings` (`dma_buf_io_invalidate_mappings()`),
 * called by the exporter with the resv lock held. v6: unpublish, kill, and
 * wait until every request on a killed map completed (the exporter's
 * resv-held section blocks on the I/O). v3: unpublish, add the map's fence
 * to the resv as KERNEL, kill, return at once; when the fence slot cannot
 * be reserved, WARN, kill and wait the fence here.
 * @public
 */
export function dmaBufIoInvalidateMappings(ctx: DmaBufIoCtx): void {
  const resv = ctx.dmabuf.resv;
  dmaResvAssertHeld(resv, "dma_buf_io_invalidate_mappings");
  if (ctx.version === "v6") {
    const killed = ctx.mapMutex.with(() => {
      const m = ctx.map;
      if (!m) return false;
      ctx.map = null;
      killMap(m);
      return true;
    });
    if (killed) waitEvent(ctx.kernel, "dma_buf_io_invalidate_mappings (active_maps)", () => ctx.activeMaps === 0);
    return;
  }
  const m = ctx.map;
  if (!m) return;
  ctx.map = null;
  try {
    dmaResvReserveFences(resv, 1);
  } catch (e) {
    if (!isKernelError(e)) throw e;
    ctx.kernel.warn("io_dmabuf_invalidate: dma_resv_reserve_fences failed, waiting synchronously");
    const fence = m.fence!;
    killMap(m);
    dmaFenceWait(fence, false);
    return;
  }
  dmaResvAddFence(resv, m.fence!, "DMA_RESV_USAGE_KERNEL");
  killMap(m);
}

/**
 * Kills every map for good (`__dma_buf_io_kill(ctx, final = true)`) and
 * waits until all of them are unmapped and freed.
 */
function killFinalAndWait(ctx: DmaBufIoCtx): void {
  const k = ctx.kernel;
  ctx.mapMutex.with(() => {
    ctx.mapsKilled = true;
    const m = ctx.map;
    ctx.map = null;
    if (m) killMap(m);
  });
  waitEvent(k, "dma_buf_io_kill (all_maps)", () => ctx.allMaps === 0);
}

/**
 * `dma_buf_io_detach()` (v6): for a driver that must let go early (device
 * removal): final kill and wait, under `map_create_mutex`; the context stays
 * allocated until its release, and new maps fail `ENOENT`.
 * @public
 */
export function dmaBufIoDetach(ctx: DmaBufIoCtx): void {
  if (ctx.version !== "v6") throw new KernelError("EOPNOTSUPP", "dma_buf_io_detach", "v6 only");
  ctx.mapCreateMutex.with(() => killFinalAndWait(ctx));
}

/**
 * `dma_buf_io_release()` (v3: `io_dmabuf_token_release()`): the registration
 * is gone. v6: final kill, wait every map unmapped, then the driver's
 * `release`, the dma-buf reference and the context. v3: a worker drops the
 * published map as an invalidation does, waits every KERNEL fence of the
 * dma-buf (others' too), and drops the token reference; destruction follows
 * the last reference. Either way the caller does not hold resv.
 * @public
 */
export function dmaBufIoRelease(ctx: DmaBufIoCtx): void {
  const k = ctx.kernel;
  if (ctx.version === "v6") {
    killFinalAndWait(ctx);
    destroy(ctx);
    return;
  }
  queueWork(k, "io_dmabuf_token_release_work", () => {
    if (wouldBlock(k, ctx.dmabuf.resv.lock)) return false;
    dmaResvLock(ctx.dmabuf.resv);
    try {
      dmaBufIoInvalidateMappings(ctx);
    } finally {
      dmaResvUnlock(ctx.dmabuf.resv);
    }
    dmaResvWaitTimeout(ctx.dmabuf.resv, "DMA_RESV_USAGE_KERNEL", false, MAX_SCHEDULE_TIMEOUT);
    k.warnOn(ctx.map !== null, "io_dmabuf_token_release: a map was re-published");
    tokenPut(ctx);
    return true;
  });
}

function tokenPut(ctx: DmaBufIoCtx): void {
  if (--ctx.refs === 0) destroy(ctx);
}

function destroy(ctx: DmaBufIoCtx): void {
  if (ctx.freed) throw new KernelBug("WARN", "dma_buf_io_ctx freed twice");
  ctx.freed = true;
  try {
    ctx.devOps!.release(ctx);
  } finally {
    dmaBufPut(ctx.dmabuf);
    ctx.kernel.objects.untrack(ctx);
  }
}
