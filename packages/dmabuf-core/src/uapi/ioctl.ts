/** `_IOC_NONE`, `_IOC_WRITE`, `_IOC_READ`. */
export const IOC_NONE = 0;
export const IOC_WRITE = 1;
export const IOC_READ = 2;

/** `_IOC(dir, type, nr, size)`: 2 direction bits, 14 size bits, 8 type bits, 8 number bits. */
export function ioc(dir: number, type: number, nr: number, size: number): number {
  return ((dir << 30) | (size << 16) | (type << 8) | nr) >>> 0;
}
/** `_IO(type, nr)`. */
export function io(type: number, nr: number): number {
  return ioc(IOC_NONE, type, nr, 0);
}
/** `_IOR(type, nr, size)`. */
export function ior(type: number, nr: number, size: number): number {
  return ioc(IOC_READ, type, nr, size);
}
/** `_IOW(type, nr, size)`. */
export function iow(type: number, nr: number, size: number): number {
  return ioc(IOC_WRITE, type, nr, size);
}
/** `_IOWR(type, nr, size)`. */
export function iowr(type: number, nr: number, size: number): number {
  return ioc(IOC_READ | IOC_WRITE, type, nr, size);
}
/** `_IOC_NR(cmd)`. */
export function iocNr(cmd: number): number {
  return cmd & 0xff;
}
/** `_IOC_TYPE(cmd)`. */
export function iocType(cmd: number): number {
  return (cmd >>> 8) & 0xff;
}
/** `_IOC_SIZE(cmd)`. */
export function iocSize(cmd: number): number {
  return (cmd >>> 16) & 0x3fff;
}
/** `_IOC_DIR(cmd)`. */
export function iocDir(cmd: number): number {
  return cmd >>> 30;
}
