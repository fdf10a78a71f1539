// Post-install check of @dmabuf-sdk/driver-xe, run by scripts/publish-e2e.mjs in
// an empty directory after `npm install @dmabuf-sdk/driver-xe@<version>` alone
// (npm brings core, map-sgt and map-iov as peers; this file is not in the
// tarball). It uses the installed packages as a user would: a kernel, the xe
// module loaded with modprobe (which loads the SGT and IOV types first), an Xe
// VRAM BO exported and attached by a second Xe GPU over P2P, and on the
// sriov topology a VF's buffer imported by its PF over IOV and read by DPA.
import assert from "node:assert/strict";
import { realpathSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { Kernel, O_RDWR, buildTopology, dmaBufExport, dmaBufMatchMapping, dmaBufPut, topologyKernelOptions } from "@dmabuf-sdk/dmabuf-core";
import { dmaBufEmappingIov, dmaBufIovAllocRanges, dmaBufIovFreeRanges, dmaBufMappingIovType } from "@dmabuf-sdk/map-iov";
import { dmaBufMappingSgtType } from "@dmabuf-sdk/map-sgt";
import {
  LMEM_BAR,
  XE_PL_TT,
  XE_SRIOV_PF,
  XE_PL_VRAM0,
  xeBoCreate,
  xeBoPut,
  xeBoValidateUnlocked,
  xeBoWrite,
  xeDeviceOf,
  xeDeviceProbe,
  xeGemPrimeExport,
  xeGemPrimeImport,
  xeGpuDmaRead,
  xeModule,
  xeVmBind,
  xeVmCreate,
  xeVmDestroy,
  xeVmRead,
} from "@dmabuf-sdk/driver-xe";

const step = (s) => console.log(`  consumer: ${s}`);
const cwd = realpathSync(process.cwd());
for (const name of ["@dmabuf-sdk/driver-xe", "@dmabuf-sdk/dmabuf-core", "@dmabuf-sdk/map-sgt", "@dmabuf-sdk/map-iov"]) {
  const entry = realpathSync(fileURLToPath(import.meta.resolve(name)));
  assert.ok(entry.startsWith(cwd), `${name} resolved outside the consumer: ${entry}`);
}
step("imported the installed driver-xe, dmabuf-core, map-sgt and map-iov");
const pattern = (n, seed) => Uint8Array.from({ length: n }, (_, i) => (i * 13 + seed) & 0xff);

// 1. Two Xe GPUs under one switch: a VRAM BO exported by one, attached and read by the other over P2P.
{
  const kernel = new Kernel(topologyKernelOptions("same-switch"));
  const topo = buildTopology(kernel, "same-switch");
  kernel.modprobe(xeModule);
  assert.deepEqual(kernel.modules.modules().map((m) => m.name), ["drm", "dma_buf_mapping_sgt", "dma_buf_mapping_iov", "xe"]);
  step("modprobe xe: dma_buf_mapping_sgt, dma_buf_mapping_iov, xe live");
  const exp = xeDeviceProbe(topo.exporterSlot);
  const imp = xeDeviceProbe(topo.importerSlot);
  const bo = xeBoCreate(exp, 0x10000n, { placements: [XE_PL_VRAM0, XE_PL_TT] });
  xeBoWrite(bo, 0n, pattern(0x10000, 1));
  const dmabuf = xeGemPrimeExport(bo, O_RDWR);
  xeBoPut(bo);
  const ibo = xeGemPrimeImport(imp, dmabuf);
  assert.equal(ibo.import.attach.mapType.type, dmaBufMappingSgtType);
  const vm = xeVmCreate(imp);
  xeVmBind(vm, ibo, 0x1_0000_0000n, 0n, ibo.size);
  assert.deepEqual(xeVmRead(vm, 0x1_0000_0000n, 0x10000), pattern(0x10000, 1));
  step(`xe ${exp.pdev.name} exported a VRAM BO; xe ${imp.pdev.name} attached (SGT, P2P) and its GPU read it`);
  xeVmDestroy(vm);
  xeBoPut(ibo);
  dmaBufPut(dmabuf);
  assert.ok(kernel.leakReport().empty, kernel.leakReport().text());
  kernel.unloadModule("xe");
  step("leak report empty; rmmod xe");
}

// 2. sriov: the PF binds in PF mode; a VF exports its LMEM over IOV; the PF's GPU reads it by DPA.
{
  const kernel = new Kernel(topologyKernelOptions("sriov"));
  // The sriov machine's PF is an Xe part only when the caller says so (core names no driver).
  const topo = buildTopology(kernel, "sriov", { sriovPf: XE_SRIOV_PF });
  kernel.modprobe(xeModule);
  const pf = xeDeviceOf(topo.sriov.pf);
  assert.equal(pf.sriovMode, "XE_SRIOV_MODE_PF");
  const vf = topo.sriov.vfs[0];
  const bar = vf.bars[LMEM_BAR];
  kernel.platform.physmem.write(bar.start, pattern(0x4000, 2));
  const ops = {
    mapRanges: (attach) => dmaBufIovAllocRanges(attach.kernel, LMEM_BAR, [{ paddr: bar.start, len: 0x4000n }]),
    unmapRanges: (attach, ranges) => dmaBufIovFreeRanges(attach.kernel, ranges),
  };
  const dmabuf = dmaBufExport(kernel, {
    owner: kernel.modules.vmlinux,
    expName: "e2e_vf",
    ops: { matchMapping: (args) => dmaBufMatchMapping(args, [dmaBufEmappingIov(ops, vf, LMEM_BAR)]), release() {} },
    size: 0x4000n,
    flags: O_RDWR,
    priv: {},
  });
  const ibo = xeGemPrimeImport(pf, dmabuf);
  assert.equal(ibo.import.attach.mapType.type, dmaBufMappingIovType);
  xeBoValidateUnlocked(ibo);
  const dpa = ibo.dmaData.dmaAddr[0].addr;
  assert.deepEqual(xeGpuDmaRead(pf, { dpa }, 0x4000), pattern(0x4000, 2));
  step(`VF ${vf.name} exported its LMEM; the PF negotiated IOV and read it at DPA 0x${dpa.toString(16)}`);
  xeBoPut(ibo);
  dmaBufPut(dmabuf);
  kernel.unloadModule("xe");
  assert.ok(kernel.leakReport().empty, kernel.leakReport().text());
  step("leak report empty after rmmod xe");
}
