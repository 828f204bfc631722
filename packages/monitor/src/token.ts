import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

/** A random token for a monitor bound to a non-loopback interface. */
export function generateToken(): string {
  return randomBytes(24).toString('base64url');
}

/**
 * Compares a presented token with the expected one in constant time. Both are hashed first
 * so timingSafeEqual always sees equal lengths and the comparison leaks neither content nor length.
 */
export function tokensEqual(presented: string | undefined, expected: string): boolean {
  const a = createHash('sha256')
    .update(presented ?? '')
    .digest();
  const b = createHash('sha256').update(expected).digest();
  return timingSafeEqual(a, b) && presented !== undefined;
}
