// col2im, im2col's adjoint: dx[b, ch, iy, ix] = the sum of dcols[b, (ch, ky, kx), (oy, ox)] over
// the taps that read x[b, ch, iy, ix] (iy = oy * stride + ky - pad, likewise ix). One invocation
// per entry of dx gathers its taps, so no two invocations write the same place (no atomics).
// dcols is contiguous [n, c * kh * kw, ho * wo], dx contiguous [n, c, h, w].
//
// info: n, c, h, w, kh, kw, stride, pad, ho, wo, entries, invocations per grid row.// Every buffer read_write, the input too (see matmul.wgsl).
@group(0) @binding(0) var<storage, read_write> dcols: array<f32>;
@group(0) @binding(1) var<storage, read_write> dx: array<f32>;
@group(0) @binding(2) var<storage, read_write> info: array<u32>;

@compute @workgroup_size(256, 1, 1)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let i = gid.y * info[11] + gid.x;
  if (i >= info[10]) { return; }
  let c = info[1];
  let h = info[2];
  let w = info[3];
  let kh = info[4];
  let kw = info[5];
  let stride = info[6];
  let ho = info[8];
  let wo = info[9];
  let ix = i % w;
  let iy = (i / w) % h;
  let ch = (i / (w * h)) % c;
  let b = i / (w * h * c);
  let base = (b * c + ch) * kh * kw;
  var acc = 0.0;
  for (var ky = 0u; ky < kh; ky = ky + 1u) {
    // oy * stride = iy + pad - ky must be a non-negative multiple of the stride below ho * stride.
    let ty = iy + info[7];
    if (ty < ky) { break; }
    let sy = ty - ky;
    let oy = sy / stride;
    if (sy % stride != 0u || oy >= ho) { continue; }
    for (var kx = 0u; kx < kw; kx = kx + 1u) {
      let tx = ix + info[7];
      if (tx < kx) { break; }
      let sx = tx - kx;
      let ox = sx / stride;
      if (sx % stride != 0u || ox >= wo) { continue; }
      acc = acc + dcols[((base + ky * kw + kx) * ho + oy) * wo + ox];
    }
  }
  dx[i] = acc;
}
