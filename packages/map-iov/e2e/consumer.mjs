// Post-install check of @dmabuf-sdk/map-iov, run by scripts/publish-e2e.mjs in an empty
// directory after `npm install @dmabuf-sdk/map-iov@<version>` alone (core comes as a peer).
// On the sriov machine a VF's exporter offering IOV meets its own PF's importer: IOV is
// negotiated and the PF gets the BAR ranges as a typed list; another device falls through.
import assert from "node:assert/strict";
import { realpathSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { GENERIC_SRIOV_PF, Kernel, O_RDWR, buildTopology, dmaBufDetach, dmaBufExport, dmaBufMappingAttach, dmaBufMatchMapping, dmaBufPut, dmaResvLock, dmaResvUnlock, topologyKernelOptions } from "@dmabuf-sdk/dmabuf-core";
import { dmaBufEmappingIov, dmaBufImappingIov, dmaBufIovAllocRanges, dmaBufIovFreeRanges, dmaBufIovMapRanges, dmaBufIovModule, dmaBufIovUnmapRanges, dmaBufMappingIovType } from "@dmabuf-sdk/map-iov";

const step = (s) => console.log(`  consumer: ${s}`);
const entry = realpathSync(fileURLToPath(import.meta.resolve("@dmabuf-sdk/map-iov")));
assert.ok(entry.startsWith(realpathSync(process.cwd())), `@dmabuf-sdk/map-iov resolved outside the consumer: ${entry}`);
step(`imported ${entry.slice(realpathSync(process.cwd()).length + 1)}`);

const kernel = new Kernel(topologyKernelOptions("sriov"));
const { sriov } = buildTopology(kernel, "sriov");
const [vf1, vf2] = sriov.vfs;
kernel.loadModule(dmaBufIovModule);
step("insmod dma_buf_mapping_iov");

const bar = vf1.bars[GENERIC_SRIOV_PF.memBar];
const phys = [{ paddr: bar.start + 0x10000n, len: 0x2000n }, { paddr: bar.start, len: 0x1000n }];
const ops = {
  mapRanges: (attach) => dmaBufIovAllocRanges(attach.kernel, GENERIC_SRIOV_PF.memBar, phys),
  unmapRanges: (attach, ranges) => dmaBufIovFreeRanges(attach.kernel, ranges),
};
const dmabuf = dmaBufExport(kernel, {
  owner: kernel.modules.vmlinux,
  ops: { release() {}, matchMapping: (args) => dmaBufMatchMapping(args, [dmaBufEmappingIov(ops, vf1, GENERIC_SRIOV_PF.memBar)]) },
  size: 0x3000n,
  flags: O_RDWR,
  priv: {},
});
const importer = { allowPeer2peer: true, invalidateMappings() {} };

const attach = dmaBufMappingAttach(dmabuf, [dmaBufImappingIov(sriov.pf, GENERIC_SRIOV_PF.memBar)], importer);
assert.equal(attach.mapType.type, dmaBufMappingIovType);
dmaResvLock(dmabuf.resv);
const r = dmaBufIovMapRanges(attach);
assert.deepEqual([r.barNumber, r.nranges, r.ranges], [GENERIC_SRIOV_PF.memBar, 2, [{ start: bar.start + 0x10000n, end: bar.start + 0x11fffn }, { start: bar.start, end: bar.start + 0xfffn }]]);
dmaBufIovUnmapRanges(attach, r);
dmaResvUnlock(dmabuf.resv);
dmaBufDetach(dmabuf, attach);
step("VF1's buffer × its PF's [IOV(pf, LMEM_BAR)]: IOV negotiated, the ranges come back typed with inclusive ends");

for (const [who, dev] of [["VF2", vf2], ["VF1 itself", vf1]]) {
  assert.throws(() => dmaBufMappingAttach(dmabuf, [dmaBufImappingIov(dev, GENERIC_SRIOV_PF.memBar)], importer), (e) => e.errno === "EINVAL");
}
step("an importer that is not VF1's PF: no IOV match, EINVAL (nothing else offered)");

dmaBufPut(dmabuf);
assert.equal(kernel.leakReport().text(), "");
step("released: the leak report is empty");
