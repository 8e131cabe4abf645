// matmul.wgsl for products with at most 16 rows (small batches of a dense layer; a
// convolution with 16 output channels, as ResNet-20's first stage measured): 16x64 tiles, each
// of the 8x8 invocations a 2x8 block, so no invocation computes rows that do not exist (the
// 64-row tile left three quarters of its work unused there). Same bindings, info and batch
// handling as matmul.wgsl (matmul_common.wgsl precedes this file).
// [kk * 4 + q]: rows 4q..4q+3 of A at depth kk of the 16-deep slice.
var<workgroup> sa: array<vec4<f32>, 64>;
// [kk * 16 + q]: columns 4q..4q+3 of B at depth kk.
var<workgroup> sb: array<vec4<f32>, 256>;

@compute @workgroup_size(8, 8, 1)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let uniform_bounds = start(lid);
  let m = dims.m;
  let n = dims.n;
  let depth = uniform_bounds.x;
  let sums = uniform_bounds.y;
  let batch = uniform_bounds.z;
  let row0 = wg.y * 16u;
  let col0 = wg.x * 64u;
  let t = lid.y * 8u + lid.x;
  // This invocation's two rows are components 2 * odd and 2 * odd + 1 of sa's vec4 lid.y / 2.
  let odd = (lid.y & 1u) == 1u;
  var acc0 = vec4<f32>(0.0);
  var acc1 = vec4<f32>(0.0);
  var acc2 = vec4<f32>(0.0);
  var acc3 = vec4<f32>(0.0);
  for (var part = 0u; part < sums; part = part + 1u) {
    let entry = wg.z * sums + part;
    if (entry >= batch) { break; }
    dims.a_base = entry * info[7];
    dims.b_base = entry * info[8];
    for (var k0 = 0u; k0 < depth; k0 = k0 + 16u) {
      // A's 64 vec4s, one per invocation; B's 256, four per invocation.
      let ka = k0 + t / 4u;
      let ra = row0 + (t % 4u) * 4u;
      sa[t] = vec4<f32>(at_a(ra, ka), at_a(ra + 1u, ka), at_a(ra + 2u, ka), at_a(ra + 3u, ka));
      for (var h = 0u; h < 4u; h = h + 1u) {
        let e = t + h * 64u;
        let k = k0 + e / 16u;
        let col = col0 + (e % 16u) * 4u;
        sb[e] = vec4<f32>(at_b(k, col), at_b(k, col + 1u), at_b(k, col + 2u), at_b(k, col + 3u));
      }
      workgroupBarrier();
      for (var d = 0u; d < 16u; d = d + 1u) {
        let av = sa[d * 4u + lid.y / 2u];
        let a0 = select(av.x, av.z, odd);
        let a1 = select(av.y, av.w, odd);
        let b0 = sb[d * 16u + lid.x * 2u];
        let b1 = sb[d * 16u + lid.x * 2u + 1u];
        acc0 = acc0 + a0 * b0;
        acc1 = acc1 + a0 * b1;
        acc2 = acc2 + a1 * b0;
        acc3 = acc3 + a1 * b1;
      }
      workgroupBarrier();
    }
  }
  let c_base = wg.z * m * n;
  let r0 = row0 + lid.y * 2u;
  let c0 = col0 + lid.x * 8u;
  let out = array<vec4<f32>, 4>(acc0, acc1, acc2, acc3);
  for (var i = 0u; i < 2u; i = i + 1u) {
    let r = r0 + i;
    for (var j = 0u; j < 8u; j = j + 1u) {
      if (r < m && c0 + j < n) { c[c_base + r * n + c0 + j] = out[i * 2u + j / 4u][j % 4u]; }
    }
  }
}
