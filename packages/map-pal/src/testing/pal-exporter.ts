// Test kit of map-pal: a PAL exporter whose map_phys returns the list the test gives (possibly broken, to check an importer's validation).
import { O_RDWR, dmaBufExport, dmaBufFd, dmaBufMatchMapping, type DmaBuf, type Kernel, type Task } from "@dmabuf-sdk/dmabuf-core";
import { dmaBufEmappingPal, type DmaBufPhysList } from "../index.js";

/**
 * A PAL exporter of `size` bytes whose `map_phys` returns `list()`; the
 * buffer is installed as an fd of `user`, and `log` records the exporter
 * callbacks in order (`map_phys`, `unmap_phys`, `release`).
 * @public
 */
export function palExporter(k: Kernel, user: Task, size: bigint, list: () => DmaBufPhysList): { fd: number; dmabuf: DmaBuf; log: string[] } {
  const log: string[] = [];
  const d = dmaBufExport(k, {
    owner: k.modules.vmlinux,
    expName: "mock_pal",
    ops: {
      release: () => void log.push("release"),
      matchMapping: (args) =>
        dmaBufMatchMapping(args, [
          dmaBufEmappingPal({
            mapPhys: () => (log.push("map_phys"), list()),
            unmapPhys: () => void log.push("unmap_phys"),
          }),
        ]),
    },
    size,
    flags: O_RDWR,
    priv: {},
  });
  return { fd: k.runAs(user, () => dmaBufFd(d, O_RDWR)), dmabuf: d, log };
}
