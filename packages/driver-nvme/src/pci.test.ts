// Tests drivers/nvme/host/pci.c: probe, queues, PRP lists and SGLs, MDTS splitting, completions and removal.
import { describe, expect, it } from "vitest";
import { O_CLOEXEC, O_RDWR, dmaBufFd, iommuDmaStats, type DmaBuf } from "@dmabuf-sdk/dmabuf-core";
import { compatExporterAlloc } from "@dmabuf-sdk/map-sgt";
import { IORING_OP_READ, IoUring, negErrno, userAlloc } from "@dmabuf-sdk/io-uring";
import { nvmeRemove, pciIrqCount } from "@dmabuf-sdk/driver-nvme";
import { nvmeMachine, type NvmeMachine } from "@dmabuf-sdk/driver-nvme/testing";

function pattern(n: number, seed: number): Uint8Array {
  return Uint8Array.from({ length: n }, (_, i) => (i * 13 + seed) & 0xff);
}

function exportBuf(m: NvmeMachine, size: bigint): { dmabuf: DmaBuf<{ pfns: number[] }>; fd: number } {
  const dmabuf = compatExporterAlloc(m.kernel, m.kernel.modules.vmlinux, size);
  const fd = m.kernel.runAs(m.task, () => dmaBufFd(dmabuf, O_CLOEXEC));
  return { dmabuf, fd };
}

/** Byte equality without vitest's element-by-element diff (slow on large arrays). */
function same(a: Uint8Array, b: Uint8Array): boolean {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength));
}

function bufBytes(m: NvmeMachine, dmabuf: DmaBuf<{ pfns: number[] }>, off: number, len: number): Uint8Array {
  const out = new Uint8Array(len);
  for (let at = 0; at < len; ) {
    const o = off + at;
    const n = Math.min(4096 - (o & 0xfff), len - at);
    out.set(m.kernel.platform.physmem.read((BigInt(dmabuf.priv.pfns[o >> 12]!) << 12n) + BigInt(o & 0xfff), n), at);
    at += n;
  }
  return out;
}

function finish(m: NvmeMachine, ring: IoUring, fds: number[]): void {
  ring.close();
  for (const fd of fds) m.task.sys.close(fd);
  m.kernel.clock.advance(100e6);
  nvmeRemove(m.dev);
  m.kernel.clock.advance(100e6);
  m.kernel.exitTask(m.task, 0);
  const r = m.kernel.leakReport();
  expect(r.empty ? "" : r.text()).toBe("");
}

describe("nvme-pci", () => {
  it("probe: admin queue, Identify, one I/O queue pair; the namespace size comes from Identify Namespace", () => {
    const m = nvmeMachine();
    expect(m.dev.namespaces).toEqual([{ nsid: 1, size: 16n << 20n, lbaSize: 512 }]);
    expect(m.dev.mdts).toBe(5);
    expect(m.dev.sgls).toBe(true);
    expect(m.dev.hw.stats.commands).toBe(4);
    expect(pciIrqCount(m.topology.importerSlot, 0)).toBe(4);
    expect(m.topology.importerSlot.driver).toBe("nvme");
    nvmeRemove(m.dev);
    m.kernel.exitTask(m.task, 0);
    expect(m.kernel.leakReport().empty).toBe(true);
  });

  it.each([
    { desc: "4 KiB (PRP1 only)", off: 0, len: 4096 },
    { desc: "8 KiB (PRP1 + PRP2)", off: 4096, len: 8192 },
    { desc: "64 KiB (a PRP list from the small pool)", off: 0, len: 65536 },
    { desc: "unaligned start inside a page (dword aligned)", off: 512, len: 16384 },
    { desc: "1 MiB: split by MDTS into 8 commands sharing the map", off: 0, len: 1 << 20 },
  ])("READ_FIXED then WRITE_FIXED on a registered dma-buf: $desc", ({ off, len }) => {
    const m = nvmeMachine();
    const ring = new IoUring(m.task);
    const blk = m.open();
    const { dmabuf, fd } = exportBuf(m, 2n << 20n);
    const media = m.dev.hw.namespaces[0]!;
    media.write(8192n, pattern(len, 1));
    ring.registerBuffersSparse(1);
    expect(ring.registerDmabuf(0, fd, blk)).toBe(1);
    ring.queueFixed(false, blk, BigInt(off), len, 8192n, 0);
    expect(ring.run(1)[0]!.res).toBe(len);
    expect(same(bufBytes(m, dmabuf, off, len), pattern(len, 1))).toBe(true);
    m.kernel.platform.physmem.write(BigInt(dmabuf.priv.pfns[0]!) << 12n, pattern(4096, 9));
    ring.queueFixed(true, blk, 0n, 4096, 1n << 20n, 0);
    expect(ring.run(1)[0]!.res).toBe(4096);
    expect(same(media.read(1n << 20n, 4096), pattern(4096, 9))).toBe(true);
    finish(m, ring, [fd, blk]);
  });

  it("SGLs when enabled: one data block for a contiguous range; the data arrives the same", () => {
    const m = nvmeMachine({ driver: { useSgls: true } });
    const ring = new IoUring(m.task);
    const blk = m.open();
    const { dmabuf, fd } = exportBuf(m, 65536n);
    m.dev.hw.namespaces[0]!.write(0n, pattern(65536, 4));
    ring.registerBuffersSparse(1);
    ring.registerDmabuf(0, fd, blk);
    ring.queueFixed(false, blk, 0n, 65536, 0n, 0);
    expect(ring.run(1)[0]!.res).toBe(65536);
    expect(same(bufBytes(m, dmabuf, 0, 65536), pattern(65536, 4))).toBe(true);
    expect(m.dev.hw.stats.prpListReads).toBe(0);
    finish(m, ring, [fd, blk]);
  });

  it("per-I/O mapping (plain READ into user memory) vs the long-term map: IOMMU work per I/O in strict mode", () => {
    const m = nvmeMachine();
    const ring = new IoUring(m.task);
    const blk = m.open();
    const ubuf = userAlloc(m.task, 4096);
    const pdev = m.topology.importerSlot;
    const s0 = { ...iommuDmaStats(pdev) };
    for (let i = 0; i < 4; i++) ring.queue({ opcode: IORING_OP_READ, fd: blk, addr: ubuf, len: 4096, off: BigInt(i * 4096) });
    expect(ring.run(4).map((c) => c.res)).toEqual([4096, 4096, 4096, 4096]);
    const s1 = { ...iommuDmaStats(pdev) };
    expect({ iovaAlloc: s1.iovaAlloc - s0.iovaAlloc, map: s1.map - s0.map, unmap: s1.unmap - s0.unmap, iotlbSync: s1.iotlbSync - s0.iotlbSync, iovaFree: s1.iovaFree - s0.iovaFree }).toEqual({ iovaAlloc: 4, map: 4, unmap: 4, iotlbSync: 4, iovaFree: 4 });
    const { fd } = exportBuf(m, 65536n);
    ring.registerBuffersSparse(1);
    ring.registerDmabuf(0, fd, blk);
    ring.queueFixed(false, blk, 0n, 4096, 0n, 0);
    ring.run(1);
    const s2 = { ...iommuDmaStats(pdev) };
    for (let i = 0; i < 4; i++) ring.queueFixed(false, blk, BigInt(i * 4096), 4096, BigInt(i * 4096), 0);
    ring.run(4);
    const s3 = { ...iommuDmaStats(pdev) };
    expect({ iovaAlloc: s3.iovaAlloc - s2.iovaAlloc, map: s3.map - s2.map, unmap: s3.unmap - s2.unmap, iotlbSync: s3.iotlbSync - s2.iotlbSync, dmaSync: s3.dmaSync - s2.dmaSync }).toEqual({ iovaAlloc: 0, map: 0, unmap: 0, iotlbSync: 0, dmaSync: 8 });
    m.task.sys.munmap(ubuf, 4096);
    finish(m, ring, [fd, blk]);
  });

  it("completions raise the I/O queue's MSI-X vector", () => {
    const m = nvmeMachine();
    const ring = new IoUring(m.task);
    const blk = m.open();
    const ubuf = userAlloc(m.task, 4096);
    ring.queue({ opcode: IORING_OP_READ, fd: blk, addr: ubuf, len: 4096 });
    ring.run(1);
    expect(pciIrqCount(m.topology.importerSlot, 1)).toBe(1);
    m.task.sys.munmap(ubuf, 4096);
    finish(m, ring, [blk]);
  });

  describe("bad input", () => {
    it("registration needs O_DIRECT on the block device: EINVAL", () => {
      const m = nvmeMachine();
      const ring = new IoUring(m.task);
      const blk = m.open(O_RDWR);
      const { fd } = exportBuf(m, 4096n);
      ring.registerBuffersSparse(1);
      expect(ring.registerDmabuf(0, fd, blk)).toBe(negErrno("EINVAL"));
      finish(m, ring, [fd, blk]);
    });

    it.each([
      { desc: "unaligned file offset", off: 100n, len: 4096, addr: 0n, errno: "EINVAL" as const },
      { desc: "length not a multiple of the LBA size", off: 0n, len: 1000, addr: 0n, errno: "EINVAL" as const },
      { desc: "buffer offset not dword aligned", off: 0n, len: 512, addr: 2n, errno: "EINVAL" as const },
      { desc: "range past the buffer", off: 0n, len: 8192, addr: 0n, errno: "EFAULT" as const },
    ])("$desc → $errno", ({ off, len, addr, errno }) => {
      const m = nvmeMachine();
      const ring = new IoUring(m.task);
      const blk = m.open();
      const { fd } = exportBuf(m, 4096n);
      ring.registerBuffersSparse(1);
      ring.registerDmabuf(0, fd, blk);
      ring.queueFixed(false, blk, addr, len, off, 0);
      expect(ring.run(1)[0]!.res).toBe(negErrno(errno));
      finish(m, ring, [fd, blk]);
    });

    it("a read at the end of the namespace returns 0 bytes; one across it is short", () => {
      const m = nvmeMachine();
      const ring = new IoUring(m.task);
      const blk = m.open();
      const { fd } = exportBuf(m, 8192n);
      ring.registerBuffersSparse(1);
      ring.registerDmabuf(0, fd, blk);
      ring.queueFixed(false, blk, 0n, 4096, 16n << 20n, 0, 1n);
      ring.queueFixed(false, blk, 0n, 8192, (16n << 20n) - 4096n, 0, 2n);
      const res = ring.run(2).sort((a, b) => Number(a.userData - b.userData)).map((c) => c.res);
      expect(res).toEqual([0, 4096]);
      finish(m, ring, [fd, blk]);
    });
  });
});
