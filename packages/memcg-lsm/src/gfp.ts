// include/linux/gfp_types.h: the gfp_t flags the memcg charge path looks at.
/**
 * `gfp_t` flags the memcg charge path looks at (include/linux/gfp_types.h).
 * Bit values are those of a typical x86-64 build of current kernels; the
 * model only tests the named bits.
 * @public
 */
export type GfpFlags = number;

/** `__GFP_HIGH`: the caller is high priority (may dip into reserves, and a failed memcg charge is forced). @public */
export const __GFP_HIGH: GfpFlags = 0x20;
/** `__GFP_IO`. @public */
export const __GFP_IO: GfpFlags = 0x40;
/** `__GFP_FS`. @public */
export const __GFP_FS: GfpFlags = 0x80;
/** `__GFP_DIRECT_RECLAIM`: the caller may sleep and reclaim (`gfpflags_allow_blocking()`). @public */
export const __GFP_DIRECT_RECLAIM: GfpFlags = 0x400;
/** `__GFP_KSWAPD_RECLAIM`. @public */
export const __GFP_KSWAPD_RECLAIM: GfpFlags = 0x800;
/** `__GFP_NOWARN`. @public */
export const __GFP_NOWARN: GfpFlags = 0x2000;
/** `__GFP_RETRY_MAYFAIL`: retry reclaim but fail instead of invoking the OOM killer. @public */
export const __GFP_RETRY_MAYFAIL: GfpFlags = 0x4000;
/** `__GFP_NOFAIL`: the charge cannot fail; over the limit it is forced. @public */
export const __GFP_NOFAIL: GfpFlags = 0x8000;
/** `__GFP_NORETRY`: one reclaim attempt, no OOM killer. @public */
export const __GFP_NORETRY: GfpFlags = 0x10000;
/** `__GFP_RECLAIM`. @public */
export const __GFP_RECLAIM: GfpFlags = __GFP_DIRECT_RECLAIM | __GFP_KSWAPD_RECLAIM;
/** `GFP_KERNEL` (0xcc0): what `dma_heap_buffer_alloc()` charges with. @public */
export const GFP_KERNEL: GfpFlags = __GFP_RECLAIM | __GFP_IO | __GFP_FS;
/** `GFP_NOWAIT`: no direct reclaim, so a memcg charge over the limit fails at once. @public */
export const GFP_NOWAIT: GfpFlags = __GFP_KSWAPD_RECLAIM | __GFP_NOWARN;

/** `gfpflags_allow_blocking()`. @public */
export function gfpflagsAllowBlocking(gfp: GfpFlags): boolean {
  return (gfp & __GFP_DIRECT_RECLAIM) !== 0;
}

const NAMES: readonly [GfpFlags, string][] = [
  [GFP_KERNEL, "GFP_KERNEL"],
  [GFP_NOWAIT, "GFP_NOWAIT"],
  [__GFP_HIGH, "__GFP_HIGH"],
  [__GFP_IO, "__GFP_IO"],
  [__GFP_FS, "__GFP_FS"],
  [__GFP_DIRECT_RECLAIM, "__GFP_DIRECT_RECLAIM"],
  [__GFP_KSWAPD_RECLAIM, "__GFP_KSWAPD_RECLAIM"],
  [__GFP_NOWARN, "__GFP_NOWARN"],
  [__GFP_RETRY_MAYFAIL, "__GFP_RETRY_MAYFAIL"],
  [__GFP_NOFAIL, "__GFP_NOFAIL"],
  [__GFP_NORETRY, "__GFP_NORETRY"],
];

/** `%pGg`: `0xcc0(GFP_KERNEL)`, `0x10cc0(GFP_KERNEL|__GFP_NORETRY)`. @public */
export function formatGfp(gfp: GfpFlags): string {
  const parts: string[] = [];
  let rest = gfp;
  for (const [bits, name] of NAMES) {
    if (bits !== 0 && (rest & bits) === bits) {
      parts.push(name);
      rest &= ~bits;
    }
  }
  if (rest) parts.push(`0x${rest.toString(16)}`);
  return `0x${gfp.toString(16)}(${parts.join("|") || "none"})`;
}
