// dmabuf->memcg (Albert Esteve's RFC patch 1/5): the memcg a dma-buf is charged to.
import { KernelWeakMap, PAGE_SIZE, pageAlign, type DmaBuf } from "@dmabuf-sdk/dmabuf-core";
import { memCgroupPut, memCgroupUnchargeDmabuf, type MemCgroup } from "./memcontrol.js";

const MEMCG = new KernelWeakMap<DmaBuf, MemCgroup>("MEMCG", (dmabuf) => dmabuf.kernel);

/**
 * `dmabuf->memcg` (patch 1/5): the memcg the buffer is charged to, or null.
 * Set once, at allocation; sharing the buffer never moves the charge.
 * @public
 */
export function dmaBufMemcg(dmabuf: DmaBuf): MemCgroup | null {
  return MEMCG.get(dmabuf) ?? null;
}

/**
 * Records a successful charge as `dmabuf->memcg = memcg` (the buffer takes
 * over the caller's css reference) and arranges for `dma_buf_release()` to
 * uncharge `PAGE_ALIGN(size) / PAGE_SIZE` pages and put the memcg before the
 * exporter's `release`: once, when the last reference goes away.
 * @public
 */
export function dmaBufSetMemcg(dmabuf: DmaBuf, memcg: MemCgroup): void {
  if (MEMCG.has(dmabuf)) {
    dmabuf.kernel.warn(`dma-buf ino ${dmabuf.ino} is already charged to ${MEMCG.get(dmabuf)!.cgroup.path}`);
    return;
  }
  MEMCG.set(dmabuf, memcg);
  dmabuf.onRelease(() => {
    MEMCG.delete(dmabuf);
    memCgroupUnchargeDmabuf(memcg, Number(pageAlign(dmabuf.size) / BigInt(PAGE_SIZE)));
    memCgroupPut(memcg);
  });
}
