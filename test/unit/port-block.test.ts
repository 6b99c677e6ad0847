import { describe, expect, it } from 'vitest'
import { BLOCK_SIZE, ephemeralPorts, portBlocks } from '../../src/host/port-block.ts'

describe('port blocks', () => {
  it('stay out of the ephemeral range, where outgoing connections could take a forward port', () => {
    const blocks = portBlocks([32768, 60999])
    expect(blocks).toEqual([...Array.from({ length: 24 }, (_, i) => 8 + i), 60, 61, 62, 63])
    for (const b of blocks) {
      const first = b * BLOCK_SIZE
      expect(first + BLOCK_SIZE - 1 < 32768 || first > 60999).toBe(true)
    }
  })

  it('follow the host range, and can be none', () => {
    expect(portBlocks([1024, 65535])).toEqual([])
    expect(portBlocks([49152, 65535])).toEqual(Array.from({ length: 40 }, (_, i) => 8 + i))
  })

  it('reads the range of this host', () => {
    const [lo, hi] = ephemeralPorts()
    expect(lo).toBeLessThanOrEqual(hi)
    expect(portBlocks().every((b) => b * BLOCK_SIZE + BLOCK_SIZE - 1 < lo || b * BLOCK_SIZE > hi)).toBe(true)
  })
})
