// Boots a machine with a KVM build and map-pal's test MMIO exporter on the exporter slot's BAR, as the kvm tests use it.
import { Kernel, buildTopology, topologyKernelOptions, type DmaBuf, type KernelModule, type LoadedModule, type PciBar, type Task, type Topology } from "@dmabuf-sdk/dmabuf-core";
import { dmaBufPalModuleBuild } from "@dmabuf-sdk/map-pal";
import { palMmioExport, type PalMmioBuffer } from "@dmabuf-sdk/map-pal/testing";
import type { KvmPfnVersion } from "../kvm-version.js";
import { kvmModuleBuild } from "../module.js";
import { kvmTestVfioModule } from "./vfio-stand-in.js";

/** A booted kernel with KVM loaded. @public */
export interface KvmTestMachine {
  readonly kernel: Kernel;
  readonly topology: Topology;
  /** The VMM process. */
  readonly task: Task;
  /** The exporter's module (owner of test buffers). */
  readonly exporter: LoadedModule;
  /** The largest memory BAR of the exporter slot. */
  readonly bar: PciBar;
  /** Exports `size` bytes of the BAR at `offset` with map-pal's test exporter. */
  exportMmio(size: bigint, opts?: { offset?: bigint; private?: boolean }): DmaBuf<PalMmioBuffer>;
}

/**
 * Boots `same-switch`, loads (when `pal` is given) the PAL module built for
 * that importer list, the vfio stand-in (unless `vfio: false`) and the KVM
 * build of `version`; the leak baseline is set after boot.
 * @public
 */
export function kvmTestBoot(version: KvmPfnVersion, opts: { pal?: string; vfio?: boolean; seed?: number } = {}): KvmTestMachine {
  const kernel = new Kernel({ ...topologyKernelOptions("same-switch"), seed: opts.seed ?? 1 });
  const topology = buildTopology(kernel, "same-switch");
  if (opts.pal) kernel.modprobe(dmaBufPalModuleBuild(opts.pal));
  if (opts.vfio !== false) kernel.modprobe(kvmTestVfioModule);
  kernel.modprobe(kvmModuleBuild(version));
  const owner: KernelModule = { name: "pal_mmio_test", license: "GPL" };
  const exporter = kernel.modprobe(owner);
  const task = kernel.fork({ comm: "vmm" });
  const bar = topology.exporterSlot.bars.filter((b): b is PciBar => !!b && b.type === "mem").sort((a, b) => (a.size < b.size ? 1 : -1))[0]!;
  kernel.leaks.setBaseline();
  return {
    kernel,
    topology,
    task,
    exporter,
    bar,
    exportMmio: (size, o = {}) => palMmioExport(kernel, exporter, bar, o.offset ?? 0n, size, { private: o.private }),
  };
}
