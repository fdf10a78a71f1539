// Boot helper for io_uring tests: a topology, the io_uring and SGT modules, a user task and a mock block device on the importer slot.
import { Kernel, O_RDWR, buildTopology, topologyKernelOptions, type KernelOptions, type Task, type Topology, type TopologyName, O_DIRECT } from "@dmabuf-sdk/dmabuf-core";
import { dmaBufSgtModule } from "@dmabuf-sdk/map-sgt";
import { ioUringModule } from "../module.js";

import { mockBlkdev, type MockBlkdev } from "./mock-blkdev.js";

/** @public */
export interface IoUringMachine {
  readonly kernel: Kernel;
  readonly topology: Topology;
  readonly task: Task;
  readonly blk: MockBlkdev;
  /** Opens the mock block device in `task` (O_RDWR | O_DIRECT unless told). */
  openBlk(flags?: number): number;
}

/** Boots `name` (default `cross-root`) with a 1 MiB mock block device `/dev/mockblk0` on the importer slot. @public */
export function ioUringMachine(name: TopologyName = "cross-root", kopts: Partial<KernelOptions> = {}): IoUringMachine {
  const kernel = new Kernel({ ...topologyKernelOptions(name), ...kopts });
  const topology = buildTopology(kernel, name);
  kernel.modprobe(dmaBufSgtModule);
  kernel.modprobe(ioUringModule);
  const task = kernel.fork({ comm: "fio" });
  const blk = mockBlkdev(kernel, topology.importerSlot, "mockblk0", 1 << 20);
  return {
    kernel,
    topology,
    task,
    blk,
    openBlk: (flags = O_RDWR | O_DIRECT) => task.sys.open(blk.path, flags),
  };
}
