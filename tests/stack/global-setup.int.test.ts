import { existsSync } from 'node:fs';
import { describe, expect, inject, it } from 'vitest';

describe('vitest global setup', () => {
  it('hands the endpoints and versions to tests', () => {
    expect(inject('kafkaBrokers')).toMatch(/^[^,\s]+:\d+(,[^,\s]+:\d+)*$/);
    expect(inject('opensearchUrl')).toMatch(/^https?:\/\/[^/]+$/);
    expect(inject('kafkaVersion')).toMatch(/^4\./);
    expect(inject('opensearchVersion')).toMatch(/^2\.19\./);
    expect(['env', 'docker', 'local']).toContain(inject('kafkaProvider'));
    expect(['env', 'docker', 'local']).toContain(inject('opensearchProvider'));
  });

  it('points NODE_EXTRA_CA_CERTS of the forked workers at the simulator CA', () => {
    const caFile = inject('simulatorCaFile');
    expect(caFile).not.toBe('');
    expect(existsSync(caFile)).toBe(true);
    expect(process.env.NODE_EXTRA_CA_CERTS).toBe(caFile);
  });
});
