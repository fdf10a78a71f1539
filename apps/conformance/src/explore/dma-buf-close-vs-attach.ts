// Race: one thread closes a dma-buf fd (the last fput runs dma_buf_release) while another takes it by fd (dma_buf_get) and attaches and maps.
import { Kernel, O_CLOEXEC, buildTopology, dmaBufFd, dmaBufGet, dmaBufPut, topologyKernelOptions, type DmaBuf, type ExploreScenario } from "@dmabuf-sdk/dmabuf-core";
import { CompatStaticImporter, compatExporterAlloc, compatExporterModule } from "@dmabuf-sdk/map-sgt";

/**
 * Two threads of one process share the fd table; the fd is the buffer's
 * only reference. `dma_buf_get()` takes its own file reference (`fget()`),
 * so either it runs first and the buffer lives until its `dma_buf_put()`
 * (attach, map, unmap and detach all succeed) or the close ran first and it
 * fails with `EBADF`; the release runs exactly once, after the last
 * reference, and nothing is left behind.
 * @public
 */
export function dmaBufCloseVsAttach(): ExploreScenario {
  return {
    name: "dma-buf-close-vs-attach",
    boot: () => new Kernel(topologyKernelOptions("same-switch")),
    build(k) {
      const topology = buildTopology(k, "same-switch");
      const owner = k.modprobe(compatExporterModule);
      const app = k.fork({ comm: "app" });
      const fd = k.runAs(app, () => dmaBufFd(compatExporterAlloc(k, owner, 0x4000n), O_CLOEXEC));
      let dmabuf: DmaBuf | undefined;
      let imp: CompatStaticImporter | undefined;
      const mapped: boolean[] = [];
      return {
        tasks: [
          { name: "app/closer", task: app, steps: [{ label: `close(${fd}): last fput, dma_buf_release`, run: () => app.sys.close(fd) }] },
          {
            name: "app/importer",
            task: app,
            steps: [
              { label: `dma_buf_get(${fd})`, run: () => void (dmabuf = dmaBufGet(k, fd)) },
              {
                label: "dma_buf_attach + map",
                run: () => {
                  if (!dmabuf) return;
                  imp = new CompatStaticImporter(topology.importerSlot, dmabuf);
                  imp.map();
                  mapped.push(imp.sgt !== null);
                },
              },
              { label: "unmap + detach", run: () => imp?.detach() },
              { label: "dma_buf_put", run: () => dmabuf && dmaBufPut(dmabuf) },
            ],
          },
        ],
        finish() {
          k.exitTask(app, 0);
        },
        check: (outcomes) => [
          ...outcomes.filter((o) => o.errno !== undefined && o.errno !== "EBADF").map((o) => `${o.task}: ${o.step} failed with ${o.errno} (only EBADF is allowed)`),
          ...outcomes.filter((o) => o.task === "app/closer" && o.value !== 0).map((o) => `close returned ${String(o.value)}`),
          ...(dmabuf && mapped.join() !== "true" ? ["dma_buf_get succeeded but the attach and map did not"] : []),
        ],
      };
    },
  };
}
