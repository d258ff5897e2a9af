//! A parsed, fully validated model: read zero-copy from a blob.
//!
//! [`Model::parse`] checks every field before returning, so the accessors and
//! [`crate::Session::run`] can rely on offsets being in bounds and the memory
//! plan being sound. The accessors still return `Result` rather than
//! trusting that, so a bug can only ever surface as an error.
use crate::crc32::crc32;
use crate::dispatch;
use crate::error::{Error, OpError, PlanError, Result, Section, TensorError};
use crate::format::bytes::{f32_at, i32_at, offset, u16_at, u32_at, u8_at};
use crate::format::layout::{self, dir, limits, op as of};
use crate::format::tensor::{self, Storage, TensorErrorOr, TensorInfo};
use crate::format::{Head, OpCode};

/// How a tensor came to share its bytes with the tensor it was written over.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Link {
    /// An in-place RESHAPE: the same values under another shape.
    Reshape,
    /// An op that overwrote an input dying at it.
    InPlace,
    /// A convolution whose output grew over the top rows of its data input,
    /// dying at it (`crate::bands`).
    Rows,
}

/// One op record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct OpInfo {
    pub code: OpCode,
    /// Number of input tensors.
    pub inputs: u8,
    /// Number of output tensors.
    pub outputs: u8,
    index: u32,
    word_index: u32,
    word_count: u32,
}

impl OpInfo {
    /// Number of parameter words.
    pub fn word_count(&self) -> usize {
        self.word_count as usize
    }
}

/// A validated model. Cheap to copy: it is the blob slice plus the directory.
#[derive(Debug, Clone, Copy)]
pub struct Model<'a> {
    bytes: &'a [u8],
    arena_size: u32,
    arena_align: u32,
    tensor_count: u16,
    op_count: u16,
    input_count: u16,
    output_count: u16,
    tensor_table: u32,
    op_table: u32,
    index_pool: u32,
    index_count: u32,
    word_pool: u32,
    word_count: u32,
    scale_pool: u32,
    scale_count: u32,
    const_offset: u32,
    const_len: u32,
    graph_io: u32,
    head: Head,
}

impl<'a> Model<'a> {
    /// Parses and validates a blob. Bytes after the body (flash padding) are
    /// ignored. Nothing is copied: the model borrows `bytes`.
    pub fn parse(bytes: &'a [u8]) -> Result<Model<'a>> {
        let model = Self::parse_structure(bytes)?;
        model.check_tensors()?;
        model.check_graph_io()?;
        model.check_ops()?;
        model.check_lifetimes()?;
        model.check_plan()?;
        Ok(model)
    }

    /// Header, CRC, directory and section bounds.
    fn parse_structure(bytes: &'a [u8]) -> Result<Model<'a>> {
        let len = u32::try_from(bytes.len()).unwrap_or(u32::MAX);
        let truncated = |needed: usize| Error::Truncated {
            needed: u32::try_from(needed).unwrap_or(u32::MAX),
            len,
        };
        if bytes.len() < layout::PREFIX_LEN {
            return Err(truncated(layout::PREFIX_LEN));
        }
        let h = Section::Header;
        if bytes.get(0..4) != Some(&layout::MAGIC[..]) {
            return Err(Error::Magic);
        }
        let version = u16_at(bytes, 4, h)?;
        if version != layout::VERSION {
            return Err(Error::Version(version));
        }
        let flags = u16_at(bytes, 6, h)?;
        if flags != 0 {
            return Err(Error::Flags(flags));
        }
        let body_len = u32_at(bytes, 8, h)? as usize;
        let total = layout::PREFIX_LEN
            .checked_add(body_len)
            .ok_or(truncated(usize::MAX))?;
        let bytes = bytes.get(..total).ok_or(truncated(total))?;
        if total < layout::HEADER_LEN {
            return Err(Error::Bounds(h));
        }
        let stored = u32_at(bytes, 12, h)?;
        let computed = crc32(bytes.get(layout::PREFIX_LEN..).unwrap_or(&[]));
        if stored != computed {
            return Err(Error::Crc { stored, computed });
        }

        let r32 = |o| u32_at(bytes, o, h);
        let r16 = |o| u16_at(bytes, o, h);
        let head_code = r32(dir::HEAD)?;
        let head = Head::from_code(head_code).ok_or(Error::Head(head_code))?;
        let m = Model {
            bytes,
            arena_size: r32(dir::ARENA_SIZE)?,
            arena_align: r32(dir::ARENA_ALIGN)?,
            tensor_count: r16(dir::TENSOR_COUNT)?,
            op_count: r16(dir::OP_COUNT)?,
            input_count: r16(dir::INPUT_COUNT)?,
            output_count: r16(dir::OUTPUT_COUNT)?,
            tensor_table: r32(dir::TENSOR_TABLE)?,
            op_table: r32(dir::OP_TABLE)?,
            index_pool: r32(dir::INDEX_POOL)?,
            index_count: r32(dir::INDEX_COUNT)?,
            word_pool: r32(dir::WORD_POOL)?,
            word_count: r32(dir::WORD_COUNT)?,
            scale_pool: r32(dir::SCALE_POOL)?,
            scale_count: r32(dir::SCALE_COUNT)?,
            const_offset: r32(dir::CONST_OFFSET)?,
            const_len: r32(dir::CONST_LEN)?,
            graph_io: r32(dir::GRAPH_IO)?,
            head,
        };
        let align = m.arena_align;
        if !align.is_power_of_two()
            || !(layout::MIN_ARENA_ALIGN..=layout::MAX_ARENA_ALIGN).contains(&align)
        {
            return Err(Error::Plan(PlanError::Alignment(align)));
        }
        let limit = |count: usize, max: usize, s| {
            if count > max {
                Err(Error::Limit(s))
            } else {
                Ok(())
            }
        };
        limit(
            usize::from(m.tensor_count),
            limits::MAX_TENSORS,
            Section::TensorTable,
        )?;
        limit(usize::from(m.op_count), limits::MAX_OPS, Section::OpTable)?;
        limit(
            m.scale_count as usize,
            limits::MAX_SCALES,
            Section::ScalePool,
        )?;
        let max_index = limits::MAX_OPS * (limits::MAX_OP_INPUTS + limits::MAX_OP_OUTPUTS)
            + 2 * limits::MAX_GRAPH_IO;
        limit(m.index_count as usize, max_index, Section::IndexPool)?;
        limit(
            m.word_count as usize,
            limits::MAX_OPS * limits::MAX_OP_WORDS,
            Section::WordPool,
        )?;

        let section = |start: u32, count: u32, size: usize, align: usize, s: Section| {
            let start_u = start as usize;
            let end = offset(start, count, size, s)?;
            if start_u < layout::HEADER_LEN || end > total {
                return Err(Error::Bounds(s));
            }
            if start_u % align != 0 {
                return Err(Error::Align(s));
            }
            Ok(())
        };
        section(
            m.tensor_table,
            u32::from(m.tensor_count),
            layout::TENSOR_RECORD,
            4,
            Section::TensorTable,
        )?;
        section(
            m.op_table,
            u32::from(m.op_count),
            layout::OP_RECORD,
            4,
            Section::OpTable,
        )?;
        section(m.index_pool, m.index_count, 2, 2, Section::IndexPool)?;
        section(m.word_pool, m.word_count, 4, 4, Section::WordPool)?;
        section(m.scale_pool, m.scale_count, 4, 4, Section::ScalePool)?;
        section(
            m.const_offset,
            m.const_len,
            1,
            layout::CONST_ALIGN,
            Section::Constants,
        )?;
        Ok(m)
    }

    fn tensor_bounds(&self) -> tensor::Bounds {
        tensor::Bounds {
            arena_size: self.arena_size,
            arena_align: self.arena_align,
            const_start: self.const_offset as usize,
            const_end: (self.const_offset as usize).saturating_add(self.const_len as usize),
            scale_count: self.scale_count,
            last_time: self.op_count.saturating_add(1),
        }
    }

    fn check_tensors(&self) -> Result<()> {
        for i in 0..self.tensor_count {
            let t = self.tensor(i)?;
            if let tensor::Quant::PerChannel { index, count, .. } = t.quant {
                for c in 0..count {
                    let s = self.scale_at(index.saturating_add(c))?;
                    if !(s.is_finite() && s > 0.0) {
                        return Err(Error::Tensor {
                            index: i,
                            error: TensorError::Quantization,
                        });
                    }
                }
            }
        }
        Ok(())
    }

    fn check_graph_io(&self) -> Result<()> {
        let io = usize::from(limits::MAX_GRAPH_IO as u16);
        for (output, count) in [(false, self.input_count), (true, self.output_count)] {
            if count == 0 || usize::from(count) > io {
                return Err(Error::GraphIo {
                    output,
                    index: count,
                });
            }
            for k in 0..count {
                let bad = Error::GraphIo { output, index: k };
                let t = self.io_tensor_index(output, k)?;
                let info = self.tensor(t).map_err(|_| bad)?;
                let (first, last) = info.lifetime().ok_or(bad)?;
                let ok = if output {
                    last == self.op_count.saturating_add(1)
                } else {
                    first == 0
                };
                if !ok {
                    return Err(bad);
                }
                // A tensor listed twice among the inputs (or outputs) would be
                // ambiguous for the caller.
                for j in 0..k {
                    if self.io_tensor_index(output, j)? == t {
                        return Err(bad);
                    }
                }
            }
        }
        Ok(())
    }

    fn check_ops(&self) -> Result<()> {
        for k in 0..self.op_count {
            let op = self.op(k)?;
            let err = |error| Error::Op { index: k, error };
            let time = k.saturating_add(1);
            for i in 0..op.inputs {
                let t = self.op_tensor_index(&op, i)?;
                let info = self.tensor(t).map_err(|_| err(OpError::TensorIndex(t)))?;
                if let Some((first, last)) = info.lifetime() {
                    if first >= time || last < time {
                        return Err(err(OpError::NotReady(t)));
                    }
                }
            }
            for o in 0..op.outputs {
                let t = self.op_tensor_index(&op, op.inputs.saturating_add(o))?;
                let info = self.tensor(t).map_err(|_| err(OpError::TensorIndex(t)))?;
                match info.lifetime() {
                    Some((first, _)) if first == time => {}
                    _ => return Err(err(OpError::BadOutput(t))),
                }
            }
            dispatch::check(self, k).map_err(err)?;
            self.check_op_overlap(k, &op)?;
        }
        Ok(())
    }

    /// Every activation's `first` time is when it is really written: by the
    /// caller (a graph input) at time 0, or by op `first - 1`.
    fn check_lifetimes(&self) -> Result<()> {
        for i in 0..self.tensor_count {
            let Some((first, _)) = self.tensor(i)?.lifetime() else {
                continue;
            };
            let written = if first == 0 {
                (0..self.input_count).any(|k| self.io_tensor_index(false, k) == Ok(i))
            } else {
                let op = self.op(first.saturating_sub(1))?;
                (0..op.outputs)
                    .any(|o| self.op_tensor_index(&op, op.inputs.saturating_add(o)) == Ok(i))
            };
            if !written {
                return Err(Error::Tensor {
                    index: i,
                    error: TensorError::Lifetime,
                });
            }
        }
        Ok(())
    }

    /// The tensor whose bytes `t` shares because the op that wrote `t` did
    /// so in place, and how: a RESHAPE (same values, the source may live on)
    /// or an op that overwrote an input dying at it (see
    /// `dispatch::may_overwrite`; the source's last use is `t`'s first).
    fn alias_parent(&self, t: &TensorInfo) -> Option<(u16, Link)> {
        let Storage::Arena { offset, first, .. } = t.storage else {
            return None;
        };
        let op = self.op(first.checked_sub(1)?).ok()?;
        let same_bytes = |i: u8| -> Option<(u16, TensorInfo)> {
            let src_index = self.op_tensor_index(&op, i).ok()?;
            let src = self.tensor(src_index).ok()?;
            match src.storage {
                Storage::Arena { offset: o, .. } if o == offset && src.byte_len == t.byte_len => {
                    Some((src_index, src))
                }
                _ => None,
            }
        };
        if op.code == OpCode::Reshape {
            if op.inputs == 0 {
                return None;
            }
            return same_bytes(0).map(|(i, _)| (i, Link::Reshape));
        }
        let in_place = (0..op.inputs).find_map(|i| {
            let (src_index, src) = same_bytes(i)?;
            let dies_here = src.lifetime().is_some_and(|(_, last)| last == first);
            (dies_here && dispatch::may_overwrite(self, &op, i))
                .then_some((src_index, Link::InPlace))
        });
        in_place.or_else(|| {
            let src_index = self.row_overwritten(first.checked_sub(1)?)?;
            Some((src_index, Link::Rows))
        })
    }

    /// The data input op `k` writes its output over the top rows of
    /// (`crate::bands`): its input 0 when the output overlaps it, starts
    /// before it at a gap the rows fit, and the input dies at this op.
    fn row_overwritten(&self, k: u16) -> Option<u16> {
        let ops = dispatch::Operands::load(self, k).ok()?;
        dispatch::row_overwrite(&ops).ok()??;
        let src_index = self.op_tensor_index(&ops.op, 0).ok()?;
        let dies_here = ops.input(0).ok()?.lifetime().map(|(_, last)| last)
            == ops.output.lifetime().map(|(first, _)| first);
        dies_here.then_some(src_index)
    }

    /// The first tensor of a chain of in-place writes ending at `i` (only
    /// through RESHAPEs when `reshape_only`). Every link walked is taken
    /// from `budget`, which bounds the plan check's total work on a hostile
    /// blob (long aliased chains whose members all overlap would otherwise
    /// cost tensors² × chain length).
    fn alias_root(&self, mut i: u16, reshape_only: bool, budget: &mut u32) -> Result<u16> {
        loop {
            match self.alias_parent(&self.tensor(i)?) {
                Some((parent, link)) if !reshape_only || link == Link::Reshape => {
                    *budget = budget
                        .checked_sub(1)
                        .ok_or(Error::Limit(Section::TensorTable))?;
                    i = parent;
                }
                _ => return Ok(i),
            }
        }
    }

    /// No two activations alive at the same time share a byte, except
    /// tensors written in place over one another: views of the same values
    /// (RESHAPE chains) at any time, and otherwise (an op overwrote an
    /// input) only at the single step where one's life ends as the other's
    /// begins.
    fn check_plan(&self) -> Result<()> {
        let mut max_end = 0usize;
        let mut budget = limits::MAX_ALIAS_STEPS;
        for a in 0..self.tensor_count {
            let ta = self.tensor(a)?;
            let (Some((a0, a1)), Some((fa, la))) = (ta.arena_range(), ta.lifetime()) else {
                continue;
            };
            max_end = max_end.max(a1);
            let mut roots_a = None;
            for b in a.saturating_add(1)..self.tensor_count {
                let tb = self.tensor(b)?;
                let (Some((b0, b1)), Some((fb, lb))) = (tb.arena_range(), tb.lifetime()) else {
                    continue;
                };
                let bytes_overlap = a0 < b1 && b0 < a1;
                let times_overlap = fa <= lb && fb <= la;
                if !(bytes_overlap && times_overlap) {
                    continue;
                }
                // The common cases, one in-place write, need no walk (an
                // in-place parent always dies where its child begins).
                let pa = self.alias_parent(&ta).map(|(p, _)| p);
                if self.alias_parent(&tb).map(|(p, _)| p) == Some(a) || pa == Some(b) {
                    continue;
                }
                let (ra_values, ra_bytes) = match roots_a {
                    Some(r) => r,
                    None => *roots_a.insert((
                        self.alias_root(a, true, &mut budget)?,
                        self.alias_root(a, false, &mut budget)?,
                    )),
                };
                let same_values = ra_values == self.alias_root(b, true, &mut budget)?;
                let handover =
                    (la == fb || lb == fa) && ra_bytes == self.alias_root(b, false, &mut budget)?;
                if !(same_values || handover) {
                    return Err(Error::Plan(PlanError::Overlap { a, b }));
                }
            }
        }
        let align = self.arena_align as usize;
        let limit = max_end
            .checked_next_multiple_of(align)
            .ok_or(Error::Plan(PlanError::ArenaSize(self.arena_size)))?;
        if self.arena_size as usize > limit {
            return Err(Error::Plan(PlanError::ArenaSize(self.arena_size)));
        }
        Ok(())
    }

    /// An op's output shares bytes with none of its activation inputs,
    /// except one input it may overwrite placed exactly on it, or a
    /// convolution's data input whose top rows it grows over
    /// (`crate::bands`) (RESHAPE aside, whose in-place form is checked by
    /// [`Model::check_plan`]).
    fn check_op_overlap(&self, k: u16, op: &OpInfo) -> Result<()> {
        if op.code == OpCode::Reshape {
            return Ok(());
        }
        let out_index = self.op_tensor_index(op, op.inputs)?;
        let Some((o0, o1)) = self.tensor(out_index)?.arena_range() else {
            return Ok(());
        };
        let mut written_over = false;
        for i in 0..op.inputs {
            let t = self.op_tensor_index(op, i)?;
            let Some((s0, s1)) = self.tensor(t)?.arena_range() else {
                continue;
            };
            if s1 <= o0 || s0 >= o1 {
                continue;
            }
            let in_place = (s0, s1) == (o0, o1) && dispatch::may_overwrite(self, op, i);
            let rows = i == 0 && self.row_overwritten(k) == Some(t);
            let allowed = (in_place || rows)
                && !written_over
                && self.alias_parent(&self.tensor(out_index)?).map(|(p, _)| p) == Some(t);
            if !allowed {
                return Err(Error::Plan(PlanError::Overlap { a: t, b: out_index }));
            }
            written_over = true;
        }
        Ok(())
    }

    // ---- accessors -------------------------------------------------------

    /// What output 0 means (the directory's `head` field).
    pub fn head(&self) -> Head {
        self.head
    }

    /// Bytes of arena the model needs.
    pub fn arena_size(&self) -> usize {
        self.arena_size as usize
    }

    /// Alignment the arena's start address must have.
    pub fn arena_align(&self) -> usize {
        self.arena_align as usize
    }

    /// Number of tensors in the tensor table.
    pub fn tensor_count(&self) -> usize {
        usize::from(self.tensor_count)
    }

    /// Number of ops.
    pub fn op_count(&self) -> usize {
        usize::from(self.op_count)
    }

    /// Number of graph inputs.
    pub fn input_count(&self) -> usize {
        usize::from(self.input_count)
    }

    /// Number of graph outputs.
    pub fn output_count(&self) -> usize {
        usize::from(self.output_count)
    }

    /// Total bytes of constant data (weights, biases, multipliers).
    pub fn constant_bytes(&self) -> usize {
        self.const_len as usize
    }

    /// The blob bytes this model reads (header and body).
    pub fn bytes(&self) -> &'a [u8] {
        self.bytes
    }

    /// Tensor `i`'s record.
    pub fn tensor(&self, i: u16) -> Result<TensorInfo> {
        if i >= self.tensor_count {
            return Err(Error::Tensor {
                index: i,
                error: TensorError::Code,
            });
        }
        let at = offset(
            self.tensor_table,
            u32::from(i),
            layout::TENSOR_RECORD,
            Section::TensorTable,
        )?;
        tensor::read(self.bytes, at, &self.tensor_bounds()).map_err(|e| match e {
            TensorErrorOr::Tensor(error) => Error::Tensor { index: i, error },
            TensorErrorOr::Other(e) => e,
        })
    }

    /// The constant bytes of a constant tensor (empty for activations).
    pub fn constant(&self, t: &TensorInfo) -> Result<&'a [u8]> {
        match t.storage {
            Storage::Constant { offset } => {
                let start = offset as usize;
                let end = start
                    .checked_add(t.byte_len as usize)
                    .ok_or(Error::Bounds(Section::Constants))?;
                self.bytes
                    .get(start..end)
                    .ok_or(Error::Bounds(Section::Constants))
            }
            Storage::Arena { .. } => Ok(&[]),
        }
    }

    fn scale_at(&self, index: u32) -> Result<f32> {
        if index >= self.scale_count {
            return Err(Error::Bounds(Section::ScalePool));
        }
        f32_at(
            self.bytes,
            offset(self.scale_pool, index, 4, Section::ScalePool)?,
            Section::ScalePool,
        )
    }

    /// Scale of channel `c` of a per-channel tensor (its per-tensor scale otherwise).
    pub fn channel_scale(&self, t: &TensorInfo, c: u32) -> Result<f32> {
        match t.quant {
            tensor::Quant::PerChannel { index, count, .. } if c < count => {
                self.scale_at(index.saturating_add(c))
            }
            tensor::Quant::PerChannel { .. } => Err(Error::Bounds(Section::ScalePool)),
            _ => Ok(t.scale()),
        }
    }

    fn index_at(&self, i: u32) -> Result<u16> {
        if i >= self.index_count {
            return Err(Error::Bounds(Section::IndexPool));
        }
        u16_at(
            self.bytes,
            offset(self.index_pool, i, 2, Section::IndexPool)?,
            Section::IndexPool,
        )
    }

    fn io_tensor_index(&self, output: bool, k: u16) -> Result<u16> {
        let base = if output {
            self.graph_io.checked_add(u32::from(self.input_count))
        } else {
            Some(self.graph_io)
        };
        let i = base
            .and_then(|b| b.checked_add(u32::from(k)))
            .ok_or(Error::GraphIo { output, index: k })?;
        self.index_at(i)
            .map_err(|_| Error::GraphIo { output, index: k })
    }

    /// Tensor index of graph input `k`.
    pub fn input_index(&self, k: usize) -> Result<u16> {
        let k = u16::try_from(k).map_err(|_| Error::NoSuchIo(u16::MAX))?;
        if k >= self.input_count {
            return Err(Error::NoSuchIo(k));
        }
        self.io_tensor_index(false, k)
    }

    /// Tensor index of graph output `k`.
    pub fn output_index(&self, k: usize) -> Result<u16> {
        let k = u16::try_from(k).map_err(|_| Error::NoSuchIo(u16::MAX))?;
        if k >= self.output_count {
            return Err(Error::NoSuchIo(k));
        }
        self.io_tensor_index(true, k)
    }

    /// Graph input `k`'s tensor.
    pub fn input(&self, k: usize) -> Result<TensorInfo> {
        self.tensor(self.input_index(k)?)
    }

    /// Graph output `k`'s tensor.
    pub fn output(&self, k: usize) -> Result<TensorInfo> {
        self.tensor(self.output_index(k)?)
    }

    /// Every graph input's tensor, in order.
    pub fn inputs(&self) -> impl Iterator<Item = TensorInfo> + '_ {
        (0..self.input_count()).filter_map(|k| self.input(k).ok())
    }

    /// Every graph output's tensor, in order.
    pub fn outputs(&self) -> impl Iterator<Item = TensorInfo> + '_ {
        (0..self.output_count()).filter_map(|k| self.output(k).ok())
    }

    /// Op `k`'s record, with its counts and pool ranges checked.
    pub fn op(&self, k: u16) -> Result<OpInfo> {
        let err = |error| Error::Op { index: k, error };
        if k >= self.op_count {
            return Err(err(OpError::Bounds));
        }
        let at = offset(
            self.op_table,
            u32::from(k),
            layout::OP_RECORD,
            Section::OpTable,
        )?;
        let s = Section::OpTable;
        let raw = u16_at(self.bytes, at.saturating_add(of::CODE), s)?;
        let code = OpCode::from_code(raw).ok_or(err(OpError::Code(raw)))?;
        let inputs = u8_at(self.bytes, at.saturating_add(of::INPUTS), s)?;
        let outputs = u8_at(self.bytes, at.saturating_add(of::OUTPUTS), s)?;
        if usize::from(inputs) > limits::MAX_OP_INPUTS
            || usize::from(outputs) > limits::MAX_OP_OUTPUTS
            || outputs == 0
        {
            return Err(err(OpError::Arity));
        }
        let index = u32_at(self.bytes, at.saturating_add(of::INDEX), s)?;
        let word_index = u32_at(self.bytes, at.saturating_add(of::WORD_INDEX), s)?;
        let word_count = u32_at(self.bytes, at.saturating_add(of::WORD_COUNT), s)?;
        let io = u32::from(inputs) + u32::from(outputs);
        let io_end = index.checked_add(io).ok_or(err(OpError::Bounds))?;
        let word_end = word_index
            .checked_add(word_count)
            .ok_or(err(OpError::Bounds))?;
        if io_end > self.index_count
            || word_end > self.word_count
            || word_count as usize > limits::MAX_OP_WORDS
        {
            return Err(err(OpError::Bounds));
        }
        Ok(OpInfo {
            code,
            inputs,
            outputs,
            index,
            word_index,
            word_count,
        })
    }

    /// Tensor index of the op's `i`-th tensor (inputs first, then outputs).
    pub fn op_tensor_index(&self, op: &OpInfo, i: u8) -> Result<u16> {
        if u32::from(i) >= u32::from(op.inputs) + u32::from(op.outputs) {
            return Err(Error::Internal);
        }
        self.index_at(op.index.saturating_add(u32::from(i)))
    }

    /// Tensor index of the op's input `i`.
    pub fn op_input(&self, op: &OpInfo, i: u8) -> Result<u16> {
        if i >= op.inputs {
            return Err(Error::Internal);
        }
        self.op_tensor_index(op, i)
    }

    /// Tensor index of the op's output `i`.
    pub fn op_output(&self, op: &OpInfo, i: u8) -> Result<u16> {
        if i >= op.outputs {
            return Err(Error::Internal);
        }
        self.op_tensor_index(op, op.inputs.saturating_add(i))
    }

    /// The op's parameter words, as the bytes of little-endian `i32`s.
    pub fn op_word_bytes(&self, op: &OpInfo) -> Result<&'a [u8]> {
        let start = offset(self.word_pool, op.word_index, 4, Section::WordPool)?;
        let end = offset(0, op.word_count, 4, Section::WordPool)?
            .checked_add(start)
            .ok_or(Error::Bounds(Section::WordPool))?;
        self.bytes
            .get(start..end)
            .ok_or(Error::Bounds(Section::WordPool))
    }

    /// Multiply-accumulates op `k` performs (0 for data movement).
    pub fn op_macs(&self, k: u16) -> Result<u64> {
        dispatch::macs(self, k)
    }

    /// Whether the blob starts at a 16-byte aligned address, which makes its
    /// constant data 16-byte aligned too (FORMAT.md §3). Kernels do not
    /// depend on it; word-reading fast paths benefit from it.
    pub fn is_aligned(&self) -> bool {
        (self.bytes.as_ptr() as usize) % layout::CONST_ALIGN == 0
    }

    /// Copies the op's parameter words into `out` and returns them.
    pub fn op_words<'w>(
        &self,
        op: &OpInfo,
        out: &'w mut [i32; limits::MAX_OP_WORDS],
    ) -> Result<&'w [i32]> {
        let bytes = self.op_word_bytes(op)?;
        let n = bytes.len() / 4;
        let words = out.get_mut(..n).ok_or(Error::Internal)?;
        for (w, chunk) in words.iter_mut().zip(bytes.chunks_exact(4)) {
            *w = i32_at(chunk, 0, Section::WordPool)?;
        }
        Ok(words)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::format::layout::{HEADER_LEN, MAGIC, PREFIX_LEN, VERSION};
    use crate::format::Shape;

    /// A prefix-and-directory-only blob with a valid CRC: structurally
    /// complete but describing no graph.
    fn empty_blob() -> [u8; HEADER_LEN] {
        let mut b = [0u8; HEADER_LEN];
        b[..4].copy_from_slice(&MAGIC);
        b[4..6].copy_from_slice(&VERSION.to_le_bytes());
        b[8..12].copy_from_slice(&((HEADER_LEN - PREFIX_LEN) as u32).to_le_bytes());
        b[20..24].copy_from_slice(&16u32.to_le_bytes()); // arena alignment
        for off in [32, 36, 40, 48, 56, 64] {
            b[off..off + 4].copy_from_slice(&(HEADER_LEN as u32).to_le_bytes());
        }
        let crc = crc32(&b[PREFIX_LEN..]);
        b[12..16].copy_from_slice(&crc.to_le_bytes());
        b
    }

    #[test]
    fn header_errors_are_typed() {
        assert_eq!(
            Model::parse(&[]).err(),
            Some(Error::Truncated { needed: 16, len: 0 })
        );
        let good = empty_blob();
        // No inputs: the graph I/O check is what rejects it.
        assert_eq!(
            Model::parse(&good).err(),
            Some(Error::GraphIo {
                output: false,
                index: 0
            })
        );
        let mut b = good;
        b[0] = b'X';
        assert_eq!(Model::parse(&b).err(), Some(Error::Magic));
        let mut b = good;
        b[4] = 2;
        assert_eq!(Model::parse(&b).err(), Some(Error::Version(2)));
        let mut b = good;
        b[6] = 1;
        assert_eq!(Model::parse(&b).err(), Some(Error::Flags(1)));
        let mut b = good;
        b[40] ^= 0xFF;
        assert!(matches!(Model::parse(&b), Err(Error::Crc { .. })));
        assert!(matches!(
            Model::parse(&good[..79]),
            Err(Error::Truncated {
                needed: 80,
                len: 79
            })
        ));
    }

    /// `empty_blob` with the directory's head word set (CRC redone).
    fn blob_with_head(code: u32) -> [u8; HEADER_LEN] {
        let mut b = empty_blob();
        b[76..80].copy_from_slice(&code.to_le_bytes());
        let crc = crc32(&b[PREFIX_LEN..]);
        b[12..16].copy_from_slice(&crc.to_le_bytes());
        b
    }

    #[test]
    fn head_kind_is_validated() {
        // Known kinds pass the header check (the empty graph fails later).
        for code in [0, 1, 2] {
            assert_eq!(
                Model::parse(&blob_with_head(code)).err(),
                Some(Error::GraphIo {
                    output: false,
                    index: 0
                }),
                "head {code}"
            );
        }
        for code in [3, 0x100, u32::MAX] {
            assert_eq!(
                Model::parse(&blob_with_head(code)).err(),
                Some(Error::Head(code))
            );
        }
    }

    #[test]
    fn shapes_extend_to_nhwc() {
        let s = Shape::new(&[5, 7]).unwrap();
        assert_eq!(s.nhwc(), [1, 1, 5, 7]);
        assert_eq!(s.elements(), Some(35));
        assert_eq!(Shape::new(&[]).unwrap().elements(), Some(1));
        assert!(Shape::new(&[1, 2, 3, 4, 5]).is_none());
    }
}
