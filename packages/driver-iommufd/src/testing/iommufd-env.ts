// Test kit of iommufd: a VMM process with /dev/iommu open, the importer slot bound and attached to an IOAS, IOPTE count, teardown checks.
import { Kernel, buildTopology, topologyKernelOptions, type Task, type Topology, type TopologyName, type TopologyOptions } from "@dmabuf-sdk/dmabuf-core";
import { checkClean } from "@dmabuf-sdk/dmabuf-core/testing";
import { iommufdModule, iommufdOpenSession, type IommufdSession } from "../index.js";

/** @public */
export interface IommufdEnv {
  readonly k: Kernel;
  readonly t: Topology;
  readonly user: Task;
  /** The importer slot bound to an iommufd and attached to an IOAS. */
  readonly s: IommufdSession;
}

/** A kernel on topology `name` with iommufd loaded, and a VMM process whose iommufd has the importer slot attached to an IOAS. @public */
export function boot(name: TopologyName = "same-switch", topo?: TopologyOptions): IommufdEnv {
  const k = new Kernel(topologyKernelOptions(name));
  const t = buildTopology(k, name, topo);
  k.modprobe(iommufdModule);
  const user = k.fork({ comm: "vmm" });
  const s = iommufdOpenSession(k, user, t.importerSlot);
  return { k, t, user, s };
}

/** IOPTEs present in the importer slot's current domain. @public */
export function ioptes(t: Topology): number {
  return t.importerSlot.iommuGroup!.domain.pgtable?.ptes ?? 0;
}

/** Closes the session, exits the VMM and checks the machine is clean (no leak, lockdep report or oops). @public */
export function teardown(e: IommufdEnv): void {
  e.s.close();
  e.k.exitTask(e.user, 0);
  e.k.clock.flush();
  checkClean(e.k);
}
