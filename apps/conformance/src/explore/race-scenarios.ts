// The shipped race scenarios of `dmabuf-conformance explore`: each race in its pre-fix form (the explorer must find it) and its fixed form (clean).
import type { ExploreOptions, ExploreScenario, TopologyName } from "@dmabuf-sdk/dmabuf-core";
import { drmSchedKillVsIrq } from "./drm-sched-kill.js";
import { vfioCloseVsAttach } from "./vfio-match-window.js";
import { vfioRevokeVsUnmap } from "./vfio-revoke-vs-unmap.js";

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
    id: "vfio-revoke-vs-unmap",
    summary: "vfio-pci revokes and restores (PCI_COMMAND memory) while a dynamic importer maps, unmaps, maps and detaches",
    form: "fixed",
    fix: "vfio_pci_dma_buf_set_status: invalidate under resv, wait fences, drain the mapping kref (Matt Evans v3, Leon Romanovsky's revoke series)",
    expect: null,
    topology: "same-switch",
    options: DFS2,
    scenario: vfioRevokeVsUnmap,
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
