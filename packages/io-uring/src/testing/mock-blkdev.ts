// A test block device for io_uring's own tests (the role null_blk plays upstream): direct I/O by a PCI function's DMA, with dma-buf I/O contexts.
import {
  DMA_MAPPING_ERROR,
  KernelError,
  dmaBufDetach,
  dmaBufDynamicAttach,
  dmaMapPhys,
  dmaRead,
  dmaUnmapPhys,
  dmaWrite,
  type DmaBufAttachment,
  type File,
  type Kernel,
  type PciDev,
} from "@dmabuf-sdk/dmabuf-core";
import { dmaBufSgtMapAttachment, dmaBufSgtUnmapAttachment, sgtableDmaAddressAt, type SgTable } from "@dmabuf-sdk/map-sgt";
import { dmaBufIoInitMap, dmaBufIoInvalidateMappings, type DmaBufIoCtx, type DmaBufIoMap } from "../dma-buf-io.js";
import { EIOCBQUEUED, walkBvec, type IoUringFileOperations, type IovIter, type Kiocb } from "../iov-iter.js";

/** A mock block device: its bytes, the device doing DMA, and what it did. @public */
export interface MockBlkdev {
  readonly path: string;
  readonly dev: PciDev;
  readonly data: Uint8Array;
  /** Virtual nanoseconds from submission to completion. */
  latencyNs: number;
  /** Requests submitted and not yet completed. */
  readonly inflight: number;
  /** The token ops called, in order (`map`, `unmap`, `release`). */
  readonly log: string[];
  /** Every dma-buf I/O context created on this device. */
  readonly ctxs: DmaBufIoCtx[];
  /** Removes the node. */
  remove(): void;
}

interface MockMap {
  readonly sgt: SgTable;
}

/**
 * Creates `/dev/<name>`: `size` bytes moved by `dev`'s DMA engine. Direct
 * I/O only (`EINVAL` otherwise); bvec I/O is DMA-mapped per request, dma-buf
 * I/O uses the context's long-term SGT map. Completions come `latencyNs`
 * later on virtual time.
 * @public
 */
export function mockBlkdev(kernel: Kernel, dev: PciDev, name: string, size: number): MockBlkdev {
  const data = new Uint8Array(size);
  const log: string[] = [];
  const ctxs: DmaBufIoCtx[] = [];
  let inflight = 0;
  const state = { latencyNs: 10_000 };

  const rw = (write: boolean, kiocb: Kiocb, iter: IovIter): number => {
    if (!kiocb.direct) return iter.type === "ITER_DMABUF_MAP" ? -14 : -22;
    const pos = Number(kiocb.pos);
    if (pos % 512 || iter.count % 512) return -22;
    if (pos + iter.count > size) return 0;
    // Per-I/O DMA mapping of ordinary pages; a dma-buf map is already there.
    const addrs: { addr: bigint; len: number; pos: number; mapped: boolean }[] = [];
    if (iter.type === "ITER_BVEC") {
      let failed = false;
      walkBvec(iter, (phys, p, n) => {
        if (failed) return;
        const a = dmaMapPhys(dev, phys, BigInt(n), write ? "DMA_TO_DEVICE" : "DMA_FROM_DEVICE", 0);
        if (a === DMA_MAPPING_ERROR) failed = true;
        else addrs.push({ addr: a, len: n, pos: p, mapped: true });
      });
      if (failed) {
        for (const m of addrs) dmaUnmapPhys(dev, m.addr, BigInt(m.len), write ? "DMA_TO_DEVICE" : "DMA_FROM_DEVICE", 0);
        return -12;
      }
    } else {
      const sgt = (iter.map as DmaBufIoMap<MockMap>).priv.sgt;
      for (let p = 0; p < iter.count; ) {
        const off = iter.offset + BigInt(p);
        const at = sgtableDmaAddressAt(sgt, off).addr;
        const n = Math.min(iter.count - p, 4096 - Number(off & 0xfffn));
        addrs.push({ addr: at, len: n, pos: p, mapped: false });
        p += n;
      }
    }
    inflight++;
    kernel.clock.schedule(state.latencyNs, () => {
      inflight--;
      let res = iter.count;
      try {
        for (const m of addrs) {
          if (write) data.set(dmaRead(dev, m.addr, m.len), pos + m.pos);
          else dmaWrite(dev, m.addr, data.subarray(pos + m.pos, pos + m.pos + m.len));
        }
      } catch (e) {
        if (!(e instanceof KernelError)) throw e;
        res = -5;
      }
      for (const m of addrs) if (m.mapped) dmaUnmapPhys(dev, m.addr, BigInt(m.len), write ? "DMA_TO_DEVICE" : "DMA_FROM_DEVICE", 0);
      kiocb.complete(res);
    });
    return EIOCBQUEUED;
  };

  const fops: IoUringFileOperations = {
    name: "mockblk",
    readIter: (kiocb, iter) => rw(false, kiocb, iter),
    writeIter: (kiocb, iter) => rw(true, kiocb, iter),
    initDmaBufIoCtx(_file: File, ctx: DmaBufIoCtx) {
      ctxs.push(ctx);
      const attach: DmaBufAttachment = dmaBufDynamicAttach(ctx.dmabuf, dev, { allowPeer2peer: true, invalidateMappings: () => dmaBufIoInvalidateMappings(ctx) }, ctx);
      ctx.devPriv = attach;
      ctx.devOps = {
        map(c) {
          log.push("map");
          const sgt = dmaBufSgtMapAttachment(c.devPriv as DmaBufAttachment, c.dir);
          const lens: number[] = [];
          for (let i = 0; i < sgt.nents; i++) lens.push(sgt.dmaLength[i]!);
          try {
            return dmaBufIoInitMap(c, { sgt }, lens);
          } catch (e) {
            dmaBufSgtUnmapAttachment(c.devPriv as DmaBufAttachment, sgt, c.dir);
            throw e;
          }
        },
        unmap(c, m) {
          log.push("unmap");
          dmaBufSgtUnmapAttachment(c.devPriv as DmaBufAttachment, (m as DmaBufIoMap<MockMap>).priv.sgt, c.dir);
        },
        release(c) {
          log.push("release");
          dmaBufDetach(c.dmabuf, c.devPriv as DmaBufAttachment);
        },
      };
    },
  };
  const remove = kernel.devfs.register(name, { fops });
  return {
    path: `/dev/${name}`,
    dev,
    data,
    get latencyNs() {
      return state.latencyNs;
    },
    set latencyNs(v: number) {
      state.latencyNs = v;
    },
    get inflight() {
      return inflight;
    },
    log,
    ctxs,
    remove,
  };
}
