// C_z = A_z B_z for a batch of f32 matrix pairs of any shape and any element strides (a
// transposed or broadcast operand is read in place, no copy; a batch stride of 0 broadcasts).
// Register-blocked, no subgroup operations (Chrome rejects the subgroup code burn's matmul
// routines emit, README "WebGPU in Chrome"): each workgroup of 8x8 invocations computes a 64x64
// tile of C, each invocation an 8x8 block of it held in sixteen named vec4 registers (a compiler
// may spill an indexed array to memory); A and B pass through workgroup memory in 64x16 / 16x64
// slices. Out-of-range loads read 0, out-of-range stores are skipped. The same kernel as the
// bench's roofline (www/roofline.js) but for the strided loads.
//
// The bindings, info and batch handling: matmul_common.wgsl, which precedes this file.
// [kk * 16 + q]: rows (of A) or columns (of B) 4q..4q+3 at depth kk of the 16-deep slice.
var<workgroup> sa: array<vec4<f32>, 256>;
var<workgroup> sb: array<vec4<f32>, 256>;

@compute @workgroup_size(8, 8, 1)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let uniform_bounds = start(lid);
  let m = dims.m;
  let n = dims.n;
  let depth = uniform_bounds.x;
  let sums = uniform_bounds.y;
  let batch = uniform_bounds.z;
  let row0 = wg.y * 64u;
  let col0 = wg.x * 64u;
  let t = lid.y * 8u + lid.x;
  var acc0 = vec4<f32>(0.0);
  var acc1 = vec4<f32>(0.0);
  var acc2 = vec4<f32>(0.0);
  var acc3 = vec4<f32>(0.0);
  var acc4 = vec4<f32>(0.0);
  var acc5 = vec4<f32>(0.0);
  var acc6 = vec4<f32>(0.0);
  var acc7 = vec4<f32>(0.0);
  var acc8 = vec4<f32>(0.0);
  var acc9 = vec4<f32>(0.0);
  var acc10 = vec4<f32>(0.0);
  var acc11 = vec4<f32>(0.0);
  var acc12 = vec4<f32>(0.0);
  var acc13 = vec4<f32>(0.0);
  var acc14 = vec4<f32>(0.0);
  var acc15 = vec4<f32>(0.0);
  for (var part = 0u; part < sums; part = part + 1u) {
    let entry = wg.z * sums + part;
    if (entry >= batch) { break; }
    dims.a_base = entry * info[7];
    dims.b_base = entry * info[8];
    for (var k0 = 0u; k0 < depth; k0 = k0 + 16u) {
      // 256 vec4s of each slice, four per invocation.
      for (var h = 0u; h < 4u; h = h + 1u) {
        let e = t + h * 64u;
        let q = e % 16u;
        let k = k0 + e / 16u;
        let r = row0 + q * 4u;
        sa[e] = vec4<f32>(at_a(r, k), at_a(r + 1u, k), at_a(r + 2u, k), at_a(r + 3u, k));
        let col = col0 + q * 4u;
        sb[e] = vec4<f32>(at_b(k, col), at_b(k, col + 1u), at_b(k, col + 2u), at_b(k, col + 3u));
      }
      workgroupBarrier();
      for (var d = 0u; d < 16u; d = d + 1u) {
        let a0 = sa[d * 16u + lid.y * 2u];
        let a1 = sa[d * 16u + lid.y * 2u + 1u];
        let b0 = sb[d * 16u + lid.x * 2u];
        let b1 = sb[d * 16u + lid.x * 2u + 1u];
        acc0 = acc0 + a0.x * b0;
        acc1 = acc1 + a0.x * b1;
        acc2 = acc2 + a0.y * b0;
        acc3 = acc3 + a0.y * b1;
        acc4 = acc4 + a0.z * b0;
        acc5 = acc5 + a0.z * b1;
        acc6 = acc6 + a0.w * b0;
        acc7 = acc7 + a0.w * b1;
        acc8 = acc8 + a1.x * b0;
        acc9 = acc9 + a1.x * b1;
        acc10 = acc10 + a1.y * b0;
        acc11 = acc11 + a1.y * b1;
        acc12 = acc12 + a1.z * b0;
        acc13 = acc13 + a1.z * b1;
        acc14 = acc14 + a1.w * b0;
        acc15 = acc15 + a1.w * b1;
      }
      workgroupBarrier();
    }
  }
  let c_base = wg.z * m * n;
  let r0 = row0 + lid.y * 8u;
  let c0 = col0 + lid.x * 8u;
  let out = array<vec4<f32>, 16>(acc0, acc1, acc2, acc3, acc4, acc5, acc6, acc7, acc8, acc9, acc10, acc11, acc12, acc13, acc14, acc15);
  for (var i = 0u; i < 8u; i = i + 1u) {
    let r = r0 + i;
    for (var j = 0u; j < 8u; j = j + 1u) {
      if (r < m && c0 + j < n) { c[c_base + r * n + c0 + j] = out[i * 2u + j / 4u][j % 4u]; }
    }
  }
}
