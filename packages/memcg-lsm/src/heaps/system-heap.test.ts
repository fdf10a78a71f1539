// Tests of drivers/dma-buf/heaps/system_heap.c and its conformance fixture.
import { describe, expect, it } from "vitest";
import {
  ConformanceFixtures,
  DMA_BUF_IOCTL_SYNC,
  DMA_BUF_SYNC_END,
  DMA_BUF_SYNC_READ,
  DMA_BUF_SYNC_RW,
  DMA_BUF_SYNC_START,
  Kernel,
  MAP_SHARED,
  PROT_READ,
  PROT_WRITE,
  TOPOLOGY_NAMES,
  buildTopology,
  dmaBufDebugShow,
  dmaBufDetach,
  dmaBufMappingAttach,
  dmaBufSync,
  iommuDmaStats,
  topologyKernelOptions,
  type DmaBuf,
  type TopologyName,
} from "@dmabuf-sdk/dmabuf-core";
import { dmaBufImappingSgt, dmaBufMappingSgtType, dmaBufSgtMapAttachmentUnlocked, dmaBufSgtUnmapAttachmentUnlocked, sgtCompatFixtures, sgtDmaRead } from "@dmabuf-sdk/map-sgt";
import { dmaHeapAllocFd, isSystemHeapBuffer, systemHeapFixture, systemHeapModule, systemHeapRead, type SystemHeapBuffer } from "@dmabuf-sdk/memcg-lsm";
import { boot, exitAll, spawn } from "@dmabuf-sdk/memcg-lsm/testing";

const KiB = 1024n;
function bytes(n: number, seed = 1): Uint8Array {
  const b = new Uint8Array(n);
  for (let i = 0; i < n; i++) b[i] = (i * 13 + seed) & 0xff;
  return b;
}
/** Byte equality without vitest's element-by-element diff (slow on megabytes). */
const same = (a: Uint8Array, b: Uint8Array): boolean => Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength));

function alloc(k: Kernel, len: bigint) {
  const t = spawn(k, "app", "u:r:app_t:s0", "/app");
  const fd = dmaHeapAllocFd(t, "system", len);
  expect(fd).toBeGreaterThanOrEqual(0);
  const d = t.files.lookup(fd)!.privateData as DmaBuf;
  if (!isSystemHeapBuffer(d)) throw new Error("not a system-heap buffer");
  return { t, fd, d, buf: d.priv as SystemHeapBuffer };
}

describe("system heap", () => {
  it.each([
    { len: 4n * KiB, orders: [0] },
    { len: 1n, orders: [0] },
    { len: 60n * KiB, orders: Array(15).fill(0) },
    { len: 64n * KiB, orders: [4] },
    { len: 1024n * KiB, orders: [8] },
    { len: 1024n * KiB + 64n * KiB + 4n * KiB, orders: [8, 4, 0] },
    { len: 2048n * KiB + 8n * KiB, orders: [8, 8, 0, 0] },
    { len: 192n * KiB, orders: [4, 4, 4] },
  ])("$len bytes are backed by pages of orders $orders (largest first)", ({ len, orders }) => {
    const { k } = boot();
    const { t, fd, d, buf } = alloc(k, len);
    expect(buf.pages.map((p) => p.order)).toEqual(orders);
    expect(d.size).toBe((len + 4095n) & ~4095n);
    expect(buf.sgTable.origNents).toBe(orders.length);
    expect(d.expName).toBe("system");
    expect(dmaBufDebugShow(k)).toContain("system");
    t.sys.close(fd);
    exitAll(k);
    expect(k.leakReport().text()).toBe("");
  });

  it("a failed high-order page falls back to smaller orders and never goes back up", () => {
    const { k } = boot();
    k.faults.inject({ site: "alloc_pages", nth: 2 });
    const { buf } = alloc(k, 2048n * KiB);
    expect(buf.pages.map((p) => p.order)).toEqual([8, ...Array(16).fill(4)]);
    exitAll(k);
    expect(k.leakReport().text()).toBe("");
  });

  it("the importer reads what the CPU wrote, and user space writes through mmap", () => {
    const { k, t: topo } = boot({ topology: "cross-root" });
    const { t, fd, d, buf } = alloc(k, 1024n * KiB + 8n * KiB);
    const addr = t.sys.mmap(d.size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0n);
    const data = bytes(Number(d.size));
    t.sys.poke(addr, data);
    expect(same(systemHeapRead(k, buf, 0n, data.length), data)).toBe(true);
    const a = dmaBufMappingAttach(d, [dmaBufImappingSgt(topo.importerSlot, false)]);
    expect(a.mapType!.type).toBe(dmaBufMappingSgtType);
    const sgt = dmaBufSgtMapAttachmentUnlocked(a, "DMA_BIDIRECTIONAL");
    expect(same(sgtDmaRead(topo.importerSlot, sgt, 0n, data.length), data)).toBe(true);
    expect(sgtDmaRead(topo.importerSlot, sgt, 0x100ffen, 4)).toEqual(data.subarray(0x100ffe, 0x101002));
    dmaBufSgtUnmapAttachmentUnlocked(a, sgt, "DMA_BIDIRECTIONAL");
    dmaBufDetach(d, a);
    t.sys.munmap(addr, d.size);
    t.sys.close(fd);
    exitAll(k);
    expect(k.leakReport().text()).toBe("");
  });

  it("DMA_BUF_IOCTL_SYNC: begin/end_cpu_access sync every DMA segment of mapped attachments only (for the CPU, then for the device)", () => {
    const { k, t: topo } = boot({ topology: "cross-root" });
    const { t, fd, d } = alloc(k, 1024n * KiB + 8n * KiB);
    const dev = topo.importerSlot;
    const syncs = () => iommuDmaStats(dev).dmaSync;
    const a = dmaBufMappingAttach(d, [dmaBufImappingSgt(dev, false)]);
    const before = syncs();
    expect(t.sys.ioctl(fd, DMA_BUF_IOCTL_SYNC, dmaBufSync(DMA_BUF_SYNC_START | DMA_BUF_SYNC_RW))).toBe(0);
    expect(syncs()).toBe(before); // attached, not mapped
    const sgt = dmaBufSgtMapAttachmentUnlocked(a, "DMA_BIDIRECTIONAL");
    const mapped = syncs();
    expect(t.sys.ioctl(fd, DMA_BUF_IOCTL_SYNC, dmaBufSync(DMA_BUF_SYNC_START | DMA_BUF_SYNC_READ))).toBe(0);
    expect(syncs() - mapped).toBe(sgt.nents);
    expect(t.sys.ioctl(fd, DMA_BUF_IOCTL_SYNC, dmaBufSync(DMA_BUF_SYNC_END | DMA_BUF_SYNC_READ))).toBe(0);
    expect(syncs() - mapped).toBe(2 * sgt.nents);
    dmaBufSgtUnmapAttachmentUnlocked(a, sgt, "DMA_BIDIRECTIONAL");
    const unmapped = syncs();
    expect(t.sys.ioctl(fd, DMA_BUF_IOCTL_SYNC, dmaBufSync(DMA_BUF_SYNC_END | DMA_BUF_SYNC_RW))).toBe(0);
    expect(syncs()).toBe(unmapped);
    dmaBufDetach(d, a);
    t.sys.close(fd);
    exitAll(k);
    expect(k.leakReport().text()).toBe("");
  });

  it("an attachment that cannot get its table copy fails with ENOMEM and leaves nothing", () => {
    const { k, t: topo } = boot();
    const { t, fd, d } = alloc(k, 64n * KiB);
    k.faults.inject({ site: "sg_alloc_table", nth: 1 });
    expect(() => dmaBufMappingAttach(d, [dmaBufImappingSgt(topo.importerSlot, false)])).toThrow(expect.objectContaining({ errno: "ENOMEM" }));
    expect(d.attachments).toEqual([]);
    t.sys.close(fd);
    exitAll(k);
    expect(k.leakReport().text()).toBe("");
  });

  describe("conformance fixture", () => {
    const cases = TOPOLOGY_NAMES.flatMap((topology) => sgtCompatFixtures.importers.map((imp) => ({ topology, importer: imp.name })));

    it.each(cases)("system-heap × $importer on $topology: the data path works both ways and nothing is left", ({ topology, importer }) => {
      const k = new Kernel(topologyKernelOptions(topology as TopologyName));
      const topo = buildTopology(k, topology as TopologyName);
      const imp = sgtCompatFixtures.importers.find((i) => i.name === importer)!;
      for (const m of [...systemHeapFixture.modules, ...imp.modules]) k.modprobe(m);
      expect(k.providers(ConformanceFixtures).some((f) => f.exporters.includes(systemHeapFixture))).toBe(true);
      const task = k.fork({ comm: "case", parent: k.init });
      const ctx = { kernel: k, topology: topo, task };
      expect(systemHeapFixture.placeable(topo)).toBe(true);
      expect(imp.placeable(topo)).toBe(true);
      const exp = systemHeapFixture.export(ctx, 0x3000n);
      expect(exp.invalidate).toBeUndefined();
      const data = bytes(0x3000, 7);
      exp.write(0n, data);
      const ib = imp.import(ctx, exp);
      ib.map();
      expect(ib.dmaRead(0n, 0x3000)).toEqual(data);
      if (ib.dmaWrite) {
        ib.dmaWrite(0xffen, Uint8Array.of(1, 2, 3, 4));
        expect(exp.read(0xffen, 4)).toEqual(Uint8Array.of(1, 2, 3, 4));
      }
      ib.unmap();
      ib.detach();
      exp.release();
      k.exitTask(task, 0);
      expect(k.leakReport().text()).toBe("");
      expect(k.oopses()).toEqual([]);
      expect(k.warnings()).toEqual([]);
      expect(k.lockdep.reports()).toEqual([]);
    });

    it("the fixture's modules bring up the whole stack", () => {
      const k = new Kernel(topologyKernelOptions("same-switch"));
      k.modprobe(systemHeapModule);
      expect(k.modules.modules().map((m) => m.name)).toEqual(["memcg", "security", "dma_heap", "dma_buf_mapping_sgt", "system_heap"]);
    });
  });
});
