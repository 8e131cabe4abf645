// CIFAR archives in the real binary format for the browser tests (no registry ships CIFAR):
// records of a label byte + 3072 channel-major pixel bytes, in a ustar archive, gzipped.
import { gzipSync } from 'node:zlib';

/// A POSIX ustar archive of `members` ([name, Buffer]), as `tar` writes one.
export function tar(members) {
  const blocks = [];
  for (const [name, data] of members) {
    const header = Buffer.alloc(512);
    const field = (offset, length, text) => header.write(text, offset, length, 'ascii');
    field(0, 100, name);
    field(100, 8, '0000644\0');
    field(108, 8, '0000000\0');
    field(116, 8, '0000000\0');
    field(124, 12, `${data.length.toString(8).padStart(11, '0')}\0`);
    field(136, 12, '00000000000\0');
    field(156, 1, '0');
    field(257, 6, 'ustar\0');
    field(263, 2, '00');
    // The checksum is taken with its own field read as eight spaces.
    header.fill(' ', 148, 156);
    const sum = header.reduce((a, b) => a + b, 0);
    field(148, 8, `${sum.toString(8).padStart(6, '0')}\0 `);
    blocks.push(header, data, Buffer.alloc((512 - (data.length % 512)) % 512));
  }
  blocks.push(Buffer.alloc(1024));
  return Buffer.concat(blocks);
}

/// `count` CIFAR-10 records with labels i % 10 and pixels from a fixed linear congruence.
export function cifar10Records(count, salt = 1) {
  const record = 1 + 3072;
  const out = Buffer.alloc(count * record);
  let x = salt;
  for (let i = 0; i < count; i += 1) {
    out[i * record] = (i + salt) % 10;
    for (let p = 1; p < record; p += 1) {
      x = (Math.imul(x, 1103515245) + 12345) >>> 0;
      out[i * record + p] = x >>> 24;
    }
  }
  return out;
}

/// cifar-10-binary.tar.gz with `perBatch` records in each of the six batch files, the
/// distribution's batches.meta.txt, and any `extra` members.
export function cifar10Archive(perBatch, extra = []) {
  const dir = 'cifar-10-batches-bin';
  const members = [1, 2, 3, 4, 5].map((b) => [`${dir}/data_batch_${b}.bin`, cifar10Records(perBatch, b)]);
  members.push([`${dir}/test_batch.bin`, cifar10Records(perBatch, 9)]);
  members.push([`${dir}/batches.meta.txt`, Buffer.from('airplane\nautomobile\n')]);
  return gzipSync(tar([...members, ...extra]));
}
