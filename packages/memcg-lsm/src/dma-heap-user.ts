// The user side of /dev/dma_heap: open a heap and allocate a dma-buf fd, as libdmabufheap does.
import { O_CLOEXEC, O_RDONLY, O_RDWR, type Task } from "@dmabuf-sdk/dmabuf-core";
import { DMA_HEAP_ALLOCATION_DATA_SIZE, DmaHeapAllocationData } from "./dma-heap-uapi.js";

/** Options of {@link dmaHeapAllocFd}. @public */
export interface DmaHeapAllocOptions {
  /** `fd_flags` (default `O_RDWR | O_CLOEXEC`). */
  readonly fdFlags?: number;
  /** `heap_flags` (default 0). */
  readonly heapFlags?: bigint;
  /** `charge_pid_fd`: a pidfd in `task`'s fd table (default 0: not set). */
  readonly chargePidFd?: number;
  /** Size of the struct the caller was built with (default 32; 24 for an older user space). */
  readonly structSize?: number;
}

/**
 * What a user-space allocator does, as `task`: open `/dev/dma_heap/<heap>`,
 * `DMA_HEAP_IOCTL_ALLOC`, close the heap. Returns the new dma-buf fd, or the
 * negative errno of the failing step (as the selftests' `dmabuf_heap_alloc()`).
 * @public
 */
export function dmaHeapAllocFd(task: Task, heap: string, len: bigint, opts: DmaHeapAllocOptions = {}): number {
  const heapFd = task.sys.open(`/dev/dma_heap/${heap}`, O_RDONLY | O_CLOEXEC);
  if (heapFd < 0) return heapFd;
  try {
    const data = DmaHeapAllocationData.from(
      { len, fdFlags: opts.fdFlags ?? O_RDWR | O_CLOEXEC, heapFlags: opts.heapFlags ?? 0n, chargePidFd: opts.chargePidFd ?? 0 },
      opts.structSize ?? DMA_HEAP_ALLOCATION_DATA_SIZE,
    );
    const r = task.sys.ioctl(heapFd, data.ioctl, data.bytes);
    return r < 0 ? r : data.fd;
  } finally {
    task.sys.close(heapFd);
  }
}
