// im2col for a convolution by the lab's matmul: cols[b, (ch, ky, kx), (oy, ox)] = x[b, ch,
// oy * stride + ky - pad, ox * stride + kx - pad], 0 outside the image; cols is contiguous
// [n, c * kh * kw, ho * wo] and x is read through its strides (a batch slice needs no copy).
// One invocation per output pixel (ox, oy) of one image and channel (workgroup z = b * c + ch)
// writes that pixel's kh * kw taps: no integer division per entry (SwiftShader runs division
// scalar).
// Every buffer read_write, the input too (see matmul.wgsl).
//
// info: n, c, h, w, kh, kw, stride, pad, ho, wo, x's four strides, the first image (cols holds
// images first .. first + n - 1 of x).
@group(0) @binding(0) var<storage, read_write> x: array<f32>;
@group(0) @binding(1) var<storage, read_write> cols: array<f32>;
@group(0) @binding(2) var<storage, read_write> info: array<u32>;

@compute @workgroup_size(8, 8, 1)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let ox = gid.x;
  let oy = gid.y;
  let ho = info[8];
  let wo = info[9];
  if (ox >= wo || oy >= ho) { return; }
  let c = info[1];
  let h = i32(info[2]);
  let w = i32(info[3]);
  let kh = info[4];
  let kw = info[5];
  let b = gid.z / c;
  let ch = gid.z % c;
  let hw = ho * wo;
  let iy0 = i32(oy * info[6]) - i32(info[7]);
  let ix0 = i32(ox * info[6]) - i32(info[7]);
  let src = (info[14] + b) * info[10] + ch * info[11];
  var dst = ((b * c + ch) * kh * kw) * hw + oy * wo + ox;
  for (var ky = 0u; ky < kh; ky = ky + 1u) {
    let iy = iy0 + i32(ky);
    for (var kx = 0u; kx < kw; kx = kx + 1u) {
      let ix = ix0 + i32(kx);
      var v = 0.0;
      if (iy >= 0 && iy < h && ix >= 0 && ix < w) {
        v = x[src + u32(iy) * info[12] + u32(ix) * info[13]];
      }
      cols[dst] = v;
      dst = dst + hw;
    }
  }
}
