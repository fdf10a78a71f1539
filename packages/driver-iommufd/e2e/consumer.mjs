// Post-install check of @dmabuf-sdk/driver-iommufd, run by scripts/publish-e2e.mjs in an empty
// directory after `npm install @dmabuf-sdk/driver-iommufd@<version>` alone (npm brings core and
// map-pal as peers; vfio-pci is optional). A PAL exporter of a BAR (written here as a module of
// its own), /dev/iommu with an IOAS and the importer attached, IOMMU_IOAS_MAP_FILE, the device's
// DMA through its IOVA, a revoke that zaps the IOPTEs, and the restricted symbol refused to any
// module not named iommufd.
import assert from "node:assert/strict";
import { realpathSync } from "node:fs";
import { fileURLToPath } from "node:url";
import {
  Kernel,
  KernelError,
  O_RDWR,
  buildTopology,
  dmaBufExport,
  dmaBufFd,
  dmaBufInvalidateMappings,
  dmaBufMatchMapping,
  dmaRead,
  dmaResvLock,
  dmaResvUnlock,
  topologyKernelOptions,
} from "@dmabuf-sdk/dmabuf-core";
import { DMA_BUF_PAL_MAP_PHYS, dmaBufEmappingPal } from "@dmabuf-sdk/map-pal";
import { iommufdModule, iommufdOpenSession } from "@dmabuf-sdk/driver-iommufd";

const step = (s) => console.log(`  consumer: ${s}`);
const entry = realpathSync(fileURLToPath(import.meta.resolve("@dmabuf-sdk/driver-iommufd")));
assert.ok(entry.startsWith(realpathSync(process.cwd())), `resolved outside the consumer: ${entry}`);
step(`imported ${entry.slice(realpathSync(process.cwd()).length + 1)}`);

const kernel = new Kernel(topologyKernelOptions("cross-root"));
const topo = buildTopology(kernel, "cross-root");
kernel.modprobe(iommufdModule);
assert.ok(kernel.modules.find("dma_buf_mapping_pal").usedBy.includes("iommufd"));
step("modprobe iommufd: links dma_buf_pal_map_phys");

let err;
try {
  kernel.loadModule({ ...iommufdModule, name: "not_iommufd", requires: [] });
} catch (e) {
  err = e;
}
assert.ok(err instanceof KernelError && err.errno === "EINVAL", `not_iommufd loaded: ${err}`);
assert.ok(kernel.printk.contains("not_iommufd: Unknown symbol dma_buf_pal_map_phys (err -22)"));
step("the same module named not_iommufd: EINVAL, Unknown symbol dma_buf_pal_map_phys (err -22)");
assert.equal(DMA_BUF_PAL_MAP_PHYS.name, "dma_buf_pal_map_phys");

// A PAL exporter of two pages of the exporter's BAR0, in reverse order.
const bar = topo.exporterSlot.bars[0];
const bytes = Uint8Array.from({ length: 0x2000 }, (_, i) => (i * 13) & 0xff);
kernel.platform.physmem.write(bar.start + 0x1000n, bytes.subarray(0, 0x1000));
kernel.platform.physmem.write(bar.start, bytes.subarray(0x1000));
let maps = 0;
const dmabuf = dmaBufExport(kernel, {
  owner: kernel.modules.vmlinux,
  expName: "e2e_pal",
  ops: {
    release() {},
    matchMapping: (args) =>
      dmaBufMatchMapping(args, [
        dmaBufEmappingPal({
          mapPhys: () => (maps++, { length: 2, phys: [{ paddr: bar.start + 0x1000n, len: 0x1000n }, { paddr: bar.start, len: 0x1000n }] }),
          unmapPhys: () => void maps--,
        }),
      ]),
  },
  size: 0x2000n,
  flags: O_RDWR,
  priv: {},
});
const vmm = kernel.fork({ comm: "vmm" });
const fd = kernel.runAs(vmm, () => dmaBufFd(dmabuf, O_RDWR));

const s = iommufdOpenSession(kernel, vmm, topo.importerSlot);
const iova = s.mapDmaBuf(dmabuf);
assert.equal(maps, 1);
assert.deepEqual(dmaRead(topo.importerSlot, iova, bytes.length), bytes);
step(`IOMMU_IOAS_MAP_FILE at IOVA ${iova}: the device DMA-reads the BAR's bytes`);

dmaResvLock(dmabuf.resv);
dmaBufInvalidateMappings(dmabuf);
dmaResvUnlock(dmabuf.resv);
assert.equal(maps, 0);
assert.equal(topo.importerSlot.iommuGroup.domain.pgtable.ptes, 0);
assert.throws(() => dmaRead(topo.importerSlot, iova, 16), (e) => e.reason === "iommu-not-present");
step("invalidation: every IOPTE zapped, the list given back, the DMA faults");

assert.equal(s.unmap(iova, 0x2000n), 0x2000n);
s.close();
vmm.sys.close(fd);
kernel.exitTask(vmm, 0);
kernel.clock.flush();
assert.ok(kernel.leakReport().empty, kernel.leakReport().text());
assert.deepEqual(kernel.lockdep.reports(), []);
step("leak report empty, lockdep clean");
console.log("  consumer: @dmabuf-sdk/driver-iommufd OK");
