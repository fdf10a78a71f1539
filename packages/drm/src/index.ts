/**
 * The DRM core subsystem of dmabuf-sdk: the GPU scheduler (drm_sched) with
 * its entities, jobs and fences, DRM devices, files and sync objects.
 *
 * @packageDocumentation
 */
export { drmModule } from "./module.js";
