// The NVMe controller itself (NVM Express Base Specification 2.0, PCIe transport): BAR0 registers, doorbells, queue processing, PRP/SGL walking, namespace media.
import { DmaFault, KernelError, dmaRead, dmaWrite, type Kernel, type PciDev } from "@dmabuf-sdk/dmabuf-core";
import { msixRaise } from "./msi.js";
import {
  NVME_CC_ENABLE,
  NVME_CQE_SIZE,
  NVME_CSTS_RDY,
  NVME_CMD_PSDT_SGL,
  NVME_CTRL_PAGE_SIZE,
  NVME_ID_CNS_CTRL,
  NVME_ID_CNS_NS,
  NVME_REG_ACQ,
  NVME_REG_AQA,
  NVME_REG_ASQ,
  NVME_REG_CAP,
  NVME_REG_CC,
  NVME_REG_CSTS,
  NVME_REG_DBS,
  NVME_REG_VS,
  NVME_SC_DATA_XFER_ERROR,
  NVME_SC_INVALID_FIELD,
  NVME_SC_INVALID_NS,
  NVME_SC_INVALID_OPCODE,
  NVME_SC_LBA_RANGE,
  NVME_SC_QID_INVALID,
  NVME_SC_SUCCESS,
  NVME_SGL_FMT_DATA_DESC,
  NVME_SGL_FMT_LAST_SEG_DESC,
  NVME_SQE_SIZE,
  decodeCommand,
  encodeCompletion,
  nvme_admin_create_cq,
  nvme_admin_create_sq,
  nvme_admin_delete_cq,
  nvme_admin_delete_sq,
  nvme_admin_identify,
  nvme_cmd_flush,
  nvme_cmd_read,
  nvme_cmd_write,
  type NvmeCommand,
} from "./nvme-spec.js";

/** One namespace: `size` bytes of media in `lbaSize` blocks, stored sparsely by 4 KiB page. @public */
export class NvmeNamespace {
  readonly #pages = new Map<number, Uint8Array>();
  constructor(
    readonly nsid: number,
    readonly size: bigint,
    readonly lbaSize: number,
  ) {}

  /** Reads `len` bytes at byte `pos` (unwritten media reads as zeros). */
  read(pos: bigint, len: number): Uint8Array {
    const out = new Uint8Array(len);
    this.#walk(pos, len, (page, off, n, at) => {
      const p = this.#pages.get(page);
      if (p) out.set(p.subarray(off, off + n), at);
    });
    return out;
  }

  /** Writes `data` at byte `pos`. */
  write(pos: bigint, data: Uint8Array): void {
    this.#walk(pos, data.length, (page, off, n, at) => {
      let p = this.#pages.get(page);
      if (!p) this.#pages.set(page, (p = new Uint8Array(NVME_CTRL_PAGE_SIZE)));
      p.set(data.subarray(at, at + n), off);
    });
  }

  #walk(pos: bigint, len: number, fn: (page: number, off: number, n: number, at: number) => void): void {
    let at = 0;
    while (at < len) {
      const abs = pos + BigInt(at);
      const page = Number(abs >> 12n);
      const off = Number(abs & 0xfffn);
      const n = Math.min(NVME_CTRL_PAGE_SIZE - off, len - at);
      fn(page, off, n, at);
      at += n;
    }
  }
}

/** What the controller model is built with. @public */
export interface NvmeHwOptions {
  /** Namespaces (nsid from 1): sizes in bytes, LBA size 512 or 4096. */
  readonly namespaces: readonly { readonly size: bigint; readonly lbaSize?: number }[];
  /** CAP.MQES + 1: the largest queue the controller accepts. */
  readonly maxQueueEntries?: number;
  /** MDTS: largest transfer = 2^mdts controller pages (0 = no limit). */
  readonly mdts?: number;
  /** SGLS bit 0: the controller takes SGLs for I/O commands. */
  readonly sgls?: boolean;
  /** Virtual nanoseconds from the doorbell to the completion. */
  readonly latencyNs?: number;
}

interface HwSq {
  readonly id: number;
  readonly dma: bigint;
  readonly size: number;
  readonly cqid: number;
  head: number;
  tail: number;
  /** A fetch is scheduled. */
  busy: boolean;
}

interface HwCq {
  readonly id: number;
  readonly dma: bigint;
  readonly size: number;
  readonly vector: number;
  readonly ien: boolean;
  tail: number;
  head: number;
  phase: number;
}

/** Counters of what the controller did (for tests and the benchmark). @public */
export interface NvmeHwStats {
  commands: number;
  bytesRead: number;
  bytesWritten: number;
  prpListReads: number;
  sglSegmentReads: number;
  interrupts: number;
}

/**
 * An NVMe controller on a PCI function. The driver reaches it only through
 * BAR0 (`mmioRead*`/`mmioWrite*`: registers and doorbells); the controller
 * reaches host memory only through the platform DMA engine from its
 * function: it fetches SQEs, walks PRP lists and SGL segments, moves data,
 * and posts CQEs, then raises the CQ's MSI-X vector.
 * @public
 */
export class NvmeHw {
  readonly namespaces: NvmeNamespace[];
  readonly maxQueueEntries: number;
  readonly mdts: number;
  readonly sgls: boolean;
  latencyNs: number;
  readonly stats: NvmeHwStats = { commands: 0, bytesRead: 0, bytesWritten: 0, prpListReads: 0, sglSegmentReads: 0, interrupts: 0 };
  #cc = 0;
  #csts = 0;
  #aqa = 0;
  #asq = 0n;
  #acq = 0n;
  readonly #sqs = new Map<number, HwSq>();
  readonly #cqs = new Map<number, HwCq>();
  /** Set by surprise removal: every access is lost (reads return all-ones). */
  gone = false;

  constructor(
    readonly kernel: Kernel,
    readonly pdev: PciDev,
    opts: NvmeHwOptions,
  ) {
    this.namespaces = opts.namespaces.map((n, i) => new NvmeNamespace(i + 1, n.size, n.lbaSize ?? 512));
    this.maxQueueEntries = opts.maxQueueEntries ?? 1024;
    this.mdts = opts.mdts ?? 5;
    this.sgls = opts.sgls ?? true;
    this.latencyNs = opts.latencyNs ?? 10_000;
  }

  // ---- registers ---------------------------------------------------------------

  /** A 64-bit register read (CAP, ASQ, ACQ). */
  mmioRead64(off: number): bigint {
    if (this.gone) return (1n << 64n) - 1n;
    switch (off) {
      case NVME_REG_CAP:
        // MQES (15:0, 0-based), CQR (16), DSTRD 0 (35:32), MPSMIN 0 (51:48): 4 KiB pages.
        return BigInt(this.maxQueueEntries - 1) | (1n << 16n);
      case NVME_REG_ASQ:
        return this.#asq;
      case NVME_REG_ACQ:
        return this.#acq;
      default:
        return BigInt(this.mmioRead32(off));
    }
  }

  /** A 32-bit register read. */
  mmioRead32(off: number): number {
    if (this.gone) return 0xffff_ffff;
    switch (off) {
      case NVME_REG_VS:
        return 0x0002_0000;
      case NVME_REG_CC:
        return this.#cc;
      case NVME_REG_CSTS:
        return this.#csts;
      case NVME_REG_AQA:
        return this.#aqa;
      default:
        return 0;
    }
  }

  /** A 64-bit register write (ASQ, ACQ). */
  mmioWrite64(off: number, val: bigint): void {
    if (this.gone) return;
    if (off === NVME_REG_ASQ) this.#asq = val;
    else if (off === NVME_REG_ACQ) this.#acq = val;
    else this.mmioWrite32(off, Number(val & 0xffff_ffffn));
  }

  /** A 32-bit register or doorbell write. */
  mmioWrite32(off: number, val: number): void {
    if (this.gone) return;
    if (off >= NVME_REG_DBS) {
      const idx = (off - NVME_REG_DBS) >> 2;
      const qid = idx >> 1;
      if (idx & 1) this.#cqHeadDoorbell(qid, val);
      else this.#sqTailDoorbell(qid, val);
      return;
    }
    switch (off) {
      case NVME_REG_CC: {
        const was = this.#cc & NVME_CC_ENABLE;
        this.#cc = val;
        if (!was && val & NVME_CC_ENABLE) this.#enable();
        else if (was && !(val & NVME_CC_ENABLE)) this.#reset();
        return;
      }
      case NVME_REG_AQA:
        this.#aqa = val;
        return;
    }
  }

  #enable(): void {
    const sqSize = (this.#aqa & 0xfff) + 1;
    const cqSize = ((this.#aqa >>> 16) & 0xfff) + 1;
    this.#cqs.set(0, { id: 0, dma: this.#acq, size: cqSize, vector: 0, ien: true, head: 0, tail: 0, phase: 1 });
    this.#sqs.set(0, { id: 0, dma: this.#asq, size: sqSize, cqid: 0, head: 0, tail: 0, busy: false });
    this.#csts = NVME_CSTS_RDY;
  }

  #reset(): void {
    this.#sqs.clear();
    this.#cqs.clear();
    this.#csts = 0;
  }

  /** Surprise removal: the function stops answering (driver sees all-ones, nothing completes). */
  surpriseRemove(): void {
    this.gone = true;
    this.#reset();
  }

  #sqTailDoorbell(qid: number, tail: number): void {
    const sq = this.#sqs.get(qid);
    if (!sq || tail >= sq.size) return;
    sq.tail = tail;
    if (sq.busy) return;
    sq.busy = true;
    this.kernel.clock.schedule(this.latencyNs, () => this.#process(sq));
  }

  #cqHeadDoorbell(qid: number, head: number): void {
    const cq = this.#cqs.get(qid);
    if (cq && head < cq.size) cq.head = head;
  }

  // ---- command processing ---------------------------------------------------------

  /** Fetches and executes every command between head and tail, posts completions, raises the vector once. */
  #process(sq: HwSq): void {
    sq.busy = false;
    if (this.gone || this.#sqs.get(sq.id) !== sq) return;
    const cq = this.#cqs.get(sq.cqid)!;
    let posted = false;
    while (sq.head !== sq.tail) {
      if ((cq.tail + 1) % cq.size === cq.head) {
        // CQ full: the controller waits for the host to consume (retry later).
        sq.busy = true;
        this.kernel.clock.schedule(this.latencyNs, () => this.#process(sq));
        break;
      }
      let cmdBytes: Uint8Array;
      try {
        cmdBytes = dmaRead(this.pdev, sq.dma + BigInt(sq.head * NVME_SQE_SIZE), NVME_SQE_SIZE);
      } catch (e) {
        if (!(e instanceof DmaFault)) throw e;
        this.kernel.printk.err(`${this.pdev.name}: nvme: SQ ${sq.id} fetch faulted, controller fatal`);
        this.#csts |= 2;
        return;
      }
      sq.head = (sq.head + 1) % sq.size;
      const cmd = decodeCommand(cmdBytes);
      this.stats.commands++;
      const { status, result } = sq.id === 0 ? this.#admin(cmd) : this.#io(cmd);
      const cqe = encodeCompletion({ result, sqHead: sq.head, sqId: sq.id, commandId: cmd.commandId, status, phase: cq.phase });
      dmaWrite(this.pdev, cq.dma + BigInt(cq.tail * NVME_CQE_SIZE), cqe);
      cq.tail = (cq.tail + 1) % cq.size;
      if (cq.tail === 0) cq.phase ^= 1;
      posted = true;
    }
    if (posted && cq.ien) {
      this.stats.interrupts++;
      msixRaise(this.kernel, this.pdev, cq.vector);
    }
  }

  #admin(cmd: NvmeCommand): { status: number; result: number } {
    switch (cmd.opcode) {
      case nvme_admin_identify:
        return this.#identify(cmd);
      case nvme_admin_create_cq: {
        const qid = cmd.cdw10 & 0xffff;
        const size = ((cmd.cdw10 >>> 16) & 0xffff) + 1;
        if (qid === 0 || this.#cqs.has(qid)) return { status: NVME_SC_QID_INVALID, result: 0 };
        if (size < 2 || size > this.maxQueueEntries) return { status: 0x102, result: 0 };
        this.#cqs.set(qid, { id: qid, dma: cmd.prp1, size, vector: cmd.cdw11 >>> 16, ien: (cmd.cdw11 & 2) !== 0, head: 0, tail: 0, phase: 1 });
        return { status: NVME_SC_SUCCESS, result: 0 };
      }
      case nvme_admin_create_sq: {
        const qid = cmd.cdw10 & 0xffff;
        const size = ((cmd.cdw10 >>> 16) & 0xffff) + 1;
        const cqid = cmd.cdw11 >>> 16;
        if (qid === 0 || this.#sqs.has(qid)) return { status: NVME_SC_QID_INVALID, result: 0 };
        if (!this.#cqs.has(cqid)) return { status: 0x100, result: 0 };
        if (size < 2 || size > this.maxQueueEntries) return { status: 0x102, result: 0 };
        this.#sqs.set(qid, { id: qid, dma: cmd.prp1, size, cqid, head: 0, tail: 0, busy: false });
        return { status: NVME_SC_SUCCESS, result: 0 };
      }
      case nvme_admin_delete_sq:
        return { status: this.#sqs.delete(cmd.cdw10 & 0xffff) ? NVME_SC_SUCCESS : NVME_SC_QID_INVALID, result: 0 };
      case nvme_admin_delete_cq:
        return { status: this.#cqs.delete(cmd.cdw10 & 0xffff) ? NVME_SC_SUCCESS : NVME_SC_QID_INVALID, result: 0 };
      default:
        return { status: NVME_SC_INVALID_OPCODE, result: 0 };
    }
  }

  #identify(cmd: NvmeCommand): { status: number; result: number } {
    const cns = cmd.cdw10 & 0xff;
    const data = new Uint8Array(4096);
    const v = new DataView(data.buffer);
    if (cns === NVME_ID_CNS_CTRL) {
      v.setUint16(0, 0x1b36, true); // VID
      data.set(new TextEncoder().encode("DMABUFSDK-NVME".padEnd(40)), 24); // MN
      v.setUint8(77, this.mdts);
      v.setUint32(516, this.namespaces.length, true); // NN
      v.setUint32(536, this.sgls ? 1 : 0, true); // SGLS
    } else if (cns === NVME_ID_CNS_NS) {
      const ns = this.namespaces[cmd.nsid - 1];
      if (!ns) return { status: NVME_SC_INVALID_NS, result: 0 };
      const nlb = ns.size / BigInt(ns.lbaSize);
      v.setBigUint64(0, nlb, true); // NSZE
      v.setBigUint64(8, nlb, true); // NCAP
      v.setUint8(25, 0); // NLBAF (0-based)
      v.setUint8(26, 0); // FLBAS
      v.setUint32(128, Math.log2(ns.lbaSize) << 16, true); // LBAF0.LBADS
    } else return { status: NVME_SC_INVALID_FIELD, result: 0 };
    const segs = this.#prpSegments(cmd.prp1, cmd.prp2, 4096);
    if (!segs) return { status: NVME_SC_DATA_XFER_ERROR, result: 0 };
    try {
      this.#scatter(segs, data);
    } catch (e) {
      if (e instanceof DmaFault) return { status: NVME_SC_DATA_XFER_ERROR, result: 0 };
      throw e;
    }
    return { status: NVME_SC_SUCCESS, result: 0 };
  }

  #io(cmd: NvmeCommand): { status: number; result: number } {
    if (cmd.opcode === nvme_cmd_flush) return { status: NVME_SC_SUCCESS, result: 0 };
    if (cmd.opcode !== nvme_cmd_read && cmd.opcode !== nvme_cmd_write) return { status: NVME_SC_INVALID_OPCODE, result: 0 };
    const ns = this.namespaces[cmd.nsid - 1];
    if (!ns) return { status: NVME_SC_INVALID_NS, result: 0 };
    const slba = BigInt(cmd.cdw10 >>> 0) | (BigInt(cmd.cdw11 >>> 0) << 32n);
    const nlb = (cmd.cdw12 & 0xffff) + 1;
    const len = nlb * ns.lbaSize;
    const pos = slba * BigInt(ns.lbaSize);
    if (pos + BigInt(len) > ns.size) return { status: NVME_SC_LBA_RANGE, result: 0 };
    if (this.mdts && len > NVME_CTRL_PAGE_SIZE << this.mdts) return { status: NVME_SC_INVALID_FIELD, result: 0 };
    const sgl = (cmd.flags & 0xc0) === NVME_CMD_PSDT_SGL;
    if (sgl && !this.sgls) return { status: NVME_SC_INVALID_FIELD, result: 0 };
    try {
      const segs = sgl ? this.#sglSegments(cmd, len) : this.#prpSegments(cmd.prp1, cmd.prp2, len);
      if (!segs) return { status: NVME_SC_INVALID_FIELD, result: 0 };
      if (cmd.opcode === nvme_cmd_read) {
        this.#scatter(segs, ns.read(pos, len));
        this.stats.bytesRead += len;
      } else {
        ns.write(pos, this.#gather(segs, len));
        this.stats.bytesWritten += len;
      }
    } catch (e) {
      if (e instanceof DmaFault) return { status: NVME_SC_DATA_XFER_ERROR, result: 0 };
      throw e;
    }
    return { status: NVME_SC_SUCCESS, result: 0 };
  }

  /**
   * The data pointer as PRPs: PRP1 may start inside a page; the rest are
   * whole pages, in PRP2 directly (two pages) or in a PRP list at PRP2
   * whose last entry chains to the next list page. Null for a malformed
   * pointer (an offset in a non-first entry).
   */
  #prpSegments(prp1: bigint, prp2: bigint, len: number): { addr: bigint; len: number }[] | null {
    const segs: { addr: bigint; len: number }[] = [];
    const o = Number(prp1 & 0xfffn);
    const first = Math.min(len, NVME_CTRL_PAGE_SIZE - o);
    segs.push({ addr: prp1, len: first });
    let left = len - first;
    if (left <= 0) return segs;
    if (left <= NVME_CTRL_PAGE_SIZE) {
      if (prp2 & 0xfffn) return null;
      segs.push({ addr: prp2, len: left });
      return segs;
    }
    if (prp2 & 7n) return null;
    let list = prp2;
    for (;;) {
      const inPage = (NVME_CTRL_PAGE_SIZE - Number(list & 0xfffn)) / 8;
      const entries = dmaRead(this.pdev, list, inPage * 8);
      this.stats.prpListReads++;
      const v = new DataView(entries.buffer);
      for (let i = 0; i < inPage && left > 0; i++) {
        const e = v.getBigUint64(i * 8, true);
        if (i === inPage - 1 && left > NVME_CTRL_PAGE_SIZE) {
          list = e; // chain to the next list page
          break;
        }
        if (e & 0xfffn) return null;
        const n = Math.min(left, NVME_CTRL_PAGE_SIZE);
        segs.push({ addr: e, len: n });
        left -= n;
      }
      if (left <= 0) return segs;
    }
  }

  /** The data pointer as an SGL: one data block, or a last-segment descriptor pointing to data blocks. */
  #sglSegments(cmd: NvmeCommand, len: number): { addr: bigint; len: number }[] | null {
    const dlen = Number(cmd.prp2 & 0xffff_ffffn);
    const type = Number((cmd.prp2 >> 60n) & 0xfn);
    if (type === NVME_SGL_FMT_DATA_DESC) return dlen === len ? [{ addr: cmd.prp1, len }] : null;
    if (type !== NVME_SGL_FMT_LAST_SEG_DESC || dlen % 16) return null;
    const raw = dmaRead(this.pdev, cmd.prp1, dlen);
    this.stats.sglSegmentReads++;
    const v = new DataView(raw.buffer);
    const segs: { addr: bigint; len: number }[] = [];
    let total = 0;
    for (let i = 0; i < dlen / 16; i++) {
      if (v.getUint8(i * 16 + 15) >> 4 !== NVME_SGL_FMT_DATA_DESC) return null;
      const n = v.getUint32(i * 16 + 8, true);
      segs.push({ addr: v.getBigUint64(i * 16, true), len: n });
      total += n;
    }
    return total === len ? segs : null;
  }

  #scatter(segs: readonly { addr: bigint; len: number }[], data: Uint8Array): void {
    let at = 0;
    for (const s of segs) {
      dmaWrite(this.pdev, s.addr, data.subarray(at, at + s.len));
      at += s.len;
    }
  }

  #gather(segs: readonly { addr: bigint; len: number }[], len: number): Uint8Array {
    const out = new Uint8Array(len);
    let at = 0;
    for (const s of segs) {
      out.set(dmaRead(this.pdev, s.addr, s.len), at);
      at += s.len;
    }
    return out;
  }
}

/** Bytes of namespace `nsid` (test and fixture access to the media, bypassing the host). @public */
export function nvmeHwNamespace(hw: NvmeHw, nsid: number): NvmeNamespace {
  const ns = hw.namespaces[nsid - 1];
  if (!ns) throw new KernelError("ENODEV", "nvme", `no namespace ${nsid}`);
  return ns;
}
