// The shipped race scenarios of `dmabuf-conformance explore`: each race in its pre-fix form (the explorer must find it) and its fixed form (clean).
import type { ExploreOptions, ExploreScenario, TopologyName } from "@dmabuf-sdk/dmabuf-core";
import { dmaBufCloseVsAttach } from "./dma-buf-close-vs-attach.js";
import { drmSchedKillVsIrq } from "./drm-sched-kill.js";
import { vfioCloseVsAttach } from "./vfio-match-window.js";
import { vfioRevokeVsClose } from "./vfio-revoke-vs-close.js";
import { vfioRevokeVsUnmap } from "./vfio-revoke-vs-unmap.js";
import { vfioUnplugVsDma } from "./vfio-unplug-vs-dma.js";
import { xeUnplugVsDma } from "./xe-unplug-vs-dma.js";

/** One shipped race scenario. @public */
export interface RaceScenario {
  /** `<race>/<form>`, the name `explore` takes. */
  readonly id: string;
  readonly summary: string;
  /** `pre-fix`: the explorer must find `expect`; `fixed`: every schedule within the bound is clean. */
  readonly form: "pre-fix" | "fixed";
  /** The fix: a kernel commit, or the review message that made it. */
  readonly fix: string;
  /** Signature the pre-fix form must show; null for a fixed form. */
  readonly expect: string | null;
  /** The topology its kernel is booted as. */
  readonly topology: TopologyName;
  /** Exploration bounds of `pnpm test` and of the command's default run. */
  readonly options: ExploreOptions;
  scenario(): ExploreScenario;
}

const DFS2: ExploreOptions = { strategy: "dfs", preemptionBound: 2, maxSchedules: 5000 };
const MATCH_FIX = "vfio_pci_dma_buf_match_mapping fix after Baolu Lu's review (Jason Gunthorpe, <20260413130147.GG2588311@nvidia.com>)";
const WAIT_FIX = "1a8a5227f229 vfio: Wait for dma-buf invalidation to complete (Leon Romanovsky's dma-buf revoke series)";
const OUTLIVED = "assertion: a mapping outlived the revoke: the importer's in-flight DMA faulted (unsupported-request)";
const KREF_FIX = "vfio/pci: fix dma-buf kref underflow after revoke (Alex Williamson, 2026-05-07, Fixes 1a8a5227f229)";
const KILL_FIX = "487df8b69834 drm/sched: Fix deadlock in drm_sched_entity_kill_jobs_cb (Fixes 2fdb8a8f07c2)";

/** Every shipped race, by id. @public */
export const RACE_SCENARIOS: readonly RaceScenario[] = [
  {
    id: "vfio-close-vs-attach/v1",
    summary: "VMM closes its vfio device (cleanup NULLs priv->vdev) while an importer attaches: v1 match_mapping checks vdev, then dereferences it unlocked",
    form: "pre-fix",
    fix: MATCH_FIX,
    expect: "oops: BUG: kernel NULL pointer dereference in vfio_pci_dma_buf_match_mapping",
    topology: "same-switch",
    options: DFS2,
    scenario: () => vfioCloseVsAttach("v1"),
  },
  {
    id: "vfio-close-vs-attach/post-2026-04-13",
    summary: "the same race with the fixed match_mapping (own pdev reference, no vdev check): attach or map fail with ENODEV at worst",
    form: "fixed",
    fix: MATCH_FIX,
    expect: null,
    topology: "same-switch",
    options: DFS2,
    scenario: () => vfioCloseVsAttach("post-2026-04-13"),
  },
  {
    id: "vfio-revoke-vs-unmap/pre-1a8a5227f229",
    summary: "vfio-pci revokes (PCI_COMMAND memory off) and restores while an importer whose invalidation defers its unmap to a kworker maps, posts DMA and unmaps: the v6.19 revoke only notifies, so the transfer hits the disabled BAR",
    form: "pre-fix",
    fix: WAIT_FIX,
    expect: OUTLIVED,
    topology: "same-switch",
    options: DFS2,
    scenario: () => vfioRevokeVsUnmap("pre-1a8a5227f229"),
  },
  {
    id: "vfio-revoke-vs-unmap",
    summary: "the same race with the current revoke (vfio_pci_dma_buf_set_status): invalidate under resv, wait for the fences and for every mapping to come back, then the memory decode goes off",
    form: "fixed",
    fix: WAIT_FIX,
    expect: null,
    topology: "same-switch",
    options: DFS2,
    scenario: () => vfioRevokeVsUnmap(),
  },
  {
    id: "vfio-unplug-vs-dma/pre-1a8a5227f229",
    summary: "the vfio-pci device is hot-unplugged while the importer's DMA into its BAR is in flight: the v6.19 cleanup only notifies, so the transfer reaches a removed function",
    form: "pre-fix",
    fix: WAIT_FIX,
    expect: OUTLIVED,
    topology: "same-switch",
    options: DFS2,
    scenario: () => vfioUnplugVsDma("pre-1a8a5227f229"),
  },
  {
    id: "vfio-unplug-vs-dma/post-1a8a5227f229",
    summary: "the same unplug with the current cleanup (revoke through move(true), which drains): the transfer completes before the function goes; later maps fail with ENODEV",
    form: "fixed",
    fix: WAIT_FIX,
    expect: null,
    topology: "same-switch",
    options: DFS2,
    scenario: () => vfioUnplugVsDma("post-2026-05-07"),
  },
  {
    id: "xe-unplug-vs-dma",
    summary: "an Xe GPU is hot-unplugged while a peer's DMA into a VRAM buffer it exported is in flight (fenced in the resv, completed by an IRQ) and the importer maps and reads: removal waits for the fence, then moves the BO to system memory and invalidates; the bytes survive",
    form: "fixed",
    fix: "xe_device_remove(): drm_dev_unplug(), then xe_bo_pci_dev_remove_all() waits for every fence of an exported BO before migrating it (drivers/gpu/drm/xe/xe_bo_evict.c)",
    expect: null,
    topology: "same-switch",
    options: DFS2,
    scenario: xeUnplugVsDma,
  },
  {
    id: "vfio-revoke-vs-close/1a8a5227f229",
    summary: "one VMM thread clears PCI_COMMAND.MEMORY, another closes the device fd, an importer maps: cleanup drains the revoked buffer again (kref_put on 0, then a wait for a completion already consumed)",
    form: "pre-fix",
    fix: KREF_FIX,
    expect: "WARN: refcount_t: underflow; use-after-free.",
    topology: "same-switch",
    options: DFS2,
    scenario: () => vfioRevokeVsClose("1a8a5227f229"),
  },
  {
    id: "vfio-revoke-vs-close/post-2026-05-07",
    summary: "the same race after the fix: the revoke re-arms the kref and completion, cleanup revokes through move(true), which skips revoked buffers",
    form: "fixed",
    fix: KREF_FIX,
    expect: null,
    topology: "same-switch",
    options: DFS2,
    scenario: () => vfioRevokeVsClose("post-2026-05-07"),
  },
  {
    id: "dma-buf-close-vs-attach",
    summary: "one thread closes a dma-buf fd (its only reference: the last fput releases the buffer) while another thread dma_buf_get()s it and attaches, maps, unmaps, detaches and puts it: success or EBADF, one release",
    form: "fixed",
    fix: "dma_buf_get() takes its own file reference through fget() (fs/file.c), so a release cannot run under an attach",
    expect: null,
    topology: "same-switch",
    options: DFS2,
    scenario: dmaBufCloseVsAttach,
  },
  {
    id: "drm-sched-kill-vs-irq/pre-487df8b",
    summary: "producer fences signalled from hard IRQ against SIGKILL of a drm_sched entity: kill_jobs_cb walks job->dependencies under &fence->lock",
    form: "pre-fix",
    fix: KILL_FIX,
    expect: "lockdep: WARNING: HARDIRQ-safe -> HARDIRQ-unsafe lock order detected",
    topology: "same-switch",
    options: DFS2,
    scenario: () => drmSchedKillVsIrq("pre-487df8b"),
  },
  {
    id: "drm-sched-kill-vs-irq/post-487df8b",
    summary: "the same race after the fix: the callback only queues kill_jobs_work",
    form: "fixed",
    fix: KILL_FIX,
    expect: null,
    topology: "same-switch",
    options: DFS2,
    scenario: () => drmSchedKillVsIrq("post-487df8b"),
  },
];

/** The shipped race called `id`, if any. @public */
export function raceScenario(id: string): RaceScenario | undefined {
  return RACE_SCENARIOS.find((r) => r.id === id);
}
