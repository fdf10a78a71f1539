// include/uapi/asm-generic/ioctl.h: _IOC/_IO/_IOR/_IOW/_IOWR and the field accessors of an ioctl number.
/** `_IOC_NONE`, `_IOC_WRITE`, `_IOC_READ`. @public */
export const IOC_NONE = 0;
/** @public */
export const IOC_WRITE = 1;
/** @public */
export const IOC_READ = 2;

/** `_IOC(dir, type, nr, size)`: 2 direction bits, 14 size bits, 8 type bits, 8 number bits. @public */
export function ioc(dir: number, type: number, nr: number, size: number): number {
  return ((dir << 30) | (size << 16) | (type << 8) | nr) >>> 0;
}
/** `_IO(type, nr)`. @public */
export function io(type: number, nr: number): number {
  return ioc(IOC_NONE, type, nr, 0);
}
/** `_IOR(type, nr, size)`. @public */
export function ior(type: number, nr: number, size: number): number {
  return ioc(IOC_READ, type, nr, size);
}
/** `_IOW(type, nr, size)`. @public */
export function iow(type: number, nr: number, size: number): number {
  return ioc(IOC_WRITE, type, nr, size);
}
/** `_IOWR(type, nr, size)`. @public */
export function iowr(type: number, nr: number, size: number): number {
  return ioc(IOC_READ | IOC_WRITE, type, nr, size);
}
/** `_IOC_NR(cmd)`. @public */
export function iocNr(cmd: number): number {
  return cmd & 0xff;
}
/** `_IOC_TYPE(cmd)`. @public */
export function iocType(cmd: number): number {
  return (cmd >>> 8) & 0xff;
}
/** `_IOC_SIZE(cmd)`. @public */
export function iocSize(cmd: number): number {
  return (cmd >>> 16) & 0x3fff;
}
/** `_IOC_DIR(cmd)`. @public */
export function iocDir(cmd: number): number {
  return cmd >>> 30;
}
