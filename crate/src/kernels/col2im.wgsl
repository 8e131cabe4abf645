// col2im, im2col's adjoint: dx[b, ch, iy, ix] = the sum of dcols[b, (ch, ky, kx), (oy, ox)] over
// the taps that read x[b, ch, iy, ix] (iy = oy * stride + ky - pad, likewise ix). One invocation
// per entry (ix, iy) of one image and channel (workgroup z = b * c + ch) gathers its taps, so no
// two invocations write the same place (no atomics). Only the taps with ky ≡ iy + pad (mod
// stride) can reach an output row; they are visited directly, oy falling by one per step, so
// the loops divide nothing (SwiftShader runs integer division scalar).
// dcols is contiguous [n, c * kh * kw, ho * wo], dx contiguous [n, c, h, w].
// Every buffer read_write, the input too (see matmul.wgsl).
//
// info: n, c, h, w, kh, kw, stride, pad, ho, wo.
@group(0) @binding(0) var<storage, read_write> dcols: array<f32>;
@group(0) @binding(1) var<storage, read_write> dx: array<f32>;
@group(0) @binding(2) var<storage, read_write> info: array<u32>;

@compute @workgroup_size(8, 8, 1)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let ix = gid.x;
  let iy = gid.y;
  let h = info[2];
  let w = info[3];
  if (ix >= w || iy >= h) { return; }
  let c = info[1];
  let kh = info[4];
  let kw = info[5];
  let stride = info[6];
  let ho = i32(info[8]);
  let wo = i32(info[9]);
  let b = gid.z / c;
  let ch = gid.z % c;
  let hw = u32(ho * wo);
  let ty = iy + info[7];
  let tx = ix + info[7];
  let kx0 = tx % stride;
  let base = (b * c + ch) * kh * kw;
  var acc = 0.0;
  var oy = i32(ty / stride);
  for (var ky = ty % stride; ky < kh && oy >= 0; ky = ky + stride) {
    if (oy < ho) {
      var ox = i32(tx / stride);
      for (var kx = kx0; kx < kw && ox >= 0; kx = kx + stride) {
        if (ox < wo) {
          acc = acc + dcols[(base + ky * kw + kx) * hw + u32(oy * wo + ox)];
        }
        ox = ox - 1;
      }
    }
    oy = oy - 1;
  }
  dx[(b * c + ch) * h * w + iy * w + ix] = acc;
}
