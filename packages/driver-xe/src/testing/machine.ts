// Test kit of xe: machines with the xe module loaded (the sriov one with its PF in PF mode), byte patterns, teardown.
import { Kernel, buildTopology, topologyKernelOptions, type PciDev, type Topology, type TopologyName, type TopologyOptions } from "@dmabuf-sdk/dmabuf-core";
import { XE_SRIOV_PF, xeDeviceOf, xeDeviceProbe, xeModule, type XeDevice, type XeProbeOptions } from "../index.js";

/** @public */
export interface Machine {
  readonly k: Kernel;
  readonly t: Topology;
}

/** A kernel on topology `name` (its `sriov` PF an Xe device) with the xe module (and what it requires) loaded. @public */
export function boot(name: TopologyName, opts: TopologyOptions = {}): Machine {
  const k = new Kernel(topologyKernelOptions(name));
  const t = buildTopology(k, name, { sriovPf: XE_SRIOV_PF, ...opts });
  k.modprobe(xeModule);
  return { k, t };
}

/** The Xe device on `pdev`, probing it if needed. @public */
export function xeOn(pdev: PciDev, opts?: XeProbeOptions): XeDevice {
  return xeDeviceOf(pdev) ?? xeDeviceProbe(pdev, opts);
}

/** The `sriov` machine: the PF probed in PF mode (VF1 and VF2 with 1 GiB LMEM each). @public */
export function bootSriov(opts: TopologyOptions = {}) {
  const m = boot("sriov", opts);
  const pf = m.t.sriov!.pf;
  const vfs = m.t.sriov!.vfs;
  return { ...m, pf, vfs, xe: xeDeviceOf(pf)! };
}

/** Bytes that differ per offset and seed. @public */
export function bytes(n: number, seed = 1): Uint8Array {
  return Uint8Array.from({ length: n }, (_, i) => (i * 31 + seed * 7 + (i >> 12)) & 0xff);
}

/** Unloads xe (and what it required) and returns the leak report text: everything must be gone. @public */
export function teardown(k: Kernel): string {
  k.unloadModule("xe");
  return k.leakReport().text();
}
