// What a topology adds to the picture of a cluster (../diagram/svg.ts). Pure data.
/** Extra labels a topology adds on top of the std addresses. */
export interface DiagramExtras {
  /** Per VM name: more interface labels, e.g. `{ ifname: 'br1', label: '169.254.3.1/24' }`.
   * An ifname the VM has a NIC for is shown under that NIC; others get rows of their own. */
  addresses?: Record<string, Array<{ ifname: string; label: string }>>
  /** Free text lines shown under the picture. */
  notes?: string[]
}
