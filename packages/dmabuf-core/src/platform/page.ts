// include/asm-generic/page.h and linux/pfn.h: PAGE_SIZE, page alignment and pfn/phys conversions.
/** `PAGE_SHIFT` of the model (x86-64 base pages). @public */
export const PAGE_SHIFT = 12;
/** `PAGE_SIZE`. @public */
export const PAGE_SIZE = 4096;
/** `PAGE_SIZE` as a bigint, for address arithmetic. @public */
export const PAGE_SIZE_N = 4096n;
/** 2^64: physical, bus and DMA addresses are u64 and must not wrap. @public */
export const U64_LIMIT = 1n << 64n;
/** `U64_MAX`. @public */
export const U64_MAX = U64_LIMIT - 1n;
/** `UINT_MAX` (2^32 - 1): the largest DMA length of one scatterlist entry. @public */
export const UINT_MAX = 0xffff_ffff;

/** `PAGE_ALIGNED(x)`. @public */
export function pageAligned(x: bigint): boolean {
  return (x & (PAGE_SIZE_N - 1n)) === 0n;
}

/** `PAGE_ALIGN(x)` (round up). @public */
export function pageAlign(x: bigint): bigint {
  return (x + PAGE_SIZE_N - 1n) & ~(PAGE_SIZE_N - 1n);
}

/** `PFN_DOWN(addr)` as a number (page frame numbers of a 64-bit space fit in 52 bits). @public */
export function pfnDown(addr: bigint): number {
  return Number(addr >> 12n);
}

/** `PFN_PHYS(pfn)`. @public */
export function pfnPhys(pfn: number): bigint {
  return BigInt(pfn) << 12n;
}

/** `0x`-prefixed hex of a u64, as the kernel's `%#llx`. @public */
export function hex(x: bigint | number): string {
  return `0x${x.toString(16)}`;
}
