// The nvme importer of the conformance matrix: a controller on the importer slot, a dma-buf registered in an io_uring for /dev/nvme0n1, READ_FIXED/WRITE_FIXED as the data path.
import {
  ERRNO,
  KernelError,
  O_CLOEXEC,
  O_RDWR,
  dmaBufFd,
  dmaBufPut,
  dmaRead,
  errnoName,
  getDmaBuf,
  withGetters,
  type ConformanceFixtures,
  type ImportedBuffer,
  type ImporterFixture,
  type KernelModule,
  O_DIRECT,
} from "@dmabuf-sdk/dmabuf-core";
import { IoUring, type DmaBufIoCtx } from "@dmabuf-sdk/io-uring";
import { dmaBufSgtRoute } from "@dmabuf-sdk/map-sgt";
import { nvmeHwAttach, nvmeHwOf, nvmeModule, nvmeProbe, nvmeRemove } from "./module.js";
import type { NvmeDmabufMap, NvmeDmabufToken } from "./pci.js";

/** Size of the fixture's namespace (sparse media). @public */
export const NVME_FIXTURE_NS_SIZE = 64n << 20n;
/** Where the fixture's data path puts bytes on the namespace. */
const SCRATCH = 1n << 20n;

function cqeCheck(res: number, op: string): void {
  if (res < 0) throw new KernelError(errnoName(res) ?? "EIO", op, `CQE ${res}`);
}

/**
 * Conformance importer: an NVMe controller on the topology's importer slot
 * (nvme-pci bound), the buffer registered in an io_uring of the case's task
 * for `/dev/nvme0n1` (O_DIRECT). `map()` is a first fixed I/O (the layer
 * maps lazily); `dmaRead` is WRITE_FIXED from the buffer to the media, read
 * back from the media; `dmaWrite` puts bytes on the media and READ_FIXED
 * brings them into the buffer: the controller's DMA engine moves them, over
 * P2P for a BAR exporter. The attach is `dma_buf_dynamic_attach()` with
 * `allow_peer2peer` (SGT, ACCEPTS_P2P), so an exporter beyond P2P reach
 * refuses the registration with the attach errno.
 * @public
 */
export const nvmeImporterFixture: ImporterFixture = {
  name: "nvme",
  description: "nvme-pci with io_uring dma-buf registered buffers (series v6): dynamic SGT attach accepting P2P, long-term map on first I/O, READ_FIXED/WRITE_FIXED via PRPs",
  get modules(): readonly KernelModule[] {
    return [nvmeModule];
  },
  placeable: (topology) => topology.name !== "sriov",
  import(ctx, buffer): ImportedBuffer {
    const k = ctx.kernel;
    const pdev = ctx.topology.importerSlot;
    if (!nvmeHwOf(pdev)) nvmeHwAttach(pdev, { namespaces: [{ size: NVME_FIXTURE_NS_SIZE }] });
    const dev = nvmeProbe(k, pdev);
    const media = dev.hw.namespaces[0]!;
    const task = ctx.task;
    let ring: IoUring | undefined;
    let blkFd = -1;
    try {
      blkFd = task.sys.open(`/dev/nvme${dev.instance}n1`, O_RDWR | O_DIRECT);
      cqeCheck(blkFd, "open /dev/nvmeXn1");
      ring = new IoUring(task, 64);
      cqeCheck(ring.registerBuffersSparse(1), "IORING_REGISTER_BUFFERS2");
      getDmaBuf(buffer.dmabuf);
      let bufFd: number;
      try {
        bufFd = k.runAs(task, () => dmaBufFd(buffer.dmabuf, O_CLOEXEC));
      } catch (e) {
        dmaBufPut(buffer.dmabuf);
        throw e;
      }
      const r = ring.registerDmabuf(0, bufFd, blkFd);
      task.sys.close(bufFd);
      cqeCheck(r, "IORING_REGISTER_BUFFERS_UPDATE");
    } catch (e) {
      ring?.close();
      if (blkFd >= 0) task.sys.close(blkFd);
      k.clock.flush();
      nvmeRemove(dev);
      throw e;
    }
    const io = ring;
    const ioctx: DmaBufIoCtx = [...dev.ioCtxs].find((c) => c.dmabuf === buffer.dmabuf)!;
    const token = ioctx.devPriv as NvmeDmabufToken;
    let stale: bigint | null = null;
    const fixed = (write: boolean, off: bigint, len: number, pos: bigint): void => {
      io.queueFixed(write, blkFd, off, len, pos, 0);
      const [cqe] = io.run(1);
      cqeCheck(cqe!.res, write ? "WRITE_FIXED" : "READ_FIXED");
      if (cqe!.res !== len) throw new KernelError("EIO", "nvme fixture", `short I/O ${cqe!.res}/${len}`);
      const m = ioctx.map;
      if (m) stale = (m.priv as NvmeDmabufMap).dmaList[0]!;
    };
    let closed = false;
    const view: Omit<ImportedBuffer, "mapped"> = {
      attachment: token.attach,
      map() {
        // The first fixed I/O makes the long-term map (lazy, v6 dma_buf_io_get_map).
        fixed(true, 0n, 512, SCRATCH);
      },
      route() {
        const m = ioctx.map;
        const r = m ? dmaBufSgtRoute((m.priv as NvmeDmabufMap).sgt) : undefined;
        return r === undefined ? undefined : r === "bus-addr" ? "BUS_ADDR" : "THRU_HOST_BRIDGE";
      },
      dmaRead(offset, len) {
        fixed(true, offset, len, SCRATCH);
        return media.read(SCRATCH, len);
      },
      dmaWrite(offset, data) {
        media.write(SCRATCH, data);
        fixed(false, offset, data.length, SCRATCH);
      },
      staleDmaRead(len) {
        if (stale === null) throw new KernelError("ENXIO", "nvme fixture", "no earlier mapping");
        return dmaRead(pdev, stale, len);
      },
      unmap() {
        // The map is long-term: it goes with the registration (detach) or an invalidation.
      },
      detach() {
        if (closed) return;
        closed = true;
        const r = io.unregisterBuffers();
        if (r < 0 && r !== -ERRNO.ENXIO) throw new KernelError(errnoName(r) ?? "EIO", "IORING_UNREGISTER_BUFFERS", String(r));
        io.close();
        task.sys.close(blkFd);
        k.clock.advance(100e6);
        nvmeRemove(dev);
      },
    };
    return withGetters(view, {
      mapped: () => ioctx.map !== null && !ioctx.map.dead,
    });
  },
};

/** What nvme offers the conformance matrix. @public */
export const nvmeFixtures: ConformanceFixtures = {
  package: "@dmabuf-sdk/driver-nvme",
  exporters: [],
  importers: [nvmeImporterFixture],
};
