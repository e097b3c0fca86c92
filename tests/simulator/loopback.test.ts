import { describe, expect, it } from 'vitest';
import { isLoopback } from '../../simulator/http.ts';

// The control API (/_sim/) answers loopback clients only; this is the decision it takes on the peer address, tested
// on every address form Node reports, so it is covered even on a machine with no external interface (where the live
// test in control-api.int.test.ts cannot make a non-loopback connection).
describe('control API loopback rule', () => {
  it.each(['127.0.0.1', '127.0.0.2', '127.255.255.254', '::1', '::ffff:127.0.0.1', '::ffff:127.0.0.2', '::FFFF:127.1.2.3'])('%s is loopback', (address) => {
    expect(isLoopback(address)).toBe(true);
  });

  it.each(['192.0.2.2', '10.0.0.1', '0.0.0.0', '::', '::ffff:192.0.2.2', '::ffff:10.127.0.1', '127.example', 'fe80::1', '2001:db8::1', ''])(
    '%s is not loopback',
    (address) => {
      expect(isLoopback(address)).toBe(false);
    },
  );
});
