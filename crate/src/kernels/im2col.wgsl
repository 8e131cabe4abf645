// im2col for a convolution by the lab's matmul: cols[b, (ch, ky, kx), (oy, ox)] = x[b, ch,
// oy * stride + ky - pad, ox * stride + kx - pad], 0 outside the image. One invocation per entry
// of cols (contiguous [n, c * kh * kw, ho * wo]); x is read through its strides, so a batch slice
// of a larger tensor needs no copy. The grid is two-dimensional because a large batch has more
// entries than 65 535 workgroups of 256 reach.
//
// info: n, c, h, w, kh, kw, stride, pad, ho, wo, x's four strides, the first image (cols holds
// images first .. first + n - 1 of x), entries, invocations per grid row.// Every buffer read_write, the input too (see matmul.wgsl).
@group(0) @binding(0) var<storage, read_write> x: array<f32>;
@group(0) @binding(1) var<storage, read_write> cols: array<f32>;
@group(0) @binding(2) var<storage, read_write> info: array<u32>;

@compute @workgroup_size(256, 1, 1)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let i = gid.y * info[16] + gid.x;
  if (i >= info[15]) { return; }
  let c = info[1];
  let kh = info[4];
  let kw = info[5];
  let wo = info[9];
  let hw = info[8] * wo;
  let taps = c * kh * kw;
  let p = i % hw;
  let r = (i / hw) % taps;
  let b = i / (hw * taps);
  let ch = r / (kh * kw);
  let ky = (r / kw) % kh;
  let kx = r % kw;
  let iy = i32((p / wo) * info[6] + ky) - i32(info[7]);
  let ix = i32((p % wo) * info[6] + kx) - i32(info[7]);
  var v = 0.0;
  if (iy >= 0 && iy < i32(info[2]) && ix >= 0 && ix < i32(info[3])) {
    v = x[(info[14] + b) * info[10] + ch * info[11] + u32(iy) * info[12] + u32(ix) * info[13]];
  }
  cols[i] = v;
}
