// The DRM ioctl number space of include/uapi/drm/drm.h: the 'd' base, the driver range, DRM_IOWR.
import { iowr } from "@dmabuf-sdk/dmabuf-core";

/** `DRM_IOCTL_BASE` ('d'). @public */
export const DRM_IOCTL_BASE = 0x64;
/** First driver-private ioctl number (`DRM_COMMAND_BASE`). @public */
export const DRM_COMMAND_BASE = 0x40;
/** End of the driver range (`DRM_COMMAND_END`). @public */
export const DRM_COMMAND_END = 0xa0;

/** `DRM_IOWR(nr, type)`. @public */
export function drmIowr(nr: number, size: number): number {
  return iowr(DRM_IOCTL_BASE, nr, size);
}
