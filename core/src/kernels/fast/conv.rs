//! CONV_2D as a small GEMM on halfword pairs: 2 output channels x 2 output
//! pixels per tile, four accumulators fed by SMLAD.
//!
//! Per call the filter is sign-extended once into a scratch of halfword
//! pairs (a chunk of output channels at a time); per pair of output pixels
//! their receptive fields ("patches", `kh * kw * in_c` values, padding taps
//! set to `-input_offset`) are sign-extended once and then shared by every
//! output channel of the chunk. For a 1x1 convolution the patch is the
//! input pixel itself. For channel counts that are not a multiple of 4
//! (first layers: 1 to 3 input channels) each filter row `kw * in_c` is
//! padded with zero weights to whole words ([`Layout::Rows`]), so a patch
//! row is read from the input a word at a time rather than tap by tap. No
//! other copy of the input is made.
//!
//! Scratch layout, both in groups of 4 reduction values `k..k+4` (of the
//! [`Layout`]'s order), each group
//! 4 words: `[A(k, k+2), B(k, k+2), A(k+1, k+3), B(k+1, k+3)]` where A and B
//! are the two pixels (patch) or the two channels (filter) of a tile, so
//! each half of a group is one LDRD of patch words and one of filter words
//! feeding 4 SMLADs (8 MACs). The filter scratch holds one block per
//! channel pair ([`tile`]): the pair's weights in this layout, pre-shifted
//! by the requantization's left shift, between its biases and its
//! requantization records, so one tile (MACs and requantization of 4
//! outputs) reads one block front to back.

use super::dsp::{sxtb16, sxtb16_ror8};
use super::epilogue::Epilogue;
use super::{tile, weight_sums, Clamp, Requant};
use crate::kernels::conv2d::Params;
use crate::kernels::{KernelError, PerChannel, View, ViewMut};
use crate::le::I32s;

/// Largest reduction length (`kh * kw * in_c`, rounded up to 4) handled.
pub(crate) const MAX_K: usize = 288;
/// Filter scratch, in words (4 KiB): tile blocks of channel pairs.
const W_WORDS: usize = 1024;
/// Most output channels per filter chunk.
const MAX_CHUNK: usize = 32;

/// Output geometry of one pixel and where its receptive field starts.
#[derive(Debug, Clone, Copy)]
struct Pixel {
    b: usize,
    oy: usize,
    ox: usize,
}

/// Walks output pixels in NHWC order.
struct Pixels {
    h: usize,
    w: usize,
    next: Pixel,
}

impl Pixels {
    fn advance(&mut self) -> Pixel {
        let cur = self.next;
        self.next.ox += 1;
        if self.next.ox == self.w {
            self.next.ox = 0;
            self.next.oy += 1;
            if self.next.oy == self.h {
                self.next.oy = 0;
                self.next.b += 1;
            }
        }
        cur
    }
}

/// Runs CONV_2D on the fast path, storing every output element once
/// through `epilogue`, or returns `Ok(false)` for a case it does not
/// handle: grouped convolution, a reduction over [`MAX_K`], or a channel
/// whose requantization is outside [`Requant`]'s range. When it declines,
/// it has written nothing the portable kernel would not overwrite, and with
/// an epilogue that reads the output ([`Epilogue::READS_OUTPUT`]) nothing
/// at all. The caller has validated shapes, lengths, bias and quantization.
pub(crate) fn eval<E: Epilogue>(
    p: &Params,
    input: View<'_>,
    filter: View<'_>,
    bias: Option<I32s<'_>>,
    quant: PerChannel<'_>,
    output: ViewMut<'_>,
    epilogue: &E,
) -> Result<bool, KernelError> {
    let (is, fs, os) = (input.shape, filter.shape, output.shape);
    let k = fs.h * fs.w * fs.c;
    let layout = Layout::choose(p, fs);
    let groups = layout.groups();
    if is.c != fs.c || groups * 4 > MAX_K || k == 0 || os.c == 0 {
        return Ok(false);
    }
    // Each pair of output channels takes one tile block of filter scratch.
    let chunk = (2 * (W_WORDS / tile::block_len(groups))).min(MAX_CHUNK);
    let pixels = os.n * os.h * os.w;
    if chunk < 2 || pixels == 0 {
        return Ok(false);
    }
    if E::READS_OUTPUT {
        // Decide before the first store: a decline in a later chunk would
        // leave the portable kernel clobbered addends.
        for (oc, row) in filter.data.chunks_exact(k).take(os.c).enumerate() {
            if channel_requant(p, row, bias, quant, oc)?.is_none() {
                return Ok(false);
            }
        }
    }
    let clamp = Clamp::new(p.act_min, p.act_max);
    let patch = PatchGeometry::new(p, input, fs, layout);
    let out = output.data;
    let mut wbuf = [0u32; W_WORDS];
    let mut xbuf = [0u32; MAX_K];
    let mut spare = [0i8; MAX_CHUNK];
    // Patch bytes for channel counts not a multiple of 4; the tail past the
    // reduction length stays zero.
    let mut raw = [[0i8; MAX_K]; 2];

    let mut c0 = 0;
    while c0 < os.c {
        let n = chunk.min(os.c - c0);
        let blocks = filter_chunk(p, filter, bias, quant, layout, c0, n, &mut wbuf)?;
        let Some(blocks) = blocks else {
            return Ok(false);
        };
        let xwords = xbuf.get_mut(..4 * groups).ok_or(KernelError::Length)?;
        let run = Run {
            patch: &patch,
            ww: blocks.blocks,
            rounds: blocks.rounds,
            clamp,
            epilogue,
            pixels,
            c: os.c,
            c0,
            n,
        };
        // The ADD epilogue's loop is large (the table lookups are inlined
        // per element); one copy of it is enough.
        if patch.dense(os) && E::STORES_VALUE {
            run.pixels::<true>(os, xwords, &mut raw, out, &mut spare)?;
        } else {
            run.pixels::<false>(os, xwords, &mut raw, out, &mut spare)?;
        }
        c0 += n;
    }
    Ok(true)
}

/// Which patch builder a call uses ([`PatchGeometry::kind`]), dispatched
/// per pixel pair; the pixel loop is monomorphized only for the dense
/// pointwise case ([`PatchGeometry::dense`], most layers).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Build {
    /// [`PatchGeometry::build_rows`].
    Rows,
    /// [`PatchGeometry::build_pointwise`]: 1x1, channels a multiple of 4.
    Pointwise,
    /// [`PatchGeometry::build_c4`].
    Words,
    /// [`PatchGeometry::build_bytes`].
    Bytes,
}

/// One filter chunk's pass over every output pixel.
struct Run<'r, E> {
    patch: &'r PatchGeometry<'r>,
    /// The chunk's tile blocks.
    ww: &'r [u32],
    /// See [`Chunk::rounds`].
    rounds: bool,
    clamp: Clamp,
    epilogue: &'r E,
    /// Output pixels (`n * h * w`).
    pixels: usize,
    /// Output channels.
    c: usize,
    /// The chunk's first channel and its channel count.
    c0: usize,
    n: usize,
}

impl<E: Epilogue> Run<'_, E> {
    /// Every pixel pair: its patch ([`PatchGeometry::build_dense`] if
    /// `DENSE`, else [`PatchGeometry::build_rows_inside`] where it applies,
    /// else [`PatchGeometry::build`]), then its tiles.
    #[inline(never)]
    fn pixels<const DENSE: bool>(
        &self,
        os: crate::kernels::Shape4,
        xw: &mut [u32],
        raw: &mut [[i8; MAX_K]; 2],
        out: &mut [i8],
        spare: &mut [i8; MAX_CHUNK],
    ) -> Result<(), KernelError> {
        let mut walk = Pixels {
            h: os.h,
            w: os.w,
            next: Pixel { b: 0, oy: 0, ox: 0 },
        };
        let mut px = 0;
        while px < self.pixels {
            let a = walk.advance();
            let two = px + 1 < self.pixels;
            let bpx = if two { walk.advance() } else { a };
            if DENSE {
                self.patch.build_dense(px, two, xw)?;
            } else if !self.patch.build_rows_inside(a, bpx, xw)? {
                // Out of line: its setup for the borders is not paid by
                // the interior pixels above.
                self.patch.build(a, bpx, xw, raw)?;
            }
            let (row_a, row_b) = out_rows(out, px, two, self.c, self.c0, self.n, spare)?;
            let (ww, rounds, clamp, ep) = (self.ww, self.rounds, self.clamp, self.epilogue);
            if clamp.full() {
                tiles::<true, E>(xw, ww, rounds, clamp, ep, row_a, row_b)?;
            } else {
                tiles::<false, E>(xw, ww, rounds, clamp, ep, row_a, row_b)?;
            }
            px += if two { 2 } else { 1 };
        }
        Ok(())
    }
}

/// How a reduction (a filter row, a pixel's patch) fills the groups of 4
/// values; the filter and the patches use the same one.
#[derive(Debug, Clone, Copy)]
enum Layout {
    /// OHWI order, zero-padded at the end to a multiple of 4.
    Flat { k: usize },
    /// Each filter row `(fy, 0..kw, 0..c)` (`len = kw * c` values) padded
    /// with zero weights to `words` whole words. Without horizontal
    /// dilation a patch row is `len` contiguous input bytes for a pixel
    /// away from the left and right borders, so it is read a word at a time
    /// (the bytes past `len` meet zero weights) instead of tap by tap. For
    /// channel counts that are not a multiple of 4 (first layers, 1 to 3
    /// channels) the per-tap copies cost more than the padding's extra
    /// MACs; for a multiple of 4 there is no padding, and one bounds check
    /// per row instead of per tap.
    Rows { kh: usize, len: usize, words: usize },
}

impl Layout {
    /// [`Layout::Rows`] without horizontal dilation, for filters wider
    /// than 1 or channel counts that are not a multiple of 4, when it fits
    /// [`MAX_K`]; else flat (1x1 filters over whole words: the patch is one
    /// tap either way).
    fn choose(p: &Params, fs: crate::kernels::Shape4) -> Self {
        let len = fs.w * fs.c;
        let rows = Layout::Rows {
            kh: fs.h,
            len,
            words: len.div_ceil(4),
        };
        let wanted = fs.c % 4 != 0 || fs.w > 1;
        if wanted && p.dilation_w == 1 && rows.groups() * 4 <= MAX_K {
            rows
        } else {
            Layout::Flat { k: fs.h * len }
        }
    }

    /// Groups of 4 values in the reduction.
    fn groups(&self) -> usize {
        match *self {
            Layout::Flat { k } => k.div_ceil(4),
            Layout::Rows { kh, words, .. } => kh * words,
        }
    }

    /// Group `g`'s 4 values of the OHWI filter row `row` as a word (zeros
    /// in the padding).
    fn filter_word(&self, row: &[i8], g: usize) -> u32 {
        match *self {
            Layout::Flat { .. } => word_at(row, g * 4),
            Layout::Rows { len, words, .. } => {
                let fy = g / words;
                let seg = row.get(fy * len..fy * len + len).unwrap_or(&[]);
                word_at(seg, (g % words) * 4)
            }
        }
    }
}

/// Output channels `c0..c0 + n` as tile blocks in `wbuf` (one per channel
/// pair, see [`tile`]): weights sign-extended and pre-shifted, biases and
/// requantization records; the phantom channel of an odd `n` has zero
/// weights and records (its outputs are discarded). `None` when a channel's
/// requantization is outside [`Requant`]'s range.
#[allow(clippy::too_many_arguments)]
fn filter_chunk<'w>(
    p: &Params,
    filter: View<'_>,
    bias: Option<I32s<'_>>,
    quant: PerChannel<'_>,
    layout: Layout,
    c0: usize,
    n: usize,
    wbuf: &'w mut [u32; W_WORDS],
) -> Result<Option<Chunk<'w>>, KernelError> {
    let k = filter.shape.h * filter.shape.w * filter.shape.c;
    let block = tile::block_len(layout.groups());
    let wwords = wbuf
        .get_mut(..n.div_ceil(2) * block)
        .ok_or(KernelError::Length)?;
    wwords.fill(0);
    let mut rounds = true;
    for j in 0..n {
        let oc = c0 + j;
        let row = filter
            .data
            .get(oc * k..oc * k + k)
            .ok_or(KernelError::Length)?;
        let Some(r) = channel_requant(p, row, bias, quant, oc)? else {
            return Ok(None);
        };
        let blk = wwords
            .get_mut((j / 2) * block..(j / 2 + 1) * block)
            .ok_or(KernelError::Length)?;
        let lane = j % 2;
        rounds &= r.rsh >= 1;
        tile::set_channel(blk, lane, &r);
        for (g, dst) in tile::weights_mut(blk).chunks_exact_mut(2).enumerate() {
            let word = layout.filter_word(row, g / 2);
            let half = if g % 2 == 0 {
                sxtb16(word)
            } else {
                sxtb16_ror8(word)
            };
            if let Some(d) = dst.get_mut(lane) {
                *d = tile::scaled(half, r.lsh);
            }
        }
    }
    Ok(Some(Chunk {
        blocks: wwords,
        rounds,
    }))
}

/// A filter chunk's tile blocks ([`filter_chunk`]).
struct Chunk<'w> {
    blocks: &'w [u32],
    /// Every channel's requantization has a right shift (`rsh >= 1`), so
    /// [`tile::store_pairs`] may take its shorter rounding.
    rounds: bool,
}

/// Output channel `oc`'s requantization (its filter row is `row`), or
/// `None` when [`Requant`] cannot represent it.
fn channel_requant(
    p: &Params,
    row: &[i8],
    bias: Option<I32s<'_>>,
    quant: PerChannel<'_>,
    oc: usize,
) -> Result<Option<Requant>, KernelError> {
    let (sum, sum_abs) = weight_sums(row.iter().copied());
    let b = match bias {
        Some(b) => b.get(oc).ok_or(KernelError::Length)?,
        None => 0,
    };
    let m = quant.multiplier.get(oc).ok_or(KernelError::Length)?;
    let s = quant.shift.get(oc).ok_or(KernelError::Length)?;
    Ok(Requant::new(
        b,
        sum,
        sum_abs,
        p.input_offset,
        m,
        s,
        p.output_offset,
    ))
}

/// The output slices (channels `c0..c0+n`) of pixels `px` and `px + 1`; the
/// second is `spare` when there is only one pixel left.
fn out_rows<'o>(
    out: &'o mut [i8],
    px: usize,
    two: bool,
    c: usize,
    c0: usize,
    n: usize,
    spare: &'o mut [i8],
) -> Result<(&'o mut [i8], &'o mut [i8]), KernelError> {
    let rows = out
        .get_mut(px * c..(px + 1 + usize::from(two)) * c)
        .ok_or(KernelError::Length)?;
    let (ra, rb) = rows.split_at_mut(c);
    let ra = ra.get_mut(c0..c0 + n).ok_or(KernelError::Length)?;
    let rb = if two {
        rb.get_mut(c0..c0 + n).ok_or(KernelError::Length)?
    } else {
        spare.get_mut(..n).ok_or(KernelError::Length)?
    };
    Ok((ra, rb))
}

/// All channel-pair tiles of one pixel pair: `xw` is the pair's patch,
/// `ww` the chunk's tile blocks, `row_a`/`row_b` the two pixels' outputs,
/// each element stored once through `ep`.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn tiles<const FULL: bool, E: Epilogue>(
    xw: &[u32],
    ww: &[u32],
    rounds: bool,
    clamp: Clamp,
    ep: &E,
    row_a: &mut [i8],
    row_b: &mut [i8],
) -> Result<(), KernelError> {
    let block = xw.len() + tile::block_len(0);
    let (row_a, row_b, ww) = if E::STORES_VALUE {
        let bounds = tile::Bounds::new(clamp.lo(), clamp.hi());
        let done = tile::store_pairs::<FULL>(xw, ww, rounds, bounds, row_a, row_b);
        // What is left: an odd last channel.
        (
            row_a.get_mut(2 * done..).unwrap_or(&mut []),
            row_b.get_mut(2 * done..).unwrap_or(&mut []),
            ww.get(block * done..).unwrap_or(&[]),
        )
    } else {
        (row_a, row_b, ww)
    };
    let mut ra = row_a.chunks_exact_mut(2);
    let mut rb = row_b.chunks_exact_mut(2);
    for blk in ww.chunks_exact(block) {
        match (ra.next(), rb.next()) {
            (Some(a), Some(b)) => {
                let v = tile::mac_requant(xw, blk).map(|a| clamp.apply::<FULL>(a));
                a[0] = ep.apply(v[0], a[0]);
                a[1] = ep.apply(v[2], a[1]);
                b[0] = ep.apply(v[1], b[0]);
                b[1] = ep.apply(v[3], b[1]);
            }
            _ => {
                let (a, b) = (ra.into_remainder(), rb.into_remainder());
                last_channel::<FULL, E>(xw, blk, clamp, ep, a, b);
                break;
            }
        }
    }
    Ok(())
}

/// The odd last channel of a chunk (block `blk`, whose channel 1 is the
/// phantom): its lone output per pixel, into the first byte of `a` and
/// `b`. Out of line: inlined, its asm changes the register allocation of
/// the loop over whole pairs around it, which costs more than the call.
#[inline(never)]
fn last_channel<const FULL: bool, E: Epilogue>(
    xw: &[u32],
    blk: &[u32],
    clamp: Clamp,
    ep: &E,
    a: &mut [i8],
    b: &mut [i8],
) {
    let v = tile::mac_requant_one(xw, blk).map(|v| clamp.apply::<FULL>(v));
    if let (Some(a), Some(b)) = (a.first_mut(), b.first_mut()) {
        *a = ep.apply(v[0], *a);
        *b = ep.apply(v[1], *b);
    }
}

/// Four bytes of `bytes` from `at` as a little-endian word, zeros past the
/// end (the reduction's padding to a multiple of 4).
#[inline(always)]
fn word_at(bytes: &[i8], at: usize) -> u32 {
    match bytes.get(at..at + 4) {
        Some(q) => u32::from_le_bytes([q[0] as u8, q[1] as u8, q[2] as u8, q[3] as u8]),
        None => {
            let mut b = [0u8; 4];
            for (i, d) in b.iter_mut().enumerate() {
                *d = bytes.get(at + i).map_or(0, |&v| v as u8);
            }
            u32::from_le_bytes(b)
        }
    }
}

/// What building a pixel's patch needs.
struct PatchGeometry<'a> {
    input: &'a [i8],
    in_h: usize,
    in_w: usize,
    c: usize,
    kh: usize,
    kw: usize,
    stride_h: usize,
    stride_w: usize,
    dil_h: usize,
    dil_w: usize,
    pad_h: usize,
    pad_w: usize,
    /// `-input_offset` four times: the value of a padding tap.
    pad_word: u32,
    /// The reduction's layout (the filter's).
    layout: Layout,
}

impl<'a> PatchGeometry<'a> {
    fn new(p: &Params, input: View<'a>, fs: crate::kernels::Shape4, layout: Layout) -> Self {
        let pad = (-p.input_offset) as i8 as u8;
        Self {
            input: input.data,
            in_h: input.shape.h,
            in_w: input.shape.w,
            c: input.shape.c,
            kh: fs.h,
            kw: fs.w,
            stride_h: p.stride_h,
            stride_w: p.stride_w,
            dil_h: p.dilation_h,
            dil_w: p.dilation_w,
            pad_h: p.pad_h,
            pad_w: p.pad_w,
            pad_word: u32::from_le_bytes([pad; 4]),
            layout,
        }
    }

    /// The input bytes of tap `(fy, fx)` of pixel `px`, `None` in padding.
    #[inline(always)]
    fn tap(&self, px: Pixel, fy: usize, fx: usize) -> Option<usize> {
        let iy = (px.oy * self.stride_h + fy * self.dil_h).checked_sub(self.pad_h)?;
        let ix = (px.ox * self.stride_w + fx * self.dil_w).checked_sub(self.pad_w)?;
        if iy >= self.in_h || ix >= self.in_w {
            return None;
        }
        Some(((px.b * self.in_h + iy) * self.in_w + ix) * self.c)
    }

    /// Whether every output pixel's patch is the input pixel of the same
    /// index (1x1 over whole words, stride 1, no padding, input and output
    /// of one size): [`PatchGeometry::build_dense`] applies.
    fn dense(&self, os: crate::kernels::Shape4) -> bool {
        self.kind() == Build::Pointwise
            && (self.stride_h, self.stride_w, self.pad_h, self.pad_w) == (1, 1, 0, 0)
            && (self.in_h, self.in_w) == (os.h, os.w)
    }

    /// [`PatchGeometry::build_pointwise`] for a [`PatchGeometry::dense`]
    /// call: pixels `px` and `px + 1` (`px` again unless `two`) read
    /// input pixels `px` and `px + 1`, no pixel geometry needed.
    #[inline(always)]
    fn build_dense(&self, px: usize, two: bool, xw: &mut [u32]) -> Result<(), KernelError> {
        let at_a = px * self.c;
        let at_b = if two { at_a + self.c } else { at_a };
        let sa = self.input.get(at_a..at_a + self.c);
        let sb = self.input.get(at_b..at_b + self.c);
        let (Some(sa), Some(sb)) = (sa, sb) else {
            return Err(KernelError::Length);
        };
        let src = sa.chunks_exact(4).zip(sb.chunks_exact(4));
        for (d, (qa, qb)) in xw.chunks_exact_mut(4).zip(src) {
            let (wa0, wa1) = split(qa);
            let (wb0, wb1) = split(qb);
            d.copy_from_slice(&[wa0, wb0, wa1, wb1]);
        }
        Ok(())
    }

    /// The patch builder for this call's layout and filter.
    fn kind(&self) -> Build {
        match self.layout {
            Layout::Rows { .. } => Build::Rows,
            Layout::Flat { .. } if self.c % 4 == 0 && self.kh == 1 && self.kw == 1 => {
                Build::Pointwise
            }
            Layout::Flat { .. } if self.c % 4 == 0 => Build::Words,
            Layout::Flat { .. } => Build::Bytes,
        }
    }

    /// Writes the patches of pixels `a` and `b` into `xw` (groups of 4
    /// words, see the module doc) with the call's builder.
    #[inline(never)]
    fn build(
        &self,
        a: Pixel,
        b: Pixel,
        xw: &mut [u32],
        raw: &mut [[i8; MAX_K]; 2],
    ) -> Result<(), KernelError> {
        match self.kind() {
            Build::Rows => self.build_rows(a, b, xw, raw),
            Build::Pointwise => self.build_pointwise(a, b, xw),
            Build::Words => self.build_c4(a, b, xw),
            Build::Bytes => self.build_bytes(a, b, xw, raw),
        }
    }

    /// A 1x1 filter over whole words: each pixel's patch is its input pixel
    /// (or padding), converted word by word without the tap loop of
    /// [`PatchGeometry::build_c4`].
    #[inline(always)]
    fn build_pointwise(&self, a: Pixel, b: Pixel, xw: &mut [u32]) -> Result<(), KernelError> {
        let ta = self.source(self.tap(a, 0, 0))?;
        let tb = self.source(self.tap(b, 0, 0))?;
        let (Some(ta), Some(tb)) = (ta, tb) else {
            return self.build_c4(a, b, xw);
        };
        let src = ta.chunks_exact(4).zip(tb.chunks_exact(4));
        for (d, (qa, qb)) in xw.chunks_exact_mut(4).zip(src) {
            let (wa0, wa1) = split(qa);
            let (wb0, wb1) = split(qb);
            d.copy_from_slice(&[wa0, wb0, wa1, wb1]);
        }
        Ok(())
    }

    /// [`Layout::Rows`] for the common case, `Ok(false)` (nothing written)
    /// otherwise: both pixels on one output row (`b` right of `a`), every
    /// filter row inside the input and no tap in the left or right
    /// padding, so each pixel's patch row is `4 * words` input bytes from
    /// one start, found by adding strides instead of through
    /// [`PatchGeometry::row`]'s per-row checks.
    #[inline(always)]
    fn build_rows_inside(&self, a: Pixel, b: Pixel, xw: &mut [u32]) -> Result<bool, KernelError> {
        let Layout::Rows { words, .. } = self.layout else {
            return Ok(false);
        };
        if a.b != b.b || a.oy != b.oy || b.ox != a.ox + 1 {
            return Ok(false);
        }
        let top = (a.oy * self.stride_h).checked_sub(self.pad_h);
        let left = (a.ox * self.stride_w).checked_sub(self.pad_w);
        let (Some(iy), Some(ix)) = (top, left) else {
            return Ok(false);
        };
        if iy + (self.kh - 1) * self.dil_h >= self.in_h || ix + self.stride_w + self.kw > self.in_w
        {
            return Ok(false);
        }
        let at_a = ((a.b * self.in_h + iy) * self.in_w + ix) * self.c;
        let at_b = at_a + self.stride_w * self.c;
        let step = self.dil_h * self.in_w * self.c;
        let n = 4 * words;
        // The last row's bytes past `len` may lie past the input's end.
        let last = (self.kh - 1) * step;
        if self.input.len() < at_b + last + n {
            return Ok(false);
        }
        for (fy, dst) in xw.chunks_exact_mut(n).enumerate() {
            let (ra, rb) = (at_a + fy * step, at_b + fy * step);
            let sa = self.input.get(ra..ra + n).ok_or(KernelError::Length)?;
            let sb = self.input.get(rb..rb + n).ok_or(KernelError::Length)?;
            let src = sa.chunks_exact(4).zip(sb.chunks_exact(4));
            for (d, (qa, qb)) in dst.chunks_exact_mut(4).zip(src) {
                let (wa0, wa1) = split(qa);
                let (wb0, wb1) = split(qb);
                d.copy_from_slice(&[wa0, wb0, wa1, wb1]);
            }
        }
        Ok(true)
    }

    /// [`Layout::Rows`]: per filter row, each pixel's row is read from the
    /// input a word at a time (or is all padding, or, at the borders, is
    /// gathered tap by tap into `raw`).
    fn build_rows(
        &self,
        a: Pixel,
        b: Pixel,
        xw: &mut [u32],
        raw: &mut [[i8; MAX_K]; 2],
    ) -> Result<(), KernelError> {
        let Layout::Rows { len, words, .. } = self.layout else {
            return Err(KernelError::Length);
        };
        let [ra, rb] = raw;
        let mut rows = xw.chunks_exact_mut(4 * words);
        for fy in 0..self.kh {
            let dst = rows.next().ok_or(KernelError::Length)?;
            let sa = self.row(a, fy, len, words, ra)?;
            let sb = self.row(b, fy, len, words, rb)?;
            if let (Some(sa), Some(sb)) = (sa, sb) {
                let src = sa.chunks_exact(4).zip(sb.chunks_exact(4));
                for (d, (qa, qb)) in dst.chunks_exact_mut(4).zip(src) {
                    let (wa0, wa1) = split(qa);
                    let (wb0, wb1) = split(qb);
                    d[0] = wa0;
                    d[1] = wb0;
                    d[2] = wa1;
                    d[3] = wb1;
                }
            } else {
                for (q, d) in dst.chunks_exact_mut(4).enumerate() {
                    let wa = sa.map_or(self.pad_word, |s| word_at(s, q * 4));
                    let wb = sb.map_or(self.pad_word, |s| word_at(s, q * 4));
                    d[0] = sxtb16(wa);
                    d[1] = sxtb16(wb);
                    d[2] = sxtb16_ror8(wa);
                    d[3] = sxtb16_ror8(wb);
                }
            }
        }
        Ok(())
    }

    /// Filter row `fy` of pixel `px`'s patch for [`Layout::Rows`]: `None`
    /// when the row is in the padding; else `4 * words` bytes whose first
    /// `len` are the row's values (the rest meet zero weights): the input
    /// from the row's first value on, or `buf` filled tap by tap when the
    /// row is partly in the left or right padding or ends the input.
    #[inline(always)]
    fn row<'s>(
        &'s self,
        px: Pixel,
        fy: usize,
        len: usize,
        words: usize,
        buf: &'s mut [i8; MAX_K],
    ) -> Result<Option<&'s [i8]>, KernelError> {
        let Some(iy) = (px.oy * self.stride_h + fy * self.dil_h)
            .checked_sub(self.pad_h)
            .filter(|&iy| iy < self.in_h)
        else {
            return Ok(None);
        };
        let x = px.ox * self.stride_w;
        let base = (px.b * self.in_h + iy) * self.in_w;
        let inside = x
            .checked_sub(self.pad_w)
            .filter(|&ix| ix + self.kw <= self.in_w);
        if let Some(ix) = inside {
            let at = (base + ix) * self.c;
            if let Some(s) = self.input.get(at..at + 4 * words) {
                return Ok(Some(s));
            }
        }
        let pad = self.pad_word as u8 as i8;
        let d = buf.get_mut(..len).ok_or(KernelError::Length)?;
        for (fx, t) in d.chunks_exact_mut(self.c).enumerate() {
            match (x + fx)
                .checked_sub(self.pad_w)
                .filter(|&ix| ix < self.in_w)
            {
                Some(ix) => {
                    let at = (base + ix) * self.c;
                    let s = self.input.get(at..at + self.c);
                    t.copy_from_slice(s.ok_or(KernelError::Length)?);
                }
                None => t.fill(pad),
            }
        }
        buf.get(..4 * words).map(Some).ok_or(KernelError::Length)
    }

    /// Channels a multiple of 4: every tap is whole groups, converted
    /// straight from the input.
    fn build_c4(&self, a: Pixel, b: Pixel, xw: &mut [u32]) -> Result<(), KernelError> {
        let mut dst = xw.chunks_exact_mut(4);
        let (pa, pb) = (sxtb16(self.pad_word), sxtb16_ror8(self.pad_word));
        for fy in 0..self.kh {
            for fx in 0..self.kw {
                let ta = self.source(self.tap(a, fy, fx))?;
                let tb = self.source(self.tap(b, fy, fx))?;
                let mut qa = ta.map(|s| s.chunks_exact(4));
                let mut qb = tb.map(|s| s.chunks_exact(4));
                for _ in 0..self.c / 4 {
                    let d = dst.next().ok_or(KernelError::Length)?;
                    let (wa0, wa1) = match qa.as_mut().and_then(Iterator::next) {
                        Some(q) => split(q),
                        None => (pa, pb),
                    };
                    let (wb0, wb1) = match qb.as_mut().and_then(Iterator::next) {
                        Some(q) => split(q),
                        None => (pa, pb),
                    };
                    d[0] = wa0;
                    d[1] = wb0;
                    d[2] = wa1;
                    d[3] = wb1;
                }
            }
        }
        Ok(())
    }

    /// Any channel count: gather bytes, then convert.
    fn build_bytes(
        &self,
        a: Pixel,
        b: Pixel,
        xw: &mut [u32],
        raw: &mut [[i8; MAX_K]; 2],
    ) -> Result<(), KernelError> {
        let pad = self.pad_word as u8 as i8;
        for (slot, px) in [a, b].into_iter().enumerate() {
            let dst = raw.get_mut(slot).ok_or(KernelError::Length)?;
            let mut k = 0;
            for fy in 0..self.kh {
                for fx in 0..self.kw {
                    let d = dst.get_mut(k..k + self.c).ok_or(KernelError::Length)?;
                    match (self.source(self.tap(px, fy, fx))?, d) {
                        // One channel (a first layer): no copy loop.
                        (Some([s]), [d]) => *d = *s,
                        (Some(s), d) if s.len() == d.len() => d.copy_from_slice(s),
                        (Some(_), _) => return Err(KernelError::Length),
                        (None, d) => d.fill(pad),
                    }
                    k += self.c;
                }
            }
        }
        let [ra, rb] = &*raw;
        for (g, d) in xw.chunks_exact_mut(4).enumerate() {
            let (wa, wb) = (word_at(ra, g * 4), word_at(rb, g * 4));
            d[0] = sxtb16(wa);
            d[1] = sxtb16(wb);
            d[2] = sxtb16_ror8(wa);
            d[3] = sxtb16_ror8(wb);
        }
        Ok(())
    }

    /// The `c` input bytes at `at`, or `None` for a padding tap.
    #[inline(always)]
    fn source(&self, at: Option<usize>) -> Result<Option<&'a [i8]>, KernelError> {
        match at {
            Some(i) => self
                .input
                .get(i..i + self.c)
                .map(Some)
                .ok_or(KernelError::Length),
            None => Ok(None),
        }
    }
}

/// A 4-byte chunk as its two pair words.
#[inline(always)]
fn split(q: &[i8]) -> (u32, u32) {
    let w = match q {
        [a, b, c, d] => u32::from_le_bytes([*a as u8, *b as u8, *c as u8, *d as u8]),
        _ => 0,
    };
    (sxtb16(w), sxtb16_ror8(w))
}

#[cfg(test)]
pub(crate) mod tests {
    use super::super::super::testutil::*;
    use super::super::epilogue::Store;
    use super::*;
    use crate::kernels::conv2d::{eval_portable, prepare, Options};
    use crate::kernels::{Activation, Padding, Quant, Shape4};
    use proptest::prelude::*;

    type Case = ConvCase<Params>;

    /// Geometry across what the fast path distinguishes: 1x1 and 3x3 (and
    /// other) filters, strides up to `max_stride`, dilations 1 and 2,
    /// SAME/VALID padding, channel counts with and without a multiple of 4,
    /// odd output channels, reductions long enough to split the filter into
    /// several chunks; a random clamp. Also the fused conv's test geometry.
    pub(crate) fn geometry(
        max_stride: usize,
    ) -> impl Strategy<Value = (Shape4, Shape4, Shape4, Params)> {
        (
            (1usize..=2, 1usize..=10, 1usize..=10),
            prop_oneof![1usize..=4, Just(8), Just(16), 5usize..=33],
            (1usize..=40, 1usize..=3, 1usize..=3),
            (
                1usize..=max_stride,
                1usize..=max_stride,
                1usize..=2,
                1usize..=2,
                any::<bool>(),
            ),
            (zero_point(), zero_point(), clamp_range()),
        )
            .prop_filter_map(
                "valid geometry",
                |((n, h, w), c, (oc, kh, kw), (sh, sw, dh, dw, same), (zi, zo, act))| {
                    let input = Shape4::new(n, h, w, c);
                    let filter = Shape4::new(oc, kh, kw, c);
                    let opts = Options {
                        padding: if same { Padding::Same } else { Padding::Valid },
                        stride_h: sh,
                        stride_w: sw,
                        dilation_h: dh,
                        dilation_w: dw,
                        activation: Activation::None,
                    };
                    let (mut p, output) = prepare(
                        &opts,
                        input,
                        filter,
                        Quant::new(0.1, zi),
                        Quant::new(0.1, zo),
                    )
                    .ok()?;
                    if output.h == 0 || output.w == 0 {
                        return None;
                    }
                    (p.act_min, p.act_max) = act;
                    Some((input, filter, output, p))
                },
            )
    }

    fn case() -> impl Strategy<Value = Case> {
        geometry(3).prop_flat_map(|(input, filter, output, p)| {
            conv_case(input, filter, output, p, filter.n)
        })
    }

    /// The fast path with the plain store, in the shared runner's signature.
    fn eval_store(
        p: &Params,
        input: View<'_>,
        filter: View<'_>,
        bias: Option<I32s<'_>>,
        quant: PerChannel<'_>,
        output: ViewMut<'_>,
    ) -> Result<bool, KernelError> {
        eval(p, input, filter, bias, quant, output, &Store)
    }

    /// Runs the fast path (`Ok(None)` when it declines) and the portable one.
    fn run(c: &Case) -> (Option<Vec<i8>>, Vec<i8>) {
        run_fast_and_portable(c, eval_store, eval_portable)
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(400))]
        #[test]
        fn fast_conv_is_bit_exact(c in case()) {
            let k = c.filter.h * c.filter.w * c.filter.c;
            let (fast, slow) = run(&c);
            // It declines only for long reductions or large right or left
            // shifts: with `k <= 256` and `|bias| <= 2^20` the accumulator
            // bound `|bias| + 255 * 128 * k` shifted left by 7 fits `i32`.
            if k <= 256 && shifts_within(&c.shift, 6) {
                prop_assert!(fast.is_some(), "declined");
            }
            if let Some(fast) = fast {
                prop_assert_eq!(fast, slow);
            }
        }
    }

    /// The issue's layer shapes and the shipped models' first layers
    /// (3 channels, 3x3, strides 1 and 2; smaller spatially) take the fast
    /// path.
    #[test]
    fn issue_shapes_take_the_fast_path() {
        for (c, oc, k, stride) in [
            (8, 16, 3, 1),
            (16, 32, 1, 1),
            (1, 8, 3, 2),
            (3, 4, 3, 1),
            (3, 8, 3, 2),
        ] {
            let input = Shape4::new(1, 12, 12, c);
            let filter = Shape4::new(oc, k, k, c);
            let opts = Options {
                padding: Padding::Same,
                stride_h: stride,
                stride_w: stride,
                dilation_h: 1,
                dilation_w: 1,
                activation: Activation::Relu,
            };
            let (p, output) = prepare(
                &opts,
                input,
                filter,
                Quant::new(0.02, -3),
                Quant::new(0.05, 5),
            )
            .unwrap();
            let n = |s: Shape4| s.elements().unwrap();
            let case = Case {
                input,
                filter,
                output,
                p,
                x: (0..n(input)).map(|i| (i * 37 % 256) as u8 as i8).collect(),
                w: (0..n(filter)).map(|i| (i * 91 % 255) as u8 as i8).collect(),
                bias: Some((0..oc).map(|i| i as i32 * 1000 - 7000).collect()),
                mult: (0..oc).map(|i| (1 << 30) + i as i32 * 12345).collect(),
                shift: (0..oc).map(|i| -(i as i32 % 9) - 1).collect(),
            };
            let (fast, slow) = run(&case);
            assert_eq!(fast.as_ref(), Some(&slow));
            assert!(slow.iter().any(|&v| v != slow[0]), "degenerate output");
        }
    }
}
