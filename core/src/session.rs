//! Running a model in a caller-owned arena.
//!
//! A session borrows the model and the arena for as long as the caller needs
//! to write inputs, run, and read outputs. The arena holds no state between
//! sessions, so two models can share one arena (of the larger size) when they
//! run one after the other.
use crate::dispatch;
use crate::error::{Error, Result};
use crate::format::{OpCode, TensorInfo};
use crate::model::Model;
use crate::profile::CycleCounter;

/// What one op cost, reported by [`Session::run_profiled`] after the op ran.
#[derive(Debug)]
pub struct OpReport<'s> {
    /// Position in the op list.
    pub index: u16,
    pub code: OpCode,
    /// Counter ticks the op took (cycles on hardware, instructions in QEMU).
    pub cycles: u64,
    /// Multiply-accumulates the op performs (0 for data movement).
    pub macs: u64,
    /// The op's output tensor index and bytes, valid until a later op reuses them.
    pub output_index: u16,
    pub output: &'s [u8],
}

/// A model bound to an arena.
pub struct Session<'m, 'a> {
    model: Model<'m>,
    arena: &'a mut [u8],
}

impl<'m, 'a> Session<'m, 'a> {
    /// Binds `model` to `arena`, which must hold at least
    /// [`Model::arena_size`] bytes and start at a multiple of
    /// [`Model::arena_align`]. Only the first `arena_size` bytes are used.
    pub fn new(model: &Model<'m>, arena: &'a mut [u8]) -> Result<Session<'m, 'a>> {
        let needed = model.arena_size();
        if arena.len() < needed {
            return Err(Error::ArenaSize {
                needed: u32::try_from(needed).unwrap_or(u32::MAX),
                len: u32::try_from(arena.len()).unwrap_or(u32::MAX),
            });
        }
        let align = model.arena_align();
        if (arena.as_ptr() as usize) % align.max(1) != 0 {
            return Err(Error::ArenaAlign {
                align: u32::try_from(align).unwrap_or(u32::MAX),
            });
        }
        let arena = arena.get_mut(..needed).ok_or(Error::Internal)?;
        Ok(Session {
            model: *model,
            arena,
        })
    }

    /// The model this session runs.
    pub fn model(&self) -> &Model<'m> {
        &self.model
    }

    fn arena_bytes(&self, t: &TensorInfo) -> Result<&[u8]> {
        let (start, end) = t.arena_range().ok_or(Error::Internal)?;
        self.arena.get(start..end).ok_or(Error::Internal)
    }

    fn arena_bytes_mut(&mut self, t: &TensorInfo) -> Result<&mut [u8]> {
        let (start, end) = t.arena_range().ok_or(Error::Internal)?;
        self.arena.get_mut(start..end).ok_or(Error::Internal)
    }

    /// Graph input `k`'s bytes, to fill before [`Session::run`]. A run may
    /// consume them: the plan can let the first convolution write its
    /// output over the input rows it has read (as TFLM's planner reuses an
    /// input's memory once it is read; FORMAT.md §6), so write the input
    /// again before each run.
    pub fn input(&mut self, k: usize) -> Result<&mut [u8]> {
        let t = self.model.input(k)?;
        self.arena_bytes_mut(&t)
    }

    /// Copies `data` into graph input `k`; its length must match exactly.
    pub fn set_input(&mut self, k: usize, data: &[u8]) -> Result<()> {
        let dst = self.input(k)?;
        if dst.len() != data.len() {
            return Err(Error::BufferLen {
                expected: u32::try_from(dst.len()).unwrap_or(u32::MAX),
                len: u32::try_from(data.len()).unwrap_or(u32::MAX),
            });
        }
        dst.copy_from_slice(data);
        Ok(())
    }

    /// Graph output `k`'s bytes, valid after [`Session::run`].
    pub fn output(&self, k: usize) -> Result<&[u8]> {
        let t = self.model.output(k)?;
        self.arena_bytes(&t)
    }

    /// Runs every op in order.
    pub fn run(&mut self) -> Result<()> {
        for k in 0..self.model.op_count() {
            let k = u16::try_from(k).map_err(|_| Error::Internal)?;
            dispatch::eval(&self.model, k, self.arena)?;
        }
        Ok(())
    }

    /// Runs every op in order, reading `counter` around each and reporting
    /// it (with the op's output bytes) to `on_op`.
    pub fn run_profiled<C, F>(&mut self, counter: &mut C, mut on_op: F) -> Result<()>
    where
        C: CycleCounter,
        F: FnMut(&OpReport<'_>),
    {
        for k in 0..self.model.op_count() {
            let k = u16::try_from(k).map_err(|_| Error::Internal)?;
            let start = counter.now();
            dispatch::eval(&self.model, k, self.arena)?;
            let cycles = counter.now().wrapping_sub(start);
            let op = self.model.op(k)?;
            let output_index = self.model.op_output(&op, 0)?;
            let out = self.model.tensor(output_index)?;
            let report = OpReport {
                index: k,
                code: op.code,
                cycles,
                macs: self.model.op_macs(k)?,
                output_index,
                output: self.arena_bytes(&out)?,
            };
            on_op(&report);
        }
        Ok(())
    }
}

/// The largest sub-slice of `buf` that starts at a multiple of `align`: a
/// convenience for hosts whose buffers (`Vec<u8>`) have no alignment
/// guarantee. Empty if `buf` is too short to reach an aligned address.
pub fn align_arena(buf: &mut [u8], align: usize) -> &mut [u8] {
    let skip = buf.as_ptr().align_offset(align.max(1));
    let len = buf.len();
    buf.get_mut(skip.min(len)..).unwrap_or(&mut [])
}

#[cfg(test)]
mod tests {
    use super::align_arena;

    #[test]
    fn align_arena_skips_to_an_aligned_start() {
        let mut buf = [0u8; 100];
        for offset in 0..20 {
            let a = align_arena(&mut buf[offset..], 16);
            assert_eq!(a.as_ptr() as usize % 16, 0);
            assert!(a.len() + 15 >= 100 - offset);
        }
        assert!(align_arena(&mut buf[1..3], 64).len() <= 2);
    }
}
