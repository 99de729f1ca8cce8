/**
 * The types both ends' modules re-export: `./client` and `./server` are package entry points of
 * their own, and each must name what its API mentions.
 *
 * @module
 */
export type { KernelHost } from "./kernel-host.ts";
export type { CommonOptions } from "./types.ts";
export type { IkcStats } from "./stats.ts";
export type { Authorize, AuthorizeRequest } from "./authorize.ts";
export type { DebugOption } from "./debug-log.ts";
