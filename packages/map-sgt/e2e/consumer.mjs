// Post-install check of @dmabuf-sdk/map-sgt, run by scripts/publish-e2e.mjs in an empty
// directory after `npm install @dmabuf-sdk/map-sgt@<version>` alone (core comes as a peer).
// An unconverted exporter and an unconverted RDMA-style importer meet through the SGT
// compatibility layer: the importer's device reads by DMA what was written into the pages,
// an invalidation drops the mapping, and nothing is left behind.
import assert from "node:assert/strict";
import { realpathSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { Kernel, buildTopology, dmaBufInvalidateMappings, dmaBufPut, dmaResvLock, dmaResvUnlock, topologyKernelOptions } from "@dmabuf-sdk/dmabuf-core";
import { CompatDynamicImporter, compatDynamicImporterModule, compatExporterAlloc, compatExporterModule, dmaBufMappingSgtType, sgtDmaRead } from "@dmabuf-sdk/map-sgt";

const step = (s) => console.log(`  consumer: ${s}`);
const entry = realpathSync(fileURLToPath(import.meta.resolve("@dmabuf-sdk/map-sgt")));
assert.ok(entry.startsWith(realpathSync(process.cwd())), `@dmabuf-sdk/map-sgt resolved outside the consumer: ${entry}`);
step(`imported ${entry.slice(realpathSync(process.cwd()).length + 1)}`);

const kernel = new Kernel(topologyKernelOptions("cross-root"));
const topo = buildTopology(kernel, "cross-root");
kernel.modprobe(compatExporterModule);
kernel.modprobe(compatDynamicImporterModule);
assert.deepEqual(kernel.modules.modules().map((m) => m.name), ["dma_buf_mapping_sgt", "compat_exporter", "compat_dynamic_importer"]);
step("modprobe compat_exporter, compat_dynamic_importer (dma_buf_mapping_sgt first)");

const dmabuf = compatExporterAlloc(kernel, kernel.modules.find("compat_exporter"), 0x3000n);
const data = Uint8Array.from({ length: 0x3000 }, (_, i) => (i * 7 + 3) & 0xff);
dmabuf.priv.pfns.forEach((pfn, i) => kernel.platform.physmem.write(BigInt(pfn) << 12n, data.subarray(i * 0x1000, (i + 1) * 0x1000)));
const imp = new CompatDynamicImporter(topo.importerSlot, dmabuf);
assert.equal(imp.attachment.mapType.type, dmaBufMappingSgtType);
imp.map();
assert.deepEqual(sgtDmaRead(topo.importerSlot, imp.sgt, 0n, 0x3000), data);
step("legacy map_dma_buf exporter × dma_buf_dynamic_attach importer: SGT negotiated, DMA through the IOMMU reads the pages");

dmaResvLock(dmabuf.resv);
dmaBufInvalidateMappings(dmabuf);
dmaResvUnlock(dmabuf.resv);
assert.equal(imp.sgt, null);
assert.equal(imp.invalidations, 1);
imp.map();
assert.deepEqual(sgtDmaRead(topo.importerSlot, imp.sgt, 0x1000n, 16), data.subarray(0x1000, 0x1010));
step("invalidate: the importer dropped its mapping under resv and mapped again on next use");

imp.detach();
dmaBufPut(dmabuf);
kernel.unloadModule("compat_dynamic_importer");
kernel.unloadModule("compat_exporter");
assert.equal(kernel.leakReport().text(), "");
assert.deepEqual([kernel.warnings(), kernel.lockdep.reports()], [[], []]);
step("detach, put, rmmod: the leak report is empty, lockdep is clean");
