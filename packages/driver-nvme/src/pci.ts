// drivers/nvme/host/pci.c: probe, admin and I/O queues, nvme_queue_rq/nvme_map_data (PRP, SGL), nvme_irq, and the series' dma-buf token ops (v3 07/10).
import {
  DMA_MAPPING_ERROR,
  KernelError,
  dmaBufDetach,
  dmaBufDynamicAttach,
  dmaIovaDestroy,
  dmaIovaLink,
  dmaIovaState,
  dmaIovaSync,
  dmaIovaTryAlloc,
  dmaMapPhys,
  dmaSyncSingleForCpu,
  dmaSyncSingleForDevice,
  dmaUnmapPhys,
  type DmaBufAttachment,
  type DmaDataDirection,
  type DmaIovaState,
  type Kernel,
  type PciDev,
} from "@dmabuf-sdk/dmabuf-core";
import { dmaBufIoDetach, dmaBufIoInitMap, dmaBufIoInvalidateMappings, waitEvent, walkBvec, type DmaBufIoCtx, type DmaBufIoMap, type IovIterBvec } from "@dmabuf-sdk/io-uring";
import { dmaBufSgtMapAttachment, dmaBufSgtUnmapAttachment, type SgTable } from "@dmabuf-sdk/map-sgt";
import { DmaPool, coherentRead, coherentWrite, dmaAllocCoherent, dmaFreeCoherent, type DmaCoherent } from "./dmapool.js";
import { pciAllocIrqVectors, pciFreeIrq, pciFreeIrqVectors, pciRequestIrq } from "./msi.js";
import type { NvmeHw } from "./nvme-hw.js";
import {
  NVME_CC_ENABLE,
  NVME_CMD_PSDT_SGL,
  NVME_CQE_SIZE,
  NVME_CSTS_RDY,
  NVME_CTRL_PAGE_SIZE,
  NVME_ID_CNS_CTRL,
  NVME_ID_CNS_NS,
  NVME_REG_ACQ,
  NVME_REG_AQA,
  NVME_REG_ASQ,
  NVME_REG_CC,
  NVME_REG_CSTS,
  NVME_REG_DBS,
  NVME_SGL_FMT_DATA_DESC,
  NVME_SGL_FMT_LAST_SEG_DESC,
  NVME_SQE_SIZE,
  decodeCompletion,
  encodeCommand,
  encodeSglDesc,
  nvme_admin_create_cq,
  nvme_admin_create_sq,
  nvme_admin_delete_cq,
  nvme_admin_delete_sq,
  nvme_admin_identify,
  nvme_cmd_read,
  nvme_cmd_write,
  type NvmeCommand,
} from "./nvme-spec.js";

/** `NVME_SMALL_POOL_SIZE / 8`: PRP lists up to this many entries come from the small pool. @public */
export const NVME_SMALL_POOL_ENTRIES = 32;
/** Entries of one PRP list page. */
const PRP_PER_PAGE = NVME_CTRL_PAGE_SIZE / 8;
const ADMIN_DEPTH = 32;
/** `BLK_MQ_RESOURCE_DELAY`: 3 ms before a queue stopped on resources is run again. */
const BLK_MQ_RESOURCE_DELAY_NS = 3e6;

/** Driver options (module parameters of nvme-pci). @public */
export interface NvmeDevOptions {
  /** `io_queue_depth`. */
  readonly ioQueueDepth?: number;
  /** `sgl_threshold` analogue: use SGLs for I/O when the controller supports them (default false: PRPs). */
  readonly useSgls?: boolean;
}

/** A namespace as the driver knows it after Identify. @public */
export interface NvmeNsInfo {
  readonly nsid: number;
  readonly size: bigint;
  readonly lbaSize: number;
}

/** How one command's data was mapped, to undo at completion (`struct nvme_iod`). @public */
export interface NvmeIod {
  readonly cmd: NvmeCommand;
  readonly dir: DmaDataDirection;
  /** Per-I/O mappings (`dma_map_phys` ranges or one IOVA state). */
  readonly mapped: { addr: bigint; len: number }[];
  iova: DmaIovaState | null;
  iovaLen: number;
  /** dma-buf pages synced for the device (synced back at completion). */
  readonly synced: bigint[];
  /** PRP list / SGL segment blocks and their pools. */
  readonly lists: { mem: DmaCoherent; pool: DmaPool }[];
  done: (status: number) => void;
}

/** `struct nvme_queue`. @public */
export class NvmeQueue {
  sqTail = 0;
  cqHead = 0;
  cqPhase = 1;
  readonly tags: (NvmeIod | null)[];
  /** Requests waiting for a tag or a PRP page (`BLK_STS_RESOURCE` → requeue). */
  readonly requeue: (() => boolean)[] = [];
  constructor(
    readonly qid: number,
    readonly depth: number,
    readonly sq: DmaCoherent,
    readonly cq: DmaCoherent,
    readonly vector: number,
  ) {
    // One slot short of the ring: a full SQ has tail one behind head.
    this.tags = new Array<NvmeIod | null>(depth - 1).fill(null);
  }
  freeTag(): number {
    return this.tags.indexOf(null);
  }
}

/** Counters of the driver's per-request work (the benchmark reads them). @public */
export interface NvmeDevStats {
  requests: number;
  commands: number;
  prpListAllocs: number;
  requeues: number;
}

/** `struct nvme_dev` + `struct nvme_ctrl`. @public */
export class NvmeDev {
  adminq: NvmeQueue | null = null;
  ioq: NvmeQueue | null = null;
  mdts = 0;
  sgls = false;
  readonly namespaces: NvmeNsInfo[] = [];
  readonly prpSmallPool: DmaPool;
  readonly prpPagePool: DmaPool;
  readonly stats: NvmeDevStats = { requests: 0, commands: 0, prpListAllocs: 0, requeues: 0 };
  removed = false;
  /** `nvme%d` instance number, set at probe. */
  instance = 0;
  /** dma-buf I/O contexts of this controller (detached at removal). */
  readonly ioCtxs = new Set<DmaBufIoCtx>();
  #identify: DmaCoherent | null = null;
  readonly ioDepth: number;
  readonly useSgls: boolean;

  constructor(
    readonly kernel: Kernel,
    readonly pdev: PciDev,
    readonly hw: NvmeHw,
    opts: NvmeDevOptions,
  ) {
    this.prpSmallPool = new DmaPool(pdev, "prp list 256");
    this.prpPagePool = new DmaPool(pdev, "prp list page");
    this.ioDepth = opts.ioQueueDepth ?? 1024;
    this.useSgls = opts.useSgls ?? false;
  }

  get name(): string {
    return `nvme@${this.pdev.name}`;
  }

  /** Largest transfer of one command (MDTS), bytes. */
  get maxTransfer(): number {
    return this.mdts ? NVME_CTRL_PAGE_SIZE << this.mdts : 1 << 30;
  }

  // ---- setup ------------------------------------------------------------------

  /**
   * `nvme_probe()` + `nvme_reset_work()`: vectors, the admin queue, CC.EN,
   * Identify Controller and Namespaces, one I/O queue pair. Unwinds fully
   * when a step fails.
   */
  probe(): void {
    const k = this.kernel;
    const hw = this.hw;
    pciAllocIrqVectors(this.pdev, 2);
    try {
      this.adminq = this.#allocQueue(0, ADMIN_DEPTH, 0);
      hw.mmioWrite32(NVME_REG_AQA, ((ADMIN_DEPTH - 1) << 16) | (ADMIN_DEPTH - 1));
      hw.mmioWrite64(NVME_REG_ASQ, this.adminq.sq.dma);
      hw.mmioWrite64(NVME_REG_ACQ, this.adminq.cq.dma);
      hw.mmioWrite32(NVME_REG_CC, NVME_CC_ENABLE | (6 << 16) | (4 << 20));
      if (!(hw.mmioRead32(NVME_REG_CSTS) & NVME_CSTS_RDY)) throw new KernelError("ENODEV", "nvme_enable_ctrl", "CSTS.RDY not set");
      this.#identify = dmaAllocCoherent(this.pdev, 4096);
      const idc = this.#adminSync({ opcode: nvme_admin_identify, cdw10: NVME_ID_CNS_CTRL, nsid: 0, prp1: this.#identify.dma });
      if (idc) throw new KernelError("EIO", "nvme_identify_ctrl", `status ${idc}`);
      const ctrl = new DataView(coherentRead(k, this.#identify, 0, 4096).buffer);
      this.mdts = ctrl.getUint8(77);
      this.sgls = (ctrl.getUint32(536, true) & 1) !== 0;
      const nn = ctrl.getUint32(516, true);
      for (let nsid = 1; nsid <= nn; nsid++) {
        const st = this.#adminSync({ opcode: nvme_admin_identify, cdw10: NVME_ID_CNS_NS, nsid, prp1: this.#identify.dma });
        if (st) continue;
        const ns = new DataView(coherentRead(k, this.#identify, 0, 4096).buffer);
        const lbaSize = 1 << ((ns.getUint32(128, true) >>> 16) & 0xff);
        this.namespaces.push({ nsid, size: ns.getBigUint64(0, true) * BigInt(lbaSize), lbaSize });
      }
      const depth = Math.min(this.ioDepth, Number(hw.mmioRead64(0) & 0xffffn) + 1);
      this.ioq = this.#allocQueue(1, depth, 1);
      if (this.#adminSync({ opcode: nvme_admin_create_cq, prp1: this.ioq.cq.dma, cdw10: 1 | ((depth - 1) << 16), cdw11: 1 | 2 | (1 << 16) })) throw new KernelError("EIO", "nvme_create_queue", "create CQ");
      if (this.#adminSync({ opcode: nvme_admin_create_sq, prp1: this.ioq.sq.dma, cdw10: 1 | ((depth - 1) << 16), cdw11: 1 | (1 << 16) })) throw new KernelError("EIO", "nvme_create_queue", "create SQ");
      pciRequestIrq(this.pdev, 1, () => this.#irq(this.ioq!));
      this.pdev.driver = "nvme";
    } catch (e) {
      this.#teardown();
      throw e;
    }
  }

  #allocQueue(qid: number, depth: number, vector: number): NvmeQueue {
    const sq = dmaAllocCoherent(this.pdev, depth * NVME_SQE_SIZE);
    let cq: DmaCoherent;
    try {
      cq = dmaAllocCoherent(this.pdev, depth * NVME_CQE_SIZE);
    } catch (e) {
      dmaFreeCoherent(this.pdev, sq);
      throw e;
    }
    const q = new NvmeQueue(qid, depth, sq, cq, vector);
    if (qid === 0) pciRequestIrq(this.pdev, 0, () => this.#irq(q));
    return q;
  }

  #freeQueue(q: NvmeQueue): void {
    pciFreeIrq(this.pdev, q.vector);
    dmaFreeCoherent(this.pdev, q.sq);
    dmaFreeCoherent(this.pdev, q.cq);
  }

  /** An admin command, waited for (probe and removal run in process context). Returns the status. */
  #adminSync(c: Partial<NvmeCommand> & { opcode: number }): number {
    let status = -1;
    const q = this.adminq!;
    const tag = q.freeTag();
    const cmd: NvmeCommand = { flags: 0, nsid: 0, prp1: 0n, prp2: 0n, cdw10: 0, cdw11: 0, cdw12: 0, ...c, commandId: tag };
    q.tags[tag] = { cmd, dir: "DMA_NONE", mapped: [], iova: null, iovaLen: 0, synced: [], lists: [], done: (s) => (status = s) };
    this.#submitCmd(q, cmd);
    waitEvent(this.kernel, "nvme_submit_sync_cmd", () => status >= 0 || this.hw.gone);
    if (status < 0) {
      q.tags[tag] = null;
      return 0x371; // host aborted (NVME_SC_HOST_ABORTED_CMD)
    }
    return status;
  }

  /** `nvme_sq_copy_cmd()` + `nvme_write_sq_db()`: the SQE into SQ memory, then the tail doorbell. */
  #submitCmd(q: NvmeQueue, cmd: NvmeCommand): void {
    coherentWrite(this.kernel, q.sq, q.sqTail * NVME_SQE_SIZE, encodeCommand(cmd));
    q.sqTail = (q.sqTail + 1) % q.depth;
    this.stats.commands++;
    this.hw.mmioWrite32(NVME_REG_DBS + q.qid * 8, q.sqTail);
  }

  /**
   * `nvme_irq()` → `nvme_poll_cq()`: consumes CQEs whose phase matches,
   * completes their requests (unmapping per-I/O data, syncing dma-buf pages
   * back, freeing PRP lists), writes the CQ head doorbell, then dispatches
   * requests that waited for resources. Runs as a hard interrupt.
   */
  #irq(q: NvmeQueue): boolean {
    let found = 0;
    const done: [NvmeIod, number][] = [];
    for (;;) {
      const cqe = decodeCompletion(coherentRead(this.kernel, q.cq, q.cqHead * NVME_CQE_SIZE, NVME_CQE_SIZE));
      if (cqe.phase !== q.cqPhase) break;
      q.cqHead = (q.cqHead + 1) % q.depth;
      if (q.cqHead === 0) q.cqPhase ^= 1;
      const iod = q.tags[cqe.commandId];
      if (!iod) {
        this.kernel.warn(`${this.name}: invalid id ${cqe.commandId} completed on queue ${q.qid}`);
        continue;
      }
      q.tags[cqe.commandId] = null;
      this.#unmapData(iod);
      done.push([iod, cqe.status]);
      found++;
    }
    if (found) this.hw.mmioWrite32(NVME_REG_DBS + (q.qid * 2 + 1) * 4, q.cqHead);
    for (const [iod, status] of done) iod.done(status);
    this.#runRequeue(q);
    return found > 0;
  }

  #runRequeue(q: NvmeQueue): void {
    while (q.requeue.length && q.freeTag() >= 0) {
      if (!q.requeue[0]!()) break;
      q.requeue.shift();
    }
  }

  // ---- I/O --------------------------------------------------------------------------

  /**
   * `nvme_queue_rq()` for one command of at most {@link NvmeDev.maxTransfer} bytes:
   * `data` is either pinned pages (mapped now, per I/O) or a slice of a
   * dma-buf map (its addresses exist already; only cache syncs). Without a
   * tag or a PRP page the request waits in the requeue list
   * (`BLK_STS_RESOURCE`) and is dispatched from the completion path.
   * `done(status)` gets the NVMe status.
   */
  queueRq(write: boolean, ns: NvmeNsInfo, pos: bigint, data: NvmeData, done: (status: number) => void): void {
    const q = this.ioq!;
    this.stats.requests++;
    const attempt = (): boolean => {
      const tag = q.freeTag();
      if (tag < 0) return false;
      const dir: DmaDataDirection = write ? "DMA_TO_DEVICE" : "DMA_FROM_DEVICE";
      const len = data.len;
      const cmd: NvmeCommand = {
        opcode: write ? nvme_cmd_write : nvme_cmd_read,
        flags: 0,
        commandId: tag,
        nsid: ns.nsid,
        prp1: 0n,
        prp2: 0n,
        cdw10: Number(BigInt.asUintN(32, pos / BigInt(ns.lbaSize))),
        cdw11: Number((pos / BigInt(ns.lbaSize)) >> 32n),
        cdw12: len / ns.lbaSize - 1,
      };
      const iod: NvmeIod = { cmd, dir, mapped: [], iova: null, iovaLen: 0, synced: [], lists: [], done };
      try {
        this.#mapData(iod, data);
      } catch (e) {
        this.#unmapData(iod);
        if (e instanceof KernelError && e.errno === "ENOMEM") {
          this.stats.requeues++;
          return false;
        }
        throw e;
      }
      q.tags[tag] = iod;
      this.#submitCmd(q, cmd);
      return true;
    };
    if (q.requeue.length || !attempt()) {
      q.requeue.push(attempt);
      // blk_mq_delay_run_hw_queue(BLK_MQ_RESOURCE_DELAY): rerun even when no completion will come.
      this.kernel.clock.schedule(BLK_MQ_RESOURCE_DELAY_NS, () => this.#runRequeue(q));
    }
  }

  /** `nvme_map_data()`: DMA addresses for the command, then PRPs or an SGL. */
  #mapData(iod: NvmeIod, data: NvmeData): void {
    const segs: { addr: bigint; len: number }[] = [];
    if (data.kind === "dmabuf") {
      // The series' dma-buf branch: addresses from the map's per-4K list, a sync per page touched, no mapping.
      const m = data.map.priv;
      const first = Number(data.offset / 4096n);
      const o = Number(data.offset % 4096n);
      const pages = Math.ceil((o + data.len) / 4096);
      for (let i = 0; i < pages; i++) {
        const a = m.dmaList[first + i]!;
        dmaSyncSingleForDevice(this.pdev, a, 4096n, iod.dir);
        iod.synced.push(a);
      }
      let left = data.len;
      for (let i = 0; i < pages; i++) {
        const start = i === 0 ? o : 0;
        const n = Math.min(4096 - start, left);
        segs.push({ addr: m.dmaList[first + i]! + BigInt(start), len: n });
        left -= n;
      }
    } else {
      // blk_rq_dma_map_iter_start(): one IOVA range for a multi-segment request, dma_map_phys for a single one.
      const ranges: { phys: bigint; len: number }[] = [];
      walkBvec(data.iter, (phys, _pos, n) => ranges.push({ phys, len: n }));
      const state = dmaIovaState();
      if (ranges.length > 1 && dmaIovaTryAlloc(this.pdev, state, ranges[0]!.phys, BigInt(data.len))) {
        iod.iova = state;
        let off = 0n;
        for (const r of ranges) {
          dmaIovaLink(this.pdev, state, r.phys, off, BigInt(r.len), iod.dir, 0);
          off += BigInt(r.len);
          iod.iovaLen += r.len;
        }
        dmaIovaSync(this.pdev, state, 0n, off);
        let at = 0n;
        for (const r of ranges) {
          segs.push({ addr: state.addr + at, len: r.len });
          at += BigInt(r.len);
        }
      } else {
        for (const r of ranges) {
          const a = dmaMapPhys(this.pdev, r.phys, BigInt(r.len), iod.dir, 0);
          if (a === DMA_MAPPING_ERROR) throw new KernelError("ENOMEM", "nvme_map_data", "dma_map_phys");
          iod.mapped.push({ addr: a, len: r.len });
          segs.push({ addr: a, len: r.len });
        }
      }
    }
    if (this.useSgls && this.sgls) this.#setupSgl(iod, segs);
    else this.#setupPrps(iod, segs, data.len);
  }

  /** `nvme_pci_setup_data_prp()`: PRP1, PRP2 or a (chained) PRP list from the pools (GFP_ATOMIC; failure → requeue). */
  #setupPrps(iod: NvmeIod, segs: readonly { addr: bigint; len: number }[], len: number): void {
    // The page addresses the PRPs name, after the first.
    const first = segs[0]!.addr;
    const o = Number(first & 0xfffn);
    const pages: bigint[] = [];
    let skip = 4096 - o;
    for (const s of segs) {
      let a = s.addr;
      let n = s.len;
      if (skip > 0) {
        const t = Math.min(skip, n);
        a += BigInt(t);
        n -= t;
        skip -= t;
      }
      for (let p = 0; p < n; p += 4096) pages.push((a + BigInt(p)) & ~0xfffn);
    }
    iod.cmd.prp1 = first;
    if (len <= 4096 - o) return;
    if (pages.length === 1) {
      iod.cmd.prp2 = pages[0]!;
      return;
    }
    const pool = pages.length <= NVME_SMALL_POOL_ENTRIES ? this.prpSmallPool : this.prpPagePool;
    let list = pool.alloc();
    this.stats.prpListAllocs++;
    iod.lists.push({ mem: list, pool });
    iod.cmd.prp2 = list.dma;
    const entries = new DataView(new ArrayBuffer(4096));
    let i = 0;
    for (let p = 0; p < pages.length; p++) {
      if (i === PRP_PER_PAGE - 1 && p < pages.length - 1) {
        // Chain: the last slot points to the next list page.
        const next = this.prpPagePool.alloc();
        this.stats.prpListAllocs++;
        iod.lists.push({ mem: next, pool: this.prpPagePool });
        entries.setBigUint64(i * 8, next.dma, true);
        coherentWrite(this.kernel, list, 0, new Uint8Array(entries.buffer));
        list = next;
        i = 0;
        new Uint8Array(entries.buffer).fill(0);
      }
      entries.setBigUint64(i * 8, pages[p]!, true);
      i++;
    }
    coherentWrite(this.kernel, list, 0, new Uint8Array(entries.buffer, 0, i * 8));
  }

  /** `nvme_pci_setup_data_sgl()`: one data block, or a last-segment descriptor over data blocks in a pool page. */
  #setupSgl(iod: NvmeIod, segs: readonly { addr: bigint; len: number }[]): void {
    const merged: { addr: bigint; len: number }[] = [];
    for (const s of segs) {
      const last = merged[merged.length - 1];
      if (last && last.addr + BigInt(last.len) === s.addr) last.len += s.len;
      else merged.push({ ...s });
    }
    iod.cmd.flags |= NVME_CMD_PSDT_SGL;
    if (merged.length === 1) {
      iod.cmd.prp1 = merged[0]!.addr;
      iod.cmd.prp2 = BigInt(merged[0]!.len) | (BigInt(NVME_SGL_FMT_DATA_DESC) << 60n);
      return;
    }
    if (merged.length > 256) throw new KernelError("EINVAL", "nvme_pci_setup_data_sgl", "more segments than one SGL page holds");
    const page = this.prpPagePool.alloc();
    iod.lists.push({ mem: page, pool: this.prpPagePool });
    const bytes = new Uint8Array(merged.length * 16);
    merged.forEach((s, i) => bytes.set(encodeSglDesc(s.addr, s.len, NVME_SGL_FMT_DATA_DESC), i * 16));
    coherentWrite(this.kernel, page, 0, bytes);
    iod.cmd.prp1 = page.dma;
    iod.cmd.prp2 = BigInt(bytes.length) | (BigInt(NVME_SGL_FMT_LAST_SEG_DESC) << 60n);
  }

  /** `nvme_unmap_data()`: per-I/O unmaps, dma-buf syncs for the CPU, PRP/SGL pages back to the pools. No dma-buf unmap. */
  #unmapData(iod: NvmeIod): void {
    for (const m of iod.mapped.splice(0)) dmaUnmapPhys(this.pdev, m.addr, BigInt(m.len), iod.dir, 0);
    if (iod.iova) {
      dmaIovaDestroy(this.pdev, iod.iova, BigInt(iod.iovaLen), iod.dir, 0);
      iod.iova = null;
    }
    for (const a of iod.synced.splice(0)) dmaSyncSingleForCpu(this.pdev, a, 4096n, iod.dir);
    for (const l of iod.lists.splice(0)) l.pool.free(l.mem);
  }

  // ---- removal ----------------------------------------------------------------------

  /**
   * `nvme_remove()`: dma-buf contexts are detached first (final kill, wait
   * for their requests: `dma_buf_io_detach()`), then the I/O queue is
   * deleted and the controller disabled. With `surprise` the function is
   * already gone: requests in flight fail (`NVME_SC_HOST_ABORTED_CMD`).
   */
  remove(surprise = false): void {
    this.removed = true;
    if (surprise) {
      this.hw.surpriseRemove();
      for (const q of [this.ioq, this.adminq]) {
        if (!q) continue;
        q.requeue.length = 0;
        q.tags.forEach((iod, i) => {
          if (!iod) return;
          q.tags[i] = null;
          this.#unmapData(iod);
          iod.done(0x371);
        });
      }
    }
    for (const ctx of [...this.ioCtxs]) nvmeDmabufDetach(ctx);
    if (!surprise && this.ioq) {
      waitEvent(this.kernel, "nvme_dev_disable (drain)", () => this.ioq!.tags.every((t) => t === null) && this.ioq!.requeue.length === 0);
      this.#adminSync({ opcode: nvme_admin_delete_sq, cdw10: 1 });
      this.#adminSync({ opcode: nvme_admin_delete_cq, cdw10: 1 });
      this.hw.mmioWrite32(NVME_REG_CC, 0);
    }
    this.#teardown();
    this.pdev.driver = undefined;
  }

  #teardown(): void {
    if (this.ioq) this.#freeQueue(this.ioq);
    if (this.adminq) this.#freeQueue(this.adminq);
    this.ioq = null;
    this.adminq = null;
    if (this.#identify) dmaFreeCoherent(this.pdev, this.#identify);
    this.#identify = null;
    this.prpSmallPool.destroy();
    this.prpPagePool.destroy();
    pciFreeIrqVectors(this.pdev);
  }
}

/** What a command moves: pinned pages (per-I/O mapping) or a range of a dma-buf map. @public */
export type NvmeData = { readonly kind: "bvec"; readonly iter: IovIterBvec; readonly len: number } | { readonly kind: "dmabuf"; readonly map: DmaBufIoMap<NvmeDmabufMap>; readonly offset: bigint; readonly len: number };

// ---- the series' dma-buf token support (nvme-pci: implement dma_token backed requests) ----

/** The driver's part of a context (`struct nvme_dmabuf_token`): its dynamic attachment. @public */
export interface NvmeDmabufToken {
  readonly dev: NvmeDev;
  readonly attach: DmaBufAttachment;
}

/** The driver's part of a map: the exporter's sg_table and one DMA address per 4 KiB page. @public */
export interface NvmeDmabufMap {
  readonly sgt: SgTable;
  readonly dmaList: bigint[];
}

/**
 * `nvme_init_dma_buf_io_ctx()`: a dynamic attach of the dma-buf to the
 * controller's function, accepting P2P, with the layer's invalidation as
 * `invalidate_mappings`; then the ops. The attach's errno is returned (a
 * VFIO BAR beyond P2P reach: `EINVAL`). The state is sized correctly and
 * freed on failure (v3 allocated a pointer's size and leaked it).
 * @public
 */
export function nvmeInitDmaBufIoCtx(dev: NvmeDev, ctx: DmaBufIoCtx): void {
  if (dev.removed) throw new KernelError("ENODEV", "nvme_init_dma_buf_io_ctx", "controller removed");
  dev.kernel.alloc.kzalloc("nvme_dmabuf_token");
  const attach = dmaBufDynamicAttach(ctx.dmabuf, dev.pdev, { allowPeer2peer: true, invalidateMappings: () => dmaBufIoInvalidateMappings(ctx) }, ctx);
  const token: NvmeDmabufToken = { dev, attach };
  ctx.devPriv = token;
  ctx.devOps = { map: nvmeDmabufMap, unmap: nvmeDmabufUnmap, release: nvmeDmabufRelease };
  dev.ioCtxs.add(ctx);
}

/**
 * `nvme_dmabuf_map()` (resv held): the exporter's sg_table for the
 * controller and the per-4K DMA address list. A segment that is not a
 * multiple of 4 KiB is `EINVAL` (the table is unmapped again).
 */
function nvmeDmabufMap(ctx: DmaBufIoCtx): DmaBufIoMap<NvmeDmabufMap> {
  const token = ctx.devPriv as NvmeDmabufToken;
  const k = ctx.kernel;
  k.alloc.kzalloc("nvme_dmabuf_map");
  k.alloc.kvmalloc("nvme_dmabuf_map dma_list");
  const sgt = dmaBufSgtMapAttachment(token.attach, ctx.dir);
  const dmaList: bigint[] = [];
  const lens: number[] = [];
  for (let i = 0; i < sgt.nents; i++) {
    const len = sgt.dmaLength[i]!;
    if (len % NVME_CTRL_PAGE_SIZE) {
      dmaBufSgtUnmapAttachment(token.attach, sgt, ctx.dir);
      throw new KernelError("EINVAL", "nvme_dmabuf_map", `DMA segment of ${len} bytes is not a multiple of ${NVME_CTRL_PAGE_SIZE}`);
    }
    for (let off = 0; off < len; off += NVME_CTRL_PAGE_SIZE) dmaList.push(sgt.dmaAddress[i]! + BigInt(off));
    lens.push(len);
  }
  try {
    return dmaBufIoInitMap<NvmeDmabufMap>(ctx, { sgt, dmaList }, lens);
  } catch (e) {
    dmaBufSgtUnmapAttachment(token.attach, sgt, ctx.dir);
    throw e;
  }
}

/** `nvme_dmabuf_unmap()` (resv held): the exporter unmaps (one IOMMU unmap + invalidation or flush-queue entry). */
function nvmeDmabufUnmap(ctx: DmaBufIoCtx, map: DmaBufIoMap): void {
  const token = ctx.devPriv as NvmeDmabufToken;
  dmaBufSgtUnmapAttachment(token.attach, (map.priv as NvmeDmabufMap).sgt, ctx.dir);
}

/** `nvme_dmabuf_release()`: detach and free the state. */
function nvmeDmabufRelease(ctx: DmaBufIoCtx): void {
  const token = ctx.devPriv as NvmeDmabufToken;
  token.dev.ioCtxs.delete(ctx);
  dmaBufDetach(ctx.dmabuf, token.attach);
}

/** Device removal: `dma_buf_io_detach()` (v6); v3 has no detach, so its maps are invalidated under resv instead. */
function nvmeDmabufDetach(ctx: DmaBufIoCtx): void {
  const token = ctx.devPriv as NvmeDmabufToken;
  token.dev.ioCtxs.delete(ctx);
  if (ctx.version === "v6") dmaBufIoDetach(ctx);
}
