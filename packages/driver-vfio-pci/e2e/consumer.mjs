// Post-install check of @dmabuf-sdk/driver-vfio-pci, run by scripts/publish-e2e.mjs in an empty
// directory after `npm install @dmabuf-sdk/driver-vfio-pci@<version>` alone (npm brings core,
// map-sgt and map-pal as peers): a kernel, the modules loaded, a BAR exported as a dma-buf
// through the uAPI, a dynamic SGT importer attached that reads the BAR's bytes by DMA, a revoke,
// and nothing left behind.
import assert from "node:assert/strict";
import { realpathSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { Kernel, O_CLOEXEC, O_RDWR, buildTopology, dmaBufGet, dmaBufPut, topologyKernelOptions } from "@dmabuf-sdk/dmabuf-core";
import { CompatDynamicImporter, sgtDmaRead } from "@dmabuf-sdk/map-sgt";
import {
  VFIO_DEVICE_FEATURE,
  VFIO_DEVICE_FEATURE_DMA_BUF,
  VFIO_DEVICE_FEATURE_GET,
  vfioDeviceFeature,
  vfioDeviceFeatureDmaBuf,
  vfioPciIndexToOffset,
  vfioPciModule,
  vfioPciProbe,
  vfioWriteCommand,
} from "@dmabuf-sdk/driver-vfio-pci";

const step = (s) => console.log(`  consumer: ${s}`);
const entry = realpathSync(fileURLToPath(import.meta.resolve("@dmabuf-sdk/driver-vfio-pci")));
assert.ok(entry.startsWith(realpathSync(process.cwd())), `resolved outside the consumer: ${entry}`);
step(`imported ${entry.slice(realpathSync(process.cwd()).length + 1)}`);

const kernel = new Kernel(topologyKernelOptions("same-switch"));
const topo = buildTopology(kernel, "same-switch");
kernel.modprobe(vfioPciModule);
assert.deepEqual(kernel.modules.modules().map((m) => m.name), ["dma_buf_mapping_sgt", "dma_buf_mapping_pal", "dma_buf_mapping_iov", "vfio-pci"]);
step("modprobe vfio-pci: dma_buf_mapping_sgt, dma_buf_mapping_pal, dma_buf_mapping_iov, vfio-pci");

const vdev = vfioPciProbe(kernel, topo.exporterSlot);
const vmm = kernel.fork({ comm: "vmm" });
const dev = vmm.sys.open(vdev.cdevPath, O_RDWR);
assert.ok(dev >= 0, `open ${vdev.cdevPath}: ${dev}`);
const bytes = Uint8Array.from({ length: 0x2000 }, (_, i) => (i * 7) & 0xff);
assert.equal(vmm.sys.pwrite(dev, bytes, vfioPciIndexToOffset(0) + 0x10000n), bytes.length);
const fd = vmm.sys.ioctl(dev, VFIO_DEVICE_FEATURE, vfioDeviceFeature(VFIO_DEVICE_FEATURE_GET | VFIO_DEVICE_FEATURE_DMA_BUF, vfioDeviceFeatureDmaBuf({ regionIndex: 0, openFlags: O_RDWR | O_CLOEXEC, ranges: [{ offset: 0x10000n, length: 0x2000n }] })));
assert.ok(fd >= 0, `VFIO_DEVICE_FEATURE_DMA_BUF: ${fd}`);
step(`exported BAR0 [0x10000, 0x12000) as dma-buf fd ${fd}`);

const dmabuf = kernel.runAs(vmm, () => dmaBufGet(kernel, fd));
const imp = new CompatDynamicImporter(topo.importerSlot, dmabuf);
assert.equal(imp.attachment.mapType.type.shortName, "SGT");
assert.deepEqual(sgtDmaRead(topo.importerSlot, imp.ensureMapped(), 0n, bytes.length), bytes);
step("attached a dynamic SGT importer (SGT_P2P, BUS_ADDR): its DMA reads the BAR's bytes");

assert.equal(vfioWriteCommand(vmm, dev, false), 2);
assert.equal(imp.sgt, null);
assert.equal(imp.invalidations, 1);
assert.throws(() => imp.map(), (e) => e.errno === "ENODEV");
step("PCI_COMMAND memory disable: importer invalidated, maps fail with ENODEV");

imp.detach();
dmaBufPut(dmabuf);
kernel.exitTask(vmm, 0);
kernel.clock.flush();
assert.ok(kernel.leakReport().empty, kernel.leakReport().text());
assert.deepEqual(kernel.lockdep.reports(), []);
step("leak report empty, lockdep clean");
console.log("  consumer: @dmabuf-sdk/driver-vfio-pci OK");
