//! Distance kernels (docs/FORMAT.md §7.3). Each kernel is written once as plain Rust with
//! fixed-width lane accumulators, and compiled twice: for the baseline target (SSE2 on x86-64,
//! NEON on aarch64, which every arm64 CPU has) and, on x86-64, a second time with AVX2 + FMA +
//! POPCNT enabled. The AVX2 copy is chosen at run time only when the CPU reports those features,
//! so no build ever executes an instruction its CPU lacks. Both copies add in the same order,
//! so they return identical distances.

/// What a scan computes per row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kernel {
    /// 1 − dot (rows and query L2-normalised): cosine distance.
    CosineF32,
    L2F32,
    L1F32,
    L2I8,
    L1I8,
    Hamming,
}

const LANES: usize = 16;

#[inline(always)]
fn dot_f32(a: &[f32], b: &[f32]) -> f32 {
    let mut acc = [0f32; LANES];
    let (ca, cb) = (a.chunks_exact(LANES), b.chunks_exact(LANES));
    let (ra, rb) = (ca.remainder(), cb.remainder());
    for (x, y) in ca.zip(cb) {
        let (x, y): (&[f32; LANES], &[f32; LANES]) = (x.try_into().unwrap(), y.try_into().unwrap());
        for i in 0..LANES {
            acc[i] += x[i] * y[i];
        }
    }
    let mut tail = 0f32;
    for (x, y) in ra.iter().zip(rb) {
        tail += x * y;
    }
    reduce(&acc) + tail
}

#[inline(always)]
fn l2sq_f32(a: &[f32], b: &[f32]) -> f32 {
    let mut acc = [0f32; LANES];
    let (ca, cb) = (a.chunks_exact(LANES), b.chunks_exact(LANES));
    let (ra, rb) = (ca.remainder(), cb.remainder());
    for (x, y) in ca.zip(cb) {
        let (x, y): (&[f32; LANES], &[f32; LANES]) = (x.try_into().unwrap(), y.try_into().unwrap());
        for i in 0..LANES {
            let d = x[i] - y[i];
            acc[i] += d * d;
        }
    }
    let mut tail = 0f32;
    for (x, y) in ra.iter().zip(rb) {
        let d = x - y;
        tail += d * d;
    }
    reduce(&acc) + tail
}

#[inline(always)]
fn l1_f32(a: &[f32], b: &[f32]) -> f32 {
    let mut acc = [0f32; LANES];
    let (ca, cb) = (a.chunks_exact(LANES), b.chunks_exact(LANES));
    let (ra, rb) = (ca.remainder(), cb.remainder());
    for (x, y) in ca.zip(cb) {
        let (x, y): (&[f32; LANES], &[f32; LANES]) = (x.try_into().unwrap(), y.try_into().unwrap());
        for i in 0..LANES {
            acc[i] += (x[i] - y[i]).abs();
        }
    }
    let mut tail = 0f32;
    for (x, y) in ra.iter().zip(rb) {
        tail += (x - y).abs();
    }
    reduce(&acc) + tail
}

#[inline(always)]
fn reduce(acc: &[f32; LANES]) -> f32 {
    // A fixed pairwise order, the same in every build.
    let mut v = *acc;
    let mut w = LANES / 2;
    while w > 0 {
        for i in 0..w {
            v[i] += v[i + w];
        }
        w /= 2;
    }
    v[0]
}

#[inline(always)]
fn l2sq_i8(a: &[i8], b: &[i8]) -> i64 {
    let mut acc = [0i32; LANES];
    let (ca, cb) = (a.chunks_exact(LANES), b.chunks_exact(LANES));
    let (ra, rb) = (ca.remainder(), cb.remainder());
    let mut total = 0i64;
    // 16 lanes × at most 65025 per step stay in i32 for 2048 steps; flush earlier.
    for (n, (x, y)) in ca.zip(cb).enumerate() {
        for i in 0..LANES {
            let d = x[i] as i32 - y[i] as i32;
            acc[i] += d * d;
        }
        if n % 1024 == 1023 {
            total += acc.iter().map(|&v| v as i64).sum::<i64>();
            acc = [0; LANES];
        }
    }
    total += acc.iter().map(|&v| v as i64).sum::<i64>();
    for (x, y) in ra.iter().zip(rb) {
        let d = *x as i64 - *y as i64;
        total += d * d;
    }
    total
}

#[inline(always)]
fn l1_i8(a: &[i8], b: &[i8]) -> i64 {
    let mut acc = [0i32; LANES];
    let (ca, cb) = (a.chunks_exact(LANES), b.chunks_exact(LANES));
    let (ra, rb) = (ca.remainder(), cb.remainder());
    let mut total = 0i64;
    for (n, (x, y)) in ca.zip(cb).enumerate() {
        for i in 0..LANES {
            acc[i] += (x[i] as i32 - y[i] as i32).abs();
        }
        if n % 65536 == 65535 {
            total += acc.iter().map(|&v| v as i64).sum::<i64>();
            acc = [0; LANES];
        }
    }
    total += acc.iter().map(|&v| v as i64).sum::<i64>();
    for (x, y) in ra.iter().zip(rb) {
        total += (*x as i64 - *y as i64).abs();
    }
    total
}

#[inline(always)]
fn hamming(a: &[u32], b: &[u32]) -> u32 {
    let mut acc = [0u32; 8];
    let (ca, cb) = (a.chunks_exact(8), b.chunks_exact(8));
    let (ra, rb) = (ca.remainder(), cb.remainder());
    for (x, y) in ca.zip(cb) {
        for i in 0..8 {
            acc[i] += (x[i] ^ y[i]).count_ones();
        }
    }
    let mut total: u32 = acc.iter().sum();
    for (x, y) in ra.iter().zip(rb) {
        total += (x ^ y).count_ones();
    }
    total
}

/// Rows of a scan: `words` holds rows of `stride` u32 words each (a row's bytes, zero-padded
/// to whole words); `query` is one such row.
#[derive(Clone, Copy)]
pub struct Rows<'a> {
    pub words: &'a [u32],
    pub stride: usize,
    /// Meaningful elements per row (f32 count, i8 count; bits are compared word by word).
    pub dims: usize,
}

#[inline(always)]
fn as_f32(w: &[u32]) -> &[f32] {
    // SAFETY: u32 and f32 have the same size and alignment, and every bit pattern is an f32.
    unsafe { std::slice::from_raw_parts(w.as_ptr() as *const f32, w.len()) }
}

#[inline(always)]
fn as_i8(w: &[u32]) -> &[i8] {
    // SAFETY: the words' bytes viewed as i8 (alignment 1, every bit pattern valid).
    unsafe { std::slice::from_raw_parts(w.as_ptr() as *const i8, w.len() * 4) }
}

/// Distance of one row to the query.
#[inline(always)]
fn distance(kernel: Kernel, row: &[u32], q: &[u32], dims: usize) -> f32 {
    match kernel {
        Kernel::CosineF32 => 1.0 - dot_f32(&as_f32(row)[..dims], &as_f32(q)[..dims]),
        Kernel::L2F32 => l2sq_f32(&as_f32(row)[..dims], &as_f32(q)[..dims]).sqrt(),
        Kernel::L1F32 => l1_f32(&as_f32(row)[..dims], &as_f32(q)[..dims]),
        Kernel::L2I8 => (l2sq_i8(&as_i8(row)[..dims], &as_i8(q)[..dims]) as f64).sqrt() as f32,
        Kernel::L1I8 => l1_i8(&as_i8(row)[..dims], &as_i8(q)[..dims]) as f32,
        Kernel::Hamming => hamming(row, q) as f32,
    }
}

#[inline(always)]
fn distances_body(kernel: Kernel, rows: Rows<'_>, q: &[u32], first: usize, out: &mut [f32]) {
    for (i, o) in out.iter_mut().enumerate() {
        let at = (first + i) * rows.stride;
        *o = distance(kernel, &rows.words[at..at + rows.stride], q, rows.dims);
    }
}

#[inline(always)]
fn gather_body(kernel: Kernel, rows: Rows<'_>, q: &[u32], pos: &[usize], out: &mut [f32]) {
    for (p, o) in pos.iter().zip(out.iter_mut()) {
        let at = p * rows.stride;
        *o = distance(kernel, &rows.words[at..at + rows.stride], q, rows.dims);
    }
}

/// Explicit AVX2 forms of the f32 kernels (the auto-vectorised loops load only two lanes at a
/// time here). They add in exactly the order of the portable ones: lanes 0–7 and 8–15 are the
/// two accumulators, then [`reduce`]'s pairwise steps; mul and add stay separate (no FMA).
#[cfg(target_arch = "x86_64")]
mod avx2 {
    use std::arch::x86_64::*;

    #[inline]
    #[target_feature(enable = "avx2,fma,popcnt")]
    unsafe fn reduce16(s0: __m256, s1: __m256) -> f32 {
        let v8 = _mm256_add_ps(s0, s1);
        let v4 = _mm_add_ps(_mm256_castps256_ps128(v8), _mm256_extractf128_ps(v8, 1));
        let v2 = _mm_add_ps(v4, _mm_movehl_ps(v4, v4));
        let v1 = _mm_add_ss(v2, _mm_shuffle_ps(v2, v2, 1));
        _mm_cvtss_f32(v1)
    }

    /// op 0: dot, 1: squared L2, 2: L1.
    #[inline]
    #[target_feature(enable = "avx2,fma,popcnt")]
    pub unsafe fn f32_op<const OP: u8>(a: &[f32], b: &[f32]) -> f32 {
        let n = a.len().min(b.len());
        let full = n / 16 * 16;
        let (pa, pb) = (a.as_ptr(), b.as_ptr());
        let sign = _mm256_set1_ps(-0.0);
        let term = |x: __m256, y: __m256| -> __m256 {
            match OP {
                0 => _mm256_mul_ps(x, y),
                1 => {
                    let d = _mm256_sub_ps(x, y);
                    _mm256_mul_ps(d, d)
                }
                _ => _mm256_andnot_ps(sign, _mm256_sub_ps(x, y)),
            }
        };
        let (mut s0, mut s1) = (_mm256_setzero_ps(), _mm256_setzero_ps());
        let mut i = 0;
        while i < full {
            // SAFETY: i + 16 <= full <= n, both slices have n elements.
            let (x0, y0) = (_mm256_loadu_ps(pa.add(i)), _mm256_loadu_ps(pb.add(i)));
            let (x1, y1) = (
                _mm256_loadu_ps(pa.add(i + 8)),
                _mm256_loadu_ps(pb.add(i + 8)),
            );
            s0 = _mm256_add_ps(s0, term(x0, y0));
            s1 = _mm256_add_ps(s1, term(x1, y1));
            i += 16;
        }
        let mut tail = 0f32;
        for j in full..n {
            tail += match OP {
                0 => a[j] * b[j],
                1 => (a[j] - b[j]) * (a[j] - b[j]),
                _ => (a[j] - b[j]).abs(),
            };
        }
        reduce16(s0, s1) + tail
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma,popcnt")]
unsafe fn distance_avx2(kernel: Kernel, row: &[u32], q: &[u32], dims: usize) -> f32 {
    match kernel {
        Kernel::CosineF32 => 1.0 - avx2::f32_op::<0>(&as_f32(row)[..dims], &as_f32(q)[..dims]),
        Kernel::L2F32 => avx2::f32_op::<1>(&as_f32(row)[..dims], &as_f32(q)[..dims]).sqrt(),
        Kernel::L1F32 => avx2::f32_op::<2>(&as_f32(row)[..dims], &as_f32(q)[..dims]),
        _ => distance(kernel, row, q, dims),
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma,popcnt")]
unsafe fn distances_avx2(kernel: Kernel, rows: Rows<'_>, q: &[u32], first: usize, out: &mut [f32]) {
    for (i, o) in out.iter_mut().enumerate() {
        let at = (first + i) * rows.stride;
        *o = distance_avx2(kernel, &rows.words[at..at + rows.stride], q, rows.dims);
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma,popcnt")]
unsafe fn gather_avx2(kernel: Kernel, rows: Rows<'_>, q: &[u32], pos: &[usize], out: &mut [f32]) {
    for (p, o) in pos.iter().zip(out.iter_mut()) {
        let at = p * rows.stride;
        *o = distance_avx2(kernel, &rows.words[at..at + rows.stride], q, rows.dims);
    }
}

/// The instruction set the kernels run with on this CPU ("avx2" or "baseline").
pub fn selected() -> &'static str {
    if use_avx2() {
        "avx2"
    } else if cfg!(target_arch = "aarch64") {
        "neon"
    } else {
        "baseline"
    }
}

#[inline]
fn use_avx2() -> bool {
    static AVX2: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *AVX2.get_or_init(|| {
        #[cfg(target_arch = "x86_64")]
        {
            std::env::var_os("KOHAKUVAULT_NO_SIMD").is_none()
                && is_x86_feature_detected!("avx2")
                && is_x86_feature_detected!("fma")
                && is_x86_feature_detected!("popcnt")
        }
        #[cfg(not(target_arch = "x86_64"))]
        {
            false
        }
    })
}

/// Distances of rows `first .. first + out.len()` to `q`.
pub fn distances(kernel: Kernel, rows: Rows<'_>, q: &[u32], first: usize, out: &mut [f32]) {
    #[cfg(target_arch = "x86_64")]
    if use_avx2() {
        // SAFETY: the CPU supports every feature the function is compiled with (checked above).
        return unsafe { distances_avx2(kernel, rows, q, first, out) };
    }
    distances_body(kernel, rows, q, first, out)
}

/// Distances of the rows at positions `pos` to `q`.
pub fn gather(kernel: Kernel, rows: Rows<'_>, q: &[u32], pos: &[usize], out: &mut [f32]) {
    #[cfg(target_arch = "x86_64")]
    if use_avx2() {
        // SAFETY: as in `distances`.
        return unsafe { gather_avx2(kernel, rows, q, pos, out) };
    }
    gather_body(kernel, rows, q, pos, out)
}

/// The baseline copy, whatever the CPU has (tests compare both copies).
pub fn distances_baseline(
    kernel: Kernel,
    rows: Rows<'_>,
    q: &[u32],
    first: usize,
    out: &mut [f32],
) {
    distances_body(kernel, rows, q, first, out)
}
