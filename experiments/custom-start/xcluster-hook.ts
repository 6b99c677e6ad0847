// The README's custom start as xcluster's hook, for the command line:
//   XCLUSTER_HOOK=experiments/custom-start/xcluster-hook.ts xc mystart --network=bridge --nvm=1 --nrouters=2 --std-addresses=yes
// (a TypeScript hook needs tsx where the hook is or beside xcluster; a .mjs
// one runs on plain node). The same function works as the `start` option.
import type { StartContext } from 'xcluster'

/** A fourth net (3) between the two routers only. */
export async function mystart(ctx: StartContext): Promise<void> {
  ctx.addNic(201, 3)
  ctx.addNic(202, 3)
  await ctx.prepareNetwork() // makes the bridge of net 3 too
  await ctx.boot()
}

/** As xcluster named hook functions: `xc linkstart` finds cmd_linkstart. */
export const cmd_linkstart = mystart

/** An undo of its own at stop: refused in a start by xc, whose stop runs in another process. */
export async function withundo(ctx: StartContext): Promise<void> {
  ctx.onStop('undo', () => {})
  await ctx.boot()
}
