// drivers/dma-buf/dma-buf-mapping.c: mapping types and dma_buf_match_mapping(), the exporter/importer negotiation.
import { KernelLocal } from "../kernel/kernel-local.js";
import { KernelError, isKernelError } from "../kernel/kernel-error.js";
import type { Kernel } from "../kernel/kernel.js";
import type { DmaBuf, DmaBufAttachment } from "./dma-buf.js";

/**
 * `struct dma_buf_mapping_exp_ops`: an empty tag. Each mapping type defines
 * its own exporter-ops interface extending it (the C "first member" idiom),
 * and recovers it from `attach.mapType.expOps`.
 * @public
 */
export interface DmaBufMappingExpOps {
  /** Present only to give the tag a shape; never set. @internal */
  readonly __dmaBufMappingExpOps?: never;
}

/**
 * `struct dma_buf_mapping_match`: one candidate in an exporter's or importer's
 * list, and the negotiated result stored in `attach.mapType`. `data` is the
 * type's member of the C union (SGT's `sgt_data`; PAL has none).
 * @public
 */
export interface DmaBufMappingMatch<D = unknown> {
  readonly type: DmaBufMappingType<D>;
  /** Set by exporter entries (`DMA_BUF_EMAPPING_*`), absent in importer entries. */
  readonly expOps?: DmaBufMappingExpOps;
  readonly data?: D;
}

/** `struct dma_buf_match_args`: what flows from attach through the exporter to the matcher. @public */
export interface DmaBufMatchArgs {
  readonly dmabuf: DmaBuf;
  /** The attachment being built; null when `dmaBufMatchMapping` is called directly. */
  readonly attach: DmaBufAttachment | null;
  /** The importer's list, in the importer's order. */
  readonly impMatches: readonly DmaBufMappingMatch[];
}

/**
 * `struct dma_buf_mapping_type`: one singleton per type; identity is object
 * identity, never the name. Core never looks inside a type.
 * @public
 */
export interface DmaBufMappingType<D = unknown> {
  /** Human-readable name, printed in bufinfo (`'DMA Mapped Scatter Gather Table'`). */
  readonly name: string;
  /** Short name for reports and matrices (`'SGT'`, `'PAL'`); reports fall back to `name`. Not a kernel field. */
  readonly shortName?: string;
  /**
   * `match`: called by {@link dmaBufMatchMapping} for an exporter and an
   * importer entry of this type, without the resv lock; `exp`/`imp` are the
   * two entries and `dmabuf` is `args.dmabuf` (the attachment is not set up).
   * Returns true when compatible, false to keep searching (the kernel's
   * `-EOPNOTSUPP`, which may also be thrown). Throwing any other
   * `KernelError` aborts the whole match with it. Optional: without it, any
   * two entries of the type match.
   */
  match?(dmabuf: DmaBuf, exp: DmaBufMappingMatch<D>, imp: DmaBufMappingMatch<D>): boolean;
  /**
   * `finish_match`: called exactly once, on the winning pair, without locks.
   * Stores the negotiated result in `args.attach.mapType` (when `attach` is
   * set). Cannot fail.
   */
  finishMatch(args: DmaBufMatchArgs, exp: DmaBufMappingMatch<D>, imp: DmaBufMappingMatch<D>): void;
  /** `debugfs_dump`: text after `name:` on the attachment's bufinfo line. */
  debugfsDump?(attach: DmaBufAttachment): string;
}

/** What the match loop made of one (exporter entry, importer entry) pair. @public */
export type DmaBufMatchVerdict = "matched" | "type-mismatch" | "refused" | "aborted";

/** One pair `dma_buf_match_mapping()` looked at, in loop order. @public */
export interface DmaBufMatchTry {
  /** Index into {@link DmaBufMatchTrace.exporter}. */
  readonly exp: number;
  /** Index into {@link DmaBufMatchTrace.importer}. */
  readonly imp: number;
  readonly verdict: DmaBufMatchVerdict;
  /** The errno a refusing or aborting `match` threw (`EOPNOTSUPP`, …). */
  readonly errno?: string;
  /** Kernel log lines the type's `match` printed for this pair (`pci_p2pdma_distance()` says why it refused). */
  readonly log: readonly string[];
}

/** One call of `dma_buf_match_mapping()`: both lists and every pair it tried. @public */
export interface DmaBufMatchTrace {
  readonly dmabuf: DmaBuf;
  /** The exporter's entries, in priority order. */
  readonly exporter: readonly DmaBufMappingMatch[];
  /** The importer's entries, in its order. */
  readonly importer: readonly DmaBufMappingMatch[];
  readonly tries: readonly DmaBufMatchTry[];
}

/** A probe of the `dma_buf_match_mapping` tracepoint. @public */
export type DmaBufMatchProbe = (trace: DmaBufMatchTrace) => void;

const matchProbes = new KernelLocal<Set<DmaBufMatchProbe>>("matchProbes");

/**
 * `register_trace_dma_buf_match_mapping()`: calls `probe` after each match
 * on `kernel` with what the loop tried. Returns the unregister function.
 * Without a probe the loop records nothing.
 * @public
 */
export function registerTraceDmaBufMatchMapping(kernel: Kernel, probe: DmaBufMatchProbe): () => void {
  let set = matchProbes.get(kernel);
  if (!set) matchProbes.set(kernel, (set = new Set()));
  set.add(probe);
  return () => void set.delete(probe);
}

/**
 * `dma_buf_match_mapping()`: exporter entries in priority order; for each,
 * importer entries in order; the first same-type pair whose `match` accepts
 * (or that has no `match`) wins and `finishMatch` runs once.
 * @throws KernelError `EINVAL` when nothing matches (empty lists included);
 * whatever a `match` callback aborted with.
 * @public
 */
export function dmaBufMatchMapping(args: DmaBufMatchArgs, exp: readonly DmaBufMappingMatch[]): void {
  const kernel = args.dmabuf.kernel;
  const probes = matchProbes.get(kernel);
  const tries: DmaBufMatchTry[] | null = probes?.size ? [] : null;
  const logFrom = (): number => kernel.printk.records().length;
  const logSince = (n: number): string[] => kernel.printk.records().slice(n).map((r) => r.text);
  try {
    for (const [ei, e] of exp.entries()) {
      for (const [ii, i] of args.impMatches.entries()) {
        if (e.type !== i.type) {
          tries?.push({ exp: ei, imp: ii, verdict: "type-mismatch", log: [] });
          continue;
        }
        const match = e.type.match;
        if (match) {
          let r: unknown;
          const mark = tries ? logFrom() : 0;
          try {
            r = match.call(e.type, args.dmabuf, e, i);
          } catch (err) {
            const errno = err instanceof KernelError ? err.errno : undefined;
            if (isKernelError(err, "EOPNOTSUPP")) {
              tries?.push({ exp: ei, imp: ii, verdict: "refused", errno, log: logSince(mark) });
              continue;
            }
            tries?.push({ exp: ei, imp: ii, verdict: "aborted", ...(errno ? { errno } : {}), log: logSince(mark) });
            throw err;
          }
          if (r === false) {
            tries?.push({ exp: ei, imp: ii, verdict: "refused", log: tries ? logSince(mark) : [] });
            continue;
          }
          if (r !== true) {
            tries?.push({ exp: ei, imp: ii, verdict: "aborted", errno: "EINVAL", log: tries ? logSince(mark) : [] });
            // A C habit (`return 0`, amdgpu's `return 1`) is a contract violation, not an answer.
            args.dmabuf.kernel.warn(`${e.type.name}: match returned ${String(r)}, expected true/false`);
            throw new KernelError("EINVAL", "dma_buf_match_mapping", `${e.type.name} match returned ${String(r)}`);
          }
        }
        tries?.push({ exp: ei, imp: ii, verdict: "matched", log: [] });
        e.type.finishMatch(args, e, i);
        return;
      }
    }
    throw new KernelError("EINVAL", "dma_buf_match_mapping", "no compatible mapping type");
  } finally {
    if (tries) for (const p of probes!) p({ dmabuf: args.dmabuf, exporter: exp, importer: args.impMatches, tries });
  }
}
