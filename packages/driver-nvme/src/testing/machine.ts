// Boot helper for NVMe tests: a topology, the nvme module, a controller on the importer slot, and a user task.
import { Kernel, buildTopology, topologyKernelOptions, type KernelOptions, type Task, type Topology, type TopologyName, O_DIRECT } from "@dmabuf-sdk/dmabuf-core";

import { nvmeHwAttach, nvmeModule, nvmeProbe } from "../module.js";
import type { NvmeHwOptions } from "../nvme-hw.js";
import type { NvmeDev, NvmeDevOptions } from "../pci.js";

/** @public */
export interface NvmeMachineOptions {
  readonly topology?: TopologyName;
  readonly kernel?: Partial<KernelOptions>;
  readonly hw?: Partial<NvmeHwOptions>;
  readonly driver?: NvmeDevOptions;
}

/** @public */
export interface NvmeMachine {
  readonly kernel: Kernel;
  readonly topology: Topology;
  readonly task: Task;
  readonly dev: NvmeDev;
  /** Opens `/dev/nvme0n1` in the task (O_RDWR | O_DIRECT unless told). */
  open(flags?: number): number;
}

/** Boots a machine with one 16 MiB namespace on the importer slot's controller. @public */
export function nvmeMachine(opts: NvmeMachineOptions = {}): NvmeMachine {
  const name = opts.topology ?? "cross-root";
  const kernel = new Kernel({ ...topologyKernelOptions(name), ...opts.kernel });
  const topology = buildTopology(kernel, name);
  kernel.modprobe(nvmeModule);
  nvmeHwAttach(topology.importerSlot, { namespaces: [{ size: 16n << 20n }], ...opts.hw });
  const dev = nvmeProbe(kernel, topology.importerSlot, opts.driver);
  const task = kernel.fork({ comm: "fio" });
  return { kernel, topology, task, dev, open: (flags = 2 | O_DIRECT) => task.sys.open(`/dev/nvme${dev.instance}n1`, flags) };
}
